"""The compiled fit loops (:mod:`ioscan.detect.fit_kernels`) equal, bit for bit, the numpy / scipy code they
replace, written out here: random stamps with NaN, ±0, masked pixels, stamps over the frame edge and
overlapping stamps."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from ioscan.detect import fit_kernels as fk
from ioscan.detect.photometry import _fill_plan
from ioscan.detect.psf import PsfModel, _integrated_1d


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal bit for bit (NaN equals NaN, −0 is not 0), same shape and dtype."""
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("m", [1, 2, 3, 5, 9, 11, 12, 17])
def test_stamp_sums_is_numpys_sum(m):
    rng = np.random.default_rng(m)
    a = rng.normal(size=(7, m, m)) * rng.lognormal(0, 4, size=(7, m, m))
    a[1] = -0.0
    a[2, 0, 0] = np.nan
    a[3, -1, -1] = np.inf
    a[4] = 0.0
    a[4, 0, 0] = -0.0
    assert _same(fk.stamp_sums(a), np.sum(a, axis=(1, 2)))


@pytest.mark.parametrize("derivatives", [True, False])
def test_psf_stamps_is_the_models_stamps(derivatives):
    rng = np.random.default_rng(3)
    psf = PsfModel((0.7, 0.2, 0.1), (0.6, 1.7, 4.0), elongation=1.4)
    n, m = 9, 13
    x0, y0 = rng.uniform(20, 30, n), rng.uniform(40, 50, n)
    cj, ci = np.rint(x0).astype(int), np.rint(y0).astype(int)
    off = np.arange(m) - m // 2
    xs = (cj[:, None] + off)[:, None, :].astype(float)
    ys = (ci[:, None] + off)[:, :, None].astype(float)
    ref = np.stack(psf.stamps_numpy(xs, ys, x0, y0))
    if not derivatives:
        ref[1:] = 0.0
    got = psf.stamp_grid(xs, ys, x0, y0, derivatives)
    assert _same(got, ref)
    # the kernel alone, on the profiles of one component (its sums start at 0.0: −0 products give +0)
    u = np.array([[-0.0, 1.0, np.nan]])
    val, dval = _integrated_1d(np.stack([u.reshape(-1), u.reshape(-1)])[None], np.array([[[1.0], [1.0]]]))
    out = fk.psf_stamps(-val, dval, np.array([1.0]), 1, 3, True)
    px, py = -val[0, 0].reshape(1, 1, 3), -val[0, 1].reshape(1, 3, 1)
    assert _same(out[0], 0.0 + (1.0 * px) * py)
    assert _same(out[1], 0.0 + (1.0 * dval[0, 0].reshape(1, 1, 3)) * py)


def _fill_reference(stack, fill, lo, w, hf, nd, fed):
    """effective_psf's clean-pixel fill as written with scipy before it was compiled."""
    sub, cs, lines, keep, den, at = fill
    fw = 2 * hf + 1
    num = ndimage.uniform_filter1d(stack[:nd, sub] * cs, fw, axis=2, mode="constant")
    num = num[:, :, lo : lo + w, :].reshape(nd, -1, num.shape[-1])[:, lines]
    num = ndimage.uniform_filter1d(num, fw, axis=2, mode="constant")[..., lo : lo + w]
    flat = fed.reshape(3, -1, w)
    flat[:nd, at] = np.where(keep, flat[:nd, at], num / den)


@pytest.mark.parametrize("nd", [1, 3])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fill_unclean_is_the_scipy_fill(nd, seed):
    rng = np.random.default_rng(seed)
    n, r, h = 6, 2, 3
    hf = h + 2
    big = r + h + hf
    b = 2 * big + 1
    lo, w = big - r - h, 2 * r + 1 + 2 * h
    stack = rng.normal(size=(3, n, b, b)) * rng.lognormal(0, 2, size=(3, n, b, b))
    c = (rng.random((n, b, b)) > 0.15).astype(float)
    c[0] = 1.0  # a clean stamp
    c[1, :, : b // 2] = 0.0  # a stamp half off the frame
    c[2, lo + 1] = 0.0  # a whole unclean line
    fill = _fill_plan(c, lo, w, hf)
    reg = (Ellipsis, slice(lo, lo + w), slice(lo, lo + w))
    fed_ref = np.ascontiguousarray(stack[reg])
    fed = fed_ref.copy()
    _fill_reference(stack, fill, lo, w, hf, nd, fed_ref)
    sub, cs, lines, keep, den, at = fill
    fk.fill_unclean(stack, cs, sub, lines, keep, den, at, lo, hf, nd, fed)
    assert not _same(fed, np.ascontiguousarray(stack[reg]))  # something was filled
    assert _same(fed, fed_ref)


def _fit_sums_reference(p, dpx, dpy, w, data0, ok, inside, inv, n_flat, flux, subtract):
    """psf_photometry's step as written with numpy before it was compiled."""
    data = data0
    if subtract:
        model_px = np.bincount(inv, (flux[:, None, None] * p)[inside], minlength=n_flat)
        model_at = np.zeros(p.shape)
        model_at[inside] = model_px[inv]
        data = data - np.where(ok, model_at, 0.0) + np.where(ok, flux[:, None, None] * p, 0.0)
    jac = np.stack([p, flux[:, None, None] * dpx, flux[:, None, None] * dpy], axis=-1)
    h = np.einsum("nabi,nab,nabj->nij", jac, w, jac)
    g = np.einsum("nabi,nab,nab->ni", jac, w, data - flux[:, None, None] * p)
    return data, h, g


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("subtract", [True, False])
def test_source_fit_sums_are_numpys(dtype, subtract):
    rng = np.random.default_rng(7)
    shape = (30, 40)
    n, m = 8, 5
    # overlapping stamps, some over the frame's edges
    ci = np.array([0, 2, 3, 15, 16, 29, 28, 10])
    cj = np.array([0, 1, 2, 20, 21, 39, 5, 38])
    off = np.arange(m) - m // 2
    li, sj = np.broadcast_arrays(
        ci[:, None, None] + off[None, :, None], cj[:, None, None] + off[None, None, :]
    )
    inside = (li >= 0) & (li < shape[0]) & (sj >= 0) & (sj < shape[1])
    usable = rng.random(shape) > 0.1
    li_c, sj_c = np.clip(li, 0, shape[0] - 1), np.clip(sj, 0, shape[1] - 1)
    ok = inside & usable[li_c, sj_c]
    noise = rng.uniform(0.5, 2.0, shape)
    resid = (rng.normal(size=shape) * 10).astype(dtype)
    resid[3, 3] = np.nan
    ok &= np.isfinite(resid[li_c, sj_c])
    w = np.where(ok, 1.0 / noise[li_c, sj_c] ** 2, 0.0)
    data0 = np.where(ok, resid[li_c, sj_c], 0.0)
    _, inv = np.unique((li_c * shape[1] + sj_c)[inside], return_inverse=True)
    n_flat = int(inv.max()) + 1
    p, dpx, dpy = rng.normal(size=(3, n, m, m))
    flux = rng.lognormal(3, 1, n)
    ref = _fit_sums_reference(p, dpx, dpy, w, data0, ok, inside, inv, n_flat, flux, subtract)
    got = fk.source_fit_sums(p, dpx, dpy, w, data0, ok, inside, inv, n_flat, flux, subtract, True)
    assert _same(got[0], np.asarray(ref[0], np.float64))
    assert _same(got[1], ref[1]) and _same(got[2], ref[2])
    assert _same(
        fk.weighted_chi2(w, got[0], flux, p), np.sum(w * (ref[0] - flux[:, None, None] * p) ** 2, axis=(1, 2))
    )
    lin = np.sum(w * p * data0, axis=(1, 2)) / np.maximum(np.sum(w * p * p, axis=(1, 2)), 1e-300)
    assert _same(fk.linear_flux(p, w, data0), lin)


def test_elliptical_model_and_normal_equations_are_numpys():
    from ioscan.detect.psf_estimate import _g1

    rng = np.random.default_rng(11)
    n, m = 6, 11
    c = (m - 1) / 2.0
    yy, xx = np.mgrid[0:m, 0:m].astype(float)
    xc, yc = xx - c, yy - c
    q = np.column_stack(
        [rng.lognormal(5, 1, n), c + rng.uniform(-1, 1, n), c + rng.uniform(-1, 1, n), rng.uniform(0.3, 2, n),
         rng.uniform(0.3, 2, n), rng.normal(size=n), rng.normal(size=n) * 0.1, rng.normal(size=n) * 0.1]
    )  # fmt: skip
    u = np.arange(m, dtype=float)[None, :]
    g, dc, ds = _g1(u[:, None], q[:, 1:3, None], q[:, 3:5, None])
    gx, dxc, dxs, gy, dyc, dys = g[:, 0], dc[:, 0], ds[:, 0], g[:, 1], dc[:, 1], ds[:, 1]
    a = q[:, 0, None, None]
    core = gy[:, :, None] * gx[:, None, :]
    model_ref = a * core + q[:, 5, None, None] + q[:, 6, None, None] * xc + q[:, 7, None, None] * yc
    jac_ref = np.stack(
        [core, a * gy[:, :, None] * dxc[:, None, :], a * dyc[:, :, None] * gx[:, None, :],
         a * gy[:, :, None] * dxs[:, None, :], a * dys[:, :, None] * gx[:, None, :],
         np.ones_like(core), np.broadcast_to(xc, core.shape), np.broadcast_to(yc, core.shape)],
        axis=-1,
    )  # fmt: skip
    model, jac = fk.elliptical_model(q, g, dc, ds, xc, yc)
    assert _same(model, model_ref) and _same(jac, jac_ref)

    stamps = model_ref + rng.normal(size=model_ref.shape)
    weights = np.where(rng.random(stamps.shape) > 0.2, rng.uniform(0.5, 2, stamps.shape), 0.0)
    stamps[0, 0, 0] = np.nan
    weights[0, 0, 0] = 0.0  # a NaN pixel at zero weight stays NaN in the sums, as in numpy's
    rows = np.array([1, 3, 4])
    h, g8 = np.full((n, 8, 8), -1.0), np.full((n, 8), -1.0)
    fk.normal_equations(jac, weights, stamps, model, rows, h, g8)
    r = stamps - model_ref
    assert _same(h[rows], np.einsum("nabi,nab,nabj->nij", jac_ref[rows], weights[rows], jac_ref[rows]))
    assert _same(g8[rows], np.einsum("nabi,nab,nab->ni", jac_ref[rows], weights[rows], r[rows]))
    assert np.all(h[[0, 2, 5]] == -1.0)  # other stamps untouched
    fk.normal_equations(jac, weights, stamps, model, np.arange(n), h, g8)
    assert _same(g8, np.einsum("nabi,nab,nab->ni", jac_ref, weights, r))
    assert _same(
        fk.weighted_misfit(weights, stamps, model), np.sum(weights * (stamps - model_ref) ** 2, axis=(1, 2))
    )


def _profiles(dtype, rng):
    """Edge profiles (n, 25) at offsets −6…6 px: blurred steps with noise, flat rows, NaN and inf rows, rows
    that never cross, and the normalised ones the limb check gives the crossing test."""
    t = np.arange(-6.0, 6.0 + 1e-9, 0.5)
    n = 200
    pos = rng.uniform(-2, 2, n)
    width = rng.uniform(0.3, 3, n)
    prof = 1.0 / (1.0 + np.exp(-(t[None, :] - pos[:, None]) / width[:, None]))
    prof = prof * rng.uniform(0.5, 20, n)[:, None] + rng.normal(0, 0.05, (n, t.size))
    prof[0] = 1.0  # flat
    prof[1, 5] = np.nan
    prof[2, 12] = np.nan
    prof[3] = -prof[3]  # a falling edge
    prof[4, 13] = np.inf
    prof[5, :] = np.linspace(0, 1, t.size) ** 8  # rises only at the end
    return t, prof.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_limb_profile_kernels_are_the_numpy_definitions(dtype):
    from ioscan.detect.limb import _crossing, _steepest

    rng = np.random.default_rng(5)
    t, prof = _profiles(dtype, rng)
    outer = np.abs(t) >= 6 - 2.5
    dark = prof[:, outer & (t < 0)].mean(axis=1)
    step = prof[:, outer & (t > 0)].mean(axis=1) - dark
    with np.errstate(invalid="ignore", divide="ignore"):
        f = (prof - dark[:, None]) / step[:, None]
        for level in (0.2, 0.5, 0.8):
            got = fk.level_crossings(f, t, f.dtype.type(level))
            assert _same(got, _crossing(f, t, level))
        for reach in (1.5, 3.0):
            got = fk.steepest_rise(prof, t, reach, prof.dtype.type(2), prof.dtype.type(0.5))
            assert _same(got, _steepest(prof, t, reach))
    assert np.isnan(_crossing(f, t, 0.5)).any() and np.isfinite(_crossing(f, t, 0.5)).sum() > 150


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_local_maxima_is_the_numpy_test(dtype):
    rng = np.random.default_rng(9)
    z = rng.normal(size=(40, 57)).astype(dtype) * 2
    lo = 5.0 / 3
    z[3, 4] = np.nextafter(dtype(lo), dtype(2))  # just above the threshold in z's type
    z[5, 6] = dtype(lo)  # on it, in z's type (not above it)
    z[7, 8] = lo  # the Python float rounded to z's type
    z[10, 10] = np.nan  # a NaN neighbour spoils its neighbours' maxima
    z[10, 11] = 9.0
    z[0, :3] = 7.0  # a tie at the edge: each equals its neighbourhood's maximum
    ci, cj = np.nonzero(z > lo)
    nl, ns = z.shape
    top = np.full(ci.size, -np.inf)
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            top = np.maximum(top, z[np.clip(ci + di, 0, nl - 1), np.clip(cj + dj, 0, ns - 1)])
    gi, gj, is_max = fk.local_maxima(z, z.dtype.type(lo))
    assert _same(gi, ci.astype(np.intp)) and _same(gj, cj.astype(np.intp))
    assert _same(is_max, z[ci, cj] == top)
    assert is_max[:3].all() and not is_max[(gi == 10) & (gj == 11)].any()


def _fill_box_sums_numpy(data, fed, l0, l1, s0, s1, li, sj, dl, ds, hf):
    """The fill's box sums as numpy made them (photometry._fill_box_sums before the kernel)."""
    c = fed[l0:l1, s0:s1].astype(np.float64)
    sat = np.zeros((2, l1 - l0 + 1, s1 - s0 + 1))
    sat[0, 1:, 1:] = data[l0:l1, s0:s1] * c
    sat[1, 1:, 1:] = c
    np.cumsum(sat, axis=2, out=sat)
    np.cumsum(sat, axis=1, out=sat)
    hl = (li - l0)[:, None] + dl[None]
    hs = (sj - s0)[:, None] + ds[None]
    a0, a1, b0, b1 = hl - hf, hl + hf + 1, hs - hf, hs + hf + 1
    box = sat[:, a1, b1] - sat[:, a0, b1] - sat[:, a1, b0] + sat[:, a0, b0]
    return box, data[li[:, None] + dl[None], sj[:, None] + ds[None]]


def test_fill_box_sums_equal_numpy_cumsum_tables():
    """The fill's summed-area tables and box reads, compiled: numpy's values bit for bit (values over many
    magnitudes, zeros of either sign, sparse and dense fed pixels, holes of any shape, regions at the crop's
    edges)."""
    from ioscan.detect.fit_kernels import fill_box_sums

    rng = np.random.default_rng(31)
    for t in range(300):
        nl, ns = int(rng.integers(30, 90)), int(rng.integers(30, 90))
        data = rng.normal(size=(nl, ns)) * 10 ** rng.uniform(-8, 8, size=(nl, ns))
        if t % 4 == 0:
            data[rng.random(data.shape) < 0.3] = -0.0
        fed = rng.random((nl, ns)) < rng.uniform(0.2, 1.0)
        hf, e = int(rng.integers(1, 6)), int(rng.integers(0, 5))
        half = e + hf
        n_hole = int(rng.integers(1, 12))
        dl, ds = (rng.integers(-e, e + 1, n_hole) for _ in range(2))
        n = int(rng.integers(1, 20))
        li = rng.integers(half, nl - half, n)
        sj = rng.integers(half, ns - half, n)
        l0, l1 = int(li.min()) - half, int(li.max()) + half + 1
        s0, s1 = int(sj.min()) - half, int(sj.max()) + half + 1
        args = (data, fed, l0, l1, s0, s1, li, sj, dl, ds, hf)
        got, want = fill_box_sums(*args), _fill_box_sums_numpy(*args)
        for g, w in zip(got, want, strict=True):
            assert g.dtype == w.dtype and g.shape == w.shape and g.tobytes() == w.tobytes(), t


def test_fill_plan_equals_numpys_plan():
    """The effective PSF's fill plan, compiled from the clean map: numpy's plan (:func:`_fill_plan` of the
    stamps' clean flags) bit for bit — stamps over every frame edge, clean everywhere (no plan), whole
    unclean lines, sparse and dense outliers."""
    rng = np.random.default_rng(41)
    for t in range(150):
        r, h = int(rng.integers(2, 4)), int(rng.integers(1, 8))
        hf = h + 2
        big = r + h + hf
        lo, w = big - r - h, 2 * r + 1 + 2 * h
        nl, ns = int(rng.integers(5, 70)), int(rng.integers(5, 70))
        clean = rng.random((nl, ns)) > rng.choice([0.0, 0.01, 0.1, 0.4])
        if t % 7 == 0:
            clean[int(rng.integers(0, nl))] = False
        n = int(rng.integers(1, 9))
        ci, cj = rng.integers(-3, nl + 3, n), rng.integers(-3, ns + 3, n)
        off = np.arange(-big, big + 1)
        li, sj = np.broadcast_arrays(
            ci[:, None, None] + off[None, :, None], cj[:, None, None] + off[None, None, :]
        )
        ins = (li >= 0) & (li < nl) & (sj >= 0) & (sj < ns)
        c = (ins & clean[np.clip(li, 0, nl - 1), np.clip(sj, 0, ns - 1)]).astype(float)
        want = _fill_plan(c, lo, w, hf) if not c.all() else None
        got = fk.fill_plan(clean, ci, cj, big, lo, w, hf)
        if want is None:
            assert got[0].size == 0, t
            continue
        for g, x in zip(got, want, strict=True):
            assert _same(g, x), t


def test_stamp_grid_at_is_stamp_grid():
    """The stamps made from their first pixel (:meth:`PsfModel.stamp_grid_at`: the offsets, the erf
    arguments and the products in two compiled calls) are :meth:`PsfModel.stamp_grid`'s, bit for bit —
    elongated cores, sources on pixel edges and far off their stamp, with and without derivatives."""
    rng = np.random.default_rng(44)
    models = [
        PsfModel.gaussian(0.8),
        PsfModel((0.96, 0.04), (0.6, 2.5)),
        PsfModel((0.7, 0.3), (1.1, 3.0), elongation=1.6),
    ]
    for t in range(60):
        psf = models[t % len(models)]
        n, m = int(rng.integers(1, 12)), int(rng.integers(1, 34))
        sj0, li0 = rng.integers(-5, 200, n), rng.integers(-5, 200, n)
        x = sj0 + rng.uniform(-3, m + 3, n)
        y = li0 + rng.uniform(-3, m + 3, n)
        x[0] = np.round(x[0]) + 0.5
        off = np.arange(m, dtype=float)
        for deriv in (True, False):
            want = psf.stamp_grid(
                (sj0[:, None] + off[None])[:, None, :], (li0[:, None] + off[None])[:, :, None], x, y, deriv
            )
            assert _same(psf.stamp_grid_at(sj0, li0, m, x, y, deriv), want), t


def test_stamp_values_are_the_stamps_values():
    """:meth:`PsfModel.stamp_values` (P without the derivatives and their exponentials) is
    ``stamps(...)[0]`` bit for bit: square stamps per source or shared, elongated cores, sources on pixel
    edges and far off their stamp; other shapes take the stamps' own path."""
    rng = np.random.default_rng(45)
    models = [
        PsfModel.gaussian(0.8),
        PsfModel((0.96, 0.04), (0.6, 2.5)),
        PsfModel((0.7, 0.3), (1.1, 3.0), elongation=1.6),
    ]
    for t in range(60):
        psf = models[t % len(models)]
        n, m = int(rng.integers(1, 12)), int(rng.integers(1, 24))
        x, y = rng.uniform(-3, m + 3, n), rng.uniform(-3, m + 3, n)
        x[0] = np.round(x[0]) + 0.5
        off = np.arange(m, dtype=float) + float(rng.integers(-5, 5))
        shared = t % 4 == 0  # one stamp's pixels for every source
        xs = off[None, None, :] if shared else off[None, None, :] + rng.integers(0, 9, n)[:, None, None]
        ys = off[None, :, None] if shared else off[None, :, None] + rng.integers(0, 9, n)[:, None, None]
        got = psf.stamp_values(xs, ys, x, y)
        want = psf.stamps(xs, ys, x, y)[0]
        assert got.shape == want.shape and _same(got, np.ascontiguousarray(want)), t
    psf = models[1]
    ragged = np.arange(6.0)[None, None, :], np.arange(4.0)[None, :, None]  # not square: numpy's own path
    assert _same(
        psf.stamp_values(*ragged, np.ones(2), np.ones(2)), psf.stamps(*ragged, np.ones(2), np.ones(2))[0]
    )


def _along_limb_centres_numpy(dist, ci, cj, dli, dsj, pad, tolerance, max_copies):
    """The copies' centres along the limb as numpy chose them (photometry._along_limb_centres before)."""
    nl, ns = dist.shape
    li, sj = ci + dli, cj + dsj
    inside = (li - pad >= 0) & (sj - pad >= 0) & (li + pad < nl) & (sj + pad < ns)
    li, sj = li[inside], sj[inside]
    same = np.abs(dist[li, sj] - dist[ci, cj]) <= tolerance
    li, sj = li[same], sj[same]
    _, first = np.unique(li * ns + sj, return_index=True)
    first = np.sort(first)[:max_copies]
    return li[first], sj[first]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_along_limb_centres_equal_numpys_choice(dtype):
    """The fill's copy centres along the limb, compiled: numpy's centres in numpy's order (repeated
    candidates, windows cut by the crop, float32 and float64 distances, fewer candidates than copies)."""
    from ioscan.detect.photometry import FILL_LIMB_COPIES, FILL_LIMB_TOLERANCE_PX, _limb_ring_offsets

    rng = np.random.default_rng(43)
    yy, xx = np.mgrid[0:90, 0:140]
    n_found = 0
    for t in range(120):
        r0 = rng.uniform(20, 120)
        dist = (r0 - np.hypot(xx - rng.uniform(-40, 180), yy - rng.uniform(-40, 130))).astype(dtype)
        if t % 3 == 0:
            dist = np.round(dist * 2) / 2  # ties at the tolerance
        e, pad = int(rng.integers(0, 6)), int(rng.integers(3, 20))
        ci, cj = int(rng.integers(0, 90)), int(rng.integers(0, 140))
        dli, dsj = _limb_ring_offsets(e)
        args = (dist, ci, cj, dli, dsj, pad, FILL_LIMB_TOLERANCE_PX, FILL_LIMB_COPIES)
        got, want = fk.along_limb_centres(*args), _along_limb_centres_numpy(*args)
        for g, w in zip(got, want, strict=True):
            assert np.array_equal(g, w) and g.dtype == w.dtype, t
        n_found += got[0].size
    assert n_found > 500  # centres were found (not only empty choices)


def _copies_ok_numpy(usable, clean, side, ci, cj, li, sj, dl, ds, stamp_l, stamp_s, along_limb):
    """The fill's tests of its copies as numpy made them (photometry._copies_variance before)."""
    hole_l, hole_s = li[:, None] + dl[None], sj[:, None] + ds[None]
    if along_limb:
        use = usable[hole_l, hole_s]
        ok = (clean[hole_l, hole_s] | ~use).all(axis=1) & use.any(axis=1)
        ok &= ((side[hole_l, hole_s] == side[ci, cj]) | ~use).all(axis=1)
        return ok, use
    ok = clean[hole_l, hole_s].all(axis=1)
    ok &= usable[li[:, None] + stamp_l[None], sj[:, None] + stamp_s[None]].all(axis=1)
    if side is not None:
        ok &= (side[hole_l, hole_s] == side[ci, cj]).all(axis=1)
    return ok, None


def test_copies_ok_equals_numpys_tests():
    """Which of the fill's copies its error may use, compiled: numpy's tests on rings (with and without a
    limb) and along the limb (which hole pixels are usable too)."""
    rng = np.random.default_rng(47)
    n_ok = 0
    for t in range(300):
        nl, ns = 60, 80
        usable = rng.random((nl, ns)) > rng.choice([0.0, 0.02, 0.2])
        clean = rng.random((nl, ns)) > rng.choice([0.0, 0.02, 0.1])
        side = (np.arange(ns)[None, :] + rng.uniform(-5, 5) * np.arange(nl)[:, None]) > rng.uniform(20, 60)
        e, r = int(rng.integers(0, 4)), 3
        n_hole = int(rng.integers(1, 15))
        dl, ds = (rng.integers(-e, e + 1, n_hole) for _ in range(2))
        stamp_l, stamp_s = (g.ravel() for g in np.mgrid[-r : r + 1, -r : r + 1])
        li, sj = rng.integers(8, nl - 8, 30), rng.integers(8, ns - 8, 30)
        ci, cj = int(rng.integers(8, nl - 8)), int(rng.integers(8, ns - 8))
        along = bool(t % 2)
        has_side = along or t % 3 > 0
        want_ok, want_use = _copies_ok_numpy(
            usable, clean, side if has_side else None, ci, cj, li, sj, dl, ds, stamp_l, stamp_s, along
        )
        ok, use = fk.copies_ok(
            usable,
            clean,
            side if has_side else usable,
            has_side,
            ci,
            cj,
            li,
            sj,
            dl,
            ds,
            stamp_l,
            stamp_s,
            along,
        )
        assert np.array_equal(ok, want_ok), t
        assert (want_use is None and use.size == 0) or np.array_equal(use, want_use), t
        n_ok += int(ok.sum())
    assert n_ok > 1000  # copies pass as well as fail


def test_spread_weights_equal_numpys_gather():
    """The kernel weights linking a stamp's pixels to a hole's, compiled: numpy's gather (0 beyond the
    kernel; holes reaching past it)."""
    rng = np.random.default_rng(53)
    for t in range(200):
        h, r, e = int(rng.integers(1, 8)), int(rng.integers(1, 4)), int(rng.integers(0, 12))
        kz = rng.normal(size=(2 * h + 1, 2 * h + 1))
        n_hole = int(rng.integers(1, 30))
        dl, ds = (rng.integers(-e, e + 1, n_hole) for _ in range(2))
        stamp_l, stamp_s = (g.ravel() for g in np.mgrid[-r : r + 1, -r : r + 1])
        kl = dl[:, None] - stamp_l[None] + h
        ks = ds[:, None] - stamp_s[None] + h
        inside = (kl >= 0) & (kl <= 2 * h) & (ks >= 0) & (ks <= 2 * h)
        want = np.where(inside, kz[np.clip(kl, 0, 2 * h), np.clip(ks, 0, 2 * h)], 0.0)
        assert _same(fk.spread_weights(kz, dl, ds, stamp_l, stamp_s), want), t


def test_fill_data_equals_numpy_choice_copies():
    """The fill's data (background + the chosen option's residual, 0 off the usable pixels), compiled,
    equals the numpy copies bit for bit (NaN, ±0, a choice outside the options)."""
    from types import SimpleNamespace

    from ioscan.detect.photometry import _fill_data, _fill_data_numpy

    rng = np.random.default_rng(12)
    shape = (23, 31)
    bg = rng.normal(100.0, 30.0, shape).astype(np.float32)
    res = [rng.normal(0.0, 3.0, shape).astype(np.float32) for _ in range(2)]
    res[0][rng.random(shape) < 0.05] = np.nan
    res[1][rng.random(shape) < 0.05] = -0.0
    bg[rng.random(shape) < 0.05] = -0.0
    choice = rng.integers(0, 3, shape).astype(np.intp)  # 2: no such option (the first one's residual)
    model = SimpleNamespace(background=bg, residuals=res, choice=choice, usable=rng.random(shape) < 0.9)
    got, want = _fill_data(model), _fill_data_numpy(model)
    assert got.dtype == want.dtype == np.float64 and got.tobytes() == want.tobytes()


def test_fill_unclean_is_the_scipy_fill_on_sparse_and_edge_holes():
    """The fill's running sums stop at the last region line and sample that hold an unclean pixel: the
    values are still the whole stack's filter, for holes anywhere in the region (first or last line, one
    pixel, a corner), kernels of several sizes and stamps over the frame edge."""
    rng = np.random.default_rng(17)
    for t in range(200):
        n, r, h = int(rng.integers(1, 7)), int(rng.integers(1, 4)), int(rng.integers(1, 8))
        hf = h + 2
        big = r + h + hf
        b = 2 * big + 1
        lo, w = big - r - h, 2 * r + 1 + 2 * h
        nd = int(rng.choice([1, 3]))
        stack = rng.normal(size=(3, n, b, b)) * rng.lognormal(0, 3, size=(3, n, b, b))
        if t % 5 == 0:
            stack[:, 0, : b // 3] = -0.0
        c = (rng.random((n, b, b)) > rng.choice([0.002, 0.02, 0.2])).astype(float)
        s = int(rng.integers(0, n))
        c[s, lo + int(rng.choice([0, w - 1])), lo + int(rng.integers(0, w))] = 0.0  # an edge line's pixel
        if t % 4 == 0:
            c[s, :, : int(rng.integers(1, b))] = 0.0  # over the frame edge
        fill = _fill_plan(c, lo, w, hf)
        reg = (Ellipsis, slice(lo, lo + w), slice(lo, lo + w))
        fed_ref = np.ascontiguousarray(stack[reg])
        fed = fed_ref.copy()
        _fill_reference(stack, fill, lo, w, hf, nd, fed_ref)
        sub, cs, lines, keep, den, at = fill
        fk.fill_unclean(stack, cs, sub, lines, keep, den, at, lo, hf, nd, fed)
        assert _same(fed, fed_ref), t


def test_flux_inflation_sums_are_numpys():
    """The background inflation's sums, compiled: :func:`photometry._inflation_sums_numpy` bit for bit
    (values over many magnitudes, −0 stamps, masked pixels, a NaN weight, stamps with no usable pixel,
    several kernels and stamp sizes)."""
    from ioscan.detect.background import background_kernel
    from ioscan.detect.photometry import _inflation_sums, _inflation_sums_numpy

    rng = np.random.default_rng(0)
    kernels = [background_kernel(3, 6, 1), background_kernel(2, 5, 0), background_kernel(4, 8, 2)]
    for t in range(150):
        n, m = int(rng.integers(1, 12)), int(rng.choice([3, 5, 7]))
        p = rng.normal(size=(n, m, m)) * 10 ** rng.uniform(-5, 2, size=(n, m, m))
        ok = rng.random((n, m, m)) > 0.2
        w = np.where(ok, rng.lognormal(0, 2, size=(n, m, m)), 0.0)
        if t % 5 == 0:
            p[0] = -0.0
        if t % 7 == 0:
            w[0, 0, 0] = np.nan
        if t % 11 == 0:
            ok[0] = False
        got = _inflation_sums(p, w, ok, kernels[t % 3])
        want = _inflation_sums_numpy(p, w, ok, kernels[t % 3])
        assert all(_same(g, x) for g, x in zip(got, want, strict=True)), t


def test_hole_offsets_and_touched_centres_are_numpys():
    """The fill's hole (np.nonzero's order, offsets from the centre, its reach) and the 3 × 3 centre test,
    compiled: numpy's values at centres anywhere in the crop, its edges included."""

    rng = np.random.default_rng(3)
    for t in range(200):
        nl, ns = int(rng.integers(2, 30)), int(rng.integers(2, 30))
        unclean = rng.random((nl, ns)) < rng.choice([0.01, 0.1, 0.5])
        ci, cj, reach = int(rng.integers(0, nl)), int(rng.integers(0, ns)), int(rng.integers(1, 9))
        dl, ds, e = fk.hole_offsets(unclean, ci, cj, reach)
        l0, s0 = max(ci - reach, 0), max(cj - reach, 0)
        hl, hs = np.nonzero(unclean[l0 : ci + reach + 1, s0 : cj + reach + 1])
        assert np.array_equal(dl, hl + l0 - ci) and np.array_equal(ds, hs + s0 - cj), t
        assert e == (int(max(np.abs(dl).max(), np.abs(ds).max())) if dl.size else -1), t
        cen_l, cen_s = rng.integers(0, nl, 6), rng.integers(0, ns, 6)
        want = [
            unclean[max(a - 1, 0) : a + 2, max(b - 1, 0) : b + 2].any()
            for a, b in zip(cen_l, cen_s, strict=True)
        ]
        assert np.array_equal(fk.centres_touched(unclean, cen_l, cen_s), want), t


@pytest.mark.parametrize("psf", [PsfModel.gaussian(0.8), PsfModel((0.7, 0.3), (0.6, 2.2), elongation=1.3)])
def test_stamps_compiled_where_square_is_numpys(psf):
    """``PsfModel.stamps`` on square stamps (one per source, or one grid for all; pixel offsets clipped at an
    edge as the spike test makes them) goes through the compiled grid with stamps_numpy's values bit for
    bit; other shapes (a 2-D window, float32 offsets) keep numpy's path."""
    rng = np.random.default_rng(11)
    n = 6
    x0, y0 = rng.uniform(-1, 12, n), rng.uniform(-1, 12, n)
    off = np.arange(-2, 3)
    sj = np.clip(np.rint(x0).astype(int)[:, None, None] + off[None, None, :], 0, 10).astype(float)
    li = np.clip(np.rint(y0).astype(int)[:, None, None] + off[None, :, None], 0, 10).astype(float)
    o = np.arange(-4, 5, dtype=float)
    cases = [
        (sj, li, x0, y0),
        (o[None, None, :], o[None, :, None], x0, y0),
        (o[None, None, :], o[None, :, None], np.zeros(1), np.zeros(1)),
        (np.meshgrid(o, o)[0][None], np.meshgrid(o, o)[1][None], np.array([0.3]), np.array([-0.2])),
        (sj.astype(np.float32), li.astype(np.float32), x0.astype(np.float32), y0.astype(np.float32)),
    ]
    for xs, ys, x, y in cases:
        got, want = psf.stamps(xs, ys, x, y), psf.stamps_numpy(xs, ys, x, y)
        assert all(_same(g, w) for g, w in zip(got, want, strict=True))


def test_kernel1d_kept_is_made_anew():
    """kernel1d's kept kernels: the values made anew, bit for bit, for Python, int and float64 widths and
    shifts; each call its own writable copy; float32 widths made each time (their arithmetic is float32's)."""
    from ioscan.detect.psf import _kernel1d, kernel1d

    for sigma in (0.7, 1, np.float64(1.3), 2.25, np.float32(0.9)):
        for shift in (0.0, 0.5, -0.25, np.float64(0.125)):
            a, b = kernel1d(sigma, shift), kernel1d(sigma, shift)
            assert _same(a, _kernel1d(sigma, shift)) and a is not b and a.flags.writeable
            a[0] = 7.0
            assert _same(kernel1d(sigma, shift), _kernel1d(sigma, shift))


def test_shared_erf_arguments_give_erfs_values():
    """erf taken once per distinct argument (the shared pixel edges) reads back erf of every (a, b), bit for
    bit: repeated edges, ±0 kept apart, NaN, a stamp's edges after another's."""
    from scipy.special import erf

    rng = np.random.default_rng(11)
    sig = np.array([[0.6, 0.9], [2.5, 2.5]])
    n, m = 6, 7
    x = rng.uniform(10, 20, n)
    cols = (np.rint(x)[:, None] + np.arange(m) - m // 2) - x[:, None]
    u = np.stack([cols.reshape(-1), cols[::-1].reshape(-1)])
    u[0, 3], u[1, 5], u[1, 6], u[0, 9] = 0.5, -0.5, 0.5, np.nan  # a = 0 / b = 0 / −0 and +0 neighbours
    ab, nsq = fk.profile_arguments(u, sig, np.sqrt(2.0))
    args, idx = fk.shared_erf_arguments(ab)
    assert args.size < ab.size * 0.75  # most b's are the previous a
    assert _same(erf(args)[idx], erf(ab))
    # the definition in numpy: 0.5·(erf a − erf b), −(e^−a² − e^−b²) / (√(2π)·σ)
    erf_ab, exp_ab = erf(ab), np.exp(nsq)
    den = (np.sqrt(2 * np.pi) * sig)[:, :, None]
    want = (0.5 * (erf_ab[0] - erf_ab[1]), -(exp_ab[0] - exp_ab[1]) / den)
    got = fk.profile_values_shared(erf(args), idx, np.exp(nsq), sig, np.sqrt(2 * np.pi))
    assert all(_same(g, w) for g, w in zip(got, want, strict=True))


@pytest.mark.parametrize("n", [1, 2, 3, 8, 24, 25])
def test_fill_spread_medians_are_median_or_nan(n):
    """The compiled fill medians equal :func:`ioscan.robust.median_or_nan`'s (odd and even counts, ties, ±0,
    NaN)."""
    from ioscan.robust import median_or_nan

    rng = np.random.default_rng(n)
    for case in range(4):
        dfs, nvs = rng.normal(size=n), rng.lognormal(size=n)
        if case == 1:
            dfs[:] = np.round(dfs)  # ties
            dfs[0] = -0.0
        if case == 2:
            dfs[-1] = np.nan
        if case == 3:
            dfs[:] = -0.0
        med = median_or_nan(dfs)
        want = (float(med), float(median_or_nan(np.abs(dfs - med))), float(median_or_nan(nvs)))
        got = fk.fill_spread_medians(dfs, nvs)
        assert _same(np.array(got), np.array(want))


def _clipped_stamps(ci, cj, m: int, shape: tuple[int, int]):
    """Lines and samples (n, m, m) of m × m stamps centred on (ci, cj), clipped to the frame, and which of
    them lie inside it."""
    off = np.arange(m) - m // 2
    li = np.repeat((ci[:, None] + off)[:, :, None], m, axis=2)
    sj = np.repeat((cj[:, None] + off)[:, None, :], m, axis=1)
    inside = (li >= 0) & (li < shape[0]) & (sj >= 0) & (sj < shape[1])
    return np.clip(li, 0, shape[0] - 1), np.clip(sj, 0, shape[1] - 1), inside


def test_pixel_ranks_are_uniques_inverse():
    """The stamps' pixel numbering equals np.unique's inverse and count (overlapping stamps, the frame's
    edges)."""
    rng = np.random.default_rng(5)
    n, m, shape = 9, 5, (30, 40)
    ci, cj = rng.integers(-3, 33, n), rng.integers(-3, 43, n)
    li, sj, inside = _clipped_stamps(ci, cj, m, shape)
    flat, inv = np.unique((li * shape[1] + sj)[inside], return_inverse=True)
    got, count = fk.pixel_ranks(li, sj, inside, shape[1])
    assert count == flat.size
    assert _same(got, inv.reshape(-1).astype(np.intp))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stamp_weights_are_numpys(dtype):
    """psf_photometry's fitted pixels, weights and data (NaN and tiny noise, unusable pixels, stamps over the
    frame edge) equal its numpy expressions, types included."""
    rng = np.random.default_rng(8)
    shape, n, m = (20, 24), 6, 5
    noise = rng.lognormal(size=shape).astype(dtype)
    noise[3, 4], noise[5, 6], noise[7, 8] = np.nan, 1e-200 if dtype == np.float64 else 0.0, -0.0
    resid = rng.normal(size=shape).astype(dtype)
    resid[2, 2] = np.nan
    usable = rng.random(shape) > 0.2
    ci, cj = rng.integers(-2, 22, n), rng.integers(-2, 26, n)
    li, sj, inside = _clipped_stamps(ci, cj, m, shape)
    li[0], sj[0] = 3, 4  # the NaN noise
    li[1, 0, 0], sj[1, 0, 0], li[1, 0, 1], sj[1, 0, 1] = 5, 6, 7, 8
    inside[0], usable[3, 4], usable[5, 6], usable[7, 8] = True, True, True, True
    ok = inside & usable[li, sj]
    w = np.where(ok, 1.0 / np.maximum(noise[li, sj].astype(np.float64), 1e-150) ** 2, 0.0)
    data0 = np.where(ok, resid[li, sj], 0.0)
    got = fk.stamp_weights(li, sj, inside, usable, noise, resid)
    assert all(_same(g, e) for g, e in zip(got, (ok, w, data0), strict=True))
