"""The limb's own profile, measured in the image: what the background follows across a bright limb.

Near a sunlit limb the brightness changes faster than any local polynomial can follow: the disk's edge
blurred by the PSF, and just inside it whatever the photometric function does as the emission angle goes to
90° (limb brightening, a kink where a photometric law is floored, thermal limb darkening). That radial shape
is the same all along the limb, up to a slowly varying amplitude, so it can be measured: the pixels near the
seen arc are binned by their distance to the limb (0.125 px bins), each divided by the amplitude of the disk
just inside at its place along the limb, and the median per bin is the profile P(d) (0 on the sky, 1 on the
disk 5–9 px in). The limb distance is the circle's corrected by where the edge points actually lie along the
arc (a running median of their offsets): Io is triaxial and the fit is not perfect, and at a step of ~100 σ
a 0.1 px error in d is worth several σ.

The background then works on (data − sky) ÷ P on the disk side, a smooth amplitude field the local quadratic
follows, and models the limb band and the sky just outside it as sky + amplitude × P: the band becomes
searchable (hot spots at emission angles of 80–90° sit in it) and the sky-side tail of the bright disk no
longer leaves a ridge (:func:`ioscan.detect.background.estimate_background`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage

from ioscan.detect.limb import LimbCircle

#: the profile is measured and modelled from this far outside the limb (sky side)...
SKY_REACH_PX = 4.0
#: ...to this far inside (beyond it the disk is left to the ordinary background)
DISK_REACH_PX = 10.0
#: the limb zone (its along-limb high-pass and own S/N scale, the limb-ridge tests) reaches this far inside,
#: 3 px past where the profile's fade into the ordinary background ends: the fade's kink at DISK_REACH_PX
#: (the profile's own inward rise faded linearly into 1) is then the zone's to take out, not the disk's
ZONE_REACH_PX = DISK_REACH_PX + 3.0
#: the amplitude at a place along the limb is the disk's level this far inside, px
AMPLITUDE_RANGE_PX = (5.0, 9.0)
#: the sky level is the median this far outside the limb, px
SKY_RANGE_PX = (-12.0, -6.0)
#: profile nodes, px (each fitted to the pixels within one node spacing, linear in between)
BIN_PX = 0.25
#: along the limb: amplitude bins (px of arc) and the running-median half-widths (px) of the amplitude and of
#: the edge offsets
ARC_BIN_PX = 2.0
AMPLITUDE_SMOOTH_PX = 10.0
OFFSET_SMOOTH_PX = 10.0
#: parts of the limb whose amplitude is below this fraction of the brightest do not shape the profile
BRIGHT_FRACTION = 0.3
#: degrees of arc per Legendre term of the profile's variation along the limb, and the highest degree
DEGREES_PER_TERM = 30.0
MAX_DEGREE = 4
#: beyond the ends of the seen arc the profile fades into 1 over this arc length, px
ARC_TAPER_PX = 10.0
#: cells of the zone's local scale: limb distance × arc, px
CELL_D_PX = 2.0
CELL_ARC_PX = 16.0
#: the along-limb high-pass: samples from this far to this far along the limb on either side (px), and the
#: fewest samples it needs
ALONG_GAP_PX = 3
ALONG_REACH_PX = 10
MIN_ALONG_SAMPLES = 8
#: a limb model is made only for a step of at least this many pixel-noise σ (a fainter limb needs none)
MIN_STEP_SIGMA = 10.0


@dataclass
class LimbModel:
    """A measured limb profile laid over a band image (arrays of the image's shape, or of a crop of it).

    Attributes:
        distance_px: limb distance corrected by the edge points (positive on the disk), px.
        template: P(distance) where the model applies (``zone``), fading into 1 towards the inner edge of
            the zone and over :data:`ARC_TAPER_PX` beyond the ends of the seen arc; 1 elsewhere.
        zone: pixels whose background the model gives (the seen arc, from :data:`SKY_REACH_PX` outside the
            limb to :data:`DISK_REACH_PX` inside).
        sky: the sky level next to the limb, image units.
        profile_d_px, profile: the measured profile (nodes; values: its mean along the seen arc).
        center_sample, center_line, radius_px: the limb circle, in the arrays' pixels.
        arc_px: arc coordinate along the limb of every pixel (:func:`arc_coordinate`), px.
    """

    distance_px: np.ndarray
    template: np.ndarray
    zone: np.ndarray
    sky: float
    profile_d_px: np.ndarray
    profile: np.ndarray
    center_sample: float = 0.0
    center_line: float = 0.0
    radius_px: float = 1.0
    arc_px: np.ndarray | None = None

    def crop(self, sl: tuple[slice, slice]) -> LimbModel:
        """The model on a crop of its image (the circle's centre moved into the crop's pixels)."""
        l0, s0 = sl[0].start or 0, sl[1].start or 0
        return replace(
            self,
            distance_px=self.distance_px[sl],
            template=self.template[sl],
            zone=self.zone[sl],
            arc_px=None if self.arc_px is None else self.arc_px[sl],
            center_sample=self.center_sample - s0,
            center_line=self.center_line - l0,
        )

    def inner_values(self, image: np.ndarray) -> np.ndarray:
        """``image`` sampled, for every pixel, where the zone ends inside the disk in that pixel's direction
        from the circle's centre (:data:`DISK_REACH_PX` inside the limb; bilinear, nearest at the edges)."""
        yy, xx = np.mgrid[0 : image.shape[0], 0 : image.shape[1]].astype(float)
        ang = np.arctan2(yy - self.center_line, xx - self.center_sample)
        rad = max(self.radius_px - DISK_REACH_PX, 0.0)
        ys = self.center_line + rad * np.sin(ang)
        xs = self.center_sample + rad * np.cos(ang)
        return ndimage.map_coordinates(np.asarray(image, np.float64), [ys, xs], order=1, mode="nearest")

    def cell_scale(self, z: np.ndarray, sel: np.ndarray, quantile: float) -> np.ndarray:
        """The ``quantile`` of |z| ÷ its Gaussian value in cells of :data:`CELL_D_PX` × :data:`CELL_ARC_PX`
        (limb distance × arc) over the pixels ``sel``, at every pixel of the zone (1 elsewhere, and in cells
        with fewer than 20 such pixels): where the measured profile fails somewhere along the limb, the
        S/N there is scaled by what it leaves."""
        from scipy.special import ndtri

        out = np.ones(z.shape)
        if self.arc_px is None:
            return out
        key = np.floor((self.distance_px + SKY_REACH_PX) / CELL_D_PX).astype(np.int64) * 100000 + np.floor(
            self.arc_px / CELL_ARC_PX
        ).astype(np.int64)
        use = sel & self.zone
        if not use.any():
            return out
        k, v = key[use], np.abs(z[use])
        order = np.lexsort((v, k))
        k, v = k[order], v[order]
        uk, start, count = np.unique(k, return_index=True, return_counts=True)
        q = v[start + np.floor(quantile * (count - 1)).astype(int)] / float(ndtri(0.5 + 0.5 * quantile))
        q = np.where(count >= 20, np.maximum(q, 1.0), 1.0)
        zone_keys = key[self.zone]
        idx = np.clip(np.searchsorted(uk, zone_keys), 0, uk.size - 1)
        out[self.zone] = np.where(uk[idx] == zone_keys, q[idx], 1.0)
        return out

    def along_limb_highpass(self, z: np.ndarray, where: np.ndarray) -> np.ndarray:
        """``z`` minus, at each pixel of ``where``, the median of ``z`` at the same distance from the circle's
        centre :data:`ALONG_GAP_PX`–:data:`ALONG_REACH_PX` px away along it on either side (bilinear; samples
        whose nearest pixel is ``where`` or next to it): what runs along the limb (ridges of a profile not
        quite right) goes, a point source stays."""
        out = np.array(z, dtype=np.float64, copy=True)
        ii, jj = np.nonzero(where)
        if ii.size == 0:
            return out
        # samples whose nearest pixel is ``where`` or next to it: a sample on the arc through a pixel at the
        # zone's edge lies at that pixel's own limb distance, whichever side of the edge its nearest pixel is
        reach = ndimage.binary_dilation(where > 0)
        cx, cy = self.center_sample, self.center_line
        rad = np.hypot(jj - cx, ii - cy)
        ang = np.arctan2(ii - cy, jj - cx)
        steps = np.concatenate(
            [-np.arange(ALONG_GAP_PX, ALONG_REACH_PX + 1), np.arange(ALONG_GAP_PX, ALONG_REACH_PX + 1)]
        )
        a = ang[:, None] + steps[None, :] / np.maximum(rad[:, None], 1.0)
        ys = cy + rad[:, None] * np.sin(a)
        xs = cx + rad[:, None] * np.cos(a)
        inside = (ys >= 0) & (ys <= z.shape[0] - 1) & (xs >= 0) & (xs <= z.shape[1] - 1)
        # ``where`` at the nearest pixel (map_coordinates' order 0 rounds by floor(c + 0.5)), inside only
        yi, xi = np.floor(ys[inside] + 0.5).astype(np.intp), np.floor(xs[inside] + 0.5).astype(np.intp)
        inside[inside] = reach[yi, xi]
        # bilinear values only where they are used (each sample is interpolated on its own: the same floats)
        vals = np.full(xs.shape, np.nan)
        vals[inside] = ndimage.map_coordinates(
            np.asarray(z, np.float64), [ys[inside], xs[inside]], order=1, mode="constant", cval=np.nan
        )
        enough = np.sum(np.isfinite(vals), axis=1) >= MIN_ALONG_SAMPLES
        with np.errstate(all="ignore"):
            out[ii[enough], jj[enough]] -= _row_nanmedian(vals[enough])
        return out


def _row_nanmedian(vals: np.ndarray) -> np.ndarray:
    """``np.nanmedian(vals, axis=1)`` as numpy computes it (a masked median: NaN filled with +inf, argsorted,
    (lo + hi) / 2 of the two middle values, so the same floats down to the sign of a zero) without the masked
    arrays' overhead; NaN for an all-NaN row, without a warning."""
    nan = np.isnan(vals)
    filled = np.where(nan, np.inf, vals)
    s = np.take_along_axis(filled, filled.argsort(axis=1), axis=1)
    n = vals.shape[1] - np.count_nonzero(nan, axis=1)
    h = n // 2
    lo = np.where(n % 2 == 1, h, h - 1)
    rows = np.arange(vals.shape[0])
    med = (0.0 + s[rows, lo] + s[rows, np.minimum(h, vals.shape[1] - 1)]) / 2.0  # numpy's sum starts at +0
    return np.where(n > 0, med, np.nan)


def _running_median(t: np.ndarray, v: np.ndarray, half_px: float, at: np.ndarray) -> np.ndarray:
    """Median of ``v`` over samples with |t − t_i| ≤ ``half_px``, evaluated at the sorted positions ``at`` by
    linear interpolation between the samples' own running medians (held beyond the ends)."""
    order = np.argsort(t)
    t, v = t[order], v[order]
    lo = np.searchsorted(t, t - half_px, side="left")
    hi = np.searchsorted(t, t + half_px, side="right")
    width = int(np.max(hi - lo))
    idx = lo[:, None] + np.arange(width)[None, :]
    win = np.where(idx < hi[:, None], v[np.minimum(idx, v.size - 1)], np.nan)
    with np.errstate(all="ignore"):
        med = _row_nanmedian(win)
    return np.interp(at, t, med)


def _normal_equations(
    node: np.ndarray, a: np.ndarray, b: np.ndarray, n_nodes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per node, Σ aᵀa (n_nodes × k × k) and Σ aᵀb (n_nodes × k) over the rows of ``a`` (n × k) and ``b``:
    ``np.add.at`` of the outer products, by one ``np.bincount`` per distinct term (aᵢaⱼ = aⱼaᵢ exactly; each
    sum accumulated in the rows' order, so the same floats)."""
    k = a.shape[1]
    cols = np.ascontiguousarray(a.T)
    ata = np.empty((n_nodes, k, k))
    atb = np.empty((n_nodes, k))
    for i in range(k):
        for j in range(i, k):
            ata[:, i, j] = ata[:, j, i] = np.bincount(node, weights=cols[i] * cols[j], minlength=n_nodes)
        atb[:, i] = np.bincount(node, weights=cols[i] * b, minlength=n_nodes)
    return ata, atb


def _node_medians(node: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_group_medians` for small non-negative integer keys (< 2¹⁵): a sort of the values, then a
    stable radix sort of the keys (the same sorted values per key, so the same medians)."""
    order = np.argsort(values)
    order = order[np.argsort(node[order].astype(np.int16), kind="stable")]
    k, v = node[order], values[order]
    uk, start, count = np.unique(k, return_index=True, return_counts=True)
    return uk, v[start + (count - 1) // 2]


def _group_medians(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct keys, the (lower) median of ``values`` for each), by one sort."""
    order = np.lexsort((values, keys))
    k, v = keys[order], values[order]
    uk, start, count = np.unique(k, return_index=True, return_counts=True)
    return uk, v[start + (count - 1) // 2]


def arc_coordinate(circle: LimbCircle, shape: tuple[int, int]) -> np.ndarray:
    """Arc length along the limb (px) of every pixel's direction from the circle's centre, 0 at the middle
    of the seen arc, in (−π R, π R]."""
    cx, cy, r = circle.center_sample, circle.center_line, circle.radius_px
    ang = np.arctan2(circle.points.y - cy, circle.points.x - cx)
    mid = float(np.angle(np.mean(np.exp(1j * ang))))
    yy, xx = np.ogrid[0 : shape[0], 0 : shape[1]]
    rel = np.angle(np.exp(1j * (np.arctan2(yy - cy, xx - cx) - mid)))
    return rel * r


def fit_limb_model(
    data: np.ndarray,
    circle: LimbCircle,
    known: np.ndarray,
    valid: np.ndarray,
    noise_px: float,
) -> LimbModel | None:
    """Measure the limb's profile along the seen arc (see the module docstring), or None when the limb is
    too faint to need one (step < :data:`MIN_STEP_SIGMA` × ``noise_px``) or too little of it is seen.

    Args:
        data: band image.
        circle: the limb seen in the image (:func:`ioscan.detect.limb.find_limb`).
        known: directions in which the limb was seen (:func:`ioscan.detect.limb.known_zone`).
        valid: pixels to measure from (finite, not saturated).
        noise_px: typical pixel noise, image units.
    """
    shape = np.shape(data)
    x = np.asarray(data, dtype=np.float64)
    if not circle.step > MIN_STEP_SIGMA * noise_px:
        return None
    d0 = circle.distance_px(shape)
    t = arc_coordinate(circle, shape)
    # the limb's own wiggles: edge points' offsets from the circle, smoothed along the arc
    pi = np.clip(np.rint(circle.points.y).astype(int), 0, shape[0] - 1)
    pj = np.clip(np.rint(circle.points.x).astype(int), 0, shape[1] - 1)
    t_pts = t[pi, pj]  # the points' arc coordinates, by their nearest pixels
    off = circle.radius_px - np.hypot(
        circle.points.x - circle.center_sample, circle.points.y - circle.center_line
    )
    sel = known & (d0 > -SKY_REACH_PX - 10) & (d0 < DISK_REACH_PX + 10)
    d = d0.copy()
    d[sel] = d0[sel] - _running_median(t_pts, off, OFFSET_SMOOTH_PX, t[sel])
    ok = valid & np.isfinite(x) & known
    sky_sel = ok & (d >= SKY_RANGE_PX[0]) & (d <= SKY_RANGE_PX[1])
    if sky_sel.sum() < 30:
        return None
    sky = float(np.median(x[sky_sel]))
    # amplitude along the arc: the disk just inside, per arc bin, smoothed
    amp_sel = ok & (d >= AMPLITUDE_RANGE_PX[0]) & (d <= AMPLITUDE_RANGE_PX[1])
    if amp_sel.sum() < 30:
        return None
    ta = t[amp_sel]
    bins = np.floor(ta / ARC_BIN_PX).astype(int)
    ub, med = _group_medians(bins, x[amp_sel] - sky)
    tc = (ub + 0.5) * ARC_BIN_PX
    zone_sel = ok & (d >= -SKY_REACH_PX) & (d <= DISK_REACH_PX)
    if zone_sel.sum() < 50:
        return None
    amp_zone = _running_median(tc, med, AMPLITUDE_SMOOTH_PX, t[zone_sel])
    peak = float(np.max(med))
    if not peak > MIN_STEP_SIGMA * noise_px:
        return None
    bright = amp_zone > BRIGHT_FRACTION * peak
    if bright.sum() < 50:
        return None
    # the profile's shape changes along the limb (the Sun's angle to the limb normal changes how fast the
    # illumination varies across it): per distance bin, a Legendre polynomial along the arc
    tz = t[zone_sel]
    t_lo, t_hi = float(tz[bright].min()), float(tz[bright].max())
    span = max(t_hi - t_lo, 1.0)
    degree = int(np.clip(round(np.degrees(span / circle.radius_px) / DEGREES_PER_TERM), 1, MAX_DEGREE))
    tau = np.clip(2.0 * (tz - t_lo) / span - 1.0, -1.0, 1.0)
    basis = np.polynomial.legendre.legvander(tau, degree)
    dz = d[zone_sel]
    vz = (x[zone_sel] - sky) / np.where(amp_zone > 0, amp_zone, np.nan)
    edges = np.arange(-SKY_REACH_PX, DISK_REACH_PX + BIN_PX / 2, BIN_PX)
    centres = edges.copy()  # coefficients are given at the bin edges and interpolated linearly between
    # each pixel feeds the two nodes around it (every node sees the pixels within one node spacing): normal
    # equations of all nodes at once, then again without each node's > 3σ outliers (hot spots, hits)
    use = bright & np.isfinite(vz)
    pos = (dz[use] - centres[0]) / BIN_PX
    k0 = np.clip(np.floor(pos).astype(int), 0, centres.size - 1)
    node = np.concatenate([k0, np.clip(k0 + 1, 0, centres.size - 1)])
    a = np.concatenate([basis[use], basis[use]])
    b = np.concatenate([vz[use], vz[use]])
    keep = np.ones(b.size, bool)
    coef = np.full((centres.size, degree + 1), np.nan)
    for _ in range(2):
        ata, atb = _normal_equations(node[keep], a[keep], b[keep], centres.size)
        count = np.bincount(node[keep], minlength=centres.size)
        solvable = count >= 3 * (degree + 1)
        coef = np.full((centres.size, degree + 1), np.nan)
        if solvable.any():
            # minimum-norm solutions: a node seen over part of the arc leaves high Legendre terms undecided
            inv = np.linalg.pinv(ata[solvable], rcond=1e-13)
            coef[solvable] = np.einsum("kij,kj->ki", inv, atb[solvable])
        r = np.abs(b - np.einsum("ij,ij->i", a, np.nan_to_num(coef[node])))
        _, med = _node_medians(node, r)
        scale_k = np.zeros(centres.size)
        scale_k[np.unique(node)] = med
        keep = r <= 3.0 * np.maximum(1.4826 * scale_k[node], 1e-12)
    good = np.all(np.isfinite(coef), axis=1)
    if good.sum() < 0.7 * centres.size:
        return None
    coef = np.column_stack([np.interp(centres, centres[good], coef[good, j]) for j in range(degree + 1)])
    inner = (centres >= AMPLITUDE_RANGE_PX[0]) & (centres <= AMPLITUDE_RANGE_PX[1])
    scale = float(np.median(coef[inner, 0]))
    if not scale > 0:
        return None
    coef /= scale
    # the profile applies along the arc where edge points were seen, and fades into 1 over ARC_TAPER_PX beyond
    # its ends (and over the inner part of the zone), so the background meets it without a step
    seen_lo, seen_hi = float(t_pts.min()), float(t_pts.max())
    beyond = np.maximum(np.maximum(seen_lo - t, t - seen_hi), 0.0)
    band = (d >= -SKY_REACH_PX) & (d <= DISK_REACH_PX) & (beyond < ARC_TAPER_PX)
    zone = (d >= -SKY_REACH_PX) & (d <= ZONE_REACH_PX) & (beyond == 0.0)
    template = np.ones(shape)
    tau_all = np.clip(2.0 * (t[band] - t_lo) / span - 1.0, -1.0, 1.0)
    c_at = np.column_stack([np.interp(d[band], centres, coef[:, j]) for j in range(degree + 1)])
    measured = np.sum(c_at * np.polynomial.legendre.legvander(tau_all, degree), axis=1)
    w = np.clip((DISK_REACH_PX - d[band]) / (DISK_REACH_PX - AMPLITUDE_RANGE_PX[0]), 0.0, 1.0)
    w = w * np.clip(1.0 - beyond[band] / ARC_TAPER_PX, 0.0, 1.0)
    template[band] = w * measured + (1.0 - w)
    prof = coef[:, 0]
    return LimbModel(
        d, template, zone, sky, centres, prof, circle.center_sample, circle.center_line, circle.radius_px, t
    )


#: the limb distances (px, bins of 1 px from the limb inwards) where :func:`template_limb_mismatch` compares
MISMATCH_BINS_PX = (0.0, 1.0, 2.0, 3.0)


def template_limb_mismatch(
    data: np.ndarray,
    circle: LimbCircle,
    known: np.ndarray,
    template: np.ndarray,
    valid: np.ndarray,
    noise_px: float,
) -> float | None:
    """How far an expected shading ``template`` (:func:`ioscan.detect.shading.shading_template`) is from the
    limb the image shows: along the seen arc's bright part, the median over each 1-px bin of limb distance
    (:data:`MISMATCH_BINS_PX`, 0–3 px inside the limb) of the data above the sky, and of the template, each
    divided by its own value :data:`DISK_REACH_PX` inside the limb in the pixel's direction
    (:meth:`LimbModel.inner_values`: the albedo along the limb divides out); the largest absolute difference
    of the two. None when no limb model can be measured (:func:`fit_limb_model`) or no bin has 10 pixels."""
    x = np.asarray(data, dtype=np.float64)
    model = fit_limb_model(x, circle, known, valid, noise_px)
    if model is None:
        return None
    t = np.asarray(template, dtype=np.float64)
    ti, xi = model.inner_values(t), model.inner_values(x - model.sky)
    sel = model.zone & valid & np.isfinite(x) & (xi > 0)
    if not sel.any():
        return None
    sel &= ti > 0.2 * float(np.max(ti[sel]))
    worst = None
    d = model.distance_px
    for lo, hi in zip(MISMATCH_BINS_PX[:-1], MISMATCH_BINS_PX[1:], strict=True):
        b = sel & (d >= lo) & (d < hi)
        if np.count_nonzero(b) < 10:
            continue
        diff = abs(float(np.median((x[b] - model.sky) / xi[b])) - float(np.median(t[b] / ti[b])))
        worst = diff if worst is None else max(worst, diff)
    return worst
