"""Compiled (numba) kernels of the limb fit's per-sample loops: the same numbers as the scipy/numpy calls
they replace, bit for bit.

* :func:`spline_at` — :func:`scipy.ndimage.map_coordinates` with ``order=3, prefilter=False,
  mode="nearest"`` on a 2-D float64 array of cubic B-spline coefficients: the weights of scipy's
  ``get_spline_interpolation_weights``, taps beyond the array taken at its edge (scipy ≥ 1.6; the position
  itself is not clamped) and the 16 taps summed in scipy's order (line tap by line tap, each term
  (coefficient × line weight) × sample weight). NaN (or huge) positions are left to scipy. The tests hold
  it to the installed scipy's numbers, inside and beyond the array.
* :func:`spline_filter` — ``scipy.ndimage.spline_filter(order=3, mode="nearest")`` of a 2-D array: scipy's
  gain, "reflect" initialisations (its ``pow``) and recursions in its order, along axis 0 then 1 (a line of
  one value left as it is); ~3.5× faster on a 128 × 432 band.
* :func:`gaussian_nearest` — ``scipy.ndimage.gaussian_filter(mode="nearest")`` of a 2-D array from scipy's
  weights: its symmetric correlation (the centre term, then the pairs from the farthest in) along axis 0,
  then 1, in row loops that vectorise (~1.6× faster on a 128 × 432 band).
* :func:`clean_row_diffs` — the image preparation's good-neighbour differences along the samples
  (``np.diff(axis=1)`` masked, C order) in one pass.
* :func:`ray_samples` — the limb rays' profile samples and their "bad pixel" flags (nearest pixel flagged
  or outside the frame's interior) in one pass, as :func:`ioscan.geometry.limbfit._measure_edges` computed
  them with whole-array steps.
* :func:`median`, :func:`median_abs_deviation` — ``np.median`` and the MAD by exact selection: value bins
  narrowed to the wanted ranks (the first bins spanning the sampled values around those ranks, so a narrow
  core with far outliers is not counted again and again), then a sort of the few left.
* :func:`opening_near_sources` — :func:`line_opening` made only where the limb fit's compact-source search
  reads it (the pixels its row and column erosions leave above the floor, the candidates' neighbourhoods
  that bounds on the local surface do not decide, the grown boxes), with the search's candidates and
  decisions: the same source mask and fill.
* :func:`linear_at`, :func:`linear_profiles` — :func:`scipy.ndimage.map_coordinates` with ``order=1,
  mode="nearest"`` (scipy's weights, taps beyond the array at its edge, its order of terms): detection's
  limb edge profiles and the geometry limb check (:mod:`ioscan.detect.limb`).
* :func:`sobel_gradients` — detection's limb edge gradients: two float32 :func:`scipy.ndimage.sobel` calls
  ÷ 8 and their squared norm in one pass, the same numbers.

numba compiles without ``fastmath`` (nothing reassociated or fused into FMAs), so each kernel's additions and
multiplications round as the C/numpy code's do. numba is imported by the first caller; ``cache=True`` keeps
the machine code on disk.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, error_model="numpy", inline="always")
def _weights(c: float):  # pragma: no cover - compiled
    """First tap index and the four cubic B-spline weights of coordinate ``c``, as scipy's
    ``get_spline_interpolation_weights`` computes them (the last one as 1 minus the others, in order)."""
    fl = math.floor(c)
    x = c - fl
    y = x
    z = 1.0 - x
    w1 = (y * y * (y - 2.0) * 3.0 + 4.0) / 6.0
    w2 = (z * z * (z - 2.0) * 3.0 + 4.0) / 6.0
    w0 = z * z * z / 6.0
    w3 = 1.0
    w3 -= w0
    w3 -= w1
    w3 -= w2
    return int(fl) - 1, w0, w1, w2, w3


@njit(cache=True, error_model="numpy", inline="always")
def _row_sum(coef, row, c0, c1, c2, c3, ws0, ws1, ws2, ws3, wl, t):  # pragma: no cover - compiled
    """``t`` plus one line tap's four terms (columns c0..c3), each (coefficient × line weight) × sample
    weight, in scipy's order."""
    v = coef[row, c0] * wl
    t += v * ws0
    v = coef[row, c1] * wl
    t += v * ws1
    v = coef[row, c2] * wl
    t += v * ws2
    v = coef[row, c3] * wl
    t += v * ws3
    return t


@njit(cache=True, error_model="numpy", inline="always")
def _spline_value(coef, line: float, sample: float):  # pragma: no cover - compiled
    """(value, ok): the cubic spline of ``coef`` at (line, sample), taps beyond the array taken at its
    edge (scipy's mode "nearest": the position itself is not clamped); ok False for a NaN or huge position
    (left to scipy)."""
    nl, ns = coef.shape
    if line >= 1.0 and line < nl - 2 and sample >= 1.0 and sample < ns - 2:  # every tap inside
        l0, wl0, wl1, wl2, wl3 = _weights(line)
        s0, ws0, ws1, ws2, ws3 = _weights(sample)
        t = _row_sum(coef, l0, s0, s0 + 1, s0 + 2, s0 + 3, ws0, ws1, ws2, ws3, wl0, 0.0)
        t = _row_sum(coef, l0 + 1, s0, s0 + 1, s0 + 2, s0 + 3, ws0, ws1, ws2, ws3, wl1, t)
        t = _row_sum(coef, l0 + 2, s0, s0 + 1, s0 + 2, s0 + 3, ws0, ws1, ws2, ws3, wl2, t)
        t = _row_sum(coef, l0 + 3, s0, s0 + 1, s0 + 2, s0 + 3, ws0, ws1, ws2, ws3, wl3, t)
        return t, True
    if not (abs(line) < 1e15 and abs(sample) < 1e15):  # NaN, or too far for the integer taps
        return 0.0, False
    l0, wl0, wl1, wl2, wl3 = _weights(line)
    s0, ws0, ws1, ws2, ws3 = _weights(sample)
    c0, c1 = _clamp(s0, ns), _clamp(s0 + 1, ns)
    c2, c3 = _clamp(s0 + 2, ns), _clamp(s0 + 3, ns)
    t = _row_sum(coef, _clamp(l0, nl), c0, c1, c2, c3, ws0, ws1, ws2, ws3, wl0, 0.0)
    t = _row_sum(coef, _clamp(l0 + 1, nl), c0, c1, c2, c3, ws0, ws1, ws2, ws3, wl1, t)
    t = _row_sum(coef, _clamp(l0 + 2, nl), c0, c1, c2, c3, ws0, ws1, ws2, ws3, wl2, t)
    t = _row_sum(coef, _clamp(l0 + 3, nl), c0, c1, c2, c3, ws0, ws1, ws2, ws3, wl3, t)
    return t, True


@njit(cache=True, error_model="numpy", inline="always")
def _clamp(i: int, n: int) -> int:  # pragma: no cover - compiled
    return min(max(i, 0), n - 1)


@njit(cache=True, error_model="numpy")
def spline_at(coef: np.ndarray, lines: np.ndarray, samples: np.ndarray):  # pragma: no cover - compiled
    """Cubic spline of the 2-D coefficients ``coef`` at 1-D arrays of (line, sample) positions, and which
    positions it computed (all but NaN or huge ones; 0 in the output there, the caller's), equal bit for
    bit to ``ndimage.map_coordinates(coef, [lines, samples], order=3, prefilter=False, mode="nearest")``."""
    n = lines.shape[0]
    out = np.empty(n)
    done = np.empty(n, np.bool_)
    for k in range(n):
        out[k], done[k] = _spline_value(coef, lines[k], samples[k])
    return out, done


#: the cubic B-spline's pole, sqrt(3) − 2, as scipy's ``get_filter_poles`` writes it
SPLINE_POLE = -0.267949192431122706472553658494127633


@njit(cache=True, error_model="numpy")
def _spline_filter_lines(c: np.ndarray, z: float) -> None:  # pragma: no cover - compiled
    """scipy's ``apply_filter`` (one pole ``z``, mode "nearest": its "reflect" initialisations) on every
    column of ``c`` in place (lines along axis 0, all columns at once row by row: each column's operations
    are scipy's, in its order)."""
    n, m = c.shape
    if n < 2:  # scipy leaves a line of one value as it is
        return
    gain = 1.0
    gain *= (1.0 - z) * (1.0 - 1.0 / z)
    for i in range(n):
        for j in range(m):
            c[i, j] *= gain
    # _init_causal_reflect (scipy's for mode "nearest"); its last term reads the first value as summed so far
    z_n = math.pow(z, float(n))
    first = np.empty(m)
    for j in range(m):
        first[j] = c[0, j]
        c[0, j] = c[0, j] + z_n * c[n - 1, j]
    z_i = z
    for i in range(1, n):
        for j in range(m):
            c[0, j] += z_i * (c[i, j] + z_n * c[n - 1 - i, j])
        z_i *= z
    scale = z / (1 - z_n * z_n)
    for j in range(m):
        c[0, j] *= scale
        c[0, j] += first[j]
    for i in range(1, n):
        for j in range(m):
            c[i, j] += z * c[i - 1, j]
    # _init_anticausal_reflect
    end = z / (z - 1)
    for j in range(m):
        c[n - 1, j] *= end
    for i in range(n - 2, -1, -1):
        for j in range(m):
            c[i, j] = z * (c[i + 1, j] - c[i, j])


@njit(cache=True, error_model="numpy")
def spline_filter(a: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """``scipy.ndimage.spline_filter(a, order=3, mode="nearest")`` of a 2-D float64 array, the same
    numbers: scipy's one-pole filter along axis 0, then along axis 1 (the rows filtered as columns of the
    transposed copy)."""
    c = a.copy()
    _spline_filter_lines(c, SPLINE_POLE)
    t = c.T.copy()
    _spline_filter_lines(t, SPLINE_POLE)
    return t.T.copy()


@njit(cache=True, error_model="numpy")
def gaussian_nearest(a: np.ndarray, w: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """``scipy.ndimage.gaussian_filter(a, sigma, mode="nearest")`` of a 2-D float64 array given its 1-D
    weights ``w`` (odd length, symmetric: scipy's symmetric correlation), the same numbers: along axis 0,
    then along axis 1 of that, each output ``x[i]·w[r]`` plus, from the farthest pair in, ``(x[i − k] +
    x[i + k])·w[r − k]`` (the line extended by its edge values), as scipy's ``NI_Correlate1D`` sums it."""
    return _gaussian_separable(a, w, False)


@njit(cache=True, error_model="numpy")
def clean_row_diffs(a: np.ndarray, bad: np.ndarray, all_when_none: bool) -> np.ndarray:  # pragma: no cover
    """``np.diff(a, axis=1)`` at the neighbours that are both not ``bad``, in C order (every difference
    when no pixel is bad, or, with ``all_when_none``, when no pair is good), as ``limbfit._prepare``
    gathered them: one pass, the same values."""
    nl, ns = a.shape
    out = np.empty(nl * (ns - 1))
    n = 0
    for i in range(nl):
        for j in range(ns - 1):
            if not (bad[i, j] or bad[i, j + 1]):
                out[n] = a[i, j + 1] - a[i, j]
                n += 1
    if n == 0 and all_when_none:
        for i in range(nl):
            for j in range(ns - 1):
                out[n] = a[i, j + 1] - a[i, j]
                n += 1
    return out[:n]


@njit(cache=True, error_model="numpy", inline="always")
def _linear_value(img, line: float, sample: float) -> float:  # pragma: no cover - compiled
    """The bilinear value of ``img`` at a finite (line, sample), as scipy's ``map_coordinates(order=1,
    mode="nearest")`` computes it: weights 1 − frac and 1 minus that, taps beyond the array at its edge, the
    four terms (value × line weight) × sample weight summed in scipy's order, in float64."""
    nl, ns = img.shape
    fl = math.floor(line)
    fs = math.floor(sample)
    wl0 = 1.0 - (line - fl)
    wl1 = 1.0
    wl1 -= wl0
    ws0 = 1.0 - (sample - fs)
    ws1 = 1.0
    ws1 -= ws0
    l0, s0 = int(fl), int(fs)
    a0, a1 = _clamp(l0, nl), _clamp(l0 + 1, nl)
    b0, b1 = _clamp(s0, ns), _clamp(s0 + 1, ns)
    t = 0.0
    v = img[a0, b0] * wl0
    t += v * ws0
    v = img[a0, b1] * wl0
    t += v * ws1
    v = img[a1, b0] * wl1
    t += v * ws0
    v = img[a1, b1] * wl1
    t += v * ws1
    return t


@njit(cache=True, error_model="numpy")
def linear_at(
    img: np.ndarray, lines: np.ndarray, samples: np.ndarray, out: np.ndarray
) -> bool:  # pragma: no cover
    """``ndimage.map_coordinates(img, [lines, samples], order=1, mode="nearest")`` bit for bit into ``out``
    (1-D, ``img``'s dtype: the float64 sum rounded to it as scipy stores it). Returns False, ``out`` left
    incomplete, when a position is NaN or huge (the caller then asks scipy)."""
    for k in range(lines.shape[0]):
        y, x = lines[k], samples[k]
        if not (abs(y) < 1e15 and abs(x) < 1e15):
            return False
        out[k] = _linear_value(img, y, x)
    return True


@njit(cache=True, error_model="numpy")
def linear_profiles(
    img: np.ndarray, rows: np.ndarray, cols: np.ndarray, uy: np.ndarray, ux: np.ndarray, t: np.ndarray, out
) -> bool:  # pragma: no cover - compiled
    """Profiles across pixels (``rows``, ``cols``, int) along unit vectors (``ux``, ``uy``) at offsets
    ``t``: ``out[i, j]`` = :func:`linear_at` of ``img`` at (rows[i] + t[j]·uy[i], cols[i] + t[j]·ux[i])
    (numpy's ``ii[:, None] + t[None, :] * uy[:, None]``: the product first, then the sum in float64).
    False (``out`` incomplete) when a position is NaN or huge."""
    for i in range(rows.shape[0]):
        r, c = float(rows[i]), float(cols[i])
        for j in range(t.shape[0]):
            y = r + t[j] * uy[i]
            x = c + t[j] * ux[i]
            if not (abs(y) < 1e15 and abs(x) < 1e15):
                return False
            out[i, j] = _linear_value(img, y, x)
    return True


@njit(cache=True, error_model="numpy", inline="always")
def _reflect(i: int, n: int) -> int:  # pragma: no cover - compiled
    """Index ``i`` mirrored into [0, n) as scipy's mode "reflect" extends a line (d c b a | a b c d)."""
    if i < 0:
        return -i - 1
    if i >= n:
        return 2 * n - i - 1
    return i


@njit(cache=True, error_model="numpy", inline="always")
def _sobel_diff(mid, lo, hi):  # pragma: no cover - compiled
    """scipy's antisymmetric correlation by [−1, 0, 1] at one pixel, in float64 rounded to float32:
    mid·0 + (lo − hi)·(−1), in that order (the sign of a zero result follows it)."""
    o = np.float64(mid) * 0.0
    o += (np.float64(lo) - np.float64(hi)) * -1.0
    return np.float32(o)


@njit(cache=True, error_model="numpy", inline="always")
def _sobel_smooth(mid, lo, hi) -> float:  # pragma: no cover - compiled
    """scipy's symmetric correlation by [1, 2, 1] at one pixel, in float64: mid·2 + (lo + hi)·1."""
    o = np.float64(mid) * 2.0
    o += (np.float64(lo) + np.float64(hi)) * 1.0
    return o


@njit(cache=True, error_model="numpy")
def sobel_gradients(s: np.ndarray):  # pragma: no cover - compiled
    """(gx, gy, gx² + gy²) of a 2-D float32 image, float32: ``ndimage.sobel(s, axis=1) / 8``,
    ``ndimage.sobel(s, axis=0) / 8`` (mode "reflect") and the squared norm, bit for bit. scipy rounds the
    first (derivative) pass to float32 before the [1, 2, 1] pass: each pixel's three first-pass values are
    made again here, rounded the same, instead of kept in an array; ÷ 8 is × 0.125 (exact scaling either
    way)."""
    nl, ns = s.shape
    gx = np.empty((nl, ns), np.float32)
    gy = np.empty((nl, ns), np.float32)
    g2 = np.empty((nl, ns), np.float32)
    eighth = np.float32(0.125)
    for i in range(nl):
        m, u, d = s[i], s[_reflect(i - 1, nl)], s[_reflect(i + 1, nl)]
        for j in range(ns):
            jm = j - 1 if j > 0 else 0
            jp = j + 1 if j < ns - 1 else ns - 1
            dm = _sobel_diff(m[j], m[jm], m[jp])
            x = np.float32(
                _sobel_smooth(dm, _sobel_diff(u[j], u[jm], u[jp]), _sobel_diff(d[j], d[jm], d[jp]))
            )
            dy = _sobel_diff(m[j], u[j], d[j])
            y = np.float32(
                _sobel_smooth(dy, _sobel_diff(m[jm], u[jm], d[jm]), _sobel_diff(m[jp], u[jp], d[jp]))
            )
            x *= eighth
            y *= eighth
            gx[i, j] = x
            gy[i, j] = y
            g2[i, j] = x * x + y * y
    return gx, gy, g2


@njit(cache=True, error_model="numpy")
def ray_samples(
    coef: np.ndarray,
    bad: np.ndarray,
    pts: np.ndarray,
    normals: np.ndarray,
    rows: np.ndarray,
    t: np.ndarray,
    core_lo: int,
    core_hi: int,
    prof: np.ndarray,
    badpix: np.ndarray,
    done: np.ndarray,
    coef_l0: int = 0,
    coef_s0: int = 0,
) -> int:  # pragma: no cover - compiled
    """For each ray r in ``rows`` (positions ``pts[r] + t·normals[r]``, (sample, line), finite): the spline
    of ``coef`` (the coefficients of a box whose first pixel is the frame's (``coef_l0``, ``coef_s0``);
    taps beyond it at its edge) at the samples ``core_lo:core_hi`` into ``prof[r]`` where :func:`spline_at`
    computes it (``done[r]`` True; the caller fills the others), and for every sample whether its nearest
    pixel (rounded half to even) is ``bad`` or it lies outside the frame's interior [1, n − 2] into
    ``badpix[r]``. Written in place; other rows are untouched. Returns how many samples it left undone."""
    nl, ns = bad.shape
    left = 0
    for r in rows:
        px, py = pts[r, 0], pts[r, 1]
        nx, ny = normals[r, 0], normals[r, 1]
        for j in range(t.shape[0]):
            x = px + t[j] * nx
            y = py + t[j] * ny
            if core_lo <= j < core_hi:
                v, ok = _spline_value(coef, y - coef_l0, x - coef_s0)
                prof[r, j] = v
                done[r, j] = ok
                left += not ok
            ri = min(max(int(np.rint(y)), 0), nl - 1)
            ci = min(max(int(np.rint(x)), 0), ns - 1)
            badpix[r, j] = bad[ri, ci] or not (x >= 1 and x <= ns - 2 and y >= 1 and y <= nl - 2)
    return left


@njit(cache=True, error_model="numpy", inline="always")
def _bins_holding(counts, b1: int, below: int, want: int, k: int):  # pragma: no cover - compiled
    """(first bin, last bin, values before the first, values up to the last) of the value bins that hold
    ranks ``want`` ≤ ``k`` (0-based), searched from bin ``b1`` with ``below`` values in the bins before it."""
    while below + counts[b1] <= want:
        below += counts[b1]
        b1 += 1
    b2 = b1
    above = below + counts[b1]
    while above <= k:
        b2 += 1
        above += counts[b2]
    return b1, b2, below, above


@njit(cache=True, error_model="numpy")
def _order_pair(x: np.ndarray, k: int):  # pragma: no cover - compiled
    """The (k − 1)-th and k-th smallest of the finite 1-D ``x`` (0-based; both the smallest for k = 0):
    values of ``x`` itself. The values are counted in ~n/8 equal value bins (a monotone map: a bin's values
    all lie between its neighbours'), only those of the bins that hold the two ranks are kept, and that is
    repeated on them (a narrow core of a wide distribution) until few are left, which are sorted."""
    want = max(k - 1, 0)
    w = x
    while True:
        n = w.shape[0]
        lo, hi = w[0], w[0]
        for v in w:
            if v < lo:
                lo = v
            if v > hi:
                hi = v
        if not hi > lo:  # all equal
            return lo, lo
        nb = max(16, n // 8)
        scale = nb / (hi - lo)
        if n <= 64 or not scale < np.inf:
            s = np.sort(w)
            return s[want], s[k]
        counts = np.zeros(nb, np.int64)
        for v in w:
            counts[min(int((v - lo) * scale), nb - 1)] += 1
        b1, b2, below, above = _bins_holding(counts, 0, 0, want, k)
        if above - below == n:  # no narrowing (cannot happen with hi > lo; kept as a guard)
            s = np.sort(w)
            return s[want], s[k]
        cand = np.empty(above - below)
        m = 0
        for v in w:
            b = min(int((v - lo) * scale), nb - 1)
            if b1 <= b <= b2:
                cand[m] = v
                m += 1
        w = cand
        want -= below
        k -= below


#: values sampled (evenly spaced along the array) by :func:`_sampled_pair` to choose its bins' range;
#: arrays shorter than 32 × this go straight to :func:`_order_pair`
RANGE_SAMPLE = 256
#: the bins' range runs from this many sampled values below the wanted ranks' place in the sorted sample to
#: as many above it (±4σ of a sample quantile of 256 values)
RANGE_MARGIN = 32


@njit(cache=True, error_model="numpy", inline="always")
def _value(x, i: int, m: float, deviation: bool) -> float:  # pragma: no cover - compiled
    """x[i], or its absolute deviation |x[i] − m|."""
    return abs(x[i] - m) if deviation else x[i]


@njit(cache=True, error_model="numpy", inline="always")
def _bin_of(v: float, lo: float, scale: float, top: float) -> int:  # pragma: no cover - compiled
    """Bin of ``v``: 0 below ``lo``, 1…top − 1 across the range, ``top`` from its end up; monotone in v (each
    step rounds monotonically), so the bins keep the values' order; no branch."""
    return int(min(max((v - lo) * scale + 1.0, 0.0), top))


@njit(cache=True, error_model="numpy")
def _sampled_pair(x: np.ndarray, k: int, m: float, deviation: bool):  # pragma: no cover - compiled
    """(found, a, b): the (k − 1)-th and k-th smallest (0-based; both the smallest for k = 0) of the finite
    x, or of |x − m| when ``deviation`` (made as they are read). :func:`_order_pair`'s first narrowing with
    its equal value bins spanning only the sampled values around the wanted ranks (:data:`RANGE_SAMPLE`,
    ± :data:`RANGE_MARGIN`), the values beyond them counted in one bin at each end: image differences (a
    narrow core, hot spots far out) then narrow in one count and one gather instead of several rounds
    over most of the data. Exact whatever the sample; found is False when the ranks fall outside the range
    (then nothing is returned)."""
    n = x.shape[0]
    ns = RANGE_SAMPLE
    if n < 32 * ns:
        return False, 0.0, 0.0
    want = max(k - 1, 0)
    step = n // ns
    sample = np.empty(ns)
    for i in range(ns):
        sample[i] = _value(x, i * step, m, deviation)
    sample.sort()
    lo_i = (want * ns) // n - RANGE_MARGIN
    hi_i = (k * ns) // n + RANGE_MARGIN
    if lo_i < 0 or hi_i >= ns:
        return False, 0.0, 0.0
    lo, hi = sample[lo_i], sample[hi_i]
    nb = max(16, n // 8)
    scale = nb / (hi - lo) if hi > lo else np.inf
    if not scale < np.inf:
        return False, 0.0, 0.0
    top = float(nb + 1)
    counts = np.zeros(nb + 2, np.int64)
    for i in range(n):
        counts[_bin_of(_value(x, i, m, deviation), lo, scale, top)] += 1
    if counts[0] > want or n - counts[nb + 1] <= k:
        return False, 0.0, 0.0
    b1, b2, below, above = _bins_holding(counts, 1, counts[0], want, k)
    cand = np.empty(above - below)
    c = 0
    for i in range(n):
        v = _value(x, i, m, deviation)
        b = _bin_of(v, lo, scale, top)
        if b1 <= b <= b2:
            cand[c] = v
            c += 1
    a, b = _order_pair(cand, k - below)  # below ≤ k − 1 (or 0 = k): both ranks are among cand
    return True, a, b


@njit(cache=True, error_model="numpy")
def _pair(x: np.ndarray, k: int, m: float, deviation: bool):  # pragma: no cover - compiled
    """The (k − 1)-th and k-th smallest of x (or |x − m|): :func:`_sampled_pair`, else :func:`_order_pair`
    on the values."""
    found, a, b = _sampled_pair(x, k, m, deviation)
    if found:
        return a, b
    if not deviation:
        return _order_pair(x, k)
    d = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        d[i] = abs(x[i] - m)
    return _order_pair(d, k)


@njit(cache=True, error_model="numpy")
def median(x: np.ndarray) -> float:  # pragma: no cover - compiled
    """``np.median`` of a finite, non-empty 1-D array: the middle value, or the mean of the two middle
    values ((a + b) / 2) for an even length."""
    n = x.shape[0]
    a, b = _pair(x, n // 2, 0.0, False)
    return b if n % 2 else (a + b) / 2.0


@njit(cache=True, error_model="numpy")
def median_abs_deviation(x: np.ndarray) -> float:  # pragma: no cover - compiled
    """``np.median(np.abs(x - np.median(x)))`` of a finite, non-empty 1-D array (unscaled)."""
    n = x.shape[0]
    m = median(x)
    a, b = _pair(x, n // 2, m, True)
    return b if n % 2 else (a + b) / 2.0


#: the line openings' directions, (line, sample) steps: rows, columns and the two diagonals
LINE_STEPS = ((0, 1), (1, 0), (1, 1), (1, -1))


@njit(cache=True, error_model="numpy")
def _edge_pad(a: np.ndarray, half: int, out: np.ndarray) -> None:  # pragma: no cover - compiled
    """``np.pad(a, half, mode="edge")`` into ``out`` (shape (nl + 2·half, ns + 2·half))."""
    nl, ns = a.shape
    for i in range(nl + 2 * half):
        src = min(max(i - half, 0), nl - 1)
        for j in range(half):
            out[i, j] = a[src, 0]
            out[i, half + ns + j] = a[src, ns - 1]
        for j in range(ns):
            out[i, half + j] = a[src, j]


@njit(cache=True, error_model="numpy")
def _line_extreme(pad, half: int, s0: int, s1: int, take_max: bool, out) -> None:  # pragma: no cover
    """``out[i, j]`` = min (max) over k in [−half, half] of ``pad[half + i + k·s0, half + j + k·s1]``
    (finite values: no NaN handling), row by row over contiguous slices."""
    nl, ns = out.shape
    for i in range(nl):
        orow = out[i]
        first = pad[half + i - half * s0]
        c0 = half - half * s1
        for j in range(ns):
            orow[j] = first[c0 + j]
        for k in range(-half + 1, half + 1):
            c = half + k * s1
            src = pad[half + i + k * s0][c : c + ns]
            if take_max:
                for j in range(ns):
                    if src[j] > orow[j]:
                        orow[j] = src[j]
            else:
                for j in range(ns):
                    if src[j] < orow[j]:
                        orow[j] = src[j]


@njit(cache=True, error_model="numpy")
def line_opening(img: np.ndarray, length: int) -> np.ndarray:  # pragma: no cover - compiled
    """Largest of the grey openings of the finite ``img`` by straight lines of ``length`` px (erosion then
    dilation, each over ``length // 2`` px either side, the array edge-extended) along
    :data:`LINE_STEPS`: the numbers of :func:`ioscan.geometry.limbfit._line_opening_numpy` (minima and
    maxima are exact), ~2× faster. NaN is not handled (the caller passes finite images only)."""
    half = length // 2
    nl, ns = img.shape
    pad = np.empty((nl + 2 * half, ns + 2 * half))
    ero = np.empty((nl, ns))
    opened = np.empty((nl, ns))
    best = np.empty((nl, ns))
    _edge_pad(img, half, pad)
    padded_img = pad.copy()
    for d in range(len(LINE_STEPS)):
        s0, s1 = LINE_STEPS[d]
        _line_extreme(padded_img, half, s0, s1, False, ero)
        _edge_pad(ero, half, pad)
        _line_extreme(pad, half, s0, s1, True, opened)
        if d == 0:
            best[:, :] = opened
            continue
        for i in range(nl):
            for j in range(ns):
                if opened[i, j] > best[i, j]:
                    best[i, j] = opened[i, j]
    return best


@njit(cache=True, error_model="numpy", inline="always")
def _erosion_at(img, i: int, j: int, half: int, s0: int, s1: int) -> float:  # pragma: no cover - compiled
    """The line erosion of :func:`line_opening` at pixel (i, j): the minimum over k in [−half, half] of
    ``img`` at (i + k·s0, j + k·s1), each coordinate clamped to the array (its edge extension), taken in
    that kernel's order."""
    nl, ns = img.shape
    m = img[_clamp(i - half * s0, nl), _clamp(j - half * s1, ns)]
    for k in range(-half + 1, half + 1):
        v = img[_clamp(i + k * s0, nl), _clamp(j + k * s1, ns)]
        if v < m:
            m = v
    return m


@njit(cache=True, error_model="numpy")
def _opening_at(img, i: int, j: int, half: int, ero, ero_done) -> float:  # pragma: no cover - compiled
    """:func:`line_opening`'s value at pixel (i, j): per direction the maximum of the line erosion (kept in
    ``ero`` once made, ``ero_done``) over the line through the pixel, the largest over the directions, each
    extremum taken in that kernel's order (the same value)."""
    nl, ns = img.shape
    best = 0.0
    for d in range(len(LINE_STEPS)):
        s0, s1 = LINE_STEPS[d]
        o = 0.0
        for k in range(-half, half + 1):
            q0, q1 = _clamp(i + k * s0, nl), _clamp(j + k * s1, ns)
            if not ero_done[d, q0, q1]:
                ero[d, q0, q1] = _erosion_at(img, q0, q1, half, s0, s1)
                ero_done[d, q0, q1] = 1
            v = ero[d, q0, q1]
            if k == -half or v > o:
                o = v
        if d == 0 or o > best:
            best = o
    return best


#: relative margin of the local-surface bounds in :func:`opening_near_sources` (a 49-term sum of non-negative
#: terms is within 48 units of 2⁻⁵³ of the exact sum in any order: ~5e-15)
BOUND_MARGIN = 1e-12


@njit(cache=True, error_model="numpy")
def opening_near_sources(
    img: np.ndarray, length: int, floor: float, size: int, grow: int, contrast: float
):  # pragma: no cover - compiled
    """What :func:`ioscan.geometry.limbfit._compact_sources` reads of :func:`line_opening` of the finite
    ``img`` (``img`` elsewhere), its candidates (line and sample indices, row-major: the pixels where
    ``img − opening`` > ``floor``) and for each whether it is a source (1), not (0) or undecided here (−1).

    A pixel is not a candidate when ``img`` minus its row or column erosion is ≤ ``floor`` (the row and
    column openings hold their own pixel's erosion, so the opening is at least either): the opening is made
    only at the few per cent of pixels left. A candidate is a source when its excess exceeds ``contrast`` ×
    the local surface (the mean of the opening clipped at 0 over its ``size`` × ``size`` neighbourhood,
    mirrored at the array's edges, mode "reflect"); the opening lies between the row erosion and ``img``,
    so the same means of those bound it — with :data:`BOUND_MARGIN` for the order of the sums — and decide
    most candidates without the opening of their neighbourhood; the undecided get it made there. Every
    candidate that is or may be a source gets it made on its ``grow`` × ``grow`` box (clipped: where a
    source is filled). Each erosion is made once (``_erosion_at``'s order), each opening value is
    :func:`line_opening`'s."""
    half = length // 2
    nl, ns = img.shape
    opened = img.copy()
    done = np.zeros((nl, ns), np.uint8)
    ero = np.empty((len(LINE_STEPS), nl, ns))
    ero_done = np.zeros((len(LINE_STEPS), nl, ns), np.uint8)
    cand_l = np.empty(nl * ns, np.int64)
    cand_s = np.empty(nl * ns, np.int64)
    n = 0
    padded = np.empty(ns + 2 * half)
    low = np.empty(ns)
    for i in range(nl):
        row = img[i]
        # a lower bound of the opening: the row erosion (edge-extended row), in plain loops over separate
        # buffers (vectorised; values only: the memoised erosions keep _erosion_at's order)
        for j in range(half):
            padded[j] = row[0]
            padded[half + ns + j] = row[ns - 1]
        for j in range(ns):
            padded[half + j] = row[j]
        for j in range(ns):
            low[j] = padded[j]
        for k in range(1, 2 * half + 1):
            for j in range(ns):
                b = padded[j + k]
                if b < low[j]:
                    low[j] = b
        for j in range(ns):
            v = row[j]
            if v - low[j] <= floor:
                continue
            if not ero_done[1, i, j]:
                ero[1, i, j] = _erosion_at(img, i, j, half, 1, 0)
                ero_done[1, i, j] = 1
            if v - ero[1, i, j] <= floor:
                continue
            o = _opening_at(img, i, j, half, ero, ero_done)
            opened[i, j] = o
            done[i, j] = 1
            if v - o > floor:
                cand_l[n] = i
                cand_s[n] = j
                n += 1
    state = np.empty(n, np.int8)
    h = size // 2
    g = grow // 2
    count = float(size * size)
    for c in range(n):
        i, j = cand_l[c], cand_s[c]
        upper = 0.0
        lower = 0.0
        for a in range(-h, size - h):
            for b in range(-h, size - h):
                q0, q1 = _reflect(i + a, nl), _reflect(j + b, ns)
                if img[q0, q1] > 0.0:
                    upper += img[q0, q1]
                if done[q0, q1]:
                    e = opened[q0, q1]
                else:
                    if not ero_done[0, q0, q1]:
                        ero[0, q0, q1] = _erosion_at(img, q0, q1, half, 0, 1)
                        ero_done[0, q0, q1] = 1
                    e = ero[0, q0, q1]
                if e > 0.0:
                    lower += e
        excess = img[i, j] - opened[i, j]
        if excess > contrast * (upper / count) * (1.0 + BOUND_MARGIN):
            state[c] = 1
        elif excess <= contrast * (lower / count) * (1.0 - BOUND_MARGIN):
            state[c] = 0
            continue
        else:
            state[c] = -1
            for a in range(-h, size - h):
                for b in range(-h, size - h):
                    q0, q1 = _reflect(i + a, nl), _reflect(j + b, ns)
                    if not done[q0, q1]:
                        opened[q0, q1] = _opening_at(img, q0, q1, half, ero, ero_done)
                        done[q0, q1] = 1
        for a in range(-g, grow - g):
            for b in range(-g, grow - g):
                q0, q1 = _clamp(i + a, nl), _clamp(j + b, ns)
                if not done[q0, q1]:
                    opened[q0, q1] = _opening_at(img, q0, q1, half, ero, ero_done)
                    done[q0, q1] = 1
    return opened, cand_l[:n].copy(), cand_s[:n].copy(), state


@njit(cache=True, error_model="numpy")
def grow_marks(
    shape_l: int, shape_s: int, ll: np.ndarray, ss: np.ndarray, grow: int
) -> np.ndarray:  # pragma: no cover
    """A boolean (``shape_l``, ``shape_s``) mask True on the ``grow`` × ``grow`` box (offsets −grow // 2 …
    grow − grow // 2 − 1, clipped to the array) around each (``ll``, ``ss``): ``limbfit._compact_sources``'
    growing, in one pass."""
    hot = np.zeros((shape_l, shape_s), dtype=np.bool_)
    g = grow // 2
    for k in range(ll.shape[0]):
        for dl in range(-g, grow - g):
            i = ll[k] + dl
            i = 0 if i < 0 else (shape_l - 1 if i > shape_l - 1 else i)
            for ds in range(-g, grow - g):
                j = ss[k] + ds
                j = 0 if j < 0 else (shape_s - 1 if j > shape_s - 1 else j)
                hot[i, j] = True
    return hot


@njit(cache=True, error_model="numpy")
def render_template(
    l0: int,
    l1: int,
    s0: int,
    s1: int,
    origin_s: float,
    origin_l: float,
    factor: int,
    center: np.ndarray,
    axes_px: np.ndarray,
    semi: np.ndarray,
    sun: np.ndarray,
) -> np.ndarray:  # pragma: no cover - compiled
    """The coarse step's Lambert disk on canvas lines ``l0:l1`` and samples ``s0:s1`` (binned by
    ``factor``; canvas pixel (0, 0) at predicted (``origin_s``, ``origin_l``)): per pixel the steps of
    ``limbfit._render_template_numpy`` in one pass (no temporaries; its 2 × 2 products rounded as
    written, which numpy's matmul may order differently: the same to an ulp)."""
    out = np.zeros((l1 - l0, s1 - s0))
    f = float(factor)
    for i in range(l1 - l0):
        ln = origin_l + (float(l0 + i) + 0.5) * f - 0.5
        dy = ln - center[1]
        for j in range(s1 - s0):
            s = origin_s + (float(s0 + j) + 0.5) * f - 0.5
            dx = s - center[0]
            u = (dx * axes_px[0, 0] + dy * axes_px[1, 0]) / semi[0]
            v = (dx * axes_px[0, 1] + dy * axes_px[1, 1]) / semi[1]
            r2 = u * u + v * v
            if r2 < 1.0:
                w = math.sqrt(max(1.0 - r2, 0.0))
                c = u * sun[0] + v * sun[1] + w * sun[2]
                out[i, j] = max(c, 0.0) + 0.05
    return out


@njit(cache=True, error_model="numpy")
def bin_mean(a: np.ndarray, f: int) -> np.ndarray:  # pragma: no cover - compiled
    """Means of the ``f`` × ``f`` blocks of ``a`` (trailing lines and samples that fill no block dropped):
    the numbers of ``a.reshape(nl, f, ns, f).mean(axis=(1, 3))`` for f < 8 and at least 2 blocks per line
    (numpy then sums each block's rows in order and adds the rows; from f = 8 on its pairwise summation
    takes over, and a single column of blocks it sums in another order)."""
    nl, ns = a.shape[0] // f, a.shape[1] // f
    out = np.empty((nl, ns))
    for i in range(nl):
        for j in range(ns):
            total = 0.0
            for u in range(f):
                row = 0.0
                for v in range(f):
                    row += a[i * f + u, j * f + v]
                total += row
            out[i, j] = total / (f * f)
    return out


@njit(cache=True, error_model="numpy")
def bin_any(a: np.ndarray, f: int) -> np.ndarray:  # pragma: no cover - compiled
    """Whether any pixel of each ``f`` × ``f`` block of the boolean ``a`` is set (trailing lines and samples
    that fill no block dropped)."""
    nl, ns = a.shape[0] // f, a.shape[1] // f
    out = np.zeros((nl, ns), np.bool_)
    for i in range(nl):
        for u in range(f):
            for j in range(ns):
                if not out[i, j]:
                    for v in range(f):
                        if a[i * f + u, j * f + v]:
                            out[i, j] = True
                            break
    return out


@njit(cache=True, error_model="numpy", inline="always")
def _drop(row, i: int, two_step: float) -> float:  # pragma: no cover - compiled
    """The brightness drop at profile sample i + 1: −(row[i + 2] − row[i]) / (2·step)."""
    return -(row[i + 2] - row[i]) / two_step


@njit(cache=True, error_model="numpy", inline="always")
def _level(row, t, x: float) -> float:  # pragma: no cover - compiled
    """``np.interp(x, t, row)`` as ``limbfit._interp_rows`` computes it (t evenly spaced)."""
    n = t.shape[0]
    if x <= t[0]:
        return row[0]
    if x >= t[n - 1]:
        return row[n - 1]
    j = _column(x, t)
    return (row[j + 1] - row[j]) / (t[j + 1] - t[j]) * (x - t[j]) + row[j]


@njit(cache=True, error_model="numpy", inline="always")
def _column(x: float, t) -> int:  # pragma: no cover - compiled
    """``limbfit._interp_col``: the sample j with t[j] ≤ x < t[j + 1], clipped to [0, len(t) − 2]."""
    q = (x - t[0]) / (t[1] - t[0])
    if q != q:
        return 0  # numpy's NaN → int is the most negative integer, clipped to 0
    q = math.floor(q)
    if q < 0:
        return 0
    if q > t.shape[0] - 2:
        return t.shape[0] - 2
    return int(q)


@njit(cache=True, error_model="numpy", inline="always")
def _steepest_drop(row, lo: int, hi: int, t, step: float):  # pragma: no cover - compiled
    """(interior, t_edge, drop) of one profile ``row``: the steepest drop within samples ``lo..hi``
    (np.argmax's first maximum, NaN first), whether it lies inside them, its sub-pixel position by a parabola
    (the offset clipped to ±1 step) and the drop there, as ``limbfit._measure_edges`` finds them."""
    nt = row.shape[0]
    two_step = 2 * step
    k = 0
    best = _drop(row, 0, two_step) if lo == 0 else -np.inf
    if best == best:
        for i in range(1, nt - 2):
            v = _drop(row, i, two_step) if lo <= i <= hi else -np.inf
            if not v <= best:
                best = v
                k = i
                if v != v:
                    break
    interior = lo + 1 <= k <= hi - 1
    k = min(max(k, 1), nt - 4)
    y0, y1, y2 = _drop(row, k - 1, two_step), _drop(row, k, two_step), _drop(row, k + 1, two_step)
    den = y0 - 2 * y1 + y2
    off = 0.5 * (y0 - y2) / den if den < 0 else 0.0
    if off < -1.0:
        off = -1.0
    elif off > 1.0:
        off = 1.0
    return interior, t[1 + k] + off * step, y1


@njit(cache=True, error_model="numpy", inline="always")
def _clean_at(bad, t, te: float, clean_radius: float) -> bool:  # pragma: no cover - compiled
    """No ``bad`` sample within ``clean_radius`` of the edge at ``te``."""
    for j in range(t.shape[0]):  # noqa: SIM110 (compiled: a plain loop)
        if bad[j] and abs(t[j] - te) <= clean_radius:
            return False
    return True


@njit(cache=True, error_model="numpy", inline="always")
def _step_ok(
    row,
    t,
    x_in: float,
    x_out: float,
    drop: float,
    root_two_pi: float,
    edge_sigma: float,
    sharp: bool,
    night_max: float,
) -> bool:  # pragma: no cover - compiled
    """The step test: the profile's levels at ``x_in`` and ``x_out`` differ by at least half a blurred
    step's height, drop × √(2π) × ``edge_sigma``, and on ``sharp`` rays by at most ``night_max`` × it."""
    rise = _level(row, t, x_in) - _level(row, t, x_out)
    ok = rise >= 0.5 * drop * root_two_pi * edge_sigma
    if sharp:
        ok = ok and rise <= night_max * drop * root_two_pi * edge_sigma
    return ok


@njit(cache=True, error_model="numpy")
def edge_search(
    prof,
    badpix,
    sample,
    t,
    lo: int,
    hi: int,
    core_lo: int,
    core_hi: int,
    step: float,
    clean_radius: float,
    ext: float,
    root_two_pi: float,
    edge_sigma: float,
    night_max: float,
    sharp,
    coef,
    pts,
    normals,
    t_edge,
    strength,
    usable,
    coef_l0: int = 0,
    coef_s0: int = 0,
) -> int:  # pragma: no cover - compiled
    """The edge search of ``limbfit._measure_edges`` on single (ungrouped) rays, row by row: the steepest
    drop within the search samples ``lo..hi`` of ``prof`` (np.argmax's first maximum, NaN first), its
    sub-pixel position by a parabola, the clean test (no ``badpix`` within ``clean_radius``), the step test's
    two levels ± ``ext`` (the profile samples they read computed first where the rays were ``sample``d
    outside ``core_lo:core_hi``, into ``prof``) against half a blurred step's height, drop × √(2π) ×
    ``edge_sigma`` (and, on ``sharp`` rays, at most ``night_max`` × it; ``coef`` as :func:`ray_samples`').
    Writes ``t_edge``, ``strength`` (the drop) and ``usable``; returns how many profile samples it could not
    compute (NaN positions: then the caller redoes the search in numpy)."""
    n, nt = prof.shape
    left = 0
    for r in range(n):
        row = prof[r]
        interior, te, y1 = _steepest_drop(row, lo, hi, t, step)
        clean = _clean_at(badpix[r], t, te, clean_radius)
        x_in, x_out = te - ext, te + ext
        if sample[r]:
            for c in (_column(x_in, t), _column(x_in, t) + 1, _column(x_out, t), _column(x_out, t) + 1):
                if c < core_lo or c >= core_hi:
                    v, ok = _spline_value(
                        coef,
                        pts[r, 1] + t[c] * normals[r, 1] - coef_l0,
                        pts[r, 0] + t[c] * normals[r, 0] - coef_s0,
                    )
                    row[c] = v
                    left += not ok
        ok_step = _step_ok(row, t, x_in, x_out, y1, root_two_pi, edge_sigma, sharp[r], night_max)
        t_edge[r] = te
        strength[r] = y1
        usable[r] = clean and interior and ok_step
    return left


@njit(cache=True, error_model="numpy", inline="always")
def _group_level(prof, badpix, members, g: int, c: int) -> float:  # pragma: no cover - compiled
    """Group ``g``'s averaged profile at sample ``c``: its member rays' good samples summed in member order
    (the products weight × sample exact: the weights are 0 or 1), ÷ their count (at least 1), as
    ``np.einsum("gkt,gkt->gt", w, prof[members]) / np.maximum(cnt, 1)`` computes it."""
    acc = 0.0
    cnt = 0.0
    for k in range(members.shape[1]):
        r = members[g, k]
        w = 0.0 if badpix[r, c] else 1.0
        acc += w * prof[r, c]
        cnt += w
    return acc / max(cnt, 1.0)


@njit(cache=True, error_model="numpy")
def group_edge_search(
    prof,
    badpix,
    sample,
    members,
    contiguous,
    min_count: float,
    t,
    lo: int,
    hi: int,
    core_lo: int,
    core_hi: int,
    step: float,
    clean_radius: float,
    ext: float,
    root_two_pi: float,
    edge_sigma: float,
    night_max: float,
    sharp,
    coef,
    pts,
    normals,
    t_edge,
    strength,
    usable,
    count_min,
    coef_l0: int = 0,
    coef_s0: int = 0,
) -> int:  # pragma: no cover - compiled
    """:func:`edge_search` of grouped rays (``limbfit._measure_edges`` with ``group`` > 1), group by group:
    the members' (rows of ``members``) profiles averaged over their good samples (:func:`_group_level`), a
    sample bad where fewer than ``min_count`` members are good or the group is not ``contiguous``; the
    steepest drop, its parabola, the clean test and the step test as :func:`edge_search` (``sharp`` per
    group), the step test's two levels from the members' samples beyond ``core_lo:core_hi`` computed first
    where a member was ``sample``d (not written into ``prof``). Writes ``t_edge``, ``strength``, ``usable``
    and ``count_min`` (the fewest good members at any sample); returns how many member samples it could not
    compute (NaN positions: then the caller redoes the search in numpy)."""
    n_g = members.shape[0]
    nt = prof.shape[1]
    left = 0
    row = np.empty(nt)
    bad = np.empty(nt, dtype=np.bool_)
    for g in range(n_g):
        fewest = np.inf
        for j in range(nt):
            cnt = 0.0
            for k in range(members.shape[1]):
                cnt += 0.0 if badpix[members[g, k], j] else 1.0
            fewest = min(fewest, cnt)
            row[j] = _group_level(prof, badpix, members, g, j) if core_lo <= j < core_hi else 0.0
            bad[j] = cnt < min_count or not contiguous[g]
        count_min[g] = fewest
        interior, te, y1 = _steepest_drop(row, lo, hi, t, step)
        clean = _clean_at(bad, t, te, clean_radius)
        x_in, x_out = te - ext, te + ext
        for c in (_column(x_in, t), _column(x_in, t) + 1, _column(x_out, t), _column(x_out, t) + 1):
            if c < core_lo or c >= core_hi:  # the members' samples there, then the group's level
                acc = 0.0
                cnt = 0.0
                for m in range(members.shape[1]):
                    r = members[g, m]
                    v = prof[r, c]
                    if sample[r]:
                        v, ok = _spline_value(
                            coef,
                            pts[r, 1] + t[c] * normals[r, 1] - coef_l0,
                            pts[r, 0] + t[c] * normals[r, 0] - coef_s0,
                        )
                        left += not ok
                    w = 0.0 if badpix[r, c] else 1.0
                    acc += w * v
                    cnt += w
                row[c] = acc / max(cnt, 1.0)
        ok_step = _step_ok(row, t, x_in, x_out, y1, root_two_pi, edge_sigma, sharp[g], night_max)
        t_edge[g] = te
        strength[g] = y1
        usable[g] = clean and interior and ok_step
    return left


@njit(cache=True, error_model="numpy")
def _shifted_residuals(conic, xs, ys, w, prior_w, x0: float, x1: float, out) -> None:  # pragma: no cover
    """``w`` × the signed distance (px, positive inside; ``limbfit._conic_terms``' second-order formula) of
    the points (``xs``, ``ys``) to ``conic`` moved by (``x0``, ``x1``) px, then the prior rows
    ``prior_w[k]`` × x_k (k where ``prior_w[k]`` > 0), into ``out``."""
    c00, c01, c02 = conic[0, 0], conic[0, 1], conic[0, 2]
    c10, c11, c12 = conic[1, 0], conic[1, 1], conic[1, 2]
    c20, c21, c22 = conic[2, 0], conic[2, 1], conic[2, 2]
    n = xs.shape[0]
    for i in range(n):
        x = xs[i] - x0
        y = ys[i] - x1
        cx0 = x * c00 + y * c10 + c20
        cx1 = x * c01 + y * c11 + c21
        cx2 = x * c02 + y * c12 + c22
        f = cx0 * x + cx1 * y + cx2
        g0 = 2.0 * cx0
        g1 = 2.0 * cx1
        g2 = g0 * g0 + g1 * g1
        gn = math.sqrt(g2)
        h = 2.0 * (c00 * g0 * g0 + 2.0 * c01 * g0 * g1 + c11 * g1 * g1) / g2
        disc = g2 - 2.0 * h * f
        d = 2.0 * f / (gn + math.sqrt(disc)) if disc >= 0 else f / gn
        out[i] = w[i] * d
    k = n
    if prior_w[0] > 0:
        out[k] = prior_w[0] * x0
        k += 1
    if prior_w[1] > 0:
        out[k] = prior_w[1] * x1


@njit(cache=True, error_model="numpy", inline="always")
def _loss(r, f_scale: float) -> float:  # pragma: no cover - compiled
    """½ Σ r² (``f_scale`` ≤ 0) or scipy's soft_l1 cost f² Σ (√(1 + (r/f)²) − 1)."""
    c = 0.0
    if f_scale <= 0:
        for v in r:
            c += v * v
        return 0.5 * c
    for v in r:
        z = v / f_scale
        c += math.sqrt(1.0 + z * z) - 1.0
    return f_scale * f_scale * c


@njit(cache=True, error_model="numpy")
def solve_shift(
    conic,
    xs,
    ys,
    w,
    prior_w,
    p0,
    f_scale: float,
    step_tol: float,
    flat_tol: float,
    fd_step: float,
    max_iter: int,
):  # pragma: no cover - compiled
    """:func:`ioscan.geometry.limbsolve.solve` for the limb fit's offset-only case: the (sample, line) shift
    ``p0`` (px) of ``conic`` minimising the loss of :func:`_shifted_residuals` (``f_scale`` ≤ 0: plain
    squares, else soft_l1), by the same Gauss–Newton steps on the same forward-difference Jacobian, the
    2-column least squares solved by Gram–Schmidt. Returns (shift, True) at convergence, (p0, False) when
    the Python solver must take over (non-finite values, no step lowering the cost, a rank-deficient
    Jacobian, no convergence in ``max_iter`` steps)."""
    n = xs.shape[0]
    m = n + (prior_w[0] > 0) + (prior_w[1] > 0)
    r = np.empty(m)
    rn = np.empty(m)
    ra = np.empty(m)
    rb = np.empty(m)
    x0, x1 = p0[0], p0[1]
    _shifted_residuals(conic, xs, ys, w, prior_w, x0, x1, r)
    c = _loss(r, f_scale)
    for _ in range(max_iter):
        if not (np.all(np.isfinite(r)) and math.isfinite(c)):
            break
        h0 = fd_step * max(1.0, abs(x0))
        h1 = fd_step * max(1.0, abs(x1))
        _shifted_residuals(conic, xs, ys, w, prior_w, x0 + h0, x1, ra)
        _shifted_residuals(conic, xs, ys, w, prior_w, x0, x1 + h1, rb)
        # columns a, b of the (row-scaled) Jacobian and the right-hand side, then QR by Gram–Schmidt
        aa = 0.0
        for i in range(m):
            s = 1.0
            rhs = -r[i]
            if f_scale > 0:
                z = r[i] / f_scale
                q = 1.0 + z * z
                s = q**-0.75
                rhs = -r[i] * q**0.25
            ra[i] = (ra[i] - r[i]) / h0 * s
            rb[i] = (rb[i] - r[i]) / h1 * s
            rn[i] = rhs
            aa += ra[i] * ra[i]
        if not aa > 0:
            break
        r11 = math.sqrt(aa)
        r12 = 0.0
        qb = 0.0
        for i in range(m):
            ra[i] /= r11
            r12 += ra[i] * rb[i]
            qb += ra[i] * rn[i]
        bb = 0.0
        qc = 0.0
        for i in range(m):
            rb[i] -= r12 * ra[i]
            bb += rb[i] * rb[i]
        r22 = math.sqrt(bb)
        if not r22 > 1e-12 * r11:
            break
        for i in range(m):
            qc += rb[i] * rn[i]
        d1 = qc / (r22 * r22)
        d0 = (qb - r12 * d1) / r11
        if not (math.isfinite(d0) and math.isfinite(d1)):
            break
        big = max(abs(d0), abs(d1))
        if big < step_tol:
            return np.array([x0, x1]), True
        t = 1.0
        found = False
        cn = c
        while t >= 1e-3:
            _shifted_residuals(conic, xs, ys, w, prior_w, x0 + t * d0, x1 + t * d1, rn)
            cn = _loss(rn, f_scale)
            if math.isfinite(cn) and cn <= c:
                found = True
                break
            t *= 0.5
        if not found:
            if big < flat_tol:
                return np.array([x0, x1]), True
            break
        x0, x1 = x0 + t * d0, x1 + t * d1
        r, rn = rn, r
        c = cn
    return np.array([p0[0], p0[1]]), False


@njit(cache=True, error_model="numpy")
def sun_normal_equations(
    flat: np.ndarray, ns: int, center: np.ndarray, vecs: np.ndarray, axes: np.ndarray, cos_inc: np.ndarray
):  # pragma: no cover - compiled
    """The normal equations (AᵀA, Aᵀb) of the limb model's Sun fit: per pixel (flat index into rows of
    ``ns``) the disk coordinates u, v (offsets from ``center`` along the ellipse axes ``vecs``' columns, ÷
    ``axes``) and w = √max(1 − u² − v², 0), A's row (u, v, w), b = ``cos_inc``; in one pass."""
    ata = np.zeros((3, 3))
    atb = np.zeros(3)
    row = np.empty(3)
    for k in range(flat.shape[0]):
        li = flat[k] // ns
        si = flat[k] - li * ns
        dx = float(si) - center[0]
        dy = float(li) - center[1]
        u = (dx * vecs[0, 0] + dy * vecs[1, 0]) / axes[0]
        v = (dx * vecs[0, 1] + dy * vecs[1, 1]) / axes[1]
        row[0] = u
        row[1] = v
        row[2] = math.sqrt(max(1.0 - (u * u + v * v), 0.0))
        for i in range(3):
            atb[i] += row[i] * cos_inc[k]
            for j in range(3):
                ata[i, j] += row[i] * row[j]
    return ata, atb


@njit(cache=True, error_model="numpy")
def gaussian_reflect(a: np.ndarray, w: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """:func:`gaussian_nearest` with scipy's mode "reflect" (d c b a | a b c d): the line extended by its
    mirror image, the same sums in the same order (``scipy.ndimage.gaussian_filter``'s default mode, the
    coarse step's template); needs each side longer than the weights' half-width."""
    return _gaussian_separable(a, w, True)


@njit(cache=True, error_model="numpy", inline="always")
def _edge_index(i: int, n: int, reflect: bool) -> int:  # pragma: no cover - compiled
    """Index ``i`` brought into [0, n) as scipy extends a line: mirrored (mode "reflect") or clamped to the
    edge value (mode "nearest")."""
    if reflect:
        return _reflect(i, n)
    return min(max(i, 0), n - 1)


@njit(cache=True, error_model="numpy")
def _gaussian_separable(a: np.ndarray, w: np.ndarray, reflect: bool) -> np.ndarray:  # pragma: no cover
    """What :func:`gaussian_nearest` and :func:`gaussian_reflect` compute (``reflect`` picks the edge mode):
    along axis 0, then along axis 1 of that, in scipy's ``NI_Correlate1D`` order."""
    nl, ns = a.shape
    r = w.shape[0] // 2
    mid = a.copy()
    w0 = w[r]
    for i in range(nl):
        for j in range(ns):
            mid[i, j] = a[i, j] * w0
        for k in range(r, 0, -1):
            lo = a[_edge_index(i - k, nl, reflect)]
            hi = a[_edge_index(i + k, nl, reflect)]
            wk = w[r - k]
            for j in range(ns):
                mid[i, j] += (lo[j] + hi[j]) * wk
    out = np.empty((nl, ns))
    padded = np.empty(ns + 2 * r)
    for i in range(nl):
        row = mid[i]
        for j in range(r):
            padded[j] = row[_edge_index(j - r, ns, reflect)]
            padded[r + ns + j] = row[_edge_index(ns + j, ns, reflect)]
        for j in range(ns):
            padded[r + j] = row[j]
        _symmetric_taps(padded, r, ns, w0, w, out[i])
    return out


@njit(cache=True, error_model="numpy", inline="always")
def _symmetric_taps(padded, r, n, w0, w, out):  # pragma: no cover - compiled
    """out[j] = padded[r + j]·w0 + Σ_k (padded[r + j − k] + padded[r + j + k])·w[r − k], k from r down to 1,
    for j < n: a symmetric 1-D kernel (centre weight w0, the others w) over a row padded by r each side, the
    terms added in that order."""
    for j in range(n):
        out[j] = padded[r + j] * w0
    for k in range(r, 0, -1):
        wk = w[r - k]
        for j in range(n):
            out[j] += (padded[r + j - k] + padded[r + j + k]) * wk


@njit(cache=True, error_model="numpy")
def gradients(a: np.ndarray):  # pragma: no cover - compiled
    """``np.gradient(a)`` of a 2-D array with ≥ 2 lines and samples (unit spacing, first-order edges): the
    derivatives along axis 0 and axis 1, central differences ÷ 2.0 inside, one-sided at the edges, the
    same numbers."""
    nl, ns = a.shape
    gl = np.empty((nl, ns))
    gs = np.empty((nl, ns))
    for j in range(ns):
        gl[0, j] = a[1, j] - a[0, j]
        gl[nl - 1, j] = a[nl - 1, j] - a[nl - 2, j]
    for i in range(1, nl - 1):
        for j in range(ns):
            gl[i, j] = (a[i + 1, j] - a[i - 1, j]) / 2.0
    for i in range(nl):
        gs[i, 0] = a[i, 1] - a[i, 0]
        gs[i, ns - 1] = a[i, ns - 1] - a[i, ns - 2]
        for j in range(1, ns - 1):
            gs[i, j] = (a[i, j + 1] - a[i, j - 1]) / 2.0
    return gl, gs


@njit(cache=True, error_model="numpy")
def keep_clear(bad: np.ndarray, half: int, border: int) -> np.ndarray:  # pragma: no cover - compiled
    """True where no ``bad`` pixel lies within the (2·``half`` + 1)² window (clipped to the array: what
    ``scipy.ndimage.maximum_filter(bad, size=2·half + 1) == 0`` gives, its reflected taps being pixels of
    the array within the window) and the pixel is not within ``border`` of the array's edge."""
    nl, ns = bad.shape
    near = np.zeros((nl, ns), np.bool_)
    for i in range(nl):
        for j in range(ns):
            if bad[i, j]:
                for a in range(max(i - half, 0), min(i + half + 1, nl)):
                    for b in range(max(j - half, 0), min(j + half + 1, ns)):
                        near[a, b] = True
    keep = np.zeros((nl, ns), np.bool_)
    for i in range(border, nl - border):
        for j in range(border, ns - border):
            keep[i, j] = not near[i, j]
    return keep


@njit(cache=True, error_model="numpy")
def edge_bias(
    cos_limb: np.ndarray, cos_phase: np.ndarray, radius: float, x: np.ndarray, w: np.ndarray, step: float
) -> np.ndarray:  # pragma: no cover - compiled
    """``limbfit._edge_bias``'s steps per ray, the same numbers: the Lambert profile on the grid ``x``
    (spacing ``step``), blurred by the symmetric weights ``w`` (``ndimage.gaussian_filter1d``'s, mode
    "nearest", its order of sums), ``np.gradient`` (÷ 2·step inside, ÷ step at the ends), the first maximum
    (kept off the ends) and its parabolic refinement."""
    n = cos_limb.shape[0]
    m = x.shape[0]
    r = w.shape[0] // 2
    out = np.empty(n)
    padded = np.empty(m + 2 * r)
    blurred = np.empty(m)
    deriv = np.empty(m)
    two_step = 2.0 * step
    w0 = w[r]
    for i in range(n):
        for j in range(m):
            xv = x[j]
            if xv >= 0:
                d = xv / radius
                q = 2 * d - d * d
                p = cos_limb[i] * (1.0 - d) + cos_phase[i] * math.sqrt(q if q > 0.0 else 0.0)
                padded[r + j] = p if p > 0.0 else 0.0
            else:
                padded[r + j] = 0.0
        for j in range(r):
            padded[j] = padded[r]
            padded[r + m + j] = padded[r + m - 1]
        _symmetric_taps(padded, r, m, w0, w, blurred)
        deriv[0] = (blurred[1] - blurred[0]) / step
        deriv[m - 1] = (blurred[m - 1] - blurred[m - 2]) / step
        for j in range(1, m - 1):
            deriv[j] = (blurred[j + 1] - blurred[j - 1]) / two_step
        k = 0
        for j in range(1, m):
            if deriv[j] > deriv[k]:
                k = j
        k = min(max(k, 1), m - 2)
        y0, y1, y2 = deriv[k - 1], deriv[k], deriv[k + 1]
        den = y0 - 2 * y1 + y2
        off = 0.5 * (y0 - y2) / den if den < 0 else 0.0
        out[i] = x[k] + off * step
    return out
