"""The PSF measured on the frame's own bright, isolated hot spots.

An instrument's PSF model can be off for a given frame (focus, spin smear, another detector temperature): a
core 30 % wider than the model's loses ~13 % of the matched filter's S/N, and a model sharper than the data
makes faint sources look like cosmic-ray spikes. :func:`estimate_psf` fits an axis-aligned elliptical
Gaussian (pixel-integrated) plus a local plane to the raw pixels around each bright first-pass source that
is unsaturated, isolated, away from the frame edge and the limb and not a cosmic-ray hit, and combines the
widths (median over the sources). Detection then uses a core of the geometric-mean width, elongated along
the lines as measured when the elongation differs from 1 by more than :data:`ELONGATION_CHANGE` (a round
filter of that width against an elongation of 1.5 keeps ~96 % of the S/N after the background step, the
elongated one ~98 %, and the PSF fits no longer leave elongated residuals), the model's other components kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import ndimage
from scipy.special import chdtri, erf

from ioscan.detect.fit_kernels import elliptical_model, local_maxima, weighted_misfit
from ioscan.detect.fit_kernels import normal_equations as fk_normal_equations
from ioscan.detect.psf import PsfModel
from ioscan.robust import median_or_nan

#: a source shapes the estimate from this fitted S/N (noise then moves a width by ≲ 5 %)
MIN_SNR = 15.0
#: no other first-pass source within this distance, px
ISOLATION_PX = 6.0
#: a neighbouring maximum (above a third of :data:`PEAK_SIGMA`) within :data:`ISOLATION_PX` disqualifies a
#: candidate when its peak exceeds this fraction of the candidate's (sunlit ground has many weak ones)
ISOLATION_FRACTION = 0.1
#: stamp half-size, px
HALF_PX = 5
#: at most this many sources are fitted (the brightest)
MAX_SOURCES = 6
#: widths accepted from one fit, px (narrower is a cosmic-ray hit, wider a blend or extended source)
SIGMA_RANGE_PX = (0.3, 3.0)
#: one source suffices from this S/N; below it two are needed (callers may accept a single fainter one:
#: ``single_source_snr`` of :func:`measure_psf`, :attr:`PsfEstimate.from_one_faint_source`)
SINGLE_SOURCE_SNR = 100.0
#: bright-source candidates stand this many pixel-noise σ above their surroundings after a 3 × 3 median
PEAK_SIGMA = 5.0
#: candidates within this distance of the limb are left out, px
PSF_LIMB_CLEARANCE_PX = 6.0
#: the model's core is replaced when the measured width differs from it by more than this fraction
CHANGE_FRACTION = 0.1
#: with ``near_limb_min_snr`` (:func:`measure_psf`: sources near the limb are candidates too) a source shapes
#: the estimate from this fitted S/N: the limb's step, which the stamp's plane does not describe, or a blend
#: inflates the fit's χ²/dof and so lowers its S/N (which the χ² scales), while the fits that describe the
#: source keep σ within ~5 % of the truth (renderer, sunlit frames: ``benchmarks/bench_psf_core.py``)
NEAR_LIMB_MIN_SNR = 50.0
#: the measured elongation σ_line / σ_sample is used when it differs from 1 by more than this fraction (a
#: median over ≥ 2 sources of S/N ≥ 15 is good to a few %)
ELONGATION_CHANGE = 0.15

_SQRT2 = np.sqrt(2.0)


@dataclass(frozen=True)
class PsfEstimate:
    """Measured Gaussian widths (px) across (samples) and along (lines) track, and how many sources."""

    sigma_sample_px: float
    sigma_line_px: float
    n_sources: int
    max_snr: float = float("inf")  #: fitted S/N of the brightest source used

    @property
    def from_one_faint_source(self) -> bool:
        """A single source below :data:`SINGLE_SOURCE_SNR` made it (accepted with a lower
        ``single_source_snr``): good to ~5 % in width, not in elongation."""
        return self.n_sources == 1 and self.max_snr < SINGLE_SOURCE_SNR

    @property
    def sigma_px(self) -> float:
        """Geometric-mean width, px."""
        return float(np.sqrt(self.sigma_sample_px * self.sigma_line_px))

    @property
    def elongation(self) -> float:
        """σ_line / σ_sample."""
        return self.sigma_line_px / self.sigma_sample_px

    @property
    def elongated(self) -> bool:
        """The elongation differs from 1 by more than :data:`ELONGATION_CHANGE`."""
        return abs(np.log(self.elongation)) > np.log1p(ELONGATION_CHANGE)

    def applied_to(self, model: PsfModel, *, elongation: bool = True) -> PsfModel:
        """``model`` with its core's σ replaced by the measured geometric-mean width (to 0.02 px: the
        estimate is no better, and per-PSF calibrations are cached) and, with ``elongation`` and when
        :attr:`elongated`, its core elongated as measured (to 0.05); else round."""
        core = model.sigmas_px.index(model.core_sigma_px)
        sigmas = list(model.sigmas_px)
        sigmas[core] = round(self.sigma_px / 0.02) * 0.02
        e = round(self.elongation / 0.05) * 0.05 if elongation and self.elongated else 1.0
        return PsfModel(model.weights, tuple(sigmas), elongation=e)

    def differs_from(self, model: PsfModel, *, elongation: bool = True) -> bool:
        """The measured core differs from ``model``'s: its width by more than :data:`CHANGE_FRACTION`, or
        (with ``elongation``) its elongation by more than :data:`ELONGATION_CHANGE`."""
        if abs(self.sigma_px / model.core_sigma_px - 1.0) > CHANGE_FRACTION:
            return True
        return elongation and abs(np.log(self.elongation / model.elongation)) > np.log1p(ELONGATION_CHANGE)


def _g1(u: np.ndarray, c: np.ndarray, sig: np.ndarray):
    """Pixel-integrated unit 1-D Gaussian at pixel offsets ``u`` for centres ``c`` and widths ``sig`` (arrays
    broadcasting as (n, 1) against (1, m)), with its derivatives with respect to the centre and the width."""
    a = (u - c + 0.5) / sig
    b = (u - c - 0.5) / sig
    pa, pb = np.exp(-0.5 * a * a), np.exp(-0.5 * b * b)
    k = 1.0 / np.sqrt(2.0 * np.pi)
    g = 0.5 * (erf(a / _SQRT2) - erf(b / _SQRT2))
    dc = -k * (pa - pb) / sig
    ds = -k * (a * pa - b * pb) / sig
    return g, dc, ds


#: :func:`fit_elliptical_gaussians` stops once every stamp's step, undamped to within 10 % (λ ≤
#: :data:`SETTLED_MAX_LAMBDA`), changes each parameter by less than this fraction of its 1σ error (bound:
#: 1/√h_kk, the error with the others held); a width is wanted to ~1 %, its error is a few %
STEP_TOL_SIGMA = 1e-3
#: the damping up to which a small step says the fit has settled (a heavily damped step is small anyway)
SETTLED_MAX_LAMBDA = 0.1


def _settled(step: np.ndarray, h: np.ndarray, lam: np.ndarray, tol_sigma: float) -> bool:
    """Every stamp's step (n, k, as clipped to the bounds) is below ``tol_sigma`` of its parameters'
    conditional 1σ errors 1/√h_kk (h: (n, k, k)) with damping λ ≤ :data:`SETTLED_MAX_LAMBDA`; a stamp whose
    step is not finite (a fit that fails) counts as settled."""
    diag = np.maximum(np.diagonal(h, axis1=1, axis2=2), 0.0)
    in_sigma = np.abs(step) * np.sqrt(diag)
    small = np.all(in_sigma < tol_sigma, axis=1) & (lam <= SETTLED_MAX_LAMBDA)
    return bool(np.all(small | ~np.all(np.isfinite(in_sigma), axis=1)))


def fit_elliptical_gaussians(
    stamps: np.ndarray, weights: np.ndarray, n_iter: int = 20, step_tol_sigma: float = STEP_TOL_SIGMA
) -> np.ndarray:
    """Rows (σ_sample, σ_line, S/N of the amplitude) of pixel-integrated axis-aligned Gaussians plus planes
    fitted to square stamps (n, m, m) with weights 1/σ² (0 to ignore), all at once (damped Gauss–Newton, at
    most ``n_iter`` steps; it stops once every stamp's step is below ``step_tol_sigma`` of its errors,
    :func:`_settled`; 0: always ``n_iter``); NaN rows where a fit fails. The sources are near the stamps'
    centres."""
    n, m, _ = stamps.shape
    c = (m - 1) / 2.0
    u = np.arange(m, dtype=float)[None, :]
    yy, xx = np.mgrid[0:m, 0:m].astype(float)
    ok = weights > 0
    peak = np.max(np.where(ok, stamps, -np.inf), axis=(1, 2))
    base = _stamp_medians(stamps, ok)
    p = np.column_stack(
        [np.maximum(peak - base, 1e-30) * 2 * np.pi * 0.64, np.full(n, c), np.full(n, c), np.full(n, 0.8),
         np.full(n, 0.8), base, np.zeros(n), np.zeros(n)]
    )  # fmt: skip
    lo = np.array([0.0, c - 1.5, c - 1.5, 0.15, 0.15, -np.inf, -np.inf, -np.inf])
    hi = np.array([np.inf, c + 1.5, c + 1.5, 4.0, 4.0, np.inf, np.inf, np.inf])
    lam = np.full(n, 1e-3)

    xc, yc = xx - c, yy - c
    eye = np.eye(8)[None]

    def evaluate(q):
        """The model at parameters ``q`` and its Jacobian (compiled: :func:`fit_kernels.elliptical_model`)."""
        # both axes' profiles in one call: (n, 2, m), samples then lines (the same values as one call each)
        g, dc, ds = _g1(u[:, None], q[:, 1:3, None], q[:, 3:5, None])
        return elliptical_model(q, g, dc, ds, xc, yc)

    def normal_equations(rows: np.ndarray) -> None:
        """h and g made again on the stamps ``rows`` (each stamp's sums are its own; compiled, np.einsum's
        sums: :func:`fit_kernels.normal_equations`)."""
        fk_normal_equations(jac, weights, stamps, model, rows, h, g)

    model, jac = evaluate(p)
    chi2 = weighted_misfit(weights, stamps, model)
    h, g = np.empty((n, 8, 8)), np.empty((n, 8))
    # the normal equations; made again only on the stamps whose model moved (else the same values)
    stale = np.ones(n, bool)
    for _ in range(n_iter):
        if stale.any():
            normal_equations(np.flatnonzero(stale))
            stale[:] = False
        damp = h + lam[:, None, None] * eye * np.maximum(np.diagonal(h, axis1=1, axis2=2), 1e-300)[:, :, None]
        try:
            step = np.linalg.solve(damp, g[..., None])[..., 0]
        except np.linalg.LinAlgError:
            break
        q = np.clip(p + step, lo, hi)
        if step_tol_sigma > 0 and _settled(q - p, h, lam, step_tol_sigma):
            break
        m2, j2 = evaluate(q)
        c2 = weighted_misfit(weights, stamps, m2)
        better = c2 < chi2
        if better.all():  # (np.where's values, without it)
            p, model, jac, chi2, lam = q, m2, j2, c2, lam / 3.0
            stale[:] = True
        elif better.any():
            p = np.where(better[:, None], q, p)
            model = np.where(better[:, None, None], m2, model)
            jac = np.where(better[:, None, None, None], j2, jac)
            chi2 = np.where(better, c2, chi2)
            lam = np.where(better, lam / 3.0, lam * 10.0)
            stale = better.copy()
        else:  # no stamp moved: the model, its Jacobian and the normal equations stay
            lam = lam * 10.0
    if stale.any():
        normal_equations(np.flatnonzero(stale))
    out = np.full((n, 3), np.nan)
    dof = np.maximum(ok.sum(axis=(1, 2)) - 8, 1)
    for k in range(n):
        try:
            cov = np.linalg.inv(h[k]) * max(chi2[k] / dof[k], 1.0)
        except np.linalg.LinAlgError:
            continue
        if cov[0, 0] > 0:
            out[k] = (p[k, 3], p[k, 4], p[k, 0] / np.sqrt(cov[0, 0]))
    return out


def _stamp_medians(stamps: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Each stamp's median over its ``ok`` pixels (0 where none is), as ``np.median`` of them: one sort of
    all stamps (the others pushed to the end as +inf), the middle value or the mean of the two middle ones
    (``np.median``'s (a + b) / 2)."""
    n = stamps.shape[0]
    flat = np.where(ok, stamps, np.inf).reshape(n, -1)
    flat.sort(axis=1)
    count = ok.reshape(n, -1).sum(axis=1)
    rows = np.arange(n)
    hi = flat[rows, count // 2]
    lo = flat[rows, np.maximum(count - 1, 0) // 2]
    mid = (lo + hi) / 2.0
    return np.where(count % 2 == 1, hi, np.where(count > 0, mid, 0.0))


@lru_cache(maxsize=1)
def _isolation_offsets() -> tuple[np.ndarray, np.ndarray]:
    """(line, sample) offsets of the pixels at distance 0 < d < :data:`ISOLATION_PX`."""
    r = int(np.ceil(ISOLATION_PX))
    o = np.arange(-r, r + 1)
    dl, ds = np.meshgrid(o, o, indexing="ij")
    d = np.hypot(dl, ds)
    sel = (d > 0) & (d < ISOLATION_PX)
    return dl[sel], ds[sel]


def _box_mean_nearest(m: np.ndarray, size: int) -> np.ndarray:
    """``ndimage.uniform_filter(m, size, mode="nearest")``; for a float32 image compiled
    (:func:`ioscan.detect.background_kernels.grid_box_mean_nearest`: scipy's running sums, the same
    values)."""
    if m.ndim == 2 and m.dtype == np.float32 and m.size:
        from ioscan.detect.background_kernels import grid_box_mean_nearest

        return grid_box_mean_nearest(np.ascontiguousarray(m)[None], size)[0]
    return ndimage.uniform_filter(m, size, mode="nearest")


def bright_sources(
    data: np.ndarray,
    valid: np.ndarray,
    limb_distance_px: np.ndarray | None = None,
    *,
    min_peak_sigma: float = PEAK_SIGMA,
    noise_map: np.ndarray | None = None,
    filled: np.ndarray | None = None,
    limb_clearance_px: float | None = PSF_LIMB_CLEARANCE_PX,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate bright point sources for the PSF estimate, found before any detection: (sample, line, peak
    in pixel-noise σ) of the local maxima of the 3 × 3-median image above its 11 × 11 mean by
    ``min_peak_sigma`` local pixel-noise σ (cosmic-ray hits of 1–3 pixels do not survive the median), that
    light ≥ 5 pixels of the raw image above max(5 % of their peak, 4 σ) (a hit lights ≤ 3), lie ≥ 6 px from
    the limb and from invalid pixels, and have no other local maximum above a third of ``min_peak_sigma`` and
    above :data:`ISOLATION_FRACTION` of their own peak within :data:`ISOLATION_PX`.
    ``noise_map``: ``pixel_noise_map`` of the filled float32 image if already computed (the same values);
    ``filled``: that filled float32 image (invalid pixels at the valid ones' median), if already made;
    ``limb_clearance_px``: the distance from the limb (None: candidates may lie anywhere)."""
    from ioscan.detect.disk import grow
    from ioscan.detect.limb import median3, pixel_noise_map

    x = np.asarray(data, dtype=np.float32)
    ok = np.isfinite(x) & valid
    if not ok.all():
        x = (
            filled
            if filled is not None
            else np.where(ok, x, np.float32(median_or_nan(x[ok]) if ok.any() else 0.0))
        )
    m = median3(x)
    hp = m - _box_mean_nearest(m, 11)
    sig = pixel_noise_map(x) if noise_map is None else noise_map
    z = hp / sig
    # local maxima (z equal to the max of its 3 × 3 neighbourhood, edges nearest) tested only where z exceeds
    # the lower of the two thresholds below: the same pixels as a maximum filter over the whole image
    # (compiled: fit_kernels.local_maxima, the threshold in z's type as numpy compares it)
    ci, cj, local_max = local_maxima(np.ascontiguousarray(z), z.dtype.type(min_peak_sigma / 3))
    if ci.size == 0:
        e = np.zeros(0)
        return e, e, e
    nl, ns = z.shape
    zc = z[ci, cj]
    oi, oj = ci[local_max], cj[local_max]  # others: local maxima above a third of the threshold
    peak = local_max & (zc > min_peak_sigma)
    if not ok.all():
        peak &= ~grow(~ok, 6)[ci, cj]
    if (
        limb_distance_px is not None and limb_clearance_px is not None
    ):  # (where a peak is left: the same flags)
        at = np.flatnonzero(peak)
        d_px = np.asarray(limb_distance_px)[ci[at], cj[at]]
        peak[at] = np.abs(np.nan_to_num(d_px, nan=0.0)) > limb_clearance_px
    ii, jj = ci[peak], cj[peak]
    if ii.size == 0:
        e = np.zeros(0)
        return e, e, e
    # any other local maximum above a third of the threshold within the isolation distance disqualifies
    others = np.full(z.shape, -np.inf, z.dtype)
    others[oi, oj] = z[oi, oj]
    di, dj = _isolation_offsets()
    li, sj = ii[:, None] + di, jj[:, None] + dj
    inside = (li >= 0) & (li < nl) & (sj >= 0) & (sj < ns)
    near = np.where(inside, others[np.clip(li, 0, nl - 1), np.clip(sj, 0, ns - 1)], -np.inf)
    keep = ~np.any(near > ISOLATION_FRACTION * z[ii, jj][:, None], axis=1)
    for k in np.flatnonzero(keep):
        w = (slice(max(ii[k] - 2, 0), ii[k] + 3), slice(max(jj[k] - 2, 0), jj[k] + 3))
        win = x[w] - (m[w] - hp[w])  # the raw image minus the local mean
        top_k = float(win.max())
        if np.count_nonzero(win > max(0.05 * top_k, 4.0 * float(sig[ii[k], jj[k]]))) < 5:
            keep[k] = False
    ii, jj = ii[keep], jj[keep]
    return jj.astype(float), ii.astype(float), z[ii, jj].astype(float)


def measure_psf(
    data: np.ndarray,
    saturated: np.ndarray | None,
    limb_distance_px: np.ndarray | None,
    *,
    single_source_snr: float = SINGLE_SOURCE_SNR,
    near_limb_min_snr: float | None = None,
) -> PsfEstimate | None:
    """The PSF measured on the band's bright, unsaturated, isolated point sources away from the limb, found
    before detection (:func:`bright_sources`, then :func:`estimate_psf` with the local pixel noise), or None.
    With ``near_limb_min_snr`` (e.g. :data:`NEAR_LIMB_MIN_SNR`) sources at any distance from the limb are
    candidates, each kept from that fitted S/N (a fit the limb's step or a blend spoils has a low S/N, see
    :data:`NEAR_LIMB_MIN_SNR`).
    """
    from ioscan.detect.limb import pixel_noise_map

    valid = np.isfinite(data) if saturated is None else np.isfinite(data) & ~saturated
    filled = data if valid.all() else np.where(valid, data, np.float32(median_or_nan(data[valid])))
    # bright_sources fills its float32 copy with its own median: the same image when the data are float32
    # (the pixel noise map is then computed once)
    noise = None
    same = np.asarray(data).dtype == np.float32 and valid.any()
    if same:
        noise = pixel_noise_map(filled.astype(np.float32, copy=False))
    near = near_limb_min_snr is not None and limb_distance_px is not None
    x, y, peak = bright_sources(
        data,
        valid,
        limb_distance_px,
        noise_map=noise,
        filled=filled if same and filled is not data else None,
        limb_clearance_px=None if near else PSF_LIMB_CLEARANCE_PX,
    )
    if x.size == 0:
        return None
    if noise is None:
        noise = pixel_noise_map(filled.astype(np.float32, copy=False))
    min_fit_snr = max(float(near_limb_min_snr), MIN_SNR) if near else MIN_SNR
    return estimate_psf(
        data,
        noise,
        valid,
        x,
        y,
        np.full(x.size, np.inf),
        np.ones(x.size, bool),
        order=peak,
        single_source_snr=single_source_snr,
        min_fit_snr=min_fit_snr,
    )


def estimate_psf(
    data: np.ndarray,
    noise: np.ndarray,
    valid: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    snr: np.ndarray,
    candidate: np.ndarray,
    *,
    order: np.ndarray | None = None,
    single_source_snr: float = SINGLE_SOURCE_SNR,
    min_fit_snr: float | np.ndarray = MIN_SNR,
) -> PsfEstimate | None:
    """The PSF's Gaussian widths measured on bright isolated sources (see the module docstring), or None.

    Args:
        data: band image (raw pixels; each stamp gets its own plane).
        noise: per-pixel noise σ (same shape).
        valid: pixels that may be fitted (finite, unsaturated, off the limb band).
        x, y: first-pass source positions (sample, line) in ``data``'s pixels.
        snr: their S/N if known (≥ :data:`MIN_SNR` to be used; inf: decided by the fit alone).
        candidate: sources that may shape the estimate (not saturated, not cosmic-ray hits, away from the
            limb); isolation, S/N and the frame edge are checked here.
        order: brightness to pick the :data:`MAX_SOURCES` fitted by (default ``snr``).
        single_source_snr: one source suffices from this fitted S/N (below it two are needed).
        min_fit_snr: the fitted S/N a source needs to shape the estimate (one value, or one per source).
    """
    nl, ns = data.shape
    x, y, snr = np.asarray(x, float), np.asarray(y, float), np.asarray(snr, float)
    ok = np.asarray(candidate, bool) & (snr >= MIN_SNR)
    ok &= (x >= HALF_PX + 1) & (x <= ns - HALF_PX - 2) & (y >= HALF_PX + 1) & (y <= nl - HALF_PX - 2)
    for k in np.flatnonzero(ok):
        d = np.hypot(x - x[k], y - y[k])
        d[k] = np.inf
        if d.min() < ISOLATION_PX:
            ok[k] = False
    idx = np.flatnonzero(ok)
    rank = snr if order is None else np.asarray(order, float)
    idx = idx[np.argsort(-rank[idx])][:MAX_SOURCES]
    stamps, weights, need = [], [], []
    floor = np.broadcast_to(np.asarray(min_fit_snr, float), x.shape)
    for k in idx:
        i, j = int(round(y[k])), int(round(x[k]))
        sl = (slice(i - HALF_PX, i + HALF_PX + 1), slice(j - HALF_PX, j + HALF_PX + 1))
        stamp = np.asarray(data[sl], float)
        good = valid[sl] & np.isfinite(stamp)
        if good.sum() < 0.8 * good.size:
            continue
        stamps.append(np.where(good, stamp, 0.0))
        need.append(floor[k])
        weights.append(np.where(good, 1.0 / np.maximum(np.asarray(noise[sl], float), 1e-30) ** 2, 0.0))
    sx, sy, wt = [], [], []
    if stamps:
        fits = fit_elliptical_gaussians(np.array(stamps), np.array(weights))
        for (a, b, sn), sn_min in zip(fits, need, strict=True):
            if not (np.isfinite(a) and np.isfinite(b) and np.isfinite(sn)):
                continue
            if not (
                SIGMA_RANGE_PX[0] <= a <= SIGMA_RANGE_PX[1] and SIGMA_RANGE_PX[0] <= b <= SIGMA_RANGE_PX[1]
            ):
                continue
            if sn < sn_min:
                continue
            sx.append(a)
            sy.append(b)
            wt.append(sn)
    if not sx or (len(sx) == 1 and wt[0] < single_source_snr):
        return None
    return PsfEstimate(
        float(median_or_nan(np.array(sx))), float(median_or_nan(np.array(sy))), len(sx), float(max(wt))
    )


#: the stacked width (:func:`joint_width`): sources from this fitted S/N (their own free fit's) are stacked
STACK_MIN_SNR = 8.0
#: ... and their own free fit's S/N from this (the free width and elongation take S/N from the amplitude)
STACK_MIN_FIT_SNR = 5.0
#: at most this many sources are stacked (the brightest candidates)
STACK_MAX_SOURCES = 12
#: the stacked width is accepted when its 1σ error (from the joint fit) is at most this fraction of it
STACK_MAX_REL_ERR = 0.07
#: ... and the sources agree: the likelihood-ratio statistic of one shared width against each source's own
#: is below χ²'s quantile at this probability for n − 1 degrees of freedom (a blend, a cosmic-ray remnant or
#: a texture peak among them fails it)
STACK_AGREE_QUANTILE = 0.99
#: the widths the joint fit profiles over: log-spaced across :data:`SIGMA_RANGE_PX`, 4 % apart (a parabola
#: through the three nearest the minimum refines it)
_STACK_STEP = 0.04


@dataclass(frozen=True)
class StackedWidth:
    """One round Gaussian width shared by several sources (:func:`joint_width`)."""

    sigma_px: float  #: the shared width
    #: its 1σ error ÷ it: the joint fit's profile (Δχ² = 1, each stamp's χ² scaled), times √(agree_chi2 /
    #: (n − 1)) where that exceeds 1 (the sources scatter more than their errors say: texture)
    rel_err: float
    agree_chi2: float  #: the likelihood-ratio statistic of the shared width against each source's own
    n_sources: int  #: the sources that share it
    own_sigmas_px: tuple[float, ...]  #: each of those sources' own best width (its profile's minimum)
    n_dropped: int = 0  #: sources left out as disagreeing (the worst first, while more than two were left)

    @property
    def agree(self) -> bool:
        """The sources agree with the shared width (:func:`_sources_agree`)."""
        return _sources_agree(self.n_sources, self.agree_chi2)

    @property
    def accepted(self) -> bool:
        """Two sources or more, an error ≤ :data:`STACK_MAX_REL_ERR` and agreeing sources."""
        return self.n_sources >= 2 and self.rel_err <= STACK_MAX_REL_ERR and self.agree


def _sources_agree(n_sources: int, agree_chi2: float) -> bool:
    """``n_sources`` agree when their χ² statistic is within χ²'s :data:`STACK_AGREE_QUANTILE` quantile for
    n − 1 degrees of freedom; one source always does."""
    return n_sources < 2 or agree_chi2 <= _agree_limit(n_sources)


@lru_cache(maxsize=64)
def _agree_limit(n: int) -> float:
    """χ²'s :data:`STACK_AGREE_QUANTILE` quantile for n − 1 degrees of freedom: ``scipy.stats.chi2.ppf``'s
    value (it calls ``chdtri``) without importing scipy.stats (~0.5 s once per worker, mid-scan)."""
    return float(chdtri(n - 1, 1.0 - STACK_AGREE_QUANTILE))


def _stack_grid() -> np.ndarray:
    lo, hi = np.log(SIGMA_RANGE_PX[0]), np.log(SIGMA_RANGE_PX[1])
    return np.exp(np.arange(lo, hi + 1e-9, _STACK_STEP))


def fit_fixed_width(
    stamps: np.ndarray, weights: np.ndarray, sigma: np.ndarray, n_iter: int = 8
) -> np.ndarray:
    """χ² of a pixel-integrated round Gaussian of the given width ``sigma`` (n,) plus a plane fitted to each
    stamp (n, m, m; weights 1/σ², 0 to ignore): amplitude, centre and plane free (damped Gauss–Newton from
    the stamp's centre, ``n_iter`` steps: 8 moved the stacked widths of 200 renderer frames by < 4e-6 of
    themselves against 15). Returns the χ² per stamp (inf where a fit fails)."""
    n, m, _ = stamps.shape
    c = (m - 1) / 2.0
    u = np.arange(m, dtype=float)[None, :]
    yy, xx = np.mgrid[0:m, 0:m].astype(float)
    xc, yc = xx - c, yy - c
    ok = weights > 0
    peak = np.max(np.where(ok, stamps, -np.inf), axis=(1, 2))
    base = _stamp_medians(stamps, ok)
    sig = np.asarray(sigma, float)
    p = np.column_stack(
        [np.maximum(peak - base, 1e-30) * 2 * np.pi * sig**2, np.full(n, c), np.full(n, c), sig, sig, base,
         np.zeros(n), np.zeros(n)]
    )  # fmt: skip
    free = np.array([0, 1, 2, 5, 6, 7])
    lo = np.array([0.0, c - 1.5, c - 1.5, -np.inf, -np.inf, -np.inf])
    hi = np.array([np.inf, c + 1.5, c + 1.5, np.inf, np.inf, np.inf])
    eye = np.eye(free.size)[None]

    def evaluate(q):
        g, dc, ds = _g1(u[:, None], q[:, 1:3, None], q[:, 3:5, None])
        model, jac = elliptical_model(q, g, dc, ds, xc, yc)
        return model, np.ascontiguousarray(jac[..., free])

    model, jac = evaluate(p)
    chi2 = weighted_misfit(weights, stamps, model)
    lam = np.full(n, 1e-3)
    h, g = np.empty((n, free.size, free.size)), np.empty((n, free.size))
    rows = np.arange(n)
    for _ in range(n_iter):
        fk_normal_equations(jac, weights, stamps, model, rows, h, g)
        diag = np.maximum(np.diagonal(h, axis1=1, axis2=2), 1e-300)
        try:
            step = np.linalg.solve(h + lam[:, None, None] * eye * diag[:, :, None], g[..., None])[..., 0]
        except np.linalg.LinAlgError:
            break
        q = p.copy()
        q[:, free] = np.clip(p[:, free] + np.nan_to_num(step), lo, hi)
        m2, j2 = evaluate(q)
        c2 = weighted_misfit(weights, stamps, m2)
        better = c2 < chi2
        p = np.where(better[:, None], q, p)
        model = np.where(better[:, None, None], m2, model)
        jac = np.where(better[:, None, None, None], j2, jac)
        chi2 = np.where(better, c2, chi2)
        lam = np.where(better, lam / 3.0, lam * 10.0)
    return np.where(np.isfinite(chi2), chi2, np.inf)


def _parabola_min(t: np.ndarray, y: np.ndarray, k: int) -> tuple[float, float, float]:
    """(position, value, curvature a of y ≈ v + a (t − t₀)²) of the parabola through the points k − 1, k,
    k + 1 of a uniform grid t (k at an end: the grid point itself, curvature from the inner side)."""
    k = int(np.clip(k, 1, len(t) - 2))
    y0, y1, y2 = y[k - 1], y[k], y[k + 1]
    dt = t[1] - t[0]
    a = (y0 - 2 * y1 + y2) / (2 * dt * dt)
    if not np.isfinite(a) or a <= 0:
        return float(t[k]), float(y1), 0.0
    off = float(np.clip((y0 - y2) / (4 * a * dt), -dt, dt))
    return float(t[k] + off), float(y1 - a * off * off), float(a)


def joint_width(stamps: np.ndarray, weights: np.ndarray) -> StackedWidth | None:
    """One round width shared by the sources of ``stamps`` (n, m, m; weights 1/σ², 0 to ignore; each its own
    amplitude, centre and plane), from the joint fit's profile: each stamp's χ² at every width of a
    log-spaced grid (:func:`fit_fixed_width`), divided by max(its own minimum's χ²/dof, 1) (a misfit the
    Gaussian + plane does not describe, e.g. texture, scales its errors as in
    :func:`fit_elliptical_gaussians`), summed; the shared width is the sum's minimum (a parabola in log σ),
    its error where the sum rises by 1 (inflated by √(agree_chi2 / (n − 1)) where that exceeds 1), and the
    sources' agreement the rise of the sum at the shared width over the sum of each stamp's own minimum (the
    likelihood-ratio statistic, χ² with n − 1 degrees of freedom). While they disagree
    (:data:`STACK_AGREE_QUANTILE`) and more than two are left, the source that adds most to that statistic
    is left out (a blend, a texture peak or a cosmic-ray remnant). None without stamps or where the profile
    has no minimum inside the grid."""
    n = len(stamps)
    if n == 0:
        return None
    grid = _stack_grid()
    t = np.log(grid)
    ng = grid.size
    st = np.repeat(np.asarray(stamps, float), ng, axis=0)
    wt = np.repeat(np.asarray(weights, float), ng, axis=0)
    chi2 = fit_fixed_width(st, wt, np.tile(grid, n)).reshape(n, ng)
    dof = np.maximum((np.asarray(weights) > 0).sum(axis=(1, 2)) - 7, 1)
    own_t, own_v = np.empty(n), np.empty(n)
    scaled = np.empty_like(chi2)
    for k in range(n):
        if not np.all(np.isfinite(chi2[k])):
            return None
        tk, vk, _ = _parabola_min(t, chi2[k], int(np.argmin(chi2[k])))
        s = max(vk / dof[k], 1.0)
        scaled[k] = chi2[k] / s
        own_t[k], own_v[k] = tk, vk / s
    use = np.ones(n, bool)
    while True:
        total = scaled[use].sum(axis=0)
        kk = int(np.argmin(total))
        if kk == 0 or kk == ng - 1:
            return None
        t0, v0, a = _parabola_min(t, total, kk)
        if a <= 0:
            return None
        agree = max(v0 - own_v[use].sum(), 0.0)
        m = int(use.sum())
        if m <= 2 or agree <= _agree_limit(m):
            break
        # each source's share of the statistic at the shared width (its χ² there, interpolated, over its own)
        at = np.array([np.interp(t0, t, scaled[k]) - own_v[k] if use[k] else -np.inf for k in range(n)])
        use[int(np.argmax(at))] = False
    rel = float(1.0 / np.sqrt(a)) * max(np.sqrt(agree / (m - 1)), 1.0) if m > 1 else float(1.0 / np.sqrt(a))
    return StackedWidth(
        sigma_px=float(np.exp(t0)),
        rel_err=rel,
        agree_chi2=float(agree),
        n_sources=m,
        own_sigmas_px=tuple(float(v) for v in np.exp(own_t[use])),
        n_dropped=n - m,
    )


def _stamps(data, noise, valid, x, y, idx):
    """Stamps, weights (1/noise², 0 off the usable pixels) and the kept indices of the sources ``idx`` whose
    stamp has ≥ 80 % usable pixels."""
    stamps, weights, kept = [], [], []
    for k in idx:
        i, j = int(round(y[k])), int(round(x[k]))
        sl = (slice(i - HALF_PX, i + HALF_PX + 1), slice(j - HALF_PX, j + HALF_PX + 1))
        stamp = np.asarray(data[sl], float)
        good = valid[sl] & np.isfinite(stamp)
        if good.sum() < 0.8 * good.size:
            continue
        stamps.append(np.where(good, stamp, 0.0))
        kept.append(k)
        weights.append(np.where(good, 1.0 / np.maximum(np.asarray(noise[sl], float), 1e-30) ** 2, 0.0))
    return stamps, weights, kept


def stacked_width(
    data: np.ndarray,
    saturated: np.ndarray | None,
    limb_distance_px: np.ndarray | None,
    x: np.ndarray,
    y: np.ndarray,
    snr: np.ndarray,
    candidate: np.ndarray,
) -> StackedWidth | None:
    """The round core width shared by the band's isolated sources (:func:`joint_width`), or None where fewer
    than two are left: ``candidate`` sources at (``x``, ``y``) (sample, line of ``data``; e.g. unflagged
    detections) of S/N ``snr`` ≥ :data:`STACK_MIN_SNR`, ≥ :data:`PSF_LIMB_CLEARANCE_PX` from the limb, no
    other source of ``x``, ``y`` within :data:`ISOLATION_PX`, a stamp inside the frame with ≥ 80 % usable
    pixels, their own free fit's S/N ≥ :data:`STACK_MIN_SNR` and widths in :data:`SIGMA_RANGE_PX`; the
    :data:`STACK_MAX_SOURCES` of highest ``snr``. Accept it with :attr:`StackedWidth.accepted`."""
    from ioscan.detect.limb import pixel_noise_map

    data = np.asarray(data)
    valid = np.isfinite(data) if saturated is None else np.isfinite(data) & ~saturated
    x, y, snr = np.asarray(x, float), np.asarray(y, float), np.asarray(snr, float)
    nl, ns = data.shape
    ok = np.asarray(candidate, bool) & (snr >= STACK_MIN_SNR) & np.isfinite(x) & np.isfinite(y)
    ok &= (x >= HALF_PX + 1) & (x <= ns - HALF_PX - 2) & (y >= HALF_PX + 1) & (y <= nl - HALF_PX - 2)
    if limb_distance_px is not None and ok.any():
        at = np.flatnonzero(ok)
        d = np.asarray(limb_distance_px)[np.rint(y[at]).astype(int), np.rint(x[at]).astype(int)]
        ok[at] = np.abs(np.nan_to_num(d, nan=0.0)) > PSF_LIMB_CLEARANCE_PX
    for k in np.flatnonzero(ok):
        d = np.hypot(x - x[k], y - y[k])
        d[k] = np.inf
        if d.min() < ISOLATION_PX:
            ok[k] = False
    idx = np.flatnonzero(ok)
    if idx.size < 2 or not valid.any():
        return None
    idx = idx[np.argsort(-snr[idx], kind="stable")][: 2 * STACK_MAX_SOURCES]
    filled = data if valid.all() else np.where(valid, data, np.float32(median_or_nan(data[valid])))
    noise = pixel_noise_map(np.asarray(filled).astype(np.float32, copy=False))
    stamps, weights, _ = _stamps(data, noise, valid, x, y, idx)
    if len(stamps) < 2:
        return None
    stamps, weights = np.array(stamps), np.array(weights)
    fits = fit_elliptical_gaussians(stamps, weights)
    a, b, sn = fits[:, 0], fits[:, 1], fits[:, 2]
    lo, hi = SIGMA_RANGE_PX
    keep = np.isfinite(a) & np.isfinite(b) & np.isfinite(sn) & (sn >= STACK_MIN_FIT_SNR)
    keep &= (a >= lo) & (a <= hi) & (b >= lo) & (b <= hi)
    sel = np.flatnonzero(keep)[:STACK_MAX_SOURCES]
    if sel.size < 2:
        return None
    return joint_width(stamps[sel], weights[sel])


#: the halo's weight is fitted on stamps this many px either side of a source (15 × 15: a halo of σ 2.5 px
#: to ±2.8 σ)
HALO_HALF_PX = 7
#: sources whose detection S/N reaches this weigh the halo (a 4 % halo of σ 2.5 px is measured to ~±2 % at
#: S/N 100 and ~±0.3 % at S/N 1000)
HALO_MIN_SNR = 50.0
#: ... and their own fit's S/N (core and halo free: their degeneracy takes S/N from the total) from this
HALO_MIN_FIT_SNR = 20.0
#: at most this many sources (the brightest) are fitted
HALO_MAX_SOURCES = 8
#: the sources are fitted only where their detection S/Ns add in quadrature to this: the weight's error is
#: ≳ 6 ÷ that sum on white noise (synthetic stamps, σ 0.6–0.8 px cores), so below it the error could not
#: reach :data:`HALO_MAX_ERR` (a factor 2 to spare)
HALO_MIN_COMBINED_SNR = 300.0
#: the measured weight is taken where its 1σ error is at most this (absolute, of the total flux) ...
HALO_MAX_ERR = 0.01
#: ... and it differs from the model's by more than this many of it (noise alone: ~3 in 1000 frames)
HALO_CHANGE_SIGMA = 3.0
#: added in quadrature to the combined weight's error: the model's shape is good to no better (our
#: simulator, whose PSF is the model's 4 % halo, gives 0.032–0.043 on the demo campaign's bright sources with
#: stated errors down to 0.0005, pulls −5.6 to +2.3, median −1)
HALO_SYSTEMATIC_ERR = 0.003


@dataclass(frozen=True)
class HaloWeight:
    """The fraction of each source's flux in a round halo of the model's width (:func:`halo_weight`)."""

    weight: float  #: the weighted mean over the agreeing sources (may be < 0 by noise)
    #: its 1σ error, times √(agree_chi2 / (n − 1)) where that exceeds 1, :data:`HALO_SYSTEMATIC_ERR` added
    err: float
    agree_chi2: float  #: Σ ((wᵢ − w̄) / eᵢ)² over the agreeing sources (χ² with n − 1 dof)
    n_sources: int  #: the sources that agree
    own_weights: tuple[float, ...]  #: each agreeing source's own weight
    n_dropped: int = 0  #: sources left out as disagreeing (the worst first, while more than two were left)

    @property
    def agree(self) -> bool:
        """The sources agree (:func:`_sources_agree`)."""
        return _sources_agree(self.n_sources, self.agree_chi2)

    @property
    def accepted(self) -> bool:
        """An error ≤ :data:`HALO_MAX_ERR` and agreeing sources."""
        return self.err <= HALO_MAX_ERR and self.agree

    def differs_from(self, model: PsfModel) -> bool:
        """The weight differs from ``model``'s halo weight (:func:`halo_component`) by more than
        :data:`HALO_CHANGE_SIGMA` errors."""
        k = halo_component(model)
        return k is not None and abs(self.weight - model.weights[k]) > HALO_CHANGE_SIGMA * self.err

    def applied_to(self, model: PsfModel) -> PsfModel:
        """``model`` with its halo's weight the measured one (clipped to [0, 0.5]) and its core's the rest."""
        k = halo_component(model)
        core = model.sigmas_px.index(model.core_sigma_px)
        w = list(model.weights)
        w[k] = round(float(np.clip(self.weight, 0.0, 0.5)), 4)
        w[core] = 1.0 - w[k]
        return PsfModel(tuple(w), model.sigmas_px, elongation=model.elongation)


def halo_component(model: PsfModel) -> int | None:
    """The index of ``model``'s halo where it has two components (a core and one wider), else None."""
    if len(model.weights) != 2:
        return None
    core = model.sigmas_px.index(model.core_sigma_px)
    other = 1 - core
    return other if model.sigmas_px[other] > model.sigmas_px[core] else None


def fit_core_halo(
    stamp: np.ndarray, weight: np.ndarray, halo_sigma_px: float, n_iter: int = 30
) -> tuple[float, float, float]:
    """(halo weight b / (a + b), its 1σ error, S/N of a + b) of a · core + b · halo + plane fitted to a
    square ``stamp`` (weights 1/σ², 0 to ignore): the core a pixel-integrated axis-aligned Gaussian of free
    widths, the halo a round one of ``halo_sigma_px``, both at one free centre (damped Gauss–Newton from
    the stamp's centre); the errors scaled by max(χ²/dof, 1). NaNs where the fit fails."""
    m = stamp.shape[0]
    c = (m - 1) / 2.0
    u = np.arange(m, dtype=float)
    yy, xx = np.mgrid[0:m, 0:m].astype(float)
    xc, yc = xx - c, yy - c
    w = np.asarray(weight, float)
    ok = w > 0
    base = float(np.median(stamp[ok])) if ok.any() else 0.0
    peak = float(np.max(np.where(ok, stamp, -np.inf)))
    hs = float(halo_sigma_px)

    def evaluate(q):
        a, b, x0, y0, sx, sy, c0, c1, c2 = q
        gx, dgx, sgx = _g1(u, x0, sx)
        gy, dgy, sgy = _g1(u, y0, sy)
        hx, dhx, _ = _g1(u, x0, hs)
        hy, dhy, _ = _g1(u, y0, hs)
        core = gy[:, None] * gx[None, :]
        halo = hy[:, None] * hx[None, :]
        model = a * core + b * halo + c0 + c1 * xc + c2 * yc
        jac = np.stack(
            [core, halo, a * gy[:, None] * dgx[None, :] + b * hy[:, None] * dhx[None, :],
             a * dgy[:, None] * gx[None, :] + b * dhy[:, None] * hx[None, :], a * gy[:, None] * sgx[None, :],
             a * sgy[:, None] * gx[None, :], np.ones_like(xc), xc, yc], axis=-1
        )  # fmt: skip
        return model, jac

    p = np.array([max(peak - base, 1e-30) * 2 * np.pi * 0.64, 0.0, c, c, 0.8, 0.8, base, 0.0, 0.0])
    lo = np.array([-np.inf, -np.inf, c - 1.5, c - 1.5, 0.15, 0.15, -np.inf, -np.inf, -np.inf])
    hi = np.array([np.inf, np.inf, c + 1.5, c + 1.5, 4.0, 4.0, np.inf, np.inf, np.inf])
    model, jac = evaluate(p)
    chi2 = float(np.sum(w * (stamp - model) ** 2))
    lam = 1e-3
    for _ in range(n_iter):
        r = stamp - model
        jw = jac * w[..., None]
        h = np.einsum("ijk,ijl->kl", jw, jac)
        g = np.einsum("ijk,ij->k", jw, r)
        try:
            step = np.linalg.solve(h + lam * np.diag(np.maximum(np.diag(h), 1e-300)), g)
        except np.linalg.LinAlgError:
            return np.nan, np.nan, np.nan
        q = np.clip(p + step, lo, hi)
        m2, j2 = evaluate(q)
        c2 = float(np.sum(w * (stamp - m2) ** 2))
        if c2 < chi2:
            done = chi2 - c2 < 1e-6 * max(chi2, 1.0)
            p, model, jac, chi2, lam = q, m2, j2, c2, lam / 3.0
            if done:
                break
        else:
            lam *= 10.0
    jw = jac * w[..., None]
    h = np.einsum("ijk,ijl->kl", jw, jac)
    try:
        cov = np.linalg.inv(h) * max(chi2 / max(int(ok.sum()) - 9, 1), 1.0)
    except np.linalg.LinAlgError:
        return np.nan, np.nan, np.nan
    a, b = p[0], p[1]
    tot = a + b
    if not (np.isfinite(tot) and tot > 0):
        return np.nan, np.nan, np.nan
    d = np.array([-b / tot**2, a / tot**2])
    var = float(d @ cov[:2, :2] @ d)
    var_tot = float(cov[0, 0] + cov[1, 1] + 2 * cov[0, 1])
    if not (var > 0 and var_tot > 0):
        return np.nan, np.nan, np.nan
    return float(b / tot), float(np.sqrt(var)), float(tot / np.sqrt(var_tot))


def combine_halo_weights(own: np.ndarray, err: np.ndarray) -> HaloWeight | None:
    """The sources' weights (``own`` ± ``err``) combined (inverse-variance mean; while they disagree,
    :data:`STACK_AGREE_QUANTILE`, and more than two are left, the one adding most to χ² is left out; the
    error with :data:`HALO_SYSTEMATIC_ERR` added in quadrature)."""
    own, err = np.asarray(own, float), np.asarray(err, float)
    use = np.isfinite(own) & np.isfinite(err) & (err > 0)
    n0 = int(use.sum())
    if n0 == 0:
        return None
    while True:
        iv = np.where(use, 1.0 / np.where(use, err, 1.0) ** 2, 0.0)
        mean = float(np.sum(iv * np.where(use, own, 0.0)) / iv.sum())
        contrib = np.where(use, (own - mean) ** 2 * iv, -np.inf)
        chi2 = float(np.sum(contrib[use]))
        m = int(use.sum())
        if m <= 2 or chi2 <= _agree_limit(m):
            break
        use[int(np.argmax(contrib))] = False
    e = float(1.0 / np.sqrt(iv.sum()))
    if m > 1:
        e *= max(np.sqrt(chi2 / (m - 1)), 1.0)
    e = float(np.hypot(e, HALO_SYSTEMATIC_ERR))
    return HaloWeight(mean, e, chi2, m, tuple(float(v) for v in own[use]), n0 - m)


def halo_weight(
    data: np.ndarray,
    saturated: np.ndarray | None,
    limb_distance_px: np.ndarray | None,
    x: np.ndarray,
    y: np.ndarray,
    snr: np.ndarray,
    candidate: np.ndarray,
    halo_sigma_px: float,
) -> HaloWeight | None:
    """The halo's weight (a round Gaussian of ``halo_sigma_px``) measured on the band's bright isolated
    sources (:func:`fit_core_halo` each, :func:`combine_halo_weights`), or None where none is left:
    ``candidate`` sources at (``x``, ``y``) (sample, line of ``data``; e.g. unflagged detections) of S/N
    ``snr`` ≥ :data:`HALO_MIN_SNR`, more than :data:`HALO_HALF_PX` + 3 px from the limb, no other source of
    ``x``, ``y`` within :data:`HALO_HALF_PX` + 1 px, a stamp inside the frame with ≥ 80 % usable pixels
    (finite, unsaturated), their own fit's S/N ≥ :data:`HALO_MIN_FIT_SNR`; the :data:`HALO_MAX_SOURCES` of
    highest ``snr``, where their S/Ns add in quadrature to :data:`HALO_MIN_COMBINED_SNR`. Accept it with
    :attr:`HaloWeight.accepted`."""
    from ioscan.detect.limb import pixel_noise_map

    data = np.asarray(data)
    valid = np.isfinite(data) if saturated is None else np.isfinite(data) & ~saturated
    x, y, snr = np.asarray(x, float), np.asarray(y, float), np.asarray(snr, float)
    nl, ns = data.shape
    h = HALO_HALF_PX
    ok = np.asarray(candidate, bool) & (snr >= HALO_MIN_SNR) & np.isfinite(x) & np.isfinite(y)
    ok &= (x >= h + 1) & (x <= ns - h - 2) & (y >= h + 1) & (y <= nl - h - 2)
    if limb_distance_px is not None and ok.any():
        at = np.flatnonzero(ok)
        d = np.asarray(limb_distance_px)[np.rint(y[at]).astype(int), np.rint(x[at]).astype(int)]
        ok[at] = np.abs(np.nan_to_num(d, nan=0.0)) > h + 3
    for k in np.flatnonzero(ok):
        d = np.hypot(x - x[k], y - y[k])
        d[k] = np.inf
        if d.min() <= h + 1:
            ok[k] = False
    idx = np.flatnonzero(ok)
    if idx.size == 0 or not valid.any():
        return None
    idx = idx[np.argsort(-snr[idx], kind="stable")][:HALO_MAX_SOURCES]
    if np.sqrt(np.sum(snr[idx] ** 2)) < HALO_MIN_COMBINED_SNR:  # too faint to reach HALO_MAX_ERR: not fitted
        return None
    filled = data if valid.all() else np.where(valid, data, np.float32(median_or_nan(data[valid])))
    noise = pixel_noise_map(np.asarray(filled).astype(np.float32, copy=False))
    own, err = [], []
    for k in idx:
        i, j = int(round(y[k])), int(round(x[k]))
        sl = (slice(i - h, i + h + 1), slice(j - h, j + h + 1))
        stamp = np.asarray(data[sl], float)
        good = valid[sl] & np.isfinite(stamp)
        if good.sum() < 0.8 * good.size:
            continue
        wt = np.where(good, 1.0 / np.maximum(np.asarray(noise[sl], float), 1e-30) ** 2, 0.0)
        hw, he, sn = fit_core_halo(np.where(good, stamp, 0.0), wt, halo_sigma_px)
        if np.isfinite(hw) and np.isfinite(sn) and sn >= HALO_MIN_FIT_SNR:
            own.append(hw)
            err.append(he)
    return combine_halo_weights(np.array(own), np.array(err)) if own else None
