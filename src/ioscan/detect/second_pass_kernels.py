"""Compiled loops of the second pass (numba, ``cache=True``; no fastmath, no parallel), the same bit for bit
as the numpy code they replace (:func:`ioscan.detect.second_pass.radial_profiles_numpy`,
:func:`ioscan.detect.second_pass.measured_model_error_numpy`: the means there are numpy's pairwise sums,
:func:`_pairwise_small`). For the azimuthal medians:

* the radius of a pixel is ``hypot(line − y, sample − x)`` in float64 (numpy's and numba's ``hypot`` are
  both the C library's);
* ``np.digitize(r, edges)`` on increasing edges is the number of edges ≤ r, so a ring bin j holds
  edges[j] ≤ r < edges[j + 1], compared in float64 as numpy does;
* ``np.median`` of n finite values is the middle one of them sorted, or for even n the mean of the two
  middle ones, (a + b) / 2 (numpy's mean of two values) — selected here, not sorted (:func:`_middle_median`);
  which of two equal values is taken matters only for −0 against +0, so a bin whose median is zero while it
  holds both signed zeros is reported and the caller falls back to numpy;
* ``np.interp`` is numpy's ``arr_interp``: left of the first centre the first median, right of the last 0,
  on a centre its median, else slope · (r − xp[j]) + fp[j] with slope (fp[j+1] − fp[j]) / (xp[j+1] − xp[j])
  (and numpy's NaN fall-backs).

Units: pixels (lines, samples) for positions and radii; values in the units of the residual image.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ioscan.detect.background_kernels import _pairwise_small


@njit(cache=True)
def _interp(r: float, xp: np.ndarray, fp: np.ndarray, n: int, right: float) -> float:
    """numpy's ``np.interp(r, xp[:n], fp[:n], right=right)`` for one finite ``r`` (xp increasing, n ≥ 2)."""
    if r > xp[n - 1]:
        return right
    if r < xp[0]:
        return fp[0]
    j = 0
    hi = n - 1
    if r == xp[n - 1]:
        return fp[n - 1]
    while hi - j > 1:  # xp[j] <= r < xp[hi]
        mid = (j + hi) // 2
        if xp[mid] <= r:
            j = mid
        else:
            hi = mid
    if xp[j] == r:
        return fp[j]
    slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j])
    res = slope * (r - xp[j]) + fp[j]
    if math.isnan(res):
        res = slope * (r - xp[j + 1]) + fp[j + 1]
        if math.isnan(res) and fp[j] == fp[j + 1]:
            res = fp[j]
    return res


#: below this many values a selection's range is finished by an insertion sort
_INSERTION_RUN = 16


@njit(cache=True)
def _middle_median(v: np.ndarray) -> tuple[float, bool]:
    """numpy's median of the finite values ``v`` (reordered here in place), and whether it is ambiguous: zero
    while ``v`` holds both −0 and +0 (numpy's partition may pick either). The middle value is selected
    (quickselect: Hoare partitions about the median of three, a short range finished by an insertion sort),
    not the whole ring sorted: v[h] is then the h-th smallest value (h = n // 2) with every value before it
    ≤ it, so for even n the other middle value is the largest of those; the same values as a sort gives."""
    n = v.size
    h = n // 2
    lo, hi = 0, n - 1
    while hi > lo:
        if hi - lo < _INSERTION_RUN:
            for a in range(lo + 1, hi + 1):
                t = v[a]
                b = a - 1
                while b >= lo and v[b] > t:
                    v[b + 1] = v[b]
                    b -= 1
                v[b + 1] = t
            break
        mid = (lo + hi) >> 1
        if v[mid] < v[lo]:
            v[mid], v[lo] = v[lo], v[mid]
        if v[hi] < v[lo]:
            v[hi], v[lo] = v[lo], v[hi]
        if v[hi] < v[mid]:
            v[hi], v[mid] = v[mid], v[hi]
        piv = v[mid]
        i, j = lo, hi
        while i <= j:
            while v[i] < piv:
                i += 1
            while piv < v[j]:
                j -= 1
            if i <= j:
                v[i], v[j] = v[j], v[i]
                i += 1
                j -= 1
        # (now v[lo..j] ≤ piv ≤ v[i..hi], and every value between them equals piv)
        if h <= j:
            hi = j
        elif h >= i:
            lo = i
        else:
            break
    if n % 2 == 1:
        med = v[h]
        mid_zero = v[h] == 0.0
    else:
        below = v[0]
        for t in range(1, h):
            if v[t] > below:
                below = v[t]
        med = (below + v[h]) / 2.0
        mid_zero = below == 0.0 or v[h] == 0.0
    if not mid_zero:
        return med, False
    neg = False
    pos = False
    for t in v:
        if t == 0.0:
            if math.copysign(1.0, t) < 0.0:
                neg = True
            else:
                pos = True
    return med, neg and pos


@njit(cache=True)
def radial_profiles_kernel(
    work: np.ndarray, x: np.ndarray, y: np.ndarray, edges: np.ndarray, r_int: int, min_count: int
) -> tuple[np.ndarray, bool]:
    """The azimuthal-median profiles of ``work`` (float64 lines × samples, NaN where unusable; changed in
    place: each profile subtracted before the next) around each position (sample ``x``, line ``y``, px) in
    ring bins ``edges`` (px, increasing, the last the radius), in patches of half-size ``r_int`` px about
    them: their image, and False where a median was ambiguous (−0 against +0; the image is then not
    complete)."""
    nl, ns = work.shape
    out = np.zeros((nl, ns))
    n_bins = edges.size - 1
    r_max = edges[n_bins]
    side = 2 * r_int + 2
    rad = np.empty(side * side)
    kbin = np.empty(side * side, np.int64)
    counts = np.zeros(n_bins, np.int64)
    start = np.zeros(n_bins + 1, np.int64)
    vals = np.empty(side * side)
    fill = np.zeros(n_bins, np.int64)
    centres = np.empty(n_bins)
    meds = np.empty(n_bins)
    for i in range(x.size):
        xi, yi = x[i], y[i]
        l0 = max(int(math.floor(yi)) - r_int, 0)
        l1 = min(int(math.ceil(yi)) + r_int + 1, nl)
        s0 = max(int(math.floor(xi)) - r_int, 0)
        s1 = min(int(math.ceil(xi)) + r_int + 1, ns)
        if l0 >= l1 or s0 >= s1:
            continue
        w = s1 - s0
        counts[:] = 0
        p = 0
        for ll in range(l0, l1):
            for ss in range(s0, s1):
                r = math.hypot(float(ll) - yi, float(ss) - xi)
                rad[p] = r
                k = -1
                if edges[0] <= r < r_max and np.isfinite(work[ll, ss]):
                    lo, hi = 0, n_bins  # (bisection: edges[lo] ≤ r < edges[hi])
                    while hi - lo > 1:
                        mid = (lo + hi) >> 1
                        if edges[mid] <= r:
                            lo = mid
                        else:
                            hi = mid
                    k = lo
                    counts[k] += 1
                kbin[p] = k
                p += 1
        start[0] = 0
        for j in range(n_bins):
            start[j + 1] = start[j] + counts[j]
            fill[j] = start[j]
        p = 0
        for ll in range(l0, l1):
            for ss in range(s0, s1):
                k = kbin[p]
                if k >= 0:
                    vals[fill[k]] = work[ll, ss]
                    fill[k] += 1
                p += 1
        n_prof = 0
        for j in range(n_bins):
            if counts[j] >= min_count:
                med, ambiguous = _middle_median(vals[start[j] : start[j + 1]])
                if ambiguous:
                    return out, False
                centres[n_prof] = 0.5 * (edges[j] + edges[j + 1])
                meds[n_prof] = med
                n_prof += 1
        if n_prof < 2:
            continue
        for ll in range(l0, l1):
            for ss in range(s0, s1):
                r = rad[(ll - l0) * w + (ss - s0)]
                prof = _interp(r, centres, meds, n_prof, 0.0) if r < r_max else 0.0
                out[ll, ss] += prof
                work[ll, ss] -= prof
    return out, True


@njit(cache=True, error_model="numpy")
def add_stamps(
    out: np.ndarray, p: np.ndarray, flux: np.ndarray, ci: np.ndarray, cj: np.ndarray, r: int
) -> None:
    """Each ``flux[k]`` × stamp ``p[k]`` ((2r + 1)², centred on pixel (``ci[k]``, ``cj[k]``)) added to the 2-D
    ``out`` where it falls inside, source by source in row-major stamp order: ``np.add.at`` of the values
    ``(flux[:, None, None] * p)[inside]`` at their pixels (:func:`ioscan.detect.second_pass.source_image`),
    the same sums."""
    nl, ns = out.shape
    m = 2 * r + 1
    for k in range(p.shape[0]):
        f = flux[k]
        for a in range(m):
            li = ci[k] - r + a
            if li < 0 or li >= nl:
                continue
            for b in range(m):
                sj = cj[k] - r + b
                if sj >= 0 and sj < ns:
                    out[li, sj] += f * p[k, a, b]


@njit(cache=True, error_model="numpy")
def add_at(out: np.ndarray, li: np.ndarray, sj: np.ndarray, vals: np.ndarray) -> None:
    """``np.add.at(out, (li, sj), vals)``: each value added to its pixel of the 2-D ``out`` in turn, in the
    order given (np.add.at's order: the same sums)."""
    for t in range(li.shape[0]):
        out[li[t], sj[t]] += vals[t]


#: most values :func:`~ioscan.detect.background_kernels._pairwise_small` sums (numpy's pairwise sum splits
#: larger blocks, recursively; that one does not recurse, which numba's cache needs across modules)
PAIRWISE_BLOCK = 128


@njit(cache=True, error_model="numpy")
def model_error_ratios(
    left: np.ndarray,
    src: np.ndarray,
    background: np.ndarray,
    usable: np.ndarray,
    noise: np.ndarray,
    lines: np.ndarray,
    samples: np.ndarray,
    disk: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Per source at pixel (``lines``, ``samples``): √(max(⟨r²⟩ − ⟨σ²⟩, 0) / ⟨m²⟩) over the ``usable`` pixels
    of the offset mask ``disk`` ((2h + 1)², centred on it; at most :data:`PAIRWISE_BLOCK` pixels) inside the
    image, r = ``left`` − ``background``, σ = ``noise`` (as float64) and m = ``src``, and whether it was taken
    (not where fewer than 5 pixels or ⟨m²⟩ ≤ 0). The means are numpy's (pairwise sums in row-major pixel
    order, ÷ n) and max is Python's (NaN and −0 kept), as
    :func:`ioscan.detect.second_pass.measured_model_error_numpy` takes them."""
    nl, ns = left.shape
    h = disk.shape[0] // 2
    cap = disk.shape[0] * disk.shape[1]
    m_sq = np.empty(cap)
    r_sq = np.empty(cap)
    n_sq = np.empty(cap)
    out = np.zeros(lines.shape[0])
    taken = np.zeros(lines.shape[0], np.bool_)
    for k in range(lines.shape[0]):
        yi, xi = lines[k], samples[k]
        n = 0
        for ll in range(max(yi - h, 0), min(yi + h + 1, nl)):
            for ss in range(max(xi - h, 0), min(xi + h + 1, ns)):
                if disk[ll - yi + h, ss - xi + h] and usable[ll, ss]:
                    m = np.float64(src[ll, ss])
                    r = np.float64(left[ll, ss]) - np.float64(background[ll, ss])
                    v = np.float64(noise[ll, ss])
                    m_sq[n] = m * m
                    r_sq[n] = r * r
                    n_sq[n] = v * v
                    n += 1
        if n < 5:
            continue
        m2 = (0.0 + _pairwise_small(m_sq, n)) / n
        if m2 <= 0:
            continue
        excess = (0.0 + _pairwise_small(r_sq, n)) / n - (0.0 + _pairwise_small(n_sq, n)) / n
        if excess < 0.0:  # (Python's max(excess, 0.0): NaN and −0 stay)
            excess = 0.0
        out[k] = math.sqrt(excess / m2)
        taken[k] = True
    return out, taken


@njit(cache=True)
def or_disks(out: np.ndarray, xi: np.ndarray, yi: np.ndarray, r: int, disk: np.ndarray) -> None:
    """``out`` (bool, lines × samples) set True where the offset mask ``disk`` ((2r + 1)², centred) reaches
    from each pixel (sample ``xi``, line ``yi``), clipped to ``out``: :func:`ioscan.detect.second_pass.
    near_sources`' windows, in place."""
    nl, ns = out.shape
    for k in range(xi.shape[0]):
        x, y = xi[k], yi[k]
        l0, l1 = max(y - r, 0), min(y + r + 1, nl)
        s0, s1 = max(x - r, 0), min(x + r + 1, ns)
        if l0 >= l1 or s0 >= s1:
            continue
        for i in range(l0, l1):
            for j in range(s0, s1):
                if disk[i - y + r, j - x + r]:
                    out[i, j] = True
