"""The vetting's per-detection shortcuts (:mod:`ioscan.detect.misfits`) against numpy's own forms of the
same values, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from ioscan.detect.misfits import (
    STRUCTURE_BOX_PX,
    _nanargmax,
    _unflagged_in_crop,
    background_structure,
    unflagged_near_edge,
)
from ioscan.records import Detection


def _structure_numpy(background, sigma_white, line, sample) -> float:
    """background_structure as numpy's finite-value selection wrote it."""
    h = STRUCTURE_BOX_PX
    box = background[max(line - h, 0) : line + h + 1, max(sample - h, 0) : sample + h + 1]
    box = box[np.isfinite(box)]
    sw = float(sigma_white[line, sample])
    if box.size == 0 or not sw > 0:
        return 0.0
    return float(np.max(box) - np.min(box)) / sw


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_background_structure_equals_the_finite_values_range(dtype):
    rng = np.random.default_rng(7)
    bg = rng.normal(100.0, 30.0, (24, 30)).astype(dtype)
    bg[rng.random(bg.shape) < 0.2] = np.nan
    bg[1:10, 1:10] = np.nan  # the box around (5, 5) has no finite value
    bg[15, 20], bg[18, 4] = np.inf, -np.inf  # infinities: left out of the range
    sw = rng.uniform(0.5, 2.0, bg.shape)
    sw[0, 0] = 0.0
    for line in range(bg.shape[0]):
        for sample in range(bg.shape[1]):
            got = background_structure(bg, sw, line, sample)
            want = _structure_numpy(bg, sw, line, sample)
            assert got == want or (np.isnan(got) and np.isnan(want)), (line, sample)
    assert background_structure(bg, sw, 5, 5) == 0.0


def test_nanargmax_is_numpys():
    rng = np.random.default_rng(11)
    for _ in range(2000):
        box = rng.choice([np.nan, -np.inf, 1.0, 2.0, 2.0, 0.5], size=(rng.integers(1, 4), rng.integers(1, 4)))
        if not np.isfinite(box).any():
            continue
        assert _nanargmax(box) == int(np.nanargmax(box))


def _det(line: float, sample: float, flags: int = 0) -> Detection:
    return Detection(
        band="M", sample=sample, line=line, sample_err_px=0.1, line_err_px=0.1, snr=5.0, net_radiance_sum=1.0,
        net_radiance_sum_err=0.1, unit="W m-2 sr-1", background=0.0, peak=1.0, n_pixels=9, flags=flags,
    )  # fmt: skip


def test_the_nearest_pixels_round_halves_as_numpy_does():
    """Positions at exact halves (np.rint rounds them to even) and anywhere: the crop's and the edge's
    pixels are numpy's."""
    rng = np.random.default_rng(5)
    pos = [(10.5 + k, 3.5 + k) for k in range(-4, 4)] + [tuple(p) for p in rng.uniform(-2, 30, (200, 2))]
    dets = [_det(line, sample) for line, sample in pos] + [_det(12.0, 12.0, flags=128)]
    line_offset, offset, shape = 2, (1, 2), (20, 25)
    got = list(_unflagged_in_crop(dets, offset, line_offset, shape))
    want = []
    for d in dets[:-1]:
        li = int(np.rint(d.line - line_offset)) - offset[0]
        sj = int(np.rint(d.sample)) - offset[1]
        if 0 <= li < shape[0] and 0 <= sj < shape[1]:
            want.append((d, li, sj))
    assert got == want and len(want) > 50
    got = list(unflagged_near_edge(dets, line_offset, (22, 27), 3))
    want = []
    for d in dets[:-1]:
        li = int(np.clip(np.rint(d.line - line_offset), 0, 21))
        sj = int(np.clip(np.rint(d.sample), 0, 26))
        if min(li, sj, 21 - li, 26 - sj) <= 3:
            want.append((d, li, sj))
    assert got == want and len(want) > 20
    assert all(type(li) is int and type(sj) is int for _, li, sj in got)


def test_the_pixels_at_a_limb_distance_are_the_full_grids():
    """_at_limb_distance's broadcast distances select what np.mgrid's full grids did."""
    from ioscan.detect.misfits import ALONG_LIMB_DISTANCE_PX, _at_limb_distance

    rng = np.random.default_rng(4)
    residual = rng.normal(0.0, 1.0, (30, 34))
    residual[rng.random(residual.shape) < 0.1] = np.nan
    yy, xx = np.mgrid[0:30, 0:34]
    dist = 0.37 * yy - 0.81 * xx + 9.0
    for pi, pj in [(0, 0), (15, 17), (29, 33), (3, 30)]:
        got = _at_limb_distance(residual, dist, pi, pj, (3.0, 8.0))
        rr = np.hypot(yy - pi, xx - pj)
        sel = (np.abs(dist - dist[pi, pj]) <= ALONG_LIMB_DISTANCE_PX) & (rr >= 3.0) & (rr <= 8.0)
        want = residual[sel & np.isfinite(residual)]
        assert np.array_equal(got, want) and want.size > 0


def test_band_maps_kept_within_one_bands_tests_only():
    """Inside ``kept_band_maps`` the residual, its NaN-free copy and the background structures are made once
    for the same arrays (the same values as made anew); outside, every call makes its own (an array changed
    in place is read again)."""
    from ioscan.detect import misfits

    rng = np.random.default_rng(4)
    data = rng.normal(size=(40, 50))
    bg = rng.normal(size=(30, 40))
    sw = rng.uniform(0.5, 2.0, size=(30, 40))
    data[5, 7] = np.nan
    fresh = misfits._crop_residual(data, bg, sw, (3, 4))
    with misfits.kept_band_maps():
        first = misfits._crop_residual(data, bg, sw, (3, 4))
        assert misfits._crop_residual(data, bg, sw, (3, 4)) is first
        assert misfits._crop_residual(data, bg, sw, (2, 4)) is not first  # another offset
        assert np.array_equal(first, fresh, equal_nan=True) and not first.flags.writeable
        filled = misfits._nan_to_zero(first)
        assert misfits._nan_to_zero(first) is filled and np.array_equal(filled, np.nan_to_num(first, nan=0.0))
        band = misfits.band_residual(data, bg, sw, (3, 4))
        assert misfits.band_residual(data, bg, sw, (3, 4)) is band and not band.flags.writeable
        want = np.full(data.shape, np.nan)
        want[3:33, 4:44] = fresh
        assert np.array_equal(band, want, equal_nan=True)
        s = misfits.background_structure(bg, sw, 10, 12)
        assert s == misfits._background_structure(bg, sw, 10, 12)
        assert misfits.background_structure(bg, sw, 10, 12) == s
    bg[8:13, 10:15] += 100.0  # outside: made anew from the arrays as they are now
    assert misfits.background_structure(bg, sw, 10, 12) == misfits._background_structure(bg, sw, 10, 12) != s
    again = misfits._crop_residual(data, bg, sw, (3, 4))
    assert again is not first and again.flags.writeable
    assert misfits.band_residual(data, bg, sw, (3, 4)) is not band


def test_band_maps_kept_per_thread():
    """Two threads inside ``kept_band_maps`` at once (their steps interleaved) each get the maps of their own
    arrays, and one thread leaving its block does not end the other's."""
    import threading

    from ioscan.detect import misfits

    rng = np.random.default_rng(5)
    arrays = [
        (rng.normal(size=(40, 50)), rng.normal(size=(30, 40)), rng.uniform(0.5, 2.0, size=(30, 40)))
        for _ in range(2)
    ]
    steps = [threading.Event() for _ in range(4)]
    got: dict[int, list] = {0: [], 1: []}

    def run(k: int, start: int) -> None:
        data, bg, sw = arrays[k]
        with misfits.kept_band_maps():
            steps[start].wait(5)
            first = misfits._crop_residual(data, bg, sw, (3, 4))
            got[k].append((first, misfits.background_structure(bg, sw, 10, 12)))
            steps[start + 1].set()
            steps[(start + 2) % 4].wait(5)
            got[k].append((misfits._crop_residual(data, bg, sw, (3, 4)), misfits._KEPT.active))
        if start == 0:
            steps[3].set()

    threads = [threading.Thread(target=run, args=(0, 0)), threading.Thread(target=run, args=(1, 1))]
    for t in threads:
        t.start()
    steps[0].set()
    for t in threads:
        t.join(10)
    for k, (data, bg, sw) in enumerate(arrays):
        (first, structure), (again, active) = got[k]
        fresh = misfits._crop_residual(data, bg, sw, (3, 4))
        assert np.array_equal(first, fresh) and again is first and active
        assert structure == misfits._background_structure(bg, sw, 10, 12)
    assert not misfits._KEPT.active


def _ridge_fraction_one(snr, line, sample, distance_px) -> float:
    """ridge_fraction as first written: one detection's 24 points read in a call of its own."""
    from scipy import ndimage

    from ioscan.detect.misfits import RIDGE_DIRECTIONS

    box = snr[max(line - 1, 0) : line + 2, max(sample - 1, 0) : sample + 2]
    peak = float(np.max(box)) if box.size else 0.0
    if not peak > 0:
        return 0.0
    ang = np.arange(RIDGE_DIRECTIONS) * np.pi / RIDGE_DIRECTIONS
    dy, dx = distance_px * np.sin(ang), distance_px * np.cos(ang)
    ys = np.concatenate([line + dy, line - dy])
    xs = np.concatenate([sample + dx, sample - dx])
    vals = ndimage.map_coordinates(snr, [ys, xs], order=1, mode="constant", cval=0.0)
    both = np.minimum(vals[: ang.size], vals[ang.size :])
    return float(np.max(both)) / peak


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_ridge_fractions_at_once_equal_one_by_one(dtype):
    """Every detection's ridge fraction from one bilinear call equals its own call's, bit for bit: pixels at
    the map's edges and corners (points beyond it read 0), NaNs, non-positive peaks, a line on the map."""
    from ioscan.detect.misfits import ridge_fraction, ridge_fractions

    rng = np.random.default_rng(5)
    for trial in range(60):
        snr = rng.normal(0.0, 2.0, (int(rng.integers(3, 30)), int(rng.integers(3, 40)))).astype(dtype)
        snr[int(rng.integers(0, snr.shape[0])), :] += 8.0  # a ridge
        if trial % 3 == 0:
            snr[rng.random(snr.shape) < 0.1] = np.nan
        if trial % 4 == 0:
            snr[:5, :5] = -1.0  # a corner with no positive peak
        nl, ns = snr.shape
        k = int(rng.integers(1, 15))
        lines = [int(v) for v in rng.choice([0, nl - 1, *range(nl)], k)]
        samples = [int(v) for v in rng.choice([0, ns - 1, *range(ns)], k)]
        dist = float(rng.choice([3.0, 3.4, 4.1]))
        want = [_ridge_fraction_one(snr, a, b, dist) for a, b in zip(lines, samples, strict=True)]
        got = ridge_fractions(snr, lines, samples, dist)
        assert repr(got) == repr(want), trial
        assert repr(ridge_fraction(snr, lines[0], samples[0], dist)) == repr(want[0])


def test_along_limb_values_picked_from_the_wider_ring_equal_their_own():
    """Inside ``kept_band_maps`` the along-limb test's pixels (3–8 px) are picked from the clutter test's
    (3–12 px) made once per pixel: the same values in the same order as made anew, at the crop's edges and
    corners and beside NaNs; and the two tests' fractions are those made outside."""
    from ioscan.detect import misfits
    from ioscan.detect.misfits import (
        ALONG_CLUTTER_RANGE_PX,
        ALONG_LIMB_RANGE_PX,
        _at_limb_distance,
        _at_limb_distance_kept,
        along_limb_clutter,
        along_limb_fraction,
    )

    rng = np.random.default_rng(9)
    yy, xx = np.mgrid[0:40, 0:50]
    dist = 60.0 - np.hypot(yy - 70.3, xx - 24.6)  # a limb crossing the crop
    residual = rng.normal(size=dist.shape)
    residual[rng.random(dist.shape) < 0.1] = np.nan
    lines, samples = rng.integers(0, 40, 30).tolist(), rng.integers(0, 50, 30).tolist()
    pixels = [(0, 0), (39, 49), (0, 25), (20, 0), *zip(lines, samples, strict=True)]

    def both(a, b):
        return along_limb_fraction(residual, dist, a, b), along_limb_clutter(residual, dist, a, b)

    fresh = [both(a, b) for a, b in pixels]
    with misfits.kept_band_maps():
        for a, b in pixels:
            for rng_px in (ALONG_CLUTTER_RANGE_PX, ALONG_LIMB_RANGE_PX):
                got = _at_limb_distance_kept(residual, dist, int(a), int(b), rng_px)
                want = _at_limb_distance(residual, dist, int(a), int(b), rng_px)
                assert repr(got.tolist()) == repr(want.tolist())
        kept = [both(a, b) for a, b in pixels]
    assert repr(kept) == repr(fresh)
    assert sum(np.isfinite(f[0][0]) for f in fresh) >= 10


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_steps_one_partition_median_is_numpys(dtype):
    """The median the PSF measurement, the data limb's sky and the along-limb tests take
    (:func:`ioscan.robust.median_or_nan`) is np.median's bits and type: odd and even counts,
    ties, zeros of either sign, NaNs, one value."""
    from ioscan.robust import median_or_nan

    rng = np.random.default_rng(12)
    for trial in range(400):
        v = rng.normal(size=int(rng.integers(1, 60))) * 10.0 ** rng.uniform(-20, 20)
        if trial % 3 == 0:
            v = np.round(v) * rng.choice([0.0, -0.0, 1.0])
        if trial % 7 == 0:
            v[rng.integers(0, v.size)] = np.nan
        v = v.astype(dtype)
        got, want = median_or_nan(v), np.median(v)
        assert type(got) is type(want) and repr(got) == repr(want), trial


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_background_structures_at_once_equal_one_by_one(dtype):
    """background_structures (every pixel's box at once, and kept inside kept_band_maps) gives each
    pixel's background_structure: NaNs, infinities, a box with no finite value, a zero white noise, the map's
    edges."""
    from ioscan.detect import misfits

    rng = np.random.default_rng(17)
    bg = rng.normal(100.0, 30.0, (24, 30)).astype(dtype)
    bg[rng.random(bg.shape) < 0.2] = np.nan
    bg[1:10, 1:10] = np.nan
    bg[15, 20], bg[18, 4] = np.inf, -np.inf
    sw = rng.uniform(0.5, 2.0, bg.shape)
    sw[0, 0], sw[12, 12] = 0.0, np.nan
    lines, samples = (a.ravel() for a in np.mgrid[0:24, 0:30])
    want = [
        misfits._background_structure(bg, sw, int(i), int(j)) for i, j in zip(lines, samples, strict=True)
    ]
    got = misfits.background_structures(bg, sw, lines, samples)
    assert got.tolist() == want
    with misfits.kept_band_maps():
        assert misfits.background_structures(bg, sw, lines[::3], samples[::3]).tolist() == want[::3]
        assert misfits.background_structures(bg, sw, lines, samples).tolist() == want
        assert [
            misfits.background_structure(bg, sw, int(i), int(j)) for i, j in zip(lines, samples, strict=True)
        ] == want
    assert misfits.background_structures(bg, sw, lines[:0], samples[:0]).size == 0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_snr_peaks_at_once_equal_one_by_one(dtype):
    """snr_peaks gives each pixel's snr_peak: ties (the pixel itself, else the first largest), NaN, −inf,
    boxes without a finite value, the map's edges."""
    from ioscan.detect.misfits import snr_peak, snr_peaks

    rng = np.random.default_rng(23)
    snr = rng.choice([np.nan, -np.inf, 0.0, 1.0, 2.0, 2.0, 3.0], size=(15, 19)).astype(dtype)
    snr[5:9, 5:9] = np.nan
    lines, samples = (a.ravel() for a in np.mgrid[0:15, 0:19])
    got_l, got_s = snr_peaks(snr, lines, samples)
    want = [snr_peak(snr, int(i), int(j)) for i, j in zip(lines, samples, strict=True)]
    assert list(zip(got_l.tolist(), got_s.tolist(), strict=True)) == want
    assert sum(w != (int(i), int(j)) for w, i, j in zip(want, lines, samples, strict=True)) > 50


def _misfit_maps(seed: int):
    """A band (60 × 70) with a sunlit ramp (flat on its left part), a residual ridge along a straight
    'limb', a plateau on the edge row, and detections everywhere (some at the edges, some flagged already):
    the misfit tests' inputs."""
    rng = np.random.default_rng(seed)
    nl, ns = 60, 70
    yy, xx = np.mgrid[0:nl, 0:ns]
    bg = np.where(xx > 25, 200.0 * (xx / ns) ** 2 + 30.0 * np.sin(yy / 5.0), 50.0)  # (flat on the left)
    dist = 0.6 * yy - 0.8 * xx + 20.0
    data = bg + rng.normal(0.0, 1.0, (nl, ns)) + 6.0 * np.exp(-(dist**2) / 2.0)
    data[0, 20:30] += 5.0
    data[rng.random(data.shape) < 0.01] = np.nan
    sw = np.full((nl, ns), 1.0)
    dets = []
    for k, (line, sample) in enumerate(rng.uniform(-1.0, [nl, ns], (160, 2))):
        dets.append(_det(float(line) + 3.0, float(sample), flags=128 if k % 17 == 0 else 0))
    return data, bg, sw, dist, dets


def _limb_test_one_by_one(dets, data, bg, sw, dist, offset, line_offset, max_fraction, score, key, name):
    """_flag_near_limb as it was: every detection in turn, the residual made first."""
    from ioscan.detect import misfits
    from ioscan.detect.flags import flag_artefact

    residual = misfits._crop_residual(data, bg, sw, offset)
    n = 0
    for det, li, sj in misfits._unflagged_in_crop(dets, offset, line_offset, bg.shape):
        if not abs(float(dist[li, sj])) <= misfits.ALONG_LIMB_REACH_PX:
            continue
        if misfits._background_structure(bg, sw, li, sj) < misfits.MIN_STRUCTURE_SIGMA:
            continue
        frac = score(residual, dist, li, sj)[0]
        if not np.isfinite(frac):
            continue
        det.extra[key] = frac
        if frac >= max_fraction:
            flag_artefact(det, name)
            n += 1
    return n


def _plateaus_one_by_one(dets, data, bg, sw, offset, line_offset, max_fraction):
    """flag_edge_plateaus as it was: every detection scored, near the edge or not."""
    from ioscan.detect import misfits
    from ioscan.detect.flags import flag_artefact

    n = 0
    residual = misfits.band_residual(data, bg, sw, offset)
    for det, li, sj in misfits._unflagged_in_crop(dets, offset, line_offset, bg.shape):
        if misfits._background_structure(bg, sw, li, sj) < misfits.MIN_STRUCTURE_SIGMA:
            continue
        frac = misfits.edge_plateau_fraction(residual, li + offset[0], sj + offset[1], data.shape)
        if not np.isfinite(frac):
            continue
        det.extra["edge_plateau_fraction"] = frac
        if frac >= max_fraction:
            flag_artefact(det, "edge_plateau")
            n += 1
    return n


@pytest.mark.parametrize("kept", [False, True])
def test_the_band_tests_flag_and_score_as_one_by_one(kept):
    """The ridge, along-limb (three scores) and edge-plateau tests — their detections' pixels, structures
    and peaks made at once, the plateau test only where a peak can be within reach of the edge — flag and
    store the same as testing every detection in turn."""
    import contextlib
    import copy

    from ioscan.detect import misfits

    data, bg_full, sw_full, dist_full, dets = _misfit_maps(3)
    offset, line_offset = (0, 0), 3
    bg, sw, dist = bg_full, sw_full, dist_full
    snr = (np.nan_to_num(data) - bg) / sw
    tests = [
        (misfits.along_limb_fraction, "along_limb_fraction", "along_limb", 0.5),
        (misfits.along_limb_clutter, "along_limb_clutter", "along_limb_clutter", 0.3),
        (misfits.along_limb_side_fraction, "along_limb_side_fraction", "along_limb_side", 0.5),
    ]
    got, want = copy.deepcopy(dets), copy.deepcopy(dets)
    ctx = misfits.kept_band_maps() if kept else contextlib.nullcontext()
    with ctx:
        n_got = [misfits.flag_ridges(got, snr, bg, sw, offset, line_offset, 0.6, 0.5)]
        for score, key, name, frac in tests:
            n_got.append(
                misfits._flag_near_limb(got, data, bg, sw, dist, offset, line_offset, frac, score, key, name)
            )
        n_got.append(misfits.flag_edge_plateaus(got, data, bg, sw, offset, line_offset, 0.7))
    n_want = [_ridges_one_by_one(want, snr, bg, sw, offset, line_offset, 0.6, 0.5)]
    for score, key, name, frac in tests:
        n_want.append(
            _limb_test_one_by_one(want, data, bg, sw, dist, offset, line_offset, frac, score, key, name)
        )
    n_want.append(_plateaus_one_by_one(want, data, bg, sw, offset, line_offset, 0.7))
    assert n_got == n_want and min(n_want) > 0  # (every test flags some)
    assert [(d.flags, d.extra) for d in got] == [(d.flags, d.extra) for d in want]
    scored = {k for d in want for k in d.extra}
    assert {"ridge_fraction", "along_limb_fraction", "along_limb_clutter", "edge_plateau_fraction"} <= scored


def _ridges_one_by_one(dets, snr, bg, sw, offset, line_offset, core_sigma_px, max_fraction):
    """flag_ridges as it was: each detection's S/N peak and structure in turn."""
    from ioscan.detect import misfits
    from ioscan.detect.flags import flag_artefact

    r = misfits.ridge_distance_px(core_sigma_px)
    tested = []
    for det, li, sj in misfits._unflagged_in_crop(dets, offset, line_offset, snr.shape):
        li, sj = misfits.snr_peak(snr, li, sj)
        if misfits._background_structure(bg, sw, li, sj) >= misfits.MIN_STRUCTURE_SIGMA:
            tested.append((det, li, sj))
    n = 0
    for det, li, sj in tested:
        frac = misfits.ridge_fraction(snr, li, sj, r)
        det.extra["ridge_fraction"] = frac
        if frac >= max_fraction:
            flag_artefact(det, "ridge")
            n += 1
    return n


def test_values_at_the_limb_distance_compiled_equal_numpy():
    """The along-limb tests' pixels at a detection's limb distance, compiled: the same values and radii in
    the same order as the numpy selection (NaN residuals, map edges, distances exactly on the tolerance)."""
    import numpy as np

    from ioscan.detect import misfits

    def numpy_form(residual, limb, pi, pj, range_px):
        nl, ns = residual.shape
        d0 = float(limb[pi, pj])
        r = int(np.ceil(range_px[1]))
        a0, a1, b0, b1 = max(pi - r, 0), min(pi + r + 1, nl), max(pj - r, 0), min(pj + r + 1, ns)
        yy, xx = np.ogrid[a0:a1, b0:b1]
        rr = np.hypot(yy - pi, xx - pj)
        res = residual[a0:a1, b0:b1]
        sel = (
            (np.abs(limb[a0:a1, b0:b1] - d0) <= misfits.ALONG_LIMB_DISTANCE_PX)
            & (rr >= range_px[0])
            & (rr <= range_px[1])
            & np.isfinite(res)
        )
        return res[sel], np.broadcast_to(rr, sel.shape)[sel]

    rng = np.random.default_rng(9)
    for t in range(100):
        shape = (int(rng.integers(1, 40)), int(rng.integers(1, 50)))
        yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(float)
        limb = 30.0 - np.hypot(xx - rng.uniform(-20, 60), yy - rng.uniform(-20, 60))
        if t % 3 == 0:
            limb = np.round(limb * 2) / 2  # distances on the tolerance
        residual = rng.normal(size=shape)
        residual[rng.random(shape) < 0.1] = np.nan
        pi, pj = int(rng.integers(0, shape[0])), int(rng.integers(0, shape[1]))
        for range_px in (misfits.ALONG_LIMB_RANGE_PX, misfits.ALONG_CLUTTER_RANGE_PX, (0.0, 2.5)):
            got = misfits._at_limb_distance(residual, limb, pi, pj, range_px, with_radii=True)
            want = numpy_form(residual, limb, pi, pj, range_px)
            for g, w in zip(got, want, strict=True):
                assert g.dtype == w.dtype and g.tobytes() == w.tobytes(), t
