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
    fit_law: str | None = None,
    report: list | None = None,
) -> np.ndarray | None:
    """PSF-blurred Minnaert shading μ₀ᵏ μᵏ⁻¹ of the sunlit disk (0 off the disk and on the night side),
    relative units, over ``window`` of the image (default: all of it), or None when the window shows too
    little sunlit disk for a fit (night side, Io not in view) or the fitted k is implausible. Pixel-centre
    geometry (the limb band itself is never used).

    ``fit_law``: "floor" or "subpixel": the law near the limb fitted to the disk's own pixels 0–3 px inside
    it (:data:`FLOOR_ZONE_PX`): the floor of μ in μᵏ⁻¹ (:data:`FLOOR_CANDIDATES`, k refitted with μ floored
    there), with "subpixel" also the limb's and the terminator's edges integrated over 3 × 3 sub-pixels
    (:func:`_subpixel_law`); the candidate whose blurred template leaves the smallest misfit (a·template + b,
    :func:`_limb_misfit`) is returned where it beats the pixel-centre law's by :data:`FLOOR_MARGIN`, else the
    pixel-centre template, bit for bit. ``report``: a list to which whether another law won is appended
    (nothing when no fit was made)."""
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
    data = np.asarray(data, dtype=float)
    k = minnaert_exponent(data, mu0, mu, fit_sel)
    if k is None:
        return None
    raw = np.zeros(np.shape(data))
    raw[lit] = mu0[lit] ** k * np.maximum(mu[lit], MU_FLOOR) ** (k - 1.0)
    out = blur_support(raw, lit, psf)
    if fit_law is None:
        return out
    # the law near the limb and the terminator fitted to the disk's own pixels (how the surface, or its
    # renderer, behaves as μ → 0 and μ₀ → 0 is not Minnaert's): each candidate (a floor of μ in the limb
    # factor, refitting k with μ floored there; with "subpixel" also the limb's and the terminator's edges
    # integrated over 3 × 3 sub-pixels) blurs its template; the one leaving the smallest misfit 0–3 px inside
    # the limb (μ₀ > 0.2) wins, the pixel-centre law unless another does better by a margin
    dd = np.nan_to_num(d, nan=-1.0)
    zone = lit & np.isfinite(data) & (dd < FLOOR_ZONE_PX) & (mu0 > 0.2)
    if np.count_nonzero(zone) < 50:
        return out
    base_miss = _limb_misfit(data, out, zone)
    if base_miss is None:
        return out
    best, best_miss = out, base_miss
    sub = None
    if fit_law == "subpixel":
        sub = _subpixel_geometry(backplanes, win, dd, on)
    floors = FLOOR_CANDIDATES if k < 1.0 - FLOOR_MIN_DK else ()
    cands = [(MU_FLOOR, k)] if sub is not None else []
    for floor in floors:
        kf = minnaert_exponent(data, mu0, np.maximum(mu, floor), fit_sel)
        if kf is not None:
            cands.append((floor, kf))
    for floor, kf in cands:
        if sub is None:
            rawf = np.zeros(np.shape(data))
            rawf[lit] = mu0[lit] ** kf * np.maximum(mu[lit], floor) ** (kf - 1.0)
            t = blur_support(rawf, lit, psf)
        else:
            t = blur_support(_subpixel_law(sub, kf, floor), sub["support"], psf)
        miss = _limb_misfit(data, t, zone)
        if miss is not None and miss < best_miss:
            best, best_miss = t, miss
    foreign = best_miss < (1.0 - FLOOR_MARGIN) * base_miss
    if report is not None:
        report.append(foreign)
    return best if foreign else out


#: sub-pixel offsets (px) of :func:`_subpixel_law` along each axis (3 × 3 sub-pixels)
SUBPIXEL_OFFSETS = (-1.0 / 3.0, 0.0, 1.0 / 3.0)


def _subpixel_geometry(backplanes: Backplanes, win, dd: np.ndarray, on: np.ndarray) -> dict | None:
    """What :func:`_subpixel_law` needs over ``win``: the limb distance and μ₀ with their gradients (μ₀
    carried 1 px beyond the disk from its nearest disk pixel), the disk's radius (px) near the limb, and the
    support (pixels any sub-pixel of which may be sunlit)."""
    from scipy import ndimage

    inc = np.asarray(backplanes["incidence_deg"], dtype=float)[win]
    emi = np.asarray(backplanes["emission_deg"], dtype=float)[win]
    disk = np.isfinite(inc) & np.isfinite(emi)
    if backplanes.in_jupiter_shadow or not disk.any():
        return None
    mu0 = np.cos(np.radians(inc))
    idx = ndimage.distance_transform_edt(~disk, return_distances=False, return_indices=True)
    mu0 = mu0[tuple(idx)]
    g0l, g0s = np.gradient(mu0)
    gdl, gds = np.gradient(dd)
    mu = np.cos(np.radians(emi))
    grown = ndimage.binary_dilation(on, np.ones((3, 3), bool))
    near = grown & disk & (dd > 1.0) & (dd < 6.0) & (mu < 0.9)
    if np.count_nonzero(near) < 10:
        return None
    radius = float(np.median(dd[near] / (1.0 - np.sqrt(1.0 - mu[near] ** 2))))
    support = grown & (dd > -1.0)
    return dict(dd=dd, mu0=mu0, g0=(g0l, g0s), gd=(gdl, gds), mu=mu, radius=radius, support=support)


def _subpixel_law(sub: dict, k: float, floor: float) -> np.ndarray:
    """μ₀ᵏ max(μ, floor)ᵏ⁻¹ averaged over 3 × 3 sub-pixels of each support pixel (0 where a sub-pixel is off
    the disk or unlit): μ₀ and the limb distance linear across the pixel, μ near the limb (< 6 px) that of
    a sphere of the disk's radius at the sub-pixel's limb distance, μ at the pixel centre beyond."""
    s = sub["support"]
    dd, mu0, mu, r = sub["dd"][s], sub["mu0"][s], sub["mu"][s], sub["radius"]
    g0l, g0s = sub["g0"][0][s], sub["g0"][1][s]
    gdl, gds = sub["gd"][0][s], sub["gd"][1][s]
    acc = np.zeros(dd.shape)
    for dl in SUBPIXEL_OFFSETS:
        for ds in SUBPIXEL_OFFSETS:
            d_sub = dd + dl * gdl + ds * gds
            m0 = mu0 + dl * g0l + ds * g0s
            x = np.clip(1.0 - d_sub / r, 0.0, 1.0)
            m_sphere = np.sqrt(np.maximum(1.0 - x * x, 0.0))
            m = np.where((dd < 6.0) | ~np.isfinite(mu), m_sphere, mu)
            ok = (d_sub > 0.0) & (m0 > 0.0)
            acc += np.where(ok, np.maximum(m0, 0.0) ** k * np.maximum(m, max(floor, 1e-3)) ** (k - 1.0), 0.0)
    raw = np.zeros(s.shape)
    raw[s] = acc / len(SUBPIXEL_OFFSETS) ** 2
    return raw


#: floors of μ in the limb factor μᵏ⁻¹ tried against the law's own (:data:`MU_FLOOR`) by ``fit_floor``
FLOOR_CANDIDATES = (0.1, 0.15, 0.2, 0.25, 0.3)
#: the fitted floor replaces :data:`MU_FLOOR` only where it leaves a misfit this much smaller (relative)
FLOOR_MARGIN = 0.1
#: limb distance (px) within which the misfit of the floors is measured
FLOOR_ZONE_PX = 3.0
#: no floor is fitted for k within this of 1 (μᵏ⁻¹ then hardly depends on μ)
FLOOR_MIN_DK = 0.05


def _limb_misfit(data: np.ndarray, template: np.ndarray, zone: np.ndarray) -> float | None:
    """Robust scatter of ``data`` about a·template + b (least squares over ``zone``, again without the
    worst outliers), relative to the data's level there: how well a template's shape follows the disk."""
    y, x = data[zone], template[zone]
    keep = np.ones(y.size, bool)
    r = y
    for _ in range(2):
        if keep.sum() < 20 or float(np.ptp(x[keep])) <= 0.0:
            return None
        a, b = np.polyfit(x[keep], y[keep], 1)
        r = y - (a * x + b)
        keep = np.abs(r) < 3.0 * max(mad_sigma(r[keep]), 1e-30)
    level = float(np.median(np.abs(y)))
    return float(np.sqrt(np.mean(r[keep] ** 2))) / level if level > 0 else None


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


def sunlit_box(backplanes: Backplanes, psf: PsfModel) -> tuple[slice, slice] | None:
    """The bounding box of the sunlit disk grown by the PSF's reach + 4 px (the law's fit, its sub-pixel
    edges and its blurred templates there are those of the whole image: every pixel they read lies within
    it), or None (all of the image) when nothing is sunlit."""
    on = sunlit_mask(backplanes)
    rows, cols = np.flatnonzero(on.any(axis=1)), np.flatnonzero(on.any(axis=0))
    if rows.size == 0:
        return None
    m = blur_reach_px(psf) + 4
    nl, ns = on.shape
    return (
        slice(max(rows[0] - m, 0), min(rows[-1] + m + 1, nl)),
        slice(max(cols[0] - m, 0), min(cols[-1] + m + 1, ns)),
    )


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
