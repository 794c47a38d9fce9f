"""Spectral radiance, intensity and power of a detection (docs/architecture.md, the published JIRAM formula).

With L the spectral radiance (:meth:`ioscan.records.BandImage.spectral_radiance_w_m2_sr_um`), s the pixel
scale (range × IFOV, km) and e the emission angle,

    spectral intensity I = Σ L · (s·1e3 m)² / cos e / 1e9   [GW µm⁻¹ sr⁻¹]
    spectral power     P = π · I                              [GW µm⁻¹]

i.e. Σ L_band / bandwidth × π × (range × IFOV)² / cos(e) / 1e9 for JIRAM band radiance.
"""

from __future__ import annotations

import numpy as np

from ioscan.records import BandImage, Detection


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


def set_intensities(dets: list[Detection], band: BandImage) -> None:
    """Spectral radiance sums (as observed) on every detection, and foreshortening-corrected spectral
    intensity and power (with errors) on those with a surface position seen at emission < 90°."""
    sfac = spectral_factor(band)
    for det in dets:
        det.spectral_radiance_sum_w_m2_sr_um = float(det.net_radiance_sum * sfac)  # observed: not ÷ cos e
        if det.emission_deg is None or det.pixel_scale_km is None:
            continue
        factor = det.extra.get("geometry_factor_km2")
        if factor is not None and np.isfinite(factor):
            # the pointing error propagated by its draws (measure.positions): median pixel scale² / cos e
            # and a 1σ covering its central 95 %, added to the photometric error
            inten = float(det.net_radiance_sum * sfac * factor * 1e6 / 1e9)
            phot = float(det.net_radiance_sum_err * sfac * factor * 1e6 / 1e9)
            geom = abs(inten) * float(det.extra.get("geometry_factor_err_km2", 0.0)) / factor
            err = float(np.hypot(phot, geom))
        elif np.isfinite(det.emission_deg) and det.emission_deg < 90.0:
            inten = float(
                spectral_intensity_gw_um_sr(det.net_radiance_sum * sfac, det.pixel_scale_km, det.emission_deg)
            )
            err = float(
                spectral_intensity_gw_um_sr(
                    det.net_radiance_sum_err * sfac, det.pixel_scale_km, det.emission_deg
                )
            )
        else:
            continue
        det.spectral_intensity_gw_um_sr, det.spectral_intensity_err_gw_um_sr = inten, err
        det.spectral_power_gw_um, det.spectral_power_err_gw_um = np.pi * inten, np.pi * err
