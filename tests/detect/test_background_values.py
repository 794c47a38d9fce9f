"""The value-changing cuts of detection's background (issue 15) against the exact forms they replace."""

from __future__ import annotations

import numpy as np
import pytest

from ioscan.detect import background as bgm
from ioscan.detect import background_kernels as kn


def _plane_reference(x: np.ndarray, h0: int, h1: int, window=None) -> np.ndarray:
    """correlate_kernel's exact path for the plane kernel: its separable terms on the padded image."""
    from scipy import ndimage

    p = min(h1, x.shape[0] - 1, x.shape[1] - 1)
    xp = bgm._pad_odd(x, p) if p > 0 else x
    full = ndimage.correlate(xp.astype(np.float64), bgm.background_kernel(h0, h1, 1), mode="nearest")
    full = full[p : p + x.shape[0], p : p + x.shape[1]]
    return full if window is None else full[window]


@pytest.mark.parametrize(("h0", "h1"), [(2, 6), (1, 3), (3, 9)])
def test_plane_kernel_is_the_annulus_mean(h0, h1):
    """The plane's background kernel has equal weights 1 / N over the annulus (why two box sums give it)."""
    k = bgm.background_kernel(h0, h1, 1)
    ring = k != 0
    assert ring.sum() == (2 * h1 + 1) ** 2 - (2 * h0 + 1) ** 2
    np.testing.assert_allclose(k[ring], 1.0 / ring.sum(), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_plane_background_by_box_sums_matches_the_kernel(dtype):
    """correlate_kernel of a plane (box sums) against the kernel's correlation in float64, whole image and
    windows touching the frame edges, within float32 rounding (1e-6 of the level)."""
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:90, 0:70]
    x = (50.0 + 0.3 * xx - 0.2 * yy + 0.01 * xx * yy + rng.normal(0, 2.0, xx.shape)).astype(dtype)
    tol = 1e-6 * 80.0 if dtype == np.float32 else 1e-10
    for h0, h1 in ((2, 6), (1, 3)):
        got = bgm.correlate_kernel(x, h0, h1, 1)
        assert got.dtype == dtype
        np.testing.assert_allclose(got, _plane_reference(x, h0, h1), rtol=0, atol=tol)
        for win in (
            (slice(0, 20), slice(50, 70)),
            (slice(30, 60), slice(10, 40)),
            (slice(80, 90), slice(0, 5)),
        ):
            got = bgm.correlate_kernel(x, h0, h1, 1, window=win)
            np.testing.assert_allclose(got, _plane_reference(x, h0, h1, win), rtol=0, atol=tol)
        # the quadratic keeps its separable terms, bit for bit as before
        a, b = bgm._stacked_terms(h0, h1, 2)
        assert bgm.correlate_kernel(x, h0, h1, 2).dtype == dtype and len(a) == len(b)


def test_plane_background_with_nan_takes_the_exact_path():
    """A NaN within the table's reach: the separable terms (NaN only within the kernel's reach of it)."""
    x = np.random.default_rng(3).normal(10.0, 1.0, (60, 50)).astype(np.float32)
    x[30, 25] = np.nan
    got = bgm.correlate_kernel(x, 2, 6, 1)
    a, b = bgm._stacked_terms(2, 6, 1)
    xp = bgm._pad_odd(x, 6)
    want = kn.separable_sum(np.ascontiguousarray(xp), a, b, 6, 66, 6, 56)
    np.testing.assert_array_equal(got, want)
    assert np.isfinite(got[:20]).all() and np.isnan(got[30, 25])


@pytest.mark.parametrize("seed", range(4))
def test_white_variance_same_without_argsort(seed, monkeypatch):
    """``white_variance`` gives the same bits with its level bins from the sorted levels as from the argsort
    alone (forced by declining the sorted bins), distinct levels and tied ones alike."""
    rng = np.random.default_rng(seed)
    shape = (90, 110)
    level = rng.normal(100.0, 30.0, shape)
    if seed % 2:
        level = np.round(level / 10.0) * 10.0  # (ties, some across bin boundaries)
    bg = level.astype(np.float32)
    resid = rng.normal(0.0, 1.0, shape).astype(np.float32) * np.sqrt(bg / 50.0 + 1.0).astype(np.float32)
    sel = rng.random(shape) < 0.8
    at = rng.random(shape) < 0.5
    got = bgm.white_variance(bg, resid, sel, 0.0, at=at)
    declined = (np.empty(0), np.empty(0), np.empty(0, np.intp), False)
    monkeypatch.setattr(bgm.kernels, "level_bin_stats_sorted", lambda *a: declined)
    want = bgm.white_variance(bg, resid, sel, 0.0, at=at)
    assert got.dtype == want.dtype and got.tobytes() == want.tobytes()
