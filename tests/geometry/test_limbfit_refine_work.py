"""The refinement does no work its outcome does not need (issue 15): one pass's calls of the edge search
share their rays' profile samples (a ray is sampled once per pass, the same numbers), and the PSF edge-bias
model is made only once a pass has the edges a fit needs (a refinement that fails on "no limb signal"
never makes it). The fits are those of the plain steps."""

from __future__ import annotations

import numpy as np
import pytest
from test_limbfit import JIRAM_PRIOR, jiram_scene

from ioscan.geometry import limbfit

#: a ~100-px disk moved along track; with this noise its edges are averaged in groups of 4 rays
FAINT = dict(d_sample_px=6.0, d_line_px=-30.0, noise=0.08, hot_spots=False)


@pytest.fixture(scope="module")
def faint():
    return jiram_scene(**FAINT)


def _rays(scene):
    """(prepared image, limb points, normals, wanted rays, night rays, window, clean radius, σ) of a pass of
    the scene's refinement: the predicted limb moved by the renderer's applied offset."""
    img, _, cam, pose, _, truth = scene
    model = limbfit._model_from_pose(cam, pose, limbfit.iobody.IO)
    limbfit._crop_model(model, img.shape, JIRAM_PRIOR["max_shift_px"])
    prep = limbfit._prepare(img, 1.0, True)
    h = limbfit._homography(model, float(truth[0]), float(truth[1]), 0.0, 0.0)
    pts = limbfit._apply_h(h, model.points)
    _, normals = limbfit._conic_distance(limbfit._transform_conic(model.conic, h), pts)
    sigma = float(np.sqrt(1.0 + prep.smooth_sigma**2 + 1.0 / 12.0))
    wanted = model.cos_limb > 0.2
    return prep, pts, normals, wanted, np.zeros(len(pts), dtype=bool), 10.0, 2.0 * sigma + 1.0, sigma


def _equal(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x, y, equal_nan=True)


def test_a_pass_samples_each_ray_once_and_measures_the_same(faint, monkeypatch):
    prep, pts, normals, wanted, night, window, clean, sigma = _rays(faint)
    half = wanted & (np.arange(len(pts)) % 2 == 0)
    rest = wanted & ~half
    args = (prep, pts, normals, window, clean)
    plain = [
        limbfit._measure_edges(*args, 1, sigma, need=half, sharp=night),
        limbfit._measure_edges(*args, 1, sigma, need=rest, sharp=night),
        limbfit._measure_edges(*args, 4, sigma, need=wanted, sharp=night),
    ]
    sampled: list[int] = []
    ray_samples = limbfit._ray_samples

    def counting(prep, pts, normals, rows, *rest_args):
        sampled.extend(rows.tolist())
        return ray_samples(prep, pts, normals, rows, *rest_args)

    monkeypatch.setattr(limbfit, "_ray_samples", counting)
    samples: dict = {}
    shared = [
        limbfit._measure_edges(*args, 1, sigma, need=half, sharp=night, samples=samples),
        limbfit._measure_edges(*args, 1, sigma, need=rest, sharp=night, samples=samples),
        limbfit._measure_edges(*args, 4, sigma, need=wanted, sharp=night, samples=samples),
    ]
    for a, b in zip(plain, shared, strict=True):
        _equal(a, b)
    assert len(sampled) == len(set(sampled))  # no ray sampled twice in the pass
    assert set(sampled) >= set(np.flatnonzero(wanted)) - set(range(4 * (len(pts) // 4), len(pts)))
    # a pass with other rays (another window) does not take these samples
    other = limbfit._measure_edges(prep, pts, normals, 6.0, clean, 1, sigma, need=half, sharp=night)
    _equal(other, limbfit._measure_edges(prep, pts, normals, 6.0, clean, 1, sigma, need=half, sharp=night,
                                         samples=samples))  # fmt: skip


def test_grouped_faint_limb_fit_unchanged_by_shared_samples(faint, monkeypatch):
    img, _, cam, pose, _, truth = faint
    shared = limbfit.start_limb_fit(img, (cam, pose), **JIRAM_PRIOR).refine()
    measure = limbfit._measure_edges
    groups: list[int] = []

    def unshared(*args, samples=None, **kwargs):  # every call samples its rays itself
        groups.append(args[5] if len(args) > 5 else 1)
        return measure(*args, **kwargs)

    monkeypatch.setattr(limbfit, "_measure_edges", unshared)
    plain = limbfit.start_limb_fit(img, (cam, pose), **JIRAM_PRIOR).refine()
    assert max(groups) > 1  # the faint limb's rays were grouped
    assert shared.ok and plain.ok
    assert (shared.offset_sample_px, shared.offset_line_px) == (plain.offset_sample_px, plain.offset_line_px)
    assert shared.offset_err_px == plain.offset_err_px and shared.n_limb_points == plain.n_limb_points
    err = np.subtract((shared.offset_sample_px, shared.offset_line_px), truth)
    assert np.all(np.abs(err) <= 3 * np.asarray(shared.offset_err_px))  # the renderer's applied offset


def test_the_edge_bias_is_made_only_for_a_fit(faint, monkeypatch):
    img, _, cam, pose, _, _ = faint
    made: list[int] = []
    bias = limbfit._edge_bias_along

    def counting(cos_limb, *args):
        made.append(len(cos_limb))
        return bias(cos_limb, *args)

    monkeypatch.setattr(limbfit, "_edge_bias_along", counting)
    fit = limbfit.start_limb_fit(img, (cam, pose), **JIRAM_PRIOR).refine()
    assert fit.ok and len(made) == 1  # once per refinement, not per pass
    made.clear()
    # noise alone where the limb is predicted, the coarse step's threshold off: the refinement runs and
    # fails in its first pass, before any edge is fitted
    noise = np.random.default_rng(3).normal(0.0, 0.08, img.shape)
    failed = limbfit.start_limb_fit(noise, (cam, pose), min_coarse_snr=-np.inf, **JIRAM_PRIOR).refine()
    assert not failed.ok and "no limb signal" in failed.reason
    assert made == []


def _same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)


@pytest.mark.parametrize("group", [2, 3, 7, 14])
@pytest.mark.parametrize("seed", [0, 1])
def test_grouped_edge_search_compiled_equals_the_numpy_steps(faint, monkeypatch, group, seed):
    """The grouped rays' edge search (profiles averaged over each group's good samples, the steepest drop,
    the clean and step tests, the step test's member samples beyond the core) by the compiled kernel, bit
    for bit the numpy steps' numbers: on a faint limb, with bad pixels sprinkled on it, rays asked for at
    random and night-side (sharp) rays."""
    prep, pts, normals, wanted, _, _, clean, sigma = _rays(faint)
    rng = np.random.default_rng(seed)
    prep.bad = prep.bad | (rng.uniform(size=prep.bad.shape) < 0.02)
    need = wanted & (rng.uniform(size=len(pts)) < 0.8)
    sharp = rng.uniform(size=len(pts)) < 0.3
    calls: list[int] = []
    kernel = limbfit._group_edge_search

    def counting(*args):
        calls.append(1)
        return kernel(*args)

    monkeypatch.setattr(limbfit, "_group_edge_search", counting)
    for window in (16.0, 5.1):
        args = (prep, pts, normals, window, clean, group, sigma)
        compiled = limbfit._measure_edges(*args, need=need, sharp=sharp)
        with monkeypatch.context() as m:
            m.setattr(limbfit, "LIMB_KERNELS", False)
            reference = limbfit._measure_edges(*args, need=need, sharp=sharp)
        assert all(_same(a, b) for a, b in zip(compiled, reference, strict=True))
        assert compiled[4].sum() >= 3  # usable grouped edges were measured
    assert len(calls) == 2  # the compiled search ran (no fallback to numpy)


@pytest.mark.parametrize("seed", range(4))
def test_percentile_equals_numpys(seed):
    """The edge selection's typical contrast (the 90th percentile of the usable sunlit edges' drops) without
    np.percentile's overhead: the same number for any length, ties, a NaN and any q."""
    rng = np.random.default_rng(seed)
    for i in range(400):
        n = int(rng.integers(1, 500))
        x = rng.normal(size=n) * 10 ** rng.uniform(-5, 5)
        if i % 3 == 1:
            x = rng.integers(0, 4, n).astype(float)  # ties
        if i % 3 == 2:
            x[rng.integers(0, n)] = np.nan
        for q in (90, 0, 100, 50, 99.9, 12.5):
            assert _same(limbfit._percentile(x, q), np.percentile(x, q)), (n, q)
