"""Background, noise and matched-filter S/N map of one band image that knows Io's disk and limb.

Everything is whole-image ``scipy.ndimage`` filtering (C speed, no Python loops over cells):

* **regions**: with a signed limb distance ``d`` (pixels, positive on the disk) the image splits into disk
  (d > w), sky (d < −w) and a thin limb band (|d| ≤ w, w ≈ 1.5 PSF σ + 0.5 px) where the disk edge is
  blurred by the PSF. Disk and sky get their own background and noise, never mixed; the limb band is left
  out of the search and the fits (a source there is measured from its pixels outside the band).
* **background**: mean over a square annulus (half-sizes h0 < |offset| ≤ h1, a few PSF σ) of the same
  region's usable pixels — it skips the source's own core and follows albedo structure larger than the
  annulus. Two passes: the second drops outliers (cosmic rays, hot spots: matched-filter S/N > 3 or
  |residual| > 5σ, dilated).
* **noise**: white pixel variance a + b·background (read + Poisson-like), fitted per region from the lower
  quartile of the squared residuals in background bins (robust to structure); the matched-filter variance
  Σ P²·σ² is then raised where the filtered residual scatters more than that — locally (a box window of
  the same region) and along the limb (as a function of limb distance) — so albedo texture the background
  cannot follow, and limb residuals, lower the S/N honestly instead of making false detections.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ioscan.detect.psf import PsfModel, kernel1d

#: 25th percentile of χ²₁ (lower quartile of a squared unit Gaussian)
_Q25_CHI2 = 0.10153104
#: median of χ²₁
_MEDIAN_CHI2 = 0.45493642
#: matched-filter S/N and |residual|/σ above which pixels are treated as sources for the background
_MASK_SNR = 3.0
_MASK_RESID = 5.0


@dataclass
class BandModel:
    """Background, noise and S/N of one band image (arrays lines × samples, the analysed crop).

    Two annulus sizes are tried (:func:`annulus_sizes`); every pixel keeps the one whose matched filter is the
    less noisy there (the small one where albedo texture needs it, the large one on smooth or dark ground).

    Attributes:
        background: background per pixel (chosen annulus), image units.
        residual: data − background where ``usable``, else 0 (chosen annulus).
        residuals: the residual image of each annulus.
        choice: index of the annulus chosen at each pixel.
        annuli: (h0, h1) half-sizes of each annulus, pixels.
        usable: finite, unmasked pixels outside the limb band (the matched filter and fits use these).
        noise: effective 1-σ pixel noise (white noise raised by the local excess), image units.
        snr: matched-filter S/N map.
        bg_weight: pixels whose own values fed the final background (sources and outliers were replaced).
        region_weight: pixels counted by the background annuli (usable pixels of either region).
        limb_distance_px: signed limb distance (positive on the disk) or None.
        noise_median: median white noise over usable pixels, image units.
    """

    background: np.ndarray
    residual: np.ndarray
    residuals: list[np.ndarray]
    choice: np.ndarray
    annuli: list[tuple[int, int]]
    usable: np.ndarray
    noise: np.ndarray
    snr: np.ndarray
    bg_weight: np.ndarray
    region_weight: np.ndarray
    limb_distance_px: np.ndarray | None
    noise_median: float


def annulus_sizes(psf: PsfModel) -> list[tuple[int, int]]:
    """[(h0, h1) small, (h0, h1) large]: background annulus half-sizes for a PSF (pixels, from the core σ)."""
    s = psf.core_sigma_px
    h0 = max(1, int(round(2.0 * s)))
    return [(h0, h0 + max(1, int(round(1.5 * s)))), (h0, h0 + max(3, int(round(3.0 * s))))]


def _box(a: np.ndarray, h: int) -> np.ndarray:
    """Sums over (2h+1)² boxes of each image of a stack (zero outside)."""
    k = 2 * h + 1
    out = ndimage.uniform_filter1d(a, k, axis=-1, mode="constant")
    out = ndimage.uniform_filter1d(out, k, axis=-2, mode="constant")
    out *= float(k * k)
    return out


def annulus_mean(
    x: np.ndarray, w: np.ndarray, h0: int, h1: int, cache: dict | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean of ``x`` over the square annulus h0 < max(|dl|, |ds|) ≤ h1 for each weight map.

    Args:
        x: image (lines × samples), finite.
        w: weight stack (regions × lines × samples), 0/1.
        cache: box sums by half-size, reused between calls on the same ``x`` and ``w``.

    Returns:
        (mean, count), each regions × lines × samples; mean is 0 where count < 0.5.
    """
    cache = {} if cache is None else cache
    if "stack" not in cache:
        cache["stack"] = np.concatenate([x[None] * w, w]).astype(np.float32)
    for h in (h0, h1):
        if h not in cache:
            cache[h] = _box(cache["stack"], h)
    d = cache[h1] - cache[h0]
    n = len(w)
    num, cnt = d[:n], d[n:]
    ok = cnt > 0.5
    return np.where(ok, num / np.where(ok, cnt, 1.0), 0.0), cnt


def _pad_odd(x: np.ndarray, w: np.ndarray, p: int) -> tuple[np.ndarray, np.ndarray]:
    """Pad an image by ``p`` pixels with its point reflection about the edge pixels (2·edge − mirror: a
    gradient continues across the frame edge) and the weights accordingly (valid only if both are)."""
    p = min(p, x.shape[0] - 1, x.shape[1] - 1)
    if p <= 0:
        return x, w
    xp = np.pad(x, p, mode="reflect", reflect_type="odd")
    pw = ((0, 0), (p, p), (p, p))
    wp = np.pad(w, pw, mode="reflect") * np.pad(w, pw, mode="edge")
    return xp, wp


def _annulus_q(h0: int, h1: int) -> float:
    """⟨dx²⟩ over the square annulus h0 < max(|dl|, |ds|) ≤ h1 (the mean of a quadratic adds ∇²/2 × this)."""
    o = np.arange(-h1, h1 + 1)
    dl, ds = np.meshgrid(o, o, indexing="ij")
    sel = np.maximum(np.abs(dl), np.abs(ds)) > h0
    return float(np.mean(ds[sel] ** 2))


def _region_background(
    x: np.ndarray, w: np.ndarray, side: np.ndarray, h0: int, h1: int, *, curvature: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Background of every pixel from its own region's annulus (wider box where the annulus is nearly empty).

    ``side``: index of the region each pixel belongs to (regions × l × s weights ``w``). The image is
    extended beyond the frame edges by point reflection, so edge pixels get a centred annulus too.
    Returns (bg, count).
    """
    nl, ns = x.shape
    p = 3 * h1
    xp, wp = _pad_odd(x, w, p)
    p = (xp.shape[0] - nl) // 2
    crop = (slice(None), slice(p, p + nl), slice(p, p + ns))
    cache: dict = {}
    mean, cnt = annulus_mean(xp, wp, h0, h1, cache)
    if curvature:  # Richardson step: the outer annulus tells the local ∇², smoothed (it varies slowly)
        h2 = 2 * h1 - h0
        outer, cnt2 = annulus_mean(xp, wp, h1, h2, cache)
        q_in, q_out = _annulus_q(h0, h1), _annulus_q(h1, h2)
        ok = (cnt > 0.5 * ((2 * h1 + 1) ** 2 - (2 * h0 + 1) ** 2)) & (
            cnt2 > 0.5 * ((2 * h2 + 1) ** 2 - (2 * h1 + 1) ** 2)
        )
        kappa = np.where(ok, (outer - mean) / (q_out - q_in), 0.0)
        okf = ok.astype(np.float64)
        sm = _box(np.concatenate([kappa * okf, okf]).astype(np.float32), h1)
        n = len(w)
        kappa = np.where(sm[n:] > 0.5, sm[:n] / np.maximum(sm[n:], 1e-9), 0.0)
        mean = mean - kappa * q_in
    mean, cnt = mean[crop], cnt[crop]
    area = (2 * h1 + 1) ** 2 - (2 * h0 + 1) ** 2
    thin = cnt < 0.15 * area
    if np.any(thin):  # near masks and the far side of the limb: a 3× wider box of the same region
        n = len(w)
        wide = _box(cache["stack"], 3 * h1)[(slice(None), *crop[1:])]
        okw = wide[n:] > 0.5
        wmean = np.where(okw, wide[:n] / np.where(okw, wide[n:], 1.0), np.nan)
        for r in range(n):  # whole-region mean as the last resort
            sel = w[r] > 0
            fill = float(np.mean(x[sel])) if sel.any() else 0.0
            wmean[r] = np.where(np.isfinite(wmean[r]), wmean[r], fill)
        mean = np.where(thin, wmean, mean)
        cnt = np.where(thin, np.maximum(cnt, 1.0), cnt)
    idx = side[None]
    return np.take_along_axis(mean, idx, 0)[0], np.take_along_axis(cnt, idx, 0)[0]


def white_variance(bg: np.ndarray, resid: np.ndarray, sel: np.ndarray) -> np.ndarray:
    """Per-pixel white-noise variance a + b·max(bg, 0) fitted to the residuals of pixels ``sel``.

    Per background-level bin the variance is the lower quartile of resid² ÷ 0.1015 (the value for pure
    Gaussian noise, little raised by structure or outliers); a, b ≥ 0 by weighted least squares.
    """
    b = bg[sel]
    r2 = resid[sel].astype(np.float64) ** 2
    if b.size == 0:
        return np.ones_like(bg)
    if b.size > 8000:
        step = b.size // 8000 + 1
        b, r2 = b[::step], r2[::step]
    nb = int(np.clip(b.size // 400, 1, 8))
    order = np.argsort(b)
    lev, var, wts = [], [], []
    for chunk in np.array_split(order, nb):
        if chunk.size < 20:
            continue
        lev.append(float(np.median(b[chunk])))
        var.append(float(np.percentile(r2[chunk], 25)) / _Q25_CHI2)
        wts.append(chunk.size)
    lev_a, var_a = np.array(lev), np.array(var)
    if not lev or not np.all(np.isfinite(var_a)):
        v = float(np.median(r2)) / 0.4549364
        return np.full(bg.shape, max(v, 1e-30))
    span = float(np.ptp(lev_a)) if lev_a.size > 1 else 0.0
    a, c = float(np.median(var_a)), 0.0
    if lev_a.size >= 3 and span > 5.0 * np.sqrt(max(float(var_a.min()), 0.0)):  # a real range of levels
        c1, a1 = np.polyfit(lev_a, var_a, 1, w=np.sqrt(np.array(wts, float)))
        if c1 > 0 and a1 > 0:
            a, c = float(a1), float(c1)
    floor = 0.25 * float(var_a.min()) if var_a.min() > 0 else 1e-30
    return np.maximum(a + c * np.maximum(bg, 0.0), floor)


def _laplace_residual(x: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x − mean of its 4 neighbours (variance 1.25 σ² for white noise; smooth structure cancels), and where
    all five pixels are usable."""
    xp = np.pad(x, 1, mode="edge")
    op = np.pad(ok, 1, mode="constant")
    nb = xp[:-2, 1:-1] + xp[2:, 1:-1] + xp[1:-1, :-2] + xp[1:-1, 2:]
    good = ok & op[:-2, 1:-1] & op[2:, 1:-1] & op[1:-1, :-2] & op[1:-1, 2:]
    return x - 0.25 * nb, good


def _mf(a: np.ndarray, k: np.ndarray) -> np.ndarray:
    out = ndimage.correlate1d(a, k, axis=0, mode="constant")
    return ndimage.correlate1d(out, k, axis=1, mode="constant")


def _dilate(mask: np.ndarray, h: int) -> np.ndarray:
    if h <= 0 or not mask.any():
        return mask
    return ndimage.maximum_filter(mask.view(np.uint8), size=2 * h + 1, mode="constant").astype(bool)


def _compact(snr: np.ndarray, thr: float, sigma: float) -> np.ndarray:
    """Pixels of connected regions with S/N > ``thr`` that are no larger than a point source of their peak
    S/N would make them (the matched-filtered PSF has σ√2): compact sources, not extended structure."""
    above = snr > thr
    if not above.any():
        return above
    lab, n = ndimage.label(above)
    idx = np.arange(1, n + 1)
    area = np.bincount(lab.ravel(), minlength=n + 1)[1:]
    peak = ndimage.maximum(snr, lab, idx)
    allowed = (
        2.0 * np.pi * 2.0 * sigma * sigma * np.log(np.maximum(peak, thr) / thr) + 9.0 * max(sigma, 1.0) ** 2
    )
    keep = np.concatenate([[False], area <= allowed])
    return keep[lab]


def _limb_profile(
    d: np.ndarray, ratio: np.ndarray, sel: np.ndarray, lo: float, hi: float, step: float = 0.5
) -> np.ndarray:
    """Median of ``ratio`` (excess variance factor) in limb-distance bins over [lo, hi], ≥ 1, at every pixel
    (1 outside the range or where a bin has fewer than 20 pixels)."""
    out = np.ones(d.shape)
    nb = int(np.ceil((hi - lo) / step))
    inside = sel & (d >= lo) & (d < lo + nb * step)
    if not inside.any():
        return out
    b = ((d[inside] - lo) / step).astype(int)
    v = ratio[inside]
    order = np.lexsort((v, b))
    b, v = b[order], v[order]
    starts = np.searchsorted(b, np.arange(nb))
    ends = np.searchsorted(b, np.arange(nb), side="right")
    cnt = ends - starts
    mid = np.clip((starts + ends - 1) // 2, 0, max(v.size - 1, 0))
    f = np.where(cnt >= 20, v[mid], 1.0)
    f = np.maximum(f, 1.0)
    where = (d >= lo) & (d < lo + nb * step)
    out[where] = f[np.clip(((d[where] - lo) / step).astype(int), 0, nb - 1)]
    return out


def estimate_background(
    data: np.ndarray,
    *,
    psf: PsfModel,
    limb_distance_px: np.ndarray | None = None,
    mask: np.ndarray | None = None,
    limb_halfwidth_px: float | None = None,
    local_window_px: int | None = None,
) -> BandModel:
    """Background, noise and matched-filter S/N map of one band image (see the module docstring).

    Args:
        data: 2-D image (NaN = missing).
        psf: PSF model (its core σ sets the annuli, the limb band and the matched filter).
        limb_distance_px: signed limb distance per pixel (positive on the disk), or None (one region).
        mask: True where pixels must be ignored (saturated, bad).
        limb_halfwidth_px: half-width w of the limb band left out (None: 1.5 σ_core + 0.5 px).
        local_window_px: half-size of the window of the local excess-variance estimate (None: 2 × the large
            annulus).
    """
    sigma = psf.core_sigma_px
    x = np.asarray(data, dtype=np.float64)
    valid = np.isfinite(x)
    if mask is not None:
        valid &= ~np.asarray(mask, dtype=bool)
    x0 = np.where(valid, x, 0.0)
    annuli = annulus_sizes(psf)
    if limb_distance_px is None:
        d = None
        side = np.zeros(x.shape, np.intp)
        usable = valid.copy()
        regions = [usable]
    else:
        d = np.nan_to_num(np.asarray(limb_distance_px, dtype=np.float64), nan=-1e9)
        wb = 1.5 * sigma + 0.5 if limb_halfwidth_px is None else float(limb_halfwidth_px)
        side = (d > 0).astype(np.intp)  # 0 sky, 1 disk
        usable = valid & (np.abs(d) > wb)
        regions = [usable & (side == 0), usable & (side == 1)]
    w = np.stack(regions).astype(np.float32)
    kern = kernel1d(sigma)
    u = usable.astype(np.float64)
    h0, h1 = annuli[-1]
    hw = int(local_window_px or 2 * h1)
    # pass 1 (large annulus): white noise model and the compact sources / outliers to leave out
    bg1, cnt = _region_background(x0, w, side, h0, h1, curvature=False)
    r = np.where(usable, x0 - bg1, 0.0)
    lap, lap_ok = _laplace_residual(x0, usable)
    var = np.zeros(x.shape)
    for k, reg in enumerate(regions):
        if reg.any():
            var = np.where(side == k, white_variance(bg1, lap, reg & lap_ok) / 1.25, var)
    var = np.where(var > 0, var, np.max(var) if np.max(var) > 0 else 1.0)
    snr1, _, _ = _snr_map(r, var, u, cnt, kern, side, len(regions), d, None, hw, h0, h1, sigma)
    src = _compact(snr1, _MASK_SNR, sigma) | (np.abs(r) > _MASK_RESID * np.sqrt(var))
    src = _dilate(src, max(1, int(round(2.0 * sigma))))
    # pass 2, each annulus: sources and outliers replaced by the first background (a masked annulus would
    # lose its symmetry and turn gradients into offsets), curvature corrected
    xf = np.where(src, bg1, x0)
    best = None
    resids, bgs = [], []
    for k, (a0, a1) in enumerate(annuli):
        bg, cnt = _region_background(xf, w, side, a0, a1)
        rk = np.where(usable, x0 - bg, 0.0)
        snr_k, infl_k, den_k = _snr_map(rk, var, u, cnt, kern, side, len(regions), d, src, hw, a0, a1, sigma)
        eff = den_k * infl_k
        resids.append(rk)
        bgs.append(bg)
        if best is None:
            best = [eff, snr_k, infl_k, np.zeros(x.shape, np.intp)]
        else:
            better = eff < best[0]
            best[0] = np.where(better, eff, best[0])
            best[1] = np.where(better, snr_k, best[1])
            best[2] = np.where(better, infl_k, best[2])
            best[3][better] = k
    _, snr, infl, choice = best
    pick = choice[None]
    background = np.take_along_axis(np.stack(bgs), pick, 0)[0]
    residual = np.take_along_axis(np.stack(resids), pick, 0)[0]
    nv = np.sqrt(var[usable])
    return BandModel(
        background=background,
        residual=residual,
        residuals=resids,
        choice=choice,
        annuli=annuli,
        usable=usable,
        noise=np.sqrt(var * infl),
        snr=snr,
        bg_weight=(w.sum(axis=0) > 0) & ~src,
        region_weight=w.sum(axis=0) > 0,
        limb_distance_px=d,
        noise_median=float(np.median(nv)) if nv.size else 0.0,
    )


def _snr_map(r, var, u, cnt, kern, side, n_regions, d, src, hw, h0, h1, sigma):
    """Matched-filter S/N with the white-noise variance raised by the local and limb excess.

    The excess is the median of S²_white (÷ 0.455, its value for pure noise) over blocks of the same region
    and over limb-distance bins: medians, so the few hot spots and cosmic rays in a block do not raise it,
    while texture the background could not follow (present everywhere in the block) does.

    Returns (snr, excess factor, white matched-filter variance)."""
    num = _mf(r, kern)
    # white-noise matched-filter variance, plus the background-mean noise (correlated over the kernel)
    ksum = _mf(u, kern)
    den = _mf(var * u, kern * kern) + ksum * ksum * var / np.maximum(cnt, 1.0)
    safe = np.where(den > 0, den, np.inf)
    s_white = num / np.sqrt(safe)
    ratio = s_white * s_white / _MEDIAN_CHI2
    usable = (u > 0) & (den > 0)
    infl = np.maximum(_block_median(ratio, usable, side, n_regions, hw), 1.0)
    if d is not None:
        span = 4.0 * sigma + 2.0 + h1
        infl = np.maximum(infl, _limb_profile(d, ratio, usable, -span, span))
    return np.where(den > 0, s_white / np.sqrt(infl), 0.0), infl, den


def _block_median(ratio: np.ndarray, ok: np.ndarray, side: np.ndarray, n_regions: int, b: int) -> np.ndarray:
    """Per pixel: the mean over the 3×3 neighbouring b×b blocks of each block's median ``ratio`` (pixels
    ``ok`` of the pixel's own region; blocks with < b²/4 such pixels count as 1), or 0.6 × its own block's
    median if larger (an isolated textured block); floored at 1. The mean keeps the estimate's scatter, and
    so the bias of the floor, small on pure noise."""
    nl, ns = ratio.shape
    nbl, nbs = -(-nl // b), -(-ns // b)
    out = np.ones(ratio.shape)
    for k in range(n_regions):
        sel = ok & (side == k)
        if not sel.any():
            continue
        a = np.full((nbl * b, nbs * b), np.nan)
        a[:nl, :ns] = np.where(sel, ratio, np.nan)
        blocks = a.reshape(nbl, b, nbs, b).transpose(0, 2, 1, 3).reshape(nbl, nbs, b * b)
        n_ok = np.sum(np.isfinite(blocks), axis=2)
        blocks = np.sort(blocks, axis=2)  # NaNs last
        mid = np.maximum((n_ok - 1) // 2, 0)[..., None]
        med = np.take_along_axis(blocks, mid, 2)[..., 0]
        med = np.where(n_ok >= b * b / 4, med, 1.0)
        med = np.maximum(ndimage.uniform_filter(med, size=3, mode="nearest"), 0.6 * med)
        full = np.repeat(np.repeat(med, b, axis=0), b, axis=1)[:nl, :ns]
        out = np.where(side == k, full, out)
    return out
