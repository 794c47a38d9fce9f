"""Spectral radiance, intensity and power of a detection (docs/architecture.md, the published JIRAM formula).

With L the spectral radiance (:meth:`ioscan.records.BandImage.spectral_radiance_w_m2_sr_um`), s the pixel
scale (range × IFOV, km) and e the emission angle,

    spectral intensity I = Σ L · (s·1e3 m)² / cos e / 1e9   [GW µm⁻¹ sr⁻¹]
    spectral power     P = π · I                              [GW µm⁻¹]

i.e. Σ L_band / bandwidth × π × (range × IFOV)² / cos(e) / 1e9 for JIRAM band radiance. Errors: random
and systematic (correlated: calibration, PSF model) apart (:mod:`ioscan.measure.errors`).
"""

from __future__ import annotations

import math

import numpy as np

from ioscan.instruments import PhotometryPrior
from ioscan.measure.config import MeasureConfig
from ioscan.measure.errors import (
    band_noise,
    error_terms,
    radiance_per_electron,
    random_flux_err,
    saturated_lower_limit,
    source_stamp_sums,
)
from ioscan.records import BandImage, Detection, DetectionFlag

#: the flags set_intensities reads, as plain ints (an IntFlag's & goes through the enum machinery)
_SATURATED, _OFF_DISK = int(DetectionFlag.SATURATED), int(DetectionFlag.OFF_DISK)


def spectral_factor(band: BandImage) -> float:
    """Factor turning this band's pixel unit into spectral radiance (W m⁻² sr⁻¹ µm⁻¹), BandImage rule."""
    one = BandImage(band.band, np.ones((1, 1), np.float64), band.unit, band.wavelength_um, band.bandwidth_um)
    return float(one.spectral_radiance_w_m2_sr_um()[0, 0])


def spectral_intensity_gw_um_sr(spectral_radiance_sum_w_m2_sr_um, pixel_scale_km, emission_deg):
    """Σ L_spec · (pixel scale · 1e3)² / cos e / 1e9: foreshortening-corrected intensity, GW µm⁻¹ sr⁻¹."""
    cos_e = np.cos(np.radians(emission_deg))
    return (
        np.asarray(spectral_radiance_sum_w_m2_sr_um) * (np.asarray(pixel_scale_km) * 1e3) ** 2 / cos_e / 1e9
    )


def set_intensities(
    dets: list[Detection], band: BandImage, prior: PhotometryPrior, cfg: MeasureConfig | None = None
) -> None:
    """Spectral radiance sums (as observed) on every detection, and foreshortening-corrected spectral
    intensity and power on those with a surface position on the disk seen at emission < 90°, with their
    random and systematic errors (:mod:`ioscan.measure.errors`; ``prior`` already merged with the settings).
    None (and the reason in ``extra["no_intensity"]``) for a centroid off the disk, one whose geometric
    factor's error cannot be propagated (``extra["geometry_err_fraction"]`` not finite: the backplanes'
    derivatives are undefined at the limb pixel, where that error read 0 and such intensities were off by
    tens to hundreds of their σ on the independent renderer) or a position too uncertain for the
    foreshortening correction (``cfg.max_geometry_err_fraction``).

    A SATURATED detection is flagged LOWER_LIMIT: its intensity is :func:`~ioscan.measure.errors.
    saturated_lower_limit` (the detector's wing-fit estimate stays in ``net_radiance_sum`` and in
    ``extra["wing_fit_intensity_gw_um_sr"]``), with no error.
    """
    cfg = cfg or MeasureConfig()
    sfac = spectral_factor(band)
    noise = band_noise(dets, radiance_per_electron(band.saturation, prior.full_well_e))
    noise_summary = {
        "map_scale2": float(f"{noise.map_scale2:.4g}"),
        "n_sources": noise.n_sources,
        "radiance_per_electron": None
        if noise.radiance_per_electron is None
        else float(f"{noise.radiance_per_electron:.4g}"),
    }
    # the PSF stamps' sums of all the band's detections at once (the error terms' photometric factors)
    for det, sums in zip(dets, source_stamp_sums(dets), strict=True):
        det.spectral_radiance_sum_w_m2_sr_um = float(det.net_radiance_sum * sfac)  # observed: not ÷ cos e
        terms = error_terms(det, prior, cfg, noise, sums)
        det.extra["intensity_err_fraction"] = terms.as_dict()
        det.extra["band_noise"] = dict(noise_summary)
        saturated = bool(det.flags & _SATURATED)
        if saturated:
            det.flags |= int(DetectionFlag.LOWER_LIMIT)
        if det.emission_deg is None or det.pixel_scale_km is None:
            continue
        factor = det.extra.get("geometry_factor_km2")
        sampled = factor is not None and math.isfinite(factor)  # the pointing error propagated by its draws
        if not sampled and not (math.isfinite(det.emission_deg) and det.emission_deg < 90.0):
            continue
        if det.flags & _OFF_DISK:
            det.extra["no_intensity"] = "centroid off the disk: the emission angle at the source is not known"
            continue
        geo_frac = det.extra.get("geometry_err_fraction")
        if geo_frac is not None and not math.isfinite(geo_frac):
            det.extra["no_intensity"] = (
                "centroid at the limb: (pixel scale)²/cos e has no derivative there to propagate its error"
            )
            continue
        if not terms.geometry <= cfg.max_geometry_err_fraction:
            det.extra["no_intensity"] = (
                f"position too uncertain: (pixel scale)²/cos e known to {terms.geometry:.0%} only "
                f"(> {cfg.max_geometry_err_fraction:.0%})"
            )
            continue

        def to_intensity(
            flux: float, d: Detection = det, f: float | None = factor if sampled else None
        ) -> float:
            if f is not None:  # the draws' median (pixel scale)²/cos e, km²
                return float(flux * sfac * f * 1e6 / 1e9)
            return float(spectral_intensity_gw_um_sr(flux * sfac, d.pixel_scale_km, d.emission_deg))

        if saturated:
            core = float(det.extra.get("psf_core_sigma_px", 1.0))
            limit = saturated_lower_limit(det, band, core, cfg.saturated_aperture_px)
            det.extra["wing_fit_intensity_gw_um_sr"] = to_intensity(det.net_radiance_sum)
            inten, err, sys_err = to_intensity(limit), None, None
        else:
            inten = to_intensity(det.net_radiance_sum)
            err = to_intensity(random_flux_err(det, terms, cfg, noise, sums))
            sys_err = abs(inten) * terms.systematic
        det.spectral_intensity_gw_um_sr, det.spectral_intensity_err_gw_um_sr = inten, err
        det.spectral_intensity_sys_err_gw_um_sr = sys_err
        det.spectral_power_gw_um = np.pi * inten
        det.spectral_power_err_gw_um = None if err is None else np.pi * err
        det.spectral_power_sys_err_gw_um = None if sys_err is None else np.pi * sys_err
