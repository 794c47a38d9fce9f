"""Robust scale estimates shared by every stage."""

from __future__ import annotations

import numpy as np

#: Gaussian σ per median absolute deviation
MAD_TO_SIGMA = 1.4826


def mad_sigma(x: np.ndarray, *, max_samples: int | None = None) -> float:
    """1.4826 × median |x − median x| (the σ of a Gaussian sample), 0 for an empty one; with ``max_samples``,
    from every k-th value of a larger sample (fast on whole images)."""
    x = np.asarray(x)
    if x.size == 0:
        return 0.0
    if max_samples is not None and x.size > max_samples:
        x = x[:: x.size // max_samples + 1]
    med = median_or_nan(x)
    return float(MAD_TO_SIGMA * median_or_nan(np.abs(x - med)))


#: from this many values :func:`median_or_nan` selects at the middle alone (numpy's vectorised selection, ~10×
#: faster on a frame's pixels than the several points np.median partitions at once); below, at those points
MIDDLE_ALONE_FROM = 256


def median_or_nan(x: np.ndarray):
    """``np.median`` of an array, the same value and type (NaN if any value is NaN); a non-empty 1-D float32
    or float64 array by partition without its generic overhead: a short one at the middle value(s) and the
    maximum, as np.median partitions; from :data:`MIDDLE_ALONE_FROM` values at the middle alone and the
    largest value below it (the other middle one of an even count), and one or two distinct values by
    counting (numpy's selection slows ~20× on so many equal values: a white noise constant per region);
    others by np.median (which sums float16 in float32). A zero median is +0, as np.median's (its mean adds
    from +0), whatever the middle values' sign."""
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64) or x.ndim != 1 or x.size == 0:
        return np.median(x)
    n = x.size
    k = n // 2
    zero = x.dtype.type(0)
    if n < MIDDLE_ALONE_FROM:
        kth = [k, n - 1] if n % 2 else [k - 1, k, n - 1]
        part = np.partition(x, kth)
        if np.isnan(part[-1]):  # NaNs sort last
            return x.dtype.type(np.nan)
        return part[k] + zero if n % 2 else (part[k - 1] + part[k]) / x.dtype.type(2) + zero
    if np.isnan(x).any():
        return x.dtype.type(np.nan)
    lo_v, hi_v = x.min(), x.max()
    if lo_v == hi_v or np.count_nonzero(x == lo_v) + np.count_nonzero(x == hi_v) == n:
        n_lo = np.count_nonzero(x == lo_v)
        at_k = lo_v if k < n_lo else hi_v
        if n % 2:
            return at_k + zero
        return ((lo_v if k - 1 < n_lo else hi_v) + at_k) / x.dtype.type(2) + zero
    part = np.partition(x, k)
    if n % 2:
        return part[k] + zero
    return (part[:k].max() + part[k]) / x.dtype.type(2) + zero


def finite_median(x: np.ndarray) -> float:
    """``np.median`` of a non-empty, NaN-free 1-D array, the same value, by one partition (np.median also
    moves the maximum to the end to look for NaN)."""
    n = x.size
    k = n // 2
    part = np.partition(x, k)
    return float(part[k]) if n % 2 else float((part[:k].max() + part[k]) / 2.0)
