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


def _peaks_equal(a, b) -> None:
    for got, want in zip(a, b, strict=True):
        assert got.dtype == want.dtype and got.shape == want.shape
        assert np.array_equal(got, want, equal_nan=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_peaks_equal_numpy(dtype):
    """find_peaks' compiled maxima and deblending against the numpy form, bit for bit: flat tops (rounded
    maps), NaNs, masks (search, valid), saddles of 0 and below, thresholds of a type numpy compares in the
    map's (float32 maps: a threshold and saddle not representable in float32), map edges, many close peaks."""
    from ioscan.detect.find import _compiled_peaks, _peaks_compiled, _peaks_numpy

    rng = np.random.default_rng(11)
    for trial in range(120):
        shape = (int(rng.integers(1, 40)), int(rng.integers(1, 40)))
        snr = rng.normal(0.0, 3.0, shape)
        if trial % 3 == 0:
            snr = np.round(snr)  # flat tops and equal values
        if trial % 4 == 1:
            snr[rng.random(shape) < 0.1] = np.nan
        snr = snr.astype(dtype)
        search = None if trial % 2 else rng.random(shape) < 0.8
        valid = None if trial % 5 == 0 else rng.random(shape) < (0.3 if trial % 7 == 0 else 0.9)
        threshold = [1.1, 2.0, 0.3, -1.0][trial % 4]
        saddle = [1.5, 0.0, 1.1, -0.5][trial % 4]
        rel = 0.3 if trial % 6 == 0 else 0.1
        rmax = float([1.5, 4.4, 9.0][trial % 3])
        assert _compiled_peaks(snr, threshold, saddle, search, valid)
        want = _peaks_numpy(snr, threshold, search, valid, rmax, saddle, rel)
        got = _peaks_compiled(snr, threshold, search, valid, rmax, saddle, rel)
        if want is None:
            assert got is None, trial
        else:
            _peaks_equal(got, want)


def test_find_peaks_same_with_and_without_the_kernels(monkeypatch):
    """The whole of find_peaks (its 3-point positions, the peak cap, an empty result's types) the same when
    the compiled path is refused."""
    from ioscan.detect import find

    rng = np.random.default_rng(5)
    for trial in range(30):
        snr = rng.normal(0.0, 2.0, (30, 50)).astype(np.float32 if trial % 2 else np.float64)
        snr[10, 0], snr[0, 20], snr[29, 49] = 9.0, 8.0, 7.0  # maxima at the map's edges
        valid = rng.random(snr.shape) < 0.95
        kw = dict(sigma_px=0.6, saddle_snr=1.5, max_peaks=[500, 3][trial % 2], valid=valid)
        thr = [2.5, 50.0][trial % 3 == 2]
        got = find.find_peaks(snr, thr, **kw)
        monkeypatch.setattr(find, "_compiled_peaks", lambda *a: False)
        want = find.find_peaks(snr, thr, **kw)
        monkeypatch.undo()
        for f in ("line", "sample", "y", "x", "snr", "blended"):
            u, v = getattr(got, f), getattr(want, f)
            assert u.dtype == v.dtype and np.array_equal(u, v), (trial, f)
        # the 3-point positions read the neighbours as first written, from the map padded with −inf
        pad = np.pad(snr, 1, mode="constant", constant_values=-np.inf)
        ly, sx, c = got.line, got.sample, got.snr
        assert np.array_equal(got.y, ly + find._three_point(pad[ly, sx + 1], c, pad[ly + 2, sx + 1]))
        assert np.array_equal(got.x, sx + find._three_point(pad[ly + 1, sx], c, pad[ly + 1, sx + 2]))


def test_spike_dchi2_of_a_subset_with_the_whole_sets_isolation():
    """Each source's spike advantage is its own: a subset of the sources, given the whole set's isolation
    (``crowded``), gets the whole set's values bit for bit (detect_band tests again only the sources whose
    fit or isolation the second pass changed); without it, the subset's own isolation."""
    from ioscan.detect.find import crowded, spike_dchi2
    from ioscan.detect.psf import PsfModel

    rng = np.random.default_rng(8)
    psf = PsfModel((0.96, 0.04), (0.6, 2.5))
    resid = rng.normal(size=(60, 80))
    noise = np.abs(rng.normal(1.0, 0.1, resid.shape))
    valid = rng.random(resid.shape) < 0.95
    n = 40
    x, y = rng.uniform(0, 79, n), rng.uniform(0, 59, n)
    x[1], y[1] = x[0] + 3.0, y[0] + 1.0  # a close pair
    flux = rng.uniform(5.0, 200.0, n)
    for k in range(n):
        i, j = int(np.rint(y[k])), int(np.rint(x[k]))
        resid[i, j] += flux[k] * (0.3 if k % 3 else 3.0)  # sharp and less sharp sources
    whole = spike_dchi2(resid, noise, valid, x, y, flux, psf)
    near = crowded(x, y)
    assert near[0] and near[1]
    for rows in (np.arange(n), np.array([0]), np.array([1, 5, 7]), np.flatnonzero(near), np.arange(0)):
        got = spike_dchi2(resid, noise, valid, x[rows], y[rows], flux[rows], psf, crowded=near[rows])
        assert np.array_equal(got, whole[rows])
    alone = spike_dchi2(resid, noise, valid, x[:1], y[:1], flux[:1], psf)
    assert np.array_equal(
        alone, spike_dchi2(resid, noise, valid, x[:1], y[:1], flux[:1], psf, crowded=np.array([False]))
    )


def test_add_sources_is_np_add_at():
    """The calibration field's sources added by the compiled loop: np.add.at's sums bit for bit (overlapping
    stamps: the same pixel summed many times, in np.add.at's order)."""
    from ioscan.detect.find import add_sources

    rng = np.random.default_rng(12)
    img = rng.normal(size=(30, 30))
    n, m = 50, 9
    li = rng.integers(0, 30 - m, n)[:, None, None] + np.arange(m)[None, :, None]
    sj = rng.integers(0, 30 - m, n)[:, None, None] + np.arange(m)[None, None, :]
    vals = rng.normal(size=(n, m, m)) * 10.0 ** rng.uniform(-8, 8, (n, 1, 1))
    want = img.copy()
    np.add.at(want, (np.broadcast_to(li, vals.shape), np.broadcast_to(sj, vals.shape)), vals)
    got = img.copy()
    add_sources(got, li, sj, vals)
    assert got.tobytes() == want.tobytes()
