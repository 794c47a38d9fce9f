"""Io's limb seen in the image, without geometry: sharp edge points, a robust circle through them, and a check
of a given geometry's limb against them.

A limb is a step from dark sky to the bright disk blurred by the PSF (and, where the photometric function
darkens towards the edge, a steep ramp); a terminator is a slower ramp whose dark side is the night side, and
a hot spot or a cosmic-ray hit is a closed bump. :func:`edge_points` keeps local maxima of the gradient (of a
3 × 3-median-filtered, lightly smoothed image) that stand :data:`EDGE_SNR` σ above the gradient's own noise,
whose dark side is at the image's dark (sky) level, and whose 20–80 % rise is within :data:`SHARPNESS` × the
frame's reference width (the lower quartile of the candidates', bounded by what PSFs of 0.5–3 × the given
width would give: the limb is the sharpest edge in the frame); each point sits where the rise is steepest.
:func:`fit_limb_circle` finds, by RANSAC, the circle that most such points lie on (within 1 px) with the
bright side towards its centre (a crescent's terminator has its bright side away from the centre of any circle
through it), then refines it by geometric least squares; :func:`find_limb` also requires the sky to be dark
just outside it, and prefers a PSF-sharp circle to a soft one (a terminator's or a limb darkened to nothing,
:func:`step_width_px`) that outnumbers it. Io's triaxial shape departs from a circle by ≤ 0.8 % of the
radius; a frame sees at most an arc of the limb, on which the circle fitted to that arc is what matters.

The circle gives the signed limb distance (positive on the disk) the background and the flags need; where the
limb darkens towards the edge its steepest rise, hence the circle, lies 1–2 px inside the true limb.
:func:`geometry_limb_offset_px` measures how far a given geometry's limb (or the steepest rise of the image
that geometry predicts) lies from these edge points; :func:`known_zone` says in which directions the limb was
seen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
from scipy import ndimage

from ioscan.detect.disk import grow, percentile
from ioscan.detect.fit_kernels import level_crossings, median3_finite, steepest_rise
from ioscan.robust import MAD_TO_SIGMA

#: an edge point's gradient must exceed this many σ of the gradient's noise there
EDGE_SNR = 8.0
#: Gaussian σ (px) of the smoothing before the gradient (after the 3 × 3 median)
SMOOTH_PX = 0.7
#: an edge's 20–80 % rise may be at most this factor × the frame's reference width (the lower quartile of
#: the candidates': the limb, blurred by the PSF alone, is the sharpest edge in the frame)
SHARPNESS = 1.3
#: an edge's dark side may exceed the image's dark level by at most this fraction of its step (sky beyond it)
DARK_SIDE = 0.25
#: fraction of the pixels just outside a fitted limb that must be sky-dark
MIN_DARK_OUTSIDE = 0.8
#: half-length (px) of the profile sampled across each edge point, and its sampling step
PROFILE_HALF_PX = 6.0
PROFILE_STEP_PX = 0.25
#: RANSAC: trials, inlier distance (px), smallest cosine between the brightening direction and the centre
RANSAC_TRIALS = 300
INLIER_PX = 1.0
MIN_COS_TOWARD_CENTRE = 0.7
#: a limb is accepted with at least this many edge points, spanning at least this arc (px), fitted to this rms
MIN_POINTS = 12
MIN_ARC_PX = 15.0
MAX_RMS_PX = 0.6
#: radii accepted (px): a disk smaller than the first shows no usable limb; the last is a straight edge
RADIUS_RANGE_PX = (5.0, 1e5)
#: candidate edge points kept (the strongest) before the profile test
MAX_CANDIDATES = 4000
#: circles looked for among the edge points (each among the points left off a soft circle before it)
MAX_CIRCLES = 3
#: a circle is soft (:func:`_is_soft`) where its median 20–80 % rise exceeds this × a PSF-blurred step's
#: (:func:`step_width_px`; 1.93 px at σ 0.8 px): where the photometric function leaves a step at the limb
#: it is 1.5–2.5 px; a terminator and a limb darkened to nothing rise from zero as a power of the distance,
#: 3.0–4.9 px measured (independent renderer, σ 0.8 px)
MAX_LIMB_WIDTH = 1.5
#: a circle is trusted (:attr:`LimbCircle.trusted`) only where its limb's 2σ position error (the fit's
#: covariance) stays within this within its known zone (:func:`known_zone`'s default margin)
MAX_BAND_ERROR_PX = 1.0
#: :func:`known_zone` extends the arc seen by this much (px) at each end
KNOWN_MARGIN_PX = 10.0


#: compare-exchange pairs of a median-of-9 network (N. Devillard, "Fast median search", opt_med9)
_MED9 = (
    (1, 2), (4, 5), (7, 8), (0, 1), (3, 4), (6, 7), (1, 2), (4, 5), (7, 8), (0, 3),
    (5, 8), (4, 7), (3, 6), (1, 4), (2, 5), (4, 7), (4, 2), (6, 4), (4, 2),
)  # fmt: skip


@dataclass(frozen=True)
class EdgePoints:
    """Sharp edge points: sub-pixel position (sample ``x``, line ``y``), unit direction of brightening
    (``ux``, ``uy``), step height (image units) and 20–80 % rise width (px)."""

    x: np.ndarray
    y: np.ndarray
    ux: np.ndarray
    uy: np.ndarray
    step: np.ndarray
    width_px: np.ndarray

    def __len__(self) -> int:
        return len(self.x)

    def subset(self, keep: np.ndarray) -> EdgePoints:
        return EdgePoints(*(a[keep] for a in (self.x, self.y, self.ux, self.uy, self.step, self.width_px)))


@dataclass(frozen=True)
class LimbCircle:
    """A limb found in the image.

    Attributes:
        center_sample, center_line: the circle's centre, px (may lie far outside the frame).
        radius_px: its radius, px.
        rms_px: rms distance of its edge points from it, px.
        n_points: edge points on it.
        arc_px: length of limb the points span, px.
        step: median disk-minus-sky step at the points, image units.
        points: the edge points on it.
        covariance: covariance of (centre sample, centre line, radius) from the points' scatter, px².
        soft: its edge rises more slowly than a PSF-blurred step (:func:`_is_soft`): a terminator's, or a
            limb darkened to nothing (near zero phase); set by :func:`find_limb`.
        beside_soft: it was found among the edge points left off a soft circle (a terminator's) fitted before
            it (:func:`find_limb`): the sunlit limb between a terminator's horns, darkened to nothing towards
            them, not the frame's first edge.
    """

    center_sample: float
    center_line: float
    radius_px: float
    rms_px: float
    n_points: int
    arc_px: float
    step: float
    points: EdgePoints
    covariance: np.ndarray | None = None
    soft: bool = False
    beside_soft: bool = False

    @property
    def band_error_px(self) -> float:
        """The largest 1σ error (px) of the limb's position along its known zone (the arc seen, extended as
        :func:`known_zone` extends it), from :attr:`covariance`: a short arc pins the limb where it was
        seen but not its radius, which moves the limb beyond the arc's ends."""
        if self.covariance is None:
            return float("inf")
        ang = _known_angles(self, KNOWN_MARGIN_PX)
        g = np.column_stack([np.cos(ang), np.sin(ang), np.ones_like(ang)])  # ∂(limb position)/∂(cx, cy, R)
        return float(np.sqrt(np.max(np.einsum("ij,jk,ik->i", g, self.covariance, g))))

    @property
    def trusted(self) -> bool:
        """It may decide what is off the disk: pinned (2σ band error ≤ :data:`MAX_BAND_ERROR_PX`) and either
        PSF-sharp or seen over more than half a turn. A soft edge may be a terminator or a limb darkened to
        nothing (near zero phase), whose 20–80 % widths are alike; but a terminator is half an ellipse (a
        great circle seen obliquely) ending on the limb, so no circle through it covers more than half a
        turn about its centre. The caller adds its own arc-length test."""
        pinned = 2.0 * self.band_error_px <= MAX_BAND_ERROR_PX
        return pinned and (not self.soft or covered_arc(self)[1] > np.pi)

    def distance_px(self, shape: tuple[int, int], box: tuple[slice, slice] | None = None) -> np.ndarray:
        """Signed distance to the limb of every pixel of an image of ``shape``, px (positive on the disk);
        ``box``: of the pixels of that (line, sample) box of it alone (the same values)."""
        if box is None:
            box = (slice(0, shape[0]), slice(0, shape[1]))
        yy, xx = np.ogrid[box[0], box[1]]
        return self.radius_px - np.hypot(xx - self.center_sample, yy - self.center_line)

    def box_px(self, beyond_px: float, shape: tuple[int, int]) -> tuple[slice, slice]:
        """The (line, sample) box of an image of ``shape`` holding every pixel within ``beyond_px`` (≥ 0) px
        beyond the limb (its distance ≥ −``beyond_px``), with a pixel to spare; possibly empty. The whole
        image for a circle not finite (its distance NaN everywhere, as the whole image's is)."""
        reach = self.radius_px + beyond_px + 1.0
        if not np.all(np.isfinite([self.center_line, self.center_sample, reach])):
            return slice(0, shape[0]), slice(0, shape[1])
        out = []
        for c, n in ((self.center_line, shape[0]), (self.center_sample, shape[1])):
            lo = int(np.clip(np.floor(c - reach), 0, n))
            hi = int(np.clip(np.ceil(c + reach) + 1, lo, n))
            out.append(slice(lo, hi))
        return out[0], out[1]


def _fill(data: np.ndarray) -> np.ndarray:
    x = np.asarray(data, dtype=np.float64)
    ok = np.isfinite(x)
    return x if ok.all() else np.where(ok, x, float(np.median(x[ok])) if ok.any() else 0.0)


def _med9_plan() -> tuple[tuple[int, int, bool, bool], ...]:
    """:data:`_MED9` with, per exchange, whether its minimum and its maximum are used later on the way to
    the median (element 4): the others are never computed (the same values)."""
    need, plan = {4}, []
    for a, b in reversed(_MED9):
        plan.append((a, b, a in need, b in need))
        if a in need or b in need:
            need |= {a, b}
    return tuple(reversed(plan))


_MED9_PLAN = _med9_plan()


def median3(x: np.ndarray) -> np.ndarray:
    """3 × 3 median filter (edges: nearest value), as ``ndimage.median_filter(x, 3, mode="nearest")`` but
    far faster: compiled (:func:`ioscan.detect.fit_kernels.median3_finite`), each line's columns of 3 sorted
    once and shared by the three windows that hold them, the median of 9 then the median of the largest
    low, the middle middle and the smallest high (18 minima/maxima). That is the same value as any median;
    its bits are the same unless a tie mixes +0 and −0, and NaN propagates differently: with a NaN or a −0
    in ``x`` the median-of-9 network (Devillard's opt_med9, only the 30 exchanges that lead to the median)
    runs instead on the edge-padded image's shifts as contiguous runs of its flattened pixels (the 2 padding
    columns of each line ride along and are dropped)."""
    zero = x == 0
    if not (np.isnan(x).any() or (zero.any() and np.signbit(x[zero]).any())):
        return median3_finite(np.ascontiguousarray(x))
    nl, ns = x.shape
    w = ns + 2
    p = np.pad(x, 1, mode="edge").ravel()
    n = nl * w - 2  # output (l, s) sits at l·w + s; its neighbour (l + i − 1, s + j − 1) at that + i·w + j
    v = [p[i * w + j : i * w + j + n] for i in range(3) for j in range(3)]
    for a, b, lo, hi in _MED9_PLAN:
        if lo and hi:
            v[a], v[b] = np.minimum(v[a], v[b]), np.maximum(v[a], v[b])
        elif lo:
            v[a] = np.minimum(v[a], v[b])
        elif hi:
            v[b] = np.maximum(v[a], v[b])
    out = np.empty(nl * w, p.dtype)
    out[:n] = v[4]
    return out.reshape(nl, w)[:, :ns]


def _smooth(x: np.ndarray) -> np.ndarray:
    """``ndimage.gaussian_filter(median3(x), SMOOTH_PX, mode="nearest")``; for a float32 image its two
    passes compiled (:func:`ioscan.detect.background_kernels.correlate_lines` then ``correlate_samples``:
    scipy's correlate1d, float64 line buffers rounded to float32 after each pass, the same values) with
    scipy's own kernel (:func:`_gaussian_weights`)."""
    m = median3(x)
    w = _gaussian_weights(SMOOTH_PX) if m.ndim == 2 and m.dtype == np.float32 and m.size else None
    if w is None:
        return ndimage.gaussian_filter(m, SMOOTH_PX, mode="nearest")
    from ioscan.detect.background_kernels import correlate_lines, correlate_samples

    nl, ns = m.shape
    return correlate_samples(correlate_lines(m, w, True, 0.0, 0, nl), w, True, 0.0, 0, ns)


@lru_cache(maxsize=4)
def _gaussian_weights(sigma: float) -> np.ndarray | None:
    """The weights ``ndimage.gaussian_filter1d`` correlates with for ``sigma`` (truncate 4: radius
    int(4σ + 0.5); scipy's own kernel, reversed), or None where scipy does not expose it."""
    try:
        from scipy.ndimage._filters import _gaussian_kernel1d
    except ImportError:  # (a scipy that moved it: its gaussian_filter itself is used)
        return None
    return np.ascontiguousarray(_gaussian_kernel1d(sigma, 0, int(4.0 * float(sigma) + 0.5))[::-1], np.float64)


@lru_cache(maxsize=1)
def _gradient_noise_factor() -> float:
    """σ of one Sobel gradient component of :func:`_smooth`-ed unit white noise (computed once)."""
    noise = np.random.default_rng(0).normal(size=(256, 256))
    g = ndimage.sobel(_smooth(noise), axis=1) / 8.0
    return float(np.std(g[8:-8, 8:-8]))


def _sorted_median(s: np.ndarray) -> np.ndarray:
    """The median along the last axis of values sorted along it: np.median's arithmetic (the middle value,
    or the mean of the two middle ones in the values' own type)."""
    n = s.shape[-1]
    if n % 2:
        return s[..., n // 2]
    return (s[..., n // 2 - 1] + s[..., n // 2]) / 2


def _block_mad(v: np.ndarray) -> np.ndarray:
    """``np.median(np.abs(v - np.median(v, axis=2, keepdims=True)), axis=2)`` of a 3-D array, bit for bit, by
    two sorts along the last axis (cheaper than numpy's two partitions and means). A median of ±0 ties may
    differ from numpy's in its zero's sign only, which ``|v − median|`` does not see; with a NaN in ``v``
    numpy's own route is taken."""
    s = np.sort(v, axis=2)
    if np.isnan(s[..., -1]).any():  # (NaN sorts last)
        return np.median(np.abs(v - np.median(v, axis=2, keepdims=True)), axis=2)
    a = np.abs(v - _sorted_median(s)[..., None])
    a.sort(axis=2)
    return _sorted_median(a)


def _laplacian_blocks(x: np.ndarray, bl: int, bs: int, hl: int, hs: int) -> np.ndarray:
    """The Laplacian residual x − (up + down + left + right)/4 at every other pixel of each of ``bl`` × ``bs``
    blocks of ``hl`` × ``hs`` pixels from pixel (1, 1): (bl, bs, values) (the reference)."""
    lap = np.zeros_like(x)
    lap[1:-1, 1:-1] = x[1:-1, 1:-1] - 0.25 * (x[:-2, 1:-1] + x[2:, 1:-1] + x[1:-1, :-2] + x[1:-1, 2:])
    v = lap[1 : 1 + bl * hl, 1 : 1 + bs * hs].reshape(bl, hl, bs, hs).transpose(0, 2, 1, 3)
    return v[:, :, ::2, ::2].reshape(bl, bs, -1)  # every other pixel of a block gives its scale well enough


def _sampled_laplacian_blocks(x: np.ndarray, bl: int, bs: int, hl: int, hs: int) -> np.ndarray:
    """:func:`_laplacian_blocks` for even ``hl`` and ``hs`` (then every block's sampled pixels are the odd
    lines and samples of the frame): the residual computed at those pixels only, the same operations in the
    same order (a quarter of the whole-frame arithmetic), the same values in the same order."""
    rows, cols = slice(1, 1 + bl * hl, 2), slice(1, 1 + bs * hs, 2)
    up, down = x[0 : bl * hl : 2, cols], x[2 : 2 + bl * hl : 2, cols]
    left, right = x[rows, 0 : bs * hs : 2], x[rows, 2 : 2 + bs * hs : 2]
    lap = x[rows, cols] - 0.25 * (up + down + left + right)
    return lap.reshape(bl, hl // 2, bs, hs // 2).transpose(0, 2, 1, 3).reshape(bl, bs, -1)


def pixel_noise_map(x: np.ndarray, block_px: int = 16, *, c_order: bool = False) -> np.ndarray:
    """Local pixel noise σ: robust scale of the pixel minus the mean of its 4 neighbours (÷ √1.25) in
    blocks of ``block_px``, spread back to the pixels (smooth structure cancels in the difference).
    ``c_order``: the map laid out in C order (the same values; numpy's spread by fancy indexing leaves it in
    Fortran order, which makes every whole-image operation with C-ordered images about twice as slow)."""
    nl, ns = x.shape
    bl, bs = max(1, (nl - 2) // block_px), max(1, (ns - 2) // block_px)
    hl, hs = (nl - 2) // bl, (ns - 2) // bs
    if hl >= 2 and hs >= 2 and hl % 2 == 0 and hs % 2 == 0:
        v = _sampled_laplacian_blocks(x, bl, bs, hl, hs)
    else:
        v = _laplacian_blocks(x, bl, bs, hl, hs)
    out = MAD_TO_SIGMA * _block_mad(v) / np.sqrt(1.25)
    positive = out > 0
    if not positive.all():  # (all positive: np.where would copy the same values)
        pos = out[positive]
        out = np.where(positive, out, float(np.median(pos)) if pos.size else 1.0)
    if c_order:
        return np.take(np.take(out, _block_rows(nl, hl, bl), axis=0), _block_rows(ns, hs, bs), axis=1)
    return out[_block_rows(nl, hl, bl)][:, _block_rows(ns, hs, bs)]


@lru_cache(maxsize=16)
def _block_rows(n: int, h: int, b: int) -> np.ndarray:
    """The block (of ``b`` blocks of ``h`` pixels from pixel 1, the edges joining the nearest) that each of
    ``n`` pixels takes its noise from, as :func:`pixel_noise_map` spreads it (read-only: shared)."""
    rows = np.clip((np.arange(n) - 1) // h, 0, b - 1)
    rows.flags.writeable = False
    return rows


def edge_points(
    data: np.ndarray, psf_sigma_px: float, *, border_px: int = 3, where: np.ndarray | None = None
) -> EdgePoints:
    """Sharp, significant edge points of an image (see the module docstring).

    Args:
        data: band image (NaN = missing).
        psf_sigma_px: PSF σ (px): sets the rise width a blurred step has.
        border_px: points this close to the frame edge or to missing pixels are dropped.
        where: look only at these pixels (the work is done on their bounding box, grown by the profile
            length); None: everywhere.
    """
    if where is not None:
        rows, cols = np.flatnonzero(where.any(axis=1)), np.flatnonzero(where.any(axis=0))
        empty = np.zeros(0)
        if rows.size == 0:
            return EdgePoints(empty, empty, empty, empty, empty, empty)
        pad = int(PROFILE_HALF_PX) + 4
        l0, s0 = max(rows[0] - pad, 0), max(cols[0] - pad, 0)
        box = (slice(l0, rows[-1] + pad + 1), slice(s0, cols[-1] + pad + 1))
        pts = _edge_points(np.asarray(data)[box], psf_sigma_px, border_px, np.asarray(where)[box])
        pts = EdgePoints(pts.x + s0, pts.y + l0, pts.ux, pts.uy, pts.step, pts.width_px)
        # border_px is from the frame's edges, not the box's
        return pts
    return _edge_points(data, psf_sigma_px, border_px, None)


def _edge_points(
    data: np.ndarray, psf_sigma_px: float, border_px: int, where: np.ndarray | None
) -> EdgePoints:
    raw = np.asarray(data)
    bad = ~np.isfinite(raw)
    if raw.dtype in (np.float32, np.float64) and not bad.any():
        x = raw.astype(np.float32)  # what _fill(data).astype(np.float32) gives without a NaN: one copy
    else:
        x = _fill(data).astype(np.float32)
    s = _smooth(x)
    gx, gy, g2 = _gradients(s)
    sig_g = pixel_noise_map(x, c_order=True) * _gradient_noise_factor()
    cand = g2 > (EDGE_SNR * sig_g) ** 2
    nl, ns = g2.shape
    if border_px > 0:
        cand[:border_px] = cand[-border_px:] = False
        cand[:, :border_px] = cand[:, -border_px:] = False
    if bad.any():
        cand &= ~grow(bad, max(border_px, 1))
    if where is not None:
        cand &= where
    ii, jj = np.nonzero(cand)
    # non-maximum suppression along the gradient direction (4 quantised directions)
    a = np.mod(np.round(np.arctan2(gy[ii, jj], gx[ii, jj]) / (np.pi / 4)), 4).astype(int)
    di = np.array([0, 1, 1, 1])[a]
    dj = np.array([1, 1, 0, -1])[a]
    v = g2[ii, jj]
    if border_px > 0:  # every candidate's neighbours are inside the image
        keep = (v >= g2[ii + di, jj + dj]) & (v >= g2[ii - di, jj - dj])
    else:  # beyond the edges: 0
        gp = np.pad(g2, 1, mode="constant")
        keep = (v >= gp[ii + 1 + di, jj + 1 + dj]) & (v >= gp[ii + 1 - di, jj + 1 - dj])
    ii, jj, v = ii[keep], jj[keep], v[keep]
    if ii.size > MAX_CANDIDATES:
        top = np.argsort(-v)[:MAX_CANDIDATES]
        ii, jj = ii[top], jj[top]
    empty = np.zeros(0)
    if ii.size == 0:
        return EdgePoints(empty, empty, empty, empty, empty, empty)
    gn = np.sqrt(g2[ii, jj]).astype(np.float64)
    ux, uy = gx[ii, jj] / gn, gy[ii, jj] / gn
    t = np.arange(-PROFILE_HALF_PX, PROFILE_HALF_PX + 1e-9, PROFILE_STEP_PX)
    prof = _profiles(s, ii, jj, uy, ux, t)
    outer = np.abs(t) >= PROFILE_HALF_PX - 2.5
    dark = prof[:, outer & (t < 0)].mean(axis=1)
    bright = prof[:, outer & (t > 0)].mean(axis=1)
    step = bright - dark
    # a limb has the sky on its dark side: no darker than the image's dark level (its 2nd percentile, after
    # the 3 × 3 median) plus a quarter of the step; an edge inside the disk has ground there
    sky = float(percentile(s[:: max(1, s.shape[0] // 64), :: max(1, s.shape[1] // 128)], 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        f = (prof - dark[:, None]) / step[:, None]
    # compiled (fit_kernels.level_crossings: _crossing's operations, the level in f's type as numpy takes it)
    t20, t50, t80 = (level_crossings(f, t, f.dtype.type(level)) for level in (0.2, 0.5, 0.8))
    width = t80 - t20
    candidate = (step > 0) & (dark <= sky + DARK_SIDE * step) & np.isfinite(width) & (np.abs(t50) <= 1.5)
    # the limb is the sharpest edge there is, its width set by the PSF: the reference width is the lower
    # quartile of the candidates' (bounded by what PSFs of 0.5–3 × the given σ would give)
    sigma_eff = np.sqrt(psf_sigma_px**2 + SMOOTH_PX**2 + 1.0 / 12.0 + 0.1)
    lo, hi = (1.683 * np.sqrt((k * psf_sigma_px) ** 2 + SMOOTH_PX**2 + 1.0 / 12.0 + 0.1) for k in (0.5, 3.0))
    ref = float(percentile(width[candidate], 25)) if candidate.sum() >= MIN_POINTS else 1.683 * sigma_eff
    ref = min(max(ref, lo), hi)
    ok = candidate & (width <= SHARPNESS * ref)
    cross = steepest_rise(prof, t, 1.5, prof.dtype.type(2), prof.dtype.type(0.5))  # _steepest, compiled
    ok &= np.isfinite(cross)
    return EdgePoints(
        x=(jj + cross * ux)[ok],
        y=(ii + cross * uy)[ok],
        ux=ux[ok],
        uy=uy[ok],
        step=step[ok],
        width_px=width[ok],
    )


def _gradients(s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sobel gradients ÷ 8 along samples and lines of a float32 image, and their squared norm (float32):
    compiled (:func:`ioscan.geometry.limb_kernels.sobel_gradients`), the numbers of
    :func:`_gradients_numpy`."""
    if s.dtype == np.float32 and s.ndim == 2:
        from ioscan.geometry.limb_kernels import sobel_gradients

        return sobel_gradients(np.ascontiguousarray(s))
    return _gradients_numpy(s)


def _gradients_numpy(s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_gradients` by ``ndimage.sobel`` (the reference)."""
    gx = ndimage.sobel(s, axis=1) / np.float32(8.0)
    gy = ndimage.sobel(s, axis=0) / np.float32(8.0)
    return gx, gy, gx * gx + gy * gy


def _profiles(
    img: np.ndarray, rows: np.ndarray, cols: np.ndarray, uy: np.ndarray, ux: np.ndarray, t: np.ndarray
) -> np.ndarray:
    """Profiles of ``img`` across points (``rows``, ``cols``) along unit vectors (``ux``, ``uy``), sampled at
    offsets ``t`` px: (points, len(t)), bilinear with edge values beyond the image, in ``img``'s dtype.
    Compiled (:func:`ioscan.geometry.limb_kernels.linear_profiles`) for float images, the numbers of
    :func:`_profiles_numpy`."""
    a = np.ascontiguousarray(img)
    if a.dtype in (np.float32, np.float64) and ux.dtype == uy.dtype == t.dtype == np.float64:
        from ioscan.geometry.limb_kernels import linear_profiles

        out = np.empty((len(rows), len(t)), a.dtype)
        if linear_profiles(a, *(np.ascontiguousarray(v) for v in (rows, cols, uy, ux, t)), out):
            return out
    return _profiles_numpy(img, rows, cols, uy, ux, t)


def _profiles_numpy(img, rows, cols, uy, ux, t) -> np.ndarray:
    """:func:`_profiles` by ``ndimage.map_coordinates(order=1, mode="nearest")`` (the reference)."""
    px = cols[:, None] + t[None, :] * ux[:, None]
    py = rows[:, None] + t[None, :] * uy[:, None]
    return ndimage.map_coordinates(img, [py.ravel(), px.ravel()], order=1, mode="nearest").reshape(px.shape)


def _linear_at(img: np.ndarray, lines: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """``ndimage.map_coordinates(img, [lines, samples], order=1, mode="nearest")`` of a float64 image at 1-D
    positions, compiled (:func:`ioscan.geometry.limb_kernels.linear_at`): the same numbers."""
    a = np.ascontiguousarray(img)
    lines, samples = np.asarray(lines), np.asarray(samples)
    if a.dtype == np.float64 and lines.ndim == 1 and lines.dtype == samples.dtype == np.float64:
        from ioscan.geometry.limb_kernels import linear_at

        out = np.empty(len(lines))
        if linear_at(a, np.ascontiguousarray(lines), np.ascontiguousarray(samples), out):
            return out
    return ndimage.map_coordinates(img, [lines, samples], order=1, mode="nearest")


def _crossing(f: np.ndarray, t: np.ndarray, level: float) -> np.ndarray:
    """Per row of ``f`` (profiles sampled at ``t``), the position where it crosses ``level`` nearest the
    middle (linear interpolation), NaN if it never does (the definition; detection runs it compiled,
    :func:`ioscan.detect.fit_kernels.level_crossings`)."""
    mid = (t.size - 1) / 2.0
    above = f >= level
    change = above[:, 1:] != above[:, :-1]
    far = np.where(change, np.abs(np.arange(t.size - 1) + 0.5 - mid), np.inf)
    c = np.argmin(far, axis=1)
    rows = np.arange(f.shape[0])
    f0, f1 = f[rows, c], f[rows, c + 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(f1 != f0, (level - f0) / (f1 - f0), 0.0)
    return np.where(np.isfinite(far[rows, c]), t[c] + frac * (t[1] - t[0]), np.nan)


def _steepest(prof: np.ndarray, t: np.ndarray, reach_px: float = 1.5) -> np.ndarray:
    """Per profile, the position of its steepest rise within ``reach_px`` of the middle (parabola through the
    largest finite difference and its neighbours): a blurred step's edge, unbiased by a bright rim inside it
    (limb brightening), which moves the half-step point outwards (the definition; detection runs it
    compiled, :func:`ioscan.detect.fit_kernels.steepest_rise`)."""
    g = np.diff(prof, axis=1)
    tg = 0.5 * (t[1:] + t[:-1])
    inside = np.abs(tg) <= reach_px
    idx = np.flatnonzero(inside)
    k = idx[0] + np.argmax(g[:, inside], axis=1)
    k = np.clip(k, 1, g.shape[1] - 2)
    rows = np.arange(g.shape[0])
    gm, g0, gp = g[rows, k - 1], g[rows, k], g[rows, k + 1]
    den = gm - 2 * g0 + gp
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(den < 0, 0.5 * (gm - gp) / den, 0.0)
    return np.where(np.abs(frac) <= 1.0, tg[k] + frac * (t[1] - t[0]), np.nan)


def _circles_through(p1: np.ndarray, p2: np.ndarray, p3: np.ndarray):
    """Centres (x, y) and radii of the circles through triples of points (arrays (n, 2)); NaN if collinear."""
    ax, ay = p1[:, 0], p1[:, 1]
    bx, by = p2[:, 0], p2[:, 1]
    cx, cy = p3[:, 0], p3[:, 1]
    d = 2.0 * (ax * (by - cy) + bx * (cy - ay) + cx * (ay - by))
    a2, b2, c2 = ax * ax + ay * ay, bx * bx + by * by, cx * cx + cy * cy
    with np.errstate(invalid="ignore", divide="ignore"):
        ux = (a2 * (by - cy) + b2 * (cy - ay) + c2 * (ay - by)) / d
        uy = (a2 * (cx - bx) + b2 * (ax - cx) + c2 * (bx - ax)) / d
    return ux, uy, np.hypot(ax - ux, ay - uy)


def _inliers(pts: EdgePoints, cx: float, cy: float, r: float, tol: float) -> np.ndarray:
    dx, dy = cx - pts.x, cy - pts.y
    dist = np.hypot(dx, dy)
    toward = (pts.ux * dx + pts.uy * dy) / np.maximum(dist, 1e-9)
    return (np.abs(dist - r) < tol) & (toward > MIN_COS_TOWARD_CENTRE)


def _refine(pts: EdgePoints, cx: float, cy: float, r: float, n_iter: int = 8) -> tuple[float, float, float]:
    """Geometric least-squares circle (Gauss–Newton on the distances) from a starting circle."""
    x, y = pts.x - pts.x.mean(), pts.y - pts.y.mean()
    c = np.array([cx - pts.x.mean(), cy - pts.y.mean(), r])
    for _ in range(n_iter):
        dx, dy = x - c[0], y - c[1]
        dist = np.maximum(np.hypot(dx, dy), 1e-9)
        res = dist - c[2]
        jac = np.column_stack([-dx / dist, -dy / dist, -np.ones_like(dist)])
        step, *_ = np.linalg.lstsq(jac, -res, rcond=None)
        c = c + step
        if np.all(np.abs(step) < 1e-4):
            break
    return float(c[0] + pts.x.mean()), float(c[1] + pts.y.mean()), float(c[2])


def fit_limb_circle(pts: EdgePoints, *, seed: int = 0) -> LimbCircle | None:
    """The circle most sharp edge points lie on with their bright side towards its centre (RANSAC, then
    geometric least squares), or None when no circle gathers :data:`MIN_POINTS` points over
    :data:`MIN_ARC_PX` with an rms below :data:`MAX_RMS_PX`."""
    n = len(pts)
    if n < MIN_POINTS:
        return None
    rng = np.random.default_rng(seed)
    xy = np.column_stack([pts.x, pts.y])
    idx = rng.integers(0, n, size=(RANSAC_TRIALS, 3))
    cx, cy, r = _circles_through(xy[idx[:, 0]], xy[idx[:, 1]], xy[idx[:, 2]])
    ok = np.isfinite(r) & (r >= RADIUS_RANGE_PX[0]) & (r <= RADIUS_RANGE_PX[1])
    ok &= (idx[:, 0] != idx[:, 1]) & (idx[:, 1] != idx[:, 2]) & (idx[:, 0] != idx[:, 2])
    if not ok.any():
        return None
    cx, cy, r = cx[ok], cy[ok], r[ok]
    dx = cx[:, None] - pts.x[None, :]
    dy = cy[:, None] - pts.y[None, :]
    dist = np.hypot(dx, dy)
    toward = (pts.ux[None, :] * dx + pts.uy[None, :] * dy) / np.maximum(dist, 1e-9)
    score = np.count_nonzero(
        (np.abs(dist - r[:, None]) < INLIER_PX) & (toward > MIN_COS_TOWARD_CENTRE), axis=1
    )
    best = int(np.argmax(score))
    if score[best] < MIN_POINTS:
        return None
    c = (float(cx[best]), float(cy[best]), float(r[best]))
    inl = _inliers(pts, *c, INLIER_PX)
    for tol in (INLIER_PX, INLIER_PX):
        if inl.sum() < MIN_POINTS:
            return None
        c = _refine(pts.subset(inl), *c)
        inl = _inliers(pts, *c, tol)
    if inl.sum() < MIN_POINTS or not (RADIUS_RANGE_PX[0] <= c[2] <= RADIUS_RANGE_PX[1]):
        return None
    on = pts.subset(inl)
    res = np.hypot(on.x - c[0], on.y - c[1]) - c[2]
    rms = float(np.sqrt(np.mean(res**2)))
    ang = np.sort(np.arctan2(on.y - c[1], on.x - c[0]))
    gaps = np.diff(np.concatenate([ang, ang[:1] + 2 * np.pi]))
    arc = float((2 * np.pi - gaps.max()) * c[2])
    if rms > MAX_RMS_PX or arc < MIN_ARC_PX:
        return None
    cov = _circle_covariance(on, *c)
    return LimbCircle(c[0], c[1], c[2], rms, int(inl.sum()), arc, float(np.median(on.step)), on, cov)


def _circle_covariance(pts: EdgePoints, cx: float, cy: float, r: float) -> np.ndarray:
    """Covariance of a geometric least-squares circle's (centre sample, centre line, radius), px²: the
    residual variance (3 parameters fitted) times the inverse normal matrix of the distances' Jacobian.
    A short arc leaves the radius and the centre's distance along its middle nearly degenerate."""
    dx, dy = pts.x - cx, pts.y - cy
    dist = np.maximum(np.hypot(dx, dy), 1e-9)
    jac = np.column_stack([-dx / dist, -dy / dist, -np.ones_like(dist)])
    res = dist - r
    s2 = float(np.sum(res**2)) / max(len(res) - 3, 1)
    return s2 * np.linalg.pinv(jac.T @ jac)


def find_limb(
    data: np.ndarray, psf_sigma_px: float, saturated: np.ndarray | None = None
) -> LimbCircle | None:
    """Io's limb in a band image (no geometry), or None when no sharp limb is in view (night side, a disk
    smaller than ~10 px, Io out of the frame, a limb darkened to nothing).

    The circle must also leave the sky outside: of the pixels 2–6 px beyond it in the directions where it
    was seen, at least :data:`MIN_DARK_OUTSIDE` must be as dark as its edge points' dark sides allow. Edges
    within :data:`PROFILE_HALF_PX` of a ``saturated`` pixel are not used (a clipped hot spot is a bright
    disk with a sharp edge too). A circle whose edge is wider than a PSF-blurred step (:func:`_is_soft`)
    may be a terminator (often a longer edge than the part of the limb in view) or a limb darkened to
    nothing (a Lambert disk near zero phase rises as √distance from its limb, a terminator as a power of
    the distance from it: the same 20–80 % width): a PSF-sharp circle among the edge points left off it
    and sharper than most of its is then the limb (:data:`MAX_CIRCLES` circles in all; it is marked
    ``beside_soft``); without one the soft circle stands."""
    x = _fill(data).astype(np.float32)
    where = None
    if saturated is not None and np.any(saturated):
        where = ~grow(np.asarray(saturated, bool), int(PROFILE_HALF_PX) + 1)
    pts = edge_points(x, psf_sigma_px, where=where)
    circle = soft = first = fit_limb_circle(pts)
    rest = pts
    for _ in range(MAX_CIRCLES - 1):
        if soft is None or not _is_soft(soft, psf_sigma_px):
            break
        # a soft edge: a terminator, or a limb darkened to nothing (Lambert near zero phase); a PSF-sharp
        # circle among the other points (those sharper than most of its) is the limb
        wide = rest.width_px >= percentile(soft.points.width_px, 10)
        rest = rest.subset(~_inliers(rest, *_circle_of(soft), 2.0 * INLIER_PX) & ~wide)
        soft = fit_limb_circle(rest)
        if soft is not None and not _is_soft(soft, psf_sigma_px):
            circle = soft
            break
    if circle is None:
        return None
    box, ring = _dark_ring(circle, x.shape)
    if np.count_nonzero(ring) >= 20:
        s = median3(x)
        sky = float(percentile(s[:: max(1, s.shape[0] // 64), :: max(1, s.shape[1] // 128)], 2))
        dark = np.count_nonzero(s[box][ring] <= sky + DARK_SIDE * circle.step) / np.count_nonzero(ring)
        if dark < MIN_DARK_OUTSIDE:
            return None
    return replace(circle, soft=_is_soft(circle, psf_sigma_px), beside_soft=circle is not first)


def _dark_ring(circle: LimbCircle, shape: tuple[int, int]) -> tuple[tuple[slice, slice], np.ndarray]:
    """The pixels 2–6 px beyond the circle in the directions it was seen (:func:`known_zone`, no margin),
    where :func:`find_limb` wants the sky dark: a box of the image (:meth:`LimbCircle.box_px`) and the
    mask within it (the whole image's mask cropped to it; none beyond it). The angles only at the pixels
    2–6 px out (the same values)."""
    box = circle.box_px(6.0, shape)
    d = circle.distance_px(shape, box)
    ring = (d <= -2.0) & (d >= -6.0)
    ii, jj = np.nonzero(ring)
    ring[ii, jj] = _in_known_arc(circle, ii + box[0].start, jj + box[1].start, 0.0)
    return box, ring


def _circle_of(circle: LimbCircle) -> tuple[float, float, float]:
    return circle.center_sample, circle.center_line, circle.radius_px


def step_width_px(psf_sigma_px: float) -> float:
    """20–80 % rise width (px) of a step blurred by a Gaussian PSF of σ ``psf_sigma_px`` as
    :func:`edge_points` measures it (after its smoothing, with the pixel's box)."""
    return float(1.683 * np.sqrt(psf_sigma_px**2 + SMOOTH_PX**2 + 1.0 / 12.0 + 0.1))


def _is_soft(circle: LimbCircle, psf_sigma_px: float) -> bool:
    """The circle's edge rises more slowly than a limb can (median 20–80 % width > :data:`MAX_LIMB_WIDTH`
    × the PSF's step): a terminator's."""
    return bool(np.median(circle.points.width_px) > MAX_LIMB_WIDTH * step_width_px(psf_sigma_px))


def geometry_limb_offset_px(
    data: np.ndarray,
    limb_distance_px: np.ndarray,
    psf_sigma_px: float,
    *,
    reach_px: float = 8.0,
    saturated: np.ndarray | None = None,
    expected: np.ndarray | Callable[[], np.ndarray | None] | None = None,
) -> tuple[float, EdgePoints]:
    """How far the image's limb lies from a geometry's: the median of the geometry's limb distance at the
    sharp edge points within ``reach_px`` of its limb that brighten towards its disk, px (positive: the
    geometry's disk reaches beyond the limb seen; NaN with fewer than :data:`MIN_POINTS` points: no bright
    limb to check against), and those points.

    ``expected``: the image the geometry predicts (e.g. the PSF-blurred shading of its sunlit disk, any
    scale). A limb darkened towards the edge has its steepest rise inside the limb, so the offset is then
    measured against where ``expected`` rises steepest along each point's normal, not against the limb.
    It may be given as a function returning it (or None), called only when enough points need it."""
    d = np.asarray(limb_distance_px, dtype=float)
    if not np.isfinite(d).all():  # (read only: a finite map is used as it is)
        d = np.nan_to_num(d, nan=-1e6)
    where = np.abs(d) <= reach_px
    if saturated is not None and np.any(saturated):
        where &= ~grow(np.asarray(saturated, bool), int(PROFILE_HALF_PX) + 1)
    pts = edge_points(data, psf_sigma_px, where=where)
    if len(pts) == 0:
        return float("nan"), pts
    at = _linear_at(d, pts.y, pts.x)
    (gl, gs), (l0, s0) = _gradient_at(d, pts.y, pts.x)
    nx = _linear_at(gs, pts.y - l0, pts.x - s0)
    ny = _linear_at(gl, pts.y - l0, pts.x - s0)
    norm = np.maximum(np.hypot(nx, ny), 1e-9)
    ok = (np.abs(at) <= reach_px) & ((pts.ux * nx + pts.uy * ny) / norm > MIN_COS_TOWARD_CENTRE)
    if ok.sum() < MIN_POINTS:
        return float("nan"), pts.subset(ok)
    if callable(expected):  # made only now: most of the check's cost when there are no points to check
        expected = expected()
    if expected is not None:  # offset from the predicted image's own steepest rise along each normal
        on = pts.subset(ok)
        t = np.arange(-reach_px, reach_px + 1e-9, PROFILE_STEP_PX)
        e = np.asarray(expected, dtype=float)
        prof = _profiles(e if np.isfinite(e).all() else np.nan_to_num(e), on.y, on.x, on.uy, on.ux, t)
        t_model = steepest_rise(prof, t, float(reach_px), prof.dtype.type(2), prof.dtype.type(0.5))
        good = np.isfinite(t_model)
        if good.sum() >= MIN_POINTS:
            return float(np.median(t_model[good])), on
    return float(np.median(at[ok])), pts.subset(ok)


def _gradient_at(
    d: np.ndarray, y: np.ndarray, x: np.ndarray
) -> tuple[tuple[np.ndarray, ...], tuple[int, int]]:
    """``np.gradient(d)`` where a linear interpolation at the points (``y``, ``x``) reads it: on the box of
    the pixels it reads (floor and floor + 1 of each coordinate, clipped to the image, mode "nearest") grown
    by 1 px (so that each of them has its central difference, or the image edge's one-sided one, as in the
    whole image), and the box's first (line, sample). The points' coordinates minus that corner are exact
    (non-negative integers below them), and so are the interpolation's weights."""
    nl, ns = d.shape
    if y.size == 0:
        return np.gradient(d), (0, 0)
    box = []
    for c, n in ((y, nl), (x, ns)):
        lo = int(np.clip(np.floor(np.min(c)), 0, n - 1))
        hi = int(np.clip(np.floor(np.max(c)) + 1, 0, n - 1))
        box.append((max(lo - 1, 0), min(hi + 2, n)))
    (a0, a1), (b0, b1) = box
    if a1 - a0 < 2 or b1 - b0 < 2:  # (np.gradient needs 2 values per axis)
        return np.gradient(d), (0, 0)
    return tuple(np.gradient(d[a0:a1, b0:b1])), (a0, b0)


def covered_arc(limb: LimbCircle) -> tuple[float, float]:
    """The arc of the limb's points seen from the circle's centre: its start angle (rad) and its span
    counter-clockwise (rad), the complement of the largest angular gap between points."""
    cx, cy = limb.center_sample, limb.center_line
    ang = np.sort(np.arctan2(limb.points.y - cy, limb.points.x - cx))
    gaps = np.diff(np.concatenate([ang, ang[:1] + 2 * np.pi]))
    k = int(np.argmax(gaps))
    return float(ang[(k + 1) % ang.size]), float(2 * np.pi - gaps[k])


def _known_angles(limb: LimbCircle, margin_px: float, n: int = 181) -> np.ndarray:
    """``n`` angles (rad) spanning the arc seen extended by ``margin_px`` at each end (:func:`known_zone`)."""
    start, span = covered_arc(limb)
    pad = margin_px / limb.radius_px
    return start - pad + np.linspace(0.0, min(span + 2 * pad, 2 * np.pi), n)


def known_zone(limb: LimbCircle, shape: tuple[int, int], margin_px: float = KNOWN_MARGIN_PX) -> np.ndarray:
    """True on pixels in the directions (seen from the circle's centre) where the limb was seen, the arc
    of its points extended by ``margin_px``: there the circle is the limb; elsewhere it is an extrapolation
    (a dark or out-of-frame limb) that must not decide what is on the disk.

    The angle from the centre (``np.arctan2``, most of the cost) is computed only at the pixels within
    :data:`_RAY_MARGIN_RAD` of the arc's two bounding rays (:func:`_in_known_arc`, the reference); the others
    are decided by the signs of their cross products with the rays, far beyond any rounding of either."""
    yy, xx = np.ogrid[0 : shape[0], 0 : shape[1]]
    cx, cy, r = limb.center_sample, limb.center_line, limb.radius_px
    start, span = covered_arc(limb)
    pad = margin_px / r
    a, w = start - pad, span + 2 * pad  # the reference's start and width (rad)
    if not np.all(np.isfinite([cx, cy, a, w])) or w >= 2 * np.pi or 0 in shape:
        return _in_known_arc(limb, yy, xx, margin_px)
    dx, dy = xx - cx, yy - cy
    cross_a = dy * np.cos(a) - dx * np.sin(a)  # ρ sin(θ − a): ≥ 0 from the arc's start ray on, for π
    cross_b = dy * np.cos(a + w) - dx * np.sin(a + w)  # ρ sin(θ − a − w): ≤ 0 up to its end ray
    zone = _between_rays(cross_a, cross_b, w)
    far = float(np.hypot(max(abs(cx), abs(cx - shape[1])), max(abs(cy), abs(cy - shape[0]))))
    tol = _RAY_MARGIN_RAD * (far + 1.0)  # ≥ that angle × any pixel's distance from the centre
    ii, jj = np.nonzero((np.abs(cross_a) <= tol) | (np.abs(cross_b) <= tol))
    zone[ii, jj] = _in_known_arc(limb, ii, jj, margin_px)
    return zone


def _between_rays(cross_a: np.ndarray, cross_b: np.ndarray, w: float) -> np.ndarray:
    """Directions within an arc of width ``w`` (rad, below 2π) from its start ray, from their cross products
    with its start ray (``cross_a``) and end ray (``cross_b``); at most π wide: on or after the start and on
    or before the end, else not in the gap beyond it (the narrower wedge)."""
    if w < np.pi:
        return (cross_a >= 0.0) & (cross_b <= 0.0)
    return ~((cross_a < 0.0) & (cross_b > 0.0))


#: pixels whose direction from the circle's centre lies within this angle (rad) of either ray bounding
#: :func:`known_zone`'s arc are decided by their angle itself (``np.arctan2``'s and the reference's rounding:
#: ~1e-14 rad)
_RAY_MARGIN_RAD = 1e-9


def _in_known_arc(limb: LimbCircle, yy: np.ndarray, xx: np.ndarray, margin_px: float) -> np.ndarray:
    """:func:`known_zone` at the pixels of (line, sample) ``yy``, ``xx`` (integer arrays, broadcast)."""
    cx, cy, r = limb.center_sample, limb.center_line, limb.radius_px
    start, span = covered_arc(limb)  # the covered arc runs from start counter-clockwise
    pad = margin_px / r
    rel = np.mod(np.arctan2(yy - cy, xx - cx) - (start - pad), 2 * np.pi)
    return rel <= span + 2 * pad
