"""Keck NIRC2 (narrow camera) facts for ground-based adaptive-optics Io frames (docs/architecture.md) and
its registry entry.

Filter centres and widths are NIRC2's published values (Keck NIRC2 filter page); plate scale 9.942 mas/px.
Default PSF: diffraction core σ = 0.42 λ/D with weight :data:`DEFAULT_STREHL` plus a seeing halo of FWHM
:data:`HALO_FWHM_ARCSEC` — supply the night's PSF (from a calibrator) through the detection settings for real
photometry.
"""

from __future__ import annotations

from dataclasses import dataclass

from ioscan.instruments.base import (
    FWHM_TO_SIGMA,
    ArtefactModel,
    Band,
    Instrument,
    PhotometryPrior,
    PointingPrior,
    diffraction_core_sigma_px,
)
from ioscan.instruments.psf import GaussianMixture

PLATE_SCALE_ARCSEC = 0.009942
DETECTOR_PIXELS = 1024
KECK_APERTURE_M = 10.0
#: AO default PSF: Strehl ratio (the core's weight) and the seeing halo's FWHM, arcsec
DEFAULT_STREHL = 0.5
HALO_FWHM_ARCSEC = 0.35
#: photometry beyond photon noise (ioscan.measure.errors). Calibration: an assumed 15 % (1σ; standard-star
#: calibration through a variable atmosphere, no published value shipped with ioscan). PSF model: the night's
#: Strehl ratio sets how much flux the core holds; the simulator's Strehl-0.4 frames fitted with the default
#: Strehl-0.5 model give fluxes 15–22 % high (bench_pulls' campaign frames), so ~20 % until the night's PSF is
#: supplied. Flat field: an assumed 0.5 % rms pixel to pixel, no column structure (no NIRC2 flat-field
#: accuracy is shipped; ioscan's AO simulator draws the same); the diffraction core spans several pixels, so a
#: source's flux averages it to < 0.1 %.
PHOTOMETRY = PhotometryPrior(
    calibration_err_fraction=0.15,
    psf_model_err_fraction=0.20,
    flat_field_err_fraction=0.005,
    source="calibration assumed (15 %); PSF-model scale measured on the simulator's Strehl-0.4 frames "
    "(20 %); flat field assumed (0.5 % pixel)",
)
#: header disk centres are typically good to a couple of pixels (1σ), never worse than 10
LABEL_POINTING_ERR_PX = 2.0
LABEL_POINTING_MAX_PX = 10.0

FILTERS: dict[str, Band] = {
    f.name: f
    for f in (
        Band.from_center_width("Kc", 2.271, 0.030),
        Band.from_center_width("H2O", 3.063, 0.155),
        Band.from_center_width("PAH", 3.290, 0.056),
        Band.from_center_width("Lp", 3.776, 0.700),
        Band.from_center_width("BrA_cont", 3.987, 0.053),
        Band.from_center_width("BrA", 4.052, 0.060),
        Band.from_center_width("Ms", 4.670, 0.241),
    )
}


@dataclass(frozen=True)
class Nirc2(Instrument):
    """Keck NIRC2 narrow camera behind adaptive optics."""

    def psf(self, wavelength_um: float, *, plate_scale_arcsec: float | None = None) -> GaussianMixture:
        scale = plate_scale_arcsec or PLATE_SCALE_ARCSEC
        core = diffraction_core_sigma_px(wavelength_um, KECK_APERTURE_M, scale)
        halo = HALO_FWHM_ARCSEC * FWHM_TO_SIGMA / scale
        return GaussianMixture((DEFAULT_STREHL, 1 - DEFAULT_STREHL), (core, halo))

    def limb_psf_sigma_px(self, wavelength_um: float, *, plate_scale_arcsec: float | None = None) -> float:
        return diffraction_core_sigma_px(
            wavelength_um, KECK_APERTURE_M, plate_scale_arcsec or PLATE_SCALE_ARCSEC
        )


NIRC2 = Nirc2(
    name="NIRC2",
    aliases=("NIRC2", "NIRC-2", "KECK/NIRC2"),
    observer="EARTH",
    bands=FILTERS,
    artefacts=ArtefactModel(),
    pointing=PointingPrior.isotropic(LABEL_POINTING_ERR_PX, LABEL_POINTING_MAX_PX),
    photometry=PHOTOMETRY,
)
