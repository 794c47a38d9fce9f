"""Io's disk seen in the data (no geometry): a circle fitted to the boundary of the bright region."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ioscan.detect.background_kernels import grow_diamond
from ioscan.robust import mad_sigma, median_or_nan

#: values :func:`robust_sigma` sub-samples a larger sample to
_MAD_SAMPLES = 6000


def robust_sigma(x: np.ndarray) -> float:
    """1.4826 × MAD of a sample (sub-sampled to ~6,000 values)."""
    return mad_sigma(x, max_samples=_MAD_SAMPLES)


def percentile(v: np.ndarray, q: float) -> float | np.floating:
    """``np.percentile(v, q)`` (linear interpolation, ``q`` a Python number), the same value and type, by one
    partition at the upper of the two values it interpolates between (numpy's vectorised selection; several
    points at once fall back to a slower one) and the largest value below it, with numpy's own interpolation
    arithmetic (a weak scalar ``q``: in ``v``'s type), without its generic overhead; NaN, tiny or non-float
    samples and the extreme quantiles go to np.percentile itself."""
    v = np.ravel(v)
    n = v.size
    if n < 2 or v.dtype.kind != "f" or type(q) not in (int, float):
        return np.percentile(v, q)
    vi = (n - 1) * np.true_divide(q, 100)
    lo = int(np.floor(vi))
    if not 0 <= lo < n - 1 or np.isnan(v).any():
        return np.percentile(v, q)
    part = np.partition(v, lo + 1)
    a, b = part[: lo + 1].max(), part[lo + 1]
    g = float(vi - lo)
    d = b - a
    return b - d * (1 - g) if g >= 0.5 else a + d * g


def grow(mask: np.ndarray, k: int) -> np.ndarray:
    """``mask`` grown by ``k`` pixels (``k`` binary dilations with the 4-connected cross: a diamond).

    Compiled (:func:`ioscan.detect.background_kernels.grow_diamond`): the pixels within L1 distance ``k`` of
    a True pixel, which ``k`` cross dilations inside the image reach exactly (the shortest path between two
    pixels of the image stays in it) — ``ndimage.binary_dilation``'s pixels."""
    mask = np.asarray(mask, bool)
    if k <= 0 or not mask.any():
        return mask.copy()
    return grow_diamond(np.ascontiguousarray(mask), int(k))


def laplacian_noise(data: np.ndarray) -> float:
    """Typical pixel noise: robust scale of the pixel minus the mean of its 4 neighbours, ÷ √1.25 (smooth
    structure cancels; NaN neighbourhoods are skipped)."""
    raw = np.asarray(data)
    nl, ns = raw.shape
    n = max(nl - 2, 0) * max(ns - 2, 0)
    if n > _MAD_SAMPLES and raw.dtype == np.float32 and np.isfinite(raw).all():
        # every Laplacian is finite (float32 values cannot overflow float64 sums): robust_sigma's sub-sample
        # is every k-th of them in line order, and only those are computed (the same float64 arithmetic)
        j = np.arange(0, n, n // _MAD_SAMPLES + 1)
        f = (j // (ns - 2) + 1) * ns + j % (ns - 2) + 1  # their flat pixel indices
        flat = raw.ravel()
        at = [flat.take(f + o).astype(np.float64) for o in (0, -ns, ns, -1, 1)]
        lap = at[0] - 0.25 * (at[1] + at[2] + at[3] + at[4])
        return mad_sigma(lap) / np.sqrt(1.25)
    x = np.asarray(data, dtype=np.float64)
    lap = x[1:-1, 1:-1] - 0.25 * (x[:-2, 1:-1] + x[2:, 1:-1] + x[1:-1, :-2] + x[1:-1, 2:])
    v = lap[np.isfinite(lap)]
    return robust_sigma(v) / np.sqrt(1.25)


def limb_distance_from_data(
    data: np.ndarray,
    psf_sigma_px: float,
    *,
    min_radius_px: float | None = None,
    min_contrast_snr: float = 10.0,
) -> np.ndarray | None:
    """Signed limb distance (px, positive on the disk) of a disk seen in the data, or None.

    The disk is the largest region brighter than halfway between the sky and disk levels (Otsu split of a
    lightly smoothed image); its boundary is fitted with a circle (least squares), which gives a sub-pixel
    limb. Returns None when no disk stands out (night side, frame off Io) or the fit is poor.
    """
    img = np.asarray(data, dtype=np.float64)
    valid = np.isfinite(img)
    n_valid = int(np.count_nonzero(valid))
    if n_valid < 100:
        return None
    whole = n_valid == img.size  # every pixel valid: no fill (its median is never read), flat views
    if whole:
        sm = _box3(img)
        vals = sm.ravel()
    else:
        sm = _box3(np.where(valid, img, float(median_or_nan(img[valid]))))
        vals = sm[valid]
    if vals.size > 50000:
        vals = vals[:: vals.size // 50000 + 1]
    hist, edges = _histogram(vals, 256)
    p = hist / hist.sum()
    w0 = np.cumsum(p)
    mu = np.cumsum(p * 0.5 * (edges[1:] + edges[:-1]))
    with np.errstate(invalid="ignore", divide="ignore"):
        between = (mu[-1] * w0 - mu) ** 2 / (w0 * (1 - w0))
    between[~np.isfinite(between)] = -1
    thr = float(edges[np.argmax(between) + 1])
    lo = vals[vals <= thr]
    hi = vals[vals > thr]
    if lo.size < 20 or hi.size < 20:
        return None
    noise = robust_sigma(_valid_sample(img, sm, None if whole else valid)) * 1.2
    contrast = float(median_or_nan(hi) - median_or_nan(lo))
    if noise <= 0 or contrast < min_contrast_snr * noise / 3.0:
        return None
    lab, n = ndimage.label(sm > thr)
    if n == 0:
        return None
    sizes = np.bincount(lab.ravel(), minlength=n + 1)[1:]  # (ndimage.sum_labels of ones: the same counts)
    disk = fill_holes(lab == (int(np.argmax(sizes)) + 1))
    rmin = min_radius_px if min_radius_px is not None else 10 * psf_sigma_px
    if disk.sum() < np.pi * rmin**2 / 4:
        return None
    edge = disk & ~ndimage.binary_erosion(disk)
    # boundary pixels not on the frame edge
    edge[0, :] = edge[-1, :] = False
    edge[:, 0] = edge[:, -1] = False
    ly, sx = np.nonzero(edge)
    if ly.size < 10:
        return None
    # Kasa circle fit: x² + y² = 2ax + 2by + c
    a = np.column_stack([2 * sx, 2 * ly, np.ones_like(sx)]).astype(float)
    rhs = sx.astype(float) ** 2 + ly.astype(float) ** 2
    (xc, yc, c), *_ = np.linalg.lstsq(a, rhs, rcond=None)
    rad2 = c + xc * xc + yc * yc
    if rad2 <= 0:
        return None
    rad = float(np.sqrt(rad2)) + 0.5  # boundary pixel centres lie ~½ px inside the half-level contour
    resid = np.hypot(sx - xc, ly - yc) - (rad - 0.5)
    if float(np.sqrt(np.mean(resid**2))) > 1.5 or rad < rmin:
        return None
    yy, xx = np.ogrid[0 : img.shape[0], 0 : img.shape[1]]  # (broadcast: np.mgrid's values per pixel)
    return rad - np.hypot(xx - xc, yy - yc)


def _box3(img: np.ndarray) -> np.ndarray:
    """``ndimage.uniform_filter(img, 3)`` of a float64 image: compiled (its running sums,
    :func:`ioscan.detect.background_kernels.grid_box_mean_nearest`; a 3-wide window reaches one pixel past
    the edge, where scipy's default ``reflect`` and ``nearest`` read the same pixel)."""
    if img.ndim == 2 and img.dtype == np.float64 and img.size:
        from ioscan.detect.background_kernels import grid_box_mean_nearest

        return grid_box_mean_nearest(np.ascontiguousarray(img)[None], 3)[0]
    return ndimage.uniform_filter(img, 3)


def _histogram(vals: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.histogram(vals, bins=bins)`` (counts, edges) of finite float64 values: numpy's edges, the counts
    compiled (:func:`ioscan.detect.fit_kernels.uniform_histogram`, numpy's bin of each value)."""
    v = np.ascontiguousarray(vals)
    if v.dtype != np.float64 or v.ndim != 1 or not v.size or not np.isfinite(v).all():
        return np.histogram(vals, bins=bins)
    from ioscan.detect.fit_kernels import uniform_histogram

    edges = np.histogram_bin_edges(v, bins=bins)
    return uniform_histogram(v, edges), edges


def _valid_sample(img: np.ndarray, sm: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
    """``(img - sm)[valid]`` as :func:`robust_sigma` sub-samples it (every k-th value, in pixel order): only
    those differences are computed (the same values). ``valid`` None: every pixel."""
    if valid is None:
        k = img.size // _MAD_SAMPLES + 1 if img.size > _MAD_SAMPLES else 1
        return img.ravel()[::k] - sm.ravel()[::k]
    idx = np.flatnonzero(valid)
    if idx.size > _MAD_SAMPLES:
        idx = idx[:: idx.size // _MAD_SAMPLES + 1]
    return img.ravel()[idx] - sm.ravel()[idx]


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """``ndimage.binary_fill_holes(mask)`` (its default 4-connected cross): the pixels of ``mask`` and those
    of its complement that no 4-connected path of complement pixels links to the image's edge. One labelling
    of the complement instead of scipy's dilation from the edge repeated until it stops."""
    mask = np.asarray(mask, bool)
    lab, n = ndimage.label(~mask)
    if n == 0:
        return mask.copy()
    outside = np.zeros(n + 1, bool)
    for edge in (lab[0], lab[-1], lab[:, 0], lab[:, -1]):
        outside[edge] = True
    outside[0] = False  # (label 0: the mask itself)
    return ~outside[lab]
