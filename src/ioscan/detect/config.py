"""Detection settings and per-instrument PSF defaults."""

from __future__ import annotations

from dataclasses import dataclass

from ioscan.detect.psf import PsfModel

#: JIRAM imager PSF: Gaussian core σ 0.6 px (96 %) + wings σ 2.5 px (4 %), the project's JIRAM PSF model
#: (same numbers as :func:`ioscan.simulate.psf.jiram_psf`; a model, not a calibration).
JIRAM_PSF = PsfModel((0.96, 0.04), (0.6, 2.5))
#: AO default: diffraction core (σ = 0.42 λ/D, weight = Strehl) + seeing halo of this FWHM (arcsec).
AO_DEFAULT_STREHL = 0.5
AO_HALO_FWHM_ARCSEC = 0.35
#: Gaussian σ of an FWHM = 1.03 λ/D diffraction core, as a fraction of FWHM.
FWHM_TO_SIGMA = 1.0 / 2.3548200450309493


def default_psf(instrument: str, wavelength_um: float) -> PsfModel:
    """PSF model for an instrument and wavelength.

    JIRAM: :data:`JIRAM_PSF`. NIRC2 (narrow camera): core σ = 0.42 λ/D with weight
    :data:`AO_DEFAULT_STREHL` plus a seeing halo of FWHM :data:`AO_HALO_FWHM_ARCSEC` — supply the night's
    PSF (from a calibrator) through :class:`DetectConfig` for real photometry.
    """
    inst = (instrument or "").upper()
    if inst == "NIRC2":
        from ioscan.instruments import nirc2

        scale = nirc2.PLATE_SCALE_ARCSEC
        core = 0.42 * wavelength_um * 1e-6 / nirc2.KECK_APERTURE_M * 206264.80624709636 / scale
        halo = AO_HALO_FWHM_ARCSEC * FWHM_TO_SIGMA / scale
        return PsfModel((AO_DEFAULT_STREHL, 1 - AO_DEFAULT_STREHL), (core, halo))
    return JIRAM_PSF


@dataclass
class DetectConfig:
    """Settings of :func:`ioscan.detect.detect_frame`.

    Attributes:
        psf: PSF model (:class:`~ioscan.detect.psf.PsfModel`) or Gaussian σ in pixels, for every band or
            as a dict band → model/σ; None for the instrument default (:func:`default_psf`).
        threshold_snr: detection threshold on the calibrated matched-filter S/N (see
            :mod:`ioscan.detect.background`); benchmarks/bench_detect.py needs 4.51 for ≤ 0.05 false
            detections per JIRAM I1 frame (day and night, near and far pooled; the ideal matched filter
            needs 4.51), so 4.5 is at that rate.
        limb_halfwidth_px: half-width of the (bright) limb band left out of the search and fits (None:
            1.5 σ + 0.5 px, plus the excess of ``pointing_error_px`` over 0.5 px when the limb comes from the
            geometry).
        local_window_px: block size of the local scale of the matched-filter output (averaged over 3 × 3
            blocks; None: max(8, 4 σ_core) px).
        saturation_margin: fraction below saturation at which a pixel counts as saturated (5 %).
        saturated_frame_fraction: valid-pixel fraction at saturation that makes a band "saturated".
        near_limb_px: |limb distance| below which a detection is flagged NEAR_LIMB (None: 2 σ + 1).
        search_margin_px: with a disk known, search only pixels within this distance outside the limb
            (None: 3 σ + pointing_error_px); hot spots are on Io.
        pointing_error_px: 1-σ pointing error of the geometry, pixels: added to centroid errors for positions
            and to the width of the limb band (1.0 by default; the pipeline passes its navigation's).
        flagged_centroid_sys_px: 1-σ systematic centroid error of NEAR_LIMB and BLENDED detections, pixels,
            or half the PSF core σ if larger (limb background, PSF truncation, neighbours; foreshortening
            magnifies it on the surface).
        saturated_centroid_sys_px: 1-σ systematic centroid error of SATURATED detections, pixels (a centroid
            fitted to the wings of a clipped core, often of an extended source at close range).
        cosmic_ray_dchi2: χ² advantage of a 1–2-pixel spike over the PSF above which a source is flagged
            COSMIC_RAY (a likelihood-ratio test: faint sources cannot reach it).
        drop_cosmic_rays: remove COSMIC_RAY-flagged sources from the list instead of keeping them flagged.
        deblend_saddle_snr: two maxima are distinct sources when the matched-filter S/N dips by at least
            this much (or 10 % of the fainter peak) between them.
        match_radius_km: two-band pairs: largest surface distance between the two detections, km.
        match_radius_px: two-band pairs without geometry: largest pixel offset.
        max_sources: cap on detections per band (brightest kept; a message says so).
        use_shading: with geometry and a narrow PSF (JIRAM), divide the sunlit disk by its expected Minnaert
            shading (k fitted per band, :mod:`ioscan.detect.shading`) before the local background, so the
            steep bright limb is followed (not for broad AO PSFs, where it raised the false rate).
        remove_column_streaks: JIRAM: subtract the down-track streaks of very bright sources, found in the
            data (:mod:`ioscan.detect.columns`), before the background.
        textured_ground_option: on a sunlit disk (shading in use), also offer per pixel a quartic background
            over the small annulus (:func:`ioscan.detect.background.filter_options`). In the benchmark it
            raised completeness at SNR ≥ 10 on the texture-limited far day side from 0.14 to 0.24, but its
            false detections there (0.06 → 0.12 per frame) raised the pooled threshold from 4.51 to 4.63 and
            cost night-side completeness (far, SNR 7–10: 0.96 → 0.94); off by default.
        subtract_and_search: after the first pass, subtract its sources with the full PSF and search again
            near the bright ones (:mod:`ioscan.detect.second_pass`): faint neighbours a few pixels from bright
            hot spots.
        psf_model_error: relative error f of the PSF model assumed by the second pass: its S/N is divided by
            √(1 + (f · S/N of the subtracted model)²): PSF mismatch around a bright source makes no sources.
    """

    psf: PsfModel | float | dict[str, PsfModel | float] | None = None
    threshold_snr: float = 4.5
    limb_halfwidth_px: float | None = None
    local_window_px: int | None = None
    saturation_margin: float = 0.05
    saturated_frame_fraction: float = 0.5
    near_limb_px: float | None = None
    search_margin_px: float | None = None
    pointing_error_px: float = 1.0
    flagged_centroid_sys_px: float = 0.3
    saturated_centroid_sys_px: float = 1.0
    cosmic_ray_dchi2: float = 25.0
    drop_cosmic_rays: bool = False
    deblend_saddle_snr: float = 1.5
    match_radius_km: float = 150.0
    match_radius_px: float = 3.0
    max_sources: int = 500
    use_shading: bool = True
    remove_column_streaks: bool = True
    textured_ground_option: bool = False
    subtract_and_search: bool = True
    psf_model_error: float = 0.1

    def psf_for(self, band: str, instrument: str, wavelength_um: float) -> PsfModel:
        """PSF model for one band."""
        p = self.psf.get(band) if isinstance(self.psf, dict) else self.psf
        if isinstance(p, PsfModel):
            return p
        if isinstance(p, (int, float)):
            return PsfModel.gaussian(float(p))
        return default_psf(instrument, wavelength_um)
