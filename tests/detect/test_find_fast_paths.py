"""Source finding's shortcuts (:mod:`ioscan.detect.find`) against the forms they replace, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from ioscan.detect.find import _touching


def _touching_nine_shifts(free: np.ndarray) -> np.ndarray:
    """The spike test's 3 × 3 neighbourhood as first written: the OR of the zero-padded stamps' 9 shifts."""
    r = free.shape[1] // 2
    fp = np.pad(free, ((0, 0), (1, 1), (1, 1)))
    touch = np.zeros_like(free)
    for a in (0, 1, 2):
        for b in (0, 1, 2):
            touch |= fp[:, a : a + 2 * r + 1, b : b + 2 * r + 1]
    return touch


def test_touching_equals_the_nine_shifts():
    rng = np.random.default_rng(2)
    for trial in range(50):
        free = rng.random((int(rng.integers(1, 8)), 5, 5)) < rng.uniform(0.0, 0.4)
        free[:, 0, 0] |= trial % 2 == 0  # corners and edges
        got = _touching(free)
        assert got.dtype == bool and np.array_equal(got, _touching_nine_shifts(free)), trial


def _brightest_loop(resid, valid, ci, cj):
    """spike_dchi2's brightest pixel as first written: the 9 shifts in turn, a strictly larger value wins."""
    nl, ns = resid.shape
    best_i, best_j, best_v = ci.copy(), cj.copy(), np.full(ci.size, -np.inf)
    for dl in (-1, 0, 1):
        for ds in (-1, 0, 1):
            ii = np.clip(ci + dl, 0, nl - 1)
            jj = np.clip(cj + ds, 0, ns - 1)
            v = np.where(valid[ii, jj], resid[ii, jj], -np.inf)
            better = v > best_v
            best_i, best_j = np.where(better, ii, best_i), np.where(better, jj, best_j)
            best_v = np.where(better, v, best_v)
    return best_i, best_j


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_brightest_pixel_at_once_equals_the_shifts_in_turn(dtype):
    """Ties (the first in row-major order), NaNs, no valid pixel, map edges and corners."""
    from ioscan.detect.find import _brightest_beside

    rng = np.random.default_rng(6)
    for trial in range(60):
        resid = rng.normal(size=(int(rng.integers(1, 12)), int(rng.integers(1, 12))))
        if trial % 3 == 0:
            resid = np.round(resid)  # ties
        resid[rng.random(resid.shape) < 0.15] = np.nan
        resid = resid.astype(dtype)
        valid = rng.random(resid.shape) < (0.2 if trial % 4 == 0 else 0.9)
        n = int(rng.integers(1, 20))
        ci = rng.integers(0, resid.shape[0], n)
        cj = rng.integers(0, resid.shape[1], n)
        got = _brightest_beside(resid, valid, ci, cj)
        want = _brightest_loop(resid, valid, ci, cj)
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1]), trial
