"""The limb fit's compiled kernels (``geometry/limb_kernels.py``) give the numbers of the scipy/numpy code
they replace, bit for bit: on random inputs (ties, heavy tails, NaN, arrays of one pixel, positions far
beyond the array) and end to end (a limb fit with and without them, on the independent limb renderer's
frames)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from test_limbfit import ALONG_SAMPLES, JIRAM_PRIOR, jiram_scene

from ioscan.geometry import limb_kernels, limbfit
from ioscan.robust import mad_sigma

SHAPES = [(128, 432), (17, 9), (5, 7), (2, 3), (1, 1), (1, 9), (40, 1)]


def _same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return np.array_equal(a, b, equal_nan=a.dtype.kind == "f" and b.dtype.kind == "f")


class _Coef:
    """The part of ``limbfit._Prepared`` the spline reads."""

    def __init__(self, coef):
        self.coef = coef


@pytest.mark.parametrize("shape", SHAPES)
def test_spline_at_equals_map_coordinates_inside_and_beyond_the_array(shape):
    rng = np.random.default_rng(sum(shape))
    coef = ndimage.spline_filter(rng.normal(size=shape), order=3, mode="nearest")
    n = 5000
    lines = rng.uniform(-30.0, shape[0] + 30.0, n)
    samples = rng.uniform(-30.0, shape[1] + 30.0, n)
    lines[:40] = np.round(lines[:40])  # on the knots
    lines[40:60] = shape[0] - 1
    samples[60:80] = -0.0
    samples[80:100] = np.nan  # scipy's (the kernel leaves them)
    lines[100:110] = 1e6
    want = ndimage.map_coordinates(coef, [lines, samples], order=3, prefilter=False, mode="nearest")
    got = limbfit._spline_at(_Coef(coef), samples, lines)
    assert _same(got, want)
    raw, done = limb_kernels.spline_at(coef, lines, samples)
    assert not done[80:100].any() and done[:80].all() and done[100:].all()
    assert _same(raw[done], want[done])


@pytest.mark.parametrize("shape", [*SHAPES, (2, 2), (3, 2), (300, 700)])
def test_spline_filter_equals_scipys(shape):
    """The cubic B-spline prefilter (mode "nearest": scipy's "reflect" initialisations, a line of one value
    left as it is) gives scipy's numbers, signed zeros included."""
    rng = np.random.default_rng(shape[0] * 1000 + shape[1])
    for trial in range(4):
        a = rng.normal(size=shape) * 10 ** rng.uniform(-3, 3, size=shape)
        if trial == 1:
            a = np.round(a)  # zeros of both signs
        want = ndimage.spline_filter(a, order=3, mode="nearest")
        got = limb_kernels.spline_filter(a)
        assert np.array_equal(got, want) and np.array_equal(np.signbit(got), np.signbit(want))
        assert _same(limbfit._spline_filter(a), want)


@pytest.mark.parametrize("shape", [*SHAPES, (2, 3), (5, 300)])
@pytest.mark.parametrize("sigma", [0.75, 0.91, 1.0, 1.7, 3.0])
def test_gaussian_nearest_equals_scipys(shape, sigma):
    """The pre-smoothing (mode "nearest", truncated at 4σ) gives scipy's numbers, signed zeros included."""
    rng = np.random.default_rng(shape[0] * 1000 + shape[1])
    for trial in range(3):
        a = rng.normal(size=shape) * 10 ** rng.uniform(-3, 3, size=shape)
        if trial == 1:
            a = np.round(a)
        want = ndimage.gaussian_filter(a, sigma, mode="nearest")
        got = limbfit._gaussian_nearest(a, sigma)
        assert np.array_equal(got, want) and np.array_equal(np.signbit(got), np.signbit(want))


@pytest.mark.parametrize("shape", [(128, 256), (9, 2), (1, 5), (4, 1)])
def test_clean_row_diffs_equal_the_masked_numpy_diffs(shape):
    """The good neighbours' differences along the samples: numpy's masked np.diff, in its order (every
    difference when no pair is good)."""
    rng = np.random.default_rng(shape[0] + shape[1])
    a = rng.normal(size=shape) * 10 ** rng.uniform(-3, 3, size=shape)
    for frac in (0.0, 0.05, 0.6, 1.0):
        bad = rng.uniform(size=shape) < frac
        gx = np.diff(a, axis=1)
        ok = ~(bad[:, 1:] | bad[:, :-1])
        want = gx[ok] if bad.any() and ok.any() else gx.ravel()
        assert np.array_equal(limbfit._clean_row_diffs(a, bad), want)
        want = gx[ok] if bad.any() else gx.ravel()  # the hot-spot floor's: no good pair, no difference
        assert np.array_equal(limbfit._clean_row_diffs(a, bad, all_when_none=False), want)


@pytest.mark.parametrize(
    "values",
    [
        lambda rng, n: rng.normal(size=n),
        lambda rng, n: np.round(3 * rng.normal(size=n)),  # ties
        lambda rng, n: np.full(n, 2.5),  # constant
        lambda rng, n: np.concatenate([rng.normal(size=n - n // 10), 1e6 * rng.standard_cauchy(n // 10)]),
        lambda rng, n: np.where(rng.uniform(size=n) < 0.6, 0.0, rng.normal(size=n)),  # mostly zeros
        lambda rng, n: 1e-300 * rng.exponential(size=n),  # subnormal range
    ],
)
def test_median_and_mad_equal_numpys(values):
    rng = np.random.default_rng(7)
    for n in (1, 2, 3, 4, 7, 64, 65, 1000, 32768, 32769):
        x = values(rng, n)
        m = np.median(x)
        assert limb_kernels.median(x) == m and limbfit._median(x) == m
        mad = np.median(np.abs(x - m))
        assert limb_kernels.median_abs_deviation(x) == mad
        assert limbfit._mad(x) == mad_sigma(x)


def test_mad_with_nan_is_the_robust_modules():
    x = np.random.default_rng(3).normal(size=500)
    x[[3, 70]] = np.nan
    assert _same(limbfit._mad(x), mad_sigma(x))


@pytest.mark.parametrize("shape", [(128, 256), (9, 9), (3, 20), (20, 3), (1, 5), (5, 1), (2, 2)])
@pytest.mark.parametrize("length", [3, 5, 7, 9])
def test_line_opening_equals_the_numpy_version(shape, length):
    rng = np.random.default_rng(length + shape[0])
    img = rng.normal(size=shape) * 10 ** rng.uniform(-2, 2, size=shape)
    assert np.array_equal(limbfit._line_opening(img, length), limbfit._line_opening_numpy(img, length))
    assert np.array_equal(limb_kernels.line_opening(img, length), limbfit._line_opening_numpy(img, length))


def test_line_opening_with_nan_is_the_numpy_versions():
    img = np.random.default_rng(1).normal(size=(20, 30))
    img[4, 7] = np.nan
    assert _same(limbfit._line_opening(img, 7), limbfit._line_opening_numpy(img, 7))
    assert np.isnan(limbfit._line_opening(img, 7)).any()


@pytest.mark.parametrize("shape", [(128, 256), (40, 9), (9, 40), (7, 7), (5, 30)])
@pytest.mark.parametrize("length", [5, 7, 9])
def test_opening_near_sources_gives_the_whole_openings_sources_and_fill(shape, length):
    """The opening made only where the compact-source search reads it: the same candidates, source mask
    and filled image as the whole opening (the compiled one's and numpy's), on noise with ties, a disk's
    edge and point sources; ``filled`` unchanged where the opening is not read."""
    rng = np.random.default_rng(length * shape[0] + shape[1])
    states = set()
    for trial in range(6):
        img = rng.normal(size=shape)
        if trial % 2:
            img = np.round(2 * img) / 2  # ties (and signed zeros)
        ll, ss = np.mgrid[: shape[0], : shape[1]]
        img += 40.0 * ((ll - shape[0] / 2) ** 2 + (ss - shape[1] / 3) ** 2 < (shape[0] / 3) ** 2)
        for _ in range(5):
            img[rng.integers(shape[0]), rng.integers(shape[1])] += rng.uniform(5, 80)
        floor, grow = float(rng.uniform(1.0, 6.0)), int(rng.choice([3, 5]))
        whole = limbfit._line_opening_numpy(img, length)
        assert np.array_equal(limb_kernels.line_opening(img, length), whole)
        opened, cand = limbfit._opening_for_sources(img, length, floor, grow)
        want = np.nonzero((img - whole) > floor)
        assert cand is not None or min(shape) < length
        if cand is not None:
            assert np.array_equal(cand[0], want[0]) and np.array_equal(cand[1], want[1])
            states.update(cand[2].tolist())
        hot = limbfit._compact_sources(img, whole, floor, length, grow)
        assert np.array_equal(limbfit._compact_sources(img, opened, floor, length, grow, cand), hot)
        fill = np.where(hot, limb_kernels.line_opening(img, length), img)
        got = np.where(hot, opened, img)
        assert np.array_equal(got, fill) and np.array_equal(np.signbit(got), np.signbit(fill))
        assert np.all((opened == whole) | (opened == img))
    if shape == (128, 256):  # sources and non-sources decided by the bounds, and undecided ones
        assert states == {-1, 0, 1}


def test_binning_equals_numpys():
    rng = np.random.default_rng(5)
    for _ in range(400):
        f = int(rng.integers(2, 10))
        shape = (int(rng.integers(f, 12 * f)), int(rng.integers(f, 12 * f)))
        a = rng.normal(size=shape) * 10 ** rng.uniform(-3, 3, size=shape)
        bad = rng.uniform(size=shape) < 0.03
        nl, ns = (shape[0] // f) * f, (shape[1] // f) * f
        blocks = (nl // f, f, ns // f, f)
        assert np.array_equal(limbfit._bin(a, f), a[:nl, :ns].reshape(blocks).mean(axis=(1, 3)))
        assert np.array_equal(limbfit._bin_any(bad, f), bad[:nl, :ns].reshape(blocks).any(axis=(1, 3)))


@pytest.fixture(scope="module")
def prepared():
    """A JIRAM-like frame prepared as a fit does (hot spots filled, one of them marked bad), and its
    predicted limb moved by a few pixels: rays that cross the frame's top and bottom edges."""
    img, _, cam, pose, _, _ = jiram_scene(d_sample_px=6.0, d_line_px=-30.0)
    prep = limbfit._prepare(img, 1.0, True)
    model = limbfit._model_from_pose(cam, pose, limbfit.iobody.IO)
    h = limbfit._homography(model, 6.0, -30.0, 0.0, 0.0)
    pts = limbfit._apply_h(h, model.points)
    _, normals = limbfit._conic_distance(limbfit._transform_conic(model.conic, h), pts)
    return prep, pts, normals


@pytest.mark.parametrize("group", [1, 4])
@pytest.mark.parametrize("with_sharp", [False, True])
def test_edge_measurements_equal_the_numpy_paths(prepared, monkeypatch, group, with_sharp):
    prep, pts, normals = prepared
    rng = np.random.default_rng(2)
    need = rng.uniform(size=len(pts)) < 0.7
    sharp = rng.uniform(size=len(pts)) < 0.5 if with_sharp else None  # the night-side step test
    assert np.any((pts[:, 1] < 3) | (pts[:, 1] > 124))  # some rays reach the frame's edges
    args = (prep, pts, normals, 9.0, 4.0, group, 1.5)
    compiled = limbfit._measure_edges(*args, need=need, sharp=sharp)
    monkeypatch.setattr(limbfit, "LIMB_KERNELS", False)
    reference = limbfit._measure_edges(*args, need=need, sharp=sharp)
    assert all(_same(a, b) for a, b in zip(compiled, reference, strict=True))
    assert compiled[4].sum() >= 5  # usable edges were measured


@pytest.mark.parametrize(
    "scene, window, extra",
    [
        (dict(d_sample_px=6.0, d_line_px=-30.0), JIRAM_PRIOR, {}),
        (dict(d_sample_px=85.0, d_line_px=-5.0, phase_deg=120.0), ALONG_SAMPLES, {}),
        (dict(d_sample_px=-120.0, d_line_px=3.0), ALONG_SAMPLES, dict(fit_scale=True, fit_rotation=True)),
    ],
)
def test_limb_fit_with_and_without_the_kernels_is_the_same(monkeypatch, scene, window, extra):
    img, _, cam, pose, _, truth = jiram_scene(**scene)
    fast = limbfit.register_frame(img, (cam, pose), **window, **extra)
    monkeypatch.setattr(limbfit, "LIMB_KERNELS", False)
    slow = limbfit.register_frame(img, (cam, pose), **window, **extra)
    assert fast.ok
    assert all(_same(getattr(fast, k), getattr(slow, k)) for k in vars(fast)), (fast, slow)
    if not extra:  # offsets only: within 3σ of the renderer's applied offset (with scale and rotation the
        # pinned tests record a known ~0.9 px line bias on the "full" scene)
        err = np.subtract((fast.offset_sample_px, fast.offset_line_px), truth)
        assert np.all(np.abs(err) <= 3 * np.array(fast.offset_err_px)), (err, fast.offset_err_px)


@pytest.mark.parametrize("seed", range(6))
def test_render_template_equals_the_numpy_version(monkeypatch, seed):
    """The coarse step's Lambert template (``limb_kernels.render_template``) against the numpy steps it
    replaces: the same box and, to rounding (numpy's matmul orders the 2 × 2 products its own way), the same
    values, for tilted ellipses cut by the canvas or inside it, lit from any side."""
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(5.0, 400.0, 2)
    t = rng.uniform(0.0, np.pi)
    axes = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    sun = rng.normal(size=3)
    model = limbfit._LimbModel(
        np.eye(3),
        rng.uniform(-100.0, 300.0, 2),
        (float(a), float(b)),
        axes,
        np.zeros(2),
        sun / np.linalg.norm(sun),
        None,
    )
    shape, origin, factor = (
        (int(rng.integers(20, 120)), int(rng.integers(20, 120))),
        (-30, -60),
        int(rng.integers(1, 6)),
    )
    fast = limbfit._render_template(model, shape, origin, factor)
    monkeypatch.setattr(limbfit, "LIMB_KERNELS", False)
    slow = limbfit._render_template(model, shape, origin, factor)
    assert fast[1:] == slow[1:] and fast[0].shape == slow[0].shape
    np.testing.assert_allclose(fast[0], slow[0], rtol=0, atol=1e-12)
    assert np.array_equal(fast[0] > 0, slow[0] > 0)  # the same disk pixels


@pytest.mark.parametrize("grow", [1, 3, 5])
def test_compact_sources_grown_by_the_kernel_as_by_numpy(monkeypatch, grow):
    """The compact sources' mask grown by ``limb_kernels.grow_marks`` is numpy's, sources at the array's
    edges included (the growing box clipped)."""
    rng = np.random.default_rng(grow)
    img = rng.normal(0.0, 0.01, (60, 90)) + 1.0
    ll = np.r_[0, 59, 0, 59, rng.integers(0, 60, 20)]
    ss = np.r_[0, 0, 89, 89, rng.integers(0, 90, 20)]
    img[ll, ss] += 5.0
    opened = limbfit._line_opening(img, 7)
    fast = limbfit._compact_sources(img, opened, 0.05, 7, grow)
    monkeypatch.setattr(limbfit, "LIMB_KERNELS", False)
    slow = limbfit._compact_sources(img, opened, 0.05, 7, grow)
    assert fast.any() and np.array_equal(fast, slow)


@pytest.mark.parametrize("tshape", [(60, 90), (9, 5), (5, 9), (30, 7)])
@pytest.mark.parametrize("ishape", [(25, 86), (6, 40), (128, 150)])
def test_coarse_gradients_equal_scipys_and_numpys(tshape, ishape):
    """The coarse step's template smoothing (mode "reflect"), image smoothing (mode "nearest"), their
    ``np.gradient`` and the clean-pixel mask (no bad pixel within 2, not within 2 of the edge) give the
    scipy/numpy numbers, signed zeros included; sides not longer than the filter's half-width go to scipy."""
    rng = np.random.default_rng(tshape[0] * 7 + ishape[1])
    for trial in range(3):
        tpl = np.clip(rng.normal(size=tshape), 0.0, None) * 10 ** rng.uniform(-2, 2)
        img = rng.normal(size=ishape) * 10 ** rng.uniform(-3, 3, size=ishape)
        if trial == 1:
            img = np.round(img)
        bad = rng.uniform(size=ishape) < (0.0, 0.01, 0.2)[trial]
        bad[0, -1] = trial == 2  # a bad pixel in a corner
        (tgl, tgs), (igl, igs), keep = limbfit._coarse_gradients(tpl, img, bad, 1.0)
        wtl, wts = np.gradient(ndimage.gaussian_filter(tpl, 1.0))
        wil, wis = np.gradient(ndimage.gaussian_filter(img, 1.0, mode="nearest"))
        want_keep = ndimage.maximum_filter(bad.astype(np.uint8), size=5) == 0
        want_keep[:2, :] = want_keep[-2:, :] = False
        want_keep[:, :2] = want_keep[:, -2:] = False
        for got, want in ((tgl, wtl), (tgs, wts), (igl, wil), (igs, wis)):
            assert np.array_equal(got, want) and np.array_equal(np.signbit(got), np.signbit(want))
        assert np.array_equal(keep, want_keep)


def test_gaussian_reflect_equals_scipys():
    rng = np.random.default_rng(3)
    for shape in [(5, 5), (17, 9), (128, 40)]:
        for sigma in (0.75, 1.0, 1.2):
            a = rng.normal(size=shape)
            radius = int(4.0 * sigma + 0.5)
            x = np.arange(-radius, radius + 1)
            phi = np.exp(-0.5 / (sigma * sigma) * x**2)
            w = (phi / phi.sum())[::-1]
            assert np.array_equal(limb_kernels.gaussian_reflect(a, w), ndimage.gaussian_filter(a, sigma))


@pytest.mark.parametrize("seed", range(4))
def test_sun_fit_by_normal_equations_is_lstsqs_and_the_truth(monkeypatch, seed):
    """The predicted limb's Sun fit by its compiled normal equations gives lstsq's Sun to rounding, and both
    the Sun the incidences were made from (an orthographic Lambert sphere: the model is exact); a sliver of
    disk whose normal equations are ill-conditioned goes to lstsq."""
    rng = np.random.default_rng(seed)
    center = np.array([rng.uniform(100, 300), rng.uniform(20, 100)])
    axes = (rng.uniform(30, 900), rng.uniform(30, 900))
    ang = rng.uniform(0, np.pi)
    vecs = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    sun = rng.normal(size=3)
    sun[2] = abs(sun[2])
    sun /= np.linalg.norm(sun)
    ll, ss = np.mgrid[0:128, 0:432]
    uv = ((np.column_stack([ss.ravel(), ll.ravel()]) - center) @ vecs) / np.array(axes)
    r2 = np.sum(uv * uv, axis=1)
    w = np.sqrt(np.clip(1.0 - r2, 0.0, None))
    cos_i = uv @ sun[:2] + w * sun[2]
    flat = np.flatnonzero((r2 < 1.0) & (cos_i > 0.05))[:3000]
    assert len(flat) > 100
    fast = limbfit._sun_fit(flat, 432, center, axes, vecs, cos_i[flat])
    monkeypatch.setattr(limbfit, "SUN_NORMAL_EQUATIONS", False)
    slow = limbfit._sun_fit(flat, 432, center, axes, vecs, cos_i[flat])
    assert np.allclose(fast, slow, rtol=0, atol=1e-11)
    assert np.allclose(fast, sun, rtol=0, atol=1e-9)
    monkeypatch.setattr(limbfit, "SUN_NORMAL_EQUATIONS", True)
    line = flat[:1]  # one pixel repeated: rank 1, lstsq's minimum-norm answer
    got = limbfit._sun_fit(np.repeat(line, 30), 432, center, axes, vecs, np.repeat(cos_i[line], 30))
    monkeypatch.setattr(limbfit, "SUN_NORMAL_EQUATIONS", False)
    want = limbfit._sun_fit(np.repeat(line, 30), 432, center, axes, vecs, np.repeat(cos_i[line], 30))
    assert np.array_equal(got, want)


def test_edge_bias_kernel_equals_the_numpy_steps(monkeypatch):
    """The PSF edge-bias model (profile, blur, gradient, parabolic peak) compiled gives the numpy/scipy
    numbers on random rays, radii and widths (a zero incidence term, negative ones, mixed phases)."""
    rng = np.random.default_rng(11)
    for trial in range(60):
        n = int(rng.integers(1, 60))
        cos_limb = rng.uniform(-1, 1, n)
        if trial % 7 == 0:
            cos_limb[:] = 0.0
        cos_phase = np.full(n, rng.uniform(-1, 1)) if trial % 2 else rng.uniform(-1, 1, n)
        radius, sigma = float(rng.uniform(5, 3000)), float(rng.uniform(0.3, 3))
        got = limbfit._edge_bias(cos_limb, cos_phase, radius, sigma)
        monkeypatch.setattr(limbfit, "LIMB_KERNELS", False)
        want = limbfit._edge_bias(cos_limb, cos_phase, radius, sigma)
        monkeypatch.setattr(limbfit, "LIMB_KERNELS", True)
        assert np.array_equal(got, want)
