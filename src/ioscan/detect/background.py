"""Background, noise and calibrated matched-filter S/N map of one band image that knows Io's disk and limb.

Everything is whole-image filtering of the analysed crop (no Python loops over pixels: ``scipy.ndimage``, and
its hottest loops compiled with numba in :mod:`ioscan.detect.background_kernels`, which give the same values):

* **regions**: with a signed limb distance ``d`` (pixels, positive on the disk) the image splits into disk
  (d > w), sky (d < −w) and a thin limb band (|d| ≤ w, w ≈ 1.5 PSF σ + 0.5 px) where the disk edge is
  blurred by the PSF. The limb band is left out of the search and the fits.
* **outliers**: pixels far from the mean of their 4 neighbours (beyond 5 × the local robust scale of that
  difference: cosmic rays, bright hot spots, compact dark spots) and their 8 neighbours are replaced by the
  mean of the clean pixels around them before any background is computed, so they leave no rims. (With
  ``keep_source_pixels`` the photometry can have a bright source's own outlier pixels feed its background as
  they are, :func:`source_residual`: the mean of the ground 4–6 px away, filled into its ~6 × 6 hole, misses
  textured sunlit ground by percents of its flux.)
* **background**: a local quadratic surface fitted (least squares) to the pixels of a square annulus
  h0 < max(|dl|, |ds|) ≤ h1 around each pixel and evaluated at its centre — a fixed linear kernel
  (:func:`background_kernel`) that follows albedo gradients *and curvature*, so textured sunlit ground
  leaves far smaller residuals than an annulus mean. Each region is extended across the limb (and the frame
  edges, by point reflection that keeps the curvature across the edge, :func:`_pad_odd`) before the kernel
  is applied, so the bright disk never leaks into the sky's background or the reverse. Two annuli
  (:func:`annulus_sizes`): a small one for texture, a large one that adds less noise (for narrow PSFs with a
  plane, :func:`filter_options`); each pixel uses the option promising the higher calibrated S/N (efficiency ÷
  local scale).
* **white noise**: pixel variance a + b·background (read + shot), fitted per region from the lower quartile of
  squared Laplacian residuals in background bins (robust to structure and outliers); with ``white_noise_d2``
  of the separable second difference [1, −2, 1] ⊗ [1, −2, 1] instead, which cancels smooth structure to
  third order and column patterns (:func:`second_difference`).
* **calibrated significance**: F = matched filter (PSF core, at 4 sub-pixel phases) of the residual;
  S_white = F / its white-noise standard deviation (the background kernel's noise included). The S/N is
  S_white divided by a robust local scale of S_white itself — 1.4826 × median |S_white| over blocks of the
  same region (3 × 3 blocks of ``local_window_px``) and along the limb (limb-distance bins) — never below 1.
  Sources are left out of it with their core's filtered reach; with ``source_ring_mask`` clear ones also
  with the negative ring the background annulus carries (it holds the source's wings at distances h0 … h1),
  out to h1 + 2 px — for cores ≳ 1 px that ring, counted as noise, costs 15–20 % of the S/N on white noise.
  On noise-limited ground the scale is 1 and the S/N is the theoretical one; on textured sunlit ground it
  rises exactly as much as the texture raises the filtered residual, so one threshold gives the same false
  rate everywhere. Pixels whose
  background or filter reaches the limb band or the frame edge form their own blocks and also get the
  profile of the scale against the distance to the limb / the edge (and in the crop's corners, against the
  distance to the corner). In a measured limb profile's zone the S/N is high-passed along the limb and
  divided again by the zone's own profile and cells (a quantile, ``limb_scale_quantile``); with
  ``limb_zone_own_scale_px`` the zone's pixels that far inside take that of the white-noise S/N alone, not
  the product with the blocks and the limb-distance profile (4 px by default, with the limb band searched and
  the misfit tests that make it safe, ``ioscan.detect.misfits``; README).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import ndimage
from scipy.special import ndtri

from ioscan.detect import background_kernels as kernels
from ioscan.detect.disk import grow, percentile
from ioscan.detect.limb_profile import SKY_REACH_PX, ZONE_REACH_PX, LimbModel
from ioscan.detect.psf import PsfModel, kernel1d
from ioscan.robust import MAD_TO_SIGMA, finite_median, median_or_nan

#: 25th percentile of χ²₁ (lower quartile of a squared unit Gaussian)
_Q25_CHI2 = 0.10153104
#: median of χ²₁
_MEDIAN_CHI2 = 0.45493642
#: |residual| / (local scale × white σ) beyond which a pixel is an outlier for the second background pass
_CLIP = 5.0
#: with a limb model, pixels whose profile value is below this fraction of the disk's feed no background fit
#: (the sky-side tail: their ratio to the profile is noise amplified); they take the modelled background
TEMPLATE_FIT_FLOOR = 0.3
#: quantile of |S/N| in limb-distance bins from which the limb zone's scale is taken (÷ its Gaussian value):
#: what a measured profile leaves there is clutter with heavier tails than noise
LIMB_SCALE_QUANTILE = 0.9
#: bin width (px of distance to the nearest frame corner) of the corners' scale profile: the first bin of
#: the four corners holds 4 × 3² pixels, enough for a median
CORNER_STEP_PX = 3.0
#: the profile value below which the data are not divided further (the ratio is left bounded there)
TEMPLATE_DIVIDE_FLOOR = 0.02


def base_limb_halfwidth_px(sigma_px: float) -> float:
    """Half-width (px) of the bright limb band left out of the search for a PSF core of σ ``sigma_px``,
    before any widening for the pointing error: 1.5 σ + 0.5."""
    return 1.5 * sigma_px + 0.5


@dataclass
class BandModel:
    """Background, noise and S/N of one band image (arrays lines × samples, the analysed crop).

    Attributes:
        background: background per pixel (of the annulus chosen there; for the tight broad-PSF option
            of :func:`filter_options`, that of the small standard annulus), image units.
        residuals: data − background of each annulus where ``usable``, else 0.
        usable: finite, unmasked pixels outside the limb band (the matched filter and fits use these).
        clean: usable pixels that fed the background as they are (outliers were replaced).
        sigma_white: white (read + shot) pixel noise, image units.
        scale: local excess factor of the matched-filtered residual over white noise (≥ 1).
        noise: effective pixel noise for fits, ``sigma_white × scale``.
        snr: calibrated matched-filter S/N map (the best of the sub-pixel phases :data:`PHASES`).
        phase: index in :data:`PHASES` of the phase giving ``snr``.
        choice: index of the annulus (:func:`annulus_sizes`) chosen at each pixel.
        annuli: (h0, h1, degree) of each option; the background is the data correlated with
            ``background_kernel(h0, h1, degree)`` (on the shading-normalised image where one was given).
        limb_distance_px: signed limb distance (positive on the disk) or None.
        noise_median: median white noise over usable pixels, image units (NaN where not asked for:
            ``with_noise_median``).
        refit: what :func:`source_residual` needs to make the background again with chosen outlier pixels
            fed as they are (``keep_source_pixels``), or None.
        scale_block: the chosen option's block scale alone (≥ 1), before the profiles against the distance
            to the limb, the frame edge and corner and the limb zone's own scale raise it (diagnostics).
    """

    background: np.ndarray
    residuals: list[np.ndarray]
    usable: np.ndarray
    clean: np.ndarray
    sigma_white: np.ndarray
    scale: np.ndarray
    noise: np.ndarray
    snr: np.ndarray
    phase: np.ndarray
    choice: np.ndarray
    annuli: list[tuple[int, int, int]]
    limb_distance_px: np.ndarray | None
    noise_median: float
    refit: RefitInputs | None = None
    scale_block: np.ndarray | None = None

    @property
    def outliers(self) -> np.ndarray:
        """Usable pixels the outlier test replaced before the background kernel (the fill's holes)."""
        return self.usable & ~self.clean


@dataclass
class RefitInputs:
    """The pieces of one :func:`estimate_background` call that make its backgrounds again
    (:func:`source_residual`): the data as fed to the kernel before the outlier fill (``x_norm``: divided by
    the shading / limb profile where one was given), the data as the residual subtracts from (``x_raw``),
    the regions and each pixel's side, how the kernel's output goes back to image units (``sky`` +
    (bg − ``sky``) × ``norm``; ``norm`` None: as it is)."""

    x_norm: np.ndarray
    x_raw: np.ndarray
    regions: list[np.ndarray]
    side: np.ndarray
    norm: np.ndarray | None
    sky: np.float32 | None


def source_residual(model: BandModel, k: int, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(residual of option ``k``, pixels that fed its background as they are) when the outlier pixels
    ``keep`` (a bright source's own core and wings, which the outlier test replaced) feed the background as
    they are instead of the (2 h1 + 5)² box mean of the clean pixels around them.

    Replaced, a bright source's pixels take the mean of the ground 4–6 px away: on textured sunlit ground
    that misses the ground under the source by several pixel noises over a hole of ~6 × 6 px, which the
    annulus (1, 3) then reads almost alone (``benchmarks/bench_source_leak.py``: fitted fluxes of S/N-1,000
    sources scatter by 2.2 %, 0.15 % with their pixels kept). Fed as they are, the source's light in the
    annulus is exactly the effective PSF's
    (:func:`ioscan.detect.photometry.effective_psf` with the mask returned), and the ground is the ground.
    Without ``model.refit`` or with nothing to keep, the model's own residual and ``clean``."""
    ref = model.refit
    clean = model.clean
    keep = keep & model.usable & ~clean
    if ref is None or not keep.any():
        return model.residuals[k], clean
    clean = clean | keep
    h0, h1, deg = model.annuli[k]
    resid = model.residuals[k].copy()
    # the background changes within 2 h1 + 2 px of a kept pixel (its fill box, then the annulus); each group
    # of such pixels is made again on a window that reaches as far again around it (the same values there)
    reach = 2 * h1 + 2
    changed = ndimage.maximum_filter(keep.view(np.uint8), 2 * reach + 1, mode="constant") > 0
    labels, n = ndimage.label(changed)
    nl, ns = changed.shape
    for i, obj in enumerate(ndimage.find_objects(labels)):
        win = (
            slice(max(obj[0].start - reach - 1, 0), min(obj[0].stop + reach + 1, nl)),
            slice(max(obj[1].start - reach - 1, 0), min(obj[1].stop + reach + 1, ns)),
        )
        cw = clean[win]
        bg = region_background(
            ref.x_norm[win], [r[win] & cw for r in ref.regions], ref.side[win], h0, h1, deg
        )
        if ref.norm is not None:  # back to image units as estimate_background does
            nw = ref.norm[win]
            bg = bg * nw if ref.sky is None else ref.sky + (bg - ref.sky) * nw
        here = labels[win] == i + 1
        new = np.where(model.usable[win], ref.x_raw[win] - bg, 0.0)
        np.copyto(resid[win], new.astype(resid.dtype, copy=False), where=here)
    return resid, clean


def annulus_sizes(sigma_px: float) -> list[tuple[int, int]]:
    """[(h0, h1) small, (h0, h1) large]: half-sizes of the two background annuli for a PSF core σ (pixels).

    The small one follows finer albedo texture; the large one adds less noise (a better S/N on smooth or dark
    ground). Each pixel uses the one that promises the higher calibrated S/N there."""
    h0 = max(1, int(round(2.0 * sigma_px)))
    return [
        (h0, h0 + max(2, int(round(2.5 * sigma_px)))),
        (h0 + 1, h0 + 1 + max(3, int(round(4.0 * sigma_px)))),
    ]


#: filtered white-noise S/N (× the local scale) above which a pixel counts as a clear source for the scale: it
#: and every pixel its filtered response reaches through the background annulus are left out of the scale
#: (twice the detection threshold: texture peaks, which the scale must count, seldom reach it; their rings
#: matter little below it)
SOURCE_MASK_SNR = 10.0
#: ``negative_scale_cap``: the fewest negative pixels, as a fraction of a block's b², for a block's own
#: negative-side statistic (as the broad PSFs' negative-half scale)
NEGATIVE_SCALE_MIN_FRACTION = 0.125
#: … and not within the outer annulus + this many px (4-connected steps) of a clear source (filtered S/N >
#: SOURCE_MASK_SNR × the scale): splits and wings of bright sources are positive misfits the scale must count
#: (on renderer night frames without it, 4 more false detections of 124 frames, all beside bright sources)
NEGATIVE_SCALE_BRIGHT_PX = 10


#: ``negative_scale_cap`` on dark ground only: the largest 10–90 % range of a band's background over its
#: usable pixels (every :data:`DARK_GROUND_STRIDE`-th line and sample), in units of its median white noise
#: (our simulator's night bands 0.24–0.38, its sunlit ones 44–153; a renderer frame filled by sunlit disk,
#: no limb seen, 163)
DARK_GROUND_SPREAD_SIGMA = 3.0
#: … the sampling step of that range, px
DARK_GROUND_STRIDE = 4


def dark_ground(
    norm: np.ndarray | None, background: np.ndarray, usable: np.ndarray, sigma_white: np.ndarray
) -> bool:
    """``negative_scale_cap``'s ground: the band has no sunlit disk to model — no divisor of the data
    (``norm``: neither a shading template nor a measured limb profile in use) and a background flat within
    :data:`DARK_GROUND_SPREAD_SIGMA` × the white noise (image units both). There noise and texture are
    symmetric about the background; a sunlit disk's residual is not (its curvature's misfit), and its negative
    half understates the S/N's scatter (a clean sunlit Lambert disk: 1.71 where it must be 1 ± 0.15)."""
    if norm is not None:
        return False
    step = (slice(None, None, DARK_GROUND_STRIDE),) * 2
    sel = usable[step]
    if not sel.any():
        return False
    lo, hi = np.percentile(background[step][sel], [10.0, 90.0])
    white = float(median_or_nan(np.broadcast_to(sigma_white, usable.shape)[step][sel]))  # (np.median's)
    return bool(hi - lo < DARK_GROUND_SPREAD_SIGMA * white)


#: white noise never below this fraction of the data's median level: float32 rounding of the background
#: step (a few 1e-7 relative), which a noiseless frame would otherwise turn into sources
ROUNDING_NOISE = 1e-5

#: PSF core σ (pixels) from which a PSF counts as broad (ground-based AO): on a bright disk the surface's own
#: texture, blurred by the same core, then dominates the matched-filtered residual, and a third, tight option
#: (:func:`filter_options`) is offered. JIRAM's core (0.6 px) is far below it.
BROAD_PSF_SIGMA_PX = 2.0


#: total degree of the background polynomial of the textured-ground option (:func:`filter_options`)
TEXTURE_DEGREE = 4
#: quantile of |filtered residual| from which the textured-ground option's local scale is taken (÷ its value
#: for a unit Gaussian): texture residuals are heavy-tailed, a median-based scale would under-state them
TEXTURE_SCALE_QUANTILE = 0.9


def filter_options(
    sigma_px: float, textured: bool = False, annulus_sigma_px: float | None = None
) -> list[tuple[int, int, float, int]]:
    """[(h0, h1, filter σ px, polynomial degree), ...]: background annulus, matched-filter width and degree of
    the background surface of each option offered per pixel. ``annulus_sigma_px``: the core σ (px) the
    annuli of :func:`annulus_sizes` are sized for (None: ``sigma_px``; wider where the PSF was not measured,
    ``detect.unmeasured_psf_width_margin``; the model's where a measured core replaces it and a limb is seen,
    ``detect.psf_annuli_model_core``); the filters and the broad-PSF choice keep ``sigma_px``.

    The two annuli of :func:`annulus_sizes` with a quadratic background and the core matched filter (for
    narrow PSFs the small one only: with the plane option below the large quadratic won 5–17 % of the pixels
    and dropping it moved neither renderer's completeness nor false rate — 495 independent night frames:
    0.9725 / 0.446, 0.0525 false per frame with it, 0.9715 / 0.437, 0.0525 without; 100 ``bench_detect``
    frames at the pooled threshold: 5–7 0.497 with, 0.500 without — while it cost ~20 % of detection's
    time, issue 15), and:

    * for broad PSFs (σ ≥ :data:`BROAD_PSF_SIGMA_PX`), a tight annulus (h0 ≈ 0.6 σ, width ≈ σ) with a filter
      of 0.55 σ: it keeps only the sharpest part of the core, where a point source beats albedo texture
      blurred by the same PSF. On a bright sunlit AO disk it gains 2–2.5× in texture-limited S/N (simulated
      Lp, σ 3.3 px); on noise-limited ground its efficiency is low and the wider options win the choice.
    * for narrow PSFs on sunlit ground (``textured``), the small annulus with a quartic
      (:data:`TEXTURE_DEGREE`) background: it follows albedo texture a few pixels across that a quadratic
      cannot (on the simulator's far day side, 59 km/px, ~3× less filtered texture than the quadratic),
      at a lower white-noise efficiency (0.63 vs 0.84), so it wins only where texture dominates;
    * for narrow PSFs, the large annulus one pixel wider with a plane (degree 1): where the ground is smooth
      (the night side, the sky) it keeps 98 % of the ideal S/N against 89–91 % for the quadratic (a σ 0.6–0.8
      px core), so faint sources gain ~9 % in S/N; where the background curves its scale rises and the
      quadratics win the choice."""
    sizes = annulus_sizes(sigma_px if annulus_sigma_px is None else annulus_sigma_px)
    out = [(h0, h1, float(sigma_px), 2) for h0, h1 in sizes]
    if sigma_px >= BROAD_PSF_SIGMA_PX:
        h0 = max(1, int(round(0.6 * sigma_px)))
        out.append((h0, h0 + max(3, int(round(sigma_px))), 0.55 * float(sigma_px), 2))
        return out
    h0, h1 = sizes[1]
    out = [out[0], (h0, h1 + 1, float(sigma_px), 1)]
    if textured:
        h0, h1 = sizes[0]
        out.append((h0, h1, float(sigma_px), TEXTURE_DEGREE))
    return out


@lru_cache(maxsize=16)
def _kernel_cached(h0: int, h1: int, degree: int = 2) -> np.ndarray:
    o = np.arange(-h1, h1 + 1, dtype=float)
    dl, ds = np.meshgrid(o, o, indexing="ij")
    sel = np.maximum(np.abs(dl), np.abs(ds)) > h0
    basis = np.stack(
        [ds[sel] ** i * dl[sel] ** j for i in range(degree + 1) for j in range(degree + 1 - i)], 1
    )
    k = np.zeros(dl.shape)
    k[sel] = np.linalg.pinv(basis)[0]  # weights giving the fitted constant term (the value at the centre)
    k.setflags(write=False)
    return k


def background_kernel(h0: int, h1: int, degree: int = 2) -> np.ndarray:
    """Linear kernel of the background: value at the centre of a polynomial surface of total ``degree``
    (quadratic by default) fitted over the square annulus h0 < max(|dl|, |ds|) ≤ h1 (weights sum to 1;
    zero inside the inner box, which holds the source)."""
    return _kernel_cached(h0, h1, degree)


@lru_cache(maxsize=16)
def _separable_terms(h0: int, h1: int, degree: int = 2) -> list[tuple[np.ndarray, np.ndarray]]:
    """The kernel as a short sum of outer products (SVD), for fast correlation with big kernels."""
    k = _kernel_cached(h0, h1, degree)
    u, s, vt = np.linalg.svd(k)
    keep = s > 0.01 * s[0]  # the 4th term of a quadratic-fit kernel is < 0.5 % of the first
    return [(u[:, i] * s[i], vt[i]) for i in np.flatnonzero(keep)]


@lru_cache(maxsize=16)
def _stacked_terms(h0: int, h1: int, degree: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """The terms of :func:`_separable_terms` as two (terms × taps) float64 arrays (line, sample kernels)."""
    terms = _separable_terms(h0, h1, degree)
    a = np.array([t[0] for t in terms], np.float64)
    b = np.array([t[1] for t in terms], np.float64)
    a.setflags(write=False)
    b.setflags(write=False)
    return a, b


#: rows (÷ the pad width, + 1) over which the frame edge's curvature across the edge is fitted for the pad
EDGE_CURVATURE_ROWS_PER_PAD = 2
#: along-edge smoothing (px) of the edge values by their mean (the pad without curvature)
EDGE_SMOOTH_PX = 7
#: along-edge smoothing (px) of the edge values by a local quadratic and of the curvature across the edge
#: (a local quadratic over 15 px leaves the edge values the noise of a 7-px mean)
EDGE_QUADRATIC_SMOOTH_PX = 15


@lru_cache(maxsize=64)
def _curvature_weights(m: int) -> np.ndarray:
    """Weights w (m,) such that Σ w[t] · x[t] is the second derivative of the least-squares quadratic in t
    through x[0 … m−1] (per pixel², float64; zeros for m < 3: no curvature measured)."""
    if m < 3:
        return np.zeros(max(m, 0))
    t = np.arange(m, dtype=np.float64)
    w = 2.0 * np.linalg.pinv(np.vstack([np.ones(m), t, t * t]).T)[2]
    w.setflags(write=False)
    return w


def _edge_curvature(x: np.ndarray, p: int, axis: int, far: bool) -> np.ndarray:
    """Second derivative (per px²) across one edge of ``x`` (along ``axis``; the far edge when ``far``) of
    the quadratic fitted to its first 2p + 1 rows, its running median along the edge over
    :data:`EDGE_QUADRATIC_SMOOTH_PX`, shaped (1, n) or (n, 1) as the edge row."""
    n = x.shape[axis]
    m = min(EDGE_CURVATURE_ROWS_PER_PAD * p + 1, n)
    idx = np.arange(n - 1, n - 1 - m, -1) if far else np.arange(m)
    rows = np.take(x, idx, axis=axis).astype(np.float64)
    shape = (m, 1) if axis == 0 else (1, m)
    c = np.sum(rows * _curvature_weights(m).reshape(shape), axis=axis, keepdims=True)
    # the median along the edge: a source within reach of the edge bends a few columns' fits, not the edge's
    flat = c.ravel()
    if np.isfinite(flat).all() and flat.all():  # (compiled where it selects the same bits: finite, no ±0)
        return kernels.running_median_nearest(flat, EDGE_QUADRATIC_SMOOTH_PX).reshape(c.shape)
    return ndimage.median_filter(
        c, size=(1, EDGE_QUADRATIC_SMOOTH_PX) if axis == 0 else (EDGE_QUADRATIC_SMOOTH_PX, 1), mode="nearest"
    )


@lru_cache(maxsize=8)
def _local_quadratic_weights(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(centre weights (n,), end weights (n // 2, n)): the least-squares quadratic through n consecutive
    values evaluated at the middle one, and at each of the first n // 2 (for the ends of a row: the
    quadratic through its first n values; the last ones mirrored). float64."""
    t = np.arange(n, dtype=np.float64)
    fit = np.vstack([np.ones(n), t, t * t]).T
    hat = fit @ np.linalg.pinv(fit)  # values → fitted values at the same points
    centre, ends = hat[n // 2].copy(), hat[: n // 2].copy()
    centre.setflags(write=False)
    ends.setflags(write=False)
    return centre, ends


def _smooth_quadratic(row: np.ndarray, n: int, axis: int) -> np.ndarray:
    """``row`` smoothed along ``axis`` by a local quadratic over ``n`` (odd, ≤ its length) values
    (Savitzky–Golay; at its ends the quadratic through its first / last n values), float64."""
    centre, ends = _local_quadratic_weights(n)
    v = np.moveaxis(np.asarray(row, np.float64), axis, -1)
    out = ndimage.correlate1d(v, centre, axis=-1, mode="nearest")
    h = n // 2
    out[..., :h] = v[..., :n] @ ends.T
    out[..., -h:] = (v[..., ::-1][..., :n] @ ends.T)[..., ::-1]
    return np.moveaxis(out, -1, axis)


def _edge_values(x: np.ndarray, axis: int, far: bool, curvature: bool) -> np.ndarray:
    """The edge row of ``x`` (along ``axis``; the far one when ``far``) smoothed along the edge: by a local
    quadratic over :data:`EDGE_QUADRATIC_SMOOTH_PX` (:func:`_smooth_quadratic`) when ``curvature``, which
    keeps the ground's curvature along the edge, else by the mean over :data:`EDGE_SMOOTH_PX` (which misses
    a curved sunlit edge row by f'' · 2 px², several σ)."""
    row = np.take(x, [x.shape[axis] - 1 if far else 0], axis=axis)
    if curvature and row.shape[1 - axis] >= EDGE_QUADRATIC_SMOOTH_PX:
        return _smooth_quadratic(row, EDGE_QUADRATIC_SMOOTH_PX, 1 - axis)
    return ndimage.uniform_filter1d(row, EDGE_SMOOTH_PX, axis=1 - axis, mode="nearest")


def _pad_odd(x: np.ndarray, p: int, curvature: bool = True) -> np.ndarray:
    """Pad by ``p`` pixels (1 ≤ p < each side) with the point reflection 2·e − mirror about the edge values e
    smoothed along the edge (:func:`_edge_values`), plus c · t² at t pixels beyond the edge, c the
    curvature across the edge (:func:`_edge_curvature`); ``curvature`` False: the mean along the edge and
    no c, as before. A gradient and a curvature continue across the frame edge (the reflection alone turns
    the curvature of sunlit ground over, and the background's quadratic then misses the edge rows by
    several σ), and the edge pixels' noise is not doubled. Lines first, then samples (of the line-padded
    image). Compiled where every edge is smoothed by the local quadratic (:func:`_pad_odd_compiled`, the
    same values), else (and where a curvature is 0 or not finite) :func:`_pad_odd_numpy`."""
    n0, n1 = x.shape
    if curvature and x.dtype in (np.float32, np.float64) and min(n1, n0 + 2 * p) >= EDGE_QUADRATIC_SMOOTH_PX:
        xp = _pad_odd_compiled(np.ascontiguousarray(x), p)
        if xp is not None:
            return xp
    return _pad_odd_numpy(x, p, curvature)


def _near_end(row: np.ndarray, axis: int, ends: np.ndarray) -> np.ndarray:
    """The first values of :func:`_smooth_quadratic` of the edge ``row`` (along ``axis``): its product with
    the end weights, made exactly as there (numpy's BLAS call on the same float64 view)."""
    v = np.asarray(row, np.float64)
    v = v if axis == 1 else v.T  # (np.moveaxis's view of a 2-D row: the same strides, cheaper)
    return (v[:, : ends.shape[1]] @ ends.T)[0]


def _pad_odd_compiled(x: np.ndarray, p: int) -> np.ndarray | None:
    """:func:`_pad_odd_numpy` with curvature, bit for bit, in two compiled passes
    (:func:`background_kernels.pad_odd_lines`, :func:`~background_kernels.pad_odd_samples`) around numpy's
    four BLAS products of the edges' first values (:func:`_near_end`); None where a curvature across an edge
    is 0 or not finite (numpy's path takes scipy's median there)."""
    n0, n1 = x.shape
    centre, ends = _local_quadratic_weights(EDGE_QUADRATIC_SMOOTH_PX)
    m = EDGE_CURVATURE_ROWS_PER_PAD * p + 1
    near = [_near_end(np.take(x, [i], axis=0), 1, ends) for i in (0, n0 - 1)]
    xp, ok = kernels.pad_odd_lines(
        x, p, centre, ends, *near, _curvature_weights(min(m, n0)), EDGE_QUADRATIC_SMOOTH_PX
    )
    if not ok:
        return None
    core = xp[:, p : p + n1]
    # (each edge column as np.take(core, [j], axis=1) gives it, without np.take's contiguous copy of the
    # whole padded image first)
    near = [_near_end(np.ascontiguousarray(core[:, j : j + 1]), 0, ends) for j in (0, n1 - 1)]
    ok = kernels.pad_odd_samples(
        xp, p, centre, ends, *near, _curvature_weights(min(m, n1)), EDGE_QUADRATIC_SMOOTH_PX
    )
    return xp if ok else None


def _pad_odd_numpy(x: np.ndarray, p: int, curvature: bool = True) -> np.ndarray:
    """:func:`_pad_odd` in numpy (the reference its compiled form equals, and its fall-back)."""
    n0, n1 = x.shape
    xp = np.empty((n0 + 2 * p, n1 + 2 * p), x.dtype)
    core = xp[:, p : p + n1]
    core[p : p + n0] = x
    t2 = np.arange(p, 0, -1, dtype=np.float64) ** 2  # (distance beyond the edge)², outermost first
    core[:p] = 2.0 * _edge_values(x, 0, False, curvature) - x[p:0:-1]
    core[p + n0 :] = 2.0 * _edge_values(x, 0, True, curvature) - x[-p - 1 : -1][::-1]
    if curvature:
        core[:p] += _edge_curvature(x, p, 0, far=False) * t2[:, None]
        core[p + n0 :] += _edge_curvature(x, p, 0, far=True) * t2[::-1, None]
    xp[:, :p] = 2.0 * _edge_values(core, 1, False, curvature) - core[:, p:0:-1]
    xp[:, p + n1 :] = 2.0 * _edge_values(core, 1, True, curvature) - core[:, -p - 1 : -1][:, ::-1]
    if curvature:
        xp[:, :p] += _edge_curvature(core, p, 1, far=False) * t2[None, :]
        xp[:, p + n1 :] += _edge_curvature(core, p, 1, far=True) * t2[None, ::-1]
    return xp


def _pad_odd_reference(x: np.ndarray, p: int) -> np.ndarray:
    """:func:`_pad_odd` without the curvature as first written, with ``np.pad`` (kept for the tests)."""
    for axis in (0, 1):
        xp = np.pad(x, [(p, p) if a == axis else (0, 0) for a in (0, 1)], mode="reflect")
        n = x.shape[axis]
        for lo, hi, edge in ((0, p, 0), (p + n, 2 * p + n, n - 1)):
            e = ndimage.uniform_filter1d(np.take(x, [edge], axis=axis), 7, axis=1 - axis, mode="nearest")
            sl = [slice(None), slice(None)]
            sl[axis] = slice(lo, hi)
            xp[tuple(sl)] = 2.0 * e - xp[tuple(sl)]
        x = xp
    return x


def correlate_kernel(
    x: np.ndarray, h0: int, h1: int, degree: int = 2, window: tuple[slice, slice] | None = None
) -> np.ndarray:
    """``x`` correlated with :func:`background_kernel`, the image extended by point reflection at its edges
    (:func:`_pad_odd`); with ``window`` (a box of ``x``), only that box of the result (the same values: the
    correlation runs over the box and the kernel's reach around it)."""
    p = min(h1, x.shape[0] - 1, x.shape[1] - 1)
    lo = (p, p)  # where x's first pixel sits in the padded image
    hi = (p + x.shape[0], p + x.shape[1])  # … and where the wanted result ends
    if window is None:
        xp = _pad_odd(x, p) if p > 0 else x
    else:
        w0 = [p + (w.start or 0) for w in window]
        w1 = [p + (x.shape[a] if w.stop is None else w.stop) for a, w in enumerate(window)]
        n = (x.shape[0] + 2 * p, x.shape[1] + 2 * p)
        c0 = [max(w0[a] - h1, 0) for a in (0, 1)]  # the box and the kernel's reach, inside the padded image
        c1 = [min(w1[a] + h1, n[a]) for a in (0, 1)]
        if all(c0[a] >= p and c1[a] <= p + x.shape[a] for a in (0, 1)):  # the padding is out of reach
            xp = x[c0[0] - p : c1[0] - p, c0[1] - p : c1[1] - p]
        else:
            xp = (_pad_odd(x, p) if p > 0 else x)[c0[0] : c1[0], c0[1] : c1[1]]
        lo = (w0[0] - c0[0], w0[1] - c0[1])
        hi = (w1[0] - c0[0], w1[1] - c0[1])
    if degree <= 1 and h1 > h0 >= 0:
        # a plane's (or a constant's) kernel is the annulus mean: two box sums (not bit for bit)
        out, ok = kernels.annulus_mean(np.ascontiguousarray(xp), h0, h1, lo[0], hi[0], lo[1], hi[1])
        if ok:
            return out
    terms = _separable_terms(h0, h1, degree)
    if 2 * len(terms) * (2 * h1 + 1) <= 1.5 * (2 * h1 + 1) ** 2:
        # Σ of the terms' line and sample passes (scipy's arithmetic, compiled), on the wanted box only
        # (each output pixel is its own sum: the same values)
        a, b = _stacked_terms(h0, h1, degree)
        return kernels.separable_sum(np.ascontiguousarray(xp), a, b, lo[0], hi[0], lo[1], hi[1])
    else:
        out = ndimage.correlate(xp, _kernel_cached(h0, h1, degree).astype(xp.dtype), mode="nearest")
    if window is None and p == 0:
        return out
    return out[lo[0] : hi[0], lo[1] : hi[1]]


#: sub-pixel phases (line, sample offsets) at which the matched filter is evaluated: a source centred on a
#: pixel corner would lose ~30 % of its S/N in a filter centred on pixels only
PHASES = ((0.0, 0.0), (0.0, 0.5), (0.5, 0.0), (0.5, 0.5))


#: the sub-pixel shifts (px) the phases of :data:`PHASES` use along either axis
_SHIFTS = tuple(sorted({p for ph in PHASES for p in ph}))


@lru_cache(maxsize=64)
def _half_taps(sigma_px: float) -> int:
    """Half-width (px) of :func:`ioscan.detect.psf.kernel1d` of σ ``sigma_px`` (unshifted): the core filter's
    reach."""
    return len(kernel1d(sigma_px)) // 2


@lru_cache(maxsize=32)
def _phase_kernels(
    filter_sigma_px: float, elongation: float, shifts: tuple[float, ...]
) -> tuple[dict, dict, dict, dict]:
    """(line kernels, sample kernels, their squares alike) by sub-pixel shift of the matched filter of σ
    ``filter_sigma_px`` elongated by ``elongation`` (σ·√e along the lines, σ/√e across), float32, read-only;
    made once per filter and shared by every call (the sample ones are the line ones when e = 1)."""

    def taps(sigma_px: float) -> dict:
        out = {sh: kernel1d(sigma_px, sh).astype(np.float32) for sh in shifts}
        for k in out.values():
            k.setflags(write=False)
        return out

    def squares(kern: dict) -> dict:
        out = {sh: k * k for sh, k in kern.items()}
        for k in out.values():
            k.setflags(write=False)
        return out

    kern = taps(filter_sigma_px * np.sqrt(elongation))
    kern_s = kern if elongation == 1.0 else taps(filter_sigma_px / np.sqrt(elongation))
    sq = squares(kern)
    return kern, kern_s, sq, sq if kern_s is kern else squares(kern_s)


@lru_cache(maxsize=32)
def efficiency(
    psf: PsfModel, h0: int, h1: int, filter_sigma_px: float | None = None, degree: int = 2
) -> float:
    """Expected white-noise S/N of a pixel-centred source in the background-subtracted matched filter (a
    Gaussian of ``filter_sigma_px``, default the PSF core), as a fraction of its ideal matched-filter S/N
    (background kernel and filter-shape losses). The core filter is as elongated as the PSF's core."""
    sigma = psf.core_sigma_px if filter_sigma_px is None else float(filter_sigma_px)
    e = psf.elongation if filter_sigma_px is None else 1.0
    kl, ks = kernel1d(sigma * np.sqrt(e)), kernel1d(sigma / np.sqrt(e))
    r = h1 + 2 * max(len(kl), len(ks))
    o = np.arange(-r, r + 1, dtype=float)
    p, _, _ = psf.stamps(o[None, None, :], o[None, :, None], np.zeros(1), np.zeros(1))
    resid = p[0] - ndimage.correlate(p[0], _kernel_cached(h0, h1, degree), mode="constant")
    f = ndimage.correlate1d(
        ndimage.correlate1d(resid, kl, axis=0, mode="constant"), ks, axis=1, mode="constant"
    )
    gain = _noise_gain(sigma, h0, h1, degree=degree, elongation=e)
    return float(f[r, r] / (gain * np.sqrt(np.sum(kl**2) * np.sum(ks**2)) * np.sqrt(np.sum(p**2))))


@lru_cache(maxsize=64)
def _noise_gain(
    sigma_px: float,
    h0: int,
    h1: int,
    shift_l: float = 0.0,
    shift_s: float = 0.0,
    degree: int = 2,
    elongation: float = 1.0,
) -> float:
    """‖k ⋆ (δ − K)‖ / ‖k‖: white-noise amplification of the matched filter k (σ·√e along the lines, σ/√e
    across) by the background step."""
    r = np.sqrt(elongation)
    kk = np.outer(kernel1d(sigma_px * r, shift_l), kernel1d(sigma_px / r, shift_s))
    n = 2 * (h1 + kk.shape[0]) + 1
    img = np.zeros((n, n))
    img[n // 2, n // 2] = 1.0
    resp = img - ndimage.correlate(img, _kernel_cached(h0, h1, degree), mode="constant")
    resp = ndimage.correlate(resp, kk, mode="constant")
    return float(np.sqrt(np.sum(resp**2) / np.sum(kk**2)))


def _grow_box(mask: np.ndarray, r: int) -> np.ndarray:
    """``mask`` dilated by the (2r+1)² square (Chebyshev distance ≤ ``r``)."""
    if r <= 0:
        return np.asarray(mask, bool).copy()
    m = ndimage.maximum_filter1d(np.asarray(mask, np.uint8), 2 * r + 1, axis=0, mode="constant")
    return ndimage.maximum_filter1d(m, 2 * r + 1, axis=1, mode="constant").astype(bool)


def _fill(x: np.ndarray, m: np.ndarray, h: int, want: np.ndarray | None = None) -> np.ndarray:
    """``x`` where ``m``, elsewhere the mean of the ``m`` pixels in the (2h+1)² box (region mean if none):
    the box sums of ``scipy.ndimage.uniform_filter`` compiled (:func:`background_kernels.fill_box_mean`).
    ``want``: only those holes are filled (the same values; the others keep ``x``'s: the caller reads none
    of them)."""
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
    m = np.asarray(m, dtype=bool)
    if want is None:
        out, uncovered = kernels.fill_box_mean(
            np.ascontiguousarray(x), np.ascontiguousarray(m), h, x.dtype.type(1e-3)
        )
    else:
        out, uncovered = kernels.fill_box_mean_at(
            np.ascontiguousarray(x),
            np.ascontiguousarray(m),
            h,
            x.dtype.type(1e-3),
            np.ascontiguousarray(want),
        )
    if uncovered.any():  # the region mean only where it is needed (where a fill takes it)
        out[uncovered] = float(np.mean(x[m])) if m.any() else 0.0
    return out


def region_background(
    x: np.ndarray,
    regions: list[np.ndarray],
    side: np.ndarray,
    h0: int,
    h1: int,
    degree: int = 2,
    fills: dict | None = None,
) -> np.ndarray:
    """Background of every pixel from its own region only (each region extended beyond itself first).
    ``fills``: a dict the calls on the same ``x``, ``regions`` and ``side`` share (the filled images, by
    region and fill size: options with the same outer annulus size fill once; each region's pixels and
    bounding box)."""
    out = np.zeros_like(x)
    for k, reg in enumerate(regions):
        # the region's pixels and bounding box (made once for the calls sharing ``fills``)
        box = fills.get(("box", k)) if fills is not None else None
        if box is None:
            box = _region_box(side, k)
            if fills is not None:
                fills[("box", k)] = box
        here, win = box
        if win is None:
            continue
        if reg.all():
            out = correlate_kernel(x, h0, h1, degree)
            continue
        key = (k, h1 + 2)
        filled = fills.get(key) if fills is not None else None
        if filled is None:
            filled = _fill(x, reg, h1 + 2)
            if fills is not None:
                fills[key] = filled
        bk = correlate_kernel(filled, h0, h1, degree, window=win)
        np.copyto(out[win], bk, where=here[win])
    return out


def _region_box(side: np.ndarray, k: int) -> tuple[np.ndarray, tuple[slice, slice] | None]:
    """The pixels of region ``k`` (``side == k``) and their bounding box (None: no pixel)."""
    here = side == k
    if not here.any():
        return here, None
    rows, cols = np.flatnonzero(here.any(axis=1)), np.flatnonzero(here.any(axis=0))
    return here, (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))


def grow_sparse(mask: np.ndarray, k: int) -> np.ndarray:
    """:func:`ioscan.detect.disk.grow` (``k`` dilations with the 4-connected cross; a mask of few pixels by
    setting each one's diamond), the same pixels."""
    return grow(mask, k)


def _sorted_median(v: np.ndarray) -> float:
    """np.median of an ascending, NaN-free array (the same arithmetic, without a partition)."""
    m = v.size // 2
    return float(v[m]) if v.size % 2 else float(np.mean(v[m - 1 : m + 1]))


def _lower_quartile(v: np.ndarray) -> float:
    """np.percentile(v, 25) (linear interpolation) of a NaN-free array with ≥ 2 elements, with numpy's
    arithmetic but a fraction of its overhead."""
    vi = (v.size - 1) * 0.25
    lo = int(np.floor(vi))
    g = vi - lo
    part = np.partition(v, [lo, lo + 1])
    a, b = part[lo], part[lo + 1]
    d = b - a
    return float(b - d * (1 - g) if g >= 0.5 else a + d * g)


def white_variance(
    bg: np.ndarray, resid: np.ndarray, sel: np.ndarray, level_zero: float = 0.0, at: np.ndarray | None = None
) -> np.ndarray:
    """Per-pixel white-noise variance a + b·max(bg − ``level_zero``, 0) fitted to the residuals of pixels
    ``sel``; with ``at`` (a mask), only at those pixels (a 1-D array, the same values).

    Per background-level bin the variance is the lower quartile of resid² ÷ 0.1015 (the value for pure
    Gaussian noise, little raised by structure or outliers); a, b ≥ 0 by weighted least squares. With the
    background subtracted on board the product's zero is not the sky's (a residual offset of either sign
    remains, and ``a`` holds the subtracted background's shot noise): levels then count from ``level_zero``.
    """
    bg_out = bg if at is None else bg[at]  # (elementwise: subtracting the zero before or after a gather)
    idx = np.flatnonzero(sel)  # the pixels used (over 8000: every k-th; gathered alone, the same values)
    if idx.size > 8000:
        idx = idx[:: idx.size // 8000 + 1]
    b = np.take(bg, idx)
    if level_zero:
        bg_out, b = bg_out - np.float32(level_zero), b - np.float32(level_zero)
    r2 = np.take(resid, idx).astype(np.float64) ** 2
    if b.size == 0:
        return np.ones_like(bg_out)
    nb = min(max(b.size // 400, 1), 8)  # (np.clip's value, without its overhead on a Python int)
    exact = np.isnan(b).any() or np.isnan(r2).any()  # NaN-aware numpy statistics only when needed
    done = False
    order = None
    if not exact:
        # compiled: the bins' statistics, the same values. The bins from the sorted levels (no argsort, ~4×
        # slower) where no equal levels straddle a boundary; else from the argsort; numpy's where a level
        # mean meets a 0
        lev_a, var_a, wts_a, done = kernels.level_bin_stats_sorted(b, np.sort(b), r2, nb, _Q25_CHI2)
        if not done:
            order = np.argsort(b)
            lev_a, var_a, wts_a, done = kernels.level_bin_stats(b, r2, order, nb, _Q25_CHI2)
        lev, var, wts = lev_a.tolist(), var_a.tolist(), wts_a.tolist()
    if not done:
        lev, var, wts = _level_bins_numpy(b, r2, np.argsort(b) if order is None else order, nb, exact)
    lev_a, var_a = np.array(lev), np.array(var)
    if not lev or not np.all(np.isfinite(var_a)):
        v = float(np.median(r2)) / _MEDIAN_CHI2
        return np.full(bg_out.shape, max(v, 1e-30))
    span = float(np.ptp(lev_a)) if lev_a.size > 1 else 0.0
    a, c = float(median_or_nan(var_a)), 0.0  # (np.median's value: finite, float64)
    if lev_a.size >= 3 and span > 5.0 * np.sqrt(max(float(var_a.min()), 0.0)):  # a real range of levels
        c1, a1 = np.polyfit(lev_a, var_a, 1, w=np.sqrt(np.array(wts, float)))
        if c1 > 0 and a1 > 0:
            a, c = float(a1), float(c1)
    floor = 0.25 * float(var_a.min()) if var_a.min() > 0 else 1e-30
    return np.maximum(a + c * np.maximum(bg_out, 0.0), floor)


def _level_bins_numpy(
    b: np.ndarray, r2: np.ndarray, order: np.ndarray, nb: int, exact: bool
) -> tuple[list[float], list[float], list[int]]:
    """:func:`white_variance`'s bins in numpy (levels, variances, sizes of the bins of ≥ 20 pixels; ``exact``:
    NaN-aware statistics): the reference of :func:`background_kernels.level_bin_stats` and its fall-back."""
    lev, var, wts = [], [], []
    for chunk in np.array_split(order, nb):
        if chunk.size < 20:
            continue
        if exact:
            lev.append(float(np.median(b[chunk])))
            var.append(float(np.percentile(r2[chunk], 25)) / _Q25_CHI2)
        else:
            lev.append(_sorted_median(b[chunk]))
            var.append(_lower_quartile(r2[chunk]) / _Q25_CHI2)
        wts.append(chunk.size)
    return lev, var, wts


def _laplace_residual(x: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x − mean of its 4 neighbours (variance 1.25 σ² for white noise; smooth structure cancels), and where
    all five pixels are usable. Compiled for float images (:func:`background_kernels.laplace_residual`, the
    same values as :func:`_laplace_residual_numpy`)."""
    if x.ndim == 2 and x.dtype in (np.float32, np.float64) and x.size:
        return kernels.laplace_residual(x, np.asarray(ok, bool), x.dtype.type(0.25))
    return _laplace_residual_numpy(x, ok)


def _laplace_residual_numpy(x: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_laplace_residual` in numpy (its compiled form's reference)."""
    xp = np.pad(x, 1, mode="edge")
    op = np.pad(ok, 1, mode="constant")
    nb = xp[:-2, 1:-1] + xp[2:, 1:-1] + xp[1:-1, :-2] + xp[1:-1, 2:]
    good = ok & op[:-2, 1:-1] & op[2:, 1:-1] & op[1:-1, :-2] & op[1:-1, 2:]
    return x - 0.25 * nb, good


#: the separable second difference [1, −2, 1] ⊗ [1, −2, 1]: its white-noise variance is 36 σ²
_D2 = np.array([1.0, -2.0, 1.0], np.float32)
_D2_NOISE_GAIN = 36.0


def second_difference(x: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x correlated with [1, −2, 1] along the lines and along the samples (white-noise variance 36 σ²), and
    where all nine pixels of its 3 × 3 box are ``ok``.

    Unlike the Laplacian residual (x − mean of the 4 neighbours, which answers to curvature: sunlit albedo
    texture, shading) it cancels every polynomial term of degree ≤ 3 and anything constant along the lines or
    along the samples (column offsets, a column's gain on a smooth scene): what it leaves on smooth ground is
    the pixel noise. On the independent renderer's sunlit disks (≥ 8 px inside the limb, 35 frames) the
    lower quartile of its square gives σ 0.993 of the truth (90th percentile 1.03); the Laplacian's 1.032
    (1.141)."""
    d = ndimage.correlate1d(np.asarray(x, np.float32), _D2, axis=0, mode="nearest")
    d = ndimage.correlate1d(d, _D2, axis=1, mode="nearest")
    good = ndimage.minimum_filter(np.asarray(ok, np.uint8), size=3, mode="constant").astype(bool)
    return d, good


def _laplace_sample(x: np.ndarray, valid: np.ndarray, ok: np.ndarray, n: int) -> np.ndarray | None:
    """|Laplacian residual| of :func:`_laplace_residual` (of ``np.where(valid, x, 0)``) at every k-th of its
    usable pixels in line order, k = (their count // ``n``) + 1 — the values of ``np.abs(lap[good])[::k]`` —
    computed at those pixels only (the same arithmetic); None without a usable pixel."""
    good = np.array(ok, dtype=bool)  # the pixel and its 4 neighbours usable (none beyond the edges)
    good[0], good[-1], good[:, 0], good[:, -1] = False, False, False, False
    good[1:] &= ok[:-1]
    good[:-1] &= ok[1:]
    good[:, 1:] &= ok[:, :-1]
    good[:, :-1] &= ok[:, 1:]
    idx = np.flatnonzero(good)
    if idx.size == 0:
        return None
    f = idx[:: idx.size // n + 1]
    ns = x.shape[1]
    xf, vf = np.ravel(x), np.ravel(valid)

    def at(o: int) -> np.ndarray:
        return np.where(vf.take(f + o), xf.take(f + o), 0.0)

    return np.abs(at(0) - 0.25 * (at(-ns) + at(ns) + at(-1) + at(1)))


def _phase_filter(
    a: np.ndarray, kern: dict[float, np.ndarray], kern_s: dict[float, np.ndarray] | None = None
) -> list[np.ndarray]:
    """``a`` correlated with kern[dl] ⊗ kern_s[ds] (``kern_s`` default ``kern``) for every phase of
    :data:`PHASES` (line passes shared)."""
    kern_s = kern if kern_s is None else kern_s
    a = np.ascontiguousarray(a)
    n0, n1 = a.shape
    rows = {
        sh: kernels.correlate_lines(a, np.asarray(k, np.float64), False, 0.0, 0, n0) for sh, k in kern.items()
    }
    return [
        kernels.correlate_samples(rows[dl], np.asarray(kern_s[ds], np.float64), False, 0.0, 0, n1)
        for dl, ds in PHASES
    ]


def block_scale(
    z: np.ndarray,
    ok: np.ndarray,
    side: np.ndarray,
    n_regions: int,
    b: int,
    floor: float = 1.0,
    min_fraction: float = 0.25,
    quantile: float = 0.5,
) -> np.ndarray:
    """Robust local scale of ``z`` (1.4826 × median |z| of the pixels ``ok`` of each pixel's own region) over
    b × b blocks, averaged over the 3 × 3 neighbouring blocks (or 0.8 × its own block's if larger: an isolated
    textured block), constant over each block. Blocks with < ``min_fraction`` · b² such pixels take the
    region's median scale; result ≥ ``floor``. With ``quantile`` q ≠ 0.5 the block value is the q-quantile
    of |z| ÷ its value for a unit Gaussian (the same for Gaussian z, larger for heavy-tailed clutter).
    (:class:`BlockScale` does the same and, called again on the same ``z`` with other pixels ``ok``, sorts
    only the blocks where they changed.)"""
    return BlockScale(z, side, n_regions, b, quantile).scale(ok, floor=floor, min_fraction=min_fraction)


class BlockScale:
    """:func:`block_scale` of one map ``z`` for any number of pixel selections ``ok``: |z| is put in block
    order once, and a block's statistics are computed again only where the selection changed in it (the same
    values: each block's statistic depends on its own pixels only)."""

    def __init__(
        self,
        z: np.ndarray,
        side: np.ndarray,
        n_regions: int,
        b: int,
        quantile: float = 0.5,
        layout: BlockLayout | None = None,
    ):
        self.z, self.side, self.n_regions, self.b, self.quantile = z, side, n_regions, b, quantile
        self.layout = layout if layout is not None else BlockLayout(side, n_regions, b)
        self.factor = 1.0 / float(ndtri(0.5 + 0.5 * quantile))
        nl, ns = z.shape
        self.nbl, self.nbs = -(-nl // b), -(-ns // b)
        # |z| in block order, one row of b² values per block (the padding beyond the image: NaN; compiled:
        # the copy numpy's reshapes made)
        self.azb = kernels.abs_in_blocks(z, b, self.nbl, self.nbs)
        self._last: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # zone, med, n_ok of last call

    def _zone(self, ok: np.ndarray) -> np.ndarray:
        """Each pixel's region (−1: not ``ok``) in block order (the padding beyond the image: no region)."""
        return self.layout.zone_of(ok, self.z.shape, self.b, self.nbl, self.nbs)

    def _stats(self, zone: np.ndarray, rows: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Per region: the lower ``quantile`` of each block's finite |z| (× factor; NaN for blocks without
        any) and its count, for the blocks ``rows`` (None: all)."""
        at = np.arange(self.azb.shape[0]) if rows is None else np.asarray(rows, np.intp)
        # each block's order statistic of its finite |z| per region (compiled: a value of the data)
        vals, n_ok = kernels.block_order_stats(self.azb, zone, at, self.n_regions, self.quantile)
        med = np.full(vals.shape, np.nan, np.float32)
        has = n_ok > 0
        med[has] = self.factor * vals[has]
        return med, n_ok

    def scale(self, ok: np.ndarray, *, floor: float = 1.0, min_fraction: float = 0.25) -> np.ndarray:
        """The scale map (see :func:`block_scale`) of the pixels ``ok``."""
        b, nbl, nbs = self.b, self.nbl, self.nbs
        zone = self._zone(ok)
        if self._last is None:
            med_all, n_all = self._stats(zone, None)
        else:
            zone0, med_all, n_all = self._last
            rows = np.flatnonzero((zone != zone0).any(axis=1))
            if rows.size:
                med_all, n_all = med_all.copy(), n_all.copy()
                med_all[:, rows], n_all[:, rows] = self._stats(zone, rows)
        self._last = (zone, med_all, n_all)
        grids = self._grids(zone, med_all, n_all, ok, floor, min_fraction)
        if grids is not None:  # (compiled)
            return self.layout.take(grids)
        grids = np.full((self.n_regions + 1, nbl, nbs), floor, np.float32)  # the last: pixels of no region
        # (a region with a finite value counted in some block is present: no pass over the zones for it)
        present = [k for k in range(self.n_regions) if n_all[k].any() or (zone == k).any()]
        meds = np.empty((len(present), nbl, nbs), np.float32)
        for i, k in enumerate(present):
            med, n_ok = med_all[k].reshape(nbl, nbs), n_all[k].reshape(nbl, nbs)
            good = n_ok >= b * b * min_fraction
            if good.any():
                fill = finite_median(med[good])
            else:
                sel = ok & (self.side == k)
                fill = self.factor * float(np.quantile(np.abs(self.z[sel]), self.quantile))
            meds[i] = np.where(good, med, fill)
        if present:
            # the floor applies after the 3 × 3 averaging: raising each block to it first biased the average
            # upwards (on white noise the scale came out ~1.1, a tenth of the S/N lost). All regions' grids
            # in one call (each grid's lines are filtered alone: the same values as one call per grid)
            # (compiled: scipy's running sums, background_kernels.grid_box_mean_nearest)
            avg = kernels.grid_box_mean_nearest(meds, 3)
            grids[present] = np.maximum(np.maximum(avg, 0.8 * meds), floor)
        # each pixel takes its region's block value (regions outside 0 … n_regions − 1: the floor)
        # (every grid value is ≥ the floor or NaN already: no maximum with it is needed)
        return self.layout.take(grids)

    def _grids(
        self,
        zone: np.ndarray,
        med_all: np.ndarray,
        n_all: np.ndarray,
        ok: np.ndarray,
        floor: float,
        min_fraction: float,
    ) -> np.ndarray | None:
        """The grids :meth:`scale` makes from the block statistics, in two compiled passes
        (:func:`background_kernels.block_fills`, :func:`~background_kernels.block_grids`: the same values —
        a region's fill a value or the mean of two of its statistics, numpy's float32 arithmetic after); a
        region without a block of enough pixels takes its fill from its pixels as there. None (numpy's path)
        where the statistics are not float32 maps of the block layout."""
        nr, nblocks = med_all.shape
        if med_all.dtype != np.float32 or n_all.dtype != np.intp or nblocks != self.nbl * self.nbs:
            return None
        thresh = float(self.b * self.b * min_fraction)
        med_c, n_c = np.ascontiguousarray(med_all), np.ascontiguousarray(n_all)
        present, fills, fallback = kernels.block_fills(med_c, n_c, zone, thresh)
        for k in np.flatnonzero(fallback):  # (no block of enough pixels: the quantile of the region's own)
            sel = ok & (self.side == k)
            fills[k] = self.factor * float(np.quantile(np.abs(self.z[sel]), self.quantile))
        return kernels.block_grids(med_c, n_c, present, fills, thresh, self.nbl, self.nbs, float(floor))


class BlockLayout:
    """What :class:`BlockScale` needs of the pixels' regions alone (shared by the maps of one region map):
    the regions in a small integer type and each pixel's index in the (region + 1, block line, block sample)
    grids."""

    def __init__(self, side: np.ndarray, n_regions: int, b: int):
        self.n_regions, self.b = n_regions, b
        self.side_small = side.astype(np.int8 if n_regions < 127 else np.intp)
        self._index: np.ndarray | None = None
        self._last_zone: tuple[np.ndarray, np.ndarray] | None = None  # (ok, its zone) of the last call

    @property
    def index(self) -> np.ndarray:
        """Each pixel's flat index in the (region + 1, block line, block sample) grids (read-only; made on
        first use: :meth:`take` reads the region map instead)."""
        if self._index is None:
            nl, ns = self.side_small.shape
            nbl, nbs = -(-nl // self.b), -(-ns // self.b)
            side = np.ascontiguousarray(self.side_small, np.intp)
            # (compiled: the region's grid, then the block's place in it, per pixel)
            self._index = kernels.block_index(side, self.n_regions, self.b, nbs, nbl * nbs)
            self._index.setflags(write=False)
        return self._index

    def take(self, grids: np.ndarray) -> np.ndarray:
        """``np.take(grids, self.index)``: each pixel's value in the (region + 1, block line, block sample)
        ``grids`` (compiled from the small region map: :func:`background_kernels.take_blocks`, the same
        values without the full-size index)."""
        nl, ns = self.side_small.shape
        grid_shape = (self.n_regions + 1, -(-nl // self.b), -(-ns // self.b))
        if grids.shape == grid_shape and grids.flags.c_contiguous:
            return kernels.take_blocks(grids, np.ascontiguousarray(self.side_small), self.b)
        return np.take(grids, self.index)

    def zone_of(self, ok: np.ndarray, shape: tuple[int, int], b: int, nbl: int, nbs: int) -> np.ndarray:
        """Each pixel's region (−1: not ``ok``) in block order, one row of b² per block (the padding beyond
        the image: no region); the maps sharing this layout and called with equal ``ok`` get it made once
        (read only)."""
        if self._last_zone is not None and np.array_equal(self._last_zone[0], ok):
            return self._last_zone[1]
        ok = np.array(ok, dtype=bool)  # (kept: a copy)
        zone = kernels.zone_in_blocks(ok, self.side_small, b, nbl, nbs)  # (compiled: the pixels placed)
        self._last_zone = (ok, zone)
        return zone


def limb_profile(
    d: np.ndarray,
    z: np.ndarray,
    sel: np.ndarray,
    lo: float,
    hi: float,
    step: float = 0.5,
    quantile: float = 0.5,
) -> np.ndarray:
    """1.4826 × median |z| in limb-distance bins over [lo, hi] at every pixel (≥ 1; 1 outside the range or
    where a bin has fewer than 20 pixels); with ``quantile`` q ≠ 0.5, the q-quantile of |z| ÷ its value for
    a unit Gaussian (the same for Gaussian z, larger for heavy-tailed clutter)."""
    out = np.ones(d.shape, np.float32)
    prof = DistanceBins(d, sel, lo, hi, step)
    vals = prof.values(z, quantile)
    if vals is not None:
        out[prof.where] = vals
    return out


def _read_only(a: np.ndarray) -> np.ndarray:
    """A read-only view of ``a`` (the array itself where it is read-only already)."""
    if not a.flags.writeable:
        return a
    v = a.view()
    v.flags.writeable = False
    return v


#: up to this many bins a profile partitions each bin's values (else one sort of all of them by bin and value)
_FEW_BINS = 16


class DistanceBins:
    """The bins of :func:`limb_profile` (distance ``d`` over [lo, hi], pixels ``sel``), made once for any
    number of maps ``z``; :meth:`raise_to` applies a profile to a scale map in place, pixels in range only."""

    def __init__(self, d: np.ndarray, sel: np.ndarray, lo: float, hi: float, step: float = 0.5):
        self.nb = nb = int(np.ceil((hi - lo) / step))
        if (
            d.ndim == 2
            and d.dtype == np.float64
            and d.flags.c_contiguous
            and sel.dtype == np.bool_
            and sel.shape == d.shape
        ):
            # compiled: the same pixels, bins and order (a counting sort is stable), in two passes
            # (the pixels grouped by bin for any number of bins: :meth:`per_bin` selects in each; read-only
            # views, as the frame edges' cached distances are: one compiled signature)
            out = kernels.distance_bins(
                _read_only(d),
                _read_only(np.ascontiguousarray(sel)),
                float(lo),
                lo + nb * step,
                float(step),
                nb,
                True,
            )
            if out[-1]:
                self.where, self.inside, self.where_flat, self.bins, self.at = out[:5]
                self.empty = self.bins.size == 0
                if not self.empty:
                    self.by_bin, self.starts, self.ends, self.flat_by_bin = out[5:9]
                return
        self._init_numpy(d, sel, lo, nb, step)

    def _init_numpy(self, d: np.ndarray, sel: np.ndarray, lo: float, nb: int, step: float) -> None:
        """The bins in numpy (the reference :func:`background_kernels.distance_bins` equals, and its
        fall-back)."""
        self.where = (d >= lo) & (d < lo + nb * step)
        self.inside = sel & self.where
        self.empty = not self.inside.any()
        self.where_flat: np.ndarray | None = None  # the pixels ``where`` as flat indices, made when needed
        if not self.empty:
            self.bins = ((d[self.inside] - lo) / step).astype(int)
            self.at = np.clip(((d[self.where] - lo) / step).astype(int), 0, nb - 1)
            if nb <= _FEW_BINS:  # the pixels grouped by bin once; each map then partitions bin by bin
                self.by_bin = np.argsort(self.bins, kind="stable")
                grouped = self.bins[self.by_bin]
                self.starts = np.searchsorted(grouped, np.arange(nb))
                self.ends = np.searchsorted(grouped, np.arange(nb), side="right")
                self.flat_by_bin = np.flatnonzero(self.inside)[self.by_bin]  # (the compiled statistics')

    def values(self, z: np.ndarray, quantile: float = 0.5) -> np.ndarray | None:
        """The profile's value (float32, ≥ 1) at the pixels ``where`` (None: no pixel ``sel`` in range)."""
        prof = self.per_bin(z, quantile)
        return None if prof is None else prof[self.at].astype(np.float32)

    def per_bin(self, z: np.ndarray, quantile: float = 0.5) -> np.ndarray | None:
        """The profile's value per bin (float64, ≥ 1; None: no pixel ``sel`` in range)."""
        if self.empty:
            return None
        nb = self.nb
        factor = MAD_TO_SIGMA if quantile == 0.5 else 1.0 / float(ndtri(0.5 + 0.5 * quantile))
        if nb <= _FEW_BINS:  # the same order statistics, by a selection in each bin
            cnt = self.ends - self.starts
            # compiled: each bin's order statistic of |z| (a value of the data), numpy's where one holds a NaN
            stat, exact = kernels.bin_order_stats(
                np.ravel(z), self.flat_by_bin, self.starts, self.ends, float(quantile), 20
            )
            if not exact:
                stat = self._bin_stats_numpy(z, quantile)
            f = np.where(cnt >= 20, factor * stat, 1.0)
            return np.maximum(f, 1.0)
        if hasattr(self, "flat_by_bin"):
            prof = self._selected_profile(z, quantile, factor)
            if prof is not None:
                return prof
        v = np.abs(z[self.inside]).astype(np.float64)
        vmax = float(v.max()) * 1.0001 + 1e-30
        order = np.argsort(self.bins + v / vmax)  # by bin, then by value within the bin
        b, v = self.bins[order], v[order]
        starts = np.searchsorted(b, np.arange(nb))
        ends = np.searchsorted(b, np.arange(nb), side="right")
        cnt = ends - starts
        mid = np.clip(starts + np.floor(quantile * (cnt - 1)).astype(np.intp), 0, max(v.size - 1, 0))
        f = np.where(cnt >= 20, factor * v[mid], 1.0)
        return np.maximum(f, 1.0)

    def _selected_profile(self, z: np.ndarray, quantile: float, factor: float) -> np.ndarray | None:
        """:meth:`per_bin` of many bins by a selection in each bin (compiled), where it equals the sort by
        bin + |z| ÷ max that numpy's path makes; None elsewhere (a NaN, or |z| so large that two values this
        key cannot tell apart might give a profile above its floor of 1).

        The key's float64 rounding orders the values as they are up to ties; two float32 values it ties
        differ by less than the spacing u of the keys near nb + 1 (÷ max), hence lie below 2²⁴ (u + 2⁻⁵²) ×
        max; where ``factor`` × that bound is < 1 any of them gives the profile its floor, 1 — the same as the
        value the selection finds."""
        flat = np.ravel(z)
        top = kernels.abs_max_at(flat, self.flat_by_bin)
        u = float(np.spacing(float(self.nb + 1)))
        if not top * 1.0001 + 1e-30 < 1.0 / (factor * 2.0**24 * (u + 2.0**-52)):  # (False for NaN)
            return None
        stat, exact = kernels.bin_order_stats(
            flat, self.flat_by_bin, self.starts, self.ends, float(quantile), 20
        )
        if not exact:
            return None
        cnt = self.ends - self.starts
        return np.maximum(np.where(cnt >= 20, factor * stat, 1.0), 1.0)

    def _bin_stats_numpy(self, z: np.ndarray, quantile: float) -> np.ndarray:
        """Each bin's order statistic of |z| (1 for bins of < 20 pixels) by ``np.partition``: the reference
        :func:`background_kernels.bin_order_stats` equals, and its fall-back where a bin holds a NaN."""
        v = np.abs(z[self.inside]).astype(np.float64)[self.by_bin]
        cnt = self.ends - self.starts
        stat = np.ones(self.nb)
        for i in np.flatnonzero(cnt >= 20):
            k = int(np.floor(quantile * (cnt[i] - 1)))
            stat[i] = np.partition(v[self.starts[i] : self.ends[i]], k)[k]
        return stat

    def raise_to(self, scale: np.ndarray, z: np.ndarray) -> None:
        """``scale`` = max(``scale``, the profile of ``z``) in place (a scale map ≥ 1: the pixels out of
        range, where the profile is 1, keep theirs)."""
        prof = self.per_bin(z)
        if prof is None:
            return
        if scale.flags.c_contiguous:  # (compiled: the pixels in range read and raised in place, numpy's max)
            if self.where_flat is None:
                self.where_flat = np.flatnonzero(self.where)
            kernels.raise_at(scale.reshape(-1), self.where_flat, self.at, prof)
        else:
            scale[self.where] = np.maximum(scale[self.where], prof[self.at].astype(np.float32))


#: limb step (disk level just inside − sky level just outside) below which, in units of the pixel noise, the
#: limb band is kept in the analysis: a dark limb (night side, no step) blurs into nothing
DARK_LIMB_STEP_SIGMA = 2.0


def dark_limb(
    x: np.ndarray,
    valid: np.ndarray,
    d: np.ndarray,
    wb: float,
    sunlit: np.ndarray,
    box_px: int | None = None,
    reach_px: int = 9,
) -> np.ndarray:
    """True on limb-band pixels (|d| ≤ ``wb``) where the limb is dark: no ``sunlit`` surface pixel (from the
    geometry) within ``reach_px`` of the band there — the lit sliver where the terminator meets the limb may
    be far thinner than a pixel — and the mean levels of the disk just inside (wb < d ≤ wb + 3) and of the sky
    just outside (−wb − 3 ≤ d < −wb), each over a ``box_px`` box (None: wide enough to reach both sides
    from anywhere in the band, 2·ceil(2 wb + 1) + 1), differ by less than
    :data:`DARK_LIMB_STEP_SIGMA` × the pixel noise (4-neighbour Laplacian, robust) everywhere within
    ``reach_px``. Where either side is not in view the limb counts as bright."""
    out = np.zeros(x.shape, bool)
    if box_px is None:
        box_px = 2 * int(np.ceil(2 * wb + 1)) + 1
    band_all = valid & (np.abs(d) <= wb)
    rows, cols = np.flatnonzero(band_all.any(axis=1)), np.flatnonzero(band_all.any(axis=0))
    if rows.size == 0:
        return out
    p = reach_px + box_px  # work on the band's bounding box and what its tests reach
    win = (
        slice(max(rows[0] - p, 0), min(rows[-1] + p + 1, x.shape[0])),
        slice(max(cols[0] - p, 0), min(cols[-1] + p + 1, x.shape[1])),
    )
    x, valid, d, band = x[win], valid[win], d[win], band_all[win]
    lit_limb = np.asarray(sunlit, bool)[win] & (np.abs(d) <= wb + 1.0)
    if lit_limb.any():
        band &= ndimage.maximum_filter(lit_limb.view(np.uint8), reach_px, mode="constant") == 0
    if not band.any():
        return out
    a = _laplace_sample(x, valid, valid & (np.abs(d) > wb), 5000)
    if a is None:
        return out
    noise = MAD_TO_SIGMA * float(median_or_nan(a)) / np.sqrt(1.25)
    levels = []
    for sel in (valid & (d > wb) & (d <= wb + 3), valid & (d < -wb) & (d >= -wb - 3)):
        num = _box_mean(np.where(sel, x, 0.0).astype(np.float32, copy=False), box_px)
        den = _box_mean(sel.astype(np.float32), box_px)
        with np.errstate(invalid="ignore", divide="ignore"):
            levels.append(np.where(den > 0.02, num / den, np.nan))
    step = np.where(band, np.nan_to_num(np.abs(levels[0] - levels[1]), nan=np.inf), 0.0)
    step = ndimage.maximum_filter(step, reach_px, mode="nearest")
    out[win] = band & (step < DARK_LIMB_STEP_SIGMA * noise)
    return out


def _box_mean(a: np.ndarray, size: int) -> np.ndarray:
    """``scipy.ndimage.uniform_filter(a, size, mode="constant")`` of a 2-D array (compiled for size > 1: the
    same values)."""
    if size <= 1 or a.ndim != 2:
        return ndimage.uniform_filter(a, size, mode="constant")
    return kernels.uniform_box_mean(np.ascontiguousarray(a), size)


#: the shading divisor at a zero template (a fraction of the template's 90th percentile): the data are not
#: divided by less (the terminator's dark side is noise, amplified no further)
SHADING_NORM_FLOOR = 0.05
#: the template's value (÷ its 90th percentile) from which the divisor is the template itself; below it, a
#: quadratic meeting it there with the same slope and reaching :data:`SHADING_NORM_FLOOR` at 0. The hard
#: floor it replaced (max(u, 0.1)) bent the divided terminator from flat to a ramp within one pixel, a kink
#: the local polynomial background could not follow (false detections 0–1 px from the renderer's terminator)
SHADING_NORM_JOIN = 0.15


def soft_floor(u: np.ndarray, floor: float, join: float) -> np.ndarray:
    """``u`` where ``u ≥ join`` (the same values), else ``floor + b·u + c·u²`` with ``c = floor / join²`` and
    ``b = 1 − 2·floor / join`` (value and slope of ``u`` at ``join``, ``floor`` at ``u ≤ 0``; rising for
    ``floor ≤ join / 2``); float64."""
    u = np.asarray(u, dtype=np.float64)
    v = np.maximum(u, 0.0)
    c = floor / join**2
    b = 1.0 - 2.0 * floor / join
    return np.where(u >= join, u, floor + v * (b + c * v))


def _shading_norm(
    shading: np.ndarray | None, regions: list[np.ndarray], side: np.ndarray
) -> np.ndarray | None:
    """Per-pixel divisor from a shading template on the disk region (the last of two; the sky's profile beyond
    the limb is the PSF's wing, which the template does not model): the template ÷ its 90th percentile over
    the disk's usable pixels, softly floored below :data:`SHADING_NORM_JOIN` (:func:`soft_floor`, to
    :data:`SHADING_NORM_FLOOR`), and 1 elsewhere (float32); None without a disk or shading."""
    if shading is None or len(regions) < 2:
        return None
    t = np.asarray(shading)
    disk = len(regions) - 1

    def at(sel: np.ndarray) -> np.ndarray:  # (the template at those pixels as float64, NaN → 0: elementwise)
        return np.nan_to_num(np.asarray(t[sel], dtype=np.float64), nan=0.0)

    vals = at(regions[disk])
    p90 = float(percentile(vals, 90)) if vals.size >= 50 else 0.0
    if p90 <= 0:
        return None
    here = side == disk
    norm = np.ones(t.shape, np.float32)
    norm[here] = soft_floor(at(here) / p90, SHADING_NORM_FLOOR, SHADING_NORM_JOIN)
    return norm


def _chosen(options: list[np.ndarray], choice: np.ndarray) -> np.ndarray:
    """options[choice] per pixel (the values of ``np.take_along_axis(np.stack(options), choice[None], 0)[0]``
    without the stack)."""
    out = np.array(options[0], dtype=np.result_type(*options))
    for k in range(1, len(options)):
        np.copyto(out, options[k], where=choice == k)
    return out


@lru_cache(maxsize=64)
def _edge_strip(shape: tuple[int, int], reach: int) -> tuple[np.ndarray, np.ndarray]:
    """(the pixels of a crop of ``shape`` closer than ``reach`` px to its edge — ``d_edge < reach`` of
    :func:`_edge_distances` —, their flat indices), read-only: shared by every call."""
    strip = _edge_distances(shape)[0] < reach
    flat = np.flatnonzero(strip)
    strip.setflags(write=False)
    flat.setflags(write=False)
    return strip, flat


@lru_cache(maxsize=64)
def _plain_zone(shape: tuple[int, int], reach: int) -> np.ndarray:
    """The zone map of :func:`estimate_background` for one region whose pixels are all usable (no limb):
    2 on the edge strip (:func:`_edge_strip`), 0 inside (intp, read-only)."""
    zone = 2 * _edge_strip(shape, reach)[0].astype(np.intp)
    zone.setflags(write=False)
    return zone


def _shared_layout(shape: tuple[int, int], reach: int, n_regions: int, b: int) -> BlockLayout:
    """The :class:`BlockLayout` of a region map that depends on the crop's shape alone, its regions and block
    indices made once (:func:`_layout_of_shape`): reach 0, every pixel in region 0 (one region, no limb: the
    outlier test's blocks); else :func:`_plain_zone`'s. Each call gets its own copy (its own last zone map:
    no state shared between calls)."""
    lay = copy.copy(_layout_of_shape(shape, reach, n_regions, b))
    lay._last_zone = None
    return lay


@lru_cache(maxsize=16)
def _layout_of_shape(shape: tuple[int, int], reach: int, n_regions: int, b: int) -> BlockLayout:
    """:func:`_shared_layout`'s layout as made, shared by every call (its block indices, once made, read-only;
    its regions writeable, as the compiled zone placement takes them, and read by it alone)."""
    side = np.zeros(shape, np.intp) if reach == 0 else np.array(_plain_zone(shape, reach))  # (writeable)
    return BlockLayout(side, n_regions, b)


@lru_cache(maxsize=16)
def _edge_bins(shape: tuple[int, int], reach: int) -> tuple[DistanceBins, DistanceBins | None]:
    """The frame edge's and corners' :class:`DistanceBins` (1 px and :data:`CORNER_STEP_PX` bins over
    [0, ``reach``)) of a crop of ``shape`` whose edge strip is all usable: those of
    :func:`estimate_background` (``usable & edge``, ``usable & corner`` are then the strip and the corners
    themselves), made once per shape and reach."""
    d_edge, d_corner = _edge_distances(shape)
    strip = _edge_strip(shape, reach)[0]
    corner = d_corner < reach
    return (
        DistanceBins(d_edge, strip, 0.0, reach, step=1.0),
        DistanceBins(d_corner, corner, 0.0, reach, step=CORNER_STEP_PX) if corner.any() else None,
    )


@lru_cache(maxsize=64)
def _edge_distances(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel of a crop of ``shape``: the distance to the nearest edge and to the nearest corner (the
    larger of its distances to the two nearest edges), px, float64 (read-only: shared by every call)."""
    nl, ns = shape
    ii, jj = np.ogrid[0:nl, 0:ns]
    d_edge = np.minimum(np.minimum(ii, nl - 1 - ii), np.minimum(jj, ns - 1 - jj)).astype(np.float64)
    d_corner = np.maximum(np.minimum(ii, nl - 1 - ii), np.minimum(jj, ns - 1 - jj)).astype(np.float64)
    d_edge.setflags(write=False)
    d_corner.setflags(write=False)
    return d_edge, d_corner


def estimate_background(
    data: np.ndarray,
    *,
    psf: PsfModel,
    limb_distance_px: np.ndarray | None = None,
    mask: np.ndarray | None = None,
    limb_halfwidth_px: float | None = None,
    local_window_px: int | None = None,
    shading: np.ndarray | None = None,
    sunlit: np.ndarray | None = None,
    textured_option: bool = False,
    limb_model: LimbModel | None = None,
    offset_free: bool = False,
    search_limb_band: bool = True,
    source_ring_mask: bool = False,
    limb_fit: bool = False,
    limb_fit_half_px: int = 5,
    limb_fit_knot_px: float = 2.0,
    limb_fit_knot_degree: int = 2,
    annulus_sigma_px: float | None = None,
    keep_source_pixels: bool = False,
    white_noise_d2: bool = False,
    own_option_zones: bool = False,
    limb_scale_quantile: float = LIMB_SCALE_QUANTILE,
    limb_zone_own_scale_px: float | None = None,
    unmodelled_limb_own_profile: bool = False,
    negative_scale_cap: bool = False,
    with_noise_median: bool = True,
    known_noise: tuple[np.ndarray, np.ndarray] | None = None,
) -> BandModel:
    """Background, noise and calibrated matched-filter S/N map of one band image (see the module docstring).

    Args:
        data: 2-D image (NaN = missing).
        psf: PSF model (its core σ sets the annulus, the limb band and the matched filter).
        limb_distance_px: signed limb distance per pixel (positive on the disk), or None (one region).
        mask: True where pixels must be ignored (saturated, bad).
        limb_halfwidth_px: half-width w of the limb band left out (None: 1.5 σ_core + 0.5 px).
        local_window_px: block size of the local scale estimate (None: 8 px or 4 σ_core, whichever is larger);
            the scale is averaged over 3 × 3 blocks.
        shading: expected smooth shape of the sunlit disk (:func:`ioscan.detect.shading.shading_template`) or
            None. Where it is given, the outlier test and the background work on data ÷ shading (floored at
            10 % of its 90th percentile per region, so dark ground is treated as without it) and the result is
            multiplied back: the steep sunlit limb no longer defeats the local quadratic.
        sunlit: True on sunlit surface pixels (geometry), or None. Given it, the limb band stays in the
            analysis where the limb is dark (:func:`dark_limb`): night-side hot spots right at the limb
            (:mod:`ioscan.detect.measure` gives it for narrow PSFs only: with a broad AO PSF it raised the
            false rate in the benchmark).
        textured_option: offer the quartic textured-ground option of :func:`filter_options` (narrow PSFs).
        limb_model: the limb's measured profile (:mod:`ioscan.detect.limb_profile`, same crop), or None.
            Given it, its corrected limb distance replaces ``limb_distance_px``, the disk side works on
            sky + (data − sky) ÷ P (P × the shading where the zone ends, with ``shading``; the shading beyond
            the zone), and its zone — the limb band and the sky just outside included, now searched — takes
            the background sky + (that field) × P.
        search_limb_band: with a limb model, search its band too (else the band stays out, as without one).
        source_ring_mask: narrow PSFs: leave clear sources (filtered S/N > :data:`SOURCE_MASK_SNR` × the
            option's own scale) with the box their filtered response reaches through the option's annulus
            (its outer half-size + 2 px) out of the block scale, away from the limb and the frame edges;
            False: only the core filter's reach around sources above 4 × the scale, as before.
        limb_fit: with a limb model, the S/N in its zone is that of a joint fit of the PSF and a background
            free across the limb (:mod:`ioscan.detect.localfit`: window half-size ``limb_fit_half_px``, hats
            ``limb_fit_knot_px`` apart in limb distance, each × a polynomial of degree
            ``limb_fit_knot_degree`` along the window), on the image as it is.
        offset_free: the product's zero level is not the sky's (background subtracted on board): the shot
            noise's level counts from the darkest background (1st percentile per region), not from 0.
        annulus_sigma_px: the core σ (px) the background annuli are sized for (:func:`filter_options`;
            None: the PSF's core σ). The matched filter, limb band and scale blocks keep the PSF's.
        keep_source_pixels: narrow PSFs on sunlit ground (a shading template or a limb profile in use): keep
            what :func:`source_residual` needs (``BandModel.refit``), so the photometry's background can take
            the sources' own outlier pixels as they are.
        white_noise_d2: fit the white noise to the separable second difference (:func:`second_difference`)
            instead of the Laplacian residual (which texture and shading on sunlit ground raise).
        own_option_zones: narrow PSFs: each background option's limb and edge zones (its own blocks and
            profiles of the scale) reach as far as its own annulus and filter do, not the largest option's.
        limb_scale_quantile: with a limb model, the quantile of |S/N| (÷ its Gaussian value) in the limb
            zone's limb-distance bins and cells from which its own scale is taken (0.5: the median).
        limb_zone_own_scale_px: with a limb model, the limb zone's pixels at least this far inside the limb
            (px; None: none) take as scale their own profile and cells of the zone's white-noise S/N alone
            (after the along-limb high-pass), not that × the block scale and the limb-distance profile they
            share with the disk near the limb.
        unmodelled_limb_own_profile: with a limb model, the pixels near the limb outside its zone (the limb
            not seen as a bright edge: dark, or beyond the seen arc's ends) take the block scale raised by a
            limb-distance profile of those pixels alone (:func:`_unmodelled_limb_scale`), not by one
            shared with the modelled bright arc, whose misfit raised it all around the limb.
        negative_scale_cap: narrow PSFs: where the block scale is above its floor, each pixel's is at most
            the one its blocks' negative pixels alone give (:data:`NEGATIVE_SCALE_MIN_FRACTION` of a block
            at least), except within reach of a clear source (:data:`NEGATIVE_SCALE_BRIGHT_PX`): sources are
            positive, noise and texture symmetric, so faint sources crowded in a block (too faint for the
            4 × scale mask, which their own light raised) no longer raise the scale they are detected
            against.
        with_noise_median: compute ``BandModel.noise_median`` (a median over every usable pixel); False: NaN
            (the second pass reads none of its models').
        known_noise: (white-noise σ per pixel, usable pixels) of a run on the same image, its fitted sources
            since subtracted (the second pass): that white noise is taken as it is, not fitted again, and
            the dark limb's pixels (with ``sunlit``) are the ones usable there, not found again.
    """
    sigma = psf.core_sigma_px
    sigma_reach = max(psf.core_axis_sigmas_px)  # the core filter's reach (its longer axis)
    x = np.asarray(data, dtype=np.float32)
    valid = np.isfinite(x)
    if mask is not None:
        valid &= ~np.asarray(mask, dtype=bool)
    options = filter_options(sigma, textured=textured_option, annulus_sigma_px=annulus_sigma_px)
    broad = sigma >= BROAD_PSF_SIGMA_PX
    annuli = [(a0, a1, deg) for a0, a1, _, deg in options]
    h1 = max(a[1] for a in annuli)
    wb = base_limb_halfwidth_px(sigma) if limb_halfwidth_px is None else float(limb_halfwidth_px)
    lzone = None  # the limb model's zone
    if limb_distance_px is None:
        d = None
        side = np.zeros(x.shape, np.intp)
        usable = valid.copy()
        regions = [usable]
        far = usable
    else:
        if limb_model is not None:
            d = np.asarray(limb_model.distance_px, dtype=np.float64)
        else:
            d = np.asarray(limb_distance_px, dtype=np.float64)
            d = d.copy() if np.isfinite(d).all() else np.nan_to_num(d, nan=-1e9)  # (the same values)
        side = (d > 0).astype(np.intp)  # 0 sky, 1 disk
        usable = valid & (np.abs(d) > wb)
        if sunlit is not None:  # with geometry, a dark limb (night side) keeps its band
            usable |= (
                dark_limb(x, valid, d, wb, sunlit)
                if known_noise is None
                else (known_noise[1] & valid & (np.abs(d) <= wb))
            )
        if limb_model is not None:  # the modelled limb zone joins the disk side and is searched
            lzone = limb_model.zone & valid
            side = np.where(lzone, 1, side).astype(np.intp)
            usable |= lzone if search_limb_band else (lzone & (np.abs(d) > wb))
        regions = [usable & (side == 0), usable & (side == 1)]
        if lzone is not None:  # the sky-side tail of the profile feeds no fit, it is modelled
            regions[1] = regions[1] & ~(lzone & (limb_model.template < TEMPLATE_FIT_FLOOR))
        # S/N untouched by the limb: the filter's residuals have backgrounds whose annuli miss the limb band
        far = usable & (np.abs(d) > wb + h1 + _half_taps(sigma_reach) + 0.5)
    norm = _shading_norm(shading, regions, side)
    all_valid = bool(valid.all())  # the usual case: no fill value needed
    fill0 = 0.0 if all_valid or not valid.any() else float(median_or_nan(x[valid]))
    x0 = x if all_valid else np.where(valid, x, fill0)
    sky0 = 0.0
    if limb_model is not None:
        # disk side: sky + (data − sky) ÷ (shading × P); multiplied back, the background follows the limb
        sky0 = np.float32(limb_model.sky)
        t_mod = np.where(side == 1, limb_model.template, 1.0).astype(np.float32)
        if norm is not None:
            # with the expected shading, the profile takes over in the zone, scaled to the shading where the
            # zone ends inside the disk (so the two meet without a step), and the shading goes on beyond
            inner = limb_model.inner_values(norm)
            t_mod = np.where(lzone, t_mod * inner, norm).astype(np.float32)
        norm = np.maximum(t_mod, np.float32(TEMPLATE_DIVIDE_FLOOR))
        x0 = sky0 + (x0 - sky0) / norm
    elif norm is not None:
        x0 = x0 / norm
    # outliers (cosmic rays, hot spots, compact dark spots): pixels far from the mean of their 4 neighbours
    # relative to the local scale of that difference; they are replaced (with their 8 neighbours) by the
    # mean of the clean pixels around them before the background kernel sees them, so they leave no rims
    lap, lap_ok = _laplace_residual(x0, usable)
    if norm is not None:
        lap = lap * norm
    b = int(local_window_px or max(8, int(round(4 * sigma))))
    s_lap = BlockScale(
        lap, side, len(regions), b, layout=_shared_layout(x.shape, 0, 1, b) if d is None else None
    ).scale(lap_ok & far, floor=0.0)
    out1 = _clipped_outliers(lap, s_lap, usable)
    clean = usable
    x_norm = x0  # as the kernel sees the data before the outlier fill (source_residual)
    if out1.any():
        out1 = grow_sparse(out1, 1) & usable
        clean = usable & ~out1
        # the outliers' fill (the mean of the clean pixels of the 5 × 5 box) is read by nothing but the white
        # noise's level sample (:func:`_fitted_white_noise`, which makes it where one falls in that sample):
        # the backgrounds' fills read the clean pixels alone, and a pixel they do not read counts as its
        # value × 0 — the same ±0 whatever it holds, where every value is finite
        if not np.isfinite(x0).all():
            x0 = _fill(x0, clean, 2)
    cleaned = [r & clean for r in regions]
    fills: dict = {}  # options with the same outer annulus share the filled regions
    bgs = [region_background(x0, cleaned, side, a0, a1, deg, fills) for a0, a1, deg in annuli]
    if limb_model is not None:
        bgs = [sky0 + (bg - sky0) * t_mod for bg in bgs]
    elif norm is not None:
        bgs = [bg * norm for bg in bgs]
    refit = None
    if keep_source_pixels and not broad and out1.any() and (limb_model is not None or norm is not None):
        back = t_mod if limb_model is not None else norm
        sky = sky0 if limb_model is not None else None
        x_raw = x if all_valid else np.where(valid, x, fill0)
        refit = RefitInputs(x_norm, x_raw, regions, side, back, sky)
    if known_noise is not None:  # the second pass: the first pass's white noise, not fitted again
        sw = np.asarray(known_noise[0])
        var = sw * sw
    else:
        sw, var = _fitted_white_noise(
            x0, lap, lap_ok, usable, clean, norm, regions, fills, side, bgs[0], offset_free, white_noise_d2
        )
    x0 = x if all_valid else np.where(valid, x, fill0)
    vu = np.where(usable, var, 0).astype(np.float32, copy=False)
    # the scale is that of the filtered noise and texture: compact outliers (and the pixels their filtered
    # response reaches) are left out, so a cosmic ray or a hot spot does not raise its neighbours' scale;
    # pixels near the limb or the frame edge (whose background extrapolates) form their own blocks and get
    # the profile of the scale against the distance to the limb / the edge as a floor
    ok = usable.copy()
    rk = _half_taps(sigma_reach) + 1
    if out1.any():
        ok &= ~grow_sparse(out1, rk)
    # a corner of the crop extrapolates across two edges (its background up to ~5× noisier than inside, up
    # to ~3× along an edge): its own profile, against the distance to the corner (the four corners pooled)
    d_edge, d_corner = _edge_distances(x.shape)
    edge = _edge_strip(x.shape, h1 + rk)[0]
    # one region, every pixel usable (a frame without geometry): the zone map is the edge strip's alone,
    # the same for every call on a crop of this shape (its block layout made once, :func:`_shared_layout`)
    plain = d is None and bool(usable.all())
    zone = _plain_zone(x.shape, h1 + rk) if plain else side + 2 * (usable & (~far | edge))
    shifts = _SHIFTS
    # filter σ → (line kernels, sample kernels per shift, white-noise std of the filtered image per phase,
    # elongation); the core filter is as elongated as the PSF's core (σ·√e along the lines, σ/√e across)
    filters = {}
    for fs in sorted({o[2] for o in options}):
        e_f = psf.elongation if fs == sigma else 1.0
        kern, kern_s, sq, sq_s = _phase_kernels(fs, e_f, shifts)
        filters[fs] = (kern, kern_s, _phase_noise(vu, sq, sq_s), e_f)
    # the negative-pixel cap's ground (the same for every option: its inputs are the first option's background
    # and the white noise; norm: shading's or profile's)
    dark = negative_scale_cap and not broad and dark_ground(norm, bgs[0], usable, sw)
    best = None
    bins: dict = {}  # DistanceBins by profile and reach
    layouts: dict = {}  # BlockLayout by zone map (the options that share one)

    def layout_of(zone_map: np.ndarray) -> BlockLayout:
        if id(zone_map) not in layouts:
            lay = (
                _shared_layout(x.shape, h1 + rk, 2 * len(regions), b)
                if plain and zone_map is zone
                else BlockLayout(zone_map, 2 * len(regions), b)
            )
            layouts[id(zone_map)] = (zone_map, lay)
        return layouts[id(zone_map)][1]

    for k, (a0, a1, fs, deg) in enumerate(options):
        kern, kern_s, den0, e_f = filters[fs]
        resid = _residual(x0, bgs[k], usable)
        # matched filter at 4 sub-pixel phases; white-noise S/N of each (0 where no noise), and the best
        gains = [np.float32(_noise_gain(fs, a0, a1, dl, ds, deg, e_f)) for dl, ds in PHASES]
        s_white, top, phase = _filtered_phase_snr(resid, kern, kern_s, den0, gains)
        # limb/edge zones: the two standard options share those of the largest annulus and the core
        # filter; the tight broad-PSF option has its own (its annulus and filter reach far less far)
        zone_k, h1_k, rk_k, fs_k, edge_k = zone, h1, rk, sigma, edge
        if fs != sigma or (own_option_zones and a1 != h1 and not broad):
            # (``own_option_zones``: a small annulus whose reach stops short of the limb band and the edge
            # takes its scale from the far blocks there, not from blocks shared with pixels the large
            # annulus' misfit at the limb reaches)
            h1_k, rk_k, fs_k = a1, (_half_taps(fs) + 1 if fs != sigma else rk), fs
            edge_k = _edge_strip(x.shape, h1_k + rk_k)[0]
            far_k = usable if d is None else usable & (np.abs(d) > wb + h1_k + rk_k - 0.5)
            zone_k = side + 2 * (usable & (~far_k | edge_k))
        if broad:
            # crowded broad-PSF fields: source light (cores, halos) is positive and covers much of the
            # disk, so the scale comes from the negative half of the filtered residual (noise and texture
            # are symmetric) after masking sources above 4 × the scale, re-estimated twice
            neg = s_white[0] < 0
            blocks = BlockScale(s_white[0], zone_k, 2 * len(regions), b, layout=layout_of(zone_k))
            scale = blocks.scale(ok & neg, min_fraction=0.125)
            for _ in range(2):
                peaks = s_white[0] > 4.0 * scale
                keep = ok & neg & ~grow_sparse(peaks, rk_k)
                scale = blocks.scale(keep, min_fraction=0.125)
        else:
            # the textured-ground option meets heavy-tailed clutter: its scale is from a high quantile
            q = TEXTURE_SCALE_QUANTILE if deg > 2 else 0.5
            blocks = BlockScale(s_white[0], zone_k, 2 * len(regions), b, quantile=q, layout=layout_of(zone_k))
            scale = blocks.scale(ok)
            peaks = s_white[0] > 4.0 * scale  # bright sources the outlier test missed (broad PSFs): left out
            if peaks.any():
                src = grow_sparse(peaks, rk)
                if source_ring_mask:
                    # clear sources (cores ≳ 1 px) also without the ring their background annulus carries
                    # out to its outer edge: counted as noise it cost 15–20 % of their S/N on white noise
                    # (away from the limb and the frame edges: there the limb's and the edge's own residuals
                    # reach that level too, and the scale must count them)
                    bright = (s_white[0] > SOURCE_MASK_SNR * scale) & (zone_k < 2)
                    if bright.any():
                        src |= _grow_box(bright, a1 + 2)
                scale = blocks.scale(ok & ~src)
            if dark:
                # the negative pixels alone, in the blocks whose scale is above its floor (elsewhere the
                # selection stays as it was: those blocks are not sorted again, and the floor holds them)
                keep = ok & ~src if peaks.any() else ok
                keep = keep & ((s_white[0] < 0) | (scale <= 1.0))
                neg = blocks.scale(keep, min_fraction=NEGATIVE_SCALE_MIN_FRACTION)
                # not within reach of a clear source: its misfit (the PSF model's error) is positive too
                bright = s_white[0] > SOURCE_MASK_SNR * scale
                # nor within that reach of sunlit surface (geometry): a sliver at the terminator is not dark
                if sunlit is not None and np.any(sunlit):
                    bright = bright | np.asarray(sunlit, bool)
                if bright.any():
                    neg = np.where(grow_sparse(bright, a1 + NEGATIVE_SCALE_BRIGHT_PX), scale, neg)
                np.minimum(scale, neg, out=scale)
        block = scale.copy()  # the block scale alone, before the profiles raise it (BandModel.scale_block)
        # the profiles against the distance to the limb, the edge and the corner (their bins made once for
        # the options that share them); the block scale is ≥ 1, the profiles 1 out of their range
        if d is not None:
            span = wb + h1_k + 3 * fs_k + 2.0
            key = ("limb", span)
            if key not in bins:
                bins[key] = DistanceBins(d, usable, -span, span)
            bins[key].raise_to(scale, s_white[0])
        if edge_k.any():
            key = ("edge", h1_k + rk_k)
            if key not in bins and usable.reshape(-1)[_edge_strip(x.shape, h1_k + rk_k)[1]].all():
                bins[key] = _edge_bins(x.shape, h1_k + rk_k)  # (the strip all usable: its bins made once)
            if key not in bins:
                corner_k = d_corner < h1_k + rk_k
                bins[key] = (
                    DistanceBins(d_edge, usable & edge_k, 0.0, h1_k + rk_k, step=1.0),
                    DistanceBins(d_corner, usable & corner_k, 0.0, h1_k + rk_k, step=CORNER_STEP_PX)
                    if corner_k.any()
                    else None,
                )
            for prof in bins[key]:
                if prof is not None:
                    prof.raise_to(scale, s_white[0])
        # expected calibrated S/N per unit true S/N
        merit = efficiency(psf, a0, a1, None if fs == sigma else fs, deg) / scale
        if deg > 2:  # a quartic extrapolates poorly: not where its annulus meets the limb band or the edge
            merit = np.where(zone >= 2, 0.0, merit)
        if best is None:
            best = dict(
                merit=merit, top=top, phase=phase, scale=scale, block=block, choice=np.zeros(x.shape, np.intp)
            )
            resids = [resid]
            continue
        resids.append(resid)
        if not _take_better(best, k, merit, top, phase, scale, block):
            better = merit > best["merit"]
            for key, val in (
                ("merit", merit),
                ("top", top),
                ("phase", phase),
                ("scale", scale),
                ("block", block),
            ):
                if val.dtype == best[key].dtype:  # in place (each best array is this function's own)
                    np.copyto(best[key], val, where=better)
                else:
                    best[key] = np.where(better, val, best[key])
            best["choice"][better] = k
    # the calibrated S/N of the chosen option (its best phase ÷ its scale), divided once (the same values as
    # each option's divided and the chosen one kept)
    best["snr"] = np.where(usable, best.pop("top") / best["scale"], 0.0)
    if limb_fit and lzone is not None and lzone.any():
        _limb_fit_into(
            best,
            x if all_valid else np.where(valid, x, fill0),
            valid & ~out1,
            var,
            d,
            lzone & usable,
            ok,
            psf,
            limb_fit_half_px,
            limb_fit_knot_px,
            limb_fit_knot_degree,
            np.where(limb_model.zone, limb_model.template, (d > 0).astype(np.float64)),
        )
    choice = best["choice"]
    scale = best["scale"]
    if lzone is not None and lzone.any():
        # in the limb zone what runs along the limb is not a point source: taken out, and the S/N scaled
        # again by its own profile against the limb distance
        lo_hi = (-SKY_REACH_PX - 1, ZONE_REACH_PX + 1)
        zsel = lzone & usable & ok
        # the chosen option's white-noise S/N (for ``limb_zone_own_scale_px``)
        top_white = best["snr"] * best["scale"] if limb_zone_own_scale_px is not None else None
        snr = limb_model.along_limb_highpass(best["snr"], lzone & usable)
        zs = limb_profile(d, snr, zsel, *lo_hi)  # median-based; then without the sources' peaks, a quantile
        peaks = grow_sparse(snr > 4.0 * zs, rk)
        zs = limb_profile(d, snr, zsel & ~peaks, *lo_hi, quantile=limb_scale_quantile)
        zs = np.maximum(zs, limb_model.cell_scale(snr, zsel & ~peaks, limb_scale_quantile))
        best["snr"] = np.where(lzone, snr / zs, snr)
        scale = np.where(lzone, scale * zs, scale)
        if limb_zone_own_scale_px is not None:
            # deeper in: the zone's white-noise S/N scaled by its own profile and cells alone (the sources
            # those peaks found left out, the misfits' clutter kept in), not also by the blocks and the
            # limb-distance profile shared with the disk near the limb (within the frame edge's reach the
            # edge's own profiles keep theirs)
            own = lzone & usable & ~edge & (d >= limb_zone_own_scale_px)
            white = limb_model.along_limb_highpass(top_white, own)
            ws = limb_profile(d, white, own & ok & ~peaks, *lo_hi, quantile=limb_scale_quantile)
            ws = np.maximum(ws, limb_model.cell_scale(white, own & ok & ~peaks, limb_scale_quantile))
            best["snr"] = np.where(own, white / ws, best["snr"])
            scale = np.where(own, ws, scale).astype(scale.dtype, copy=False)
        if unmodelled_limb_own_profile:  # (after the zone's: its along-limb high-pass reads its border)
            span = wb + h1 + 3 * sigma + 2.0  # the standard options' limb-distance profile's reach
            outside = usable & ~lzone & ~edge & (np.abs(d) < span)
            best["snr"], scale = _unmodelled_limb_scale(
                best["snr"], scale, best["block"], d, outside, ok, rk, span
            )
    return BandModel(
        # the tight broad-PSF option's background holds part of a source's core: report the small standard
        # annulus's there (the photometry still fits the chosen option's residual with its kernel)
        background=_chosen(bgs if not broad else bgs[:2], choice if not broad else np.minimum(choice, 1)),
        residuals=resids,
        usable=usable,
        clean=clean,
        sigma_white=sw,
        scale=scale,
        noise=sw * scale,
        snr=best["snr"],
        phase=best["phase"],
        choice=choice,
        annuli=annuli,
        limb_distance_px=d,
        noise_median=_usable_median(sw, usable) if with_noise_median else float("nan"),
        refit=refit,
        scale_block=best["block"],
    )


_BEST_KEYS = ("merit", "top", "phase", "scale", "block", "choice")


def _take_better(
    best: dict,
    k: int,
    merit: np.ndarray,
    top: np.ndarray,
    phase: np.ndarray,
    scale: np.ndarray,
    block: np.ndarray,
) -> bool:
    """Option ``k``'s maps into ``best`` where its ``merit`` beats the best one's (and ``choice`` = k there),
    in place in one compiled pass (:func:`background_kernels.take_better`: the pixels and values of numpy's
    ``np.copyto(…, where=merit > best merit)``); False (nothing done) where the maps' types or layouts are
    not those of ``best``'s, C-contiguous."""
    new = (merit, top, phase, scale, block)
    olds = [best[key] for key in _BEST_KEYS]
    if not all(
        a.dtype == b.dtype and a.shape == b.shape and a.flags.c_contiguous and b.flags.c_contiguous
        for a, b in zip(new, olds, strict=False)
    ) or not (olds[5].dtype == np.intp and olds[5].flags.c_contiguous and olds[2].dtype == np.intp):
        return False
    kernels.take_better(k, *new, *olds)
    return True


def _fitted_white_noise(
    x0: np.ndarray,
    lap: np.ndarray,
    lap_ok: np.ndarray,
    usable: np.ndarray,
    clean: np.ndarray,
    norm: np.ndarray | None,
    regions: list[np.ndarray],
    fills: dict,
    side: np.ndarray,
    background: np.ndarray,
    offset_free: bool,
    white_noise_d2: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """(white-noise σ, variance) per pixel, image units: a + b·background fitted per region (sky, disk) on
    the ``clean`` pixels from their differences — the Laplacian residual ``lap``, or (``white_noise_d2``) the
    separable second difference, which leaves smooth structure and column patterns out —, never below the
    float32 rounding of the ``usable`` data's level (a noiseless frame has no sources). ``x0``: the data as
    the background kernel sees them, before the outliers' fill (the level's sample takes it, :func:`_fill`,
    where a pixel not ``clean`` falls in it; the second difference reads ``clean`` pixels alone there)."""
    noise_op, noise_ok, noise_gain = lap, lap_ok, 1.25
    if white_noise_d2:
        noise_op, noise_ok = second_difference(x0, usable & clean)
        if norm is not None:
            noise_op = noise_op * norm
        noise_gain = _D2_NOISE_GAIN
    var = np.zeros(x0.shape, np.float32)
    for k, reg in enumerate(regions):
        if reg.any():
            zero = 0.0
            fit_k = reg & noise_ok & clean
            if offset_free and fit_k.any():
                zero = float(np.percentile(background[fit_k], 1))
            here = fills[("box", k)][0] if ("box", k) in fills else side == k
            v_k = white_variance(background, noise_op, fit_k, zero, at=here) / noise_gain
            if v_k.dtype != var.dtype:  # as np.where would promote
                var = var.astype(np.result_type(var, v_k))
            var[here] = v_k
    var = np.where(var > 0, var, np.max(var) if np.max(var) > 0 else 1.0)
    if usable.any():
        grid = usable[::4, ::4]
        if grid.any() and not clean[::4, ::4][grid].all():  # an outlier in the sample: its filled value
            want = np.zeros(x0.shape, bool)  # (the sample's outliers alone: no other fill is read)
            want[::4, ::4] = grid & ~clean[::4, ::4]
            x0 = _fill(x0, clean, 2, want)
        level = float(median_or_nan(np.abs(x0[::4, ::4][grid]))) if grid.any() else 0.0
        var = np.maximum(var, np.float32((ROUNDING_NOISE * level) ** 2))
    return np.sqrt(var), var


def _usable_median(sw: np.ndarray, usable: np.ndarray) -> float:
    """``float(median_or_nan(sw[usable]))`` (0 without a usable pixel): for a float32 map of positive values
    in one compiled pass (:func:`background_kernels.positive_median_at`, the same value), else as numpy
    does."""
    if sw.dtype == np.float32 and sw.ndim == 2 and sw.shape == usable.shape and usable.dtype == np.bool_:
        v, done = kernels.positive_median_at(sw, usable)
        if done:
            return float(v)
    return float(median_or_nan(sw[usable])) if usable.any() else 0.0


def _clipped_outliers(lap: np.ndarray, s_lap: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """The outlier test: ``usable & (np.abs(lap) > _CLIP * np.where(s_lap > 0, s_lap, np.inf))`` — for 2-D
    maps of one shape and a float32 scale in one compiled pass (:func:`background_kernels.clipped_outliers`,
    the same pixels), others as numpy does."""
    if (
        lap.ndim == 2
        and lap.dtype in (np.float32, np.float64)
        and s_lap.dtype == np.float32
        and lap.shape == s_lap.shape == usable.shape
        and usable.dtype == np.bool_
    ):
        return kernels.clipped_outliers(lap, s_lap, usable, np.float32(_CLIP))
    return usable & (np.abs(lap) > _CLIP * np.where(s_lap > 0, s_lap, np.inf))


def _residual(x: np.ndarray, bg: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """``np.where(usable, x - bg, 0.0)`` as float32 (an option's residual map): float32 maps of one shape in
    one compiled pass (:func:`background_kernels.masked_difference`, the same values), others as numpy
    does."""
    if x.dtype == bg.dtype == np.float32 and x.ndim == 2 and x.shape == bg.shape == usable.shape:
        return kernels.masked_difference(
            np.ascontiguousarray(x), np.ascontiguousarray(bg), np.ascontiguousarray(usable, dtype=bool)
        )
    return np.where(usable, x - bg, 0.0).astype(np.float32, copy=False)


def _two_phase_kernels(kern: dict, kern_s: dict) -> tuple[np.ndarray, ...] | None:
    """(line kernel, line kernel, sample kernel, sample kernel) as float64 for the shifts of :data:`PHASES`
    (lines: phases 0, 1 | 2, 3; samples: phases 0, 2 | 1, 3), or None where the phases are not those."""
    if PHASES != ((0.0, 0.0), (0.0, 0.5), (0.5, 0.0), (0.5, 0.5)):
        return None
    return tuple(np.asarray(k[sh], np.float64) for k in (kern, kern_s) for sh in (0.0, 0.5))


def _phase_noise(vu: np.ndarray, sq: dict, sq_s: dict) -> list[np.ndarray]:
    """The white-noise standard deviation of the matched filter at each phase of :data:`PHASES`:
    √max(variance map ``vu`` filtered with the squared kernels, 0). A float32 map in one compiled pass line
    by line (:func:`background_kernels.phase_filter_noise`, the same values), others as numpy does."""
    ks = _two_phase_kernels(sq, sq_s)
    if ks is not None and vu.dtype == np.float32 and vu.ndim == 2 and vu.size:
        return list(kernels.phase_filter_noise(np.ascontiguousarray(vu), *ks))
    return [np.sqrt(np.maximum(v, 0)) for v in _phase_filter(vu, sq, sq_s)]


def _filtered_phase_snr(
    resid: np.ndarray, kern: dict, kern_s: dict, dens: list[np.ndarray], gains: list[np.float32]
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """:func:`_phase_snr` of ``resid`` matched-filtered at the phases of :data:`PHASES`
    (:func:`_phase_filter`): for float32 maps in one compiled pass line by line
    (:func:`background_kernels.phase_filter_snr`: no filtered map is made; the same values)."""
    ks = _two_phase_kernels(kern, kern_s)
    maps = (resid, *dens)
    if ks is not None and resid.ndim == 2 and resid.size and all(a.dtype == np.float32 for a in maps):
        s0, top, phase = kernels.phase_filter_snr(
            *(np.ascontiguousarray(a) for a in maps[:1]),
            *ks,
            *(np.ascontiguousarray(a) for a in dens),
            *(np.float32(g) for g in gains),
        )
        return [s0], top, phase.astype(np.intp, copy=False)  # (intp already: no copy)
    return _phase_snr(_phase_filter(resid, kern, kern_s), dens, gains)


def _phase_snr(
    num: list[np.ndarray], dens: list[np.ndarray], gains: list[np.float32] | None = None
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """(white-noise S/N of each phase — num ÷ den, 0 where den is not > 0 —, the best of them, its phase
    index as intp; :func:`_best_phase`) from the matched filter ``num`` and its noise ``dens`` (× ``gains``,
    one float32 per phase, where given: the background step's noise gain) at the four phases of
    :data:`PHASES`. Float32 maps in one compiled pass (:func:`background_kernels.phase_snr`, the noise × gain
    made per pixel there: only phase 0's S/N is kept, the list holds it alone), others as numpy does."""
    gains = [np.float32(1.0)] * len(dens) if gains is None else [np.float32(g) for g in gains]
    if len(num) == 4 and all(a.dtype == np.float32 for a in (*num, *dens)):
        s0, top, phase = kernels.phase_snr(*(np.ascontiguousarray(a) for a in (*num, *dens)), *gains)
        return [s0], top, phase.astype(np.intp)
    dens = [den * g for den, g in zip(dens, gains, strict=True)]
    s_white = []
    for n_p, den in zip(num, dens, strict=True):
        pos = den > 0
        if pos.all():  # (the usual case: every pixel divided, no mask needed)
            s_white.append(np.divide(n_p, den, dtype=np.result_type(n_p, den)))
        else:
            sw_p = np.zeros(n_p.shape, np.result_type(n_p, den))
            s_white.append(np.divide(n_p, den, out=sw_p, where=pos))
    phase, top = _best_phase(s_white)
    return s_white, top, phase


def _best_phase(s_white: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(index of the best phase (intp), its value) per pixel of the maps ``s_white`` (one per phase): the
    first of equal maxima, as ``np.argmax`` over their stack without NaN, by comparisons (far faster than the
    argmax of a stack); the phase index is kept in int8 until the end."""
    top = s_white[0].copy()
    above = []  # where each phase beats all before it
    for s in s_white[1:]:
        above.append(s > top)
        np.maximum(top, s, out=top)
    if not above:
        return np.zeros(top.shape, np.intp), top
    phase = above[0].view(np.int8).copy()  # 1 where phase 1 beat phase 0 (a bool is stored as 0 / 1)
    for p, a in enumerate(above[1:], start=2):  # the last phase to beat the ones before it wins
        np.copyto(phase, np.int8(p), where=a)
    return phase.astype(np.intp), top


def _unmodelled_limb_scale(
    snr: np.ndarray,
    scale: np.ndarray,
    block: np.ndarray,
    d: np.ndarray,
    outside: np.ndarray,
    ok: np.ndarray,
    reach_px: int,
    span_px: float,
) -> tuple[np.ndarray, np.ndarray]:
    """(S/N, scale) with those at the ``outside`` pixels (near the limb, outside the limb model's zone) taken
    from their ``block`` scale raised by a limb-distance profile (:func:`limb_profile`, 0.5 px bins over
    ± ``span_px``) of the white-noise S/N (``snr`` × ``scale``) over those pixels alone (``ok``, sources
    above 4 × the block scale left out with ``reach_px``), instead of the profile shared with the zone: the
    modelled bright arc's misfit raised the scale of the dark limb and of the limb beyond the seen arc by as
    much as its own. Elsewhere both are returned as they are."""
    if not outside.any():
        return snr, scale
    white = snr * scale
    peaks = grow_sparse(white > 4.0 * block, reach_px)
    own = np.maximum(block, limb_profile(d, white, outside & ok & ~peaks, -span_px, span_px))
    snr = np.where(outside, white / own, snr)
    return snr, np.where(outside, own, scale).astype(scale.dtype, copy=False)


def _limb_fit_into(
    best: dict,
    x: np.ndarray,
    weight: np.ndarray,
    var: np.ndarray,
    d: np.ndarray,
    target: np.ndarray,
    ok: np.ndarray,
    psf: PsfModel,
    half: int,
    knot_px: float,
    knot_degree: int,
    profile: np.ndarray,
) -> None:
    """The S/N, phase and scale of ``best`` at the ``target`` pixels (the limb zone's usable ones) replaced by
    the limb fit's (:func:`ioscan.detect.localfit.limb_fit_snr`), its white-noise S/N divided by its robust
    scale over the zone's pixels ``ok`` (≥ 1); the zone's own profiles of the scale follow in
    :func:`estimate_background`."""
    from ioscan.detect.localfit import limb_fit_snr

    s_white = limb_fit_snr(x, var, weight, target, d, psf, PHASES, half, knot_px, knot_degree, profile)
    phase, top = _best_phase(s_white)
    sel = target & ok
    s0 = float(MAD_TO_SIGMA * np.median(np.abs(s_white[0][sel]))) if sel.sum() >= 20 else 1.0
    s0 = max(s0, 1.0)
    best["snr"] = np.where(target, top / s0, best["snr"])
    best["phase"] = np.where(target, phase, best["phase"])
    best["scale"] = np.where(target, np.float32(s0), best["scale"]).astype(best["scale"].dtype, copy=False)
