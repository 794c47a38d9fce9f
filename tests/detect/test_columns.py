"""JIRAM down-track streaks of very bright sources: removed in the data, no detections along them."""

from __future__ import annotations

import numpy as np

from ioscan.detect import DetectConfig, detect_frame
from ioscan.detect.columns import remove_column_streaks
from ioscan.detect.disk import laplacian_noise
from ioscan.instruments import jiram
from ioscan.records import BandImage, Frame


def _bright_source_frame(seed: int, cosmic_rate: float = 0.0):
    """A night-side JIRAM M band (dark sky and disk) with one saturating hot spot and the simulator's
    down-track reflections; returns (frame, source sample, source line)."""
    from ioscan.simulate.psf import jiram_psf
    from ioscan.simulate.render_jiram import JiramDetector, apply_detector

    det = JiramDetector(cosmic_rate_per_s=cosmic_rate)
    exposure = 0.1
    psf = jiram_psf()
    img = np.zeros((128, 432))
    x0, y0 = 250.3, 64.6
    psf.add_point_sources(img, [x0], [y0], [1000.0 * det.saturation_w_m2_sr("M", exposure)])
    data, _ = apply_detector("M", img, exposure, det, np.random.default_rng(seed))
    b = jiram.BANDS["M"]
    band = BandImage(
        "M", data, "W m-2 sr-1", b.center_um, b.bandwidth_um, saturation=det.saturation_w_m2_sr("M", exposure)
    )
    return Frame("T", "JIRAM", "JUNO", "2022-01-01T00:00:00", exposure, {"M": band}), x0, y0


def _along_streak(detections, x0, y0):
    """Detections in the source's columns more than 12 lines away from it (beyond its PSF and rings)."""
    return [d for d in detections if abs(d.sample - x0) < 4 and abs(d.line - y0) > 12]


def test_streak_of_a_saturated_hot_spot_gives_no_detections():
    """A hot spot of 1,000× the saturation radiance (its reflections ~1,000σ per pixel along its column):
    after the correction nothing at all is detected along the streak; without it dozens of peaks are (which
    the artefact flags keep out of the hot spots now that the source's flux is measured from its wings: with
    the clipped core's flux at 0.1 % of the truth, some were hot spots)."""
    for seed in range(3):
        frame, x0, y0 = _bright_source_frame(seed)
        res = detect_frame(frame, None)
        assert any(np.hypot(d.sample - x0, d.line - y0) < 3 for d in res.detections)  # the source itself
        assert _along_streak(res.detections, x0, y0) == []
        assert any("down-track streaks" in m for m in res.messages)
    frame, x0, y0 = _bright_source_frame(0)
    raw = detect_frame(frame, None, config=DetectConfig(remove_column_streaks=False))
    assert len(_along_streak(raw.detections, x0, y0)) >= 10


def test_cosmic_rays_and_noise_leave_every_column_alone():
    rng = np.random.default_rng(4)
    img = rng.normal(0.0, 1.0, (128, 432))
    ii, jj = rng.integers(0, 128, 40), rng.integers(0, 432, 40)
    img[ii, jj] += rng.uniform(5e3, 5e4, 40)  # 1-pixel hits far above the 2,000σ trigger
    out, cols = remove_column_streaks(img, laplacian_noise(img))
    assert cols.size == 0 and out is img


def test_row_median_is_numpys_nanmedian_bit_for_bit():
    """The streak removal's one-sort row median equals np.nanmedian(axis=1): NaNs, ties, zeros of either
    sign, all-NaN rows, odd and even counts."""
    import warnings

    from ioscan.detect.columns import _nanmedian_rows

    rng = np.random.default_rng(3)
    for trial in range(400):
        a = rng.normal(size=(rng.integers(1, 30), rng.integers(1, 25))) * 10.0 ** rng.uniform(-30, 30)
        if trial % 3:
            a[rng.random(a.shape) < rng.uniform(0, 0.9)] = np.nan
        if trial % 7 == 0:
            a = np.round(a)
        if trial % 11 == 0:
            a = a * 0.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            want = np.nanmedian(a, axis=1)
        assert repr(_nanmedian_rows(a).tolist()) == repr(want.tolist())


def _remove_column_streaks_one_by_one(data, noise, saturated=None):
    """The streak removal as first written: column by column, each with np.nanmedian and np.median."""
    import warnings

    from ioscan.detect import columns as c

    x = np.asarray(data)
    cols = c.bright_columns(x, noise, saturated)
    if cols.size == 0:
        return x, cols
    nl, ns = x.shape
    corrected = np.zeros(ns, bool)
    corrected[cols] = True
    bad = ~np.isfinite(x) | (False if saturated is None else np.asarray(saturated, bool))
    out = np.array(x, dtype=np.float64, copy=True)
    done = []
    h = c.WINDOW_LINES // 2
    for col in cols:
        reach = c.COLUMN_PAD_PX + c.REFERENCE_PX
        ref_cols = [k for k in range(max(col - reach, 0), min(col + reach + 1, ns)) if not corrected[k]]
        if len(ref_cols) < 3:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            ref = np.nanmedian(np.where(bad[:, ref_cols], np.nan, x[:, ref_cols]), axis=1)
            r = np.where(bad[:, col], np.nan, x[:, col] - ref)
            if np.count_nonzero(np.isfinite(r)) < c.WINDOW_LINES:
                continue
            e0, e1 = np.nanmedian(r[:5]), np.nanmedian(r[-5:])
            if not np.isfinite(e0) or not np.isfinite(e1):
                lo, hi = np.full(h, np.nan), np.full(h, np.nan)
            else:
                lo, hi = 2.0 * e0 - r[h:0:-1], 2.0 * e1 - r[-2 : -h - 2 : -1]
            windows = np.lib.stride_tricks.sliding_window_view(np.concatenate([lo, r, hi]), c.WINDOW_LINES)
            streak = np.nan_to_num(np.nanmedian(windows[:nl], axis=1), nan=0.0)
        err = 1.2533 * noise * np.sqrt(1.0 + 1.5708 / len(ref_cols)) / np.sqrt(c.WINDOW_LINES)
        if float(np.median(streak)) <= c.COHERENCE * err:
            continue
        streak = np.where(streak > c.SIGNIFICANCE * err, streak, 0.0)
        if np.any(streak):
            out[:, col] -= np.nan_to_num(streak)
            done.append(col)
    if not done:
        return x, np.zeros(0, np.intp)
    return out.astype(x.dtype, copy=False), np.asarray(done, np.intp)


def test_all_columns_at_once_equal_column_by_column_bit_for_bit():
    """The streak removal's columns corrected together give the values of the column-by-column loop: float32
    and float64 frames, saturated cores, NaN runs (all-NaN windows, missing end values), sources at the frame
    edges and side by side, zeros of either sign."""
    rng = np.random.default_rng(11)
    n_changed = 0
    for trial in range(40):
        nl, ns = int(rng.integers(30, 140)), int(rng.integers(30, 200))
        img = rng.normal(0.0, 1.0, (nl, ns))
        sat = np.zeros((nl, ns), bool)
        for _ in range(int(rng.integers(1, 4))):
            j = int(rng.choice([0, 1, ns - 1, int(rng.integers(0, ns))]))
            i = int(rng.integers(0, nl))
            streak = rng.uniform(0.5, 20.0) * np.exp(-np.abs(np.arange(nl) - i) / rng.uniform(5, 60))
            for dj, w in ((-1, 0.3), (0, 1.0), (1, 0.3)):
                if 0 <= j + dj < ns:
                    img[:, j + dj] += w * streak
                    img[max(i - 1, 0) : i + 2, j + dj] += w * 1e5
            if trial % 3 == 0:
                sat[max(i - 1, 0) : i + 2, max(j - 1, 0) : j + 2] = True
        if trial % 4 == 1:  # NaN runs down a source's column, and missing end values
            j = int(rng.integers(0, ns))
            img[: int(rng.integers(1, nl)), j] = np.nan
        if trial % 5 == 2:
            img[rng.random(img.shape) < 0.05] = np.nan
        if trial % 6 == 3:
            img = np.round(img) * 0.0  # zeros of both signs
            img[nl // 2, ns // 2 : ns // 2 + 3] = 1e6
        img = img.astype(np.float32 if trial % 2 else np.float64)
        noise = 1.0 if trial % 6 != 3 else 1e-3
        saturated = sat if sat.any() else None
        got, cols = remove_column_streaks(img, noise, saturated)
        want, want_cols = _remove_column_streaks_one_by_one(img, noise, saturated)
        assert got.dtype == want.dtype and np.array_equal(cols, want_cols), trial
        assert np.array_equal(got, want, equal_nan=True), trial
        assert np.array_equal(np.signbit(got), np.signbit(want)), trial
        n_changed += cols.size > 0
    assert n_changed >= 20  # the streaks were found and removed in most frames


def test_end_values_and_continued_rows_at_once_equal_row_by_row():
    """The profiles' end values made for all rows at once equal np.nanmedian of each row's 5 end values (1-D),
    and the rows continued at once equal _reflect_ends row by row, grouped by type as the rows were
    (float32 rows with an end missing turn float64): NaNs, all-NaN ends, zeros of either sign, rows shorter
    than the half window, float32 and float64."""
    import warnings

    from ioscan.detect.columns import _nanmedian_rows, _reflect_ends, _reflect_ends_rows

    rng = np.random.default_rng(8)
    kinds = set()
    for trial in range(300):
        nr, n = int(rng.integers(1, 12)), int(rng.choice([3, 5, 9, 10, 11, int(rng.integers(12, 60))]))
        v = rng.normal(size=(nr, n)) * 10.0 ** rng.uniform(-5, 5)
        if trial % 2:
            v[rng.random(v.shape) < rng.uniform(0, 0.9)] = np.nan
        if trial % 5 == 0:
            v = np.round(v) * rng.choice([0.0, -0.0, 1.0])
        v = v.astype(np.float32 if trial % 3 else np.float64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            want = [np.nanmedian(row[:5]) for row in v]
            rows = [_reflect_ends(row, 21) for row in v]
        got = _nanmedian_rows(v[:, :5])
        assert got.dtype == v.dtype and repr(got.tolist()) == repr([float(w) for w in want]), trial
        groups = _reflect_ends_rows(v, 21)
        types = list(dict.fromkeys(r.dtype for r in rows))
        assert [b.dtype for _, b in groups] == types, trial
        for (idx, block), dtype in zip(groups, types, strict=True):
            assert idx.tolist() == [i for i, r in enumerate(rows) if r.dtype == dtype]
            assert repr(block.tolist()) == repr(np.stack([rows[i] for i in idx]).tolist()), trial
        kinds.add(tuple(str(t) for t in types))
    assert len(kinds) >= 3  # one type, the other, and both


def _bright_columns_one_by_one(data, noise, saturated):
    """bright_columns' source test as first written: candidate by candidate, each 3 × 3 window cut out."""
    from scipy import ndimage

    from ioscan.detect import columns as c

    x = np.asarray(data, dtype=np.float64)
    finite = np.isfinite(x)
    if not finite.any():
        return np.zeros(0, np.intp)
    cand = finite & (x > np.float64(float(np.nanmin(data)) + c.BRIGHT_SIGMA * noise))
    if saturated is not None:
        cand |= saturated
    if not cand.any():
        return np.zeros(0, np.intp)
    nl, ns = x.shape
    rows = np.unique(np.flatnonzero(cand.any(axis=1)))
    level = np.full(nl, np.nan)
    level[rows] = c._nanmedian_rows(x[rows])
    hot = np.zeros(ns, bool)
    sat = np.zeros(x.shape, bool) if saturated is None else saturated
    for i, j in zip(*np.nonzero(cand), strict=True):
        if hot[j] or not (sat[i, j] or x[i, j] - level[i] > c.BRIGHT_SIGMA * noise):
            continue
        win = np.nan_to_num(x[max(i - 1, 0) : i + 2, max(j - 1, 0) : j + 2] - level[i], nan=0.0)
        if np.count_nonzero(win > 0.05 * win.max()) >= 4:
            hot[j] = True
    if not hot.any():
        return np.zeros(0, np.intp)
    return np.flatnonzero(ndimage.binary_dilation(hot, iterations=c.COLUMN_PAD_PX))


def test_bright_columns_all_candidates_at_once_equal_one_by_one():
    """The bright-source columns found with every candidate's 3 × 3 test at once equal the candidate-by-
    candidate loop: sources and single-pixel hits at the frame's edges and corners, saturated pixels (also
    below their line's level), NaNs beside them, infinities, nothing finite, float32 and float64."""
    from ioscan.detect.columns import bright_columns

    rng = np.random.default_rng(21)
    found = 0
    for trial in range(200):
        nl, ns = int(rng.integers(3, 40)), int(rng.integers(3, 60))
        img = rng.normal(0.0, 1.0, (nl, ns))
        for _ in range(int(rng.integers(0, 6))):
            i, j = int(rng.choice([0, nl - 1, int(rng.integers(0, nl))])), int(rng.integers(0, ns))
            if rng.random() < 0.5:  # a source lighting its 3 × 3 pixels
                img[max(i - 1, 0) : i + 2, max(j - 1, 0) : j + 2] += rng.uniform(1e3, 1e5)
            img[i, j] += rng.uniform(1e3, 1e5)
        if trial % 3 == 0:
            img[rng.random(img.shape) < 0.1] = np.nan
        if trial % 5 == 0:  # infinities: +inf is no candidate, a −inf floor makes every finite pixel one
            img[rng.random(img.shape) < 0.05] = np.inf if trial % 10 else -np.inf
        if trial == 7:
            img[:] = np.nan  # nothing finite
        sat = rng.random(img.shape) < (0.02 if trial % 4 == 0 else 0.0)
        if trial % 8 == 0:
            img[sat] = -50.0  # saturated yet below the line's level
        img = img.astype(np.float32 if trial % 2 else np.float64)
        saturated = sat if sat.any() else None
        got = bright_columns(img, 0.5, saturated)
        want = _bright_columns_one_by_one(img, 0.5, saturated)
        assert np.array_equal(got, want), trial
        found += got.size > 0
    assert found >= 50


def test_sliding_medians_equal_the_sorted_windows():
    """The compiled sliding window (kept sorted, one value out and one in) gives each window's
    _nanmedian_rows, repr for repr: NaN runs (all-NaN windows), ±inf, zeros of both signs, ties, windows of
    1 to 21 values, float32 and float64."""
    from ioscan.detect.columns import _nanmedian_rows, _sliding_nanmedians

    rng = np.random.default_rng(31)
    for trial in range(60):
        window = int(rng.choice([1, 2, 3, 5, 21]))
        rows, n = int(rng.integers(1, 6)), int(rng.integers(1, 90))
        block = rng.choice([-2.0, -0.0, 0.0, 0.5, 1.0, 3.0], size=(rows, n + window - 1))
        if trial % 2:
            block = rng.normal(0.0, 1.0, block.shape)
        block[rng.random(block.shape) < 0.2] = np.nan
        block[0, : min(2 * window, block.shape[1])] = np.nan  # all-NaN windows
        if trial % 3 == 0:
            block[rng.random(block.shape) < 0.05] = np.inf
            block[rng.random(block.shape) < 0.05] = -np.inf
        block = block.astype(np.float32 if trial % 4 < 2 else np.float64)
        with np.errstate(invalid="ignore"):  # (inf − inf)
            want = _nanmedian_rows(
                np.lib.stride_tricks.sliding_window_view(block, window, axis=1)[:, :n].reshape(-1, window)
            ).reshape(rows, n)
        one = block.dtype.type
        got = _sliding_nanmedians(block, window, n, one(0.0), one(2.0))
        assert got.dtype == want.dtype and repr(got.tolist()) == repr(want.tolist()), trial
