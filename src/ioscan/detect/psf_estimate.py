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
from scipy.special import erf

from ioscan.detect.fit_kernels import (
    clipped_step,
    damped_normal,
    elliptical_model,
    gaussian_profile_arguments,
    gaussian_profiles,
    local_maxima,
    steps_settled,
    take_better,
    weighted_misfit,
)
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
#: a single source's elongation is used from this fitted S/N (independent renderer, night frames, default
#: seed and 47: round PSF, 61 single sources of S/N 15–1,100 — the 3 whose elongation was off by more than
#: :data:`ELONGATION_CHANGE` (0.61, 0.76, 0.84) all had S/N < 25, those of S/N ≥ 30 0.92–1.10; elongation 1.5,
#: 31 of S/N 16–1,070: 1.38–1.64, 1.43–1.60 from S/N 30; ``benchmarks/bench_generalise.py``)
ONE_SOURCE_ELONGATION_SNR = 30.0

#: a source whose stamp crosses the frame's edge is fitted on the stamp's pixels inside the frame when its
#: centre lies at least this far inside, px (None: stamps must lie inside the frame). On the independent
#: renderer's night frames a third had no PSF estimate, among them frames whose only bright sources sat 2–5 px
#: from an edge: fitted there, σ 0.80 × 1.20–1.22 px against the truth 0.8 × 1.2
EDGE_STAMP_INSIDE_PX: int | None = 2

_SQRT2 = np.sqrt(2.0)
#: 1/√(2π), as _g1 makes it
_K = float(1.0 / np.sqrt(2.0 * np.pi))


@dataclass(frozen=True)
class PsfEstimate:
    """Measured Gaussian widths (px) across (samples) and along (lines) track, and how many sources."""

    sigma_sample_px: float
    sigma_line_px: float
    n_sources: int
    max_snr: float = float("inf")  #: fitted S/N of the brightest source used

    @property
    def from_one_faint_source(self) -> bool:
        """A single source below :data:`ONE_SOURCE_ELONGATION_SNR` made it (accepted with a lower
        ``single_source_snr``): good to ~5 % in width, not in elongation (its elongation is not used)."""
        return self.n_sources == 1 and self.max_snr < ONE_SOURCE_ELONGATION_SNR

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

    def evaluate(q):
        """The model at parameters ``q`` and its Jacobian: _g1's profiles of both axes (compiled around
        numpy's exp and scipy's erf: :func:`fit_kernels.gaussian_profile_arguments`,
        :func:`fit_kernels.gaussian_profiles`), then :func:`fit_kernels.elliptical_model`."""
        a, b, ex, er = gaussian_profile_arguments(q, m, float(_SQRT2))
        g, dc, ds = gaussian_profiles(q, a, b, np.exp(ex), erf(er), _K)
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
    # (compiled: the damped system, the clipped step, the settled test and the stamps' updates, numpy's
    # operations; the solve is numpy's LAPACK)
    for _ in range(n_iter):
        if stale.any():
            normal_equations(np.flatnonzero(stale))
            stale[:] = False
        try:
            step = np.linalg.solve(damped_normal(h, lam), g[..., None])[..., 0]
        except np.linalg.LinAlgError:
            break
        q = clipped_step(p, step, lo, hi)
        if step_tol_sigma > 0 and steps_settled(q, p, h, lam, step_tol_sigma, SETTLED_MAX_LAMBDA):
            break
        m2, j2 = evaluate(q)
        c2 = weighted_misfit(weights, stamps, m2)
        take_better(c2, q, m2, j2, p, model, jac, chi2, lam, stale)
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
    sig = pixel_noise_map(x, c_order=True) if noise_map is None else noise_map
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
        noise = pixel_noise_map(filled.astype(np.float32, copy=False), c_order=True)
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
        noise = pixel_noise_map(filled.astype(np.float32, copy=False), c_order=True)
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


def valid_and_noise(data: np.ndarray, saturated: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(usable pixels: finite and unsaturated, the per-pixel noise σ of :func:`~ioscan.detect.limb.
    pixel_noise_map` on the data with unusable pixels set to the usable ones' median) of a band image."""
    from ioscan.detect.limb import pixel_noise_map

    valid = np.isfinite(data) if saturated is None else np.isfinite(data) & ~saturated
    filled = data if valid.all() else np.where(valid, data, np.float32(median_or_nan(data[valid])))
    return valid, pixel_noise_map(np.asarray(filled).astype(np.float32, copy=False))


def isolated_inside(
    ok: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    shape: tuple[int, int],
    half_px: int,
    isolation_px: float,
    inside_px: int | None = None,
) -> np.ndarray:
    """``ok`` less the sources whose stamp (``half_px`` either side) leaves the frame (with ``inside_px``:
    whose centre lies closer than that to the frame's edge) or that have another source of (``x``, ``y``)
    (sample, line, px) closer than ``isolation_px``."""
    nl, ns = shape
    m = half_px + 1 if inside_px is None else inside_px
    ok = ok & (x >= m) & (x <= ns - m - 1) & (y >= m) & (y <= nl - m - 1)
    for k in np.flatnonzero(ok):
        d = np.hypot(x - x[k], y - y[k])
        d[k] = np.inf
        if d.min() < isolation_px:
            ok[k] = False
    return ok


def clear_of_limb(ok: np.ndarray, x: np.ndarray, y: np.ndarray, limb_distance_px, clearance_px: float):
    """``ok`` less the sources within ``clearance_px`` of the limb (none removed without a limb distance)."""
    if limb_distance_px is not None and ok.any():
        at = np.flatnonzero(ok)
        d = np.asarray(limb_distance_px)[np.rint(y[at]).astype(int), np.rint(x[at]).astype(int)]
        ok[at] = np.abs(np.nan_to_num(d, nan=0.0)) > clearance_px
    return ok


def source_stamps(data, noise, valid, x, y, idx, half_px: int = HALF_PX):
    """Stamps (``half_px`` either side, unusable pixels 0), weights (1/noise², 0 off the usable pixels) and
    the kept indices of the sources ``idx`` whose stamp has ≥ 80 % usable pixels among those inside the
    frame (a stamp crossing the frame's edge has its pixels beyond it unusable)."""
    stamps, weights, kept = [], [], []
    nl, ns = data.shape
    for k in idx:
        i, j = int(round(y[k])), int(round(x[k]))
        sl = (slice(i - half_px, i + half_px + 1), slice(j - half_px, j + half_px + 1))
        if i - half_px < 0 or j - half_px < 0 or i + half_px >= nl or j + half_px >= ns:
            o = np.arange(-half_px, half_px + 1)
            li, sj = i + o, j + o
            inside = ((li >= 0) & (li < nl))[:, None] & ((sj >= 0) & (sj < ns))[None, :]
            sl = np.ix_(np.clip(li, 0, nl - 1), np.clip(sj, 0, ns - 1))
            stamp = np.where(inside, np.asarray(data[sl], float), np.nan)
            good = valid[sl] & np.isfinite(stamp) & inside
            if good.sum() < 0.8 * inside.sum():
                continue
        else:
            stamp = np.asarray(data[sl], float)
            good = valid[sl] & np.isfinite(stamp)
            if good.sum() < 0.8 * good.size:
                continue
        stamps.append(np.where(good, stamp, 0.0))
        kept.append(k)
        weights.append(np.where(good, 1.0 / np.maximum(np.asarray(noise[sl], float), 1e-30) ** 2, 0.0))
    return stamps, weights, kept


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
    x, y, snr = np.asarray(x, float), np.asarray(y, float), np.asarray(snr, float)
    args = (data, noise, valid, x, y, snr, candidate, order, single_source_snr, min_fit_snr)
    got = _estimate(*args, None)
    if got is None and EDGE_STAMP_INSIDE_PX is not None:  # none from stamps inside: those crossing the edge
        got = _estimate(*args, EDGE_STAMP_INSIDE_PX)
    return got


def _estimate(data, noise, valid, x, y, snr, candidate, order, single_source_snr, min_fit_snr, inside_px):
    """:func:`estimate_psf` from the stamps inside the frame (``inside_px`` None) or also from those crossing
    its edge whose centre lies ``inside_px`` inside."""
    ok = isolated_inside(
        np.asarray(candidate, bool) & (snr >= MIN_SNR), x, y, data.shape, HALF_PX, ISOLATION_PX, inside_px
    )
    idx = np.flatnonzero(ok)
    rank = snr if order is None else np.asarray(order, float)
    idx = idx[np.argsort(-rank[idx])][:MAX_SOURCES]
    floor = np.broadcast_to(np.asarray(min_fit_snr, float), x.shape)
    stamps, weights, kept = source_stamps(data, noise, valid, x, y, idx)
    need = [floor[k] for k in kept]
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
