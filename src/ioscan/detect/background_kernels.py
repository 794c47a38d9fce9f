"""Compiled loops of the detection background (:mod:`ioscan.detect.background`), with numba.

Each kernel gives the values of the numpy / ``scipy.ndimage`` code it replaces bit for bit (the same
operations on each pixel in the same order; scipy's line filters work in float64 and round to the array's
type after each pass, as here); only the loops, temporaries and passes over pixels nobody reads are gone:

* :func:`correlate_lines` / :func:`correlate_samples`: ``scipy.ndimage.correlate1d`` along the lines (axis 0)
  / the samples (axis 1), modes ``constant`` and ``nearest``, with scipy's arithmetic (its test for a
  symmetric or antisymmetric odd kernel, |w[c+i] ∓ w[c−i]| ≤ 2.2e-16, and the sums that follow from it);
  optionally only a range of output lines / samples.
* :func:`separable_sum`: Σ_t (x ⋆ a_t along the lines) ⋆ b_t along the samples (``nearest``), summed in the
  array's type term by term (the background kernel as a sum of outer products).
* :func:`phase_snr`: the white-noise S/N of the matched filter at the four sub-pixel phases (numerator ÷
  its noise × the background step's gain, 0 where that is 0) and the best phase per pixel (first of equal
  maxima; NaN wins).
* :func:`masked_difference`: ``np.where(ok, x - bg, 0.0)`` (the residual map) in one pass.
* :func:`uniform_box_mean`: ``scipy.ndimage.uniform_filter`` (``constant``, cval 0) of a 2-D array.
* :func:`fill_box_mean`: the outlier fill — the pixels ``m`` as they are, the others the mean of the ``m``
  pixels in the (2h+1)² box (and where that box holds < 1e-3 of a pixel, a flag for the region mean).
* :func:`block_index` / :func:`zone_in_blocks`: the block scale's pixel → grid index and its regions in
  block order (:class:`ioscan.detect.background.BlockLayout`; integers, no arithmetic to keep).
* :func:`running_median_nearest`: ``scipy.ndimage.median_filter`` of a 1-D float array (odd size,
  ``nearest``) where its values are finite and non-zero (a median is one of them; equal values are then
  the same bits).
* :func:`grow_diamond`: a bool mask grown by k pixels (k binary dilations with the 4-connected cross,
  ``scipy.ndimage.binary_dilation``'s pixels; :func:`ioscan.detect.disk.grow`).
* :func:`annulus_mean`: the mean over a square annulus (the plane's background kernel) by two box sums of a
  float64 summed-area table — the one kernel here that is not bit for bit (rounded once, not per pass).
* :func:`block_fills` / :func:`block_grids`: the block scale's per-region fill (the median of its blocks'
  statistics) and its grids (3 × 3 average, the own block's 0.8 ×, the floor), numpy's arithmetic in float32.
* :func:`block_order_stats`: per b × b block (a row of |z| in block order), the ⌊q·(n−1)⌋-th smallest of its
  n finite values whose zone is k (an order statistic: a value of the data, no arithmetic).

Compiled with ``cache=True`` (no fastmath, no parallel threads: the scan's Dask workers are processes). The
first call of each kernel in a fresh process with a cold cache compiles it (seconds); with a warm cache it
loads the machine code from ``__pycache__`` beside this file, or from numba's user cache directory where that
is read-only, or from ``NUMBA_CACHE_DIR`` when set (docs/studies/detection-speed.md,
*Speed in detection, tenth round*).
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: scipy's tolerance for a symmetric / antisymmetric kernel (DBL_EPSILON)
_DBL_EPSILON = 2.220446049250313e-16


@njit(cache=True, error_model="numpy")
def kernel_symmetry(w: np.ndarray) -> int:
    """1: an odd kernel symmetric about its centre, −1: antisymmetric, 0: neither (scipy's test: every pair
    of weights equal / opposite within 2.2e-16 absolute)."""
    n = w.shape[0]
    if n % 2 == 0:
        return 0
    c = n // 2
    sym = 1
    for i in range(1, c + 1):
        if abs(w[c + i] - w[c - i]) > _DBL_EPSILON:
            sym = 0
            break
    if sym == 0:
        sym = -1
        for i in range(1, c + 1):
            if abs(w[c + i] + w[c - i]) > _DBL_EPSILON:
                sym = 0
                break
    return sym


@njit(cache=True, error_model="numpy")
def correlate_samples(
    x: np.ndarray, w: np.ndarray, nearest: bool, cval: float, lo: int, hi: int
) -> np.ndarray:
    """``scipy.ndimage.correlate1d(x, w, axis=1, mode=…)[:, lo:hi]`` of a 2-D array (mode ``nearest`` or
    ``constant`` with ``cval``), in ``x``'s type: each line extended into a float64 buffer, then scipy's
    sum for its kernel's symmetry, the taps outermost (each output's additions in scipy's order)."""
    n0, n1 = x.shape
    n = w.shape[0]
    sym = kernel_symmetry(w)
    m = hi - lo
    out = np.empty((n0, m), x.dtype)
    buf = np.empty(n1 + n - 1)
    acc = np.empty(m)
    for i in range(n0):
        _sample_row(x[i], w, sym, nearest, cval, lo, m, buf, acc)
        for ll in range(m):
            out[i, ll] = acc[ll]
    return out


@njit(cache=True, error_model="numpy")
def correlate_lines(x: np.ndarray, w: np.ndarray, nearest: bool, cval: float, lo: int, hi: int) -> np.ndarray:
    """``scipy.ndimage.correlate1d(x, w, axis=0, mode=…)[lo:hi]`` of a 2-D array (mode ``nearest`` or
    ``constant`` with ``cval``), in ``x``'s type; the lines are summed across all samples at once (each
    pixel's additions in scipy's order)."""
    n0, n1 = x.shape
    n = w.shape[0]
    size1 = n // 2
    size2 = n - size1 - 1
    sym = kernel_symmetry(w)
    out = np.empty((hi - lo, n1), x.dtype)
    # the lines lo − size1 … hi + size2 in float64, extended beyond the array's edges
    r0 = lo - size1
    nb = hi - lo + size1 + size2
    buf = np.empty((nb, n1))
    for r in range(nb):
        src = r0 + r
        if 0 <= src < n0:
            for j in range(n1):
                buf[r, j] = x[src, j]
        elif nearest:
            s = 0 if src < 0 else n0 - 1
            for j in range(n1):
                buf[r, j] = x[s, j]
        else:
            for j in range(n1):
                buf[r, j] = cval
    acc = np.empty(n1)
    for i in range(hi - lo):
        c = i + size1  # the output line's row in buf
        if sym != 0:
            w0 = w[size1]
            for j in range(n1):
                acc[j] = buf[c, j] * w0
            for jj in range(-size1, 0):
                wj = w[size1 + jj]
                if sym > 0:
                    for j in range(n1):
                        acc[j] += (buf[c + jj, j] + buf[c - jj, j]) * wj
                else:
                    for j in range(n1):
                        acc[j] += (buf[c + jj, j] - buf[c - jj, j]) * wj
        else:
            w2 = w[size1 + size2]
            for j in range(n1):
                acc[j] = buf[c + size2, j] * w2
            for jj in range(-size1, size2):
                wj = w[size1 + jj]
                for j in range(n1):
                    acc[j] += buf[c + jj, j] * wj
        for j in range(n1):
            out[i, j] = acc[j]
    return out


@njit(cache=True, error_model="numpy")
def separable_sum(
    x: np.ndarray, a: np.ndarray, b: np.ndarray, lo0: int, hi0: int, lo1: int, hi1: int
) -> np.ndarray:
    """Σ_t correlate1d(correlate1d(x, a[t], axis 0), b[t], axis 1) (mode ``nearest``) over the box
    [lo0, hi0) × [lo1, hi1), added term by term in ``x``'s type from zero (as ``out += term`` does); line by
    line (:func:`_line_row`, :func:`_sample_row`: the same sums, each rounded to ``x``'s type as scipy's
    passes are), no term's map made."""
    n1 = x.shape[1]
    m = hi1 - lo1
    nt = a.shape[0]
    out = np.zeros((hi0 - lo0, m), x.dtype)
    sym_a = np.empty(nt, np.intp)
    sym_b = np.empty(nt, np.intp)
    for t in range(nt):
        sym_a[t] = kernel_symmetry(a[t])
        sym_b[t] = kernel_symmetry(b[t])
    zero = np.zeros(n1, x.dtype)  # (not read: mode nearest)
    acc = np.empty(n1)
    # each term's line, rounded to x's type, with its edge values repeated ``pad`` times either side (mode
    # nearest), read as it is by the samples' pass (:func:`_sample_padded`: the same sums as
    # :func:`_sample_row`'s, without a float64 copy of the line per term)
    pad = b.shape[1]
    rowp = np.empty(n1 + 2 * pad, x.dtype)
    row = rowp[pad : pad + n1]
    acc2 = np.empty(max(m, 0))
    term = np.empty(max(m, 0), x.dtype)
    if n1 == 0:
        return out
    for i in range(lo0, hi0):
        o = out[i - lo0]
        for t in range(nt):
            _line_row(x, a[t], sym_a[t], i, True, zero, acc)
            for j in range(n1):
                row[j] = acc[j]
            first, last = row[0], row[n1 - 1]
            for j in range(pad):
                rowp[j] = first
                rowp[pad + n1 + j] = last
            _sample_padded(rowp, b[t], sym_b[t], pad + lo1, m, acc2, term)
            for ll in range(m):
                o[ll] += term[ll]
    return out


@njit(cache=True, error_model="numpy")
def _snr_line(
    a0: np.ndarray,
    a1: np.ndarray,
    a2: np.ndarray,
    a3: np.ndarray,
    e0: np.ndarray,
    e1: np.ndarray,
    e2: np.ndarray,
    e3: np.ndarray,
    g0: np.float32,
    g1: np.float32,
    g2: np.float32,
    g3: np.float32,
    o0: np.ndarray,
    ot: np.ndarray,
    op: np.ndarray,
) -> None:
    """One line of :func:`phase_snr`: the numerators ``a*``, noises ``e*`` and gains ``g*`` of the four phases
    into the S/N of phase 0 ``o0``, the best ``ot`` and its phase ``op``."""
    zero = np.float32(0.0)
    nan = np.float32(np.nan)
    for j in range(a0.shape[0]):
        f0, f1 = np.float32(e0[j] * g0), np.float32(e1[j] * g1)
        f2, f3 = np.float32(e2[j] * g2), np.float32(e3[j] * g3)
        v0 = np.float32(a0[j] / f0) if f0 > zero else zero
        v1 = np.float32(a1[j] / f1) if f1 > zero else zero
        v2 = np.float32(a2[j] / f2) if f2 > zero else zero
        v3 = np.float32(a3[j] / f3) if f3 > zero else zero
        best = v0
        p = np.int8(0)
        p = np.int8(1) if v1 > best else p
        best = nan if (best != best or v1 != v1) else (v1 if v1 > best else best)
        p = np.int8(2) if v2 > best else p
        best = nan if (best != best or v2 != v2) else (v2 if v2 > best else best)
        p = np.int8(3) if v3 > best else p
        best = nan if (best != best or v3 != v3) else (v3 if v3 > best else best)
        o0[j] = v0
        ot[j] = best
        op[j] = p


@njit(cache=True, error_model="numpy")
def phase_snr(
    n0: np.ndarray,
    n1: np.ndarray,
    n2: np.ndarray,
    n3: np.ndarray,
    d0: np.ndarray,
    d1: np.ndarray,
    d2: np.ndarray,
    d3: np.ndarray,
    g0: np.float32,
    g1: np.float32,
    g2: np.float32,
    g3: np.float32,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(S/N of phase 0, best S/N, index of the best phase as int8) from the float32 matched filter ``n*``
    and its white-noise standard deviation ``d*`` × the float32 gain ``g*`` (numpy's float32 product, made
    here per pixel instead of as four maps) at the four phases: S = n ÷ (d × g) (float32) where that is
    > 0, else 0; the best is the first of equal maxima (a later phase wins only by beating all before it) and
    NaN propagates (as ``np.maximum``)."""
    nl, ns = n0.shape
    s0 = np.empty((nl, ns), np.float32)
    top = np.empty((nl, ns), np.float32)
    phase = np.empty((nl, ns), np.int8)
    for i in range(nl):
        _snr_line(
            n0[i], n1[i], n2[i], n3[i], d0[i], d1[i], d2[i], d3[i], g0, g1, g2, g3, s0[i], top[i], phase[i]
        )
    return s0, top, phase


@njit(cache=True, error_model="numpy")
def _line_row(
    x: np.ndarray, w: np.ndarray, sym: int, i: int, nearest: bool, zero: np.ndarray, acc: np.ndarray
) -> None:
    """Line ``i`` of :func:`correlate_lines` (mode ``nearest``, or ``constant`` with cval 0) of the
    C-contiguous 2-D ``x`` into the float64 ``acc``, before its rounding to ``x``'s type (the same sums;
    ``zero``: a line of zeros, the constant lines beyond the edges; ``sym``: :func:`kernel_symmetry` of
    ``w``)."""
    n0, n1 = x.shape
    n = w.shape[0]
    size1 = n // 2
    size2 = n - size1 - 1
    if sym != 0:
        w0 = w[size1]
        c = x[i]
        for j in range(n1):
            acc[j] = np.float64(c[j]) * w0
        for jj in range(-size1, 0):
            wj = w[size1 + jj]
            p = x[min(max(i + jj, 0), n0 - 1)] if (nearest or 0 <= i + jj < n0) else zero
            q = x[min(max(i - jj, 0), n0 - 1)] if (nearest or 0 <= i - jj < n0) else zero
            if sym > 0:
                for j in range(n1):
                    acc[j] += (np.float64(p[j]) + np.float64(q[j])) * wj
            else:
                for j in range(n1):
                    acc[j] += (np.float64(p[j]) - np.float64(q[j])) * wj
    else:
        w2 = w[size1 + size2]
        last = x[min(max(i + size2, 0), n0 - 1)] if (nearest or 0 <= i + size2 < n0) else zero
        for j in range(n1):
            acc[j] = np.float64(last[j]) * w2
        for jj in range(-size1, size2):
            wj = w[size1 + jj]
            p = x[min(max(i + jj, 0), n0 - 1)] if (nearest or 0 <= i + jj < n0) else zero
            for j in range(n1):
                acc[j] += np.float64(p[j]) * wj


@njit(cache=True, error_model="numpy")
def _sample_row(
    row: np.ndarray,
    w: np.ndarray,
    sym: int,
    nearest: bool,
    cval: float,
    lo: int,
    m: int,
    buf: np.ndarray,
    acc: np.ndarray,
) -> None:
    """Samples ``lo`` … ``lo + m − 1`` of one line of :func:`correlate_samples` (mode ``nearest``, or
    ``constant`` with ``cval``) of the 1-D ``row`` into the float64 ``acc``, before their rounding (the same
    sums; ``buf``: float64, ≥ len(row) + len(w) − 1)."""
    n1 = row.shape[0]
    n = w.shape[0]
    size1 = n // 2
    size2 = n - size1 - 1
    a = np.float64(row[0]) if nearest else cval
    b = np.float64(row[n1 - 1]) if nearest else cval
    for j in range(size1):
        buf[j] = a
    for j in range(n1):
        buf[size1 + j] = row[j]
    for j in range(size2):
        buf[size1 + n1 + j] = b
    # the first output's centre in buf (slices: indices the loops need not check for wrap-around)
    c0 = size1 + lo
    if sym != 0:
        w0 = w[size1]
        centre = buf[c0 : c0 + m]
        for ll in range(m):
            acc[ll] = centre[ll] * w0
        for jj in range(-size1, 0):
            wj = w[size1 + jj]
            p = buf[c0 + jj : c0 + jj + m]
            q = buf[c0 - jj : c0 - jj + m]
            if sym > 0:
                for ll in range(m):
                    acc[ll] += (p[ll] + q[ll]) * wj
            else:
                for ll in range(m):
                    acc[ll] += (p[ll] - q[ll]) * wj
    else:
        last = buf[c0 + size2 : c0 + size2 + m]
        w2 = w[size1 + size2]
        for ll in range(m):
            acc[ll] = last[ll] * w2
        for jj in range(-size1, size2):
            wj = w[size1 + jj]
            p = buf[c0 + jj : c0 + jj + m]
            for ll in range(m):
                acc[ll] += p[ll] * wj


@njit(cache=True, error_model="numpy")
def _sample_padded(
    row: np.ndarray, w: np.ndarray, sym: int, pad: int, m: int, acc: np.ndarray, out: np.ndarray
) -> None:
    """:func:`_sample_row` in mode ``constant`` (cval 0) of the ``m`` samples of ``row[pad : pad + m]``, read
    from ``row`` itself (its ``pad`` ≥ the kernel's half-width values either side are 0): the same sums, each
    value widened to float64 as it is read (no float64 copy of the line made first), rounded into ``out``."""
    n = w.shape[0]
    size1 = n // 2
    size2 = n - size1 - 1
    if sym != 0:
        w0 = w[size1]
        centre = row[pad : pad + m]
        for ll in range(m):
            acc[ll] = np.float64(centre[ll]) * w0
        for jj in range(-size1, 0):
            wj = w[size1 + jj]
            p = row[pad + jj : pad + jj + m]
            q = row[pad - jj : pad - jj + m]
            if sym > 0:
                for ll in range(m):
                    acc[ll] += (np.float64(p[ll]) + np.float64(q[ll])) * wj
            else:
                for ll in range(m):
                    acc[ll] += (np.float64(p[ll]) - np.float64(q[ll])) * wj
    else:
        last = row[pad + size2 : pad + size2 + m]
        w2 = w[size1 + size2]
        for ll in range(m):
            acc[ll] = np.float64(last[ll]) * w2
        for jj in range(-size1, size2):
            wj = w[size1 + jj]
            p = row[pad + jj : pad + jj + m]
            for ll in range(m):
                acc[ll] += np.float64(p[ll]) * wj
    for ll in range(m):
        out[ll] = acc[ll]


@njit(cache=True, error_model="numpy")
def _phase_rows(
    a: np.ndarray,
    i: int,
    wl0: np.ndarray,
    wl1: np.ndarray,
    ws0: np.ndarray,
    ws1: np.ndarray,
    sym: np.ndarray,
    zero: np.ndarray,
    acc: np.ndarray,
    rows: np.ndarray,
    pad: int,
    out: np.ndarray,
) -> None:
    """Line ``i`` of the matched filter at the four phases of ``background.PHASES`` ((line, sample) kernels
    (wl0, ws0), (wl0, ws1), (wl1, ws0), (wl1, ws1)) into ``out`` (4 × samples, ``a``'s type): the lines' pass
    rounded to ``a``'s type, then the samples' pass rounded (scipy's two ``correlate1d``, constant 0). The
    lines' pass goes into ``rows`` (2 × (samples + 2 ``pad``), ``a``'s type, zeros ``pad`` either side: the
    constant mode's 0 beyond the edges), which the samples' pass reads as it is (:func:`_sample_padded`: no
    float64 copy of each line per phase, the same sums)."""
    ns = a.shape[1]
    _line_row(a, wl0, sym[0], i, False, zero, acc)
    r0 = rows[0, pad : pad + ns]
    for j in range(ns):
        r0[j] = acc[j]
    _line_row(a, wl1, sym[1], i, False, zero, acc)
    r1 = rows[1, pad : pad + ns]
    for j in range(ns):
        r1[j] = acc[j]
    for p in range(4):
        w_p = ws0 if p % 2 == 0 else ws1
        _sample_padded(rows[p // 2], w_p, sym[2 + p % 2], pad, ns, acc, out[p])


@njit(cache=True, error_model="numpy")
def phase_filter_noise(
    v: np.ndarray, wl0: np.ndarray, wl1: np.ndarray, ws0: np.ndarray, ws1: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """√max(·, 0) of the C-contiguous 2-D ``v`` (a variance map) filtered at the four phases (the squared
    kernels; :func:`_phase_rows`): numpy's ``np.sqrt(np.maximum(f, 0))`` of each filtered map, line by line
    (no filtered map is kept)."""
    nl, ns = v.shape
    outs = np.empty((4, nl, ns), v.dtype)
    sym = np.array([kernel_symmetry(wl0), kernel_symmetry(wl1), kernel_symmetry(ws0), kernel_symmetry(ws1)])
    zero = np.zeros(ns, v.dtype)
    acc = np.empty(ns)
    pad = max(ws0.shape[0], ws1.shape[0])
    rows = np.zeros((2, ns + 2 * pad), v.dtype)
    f = np.empty((4, ns), v.dtype)
    z = v.dtype.type(0.0)
    for i in range(nl):
        _phase_rows(v, i, wl0, wl1, ws0, ws1, sym, zero, acc, rows, pad, f)
        for p in range(4):
            for j in range(ns):
                x = f[p, j]
                outs[p, i, j] = np.sqrt(x if (x >= z or x != x) else z)
    return outs[0], outs[1], outs[2], outs[3]


@njit(cache=True, error_model="numpy")
def phase_filter_snr(
    a: np.ndarray,
    wl0: np.ndarray,
    wl1: np.ndarray,
    ws0: np.ndarray,
    ws1: np.ndarray,
    d0: np.ndarray,
    d1: np.ndarray,
    d2: np.ndarray,
    d3: np.ndarray,
    g0: np.float32,
    g1: np.float32,
    g2: np.float32,
    g3: np.float32,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`phase_snr` of the float32 C-contiguous ``a`` filtered at the four phases (:func:`_phase_rows`),
    line by line: the same values as the four filtered maps made first (none is kept); the best phase's
    index as intp (the type the background keeps it in: no conversion of a whole map after)."""
    nl, ns = a.shape
    sym = np.array([kernel_symmetry(wl0), kernel_symmetry(wl1), kernel_symmetry(ws0), kernel_symmetry(ws1)])
    zero = np.zeros(ns, a.dtype)
    acc = np.empty(ns)
    pad = max(ws0.shape[0], ws1.shape[0])
    rows = np.zeros((2, ns + 2 * pad), a.dtype)
    f = np.empty((4, ns), a.dtype)
    s0 = np.empty((nl, ns), np.float32)
    top = np.empty((nl, ns), np.float32)
    phase = np.empty((nl, ns), np.intp)
    for i in range(nl):
        _phase_rows(a, i, wl0, wl1, ws0, ws1, sym, zero, acc, rows, pad, f)
        _snr_line(f[0], f[1], f[2], f[3], d0[i], d1[i], d2[i], d3[i], g0, g1, g2, g3, s0[i], top[i], phase[i])
    return s0, top, phase


@njit(cache=True, error_model="numpy")
def clipped_outliers(lap: np.ndarray, scale: np.ndarray, ok: np.ndarray, clip: np.float32) -> np.ndarray:
    """``ok & (np.abs(lap) > clip × np.where(scale > 0, scale, np.inf))`` in one pass (the float32 ``scale``'s
    product with ``clip`` rounded to float32 as numpy's; NaN never exceeds): the outlier test."""
    nl, ns = lap.shape
    out = np.empty((nl, ns), np.bool_)
    inf = np.float32(np.inf)
    for i in range(nl):
        for j in range(ns):
            s = scale[i, j]
            c = np.float32(clip * s) if s > 0 else inf
            out[i, j] = ok[i, j] and abs(lap[i, j]) > c
    return out


@njit(cache=True, error_model="numpy")
def positive_median_at(x: np.ndarray, ok: np.ndarray) -> tuple[float, bool]:
    """(``robust.median_or_nan(x[ok])``'s value — the middle one of the selected values, or the mean of the
    middle two in ``x``'s type —, True) where the selected values are all finite and > 0 (a white-noise map:
    no NaN, no signed zero to settle); (0, False) elsewhere or without any (the caller's numpy path). By
    :func:`kth_bracketed`, no copy by boolean index first."""
    xf = x.ravel()
    of = ok.ravel()
    buf = np.empty(xf.shape[0], x.dtype)
    n = 0
    bad = False
    for t in range(xf.shape[0]):
        v = xf[t]
        buf[n] = v
        sel = of[t]
        n += sel
        bad |= sel & (not v > 0)
    if bad or n == 0:
        return 0.0, False
    t1 = np.empty(n, x.dtype)
    t2 = np.empty(n, x.dtype)
    k = n // 2
    hi = kth_bracketed(buf, n, k, t1, t2)
    if n % 2:
        return np.float64(hi), True
    lo = kth_bracketed(buf, n, k - 1, t1, t2)
    two = x.dtype.type(2.0)
    return np.float64((lo + hi) / two), True


@njit(cache=True, error_model="numpy")
def take_better(
    k: int,
    merit: np.ndarray,
    top: np.ndarray,
    phase: np.ndarray,
    scale: np.ndarray,
    block: np.ndarray,
    b_merit: np.ndarray,
    b_top: np.ndarray,
    b_phase: np.ndarray,
    b_scale: np.ndarray,
    b_block: np.ndarray,
    b_choice: np.ndarray,
) -> None:
    """In place, where ``merit`` > ``b_merit`` (False for NaN): each ``b_*`` map takes the option's value
    and ``b_choice`` takes ``k`` (maps of one shape, C-contiguous)."""
    m, t, p, s, bl = merit.ravel(), top.ravel(), phase.ravel(), scale.ravel(), block.ravel()
    bm, bt, bp, bs, bb, bc = (
        b_merit.ravel(),
        b_top.ravel(),
        b_phase.ravel(),
        b_scale.ravel(),
        b_block.ravel(),
        b_choice.ravel(),
    )
    for i in range(m.shape[0]):
        if m[i] > bm[i]:
            bm[i] = m[i]
            bt[i] = t[i]
            bp[i] = p[i]
            bs[i] = s[i]
            bb[i] = bl[i]
            bc[i] = k


@njit(cache=True, error_model="numpy")
def _box_lines(a: np.ndarray, size: int) -> np.ndarray:
    """``scipy.ndimage.uniform_filter1d(a, size, axis=0, mode="constant")`` (cval 0) in ``a``'s type:
    scipy's running sum in float64 (the first window summed, then + entering − leaving, ÷ size)."""
    n0, n1 = a.shape
    size1 = size // 2
    out = np.empty(a.shape, a.dtype)
    tmp = np.zeros(n1)
    for r in range(size):  # the first window: buffer rows −size1 … size − size1 − 1
        src = r - size1
        if 0 <= src < n0:
            for j in range(n1):
                tmp[j] += a[src, j]
        else:
            for j in range(n1):
                tmp[j] += 0.0
    for j in range(n1):
        out[0, j] = tmp[j] / size
    for ll in range(1, n0):
        r_in = ll - 1 + size - size1  # buffer row entering, as an array row
        r_out = ll - 1 - size1  # … and leaving
        for j in range(n1):
            vin = float(a[r_in, j]) if 0 <= r_in < n0 else 0.0
            vout = float(a[r_out, j]) if 0 <= r_out < n0 else 0.0
            tmp[j] += vin - vout
            out[ll, j] = tmp[j] / size
    return out


@njit(cache=True, error_model="numpy")
def _box_samples(a: np.ndarray, size: int) -> np.ndarray:
    """``scipy.ndimage.uniform_filter1d(a, size, axis=1, mode="constant")`` (cval 0) in ``a``'s type."""
    n0, n1 = a.shape
    size1 = size // 2
    out = np.empty(a.shape, a.dtype)
    for i in range(n0):
        tmp = 0.0
        for r in range(size):
            src = r - size1
            tmp += float(a[i, src]) if 0 <= src < n1 else 0.0
        out[i, 0] = tmp / size
        for ll in range(1, n1):
            r_in = ll - 1 + size - size1
            r_out = ll - 1 - size1
            vin = float(a[i, r_in]) if 0 <= r_in < n1 else 0.0
            vout = float(a[i, r_out]) if 0 <= r_out < n1 else 0.0
            tmp += vin - vout
            out[i, ll] = tmp / size
    return out


@njit(cache=True, error_model="numpy")
def uniform_box_mean(a: np.ndarray, size: int) -> np.ndarray:
    """``scipy.ndimage.uniform_filter(a, size, mode="constant")`` (cval 0) of a 2-D array (size > 1): the
    lines' pass, rounded to ``a``'s type, then the samples' pass."""
    return _box_samples(_box_lines(a, size), size)


@njit(cache=True, error_model="numpy")
def _running_mean_nearest(line: np.ndarray, size: int, out: np.ndarray) -> None:
    """``scipy.ndimage.uniform_filter1d(line, size, mode="nearest")`` of one float64 line into ``out``:
    scipy's running sum (the first window summed from 0, then + entering − leaving, each ÷ size)."""
    n = line.shape[0]
    size1 = size // 2
    tmp = 0.0
    for r in range(size):
        tmp += line[min(max(r - size1, 0), n - 1)]
    out[0] = tmp / size
    for ll in range(1, n):
        vin = line[min(max(ll - 1 + size - size1, 0), n - 1)]
        vout = line[min(max(ll - 1 - size1, 0), n - 1)]
        tmp += vin - vout
        out[ll] = tmp / size


@njit(cache=True, error_model="numpy")
def grid_box_mean_nearest(a: np.ndarray, size: int) -> np.ndarray:
    """``scipy.ndimage.uniform_filter(a, size=(1, size, size), mode="nearest")`` of a 3-D array (grids ×
    lines × samples, size > 1): each grid's lines' pass (the running sums of all samples side by side),
    rounded to ``a``'s type, then its samples' pass."""
    g, n0, n1 = a.shape
    size1 = size // 2
    mid = np.empty(a.shape, a.dtype)
    out = np.empty(a.shape, a.dtype)
    tmp = np.empty(n1)
    row = np.empty(n1)
    res = np.empty(n1)
    for k in range(g):
        tmp[:] = 0.0
        for r in range(size):  # the first window of every sample's column
            src = min(max(r - size1, 0), n0 - 1)
            for j in range(n1):
                tmp[j] += a[k, src, j]
        for j in range(n1):
            mid[k, 0, j] = tmp[j] / size
        for ll in range(1, n0):
            r_in = min(max(ll - 1 + size - size1, 0), n0 - 1)
            r_out = min(max(ll - 1 - size1, 0), n0 - 1)
            for j in range(n1):
                tmp[j] += np.float64(a[k, r_in, j]) - np.float64(a[k, r_out, j])
                mid[k, ll, j] = tmp[j] / size
        for i in range(n0):
            for j in range(n1):
                row[j] = mid[k, i, j]
            _running_mean_nearest(row, size, res)
            for j in range(n1):
                out[k, i, j] = res[j]
    return out


@njit(cache=True, error_model="numpy")
def block_fills(
    med: np.ndarray, counts: np.ndarray, zone: np.ndarray, min_count: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per region k of the block statistics ``med`` / ``counts`` (regions × blocks; ``zone``: the pixels'
    regions in block order): (present — a block counts a value of k or a pixel's zone is k —, the median of
    its values ``med`` over the blocks of ≥ ``min_count`` values as float64 — ``robust.finite_median``'s:
    the middle value, or the mean of the middle two in ``med``'s type —, True where k is present without
    such a block: the caller's fill, NaN here)."""
    nr, nblocks = med.shape
    present = np.zeros(nr, np.bool_)
    fills = np.full(nr, np.nan)
    fallback = np.zeros(nr, np.bool_)
    buf = np.empty(nblocks, med.dtype)
    t1 = np.empty(nblocks, med.dtype)
    t2 = np.empty(nblocks, med.dtype)
    two = med.dtype.type(2.0)
    for k in range(nr):
        n = 0
        seen = False
        for t in range(nblocks):
            c = counts[k, t]
            if c != 0:
                seen = True
            if c >= min_count:
                buf[n] = med[k, t]
                n += 1
        if not seen:  # (a pixel of zone k whose values are all NaN: one pass without branches)
            zf = zone.ravel()
            hit = 0
            for t in range(zf.shape[0]):
                hit |= zf[t] == k
            seen = hit != 0
        present[k] = seen
        if not seen:
            continue
        if n == 0:
            fallback[k] = True
            continue
        h = n // 2
        v = kth_bracketed(buf, n, h, t1, t2)  # (block statistics ≥ 0: no −0.0)
        if n % 2:
            fills[k] = np.float64(v)
        else:
            lo = kth_bracketed(buf, n, h - 1, t1, t2)
            fills[k] = np.float64((lo + v) / two)
    return present, fills, fallback


@njit(cache=True, error_model="numpy")
def block_grids(
    med: np.ndarray,
    counts: np.ndarray,
    present: np.ndarray,
    fills: np.ndarray,
    min_count: float,
    nbl: int,
    nbs: int,
    floor: float,
) -> np.ndarray:
    """The (regions + 1, block lines, block samples) float32 grids of ``BlockScale.scale``: for each
    ``present`` region its blocks of ≥ ``min_count`` values as they are (``med``), the others its fill
    (as float32), averaged over 3 × 3 blocks (:func:`grid_box_mean_nearest`), then numpy's
    max(max(average, 0.8 × the block's own), ``floor``) in float32; absent regions and the last grid:
    ``floor``."""
    nr = med.shape[0]
    f32 = np.float32(floor)
    grids = np.full((nr + 1, nbl, nbs), f32, np.float32)
    n_present = 0
    for k in range(nr):
        if present[k]:
            n_present += 1
    if n_present == 0:
        return grids
    meds = np.empty((n_present, nbl, nbs), np.float32)
    i = 0
    for k in range(nr):
        if not present[k]:
            continue
        fill = np.float32(fills[k])
        for t in range(nbl * nbs):
            meds[i, t // nbs, t % nbs] = med[k, t] if counts[k, t] >= min_count else fill
        i += 1
    avg = grid_box_mean_nearest(meds, 3)
    scale08 = np.float32(0.8)
    i = 0
    for k in range(nr):
        if not present[k]:
            continue
        for bl in range(nbl):
            for bs in range(nbs):
                a = avg[i, bl, bs]
                b = scale08 * meds[i, bl, bs]
                m = a if (a >= b or a != a) else b
                grids[k, bl, bs] = m if (m >= f32 or m != m) else f32
        i += 1
    return grids


@njit(cache=True, error_model="numpy")
def laplace_residual(x: np.ndarray, ok: np.ndarray, quarter: float) -> tuple[np.ndarray, np.ndarray]:
    """``background._laplace_residual``: x − ``quarter`` · (((up + down) + left) + right) in x's type (the
    image continued by its edge values; ``quarter`` 0.25 in x's type) and where the pixel and its 4
    neighbours are all ``ok`` (none beyond the edges)."""
    nl, ns = x.shape
    out = np.empty((nl, ns), x.dtype)
    good = np.zeros((nl, ns), np.bool_)
    for i in range(nl):
        iu, idn = max(i - 1, 0), min(i + 1, nl - 1)
        for j in range(ns):
            jl, jr = max(j - 1, 0), min(j + 1, ns - 1)
            nb = ((x[iu, j] + x[idn, j]) + x[i, jl]) + x[i, jr]
            out[i, j] = x[i, j] - quarter * nb
            good[i, j] = (
                ok[i, j]
                and i > 0
                and i < nl - 1
                and j > 0
                and j < ns - 1
                and ok[i - 1, j]
                and ok[i + 1, j]
                and ok[i, j - 1]
                and ok[i, j + 1]
            )
    return out, good


@njit(cache=True, error_model="numpy")
def masked_difference(x: np.ndarray, bg: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """``np.where(ok, x - bg, 0.0)`` of two maps of one type and shape (the difference in their type, +0
    where not ``ok``) in one pass, without the difference's map."""
    nl, ns = x.shape
    out = np.empty((nl, ns), x.dtype)
    zero = x.dtype.type(0.0)
    for i in range(nl):
        for j in range(ns):
            out[i, j] = x[i, j] - bg[i, j] if ok[i, j] else zero
    return out


@njit(cache=True, error_model="numpy")
def fill_box_mean(x: np.ndarray, m: np.ndarray, h: int, floor: float) -> tuple[np.ndarray, np.ndarray]:
    """(``x`` where ``m``, elsewhere Σ(x·m) ÷ Σ m over the (2h+1)² box (box means of ``uniform_box_mean``, in
    ``x``'s type); where the box's mean of ``m`` is ≤ ``floor`` (1e-3 in ``x``'s type: the comparison numpy
    makes), True in the second array and the value left for the caller (the region mean)).

    Both box means in one pass each way (scipy's running sums of x·m and of m side by side, the same
    additions; x·m and m made as they are read), the samples' pass line by line into the fill. Only the
    holes (pixels not ``m``) read the box means: the lines' running sums stop at the last line holding one,
    and the samples' pass runs on those lines alone, each up to its last hole (the sums before it are the
    same; the lines and samples after it are ``x`` as it is)."""
    return _fill_core(x, m, h, floor, m, False)


@njit(cache=True, error_model="numpy")
def fill_box_mean_at(
    x: np.ndarray, m: np.ndarray, h: int, floor: float, want: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`fill_box_mean` at the holes ``want`` alone (pixels not ``m`` the caller reads; the same values
    there): the other holes keep ``x``'s value, and the passes stop at the last line and sample of a wanted
    hole."""
    return _fill_core(x, m, h, floor, want, True)


@njit(cache=True, error_model="numpy")
def _fill_core(
    x: np.ndarray, m: np.ndarray, h: int, floor: float, want: np.ndarray, only_wanted: bool
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`fill_box_mean` (``only_wanted`` False) or :func:`fill_box_mean_at`."""
    size = 2 * h + 1
    size1 = size // 2
    nl, ns = x.shape
    one = x.dtype.type(1.0)
    nil = x.dtype.type(0.0)
    out = np.empty((nl, ns), x.dtype)
    uncovered = np.zeros((nl, ns), np.bool_)
    # each line's last hole (−1: none), and the last line with one
    last = np.full(nl, -1, np.intp)
    top = -1
    for i in range(nl):
        for j in range(ns - 1, -1, -1):
            if not m[i, j] and (want[i, j] or not only_wanted):
                last[i] = j
                top = i
                break
    # the lines' pass: running sums down every sample's column, rounded to x's type (uniform_box_mean's)
    mid_n = np.empty((nl, ns), x.dtype)
    mid_d = np.empty((nl, ns), x.dtype)
    tn = np.zeros(ns)
    td = np.zeros(ns)
    if top >= 0:
        for r in range(size):  # the first window: lines −size1 … size − size1 − 1
            src = r - size1
            if 0 <= src < nl:
                for j in range(ns):
                    mj = one if m[src, j] else nil
                    tn[j] += x[src, j] * mj
                    td[j] += mj
            else:
                for j in range(ns):
                    tn[j] += 0.0
                    td[j] += 0.0
        for j in range(ns):
            mid_n[0, j] = tn[j] / size
            mid_d[0, j] = td[j] / size
    for ll in range(1, top + 1):
        r_in = ll - 1 + size - size1  # line entering …
        r_out = ll - 1 - size1  # … and leaving
        for j in range(ns):
            if 0 <= r_in < nl:
                mi = one if m[r_in, j] else nil
                vin, din = np.float64(x[r_in, j] * mi), np.float64(mi)
            else:
                vin, din = 0.0, 0.0
            if 0 <= r_out < nl:
                mo = one if m[r_out, j] else nil
                vout, dout = np.float64(x[r_out, j] * mo), np.float64(mo)
            else:
                vout, dout = 0.0, 0.0
            tn[j] += vin - vout
            td[j] += din - dout
            mid_n[ll, j] = tn[j] / size
            mid_d[ll, j] = td[j] / size
    # the samples' pass, each line's two running sums side by side up to its last hole, and the fill
    num = np.empty(ns, x.dtype)
    den = np.empty(ns, x.dtype)
    for i in range(nl):
        end = last[i] + 1
        if end == 0:
            for j in range(ns):
                out[i, j] = x[i, j]
            continue
        an = mid_n[i]
        ad = mid_d[i]
        sn = 0.0
        sd = 0.0
        for r in range(size):
            src = r - size1
            sn += np.float64(an[src]) if 0 <= src < ns else 0.0
            sd += np.float64(ad[src]) if 0 <= src < ns else 0.0
        num[0] = sn / size
        den[0] = sd / size
        for ll in range(1, end):
            r_in = ll - 1 + size - size1
            r_out = ll - 1 - size1
            vin = np.float64(an[r_in]) if r_in < ns else 0.0
            vout = np.float64(an[r_out]) if r_out >= 0 else 0.0
            din = np.float64(ad[r_in]) if r_in < ns else 0.0
            dout = np.float64(ad[r_out]) if r_out >= 0 else 0.0
            sn += vin - vout
            sd += din - dout
            num[ll] = sn / size
            den[ll] = sd / size
        for j in range(ns):
            if m[i, j] or (only_wanted and not want[i, j]):
                out[i, j] = x[i, j]
            elif den[j] > floor:
                out[i, j] = num[j] / den[j]
            else:
                out[i, j] = 0.0
                uncovered[i, j] = True
    return out, uncovered


@njit(cache=True, error_model="numpy")
def kth_smallest(a: np.ndarray, n: int, k: int) -> float:
    """The ``k``-th smallest (0-based) of ``a[:n]`` (NaN-free), found in place (Wirth's selection: ``a[:n]``
    is reordered)."""
    lo, hi = 0, n - 1
    while lo < hi:
        x = a[k]
        i, j = lo, hi
        while True:
            while a[i] < x:
                i += 1
            while x < a[j]:
                j -= 1
            if i <= j:
                t = a[i]
                a[i] = a[j]
                a[j] = t
                i += 1
                j -= 1
            if i > j:
                break
        if j < k:
            lo = i
        if k < i:
            hi = j
    return a[k]


@njit(cache=True, error_model="numpy")
def kth_by_rank(a: np.ndarray, n: int, k: int) -> float:
    """The ``k``-th smallest (0-based) of ``a[:n]`` (NaN-free, no −0.0 beside +0.0): the first value with at
    most ``k`` values below it and more than ``k`` at or below it (n comparisons without branches per
    candidate: faster than a selection for the few dozen values of a block). Each candidate's ranks bracket
    the answer (below it or above it), and only values inside the bracket are tried next (as a quickselect's
    pivots: ~2 ln n candidates, not ~n / 2; the same value, the one of that rank)."""
    lo = -np.inf
    hi = np.inf
    for i in range(n):
        v = a[i]
        if not (lo < v < hi):  # (outside the bracket: not of rank k)
            continue
        lt = 0
        le = 0
        for j in range(n):
            lt += a[j] < v
            le += a[j] <= v
        if lt <= k < le:
            return v
        if k < lt:
            hi = v
        else:
            lo = v
    return a[0]  # (not reached)


#: up to this many values a block's order statistic is found by ranks (:func:`kth_by_rank`), above by
#: selection
RANK_MAX = 96

#: :func:`kth_bracketed`: the sample whose order statistics bracket the wanted rank, and how many sample ranks
#: either side of it the bracket reaches (the wanted value falls outside it in a few % of the cases: the
#: bracket then bounds it on one side)
BRACKET_SAMPLE = 64
BRACKET_HALF = 5


@njit(cache=True, error_model="numpy")
def kth_bracketed(a: np.ndarray, n: int, k: int, t1: np.ndarray, t2: np.ndarray) -> float:
    """The ``k``-th smallest (0-based) of ``a[:n]`` (NaN-free, no −0.0 beside +0.0; ``a`` is not changed;
    ``t1``, ``t2``: scratch of ≥ n values of ``a``'s type): the same value as any exact selection. Above
    :data:`RANK_MAX` values, two order statistics of a sample of :data:`BRACKET_SAMPLE` values bracket the
    rank; one pass counts the values below and at each, which either finds it or leaves the values inside
    (or beyond) the bracket alone, a few % of them, to select in again; at most :data:`RANK_MAX` values by
    ranks (:func:`kth_by_rank`). Branch-free passes: far faster than a selection that swaps (Wirth's) on
    the ~1,000 values of a limb-distance bin."""
    src = a
    which = 0
    s = BRACKET_SAMPLE
    sm = np.empty(s, a.dtype)
    while n > RANK_MAX:
        dst = t1 if which == 0 else t2
        step = n // s
        for i in range(s):
            sm[i] = src[i * step]
        ks = (k * s) // n
        lo = kth_by_rank(sm, s, max(ks - BRACKET_HALF, 0))
        hi = kth_by_rank(sm, s, min(ks + BRACKET_HALF, s - 1))
        lt_lo = 0
        le_lo = 0
        lt_hi = 0
        le_hi = 0
        for j in range(n):
            v = src[j]
            lt_lo += v < lo
            le_lo += v <= lo
            lt_hi += v < hi
            le_hi += v <= hi
        if lt_lo <= k < le_lo:
            return lo
        if lt_hi <= k < le_hi:
            return hi
        m = 0
        if le_lo <= k < lt_hi:  # strictly inside the bracket
            for j in range(n):
                v = src[j]
                dst[m] = v
                m += (lo < v) & (v < hi)
            k -= le_lo
        elif k < lt_lo:  # below it
            for j in range(n):
                v = src[j]
                dst[m] = v
                m += v < lo
        else:  # above it
            for j in range(n):
                v = src[j]
                dst[m] = v
                m += v > hi
            k -= le_hi
        src = dst
        n = m
        which = 1 - which
    return kth_by_rank(src, n, k)


@njit(cache=True, error_model="numpy")
def block_order_stats(
    azb: np.ndarray, zone: np.ndarray, rows: np.ndarray, n_regions: int, quantile: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per region k < ``n_regions`` and block ``rows[i]`` (a row of ``azb``: |z| of one block, ≥ 0; ``zone``
    in the same layout): the count n of the block's finite values whose zone is k and the
    ⌊``quantile``·(n − 1)⌋-th smallest of them (NaN where n = 0); arrays (n_regions, len(rows)). A block
    whose values are all finite and of one region is selected in place (no copy by region)."""
    nr = rows.shape[0]
    width = azb.shape[1]
    vals = np.full((n_regions, nr), np.nan, np.float32)
    counts = np.zeros((n_regions, nr), np.intp)
    bufs = np.empty((n_regions, width), azb.dtype)
    t1 = np.empty(width, azb.dtype)
    t2 = np.empty(width, azb.dtype)
    cnt = np.zeros(n_regions, np.intp)
    kw = int(np.floor(quantile * (width - 1)))
    for i in range(nr):
        r = rows[i]
        zr = zone[r]
        ar = azb[r]
        k0 = zr[0]
        one = k0 >= 0 and k0 < n_regions
        for c in range(width):
            one &= (zr[c] == k0) & np.isfinite(ar[c])
        if one:  # the block's values all finite and of one region (the usual case): selected where they are
            counts[k0, i] = width
            vals[k0, i] = kth_bracketed(ar, width, kw, t1, t2)
            continue
        cnt[:] = 0
        for c in range(width):
            k = zr[c]
            v = ar[c]
            if k >= 0 and k < n_regions and np.isfinite(v):
                bufs[k, cnt[k]] = v
                cnt[k] += 1
        for k in range(n_regions):
            n = cnt[k]
            counts[k, i] = n
            if n > 0:
                kk = int(np.floor(quantile * (n - 1)))
                vals[k, i] = kth_bracketed(bufs[k], n, kk, t1, t2)
    return vals, counts


@njit(cache=True, error_model="numpy")
def bin_order_stats(
    z: np.ndarray, idx: np.ndarray, starts: np.ndarray, ends: np.ndarray, quantile: float, min_count: int
) -> tuple[np.ndarray, bool]:
    """Per bin i of a distance profile (the flat pixels ``idx[starts[i]:ends[i]]`` of the 1-D ``z``): the
    ⌊``quantile``·(n − 1)⌋-th smallest of its n values |z| as float64 where n ≥ ``min_count`` (1 elsewhere)
    — the value ``np.partition`` puts there (a value of the data: any exact selection finds it); False where
    such a bin holds a NaN (numpy's order then places it)."""
    nb = starts.shape[0]
    stat = np.ones(nb)
    buf = np.empty(max(idx.shape[0], 1))
    t1 = np.empty(buf.shape[0])
    t2 = np.empty(buf.shape[0])
    for i in range(nb):
        n = ends[i] - starts[i]
        if n < min_count:
            continue
        nan = False
        for t in range(n):
            v = np.float64(abs(z[idx[starts[i] + t]]))
            nan |= np.isnan(v)
            buf[t] = v
        if nan:
            return stat, False
        k = int(np.floor(quantile * (n - 1)))
        stat[i] = kth_bracketed(buf, n, k, t1, t2)  # (|z|: no −0.0)
    return stat, True


@njit(cache=True, error_model="numpy")
def raise_at(scale: np.ndarray, where: np.ndarray, at: np.ndarray, prof: np.ndarray) -> None:
    """``scale[where] = np.maximum(scale[where], prof[at].astype(float32))`` in place (``scale`` 1-D,
    ``where`` flat indices): numpy's maximum (the first operand where it is ≥ the second or NaN, else the
    second)."""
    for t in range(where.shape[0]):
        v = np.float32(prof[at[t]])
        a = scale[where[t]]
        scale[where[t]] = a if (a >= v or np.isnan(a)) else v


@njit(cache=True, error_model="numpy")
def level_bin_stats(
    b: np.ndarray, r2: np.ndarray, order: np.ndarray, nb: int, q25: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """``background.white_variance``'s bins (NaN-free inputs): ``order`` (b's argsort) split as
    ``np.array_split(order, nb)``; for each bin of ≥ 20 pixels the median of its levels ``b`` (sorted
    already: the middle one, or the mean of the middle two in b's type), the lower quartile of its ``r2``
    (np.percentile's linear interpolation between the two order statistics) ÷ ``q25``, and its size; False
    where a mean of two would add a zero (numpy's sum then decides the sign of a zero)."""
    n = order.shape[0]
    lev = np.empty(nb)
    var = np.empty(nb)
    wts = np.empty(nb, np.intp)
    buf = np.empty(n // nb + 1)
    t1 = np.empty(buf.shape[0])
    t2 = np.empty(buf.shape[0])
    used = 0
    start = 0
    for c in range(nb):
        size = n // nb + (1 if c < n % nb else 0)
        if size >= 20:
            m = size // 2
            if size % 2:
                lev[used] = np.float64(b[order[start + m]])
            else:
                lo_b, hi_b = b[order[start + m - 1]], b[order[start + m]]
                if lo_b == 0 or hi_b == 0:
                    return lev[:used], var[:used], wts[:used], False
                lev[used] = np.float64((lo_b + hi_b) / b.dtype.type(2.0))
            for t in range(size):
                buf[t] = r2[order[start + t]]
            var[used] = _lower_quartile(buf, size, t1, t2) / q25
            wts[used] = size
            used += 1
        start += size
    return lev[:used], var[:used], wts[:used], True


@njit(cache=True, error_model="numpy")
def _lower_quartile(buf: np.ndarray, size: int, t1: np.ndarray, t2: np.ndarray) -> float:
    """The 25th percentile of ``buf[:size]`` (non-negative squares: no −0.0), numpy's linear interpolation
    between two order statistics (``t1``, ``t2``: scratch of ≥ ``size``)."""
    vi = (size - 1) * 0.25
    lo = int(np.floor(vi))
    g = vi - lo
    lo_v = kth_bracketed(buf, size, lo, t1, t2)
    hi_v = kth_bracketed(buf, size, lo + 1, t1, t2)
    d = hi_v - lo_v
    return hi_v - d * (1 - g) if g >= 0.5 else lo_v + d * g


@njit(cache=True, error_model="numpy")
def level_bin_stats_sorted(
    b: np.ndarray, b_sorted: np.ndarray, r2: np.ndarray, nb: int, q25: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """:func:`level_bin_stats` with the bins made from ``b_sorted`` (``np.sort(b)``) instead of an argsort
    of ``b``: where no two equal levels straddle a boundary between bins, each bin holds the pixels whose
    level lies between two thresholds whatever the order of equal levels, and its statistics (the middle
    of its sorted levels, order statistics of its ``r2``) are values of the data — the same as
    :func:`level_bin_stats` gives for any argsort. False (nothing to use) where equal levels straddle a
    boundary or a middle level is zero (its sign would be the argsort's): the caller's argsort path."""
    n = b.shape[0]
    lev = np.empty(nb)
    var = np.empty(nb)
    wts = np.empty(nb, np.intp)
    starts = np.empty(nb + 1, np.intp)
    starts[0] = 0
    for c in range(nb):
        starts[c + 1] = starts[c] + n // nb + (1 if c < n % nb else 0)
    thresholds = np.empty(max(nb - 1, 0), b.dtype)
    for c in range(1, nb):
        s = starts[c]
        if not b_sorted[s - 1] < b_sorted[s]:
            return lev[:0], var[:0], wts[:0], False
        thresholds[c - 1] = b_sorted[s]
    # each pixel's r2 into its bin (the bins' values as a set: the order within a bin does not matter)
    width = n // nb + 1
    bufs = np.empty((nb, width))
    cnt = np.zeros(nb, np.intp)
    for i in range(n):
        v = b[i]
        c = 0
        while c < nb - 1 and v >= thresholds[c]:
            c += 1
        bufs[c, cnt[c]] = r2[i]
        cnt[c] += 1
    t1 = np.empty(width)
    t2 = np.empty(width)
    used = 0
    for c in range(nb):
        size = starts[c + 1] - starts[c]
        if size < 20:
            continue
        start = starts[c]
        m = size // 2
        if size % 2:
            mid = b_sorted[start + m]
            if mid == 0:
                return lev[:0], var[:0], wts[:0], False
            lev[used] = np.float64(mid)
        else:
            lo_b, hi_b = b_sorted[start + m - 1], b_sorted[start + m]
            if lo_b == 0 or hi_b == 0:
                return lev[:0], var[:0], wts[:0], False
            lev[used] = np.float64((lo_b + hi_b) / b.dtype.type(2.0))
        var[used] = _lower_quartile(bufs[c], size, t1, t2) / q25
        wts[used] = size
        used += 1
    return lev[:used], var[:used], wts[:used], True


@njit(cache=True, error_model="numpy")
def abs_in_blocks(z: np.ndarray, b: int, nbl: int, nbs: int) -> np.ndarray:
    """|z| as float32 in block order: one row of b² values per b × b block (block lines, then block
    samples; pixels in line order within a block), NaN beyond the image (``BlockScale``'s layout of |z|).
    Line by line, a whole block's b values without a test per pixel (the same values)."""
    nl, ns = z.shape
    out = np.empty((nbl * nbs, b * b), np.float32)
    nan = np.float32(np.nan)
    for bl in range(nbl):
        for a in range(b):
            i = bl * b + a
            for bs in range(nbs):
                row = out[bl * nbs + bs]
                j0 = bs * b
                if i >= nl:
                    for c in range(b):
                        row[a * b + c] = nan
                elif j0 + b <= ns:  # (a whole block along the line: no test per pixel)
                    for c in range(b):
                        row[a * b + c] = np.float32(abs(z[i, j0 + c]))
                else:
                    for c in range(b):
                        row[a * b + c] = np.float32(abs(z[i, j0 + c])) if j0 + c < ns else nan
    return out


@njit(cache=True, error_model="numpy")
def block_index(side: np.ndarray, n_regions: int, b: int, nbs: int, n_blocks: int) -> np.ndarray:
    """Each pixel's index in (region + 1, block line, block sample) grids of ``n_blocks`` blocks, ``nbs``
    per block line, b × b pixels each: region ``side`` (those outside 0 … n_regions − 1: the last grid)."""
    nl, ns = side.shape
    out = np.empty((nl, ns), np.intp)
    for i in range(nl):
        row = (i // b) * nbs
        for j0 in range(0, ns, b):  # block by block along the line (no division per pixel)
            block = row + j0 // b
            for j in range(j0, min(j0 + b, ns)):
                k = side[i, j]
                if k < 0 or k >= n_regions:
                    k = n_regions
                out[i, j] = k * n_blocks + block
    return out


@njit(cache=True, error_model="numpy")
def take_blocks(grids: np.ndarray, side: np.ndarray, b: int) -> np.ndarray:
    """``np.take(grids, block_index(side, …))``: each pixel's value in the (region + 1, block line, block
    sample) ``grids`` — its region ``side`` (those outside 0 … regions − 1: the last grid), its b × b block —
    read from the small region map instead of a full-size intp index (a copy of values: no arithmetic). Per
    block line, each grid's line is spread to the pixels' samples once; its b lines then gather from those
    (a branch-free index per pixel: the loops vectorise)."""
    nl, ns = side.shape
    nr = grids.shape[0] - 1
    nbl, nbs = grids.shape[1], grids.shape[2]
    out = np.empty((nl, ns), grids.dtype)
    spread = np.empty((nr + 1) * ns, grids.dtype)  # grid k's block values at samples k·ns … k·ns + ns − 1
    at = np.empty(ns, np.intp)
    for bl in range(min(nbl, -(-nl // b))):
        for k in range(nr + 1):
            for bs in range(nbs):
                v = grids[k, bl, bs]
                for j in range(bs * b, min(bs * b + b, ns)):
                    spread[k * ns + j] = v
        for i in range(bl * b, min(bl * b + b, nl)):
            line = side[i]
            for j in range(ns):
                k = line[j]
                at[j] = (k if (k >= 0) & (k < nr) else nr) * ns + j
            o = out[i]
            for j in range(ns):
                o[j] = spread[at[j]]
    return out


@njit(cache=True, error_model="numpy")
def zone_in_blocks(ok: np.ndarray, side: np.ndarray, b: int, nbl: int, nbs: int) -> np.ndarray:
    """Each pixel's region ``side`` (−1 where not ``ok``) in block order: one row of b² values per b × b
    block (block lines, then block samples; pixels in line order within a block), −1 beyond the image.
    Line by line, a whole block's b values without a bounds test per pixel (the same values)."""
    nl, ns = side.shape
    out = np.empty((nbl * nbs, b * b), side.dtype)
    none = side.dtype.type(-1)
    for bl in range(nbl):
        for a in range(b):
            i = bl * b + a
            for bs in range(nbs):
                row = out[bl * nbs + bs]
                j0 = bs * b
                if i >= nl:
                    for c in range(b):
                        row[a * b + c] = none
                elif j0 + b <= ns:  # (a whole block along the line: no bounds test per pixel)
                    for c in range(b):
                        row[a * b + c] = side[i, j0 + c] if ok[i, j0 + c] else none
                else:
                    for c in range(b):
                        j = j0 + c
                        row[a * b + c] = side[i, j] if (j < ns and ok[i, j]) else none
    return out


@njit(cache=True, error_model="numpy")
def running_median_nearest(v: np.ndarray, size: int) -> np.ndarray:
    """The median of each centred window of ``size`` (odd) values of the 1-D ``v``, the ends continued by
    their nearest value (``scipy.ndimage.median_filter(v, size, mode="nearest")``: a value of ``v``, the
    same one wherever the values are distinct from ±0 and finite — the caller's condition)."""
    n = v.shape[0]
    h = size // 2
    out = np.empty(n, v.dtype)
    if n == 0:
        return out
    win = np.empty(size, v.dtype)  # the current window, sorted
    for t in range(size):
        x = v[min(max(t - h, 0), n - 1)]
        i = t
        while i > 0 and win[i - 1] > x:
            win[i] = win[i - 1]
            i -= 1
        win[i] = x
    out[0] = win[h]
    for j in range(1, n):  # slide: the window's first value out, the next one in
        old = v[min(max(j - 1 - h, 0), n - 1)]
        new = v[min(j + h, n - 1)]
        i = 0
        while i < size - 1 and win[i] != old:  # (found: finite values, the caller's condition)
            i += 1
        while i < size - 1:  # the old value taken out
            win[i] = win[i + 1]
            i += 1
        i = size - 1
        while i > 0 and win[i - 1] > new:  # the new one put in its place
            win[i] = win[i - 1]
            i -= 1
        win[i] = new
        out[j] = win[h]
    return out


@njit(cache=True, error_model="numpy")
def _diamonds(mask: np.ndarray, k: int) -> np.ndarray:
    """True within L1 distance ``k`` of a True pixel of ``mask``, each True pixel's diamond set in turn (a
    line's runs of 64 samples without a True pixel skipped after one branch-free pass: the same pixels)."""
    nl, ns = mask.shape
    out = np.zeros((nl, ns), np.bool_)
    for i in range(nl):
        for j0 in range(0, ns, 64):
            j1 = min(j0 + 64, ns)
            hit = 0
            for j in range(j0, j1):
                hit |= mask[i, j]
            if hit == 0:
                continue
            for j in range(j0, j1):
                if mask[i, j]:
                    for di in range(max(-k, -i), min(k, nl - 1 - i) + 1):
                        r = k - abs(di)
                        out[i + di, max(j - r, 0) : min(j + r, ns - 1) + 1] = True
    return out


@njit(cache=True, error_model="numpy")
def grow_diamond(mask: np.ndarray, k: int) -> np.ndarray:
    """``mask`` (2-D bool) grown by ``k`` ≥ 0 pixels: True where a True pixel lies within L1 (city-block)
    distance ``k`` — the pixels ``k`` binary dilations with the 4-connected cross reach inside the image
    (a shortest path between two pixels of a rectangle stays in it). Two passes of the exact city-block
    distance transform (capped at k + 1), each line then forward and backward along it."""
    nl, ns = mask.shape
    n_true = 0
    for i in range(nl):
        for j in range(ns):
            n_true += mask[i, j]
    if n_true * (2 * k + 1) * (k + 1) < nl * ns:  # few pixels: each one's diamond set (the same pixels)
        return _diamonds(mask, k)
    big = k + 1
    d = np.empty((nl, ns), np.intp)
    for i in range(nl):  # forward: from above and from the left
        for j in range(ns):
            if mask[i, j]:
                v = 0
            else:
                v = big
                if i > 0 and d[i - 1, j] + 1 < v:
                    v = d[i - 1, j] + 1
                if j > 0 and d[i, j - 1] + 1 < v:
                    v = d[i, j - 1] + 1
            d[i, j] = v
    out = np.empty((nl, ns), np.bool_)
    for i in range(nl - 1, -1, -1):  # backward: from below and from the right
        for j in range(ns - 1, -1, -1):
            v = d[i, j]
            if i < nl - 1 and d[i + 1, j] + 1 < v:
                v = d[i + 1, j] + 1
            if j < ns - 1 and d[i, j + 1] + 1 < v:
                v = d[i, j + 1] + 1
            d[i, j] = v
            out[i, j] = v <= k
    return out


@njit(cache=True, error_model="numpy")
def _pairwise_small(a: np.ndarray, n: int) -> float:
    """numpy's pairwise sum of a[0 : n] (float64, n ≤ 128: 8 running sums past 7 values), as ``np.sum``
    along a contiguous axis of that length gives it."""
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[0], a[1], a[2], a[3]
    r4, r5, r6, r7 = a[4], a[5], a[6], a[7]
    i = 8
    end = n - n % 8
    while i < end:
        r0 += a[i]
        r1 += a[i + 1]
        r2 += a[i + 2]
        r3 += a[i + 3]
        r4 += a[i + 4]
        r5 += a[i + 5]
        r6 += a[i + 6]
        r7 += a[i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[i]
        i += 1
    return res


@njit(cache=True, error_model="numpy")
def _quadratic_edge(
    v: np.ndarray, centre: np.ndarray, ends: np.ndarray, near: np.ndarray, out: np.ndarray
) -> None:
    """``background._smooth_quadratic`` of the float64 line ``v`` (length ≥ the window) into ``out``: the
    centre weights correlated (``nearest``, scipy's arithmetic), the first values from ``near`` (numpy's
    product ``v[:n] @ ends.T``, made by the caller: a BLAS call whose order is not reproduced here), the last
    ones the sequential sums numpy's non-BLAS product makes of the reversed line."""
    n = v.shape[0]
    h, m = ends.shape
    corr = correlate_samples(v.reshape((1, n)), centre, True, 0.0, 0, n)
    for j in range(n):
        out[j] = corr[0, j]
    for k in range(h):
        out[k] = near[k]
    for k in range(h):
        acc = 0.0
        for t in range(m):
            acc += v[n - 1 - t] * ends[k, t]
        out[n - 1 - k] = acc


@njit(cache=True, error_model="numpy")
def _curvature_ok(c: np.ndarray) -> bool:
    """Every value finite and non-zero (where ``background._edge_curvature`` takes the compiled median)."""
    return bool(np.isfinite(c).all()) and bool((c != 0.0).all())


@njit(cache=True, error_model="numpy")
def pad_odd_lines(
    x: np.ndarray,
    p: int,
    centre: np.ndarray,
    ends: np.ndarray,
    near_first: np.ndarray,
    near_last: np.ndarray,
    wc: np.ndarray,
    median_px: int,
) -> tuple[np.ndarray, bool]:
    """The first half of ``background._pad_odd`` (with curvature): an (n0 + 2p) × (n1 + 2p) array of x's type
    holding ``x`` and its line pads (the first and last lines' point reflection about their smoothed edge
    values, :func:`_quadratic_edge` with the near ends ``near_first`` / ``near_last``, plus the running
    median over ``median_px`` of the curvature across the edge, weights ``wc``, × t²); the sample pads are
    left for :func:`pad_odd_samples`. False (and the array unfinished) where a curvature is 0 or not
    finite (numpy's path then takes scipy's median)."""
    n0, n1 = x.shape
    xp = np.empty((n0 + 2 * p, n1 + 2 * p), x.dtype)
    for i in range(n0):
        for j in range(n1):
            xp[p + i, p + j] = x[i, j]
    m = wc.shape[0]
    v = np.empty(n1)
    e = np.empty(n1)
    c = np.empty(n1)
    for far in (False, True):
        edge = n0 - 1 if far else 0
        for j in range(n1):
            v[j] = np.float64(x[edge, j])
        _quadratic_edge(v, centre, ends, near_last if far else near_first, e)
        for j in range(n1):  # Σ_t rows[t]·w[t] over the lines nearest the edge, in order (np.sum, axis 0)
            acc = np.float64(x[n0 - 1 if far else 0, j]) * wc[0]
            for t in range(1, m):
                acc += np.float64(x[n0 - 1 - t if far else t, j]) * wc[t]
            c[j] = acc
        if not _curvature_ok(c):
            return xp, False
        cm = running_median_nearest(c, median_px)
        for r in range(p):
            row = p + n0 + r if far else r
            mirror = n0 - 2 - r if far else p - r
            tt = np.float64((r + 1) ** 2 if far else (p - r) ** 2)
            for j in range(n1):
                xp[row, p + j] = 2.0 * e[j] - np.float64(x[mirror, j])
            for j in range(n1):
                xp[row, p + j] = np.float64(xp[row, p + j]) + cm[j] * tt
    return xp, True


@njit(cache=True, error_model="numpy")
def pad_odd_samples(
    xp: np.ndarray,
    p: int,
    centre: np.ndarray,
    ends: np.ndarray,
    near_first: np.ndarray,
    near_last: np.ndarray,
    wc: np.ndarray,
    median_px: int,
) -> bool:
    """The second half of ``background._pad_odd`` on the array of :func:`pad_odd_lines`: its first and last
    p samples from the core columns (the line pads included) as the lines' were made, the curvature summed
    along each line as ``np.sum(axis=1)`` does (pairwise). False where a curvature is 0 or not finite."""
    nl = xp.shape[0]
    n1 = xp.shape[1] - 2 * p
    m = wc.shape[0]
    v = np.empty(nl)
    e = np.empty(nl)
    c = np.empty(nl)
    prod = np.empty(m)
    for far in (False, True):
        edge = p + n1 - 1 if far else p
        for i in range(nl):
            v[i] = np.float64(xp[i, edge])
        _quadratic_edge(v, centre, ends, near_last if far else near_first, e)
        for i in range(nl):
            for t in range(m):
                prod[t] = np.float64(xp[i, p + n1 - 1 - t if far else p + t]) * wc[t]
            c[i] = _pairwise_small(prod, m)
        if not _curvature_ok(c):
            return False
        cm = running_median_nearest(c, median_px)
        for q in range(p):
            col = p + n1 + q if far else q
            mirror = p + n1 - 2 - q if far else p + p - q
            tt = np.float64((q + 1) ** 2 if far else (p - q) ** 2)
            for i in range(nl):
                xp[i, col] = 2.0 * e[i] - np.float64(xp[i, mirror])
                xp[i, col] = np.float64(xp[i, col]) + cm[i] * tt
    return True


@njit(cache=True, error_model="numpy")
def distance_bins(
    d: np.ndarray, sel: np.ndarray, lo: float, top: float, step: float, nb: int, grouped: bool
) -> tuple:
    """The bins of a distance profile (``background.DistanceBins``) in two passes over the pixels: (``where``:
    lo ≤ d < ``top``, ``inside``: that and ``sel``, the flat indices of ``where``, the bin of each ``inside``
    pixel ⌊(d − lo) ÷ step⌋ (C truncation, as ``astype(int)``), each ``where`` pixel's bin clipped to
    0 … nb − 1, and with ``grouped`` the ``inside`` pixels' stable order by bin, the first and past-the-last
    place of each bin 0 … nb − 1 in it (``np.searchsorted``'s), their flat indices in that order, and True);
    False last where an ``inside`` bin lies outside 0 … nb (the caller's numpy then orders them)."""
    nl, ns = d.shape
    where = np.zeros((nl, ns), np.bool_)
    inside = np.zeros((nl, ns), np.bool_)
    n_where = 0
    n_inside = 0
    for i in range(nl):
        for j in range(ns):
            v = d[i, j]
            if v >= lo and v < top:
                where[i, j] = True
                n_where += 1
                if sel[i, j]:
                    inside[i, j] = True
                    n_inside += 1
    where_flat = np.empty(n_where, np.intp)
    inside_flat = np.empty(n_inside, np.intp)
    bins = np.empty(n_inside, np.intp)
    at = np.empty(n_where, np.intp)
    counts = np.zeros(nb + 1, np.intp)  # the last: bin nb (a distance a rounding puts at the top edge)
    ok = True
    w = 0
    t = 0
    for i in range(nl):
        for j in range(ns):
            if where[i, j]:
                b = np.intp((d[i, j] - lo) / step)
                where_flat[w] = i * ns + j
                at[w] = min(max(b, 0), nb - 1)
                w += 1
                if inside[i, j]:
                    inside_flat[t] = i * ns + j
                    bins[t] = b
                    t += 1
                    if b < 0 or b > nb:
                        ok = False
                    else:
                        counts[b] += 1
    by_bin = np.empty(0, np.intp)
    starts = np.empty(0, np.intp)
    ends = np.empty(0, np.intp)
    flat_by_bin = np.empty(0, np.intp)
    if grouped and ok:
        first = np.empty(nb + 1, np.intp)
        acc = 0
        for k in range(nb + 1):
            first[k] = acc
            acc += counts[k]
        starts = first[:nb].copy()
        ends = np.empty(nb, np.intp)
        for k in range(nb):
            ends[k] = first[k] + counts[k]
        by_bin = np.empty(n_inside, np.intp)
        flat_by_bin = np.empty(n_inside, np.intp)
        for t in range(n_inside):  # (a counting sort: stable)
            b = bins[t]
            by_bin[first[b]] = t
            flat_by_bin[first[b]] = inside_flat[t]
            first[b] += 1
    return where, inside, where_flat, bins, at, by_bin, starts, ends, flat_by_bin, ok


@njit(cache=True, error_model="numpy")
def abs_max_at(z: np.ndarray, idx: np.ndarray) -> float:
    """max |z| (float64) over the flat indices ``idx`` of the 1-D ``z``; NaN where one is NaN, 0 for none."""
    top = 0.0
    for t in range(idx.shape[0]):
        v = np.float64(abs(z[idx[t]]))
        if np.isnan(v):
            return np.nan
        if v > top:
            top = v
    return top


def warm_up() -> None:
    """Call every kernel once with the argument types detection gives them (float32 images, float64
    kernels, an int8 zone map), so that a fresh process (a Dask worker) compiles them or loads them from
    the cache before the first frame, not during it."""
    x = np.zeros((4, 5), np.float32)
    w = np.array([0.25, 0.5, 0.25])
    terms = np.array([w, w])
    terms.setflags(write=False)  # (the background's stacked kernel terms are read-only)
    correlate_lines(x, w, False, 0.0, 0, 4)
    correlate_samples(x, w, False, 0.0, 0, 5)
    separable_sum(x, terms, terms, 0, 4, 0, 5)
    one = np.float32(1.0)
    phase_snr(x, x, x, x, x, x, x, x, one, one, one, one)
    uniform_box_mean(x, 3)
    grid_box_mean_nearest(x.reshape((1, 4, 5)), 3)
    med, cnt = np.zeros((2, 6), np.float32), np.zeros((2, 6), np.intp)
    present, fills, _ = block_fills(med, cnt, np.zeros((6, 4), np.int8), 1.0)
    block_grids(med, cnt, present, fills, 1.0, 2, 3, 1.0)
    laplace_residual(x, np.ones(x.shape, np.bool_), np.float32(0.25))
    masked_difference(x, x, np.ones(x.shape, np.bool_))
    level_bin_stats(x.ravel(), x.ravel().astype(np.float64), np.arange(20), 1, 0.1)
    level_bin_stats_sorted(x.ravel(), np.sort(x.ravel()), x.ravel().astype(np.float64), 1, 0.1)
    fill_box_mean(x, np.ones(x.shape, np.bool_), 1, np.float32(1e-3))
    fill_box_mean_at(x, np.ones(x.shape, np.bool_), 1, np.float32(1e-3), np.zeros(x.shape, np.bool_))
    block_order_stats(x, np.zeros(x.shape, np.int8), np.arange(4), 2, 0.5)
    grow_diamond(np.zeros(x.shape, np.bool_), 1)
    running_median_nearest(np.ones(5), 3)
    bin_order_stats(x.ravel(), np.arange(4), np.zeros(1, np.intp), np.ones(1, np.intp), 0.5, 1)
    raise_at(x.reshape(-1), np.arange(4), np.zeros(4, np.intp), np.ones(1))
    abs_max_at(x.ravel(), np.arange(4))
    side = np.zeros(x.shape, np.intp)
    block_index(side, 2, 2, 3, 6)
    take_blocks(np.zeros((3, 2, 3), np.float32), side.astype(np.int8), 2)
    zone_in_blocks(np.ones(x.shape, np.bool_), side.astype(np.int8), 2, 2, 3)
    abs_in_blocks(x, 2, 2, 3)
    dist, sel = np.zeros(x.shape), np.ones(x.shape, np.bool_)
    dist.setflags(write=False)  # (the background passes read-only views: one signature)
    sel.setflags(write=False)
    distance_bins(dist, sel, 0.0, 1.0, 0.5, 2, True)
    ends, near = np.zeros((1, 3)), np.zeros(1)
    ends.setflags(write=False)  # (the pad's weights are read-only, cached by the background)
    xp, _ = pad_odd_lines(x, 1, terms[0], ends, near, near, terms[0], 3)  # (float32 images: detection's)
    pad_odd_samples(xp, 1, terms[0], ends, near, near, terms[0], 3)
    annulus_mean(x, 0, 1, 1, 3, 1, 4)
    ok = np.ones(x.shape, np.bool_)
    clipped_outliers(x, x, ok, np.float32(5.0))
    positive_median_at(x, ok)


@njit(cache=True, error_model="numpy")
def annulus_mean(
    x: np.ndarray, h0: int, h1: int, lo0: int, hi0: int, lo1: int, hi1: int
) -> tuple[np.ndarray, bool]:
    """(mean of ``x`` over the square annulus h0 < max(|dl|, |ds|) ≤ h1 around each pixel of the box
    [lo0, hi0) × [lo1, hi1), indices beyond ``x`` clamped to its edge as mode ``nearest`` does; in ``x``'s
    type, True) — the background kernel of a plane (or a constant) fitted over that annulus, whose weights are
    all 1 / N: the (2 h1 + 1)² box sum less the (2 h0 + 1)² one, from a float64 summed-area table, instead of
    its two separable terms (not bit for bit: rounded once from float64, where the terms' sum rounds each
    pass to ``x``'s type). False (and no values) where ``x`` is not finite there (a table would carry the
    NaN past the kernel's reach)."""
    nl, ns = x.shape
    r0 = lo0 - h1
    c0 = lo1 - h1
    n = hi0 - lo0 + 2 * h1
    m = hi1 - lo1 + 2 * h1
    sat = np.zeros((n + 1, m + 1))
    for a in range(n):
        i = min(max(r0 + a, 0), nl - 1)
        acc = 0.0
        for b in range(m):
            j = min(max(c0 + b, 0), ns - 1)
            v = np.float64(x[i, j])
            if not np.isfinite(v):
                return np.empty((0, 0), x.dtype), False
            acc += v
            sat[a + 1, b + 1] = sat[a, b + 1] + acc
    inv = 1.0 / ((2 * h1 + 1) ** 2 - (2 * h0 + 1) ** 2)
    out = np.empty((hi0 - lo0, hi1 - lo1), x.dtype)
    d0 = h1 - h0  # where the inner box starts in the table, relative to the outer one
    w1 = 2 * h1 + 1
    w0 = 2 * h0 + 1
    for i in range(hi0 - lo0):
        for j in range(hi1 - lo1):
            outer = sat[i + w1, j + w1] - sat[i, j + w1] - sat[i + w1, j] + sat[i, j]
            a, b = i + d0, j + d0
            inner = sat[a + w0, b + w0] - sat[a, b + w0] - sat[a + w0, b] + sat[a, b]
            out[i, j] = (outer - inner) * inv
    return out, True
