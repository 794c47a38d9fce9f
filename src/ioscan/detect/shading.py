"""Expected shading of Io's sunlit disk from the geometry: the shape the background follows near the limb.

Near the bright limb the reflected light changes far faster than a local quadratic can follow (the photometric
function steepens as μ → 0 and the disk ends within the PSF). :func:`shading_template` gives the smooth
expected shape — a Minnaert law μ₀ᵏ μᵏ⁻¹ with k fitted to the frame, blurred by the PSF — and the background
estimator works on data ÷ template (an albedo map, smooth up to texture) where the template is reliable.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

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
    sample = _minnaert_sample(data, mu0, mu, sel)
    return None if sample is None else _minnaert_fit(*sample)


def _minnaert_sample(data: np.ndarray, mu0: np.ndarray, mu: np.ndarray, sel: np.ndarray):
    """The pixels of ``sel`` :func:`minnaert_exponent` fits (positive data, a few thousand at most) as (data,
    μ₀, μ) vectors, or None when too few."""
    ok = np.flatnonzero(sel & np.isfinite(data) & (data > 0))
    if ok.size < MIN_SUNLIT_PIXELS:
        return None
    ok = ok[:: ok.size // 4000 + 1]  # a few thousand pixels fix two parameters
    return data.flat[ok], mu0.flat[ok], mu.flat[ok]


def _minnaert_fit(dv: np.ndarray, m0: np.ndarray, m: np.ndarray, fast: bool = False) -> float | None:
    """:func:`minnaert_exponent` on its sample; ``fast``: each line fitted in closed form (the same fit to
    rounding, ~10× cheaper than ``np.polyfit``)."""
    yv = np.log(dv * m)
    xv = np.log(m0 * m)
    if float(np.ptp(xv)) < 0.2:  # too little range in μ₀μ to separate k from A: Lambert-like default
        return 0.8
    fit = _line_fit if fast else (lambda x, y: tuple(np.polyfit(x, y, 1)))
    for _ in range(2):  # least squares, then again without the worst outliers (hot spots, dark paterae)
        k, a = fit(xv, yv)
        r = yv - (a + k * xv)
        s = mad_sigma(r)
        keep = np.abs(r) < 3.0 * max(s, 1e-6)
        if keep.sum() < MIN_SUNLIT_PIXELS:
            break
        xv, yv = xv[keep], yv[keep]
    k = float(fit(xv, yv)[0])
    return k if K_RANGE[0] <= k <= K_RANGE[1] else None


def _line_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(slope, intercept) of the least-squares line y = slope·x + intercept, in closed form."""
    xm, ym = float(np.add.reduce(x) / x.size), float(np.add.reduce(y) / y.size)  # np.mean's operations
    dx = x - xm
    den = float(np.dot(dx, dx))
    slope = float(np.dot(dx, y - ym)) / den if den > 0 else 0.0
    return slope, ym - slope * xm


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
    it (:data:`FLOOR_ZONE_PX`): where :func:`law_differs` finds that another law holds there, the candidate
    (the floor of μ in μᵏ⁻¹, :data:`FLOOR_CANDIDATES`, k refitted with μ floored there; with "subpixel" the
    limb's and the terminator's edges integrated over 3 × 3 sub-pixels, :func:`_subpixel_law`) whose blurred
    template leaves the smallest misfit (a·template + b, :func:`_limb_misfit`) is returned, else the
    pixel-centre template, bit for bit. ``report``: a list to which :func:`law_differs`' answer is appended
    (nothing when no test was made)."""
    if backplanes.shape != np.shape(data):
        return None
    data_in = data
    win = window or (slice(None), slice(None))
    on = sunlit_mask(backplanes, win)
    if np.count_nonzero(on) < MIN_SUNLIT_PIXELS:  # night side (at most a sliver of lit limb)
        return None
    # μ₀ and μ on the sunlit disk only (NaN elsewhere, never read): the cosines are most of the cost
    mu0, mu = np.full(on.shape, np.nan), np.full(on.shape, np.nan)
    mu0[on] = np.cos(np.radians(np.asarray(backplanes["incidence_deg"])[win][on]))
    mu[on] = np.cos(np.radians(np.asarray(backplanes["emission_deg"])[win][on]))
    data = np.asarray(np.asarray(data)[win], dtype=float)
    d = np.asarray(backplanes["limb_distance_px"], dtype=float)[win]
    away = away_from_limb_px
    plain = _plain_template(data, on, mu0, mu, d, psf, away)
    if plain is None:
        return None
    out, k, lit, fit_sel = plain
    if fit_law is None:
        return out
    # the law near the limb and the terminator fitted to the disk's own pixels (how the surface, or its
    # renderer, behaves as μ → 0 and μ₀ → 0 is not Minnaert's): :func:`law_differs` decides (on the pixels
    # that decide, two candidates); where another law wins, each candidate of :data:`FLOOR_CANDIDATES` (a
    # floor of μ in the limb factor, k refitted with μ floored there; with "subpixel" also the limb's and
    # the terminator's edges integrated over 3 × 3 sub-pixels) blurs its template over the whole window, and
    # the one leaving the smallest misfit 0–3 px inside the limb (μ₀ > 0.2) is returned
    foreign = law_differs(
        np.asarray(data_in), backplanes, psf, window, fit_law=fit_law, away_from_limb_px=away
    )
    if foreign is not None and report is not None:
        report.append(foreign)
    if not foreign:
        return out
    dd = np.nan_to_num(d, nan=-1.0)
    zone = lit & np.isfinite(data) & (dd < FLOOR_ZONE_PX) & (mu0 > 0.2)
    sub = _subpixel_geometry(backplanes, win, dd, on) if fit_law == "subpixel" else None
    cands = [(MU_FLOOR, k)] if sub is not None else []
    for floor in FLOOR_CANDIDATES if k < 1.0 - FLOOR_MIN_DK else ():
        kf = minnaert_exponent(data, mu0, np.maximum(mu, floor), fit_sel)
        if kf is not None:
            cands.append((floor, kf))
    best, best_miss = out, np.inf
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
    return best


def _plain_template(
    x: np.ndarray, on: np.ndarray, mu0: np.ndarray, mu: np.ndarray, d: np.ndarray, psf: PsfModel, away: float
) -> tuple[np.ndarray, float, np.ndarray, np.ndarray] | None:
    """:func:`shading_template`'s pixel-centre template over a window: (template, Minnaert k, lit pixels, the
    fit's pixels) from the image ``x``, the sunlit mask ``on``, μ₀ and μ (NaN off ``on``) and the limb
    distance ``d`` (px) there; None when k is not fitted. ``away``: the fit's least limb distance, px."""
    lit = on & np.isfinite(mu)
    # a NaN distance counts as −1 px (plain comparison: NaN is never beyond a threshold of −1 px or more)
    far = d > away if away >= -1.0 else np.nan_to_num(d, nan=-1.0) > away
    fit_sel = lit & (mu0 > 0.15) & (mu > 0.15) & far
    k = minnaert_exponent(x, mu0, mu, fit_sel)
    if k is None:
        return None
    raw = np.zeros(np.shape(x))
    raw[lit] = mu0[lit] ** k * np.maximum(mu[lit], MU_FLOOR) ** (k - 1.0)
    return blur_support(raw, lit, psf), k, lit, fit_sel


@dataclass(eq=False)
class SunlitDisk:
    """One band image's sunlit disk over a window (:func:`sunlit_disk`: the sunlit box, :func:`sunlit_box`)
    with one PSF: what the photometric law's test (:func:`law_differs`) and the plain template
    (:func:`shading_template`) both read, each made once: the window's angles (°), limb distance (px) and
    image, their cosines (NaN off the disk), and the whole image's plain template.

    Attributes:
        data: the image (the whole band's, as given).
        backplanes: its backplanes.
        psf: the PSF the templates are blurred with.
        window: (line, sample) slices of the image.
        exact: the window's template is the whole image's cropped (:func:`template_crops_to`).
    """

    data: np.ndarray
    backplanes: Backplanes
    psf: PsfModel
    window: tuple[slice, slice]
    exact: bool = False

    @cached_property
    def on(self) -> np.ndarray:
        """Sunlit disk pixels of the window (:func:`sunlit_mask`)."""
        return sunlit_mask(self.backplanes, self.window)

    @cached_property
    def inc(self) -> np.ndarray:
        """Incidence angle (°) over the window."""
        return np.asarray(self.backplanes["incidence_deg"], dtype=float)[self.window]

    @cached_property
    def emi(self) -> np.ndarray:
        """Emission angle (°) over the window."""
        return np.asarray(self.backplanes["emission_deg"], dtype=float)[self.window]

    @cached_property
    def dist(self) -> np.ndarray:
        """Limb distance (px, > 0 on the disk) over the window."""
        return np.asarray(self.backplanes["limb_distance_px"], dtype=float)[self.window]

    @cached_property
    def x(self) -> np.ndarray:
        """The image over the window, as floats."""
        return np.asarray(np.asarray(self.data)[self.window], dtype=float)

    @cached_property
    def mu0(self) -> np.ndarray:
        """μ₀ = cos(incidence) on the sunlit pixels of the window (NaN elsewhere), as the template's."""
        return _cos_deg_on(self.inc, self.on)

    @cached_property
    def mu(self) -> np.ndarray:
        """μ = cos(emission) on the sunlit pixels of the window (NaN elsewhere), as the template's."""
        return _cos_deg_on(self.emi, self.on)

    def template(self) -> np.ndarray | None:
        """``shading_template(data, backplanes, psf)``, the whole image's, bit for bit (made once; where the
        window crops exactly, from the window's cosines, zeros beyond it)."""
        return self._whole_template

    @cached_property
    def _whole_template(self) -> np.ndarray | None:
        """The whole image's plain template (see :meth:`template`)."""
        if not self.exact:
            return shading_template(np.asarray(self.data, dtype=float), self.backplanes, self.psf)
        if self.backplanes.shape != np.shape(self.data):
            return None
        on = self.on
        if np.count_nonzero(on) < MIN_SUNLIT_PIXELS:
            return None
        plain = _plain_template(self.x, on, self.mu0, self.mu, self.dist, self.psf, 4.0)
        if plain is None:
            return None
        whole = np.zeros(np.shape(self.data))
        whole[self.window] = plain[0]
        return whole


def _cos_deg_on(angle_deg: np.ndarray, on: np.ndarray) -> np.ndarray:
    """cos(``angle_deg``) on the pixels ``on`` marks, NaN elsewhere."""
    out = np.full(on.shape, np.nan)
    out[on] = np.cos(np.radians(angle_deg[on]))
    return out


def _cos_deg_at(angle_deg: np.ndarray, cos_on: np.ndarray, on: np.ndarray, i: np.ndarray) -> np.ndarray:
    """cos(``angle_deg``) at the flat indices ``i`` of these arrays of one shape: ``cos_on``'s value where
    ``on`` (there it is made already, :func:`_cos_deg_on`), else computed."""
    out = cos_on.ravel().take(i)
    off = np.flatnonzero(~on.ravel().take(i))
    if off.size:
        out[off] = np.cos(np.radians(angle_deg.ravel().take(i.take(off))))
    return out


def sunlit_disk(data: np.ndarray, backplanes: Backplanes, psf: PsfModel) -> SunlitDisk:
    """The band image's :class:`SunlitDisk` over its sunlit box (:func:`sunlit_box`; all of the image when
    nothing is sunlit), where its template is the whole image's cropped."""
    box = sunlit_box(backplanes, psf)
    window = box or (slice(0, np.shape(data)[0]), slice(0, np.shape(data)[1]))
    return SunlitDisk(data, backplanes, psf, window, exact=box is not None)


def law_differs(
    data: np.ndarray,
    backplanes: Backplanes,
    psf: PsfModel,
    window: tuple[slice, slice] | None = None,
    *,
    fit_law: str = "subpixel",
    away_from_limb_px: float = 4.0,
    winner: list | None = None,
    disk: SunlitDisk | None = None,
) -> bool | None:
    """Whether the sunlit disk's own pixels 0–3 px inside the limb (:data:`FLOOR_ZONE_PX`, μ₀ > 0.2) follow
    another law than :func:`shading_template`'s: True where a candidate law (:data:`LAW_TEST_FLOORS`, the
    floor of μ in μᵏ⁻¹ with k refitted there; with ``fit_law="subpixel"`` the limb's and the terminator's
    edges integrated over 3 × 3 sub-pixels, :func:`_subpixel_law`, and the template's own floor too) leaves a
    misfit (a·template + b, :func:`_limb_misfit`) :data:`FLOOR_MARGIN` smaller than the template's; None
    where no test is made (too little sunlit disk or limb, no plausible k). ``winner``: a list to which the
    deciding candidate's (floor, k) is appended.

    Made where the misfit reads it: every law on the zone's pixels and those the blur on them reads
    (:func:`blur_taps_px`, a box about each: the blurred template on the zone is the whole window's, bit
    for bit, for the same law), the Minnaert refits on the fit's own sample (the line fitted in
    closed form), the sub-pixel geometry on the zone's box, and the candidates in order until one decides.
    ``disk``: the band's :class:`SunlitDisk` over ``window`` (of this image, backplanes and PSF): its angles
    and cosines are read (each pixel's cosines computed once, shared with the plain template)."""
    from scipy import ndimage

    if backplanes.shape != np.shape(data):
        return None
    win = window or (slice(None), slice(None))
    sd = disk if disk is not None else SunlitDisk(data, backplanes, psf, win)
    on = sd.on
    if np.count_nonzero(on) < MIN_SUNLIT_PIXELS:
        return None
    # thresholds on μ₀ and μ as thresholds on the angles; the cosines computed once over the window
    inc, emi, x, d = sd.inc, sd.emi, sd.x, sd.dist
    lit = on & np.isfinite(emi)
    away = away_from_limb_px
    far = d > away if away >= -1.0 else np.nan_to_num(d, nan=-1.0) > away
    a15 = float(np.degrees(np.arccos(0.15)))
    ok = np.flatnonzero(lit & (inc < a15) & (emi < a15) & far & np.isfinite(x) & (x > 0))
    if ok.size < MIN_SUNLIT_PIXELS:
        return None
    ok = ok[:: ok.size // 4000 + 1]  # as :func:`minnaert_exponent` samples
    mu0_on, mu_on = sd.mu0, sd.mu  # (the fit's sample and the zone's neighbourhood are sunlit)
    sample = (x.flat[ok], mu0_on.flat[ok], mu_on.flat[ok])
    k = _minnaert_fit(*sample, fast=True)
    if k is None:
        return None
    dd = np.nan_to_num(d, nan=-1.0)
    zone = lit & np.isfinite(x) & (dd < FLOOR_ZONE_PX) & (inc < float(np.degrees(np.arccos(0.2))))
    if np.count_nonzero(zone) < 50:
        return None
    # the zone's box, grown by the blur's reach (+ 2 px: the sub-pixel geometry's gradients and nearest
    # disk pixels there are the window's), and in it the pixels the blur on the zone reads (its taps)
    reach = blur_reach_px(psf)
    rows, cols = np.flatnonzero(zone.any(axis=1)), np.flatnonzero(zone.any(axis=0))
    nl, ns = zone.shape
    m = reach + 2
    box = (
        slice(max(rows[0] - m, 0), min(rows[-1] + m + 1, nl)),
        slice(max(cols[0] - m, 0), min(cols[-1] + m + 1, ns)),
    )
    zb, xb = zone[box], x[box]
    taps_l, taps_s = blur_taps_px(psf)
    ring = ndimage.maximum_filter(zb.view(np.uint8), size=(2 * taps_l + 1, 2 * taps_s + 1), mode="constant")
    ring = ring.view(bool)
    sel = lit[box] & ring
    mu0s, mus = mu0_on[box][sel], mu_on[box][sel]
    rawb = np.zeros(zb.shape)
    rawb[sel] = mu0s**k * np.maximum(mus, MU_FLOOR) ** (k - 1.0)
    level = float(np.median(np.abs(xb[zb])))  # the data's level on the zone: one for every law's misfit
    base = _limb_misfit(xb, blur_support(rawb, sel, psf), zb, level)
    if base is None:
        return None
    floors = LAW_TEST_FLOORS if k < 1.0 - FLOOR_MIN_DK else ()
    sub = None
    if fit_law == "subpixel":
        full = tuple(_compose(w, b, n) for w, b, n in zip(win, box, backplanes.shape, strict=True))
        angles = (inc[box], emi[box], on[box], mu0_on[box], mu_on[box])
        sub = _subpixel_geometry(backplanes, full, dd[box], on[box], within=ring, angles=angles)
    cands = []  # the first floor whose refitted k is plausible, then (sub-pixel) the law's own
    for floor in floors:
        kf = _minnaert_fit(sample[0], sample[1], np.maximum(sample[2], floor), True)
        if kf is not None:
            cands.append((floor, kf))
            break
    if sub is not None:
        cands.append((MU_FLOOR, k))
    for floor, kf in cands:
        if sub is None:
            rawf = np.zeros(zb.shape)
            rawf[sel] = mu0s**kf * np.maximum(mus, floor) ** (kf - 1.0)
            t = blur_support(rawf, sel, psf)
        else:
            t = blur_support(_subpixel_law(sub, kf, floor), sub["support"], psf)
        miss = _limb_misfit(xb, t, zb, level)
        if miss is not None and miss < (1.0 - FLOOR_MARGIN) * base:
            if winner is not None:
                winner.append((floor, kf))
            return True
    return False


def _compose(outer: slice, inner: slice, n: int) -> slice:
    """The slice of an axis of length ``n`` that ``inner`` (a slice of ``outer``'s view, step 1) takes."""
    start, _, _ = outer.indices(n)
    return slice(start + inner.start, start + inner.stop)


#: sub-pixel offsets (px) of :func:`_subpixel_law` along each axis (3 × 3 sub-pixels)
SUBPIXEL_OFFSETS = (-1.0 / 3.0, 0.0, 1.0 / 3.0)


def _subpixel_geometry(
    backplanes: Backplanes,
    win,
    dd: np.ndarray,
    on: np.ndarray,
    within: np.ndarray | None = None,
    angles: tuple[np.ndarray, ...] | None = None,
) -> dict | None:
    """What :func:`_subpixel_law` needs over ``win``: the support (pixels any sub-pixel of which may be
    sunlit; with ``within``, only those it marks) and on it the sub-pixels' values that do not depend on
    the law (:func:`_subpixel_samples`), from the limb distance and μ₀ with their gradients (μ₀ carried
    beyond the disk from its nearest disk pixel) and the disk's radius (px) near the limb; all read at
    the support's pixels and their neighbours alone. ``angles``: (incidence °, emission °)
    and the sunlit pixels with their cosines over ``win`` where already made (:class:`SunlitDisk`; else
    read from the backplanes, each cosine where read)."""
    from scipy import ndimage

    if angles is None:
        inc = np.asarray(backplanes["incidence_deg"], dtype=float)[win]
        emi = np.asarray(backplanes["emission_deg"], dtype=float)[win]
        known = cos_inc = cos_emi = None
    else:
        inc, emi, known, cos_inc, cos_emi = angles
    disk = np.isfinite(inc) & np.isfinite(emi)
    if backplanes.in_jupiter_shadow or not disk.any():
        return None
    grown = ndimage.maximum_filter(on.view(np.uint8), size=3, mode="constant").view(bool)
    near = grown & disk & (dd > 1.0) & (dd < 6.0) & (emi > MU_09_DEG)  # μ < 0.9
    if np.count_nonzero(near) < 10:
        return None
    if known is None:
        mu_near = np.cos(np.radians(emi[near]))
    else:
        mu_near = _cos_deg_at(emi, cos_emi, known, np.flatnonzero(near))
    radius = float(np.median(dd[near] / (1.0 - np.sqrt(1.0 - mu_near**2))))
    support = grown & (dd > -1.0)
    if within is not None:
        support &= within
    nl, ns = dd.shape
    i = np.flatnonzero(support)  # flat indices: the gathers below are np.take's
    r, c = np.divmod(i, ns)
    up, dn = np.where(r + 1 < nl, ns, 0), np.where(r > 0, -ns, 0)
    rt, lf = np.where(c + 1 < ns, 1, 0), np.where(c > 0, -1, 0)
    nbr = np.concatenate([i + up, i + dn, i + rt, i + lf])
    cosines = None if known is None else (known, cos_inc)
    mu0 = _carried_mu0(inc, disk, np.concatenate([i, nbr]), cosines)
    m0c, m0u, m0d, m0r, m0l = mu0.reshape(5, i.size)
    ddf = dd.ravel()
    # np.gradient's differences (central inside, one-sided at the edges), at the support's pixels only
    hl, hs = (up - dn) / ns, (rt - lf).astype(float)
    g0l, g0s = (m0u - m0d) / hl, (m0r - m0l) / hs
    gdl, gds = (ddf.take(i + up) - ddf.take(i + dn)) / hl, (ddf.take(i + rt) - ddf.take(i + lf)) / hs
    mu = np.cos(np.radians(emi.ravel().take(i))) if known is None else _cos_deg_at(emi, cos_emi, known, i)
    geo = (ddf.take(i), m0c, mu, g0l, g0s, gdl, gds)
    return dict(support=support, samples=_subpixel_samples(*geo, radius))


#: emission angle (°) of μ = 0.9
MU_09_DEG = float(np.degrees(np.arccos(0.9)))
#: offsets (line, sample) within 3 px, nearest first, equally near ones by sample offset then line offset
#: (as scipy's Euclidean distance transform picks among them: the same nearest disk pixel)
_NEAR_OFFSETS = sorted(
    ((i, j) for i in range(-3, 4) for j in range(-3, 4) if 0 < i * i + j * j <= 9),
    key=lambda o: (o[0] ** 2 + o[1] ** 2, o[1], o[0]),
)


def _carried_mu0(
    inc: np.ndarray, disk: np.ndarray, i: np.ndarray, cosines: tuple[np.ndarray, np.ndarray] | None = None
) -> np.ndarray:
    """μ₀ = cos(incidence) at the pixels of flat indices ``i``, carried beyond the disk from the nearest disk
    pixel within 3 px (the first of equally near ones in :data:`_NEAR_OFFSETS`' order; NaN beyond 3 px);
    ``cosines``: (where cos(incidence) is made already, its values there) over the same array."""
    i = i.copy()
    todo = np.flatnonzero(~disk.ravel().take(i))
    if todo.size:
        nearest, found = _nearest_disk_pixel(disk, i.take(todo))
        i[todo[found]] = nearest[found]
    out = (
        np.cos(np.radians(inc.ravel().take(i)))
        if cosines is None
        else _cos_deg_at(inc, cosines[1], cosines[0], i)
    )
    if todo.size:
        out[todo[~found]] = np.nan
    return out


def _nearest_disk_pixel(disk: np.ndarray, i: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For the pixels of flat indices ``i`` (off the disk): the flat index of the first disk pixel in
    :data:`_NEAR_OFFSETS`' order (nearest first), and whether one lies within 3 px. The offsets are tried in
    turn on the pixels not yet placed (most find one at the first few)."""
    nl, ns = disk.shape
    flat = disk.ravel()
    r, c = np.divmod(i, ns)
    nearest, found = i.copy(), np.zeros(i.size, bool)
    left = np.arange(i.size)  # the pixels not yet placed
    for di, dj in _NEAR_OFFSETS:
        rr, cc = r.take(left) + di, c.take(left) + dj
        inside = (rr >= 0) & (rr < nl) & (cc >= 0) & (cc < ns)
        j = rr * ns + cc
        hit = inside & flat.take(np.where(inside, j, 0))
        if hit.any():
            placed = left[hit]
            nearest[placed], found[placed] = j[hit], True
            left = left[~hit]
            if left.size == 0:
                break
    return nearest, found


def _subpixel_samples(dd, mu0, mu, g0l, g0s, gdl, gds, radius: float):
    """Per sub-pixel (rows: :data:`SUBPIXEL_OFFSETS` × :data:`SUBPIXEL_OFFSETS`) of each support pixel:
    log μ₀, log max(μ, 10⁻³) (μ₀ and the limb distance linear across the pixel, μ near the limb, < 6 px,
    that of a sphere of the disk's ``radius`` at the sub-pixel's limb distance, μ at the pixel centre
    beyond) and whether the sub-pixel is on the disk and lit."""
    off = np.asarray(SUBPIXEL_OFFSETS)
    dl, ds = np.repeat(off, off.size)[:, None], np.tile(off, off.size)[:, None]  # (line, sample) offsets
    d_sub = dd + dl * gdl + ds * gds
    m0 = mu0 + dl * g0l + ds * g0s
    ok = (d_sub > 0.0) & (m0 > 0.0)
    # μ: the sphere's at the sub-pixel's limb distance near the limb, the pixel centre's (one value) beyond
    sphere = (dd < 6.0) | ~np.isfinite(mu)
    lm = np.empty(d_sub.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        xx = np.clip(1.0 - d_sub[:, sphere] / radius, 0.0, 1.0)
        lm[:, sphere] = np.log(np.maximum(np.sqrt(np.maximum(1.0 - xx * xx, 0.0)), 1e-3))
        lm[:, ~sphere] = np.log(np.maximum(mu[~sphere], 1e-3))
        lm0 = np.log(np.where(ok, m0, 1.0))
    return lm0, np.where(ok, lm, 0.0), ok


def _subpixel_law(sub: dict, k: float, floor: float) -> np.ndarray:
    """μ₀ᵏ max(μ, floor)ᵏ⁻¹ averaged over 3 × 3 sub-pixels of each support pixel (0 where a sub-pixel is off
    the disk or unlit): μ₀ and the limb distance linear across the pixel, μ near the limb (< 6 px) that of
    a sphere of the disk's radius at the sub-pixel's limb distance, μ at the pixel centre beyond."""
    s = sub["support"]
    lm0, lm, ok = sub["samples"]
    v = np.exp(k * lm0 + (k - 1.0) * np.maximum(lm, np.log(max(floor, 1e-3))))
    raw = np.zeros(s.shape)
    raw[s] = np.where(ok, v, 0.0).sum(axis=0) / len(SUBPIXEL_OFFSETS) ** 2
    return raw


#: floors of μ in the limb factor μᵏ⁻¹ among which :func:`shading_template` with ``fit_law`` picks the best
FLOOR_CANDIDATES = (0.1, 0.15, 0.2, 0.25, 0.3)
#: floors of μ in the limb factor μᵏ⁻¹ tried against the law's own (:data:`MU_FLOOR`) by :func:`law_differs`:
#: the first whose refitted k is plausible (with ``fit_law="subpixel"`` the sub-pixel law at :data:`MU_FLOOR`
#: is tried after it)
LAW_TEST_FLOORS = (0.3, 0.2)
#: the fitted floor replaces :data:`MU_FLOOR` only where it leaves a misfit this much smaller (relative)
FLOOR_MARGIN = 0.1
#: limb distance (px) within which the misfit of the floors is measured
FLOOR_ZONE_PX = 3.0
#: no floor is fitted for k within this of 1 (μᵏ⁻¹ then hardly depends on μ)
FLOOR_MIN_DK = 0.05


def _limb_misfit(
    data: np.ndarray, template: np.ndarray, zone: np.ndarray, level: float | None = None
) -> float | None:
    """Robust scatter of ``data`` about a·template + b (least squares over ``zone``, again without the
    worst outliers), relative to the data's level there: how well a template's shape follows the disk.
    ``level``: the median |data| over ``zone`` where already known (one per zone)."""
    y, x = data[zone], template[zone]
    keep = np.ones(y.size, bool)
    r = y
    for _ in range(2):
        if keep.sum() < 20 or float(np.ptp(x[keep])) <= 0.0:
            return None
        a, b = _line_fit(x[keep], y[keep])
        r = y - (a * x + b)
        keep = np.abs(r) < 3.0 * max(mad_sigma(r[keep]), 1e-30)
    level = float(np.median(np.abs(y))) if level is None else level
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


def blur_taps_px(psf: PsfModel) -> tuple[int, int]:
    """How far (px) along lines and along samples ``psf.correlate`` reads: its components' largest kernel
    radii (:func:`ioscan.detect.psf.kernel1d`). An output of the blur sums the inputs within this box of it
    and no other (the 2 px margin of :func:`blur_reach_px` not included)."""
    from ioscan.detect.psf import kernel1d

    sig = [psf.axis_sigmas_px(s) for s in psf.sigmas_px]
    return max(kernel1d(sl).size // 2 for sl, _ in sig), max(kernel1d(ss).size // 2 for _, ss in sig)


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
