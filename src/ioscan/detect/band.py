"""Detection in one band, as named steps: mask → artefact pre-cleaning (column streaks) → limb → background →
find → fit (saturated cores placed, cosmic-ray spike test) → second pass → flag.

The result is pixel-level: positions, fluxes in the band's unit, S/N and flags. Surface positions and
physical quantities are measurement's (:mod:`ioscan.measure`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ioscan.detect.artefacts import (
    MIN_FIT_SNR,
    flag_bright_source_artefacts,
    flag_edge_misfit_chi2,
    flag_edge_unconfirmed,
    flag_limb_ridges,
    flag_unconfirmed,
    flag_unresolved_splits,
)
from ioscan.detect.background import (
    BROAD_PSF_SIGMA_PX,
    DARK_LIMB_STEP_SIGMA,
    BandModel,
    annulus_sizes,
    base_limb_halfwidth_px,
    estimate_background,
    filter_options,
)
from ioscan.detect.columns import remove_column_streaks
from ioscan.detect.config import DetectConfig
from ioscan.detect.disk import laplacian_noise
from ioscan.detect.disk_model import DiskModelFit, DiskSnr, disk_snr_map
from ioscan.detect.edge_contrast import flag_edge_misfits
from ioscan.detect.edge_refit import flag_edge_refits
from ioscan.detect.find import (
    NEIGHBOUR_REACH_PX,
    Peaks,
    SpikeNeighbours,
    crowded,
    find_peaks,
    spike_dchi2,
    spike_threshold,
    unresolved_duplicates,
)
from ioscan.detect.fit_kernels import linear_flux
from ioscan.detect.flags import FlagContext, source_flags
from ioscan.detect.limb_profile import SKY_REACH_PX, ZONE_REACH_PX, fit_limb_model
from ioscan.detect.localfit import LocalFitScale, flag_local_fit_unconfirmed, local_fit_scale
from ioscan.detect.misfits import (
    flag_along_limb,
    flag_along_limb_clutter,
    flag_along_limb_sides,
    flag_edge_limb_steps,
    flag_edge_plateaus,
    flag_ridges,
    kept_band_maps,
    limb_ridge_psf_gains,
)
from ioscan.detect.photometry import PsfFit, fill_flux_err, fit_radius_px, fit_sources
from ioscan.detect.photometry_psf import (
    apply_shape_ratios,
    measured_core,
    measured_halo,
    shape_ratios,
    stacked_core,
)
from ioscan.detect.psf import PsfModel
from ioscan.detect.psf_estimate import SINGLE_SOURCE_SNR, PsfEstimate, measure_psf
from ioscan.detect.region import Limb, locate_limb, mask_pixels, off_disk_zone, search_region
from ioscan.detect.results import BandDetections
from ioscan.detect.saturated import clipped_cores, recentre_saturated
from ioscan.detect.second_pass import merge_peaks, search_again, take_peaks
from ioscan.detect.shading import MIN_SUNLIT_PIXELS, shading_template, sunlit_mask, template_crops_to
from ioscan.detect.spike_calibration import spike_thresholds
from ioscan.geometry.backplanes import Backplanes
from ioscan.instruments import Instrument, get_instrument
from ioscan.records import BandImage, Detection, DetectionFlag


def _background_args(
    data: np.ndarray,
    limb: Limb,
    sat_mask: np.ndarray | None,
    sl: tuple[slice, slice],
    psf: PsfModel,
    cfg: DetectConfig,
    offset_free: bool = False,
    pixel_noise: float | None = None,
    psf_measured: bool = False,
    model_core_px: float | None = None,
) -> dict:
    """Settings of :func:`~ioscan.detect.background.estimate_background` for the crop ``sl``
    (``pixel_noise``: ``laplacian_noise(data)`` if already known; ``psf_measured``: the PSF was measured on
    the frame, else the annuli are sized for a core ``unmeasured_psf_width_margin`` × wider;
    ``model_core_px``: the model's core σ, px, the annuli are sized for instead of ``psf``'s,
    :func:`annulus_sigma`)."""
    sigma = psf.core_sigma_px
    narrow = sigma < BROAD_PSF_SIGMA_PX
    shading = sunlit = None
    # broad (AO) PSFs: the measured false rate rises with the shading template (its blurred limb and halo do
    # not match a real halo well enough), and the dark-limb band raised it too: both for narrow PSFs only
    if limb.from_geometry and narrow and cfg.use_shading and not limb.image_model:
        made = limb.shading  # the limb's sunlit disk of this image with this PSF: its template's crop, exact
        if (
            made is not None
            and made.data is data
            and made.psf is psf
            and template_crops_to(limb.backplanes, psf, sl)
        ):
            whole = made.template()
            shading = None if whole is None else np.ascontiguousarray(whole[sl])
        else:
            shading = shading_template(data, limb.backplanes, psf, sl)
    if limb.from_geometry and narrow:
        sunlit = sunlit_mask(limb.backplanes, sl)
    elif limb.sunlit is not None and narrow:
        sunlit = limb.sunlit[sl]
    limb_halfwidth = cfg.limb_halfwidth_px
    band_sigma = sigma if model_core_px is None else model_core_px  # the limb band's σ, px, as the annuli's
    if limb_halfwidth is None and limb.from_geometry:
        # the geometry's limb is uncertain by the pointing: the base band tolerates 0.5 px (measured: no false
        # hot spot on the simulator's sunlit limb), beyond that it widens by the excess
        limb_halfwidth = base_limb_halfwidth_px(band_sigma) + max(cfg.pointing_error_px - 0.5, 0.0)
    elif limb_halfwidth is None and model_core_px is not None:
        limb_halfwidth = base_limb_halfwidth_px(band_sigma)
    limb_model = None
    if limb.circle is not None and narrow and cfg.use_limb_profile:
        # the bright limb's own profile, measured along it
        valid = np.isfinite(data) if sat_mask is None else np.isfinite(data) & ~sat_mask
        noise = laplacian_noise(data) if pixel_noise is None else pixel_noise
        model = fit_limb_model(data, limb.circle, limb.known, valid, noise)
        limb_model = None if model is None else model.crop(sl)
    limb_distance = None if limb.distance_px is None else limb.distance_px[sl]
    if limb_distance is not None and narrow and _dark_geometry_limb(data, limb, band_sigma, cfg, pixel_noise):
        limb_distance = None  # a dark disk given by the geometry: its background as without a limb
    return dict(
        psf=psf,
        limb_distance_px=limb_distance,
        mask=None if sat_mask is None else sat_mask[sl],
        limb_halfwidth_px=limb_halfwidth,
        local_window_px=cfg.local_window_px,
        shading=shading,
        sunlit=sunlit,
        textured_option=cfg.textured_ground_option and shading is not None,
        limb_model=limb_model,
        offset_free=offset_free,
        search_limb_band=cfg.search_limb_band,
        source_ring_mask=cfg.source_ring_mask,
        limb_fit=cfg.limb_fit,
        annulus_sigma_px=annulus_sigma(psf, cfg, psf_measured, model_core_px),
        limb_fit_half_px=cfg.limb_fit_half_px,
        limb_fit_knot_px=cfg.limb_fit_knot_px,
        limb_fit_knot_degree=cfg.limb_fit_knot_degree,
        keep_source_pixels=cfg.keep_source_pixels,
        white_noise_d2=cfg.white_noise_d2,
        own_option_zones=cfg.own_option_zones,
        limb_scale_quantile=cfg.limb_scale_quantile,
        limb_zone_own_scale_px=cfg.limb_zone_own_scale_px,
        unmodelled_limb_own_profile=cfg.unmodelled_limb_own_profile,
        negative_scale_cap=cfg.negative_scale_cap,
    )


#: ``detect.geometry_dark_limb_unsplit``: the fewest valid pixels on each side of the limb band for its step
DARK_LIMB_MIN_PIXELS = 30


def _dark_geometry_limb(
    data: np.ndarray, limb: Limb, sigma_px: float, cfg: DetectConfig, pixel_noise: float | None
) -> bool:
    """With ``detect.geometry_dark_limb_unsplit``: the geometry's limb stands, no pixel of the frame is
    sunlit (:func:`ioscan.detect.shading.sunlit_mask`: the night side, or Io in Jupiter's shadow) and the
    limb is dark over its whole length — the medians of the disk just inside the limb band and of the sky
    just outside it (3 px each, at least :data:`DARK_LIMB_MIN_PIXELS` valid pixels each) differ by less
    than :data:`ioscan.detect.background.DARK_LIMB_STEP_SIGMA` × the pixel noise. Medians over the whole
    limb, not the box means of :func:`ioscan.detect.background.dark_limb`, which a hot spot on the limb
    raises above the step around itself (leaving exactly the hot spots' stretch of the band unsearched)."""
    if not (cfg.geometry_dark_limb_unsplit and limb.from_geometry and limb.backplanes is not None):
        return False
    if sunlit_mask(limb.backplanes).any():
        return False
    d = limb.distance_px
    x = np.asarray(data)
    wb = base_limb_halfwidth_px(sigma_px) if cfg.limb_halfwidth_px is None else float(cfg.limb_halfwidth_px)
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(x) & np.isfinite(d)
        inside = valid & (d > wb) & (d <= wb + 3.0)
        outside = valid & (d < -wb) & (d >= -wb - 3.0)
    if min(np.count_nonzero(inside), np.count_nonzero(outside)) < DARK_LIMB_MIN_PIXELS:
        return False
    noise = laplacian_noise(x) if pixel_noise is None else pixel_noise
    step = abs(float(np.median(x[inside])) - float(np.median(x[outside])))
    return bool(step < DARK_LIMB_STEP_SIGMA * noise)


def annulus_sigma(
    psf: PsfModel, cfg: DetectConfig, psf_measured: bool, model_core_px: float | None = None
) -> float:
    """Core σ (px) the background annuli are sized for: the PSF's, × ``cfg.unmeasured_psf_width_margin``
    where it was not measured on the frame (a true core wider than the model's keeps its wings out of the
    small annulus); narrow PSFs only (σ < ``BROAD_PSF_SIGMA_PX``: the JIRAM-like cores it was measured on).
    ``model_core_px`` (px): where given (a measured core replaced the model's of this σ), the annuli stay
    sized for it (``detect.psf_annuli_model_core``)."""
    sigma = psf.core_sigma_px
    if model_core_px is not None and sigma < BROAD_PSF_SIGMA_PX:
        return float(model_core_px)
    if psf_measured or sigma >= BROAD_PSF_SIGMA_PX:
        return sigma
    return sigma * max(1.0, float(cfg.unmeasured_psf_width_margin))


#: ``detect.keep_source_pixels``: only sources of first-fit S/N ≥ this keep their outlier pixels (fainter ones
#: lose more to the noise of the pixels the fill averaged than the fill's error on textured ground costs them:
#: on the simulator's campaign, S/N 5–30 scattered 7.7 % → 10.3 % kept)
KEEP_SOURCE_PIXELS_SNR = 100.0

#: the PSF is measured on the frame only when the model's core holds at least this fraction of the flux
MIN_CORE_WEIGHT_TO_MEASURE = 0.9


@dataclass
class _Pass:
    """One pass of background → find → fit on the search region's crop ``sl``."""

    sl: tuple[slice, slice]
    search: np.ndarray | None
    sub: np.ndarray
    args: dict
    model: BandModel
    peaks: Peaks
    fit: PsfFit | None
    local: LocalFitScale | None = None


def _first_pass(
    data: np.ndarray,
    limb: Limb,
    sat_mask,
    psf: PsfModel,
    cfg: DetectConfig,
    offset_free: bool = False,
    pixel_noise: float | None = None,
    psf_measured: bool = False,
    model_core_px: float | None = None,
    disk_snr: DiskSnr | None = None,
    disk_snr_reach_px: float | None = None,
) -> _Pass:
    """Background, peaks and PSF fits with a given PSF (``pixel_noise``: laplacian_noise(data) if known;
    ``psf_measured``: the PSF was measured on the frame; ``model_core_px``: see :func:`annulus_sigma`;
    ``disk_snr``: the S/N map on the data less the disk model, which replaces the background's, or None)."""
    wide = annulus_sigma(psf, cfg, psf_measured, model_core_px)
    h1 = max(o[1] for o in filter_options(psf.core_sigma_px, annulus_sigma_px=wide))
    sl, search = search_region(limb, data.shape, pad=2 * h1 + fit_radius_px(psf) + 4)
    sub = data[sl]
    args = _background_args(
        data, limb, sat_mask, sl, psf, cfg, offset_free, pixel_noise, psf_measured, model_core_px
    )
    model = estimate_background(sub, **args)
    if disk_snr is not None:
        # the disk model's S/N map where it is to be used (within reach_px of its limb; None: everywhere)
        use = (
            model.usable
            if disk_snr_reach_px is None
            else model.usable & (np.abs(disk_snr.limb_px[sl]) < disk_snr_reach_px)
        )
        model = replace(
            model,
            snr=np.where(use, disk_snr.snr[sl], model.snr).astype(model.snr.dtype),
            phase=np.where(use, disk_snr.phase[sl], model.phase),
        )
    peaks = find_peaks(
        model.snr,
        cfg.threshold_snr,
        search=search,
        sigma_px=psf.core_sigma_px,
        saddle_snr=cfg.deblend_saddle_snr,
        max_peaks=cfg.max_sources,
        valid=model.usable,
    )
    # the local fit, calibrated once on the crop away from the first-pass peaks (the faint peaks' decision,
    # then every detection's local-fit S/N)
    local = (
        _local_fit(sub, model, peaks, psf, cfg, args.get("limb_model"))
        if _local_fit_wanted(psf, cfg)
        else None
    )
    faint = _faint_peaks(model, peaks, search, psf, cfg, local)
    if len(faint):
        peaks = merge_peaks(peaks, faint, 4.0 * psf.core_sigma_px * np.sqrt(2.0) + 1.0)
    fit = fit_sources(model, peaks, psf) if len(peaks) else None
    return _Pass(sl, search, sub, args, model, peaks, fit, local)


def _local_fit_wanted(psf: PsfModel, cfg: DetectConfig) -> bool:
    """Narrow PSFs with the faint-peak decision, the limb-ridge confirmation or the local-fit veto on."""
    settings = (cfg.faint_peak_map_snr, cfg.limb_ridge_confirm_snr, cfg.local_fit_min_snr)
    return psf.core_sigma_px < BROAD_PSF_SIGMA_PX and any(v is not None for v in settings)


#: a faint candidate within this distance (px) of a peak above the threshold is that peak's
FAINT_PEAK_MIN_SEPARATION_PX = 3.0
#: σ (px) of the bump of the ground the faint-peak compactness test frees beside the PSF
FAINT_PEAK_BROAD_SIGMA_PX = 2.0


def _faint_peaks(
    model: BandModel,
    peaks: Peaks,
    search: np.ndarray | None,
    psf: PsfModel,
    cfg: DetectConfig,
    local: LocalFitScale | None,
) -> Peaks:
    """Maxima of the S/N map between ``cfg.faint_peak_map_snr`` and the threshold that the calibrated local
    fit ``local`` confirms (:class:`ioscan.detect.localfit.LocalFitScale`) and that stay sharper than a bump
    of the ground; narrow PSFs only."""
    low = cfg.faint_peak_map_snr
    none = take_peaks(peaks, np.zeros(len(peaks), bool))
    if low is None or local is None or low >= cfg.threshold_snr or psf.core_sigma_px >= BROAD_PSF_SIGMA_PX:
        return none
    cand = find_peaks(
        model.snr,
        low,
        search=search,
        sigma_px=psf.core_sigma_px,
        saddle_snr=cfg.deblend_saddle_snr,
        max_peaks=cfg.max_sources,
        valid=model.usable,
    )
    below = cand.snr <= cfg.threshold_snr
    if len(peaks) and below.any():
        d = np.hypot(cand.x[:, None] - peaks.x[None, :], cand.y[:, None] - peaks.y[None, :]).min(axis=1)
        below &= d > FAINT_PEAK_MIN_SEPARATION_PX
    cand = take_peaks(cand, below)
    if len(cand) == 0:
        return none
    ok = local.snr_at(cand.line, cand.sample) >= cfg.faint_peak_fit_snr
    if cfg.faint_peak_compact_snr is not None and ok.any():
        # sharper than a bump of the ground: the PSF's S/N with a broad Gaussian freed beside it
        compact = local.compact_snr_at(cand.line[ok], cand.sample[ok], FAINT_PEAK_BROAD_SIGMA_PX)
        ok[ok] = compact >= cfg.faint_peak_compact_snr
    return take_peaks(cand, ok)


def _local_fit(
    sub: np.ndarray, model: BandModel, peaks: Peaks, psf: PsfModel, cfg: DetectConfig, limb_model
) -> LocalFitScale:
    """The local fit on the crop, calibrated on its pixels away from ``peaks``
    (:func:`ioscan.detect.localfit.local_fit_scale`)."""
    return local_fit_scale(
        sub,
        np.asarray(model.sigma_white, np.float64) ** 2,
        model.usable,
        model.limb_distance_px,
        peaks.line,
        peaks.sample,
        psf,
        limb=_limb_fit_terms(model, limb_model) if cfg.faint_peak_limb_fit else None,
        clean=model.clean,
    )


def _ridge_confirm_snr(cfg: DetectConfig) -> float:
    """The calibrated local-fit S/N above which the limb-ridge test leaves a detection be (inf: off)."""
    v = cfg.limb_ridge_confirm_snr
    return float("inf") if v is None else float(v)


def _local_fit_snr(sub: np.ndarray, peaks: Peaks, fit: PsfFit, local: LocalFitScale | None) -> np.ndarray:
    """The calibrated local-fit S/N (``local``, :func:`_local_fit`) at each fitted source's pixel (nan
    without it: broad PSFs, or none of its settings on)."""
    n = len(peaks)
    if n == 0 or local is None:
        return np.full(n, np.nan)
    li = np.clip(np.rint(fit.y).astype(int), 0, sub.shape[0] - 1)
    sj = np.clip(np.rint(fit.x).astype(int), 0, sub.shape[1] - 1)
    li = np.where(np.isfinite(fit.y), li, peaks.line)
    sj = np.where(np.isfinite(fit.x), sj, peaks.sample)
    return local.snr_at(li, sj)


def _limb_fit_terms(model: BandModel, limb_model) -> tuple[np.ndarray, np.ndarray] | None:
    """The limb model's profile T (0 on the sky, 1 on the disk; the measured profile in its zone) and zone,
    for the local fit across the limb; None without a limb model."""
    if limb_model is None or model.limb_distance_px is None:
        return None
    d = model.limb_distance_px
    profile = np.where(limb_model.zone, limb_model.template, (d > 0).astype(np.float64))
    return profile, np.asarray(limb_model.zone, bool)


def _measure_psf(
    data: np.ndarray, sat_mask, limb: Limb, single_source_snr: float = SINGLE_SOURCE_SNR
) -> PsfEstimate | None:
    """The PSF measured on the band's bright, unsaturated, isolated point sources away from the limb, found
    before detection (:func:`ioscan.detect.psf_estimate.measure_psf`)."""
    return measure_psf(data, sat_mask, limb.distance_px, single_source_snr=single_source_snr)


def spike_amplitudes(
    resid: np.ndarray, noise: np.ndarray, valid: np.ndarray, x: np.ndarray, y: np.ndarray, psf: PsfModel
) -> np.ndarray:
    """Each source's least-squares amplitude (total flux, the residual's unit) of ``psf`` at (x, y) on the
    5 × 5 pixels around its nearest pixel of the background-subtracted ``resid`` (weights 1/noise²,
    ``valid`` pixels only): the amplitude the spike test's PSF model gets when that PSF is not the one
    fitted."""
    n = len(x)
    if n == 0:
        return np.zeros(0)
    nl, ns = resid.shape
    off = np.arange(-2, 3)
    li = np.clip(np.rint(y).astype(int), 0, nl - 1)[:, None, None] + off[None, :, None]
    sj = np.clip(np.rint(x).astype(int), 0, ns - 1)[:, None, None] + off[None, None, :]
    inside = (li >= 0) & (li < nl) & (sj >= 0) & (sj < ns)
    lic, sjc = np.clip(li, 0, nl - 1), np.clip(sj, 0, ns - 1)
    w = np.where(inside & valid[lic, sjc], 1.0 / np.maximum(noise[lic, sjc], 1e-30) ** 2, 0.0)
    p = psf.stamp_values(sjc.astype(float), lic.astype(float), np.asarray(x, float), np.asarray(y, float))
    data = np.asarray(resid[lic, sjc], dtype=np.float64)
    return linear_flux(*(np.ascontiguousarray(a, dtype=np.float64) for a in (p, w, data)))


def _spike_test_measured_core(
    detections: list[Detection], rows: np.ndarray, model, fit, core: PsfModel, cfg: DetectConfig
) -> int:
    """The cosmic-ray spike test again on the final detections (``rows``: each one's source index) with the
    core measured on the frame (amplitudes refitted with it; threshold calibrated for it at
    ``cfg.threshold_snr``): COSMIC_RAY set where it exceeds the threshold. Returns how many were newly
    flagged. Each detection keeps the advantage in ``extra["spike_dchi2_measured"]``."""
    resid = model.residuals[0]
    flux = spike_amplitudes(resid, model.noise, model.usable, fit.x[rows], fit.y[rows], core)
    dchi = spike_dchi2(resid, model.noise, model.usable, fit.x[rows], fit.y[rows], flux, core)
    thr = spike_threshold(core, cfg.threshold_snr)
    n = 0
    for d, v in zip(detections, dchi, strict=True):
        d.extra["spike_dchi2_measured"] = float(v)
        also = cfg.spike_measured_core_model_dchi2
        if also is not None and not d.extra.get("spike_dchi2", np.inf) > also:
            continue
        if v > thr and not d.flags & (DetectionFlag.COSMIC_RAY | DetectionFlag.SATURATED):
            d.flags = d.flags | DetectionFlag.COSMIC_RAY
            n += 1
    return n


def _psf_in_use(
    data: np.ndarray, sat_mask, limb: Limb, psf: PsfModel, cfg: DetectConfig, band: str, messages: list[str]
) -> tuple[PsfModel, PsfModel, bool]:
    """(PSF for the background, matched filter and fits; PSF for the cosmic-ray spike test; whether the PSF
    was measured for the former) with the core measured on the band's bright isolated sources
    (:func:`_measure_psf`) where it differs from ``psf``'s.

    Where a limb is seen in the image the model's core stays for both unless
    ``detect.psf_filter_where_limb_seen`` (then, as elsewhere, the filter needs two sources or one of fitted
    S/N ≥ :data:`SINGLE_SOURCE_SNR`); where none is seen one of S/N ≥ ``detect.psf_one_source_snr``
    suffices. With ``detect.psf_spike_one_source_snr`` the spike test takes the measured core wherever it
    is measured (one source of that S/N sufficing).
    """
    one = cfg.psf_one_source_snr
    single = SINGLE_SOURCE_SNR if one is None or limb.circle is not None else min(one, SINGLE_SOURCE_SNR)
    spike_one = cfg.psf_spike_one_source_snr
    if limb.circle is not None and spike_one is None and not cfg.psf_filter_where_limb_seen:
        # where a limb is seen neither the filter nor the spike test would take the measurement: it is
        # not made (the same PSFs and messages as measuring it)
        return psf, psf, False
    lowest = single if spike_one is None else min(single, spike_one)
    est = _measure_psf(data, sat_mask, limb, lowest)
    spike_psf = psf
    if est is not None and spike_one is not None and (est.n_sources >= 2 or est.max_snr >= spike_one):
        spike_elong = cfg.psf_elongation and not est.from_one_faint_source
        if est.differs_from(psf, elongation=spike_elong):
            spike_psf = est.applied_to(psf, elongation=spike_elong)
    filter_takes = est is not None and (est.n_sources >= 2 or est.max_snr >= single)
    if est is not None and not (filter_takes and (cfg.psf_filter_where_limb_seen or limb.circle is None)):
        if spike_psf is not psf:
            messages.append(
                f"band {band}: PSF measured on 1 source (S/N {est.max_snr:.0f}): core σ "
                f"{spike_psf.core_sigma_px:.2f} px used by the cosmic-ray spike test only"
            )
        return psf, spike_psf, False
    elong = cfg.psf_elongation and not (est is not None and est.from_one_faint_source)
    if est is not None and est.differs_from(psf, elongation=elong):
        psf = est.applied_to(psf, elongation=elong)
        messages.append(
            f"band {band}: PSF measured on {est.n_sources} sources: σ {est.sigma_sample_px:.2f} × "
            f"{est.sigma_line_px:.2f} px (sample × line); core σ {psf.core_sigma_px:.2f} px, elongation "
            f"{psf.elongation:.2f} used"
        )
        spike_psf = psf
    return psf, spike_psf, est is not None


def _geometry_lit(limb: Limb, psf: PsfModel, cfg: DetectConfig) -> bool:
    """With ``detect.geometry_lit_model_core``: the geometry's limb stands, the PSF is narrow and the
    geometry's sunlit disk holds at least :data:`ioscan.detect.shading.MIN_SUNLIT_PIXELS` pixels (the shading
    template's own floor)."""
    if not (cfg.geometry_lit_model_core and limb.from_geometry and limb.backplanes is not None):
        return False
    if psf.core_sigma_px >= BROAD_PSF_SIGMA_PX:
        return False
    return int(np.count_nonzero(sunlit_mask(limb.backplanes))) >= MIN_SUNLIT_PIXELS


def _subtract_disk_model(
    data: np.ndarray, limb: Limb, sat_mask, psf: PsfModel, cfg: DetectConfig, band: str, messages: list[str]
) -> tuple[np.ndarray, Limb, DiskModelFit | None]:
    """With ``detect.disk_model`` and a sharp limb seen in the image: (the data less the disk's global model,
    :mod:`ioscan.detect.disk_model`; the limb the background then sees — ``"regions"``: the fitted limb's
    distance splitting sky and disk, its band unsearched; ``"band"``: the same, the band searched too;
    ``"flat"``: none; the disk's model fit). Unchanged (fit None) where the fit is not trusted."""
    from ioscan.detect.disk_model import fit_band_disk

    if cfg.disk_model == "off" or limb.circle is None or psf.core_sigma_px >= BROAD_PSF_SIGMA_PX:
        return data, limb, None
    c = limb.circle
    fit = fit_band_disk(data, c.center_sample, c.center_line, c.radius_px, psf.core_sigma_px, sat_mask)
    if fit is None:
        messages.append(f"band {band}: the disk model does not follow the limb; not used")
        return data, limb, None
    messages.append(
        f"band {band}: disk model subtracted (limb radius {fit.radius_px:.1f} px, blur σ "
        f"{fit.blur_sigma_px:.2f} px, limb χ² {fit.limb_chi2:.2f})"
    )
    distance = None if cfg.disk_model == "flat" else np.maximum(fit.limb_distance_px, -1e9)
    # the circle stays for the tests of detections at the limb (the limb profile is off where the model is)
    flat = Limb(
        distance,
        False,
        None,
        limb.margin_px,
        messages=limb.messages,
        circle=c,
        trusted=False,
        bright_beyond_px=limb.bright_beyond_px,  # a circle with the disk beyond it decides nothing off it
    )
    flat.reach = limb.reach  # the search stays where Io's disk may lie
    return (np.asarray(data, dtype=np.float64) - fit.disk).astype(np.float32), flat, fit


def _flag_background_misfits(
    out: BandDetections,
    band: BandImage,
    data: np.ndarray,
    model: BandModel,
    limb: Limb,
    psf: PsfModel,
    cfg: DetectConfig,
    offset: tuple[int, int],
    annulus_px: float | None = None,
) -> None:
    """Narrow PSFs: the background misfits flagged ARTEFACT by cause (:mod:`ioscan.detect.misfits`,
    :mod:`~ioscan.detect.edge_contrast`, :mod:`~ioscan.detect.edge_refit`), each test where its setting is on,
    in this order (a detection flagged by one is left alone by the later ones); one message per test that
    flagged any. ``offset``: the background crop's first band pixel (line, sample); ``annulus_px``: the core
    σ (px) the annuli were sized for where not ``psf``'s (``detect.psf_annuli_model_core``)."""
    sigma = psf.core_sigma_px
    if sigma >= BROAD_PSF_SIGMA_PX:
        return
    small_annulus_px = sigma if annulus_px is None else annulus_px
    dets, bg, sw, lines = out.detections, model.background, model.sigma_white, band.line_offset
    # the limb band's half-width the misfit tests read (without the pointing's widening)
    wb = (
        cfg.limb_halfwidth_px
        if cfg.limb_halfwidth_px is not None
        else base_limb_halfwidth_px(small_annulus_px)
    )
    # the ridge test reads the map beyond an elongated core's longer σ
    long_sigma = sigma * float(np.sqrt(max(psf.elongation, 1.0 / psf.elongation)))
    limb_px, zone_px = limb.distance_px, model.limb_distance_px
    tests = (
        # where the limb crosses the frame edge the edge's reflection cannot follow it
        (
            cfg.edge_limb_step and limb_px is not None,
            lambda: flag_edge_limb_steps(
                dets,
                data,
                bg,
                offset,
                lines,
                reach_px=float(annulus_sizes(small_annulus_px)[0][1]),
                limb_px=wb + 1.0,
            ),
            "where the limb crosses the frame edge, below the limb's step,",
        ),
        # the searched bright limb band: below half the step
        (
            cfg.search_limb_band and cfg.limb_band_step_test and limb_px is not None,
            lambda: flag_edge_limb_steps(dets, data, bg, offset, lines, None, wb, test_name="limb_band_step"),
            "in the limb band below half the limb's step",
        ),
        # a line in the S/N map (the terminator's foot, a limb ridge) is no point source
        (
            cfg.ridge_test,
            lambda: flag_ridges(dets, model.snr, bg, sw, offset, lines, long_sigma, cfg.ridge_max_fraction),
            "on S/N ridges",
        ),
        # a misplaced or misshapen limb profile leaves a residual that runs along the limb
        (
            cfg.along_limb_test and zone_px is not None,
            lambda: flag_along_limb(dets, data, bg, sw, zone_px, offset, lines, cfg.along_limb_max_fraction),
            "whose residual runs along the limb",
        ),
        # one crest of a residual whose amplitude changes along the limb
        (
            cfg.along_limb_clutter_test and zone_px is not None,
            lambda: flag_along_limb_clutter(
                dets, data, bg, sw, zone_px, offset, lines, cfg.along_limb_clutter_max_fraction
            ),
            "on the residual's clutter along the limb",
        ),
        # the end or shoulder of a residual's crest along the limb
        (
            cfg.along_limb_side_test and zone_px is not None,
            lambda: flag_along_limb_sides(
                dets, data, bg, sw, zone_px, offset, lines, cfg.along_limb_side_max_fraction
            ),
            "whose residual continues along the limb",
        ),
        # the edge's reflection leaves a plateau along the edge row on structured ground
        (
            cfg.edge_plateau_test,
            lambda: flag_edge_plateaus(dets, data, bg, sw, offset, lines, cfg.edge_plateau_max_fraction),
            "on a plateau along the frame edge",
        ),
        # sharp structure crossing the frame edge: the edge's reflection leaves a misfit larger than the peak
        (
            cfg.edge_contrast_test,
            lambda: flag_edge_misfits(dets, data, bg, sw, offset, lines, cfg.edge_contrast_min_fraction),
            "at the frame edge below the background misfit around them",
        ),
        # structured ground at the edge row: refitted with a background free to curve across the edge
        (
            cfg.edge_refit_test,
            lambda: flag_edge_refits(dets, data, bg, sw, offset, lines, psf, cfg.edge_refit_min_fraction),
            "at the frame edge that a one-sided refit does not confirm",
        ),
        # a limb meeting the frame edge: a bright residual far from a point source's shape
        (
            cfg.edge_chi2_test,
            lambda: flag_edge_misfit_chi2(
                dets, cfg.edge_max_chi2, annulus_sizes(small_annulus_px)[0][1], lines, data.shape
            ),
            "at the frame edge that the PSF does not fit",
        ),
    )
    with kept_band_maps():  # (the band's residual and background structure made once for all tests)
        for enabled, run, what in tests:
            if enabled:
                n = run()
                if n:
                    out.messages.append(f"band {band.band}: {n} detections {what} flagged ARTEFACT")


def detect_band(
    band: BandImage,
    backplanes: Backplanes | None = None,
    *,
    instrument: str | Instrument,
    config: DetectConfig | None = None,
    keep_model: bool = False,
    plate_scale_arcsec: float | None = None,
    onboard_background_subtraction: bool = False,
) -> BandDetections:
    """Detect the hot spots of one band image (pixel results; see :func:`ioscan.detect.detect_frame`).
    ``onboard_background_subtraction``: the product's zero is not the sky's (the noise model's levels then
    count from the darkest background)."""
    cfg = config or DetectConfig()
    inst = instrument if isinstance(instrument, Instrument) else get_instrument(instrument)
    psf = cfg.psf_for(band.band, inst.name, band.wavelength_um, plate_scale_arcsec=plate_scale_arcsec)
    sigma = psf.core_sigma_px
    data = np.asarray(band.data)
    out = BandDetections(band=band.band, status="ok")

    # 1. mask
    mask = mask_pixels(band, data, cfg)
    if mask.status is not None:
        out.status = mask.status
        out.messages.append(mask.message or "")
        return out
    sat_mask = mask.saturated
    # 2. artefact pre-cleaning: JIRAM's down-track streaks of very bright sources
    pixel_noise = None  # laplacian_noise(data), kept while ``data`` is the same array
    if inst.artefacts.column_streaks and cfg.remove_column_streaks:
        data0, pixel_noise = data, laplacian_noise(data)
        data, streak_cols = remove_column_streaks(data, pixel_noise, sat_mask)
        if data is not data0:
            pixel_noise = None
        if streak_cols.size:
            out.messages.append(
                f"band {band.band}: down-track streaks of bright sources removed in "
                f"{streak_cols.size} columns"
            )
    # 3. limb
    limb = locate_limb(band, data, backplanes, sigma, cfg, sat_mask, psf)
    out.messages.extend(limb.messages)
    if limb.status is not None:
        out.status = limb.status
        return out
    # 3b. with detect.disk_model: the sunlit disk's global model subtracted; the limb kept for the flags
    limb_seen, data_seen = limb, data
    data, limb, disk_fit = _subtract_disk_model(data, limb, sat_mask, psf, cfg, band.band, out.messages)
    disk = None if disk_fit is None else disk_fit.disk
    if disk is not None:
        cfg = replace(cfg, use_limb_profile=False)
    if disk is not None and cfg.disk_model == "band":
        cfg = replace(cfg, limb_halfwidth_px=0.0)
    # 4–6. the PSF measured on the band's bright isolated sources (when the instrument's model is off, the
    # measured core is used); background on the search region (the disk plus a margin) cropped, find, fit
    # (a single Gaussian describes a core-dominated PSF, JIRAM's; not an AO core with a halo beside it)
    core_weight = psf.weights[psf.sigmas_px.index(psf.core_sigma_px)]
    psf_measured = False  # measured on the frame (and used, or found to agree with the model)
    model_psf = psf  # the instrument's model (``psf`` becomes the measured core where that is used)
    spike_psf = psf  # the core the cosmic-ray spike test compares sources with
    model_core_px = (
        None  # the model's core σ (px) the annuli stay sized for, where a measured core replaced it
    )
    flux_psf = None  # the core measured on the frame for the fluxes alone, where detection keeps the model's
    if cfg.estimate_psf and core_weight >= MIN_CORE_WEIGHT_TO_MEASURE:
        psf, spike_psf, psf_measured = _psf_in_use(data, sat_mask, limb, psf, cfg, band.band, out.messages)
        if psf is not model_psf and limb.circle is None and _geometry_lit(limb, psf, cfg):
            # a sunlit disk placed by the geometry: the model's core detects, as where a limb is seen (the
            # background's annuli sized for it follow sunlit ground better); the measured core, the fluxes
            flux_psf, psf, spike_psf, psf_measured = psf, model_psf, model_psf, False
            out.messages[-1] = (
                f"band {band.band}: PSF measured: core σ {flux_psf.core_sigma_px:.2f} px, elongation "
                f"{flux_psf.elongation:.2f}, taken by the fluxes only on the sunlit disk (the model's "
                f"{psf.core_sigma_px:.2f} px detects)"
            )
        sigma = psf.core_sigma_px
        if cfg.psf_annuli_model_core and limb.circle is not None and psf is not model_psf:
            # the annuli and the spike test (which reads the residual of the model's annuli) keep the model's
            model_core_px, spike_psf = model_psf.core_sigma_px, model_psf
    # where a limb is seen and detection keeps the model's core: the core measured for the fluxes alone
    flux_core_path = (
        cfg.flux_psf_where_limb_seen
        and cfg.estimate_psf
        and core_weight >= MIN_CORE_WEIGHT_TO_MEASURE
        and limb.circle is not None
        and not psf_measured
    )
    if flux_core_path:
        flux_psf = measured_core(data, sat_mask, limb, psf, cfg.psf_elongation, band.band, out.messages)
    disk_snr = None
    if disk_fit is not None and cfg.disk_model_filter:
        # the S/N map: the matched filter on the data less the whole model, the model's own noise
        valid = np.isfinite(data_seen) if sat_mask is None else np.isfinite(data_seen) & ~sat_mask
        disk_snr = disk_snr_map(disk_fit, data_seen, sigma, valid)
    fp = _first_pass(
        data,
        limb,
        sat_mask,
        psf,
        cfg,
        onboard_background_subtraction,
        pixel_noise,
        psf_measured,
        model_core_px,
        disk_snr,
        cfg.disk_model_filter_px,
    )
    sl, search, sub, background_args, model, peaks = fp.sl, fp.search, fp.sub, fp.args, fp.model, fp.peaks
    if background_args.get("limb_model") is not None and limb.circle is not None:
        out.messages.append(
            f"band {band.band}: the bright limb's profile measured along {limb.circle.arc_px:.0f} px"
        )
    calibrated_spike_test = cfg.cosmic_ray_dchi2 is None
    if calibrated_spike_test:  # the spike test calibrated for the PSF in use
        cfg = replace(cfg, cosmic_ray_dchi2=spike_threshold(spike_psf, cfg.threshold_snr))
    l0, s0 = sl[0].start, sl[1].start
    out.noise_median = model.noise_median
    if keep_model:
        out.model = model
        out.offset = (l0, s0)
    if len(peaks) >= cfg.max_sources:
        out.messages.append(f"band {band.band}: detections capped at {cfg.max_sources}")
    if len(peaks) == 0:
        out.status = "no_detections"
        return out
    # 6. saturated cores placed at their centroids; cosmic-ray spike test
    fit = fp.fit
    clipped = None if sat_mask is None else sat_mask[sl]

    def place_saturated() -> int:
        return 0 if clipped is None else recentre_saturated(fit, clipped, sub, model.usable, model.noise, psf)

    tested = None  # (x, y, flux, crowded, advantage) of the sources last tested

    def spike_test() -> np.ndarray:
        # each source's advantage is its own (its position, flux and isolation): after the second pass only
        # the sources whose fit or isolation changed (the new ones, those refitted beside them) are tested
        # again, the others keep theirs (the same values)
        nonlocal tested
        resid = model.residuals[0]
        x, y, flux = fit.x.copy(), fit.y.copy(), fit.flux.copy()
        near = crowded(x, y)
        again = np.ones(len(x), bool)
        if tested is not None:
            n0 = min(len(tested[0]), len(x))
            same = [a[:n0] == b[:n0] for a, b in zip((x, y, flux, near), tested[:4], strict=True)]
            again[:n0] = ~(same[0] & same[1] & same[2] & same[3])
            # ... and those beside one that changed (the test takes its neighbours' fitted light off)
            again |= np.any((np.hypot(x[:, None] - x[again], y[:, None] - y[again]) < NEIGHBOUR_REACH_PX), 1)
        dchi = np.empty(len(x))
        kept = np.flatnonzero(~again)  # (all among the sources tested before)
        if kept.size:
            dchi[kept] = tested[4][kept]
        rows = np.flatnonzero(again)
        f = flux[rows]  # fitted with the filter's PSF; the spike PSF's own amplitude where it differs
        if spike_psf is not psf:
            f = spike_amplitudes(resid, model.noise, model.usable, x[rows], y[rows], spike_psf)
        # the other sources' fitted light taken off; at the frame's edge the amplitude fitted on the pixels
        # tested (find.spike_dchi2)
        nb = SpikeNeighbours(x, y, flux, fit.chi2_dof, psf, cfg.psf_model_error, rows)
        r, (nl, ns) = fit_radius_px(psf), data.shape
        xb, yb = x[rows] + s0, y[rows] + l0
        edge = (xb < r) | (yb < r) | (xb > ns - 1 - r) | (yb > nl - 1 - r)
        args = (resid, model.noise, model.usable)
        dchi[rows] = spike_dchi2(*args, x[rows], y[rows], f, spike_psf, near[rows], nb, edge)
        # beside a source the test flags (not PSF-shaped: its fitted light does not describe it) as it is
        hit = dchi > cfg.cosmic_ray_dchi2
        if (redo := nb.beside(hit)).any():
            nb, r = replace(nb, hit=hit, self_index=rows[redo]), rows[redo]
            dchi[r] = spike_dchi2(*args, x[r], y[r], f[redo], spike_psf, near[r], nb, edge[redo])
        tested = (x, y, flux, near, dchi)
        return dchi.copy()

    def keep_source_pixels() -> None:
        # the fits again with each source's own outlier pixels feeding its background as they are (not the
        # cosmic-ray hits the spike test found: theirs stay replaced, so a hit beside a source leaves it be)
        nonlocal fit
        if cfg.keep_source_pixels and model.refit is not None:
            with np.errstate(invalid="ignore", divide="ignore"):
                bright = fit.flux / fit.flux_err >= KEEP_SOURCE_PIXELS_SNR
            fit = fit_sources(model, peaks, psf, keep=(dchi <= cfg.cosmic_ray_dchi2) & bright)
            place_saturated()

    moved = place_saturated()
    dchi = spike_test()
    # 7. second pass: subtract and search again near bright sources
    unconfirmed = np.zeros(len(peaks), bool)
    if cfg.subtract_and_search:
        again = search_again(sub, model, peaks, fit, dchi, psf, cfg, background_args, search)
        peaks, fit, unconfirmed = again.peaks, again.fit, again.unconfirmed
        if again.n_new:  # the first-pass sources were refitted with the new ones as neighbours
            out.messages.append(f"band {band.band}: {again.n_new} sources found after subtracting the others")
            moved = place_saturated()
            dchi = spike_test()
    keep_source_pixels()
    if moved:
        out.messages.append(
            f"band {band.band}: saturated sources placed at the centroids of their clipped cores"
        )
    # 8. detections and their flags
    nl, ns = data.shape
    near_px = cfg.near_limb_px if cfg.near_limb_px is not None else 2 * sigma + 1
    ctx = FlagContext(
        data=data,
        finite=mask.finite,
        saturated=sat_mask,
        background=model.background,
        noise=model.noise,
        l0=l0,
        s0=s0,
        limb_distance_px=limb_seen.distance_px,
        limb_from_geometry=limb_seen.from_geometry,
        fit_radius_px=fit_radius_px(psf),
        edge_px=max(1, int(np.ceil(2 * sigma))),
        near_limb_px=near_px,
        cosmic_ray_dchi2=cfg.cosmic_ray_dchi2,
        limb_known=off_disk_zone(limb_seen, data.shape, near_px),
    )
    # the limb profile's reach (a limb seen in the image): what a profile leaves, or an unmodelled bright limb
    ridge_zone = (-SKY_REACH_PX, ZONE_REACH_PX) if limb.circle is not None else None
    in_zone: list[bool] = []
    # with detect.cosmic_ray_dchi2_floor: each source's spike-test threshold at its own S/N (a hit's advantage
    # grows as S/N², a source's falls)
    # (calibrated only when a source's advantage lies between the floor and the single threshold: elsewhere
    # both give the same flag, and a measured PSF's calibration costs ~0.3 s)
    dchi_max = np.full(len(peaks), float(cfg.cosmic_ray_dchi2))
    floor = cfg.cosmic_ray_dchi2_floor
    between = np.zeros(len(peaks), bool)
    if calibrated_spike_test and floor is not None:
        between = (dchi > min(floor, cfg.cosmic_ray_dchi2)) & (dchi <= cfg.cosmic_ray_dchi2)
    if between.any():
        dchi_max[between] = spike_thresholds(
            spike_psf, cfg.threshold_snr, peaks.snr[between], cfg.cosmic_ray_dchi2_floor
        )
    dup = unresolved_duplicates(fit.x, fit.y, peaks.snr, sigma)  # broad PSFs only (all False for JIRAM)
    local_snr = _local_fit_snr(sub, peaks, fit, fp.local)
    # the outlier fill's error under each source (measurement's background term; kept sources have no fill)
    fill_err = (
        np.full(len(peaks), np.nan)
        if cfg.keep_source_pixels
        else fill_flux_err(model, fit.x, fit.y, psf, cfg.fill_along_limb_px)
    )
    for k in range(len(peaks)):
        if dup[k]:
            continue
        x, y = float(fit.x[k] + s0), float(fit.y[k] + l0)
        # int(np.clip(np.rint(·), 0, n − 1)) without np.clip on scalars (the same value; NaN raises)
        li, lj = int(min(max(np.rint(y), 0.0), nl - 1)), int(min(max(np.rint(x), 0.0), ns - 1))
        flags, d_here = source_flags(
            ctx,
            li,
            lj,
            int(peaks.line[k]),
            int(peaks.sample[k]),
            float(peaks.snr[k]),
            float(dchi[k]),
            bool(peaks.blended[k]),
            bool(unconfirmed[k]),
            float(dchi_max[k]),
        )
        pk = data_seen[max(li - 1, 0) : li + 2, max(lj - 1, 0) : lj + 2]
        peak_vals = pk[np.isfinite(pk)]
        snr = float(fit.flux[k] / fit.flux_err[k]) if fit.flux_err[k] > 0 else float(peaks.snr[k])
        bl, bs = min(max(li - l0, 0), sub.shape[0] - 1), min(max(lj - s0, 0), sub.shape[1] - 1)
        in_zone.append(
            ridge_zone is not None and d_here is not None and ridge_zone[0] <= d_here <= ridge_zone[1]
        )
        out.detections.append(
            Detection(
                band=band.band,
                sample=x,
                line=y + band.line_offset,
                sample_err_px=float(fit.x_err[k]),
                line_err_px=float(fit.y_err[k]),
                snr=snr,
                net_radiance_sum=float(fit.flux[k]),
                net_radiance_sum_err=float(fit.flux_err[k]),
                unit=band.unit,
                background=float(model.background[bl, bs]) + (0.0 if disk is None else float(disk[li, lj])),
                peak=float(peak_vals.max()) if peak_vals.size else float("nan"),
                n_pixels=int(fit.n_pixels[k]),
                flags=flags,
                wavelength_um=band.wavelength_um,
                extra={
                    "mf_snr": float(peaks.snr[k]),
                    "chi2_dof": float(fit.chi2_dof[k]),
                    "fill_flux_err": float(fill_err[k]),
                    "spike_dchi2": float(dchi[k]),
                    "fit_converged": bool(fit.converged[k]),
                    "limb_distance_px": d_here,
                    "psf_core_sigma_px": sigma,
                    "near_limb_px": ctx.near_limb_px,
                    "line_offset": band.line_offset,
                    "local_fit_snr": float(local_snr[k]),
                },
            )
        )
    if (
        sat_mask is not None
    ):  # the radius of each saturated detection's clipped core (its ring counts from it)
        for core in clipped_cores(sat_mask):
            near = [d for d in out.detections if d.flags & DetectionFlag.SATURATED]
            if near:
                d = min(near, key=lambda e: np.hypot(e.sample - core.x, e.line - band.line_offset - core.y))
                if np.hypot(d.sample - core.x, d.line - band.line_offset - core.y) <= core.radius_px + 3.0:
                    d.extra["clipped_core_radius_px"] = core.radius_px
    n_art = flag_bright_source_artefacts(
        out.detections,
        sigma,
        column_streaks=inst.artefacts.column_streaks,
        ring_radius_px=inst.artefacts.ring_radius_px,
        rings=not cfg.subtract_and_search,
    )
    if n_art:
        out.messages.append(f"band {band.band}: {n_art} detections near bright sources flagged ARTEFACT")
    if cfg.limb_ridge_chi2 is not None:
        # a detection the local fit across the limb confirms is no limb residual (left to the other tests)
        confirmed = [d.extra["local_fit_snr"] >= _ridge_confirm_snr(cfg) for d in out.detections]
        ridge_zone_dets = [z and not c for z, c in zip(in_zone, confirmed, strict=True)]
        gains = None
        gain_tests = (cfg.limb_ridge_min_psf_gain, cfg.limb_ridge_shape_max_gain)
        if any(g is not None for g in gain_tests) and model.limb_distance_px is not None:
            gains = limb_ridge_psf_gains(
                out.detections, data, model.background, model.sigma_white, model.limb_distance_px,
                (l0, s0), band.line_offset, sigma, ridge_zone_dets,
            )  # fmt: skip
        n_ridge = flag_limb_ridges(out.detections, ridge_zone_dets, cfg.limb_ridge_chi2, gains, *gain_tests)
        if n_ridge:
            out.messages.append(
                f"band {band.band}: {n_ridge} detections at the limb that the PSF does not fit flagged "
                "ARTEFACT"
            )
    _flag_background_misfits(out, band, data, model, limb, psf, cfg, (l0, s0), model_core_px)
    if cfg.limb_zone_min_fit_snr is not None:
        # within a limb profile's reach, a peak the PSF fit finds little flux for is the limb's residual
        zone_dets = [d for d, z in zip(out.detections, in_zone, strict=True) if z]
        n_weak = flag_unconfirmed(zone_dets, cfg.limb_zone_min_fit_snr)
        if n_weak:
            out.messages.append(
                f"band {band.band}: {n_weak} detections at the limb with PSF-fit S/N < "
                f"{cfg.limb_zone_min_fit_snr:g} flagged ARTEFACT"
            )
    if cfg.local_fit_min_snr is not None:
        n_local = flag_local_fit_unconfirmed(out.detections, cfg.local_fit_min_snr)
        if n_local:
            out.messages.append(
                f"band {band.band}: {n_local} detections with calibrated local-fit S/N < "
                f"{cfg.local_fit_min_snr:g} flagged ARTEFACT"
            )
    if cfg.edge_min_fit_fraction is not None:
        n_edge = flag_edge_unconfirmed(out.detections, cfg.edge_min_fit_fraction)
        if n_edge:
            out.messages.append(f"band {band.band}: {n_edge} edge detections the PSF fit does not confirm")
    n_unc = flag_unconfirmed(out.detections)
    if n_unc:
        out.messages.append(
            f"band {band.band}: {n_unc} detections the PSF fit does not confirm (S/N < {MIN_FIT_SNR:g}) "
            "flagged ARTEFACT"
        )
    n_split = flag_unresolved_splits(out.detections, sigma)  # after the other tests: the brighter one stands
    if n_split:
        out.messages.append(
            f"band {band.band}: {n_split} detections within 2 core σ of a brighter one flagged"
        )
    if flux_core_path and flux_psf is None and out.detections:  # no single source measured it: stacked
        flux_psf = stacked_core(
            data, sat_mask, limb, psf, out.detections, band.line_offset, band.band, out.messages
        )
    if flux_psf is not None and out.detections and cfg.spike_measured_core and calibrated_spike_test:
        n_hit = _spike_test_measured_core(out.detections, np.flatnonzero(~dup), model, fit, flux_psf, cfg)
        if n_hit:
            out.messages.append(
                f"band {band.band}: {n_hit} detections flagged COSMIC_RAY by the spike test with the "
                f"measured core (σ {flux_psf.core_sigma_px:.2f} px)"
            )
    # the halo's weight, where the frame's core is not the model's (its PSF is another's): a frame whose core
    # agrees with the model keeps the model's halo unweighed (our simulator's frames: ~2 ms per frame)
    core_differs = flux_psf is not None or psf is not model_psf
    if cfg.estimate_psf and core_differs and core_weight >= MIN_CORE_WEIGHT_TO_MEASURE and out.detections:
        base = psf if flux_psf is None else flux_psf
        args = (data, sat_mask, limb, base, out.detections, band.line_offset, band.band, out.messages)
        flux_psf = measured_halo(*args) or flux_psf
    if flux_psf is not None and out.detections:
        ratio = shape_ratios(model, fit.x, fit.y, model.choice[peaks.line, peaks.sample], psf, flux_psf)
        n_flux = apply_shape_ratios(out.detections, np.flatnonzero(~dup), ratio, flux_psf)
        if n_flux:
            out.messages.append(f"band {band.band}: {n_flux} fluxes taken with the measured core")
    if cfg.drop_cosmic_rays:
        n0 = len(out.detections)
        out.detections = [d for d in out.detections if not d.flags & DetectionFlag.COSMIC_RAY]
        if n0 > len(out.detections):
            out.messages.append(f"band {band.band}: {n0 - len(out.detections)} cosmic-ray hits dropped")
    if not out.detections:
        out.status = "no_detections"
    return out
