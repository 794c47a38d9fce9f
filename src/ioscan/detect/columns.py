"""JIRAM's down-track column streaks: found in the data and subtracted before the background.

A very bright (often saturated) hot spot spreads part of its column's signal up and down that column (the
detector's down-track reflections; Perry et al. 2025 correct them with a per-column background). The streak
is one to a few pixels wide across the columns but smooth along them, so the local 2-D background cannot
follow it and the matched filter would find peaks all along it.

:func:`remove_column_streaks` works only on the columns of very bright sources (a pixel ≥
:data:`BRIGHT_SIGMA` × the pixel noise above its line's median, or saturated, with neighbours a cosmic-ray hit
does not have), dilated by :data:`COLUMN_PAD_PX`: each such column minus the median of the ordinary columns
around it (the local level across the columns), smoothed along the column by a running median of
:data:`WINDOW_LINES` lines (compact sources, hot spots and cosmic rays, do not survive it), is the streak. It
is subtracted where it is significant, in columns where it is positive over most of the column (reflections
add light; texture differences between columns change sign).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import ndimage

#: a column holds a very bright source when a pixel rises this many pixel-noise σ above its line's median;
#: the streak it makes is then ≳ 1σ per pixel (reflected fraction ~0.3 % spread over ~40 lines)
BRIGHT_SIGMA = 2000.0
#: columns on each side of a bright source's columns that get the correction too (PSF wings, blur)
COLUMN_PAD_PX = 2
#: reference columns on each side (beyond the corrected ones) giving the local level across the columns
REFERENCE_PX = 8
#: running-median window along a column, lines
WINDOW_LINES = 21
#: the streak is subtracted where it exceeds this many σ of its own estimate...
SIGNIFICANCE = 2.0
#: ...in columns where its median over the column exceeds this many σ (positive along the whole column)
COHERENCE = 1.0


def bright_columns(data: np.ndarray, noise: float, saturated: np.ndarray | None) -> np.ndarray:
    """Columns (sample indices, sorted) holding a very bright source or a saturated pixel, with
    :data:`COLUMN_PAD_PX` columns around each. A cosmic-ray hit (1–2 pixels) does not count: ≥ 4 of the
    3 × 3 pixels around a candidate must exceed 5 % of their brightest (a PSF of core σ ≥ 0.5 px gives ≥ 5,
    a saturated plateau 9)."""
    raw = np.asarray(data)
    finite = np.isfinite(raw)
    if not finite.any():
        return np.zeros(0, np.intp)
    floor = float(np.nanmin(raw))  # the same value as over a float64 copy (a selection)
    # superset of "2,000σ above its line's median"; the comparison made in float64 (a float64 threshold)
    cand = finite & (raw > np.float64(floor + BRIGHT_SIGMA * noise))
    if saturated is not None:
        cand |= np.asarray(saturated, bool)
    if not cand.any():
        return np.zeros(0, np.intp)  # the usual frame: nothing that bright (a quick exit, without a copy)
    x = np.asarray(raw, dtype=np.float64)
    nl, ns = x.shape
    rows = np.unique(np.flatnonzero(cand.any(axis=1)))
    level = np.full(nl, np.nan)
    level[rows] = _nanmedian_rows(x[rows])
    hot = np.zeros(ns, bool)
    sat = np.zeros(x.shape, bool) if saturated is None else np.asarray(saturated, bool)
    for i, j in zip(*np.nonzero(cand), strict=True):
        if hot[j] or not (sat[i, j] or x[i, j] - level[i] > BRIGHT_SIGMA * noise):
            continue
        win = np.nan_to_num(x[max(i - 1, 0) : i + 2, max(j - 1, 0) : j + 2] - level[i], nan=0.0)
        if np.count_nonzero(win > 0.05 * win.max()) >= 4:
            hot[j] = True
    if not hot.any():
        return np.zeros(0, np.intp)
    hot = ndimage.binary_dilation(hot, iterations=COLUMN_PAD_PX)
    return np.flatnonzero(hot)


def remove_column_streaks(
    data: np.ndarray, noise: float, saturated: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``data`` with the down-track streaks of very bright sources subtracted, and the corrected columns.

    Args:
        data: band image (lines × samples), NaN = missing.
        noise: typical pixel noise (same unit), e.g. the robust scale of the 4-neighbour Laplacian.
        saturated: True on saturated pixels (their columns are corrected; the pixels are left out).

    Returns the corrected image (a copy where anything changed) and the sample indices corrected.
    """
    x = np.asarray(data)
    if noise <= 0 or not np.isfinite(noise):
        return x, np.zeros(0, np.intp)
    cols = bright_columns(x, noise, saturated)
    if cols.size == 0:
        return x, cols
    nl, ns = x.shape
    corrected_set = np.zeros(ns, bool)
    corrected_set[cols] = True
    bad = ~np.isfinite(x)
    if saturated is not None:
        bad |= np.asarray(saturated, bool)
    out = np.array(x, dtype=np.float64, copy=True)
    done = []
    for c in cols:
        reach = COLUMN_PAD_PX + REFERENCE_PX
        ref_cols = [k for k in range(max(c - reach, 0), min(c + reach + 1, ns)) if not corrected_set[k]]
        if len(ref_cols) < 3:
            continue
        ref = _nanmedian_rows(np.where(bad[:, ref_cols], np.nan, x[:, ref_cols]))
        r = np.where(bad[:, c], np.nan, x[:, c] - ref)
        if np.count_nonzero(np.isfinite(r)) < WINDOW_LINES:
            continue
        streak = _running_nanmedian(r, WINDOW_LINES)
        # 1.2533 σ/√n: the noise of a median of n values, the reference adding its own share
        err = 1.2533 * noise * np.sqrt(1.0 + 1.5708 / len(ref_cols)) / np.sqrt(WINDOW_LINES)
        # reflections add light along the whole column: a column whose smoothed excess is not positive over
        # most of its length is texture or noise, not a streak
        if float(np.median(streak)) <= COHERENCE * err:
            continue
        streak = np.where(streak > SIGNIFICANCE * err, streak, 0.0)
        if np.any(streak):
            out[:, c] -= np.nan_to_num(streak)
            done.append(c)
    if not done:
        return x, np.zeros(0, np.intp)
    return out.astype(x.dtype, copy=False), np.asarray(done, np.intp)


def _running_nanmedian(v: np.ndarray, window: int) -> np.ndarray:
    """Median of the finite values in a centred window of ``window`` samples; beyond the ends the profile is
    continued by point reflection about a robust end value (2·e − mirror), so a slope (a streak decaying
    towards the frame edge) is followed up to the last line instead of being flattened."""
    h = window // 2
    n = v.size
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        e0, e1 = np.nanmedian(v[:5]), np.nanmedian(v[-5:])
    if not np.isfinite(e0) or not np.isfinite(e1) or n <= h:
        lo, hi = np.full(h, np.nan), np.full(h, np.nan)
    else:
        lo, hi = 2.0 * e0 - v[h:0:-1], 2.0 * e1 - v[-2 : -h - 2 : -1]
    padded = np.concatenate([lo, v, hi])
    strided = np.lib.stride_tricks.sliding_window_view(padded, window)[:n]
    return np.nan_to_num(_nanmedian_rows(strided), nan=0.0)  # all-NaN windows (saturated runs): 0


def _nanmedian_rows(a: np.ndarray) -> np.ndarray:
    """``np.nanmedian(a, axis=1)`` of a 2-D float64 array, bit for bit (NaN for all-NaN rows, no warning),
    by one sort: numpy's masked median of the two middle finite values, (low + high + 0) / 2 (its sum starts
    from +0, so a zero median is +0), an odd count's middle value taken twice. (Rows of ≥ 600 values take
    another path in numpy: np.nanmedian itself.)"""
    if a.shape[1] >= 600:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmedian(a, axis=1)
    s = np.sort(a, axis=1)  # NaNs last
    n = np.count_nonzero(~np.isnan(a), axis=1)
    rows = np.arange(a.shape[0])
    lo, hi = np.maximum((n - 1) // 2, 0), n // 2
    out = (s[rows, lo] + s[rows, np.minimum(hi, a.shape[1] - 1)] + 0.0) / 2
    out[n == 0] = np.nan
    return out
