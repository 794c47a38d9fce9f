"""Expected shading of Io's sunlit disk from the geometry: the shape the background follows near the limb.

Near the bright limb the reflected light changes far faster than a local quadratic can follow (the photometric
function steepens as μ → 0 and the disk ends within the PSF). :func:`shading_template` gives the smooth
expected shape — a Minnaert law μ₀ᵏ μᵏ⁻¹ with k fitted to the frame, blurred by the PSF — and the background
estimator works on data ÷ template (an albedo map, smooth up to texture) where the template is reliable.
"""

from __future__ import annotations

import numpy as np

from ioscan.detect.psf import PsfModel
from ioscan.geometry.backplanes import Backplanes
from ioscan.robust import mad_sigma

#: Minnaert exponent range accepted from the fit (outside it the fit is not trusted and the template is None)
K_RANGE = (0.3, 1.3)
#: fewest sunlit disk pixels (μ₀, μ > 0.15, away from the limb) for a template
MIN_SUNLIT_PIXELS = 200
#: smallest μ used in μᵏ⁻¹ (the law diverges at the limb for k < 1)
MU_FLOOR = 0.03


def sunlit_mask(backplanes: Backplanes, window: tuple[slice, slice] | None = None) -> np.ndarray:
    """True on disk pixels the Sun shines on (incidence < 90°, none with Io in Jupiter's shadow,
    :attr:`Backplanes.in_jupiter_shadow`), over ``window`` of the backplanes."""
    win = window or (slice(None), slice(None))
    if backplanes.in_jupiter_shadow:
        return np.zeros(np.shape(backplanes.on_disk[win]), bool)
    return backplanes.on_disk[win] & (np.asarray(backplanes["incidence_deg"])[win] < 90.0)  # NaN: not lit


def minnaert_exponent(data: np.ndarray, mu0: np.ndarray, mu: np.ndarray, sel: np.ndarray) -> float | None:
    """Minnaert k from log(I·μ) = log A + k·log(μ₀·μ) over pixels ``sel`` (positive data), or None."""
    ok = np.flatnonzero(sel & np.isfinite(data) & (data > 0))
    if ok.size < MIN_SUNLIT_PIXELS:
        return None
    ok = ok[:: ok.size // 4000 + 1]  # a few thousand pixels fix two parameters
    yv = np.log(data.flat[ok] * mu.flat[ok])
    xv = np.log(mu0.flat[ok] * mu.flat[ok])
    if float(np.ptp(xv)) < 0.2:  # too little range in μ₀μ to separate k from A: Lambert-like default
        return 0.8
    for _ in range(2):  # least squares, then again without the worst outliers (hot spots, dark paterae)
        k, a = np.polyfit(xv, yv, 1)
        r = yv - (a + k * xv)
        s = mad_sigma(r)
        keep = np.abs(r) < 3.0 * max(s, 1e-6)
        if keep.sum() < MIN_SUNLIT_PIXELS:
            break
        xv, yv = xv[keep], yv[keep]
    k = float(np.polyfit(xv, yv, 1)[0])
    return k if K_RANGE[0] <= k <= K_RANGE[1] else None


def shading_template(
    data: np.ndarray,
    backplanes: Backplanes,
    psf: PsfModel,
    window: tuple[slice, slice] | None = None,
    *,
    away_from_limb_px: float = 4.0,
) -> np.ndarray | None:
    """PSF-blurred Minnaert shading μ₀ᵏ μᵏ⁻¹ of the sunlit disk (0 off the disk and on the night side),
    relative units, over ``window`` of the image (default: all of it), or None when the window shows too
    little sunlit disk for a fit (night side, Io not in view) or the fitted k is implausible. Pixel-centre
    geometry (the limb band itself is never used)."""
    if backplanes.shape != np.shape(data):
        return None
    win = window or (slice(None), slice(None))
    on = sunlit_mask(backplanes, win)
    if np.count_nonzero(on) < MIN_SUNLIT_PIXELS:  # night side (at most a sliver of lit limb)
        return None
    # μ₀ and μ on the sunlit disk only (NaN elsewhere, never read): the cosines are most of the cost
    mu0, mu = np.full(on.shape, np.nan), np.full(on.shape, np.nan)
    mu0[on] = np.cos(np.radians(np.asarray(backplanes["incidence_deg"])[win][on]))
    mu[on] = np.cos(np.radians(np.asarray(backplanes["emission_deg"])[win][on]))
    lit = on & np.isfinite(mu)
    data = np.asarray(data)[win]
    d = np.asarray(backplanes["limb_distance_px"], dtype=float)[win]
    # a NaN distance counts as −1 px (plain comparison: NaN is never beyond a threshold of −1 px or more)
    away = away_from_limb_px
    far = d > away if away >= -1.0 else np.nan_to_num(d, nan=-1.0) > away
    fit_sel = lit & (mu0 > 0.15) & (mu > 0.15) & far
    k = minnaert_exponent(np.asarray(data, dtype=float), mu0, mu, fit_sel)
    if k is None:
        return None
    raw = np.zeros(np.shape(data))
    raw[lit] = mu0[lit] ** k * np.maximum(mu[lit], MU_FLOOR) ** (k - 1.0)
    return blur_support(raw, lit, psf)


def blur_support(raw: np.ndarray, support: np.ndarray, psf: PsfModel) -> np.ndarray:
    """``psf.correlate(raw, mode="nearest")`` of an image that is 0 outside ``support``, bit for bit, computed
    on the bounding box of ``support`` grown by the PSF kernels' reach (beyond it every output is an exact 0,
    and the box's own edges see zeros, as the whole image's do)."""
    rows, cols = np.flatnonzero(support.any(axis=1)), np.flatnonzero(support.any(axis=0))
    if rows.size == 0:
        return psf.correlate(raw, mode="nearest")
    reach = blur_reach_px(psf)
    nl, ns = raw.shape
    box = (
        slice(max(rows[0] - reach, 0), min(rows[-1] + reach + 1, nl)),
        slice(max(cols[0] - reach, 0), min(cols[-1] + reach + 1, ns)),
    )
    out = np.zeros(raw.shape)
    out[box] = psf.correlate(raw[box], mode="nearest")
    return out


def blur_reach_px(psf: PsfModel) -> int:
    """How far (px) the PSF's correlation spreads a pixel, plus a margin: the largest line or sample kernel
    radius of any component (:func:`ioscan.detect.psf.kernel1d`: ceil(4σ), one more when shifted) + 1."""
    sig = np.ravel([psf.axis_sigmas_px(s) for s in psf.sigmas_px])
    return max(max(1, int(np.ceil(4.0 * s))) + 1 for s in sig) + 1


def template_crops_to(backplanes: Backplanes, psf: PsfModel, window: tuple[slice, slice]) -> bool:
    """True when :func:`shading_template` over ``window`` equals the whole image's template cropped to it, bit
    for bit: every sunlit pixel, grown by the blur's reach (:func:`blur_reach_px`), lies inside ``window``
    (the image's edges bound both alike). The Minnaert fit then sees the same pixels in the same order, the
    raw shading is the same, and :func:`blur_support` blurs the same box with the same edges."""
    on = sunlit_mask(backplanes)
    rows, cols = np.flatnonzero(on.any(axis=1)), np.flatnonzero(on.any(axis=0))
    if rows.size == 0:  # no sunlit pixel: both are None
        return True
    reach = blur_reach_px(psf)
    nl, ns = on.shape
    (wl0, wl1, _), (ws0, ws1, _) = window[0].indices(nl), window[1].indices(ns)
    return (
        wl0 <= max(rows[0] - reach, 0)
        and min(rows[-1] + reach + 1, nl) <= wl1
        and ws0 <= max(cols[0] - reach, 0)
        and min(cols[-1] + reach + 1, ns) <= ws1
        and window[0].step in (None, 1)
        and window[1].step in (None, 1)
    )
