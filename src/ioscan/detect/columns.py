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

import math
import warnings

import numpy as np
from numba import njit
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
    sat = None if saturated is None else np.asarray(saturated, bool)
    # np.nanmin's value (fmin passes over NaN; NaN where none is finite), the same value as over a float64
    # copy (a selection); an infinite one (or none): np.nanmin of the finite pixels' test, as first written
    floor = float(np.fmin.reduce(raw, axis=None)) if raw.size else float("nan")
    if not np.isfinite(floor):
        finite = np.isfinite(raw)
        if not finite.any():
            return np.zeros(0, np.intp)
        cand = finite & (raw > np.float64(float(np.nanmin(raw)) + BRIGHT_SIGMA * noise))
        if sat is not None:
            cand |= sat
        rows = np.flatnonzero(cand.any(axis=1))
        cand = cand[rows]
    else:
        # superset of "2,000σ above its line's median"; the comparison made in float64 (a float64 threshold;
        # NaN compares False, and +inf is left out on the rows that hold a candidate)
        above = raw > np.float64(floor + BRIGHT_SIGMA * noise)
        if sat is not None:
            above |= sat
        rows = np.flatnonzero(above.any(axis=1))
        cand = above[rows] & np.isfinite(raw[rows])
        if sat is not None:
            cand |= sat[rows]
        rows = rows[cand.any(axis=1)] if rows.size else rows
        cand = cand[cand.any(axis=1)] if rows.size else cand
    if not rows.size:
        return np.zeros(0, np.intp)  # the usual frame: nothing that bright (a quick exit, without a copy)
    x = np.asarray(raw, dtype=np.float64)
    nl, ns = x.shape
    level = np.full(nl, np.nan)
    level[rows] = _nanmedian_rows(x[rows])
    ii, jj = np.nonzero(cand)  # (the candidates in row-major order: only these rows hold any)
    hot = np.zeros(ns, bool)
    hot[_source_candidates(x, level, rows[ii], jj, sat, noise)] = True
    if not hot.any():
        return np.zeros(0, np.intp)
    hot = ndimage.binary_dilation(hot, iterations=COLUMN_PAD_PX)
    return np.flatnonzero(hot)


def _source_candidates(
    x: np.ndarray,
    level: np.ndarray,
    ii: np.ndarray,
    jj: np.ndarray,
    saturated: np.ndarray | None,
    noise: float,
) -> np.ndarray:
    """Columns of the candidates (lines ``ii``, samples ``jj``) that hold a bright source (saturated, or ≥
    :data:`BRIGHT_SIGMA` × ``noise`` above their line's ``level``) lighting ≥ 4 of their 3 × 3 pixels
    (clipped to the frame; NaN read as 0) above 5 % of the brightest, each value less the line's level: all
    candidates at once (the pixels beyond the frame read as −inf, which neither the maximum nor the count
    takes)."""
    lev = level[ii]
    strong = x[ii, jj] - lev > BRIGHT_SIGMA * noise
    if saturated is not None:
        strong |= np.asarray(saturated, bool)[ii, jj]
    ii, jj, lev = ii[strong], jj[strong], lev[strong]
    if ii.size == 0:
        return jj
    nl, ns = x.shape
    li = ii[:, None, None] + np.arange(-1, 2)[None, :, None]
    sj = jj[:, None, None] + np.arange(-1, 2)[None, None, :]
    inside = (li >= 0) & (li < nl) & (sj >= 0) & (sj < ns)
    win = np.where(inside, x[np.clip(li, 0, nl - 1), np.clip(sj, 0, ns - 1)], -np.inf)
    win = win - lev[:, None, None]
    win[np.isnan(win)] = 0.0
    top = win.reshape(ii.size, -1).max(axis=1)
    lit = np.count_nonzero((win > 0.05 * top[:, None, None]).reshape(ii.size, -1), axis=1)
    return jj[lit >= 4]


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
    reach = COLUMN_PAD_PX + REFERENCE_PX
    refs = [
        [k for k in range(max(c - reach, 0), min(c + reach + 1, ns)) if not corrected_set[k]] for c in cols
    ]
    use = [i for i, ref in enumerate(refs) if len(ref) >= 3]
    if not use:
        return x, np.zeros(0, np.intp)
    # every column's reference level at once: the rows of all columns' reference pixels side by side, each
    # padded with NaN to the widest (NaNs sort last and are not counted: each row's median is its own)
    width = max(len(refs[i]) for i in use)
    ref_idx = np.zeros((len(use), width), np.intp)
    ref_pad = np.ones((len(use), width), bool)
    for row, i in enumerate(use):
        ref_idx[row, : len(refs[i])] = refs[i]
        ref_pad[row, : len(refs[i])] = False
    vals = np.where(bad[:, ref_idx], np.nan, x[:, ref_idx])  # (lines, columns, width)
    vals[:, ref_pad] = np.nan
    ref = _nanmedian_rows(vals.transpose(1, 0, 2).reshape(-1, width)).reshape(len(use), nl)
    use_cols = cols[use]
    r = np.where(bad[:, use_cols].T, np.nan, x[:, use_cols].T - ref)  # (columns, lines)
    enough = np.count_nonzero(np.isfinite(r), axis=1) >= WINDOW_LINES
    if not enough.any():
        return x, np.zeros(0, np.intp)
    use_cols, r = use_cols[enough], r[enough]
    n_ref = np.array([len(refs[i]) for i in use], float)[enough]
    # 1.2533 σ/√n: the noise of a median of n values, the reference adding its own share
    err = 1.2533 * noise * np.sqrt(1.0 + 1.5708 / n_ref) / np.sqrt(WINDOW_LINES)
    out = None
    done = np.zeros(len(use_cols), bool)
    for rows, streak in _running_nanmedians(r, WINDOW_LINES):
        # reflections add light along the whole column: a column whose smoothed excess is not positive over
        # most of its length is texture or noise, not a streak
        coherent = np.median(streak, axis=1) > COHERENCE * err[rows]
        streak = np.where(streak > (SIGNIFICANCE * err[rows])[:, None], streak, 0.0)
        hit = coherent & np.any(streak, axis=1)
        if hit.any():
            out = np.array(x, dtype=np.float64, copy=True) if out is None else out
            out[:, use_cols[rows[hit]]] -= np.nan_to_num(streak[hit]).T
            done[rows[hit]] = True
    if out is None:
        return x, np.zeros(0, np.intp)
    return out.astype(x.dtype, copy=False), use_cols[done].astype(np.intp)


def _running_nanmedians(v: np.ndarray, window: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """:func:`_running_nanmedian` of each row of ``v`` (2-D), the same values, as (rows, their running
    medians) per type of the rows' continued profiles (float64 where an end value is missing; each
    row's medians in its own type, as alone): the windows of a group side by side, one sort."""
    n = v.shape[1]
    groups = []
    for rows, block in _reflect_ends_rows(v, window) if v.shape[0] else []:  # (all rows at once)
        if block.dtype in (np.float32, np.float64) and window < 600:  # (compiled, the same values)
            one = block.dtype.type
            med = _sliding_nanmedians(np.ascontiguousarray(block), window, n, one(0.0), one(2.0))
        else:
            strided = np.lib.stride_tricks.sliding_window_view(block, window, axis=1)[:, :n]
            med = _nanmedian_rows(strided.reshape(-1, window)).reshape(rows.size, n)
        groups.append((rows, np.nan_to_num(med, nan=0.0)))  # all-NaN windows (saturated runs): 0
    return groups


@njit(cache=True)
def _sliding_nanmedians(block: np.ndarray, window: int, n: int, zero, two) -> np.ndarray:
    """:func:`_nanmedian_rows` of the first ``n`` windows of ``window`` values of each row of ``block``
    (float32 or float64, rows × ≥ n + window − 1), the same values: each row's window kept sorted as it
    slides (one value out, one in, by insertion), its non-NaN values' two middle ones (low + high + 0) / 2 in
    the block's type (``zero``, ``two``: 0 and 2 of that type, as numpy's weak scalars are), NaN where it has
    none. (Which of −0 and +0 sits where does not matter: a zero median is +0 either way.)"""
    nr = block.shape[0]
    out = np.empty((nr, n), block.dtype)
    win = np.empty(window, block.dtype)
    for r in range(nr):
        m = 0
        for t in range(window):
            m = _insert_sorted(win, m, block[r, t])
        for i in range(n):
            if i > 0:
                m = _remove_sorted(win, m, block[r, i - 1])
                m = _insert_sorted(win, m, block[r, i + window - 1])
            if m == 0:
                out[r, i] = np.nan
            else:
                out[r, i] = (win[(m - 1) // 2] + win[m // 2] + zero) / two
    return out


@njit(cache=True)
def _insert_sorted(win: np.ndarray, m: int, value: float) -> int:
    """``value`` put into the sorted ``win[:m]`` (NaN left out); returns the new count."""
    if math.isnan(value):
        return m
    k = m
    while k > 0 and win[k - 1] > value:
        win[k] = win[k - 1]
        k -= 1
    win[k] = value
    return m + 1


@njit(cache=True)
def _remove_sorted(win: np.ndarray, m: int, value: float) -> int:
    """One value equal to ``value`` taken out of the sorted ``win[:m]`` (NaN: none); returns the new count."""
    if math.isnan(value):
        return m
    k = 0
    while k < m and win[k] != value:
        k += 1
    for t in range(k, m - 1):
        win[t] = win[t + 1]
    return m - 1


def _reflect_ends(v: np.ndarray, window: int) -> np.ndarray:
    """``v`` continued by ``window // 2`` values at each end by point reflection about a robust end value
    (2·e − mirror; NaN where an end value is not finite or ``v`` is too short)."""
    h = window // 2
    n = v.size
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        e0, e1 = np.nanmedian(v[:5]), np.nanmedian(v[-5:])
    if not np.isfinite(e0) or not np.isfinite(e1) or n <= h:
        lo, hi = np.full(h, np.nan), np.full(h, np.nan)
    else:
        lo, hi = 2.0 * e0 - v[h:0:-1], 2.0 * e1 - v[-2 : -h - 2 : -1]
    return np.concatenate([lo, v, hi])


def _reflect_ends_rows(v: np.ndarray, window: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """:func:`_reflect_ends` of every row of the 2-D ``v`` at once, the same values, grouped as
    :func:`_running_nanmedians` groups them: (rows, their continued profiles) per type (``v``'s where both
    end values are finite, float64 where one is missing), in the order the types first appear. The end
    values by :func:`_nanmedian_rows` (``np.nanmedian``'s of each row's 5 end values, as for a 1-D row)."""
    h = window // 2
    nr, n = v.shape
    ends = np.zeros(nr, bool)
    if n > h:
        e0, e1 = _nanmedian_rows(v[:, :5]), _nanmedian_rows(v[:, -5:])
        ends = np.isfinite(e0) & np.isfinite(e1)
    parts = []
    if ends.any():
        lo = 2.0 * e0[ends, None] - v[ends, h:0:-1]
        hi = 2.0 * e1[ends, None] - v[ends, -2 : -h - 2 : -1]
        parts.append((np.flatnonzero(ends), np.concatenate([lo, v[ends], hi], axis=1)))
    if not ends.all():
        pad = np.full((nr - int(ends.sum()), h), np.nan)
        parts.append((np.flatnonzero(~ends), np.concatenate([pad, v[~ends], pad], axis=1)))
    parts.sort(key=lambda p: p[0][0])  # (the type of row 0 first)
    if len(parts) == 2 and parts[0][1].dtype == parts[1][1].dtype:  # one type: one group, rows in order
        block = np.empty((nr, n + 2 * h), parts[0][1].dtype)
        for rows, b in parts:
            block[rows] = b
        return [(np.arange(nr), block)]
    return parts


def _running_nanmedian(v: np.ndarray, window: int) -> np.ndarray:
    """Median of the finite values in a centred window of ``window`` samples; beyond the ends the profile is
    continued by point reflection about a robust end value (2·e − mirror), so a slope (a streak decaying
    towards the frame edge) is followed up to the last line instead of being flattened."""
    return _running_nanmedians(np.asarray(v)[None], window)[0][1][0]


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
