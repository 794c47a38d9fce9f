"""Measured intensities against the published JIRAM conversion computed by hand from the backplanes."""

from __future__ import annotations

import numpy as np
import pytest

from ioscan.detect import DetectConfig, PsfModel, detect_frame
from ioscan.geometry.label_provider import backplanes_from_label
from ioscan.instruments import jiram
from ioscan.measure import measure_frame
from ioscan.measure.intensity import spectral_factor
from ioscan.records import BandImage, Frame, LabelGeometry

PSF = PsfModel.gaussian(1.0)
CFG = DetectConfig(psf=PSF, threshold_snr=5.0)


def _frame(img: np.ndarray) -> Frame:
    band = BandImage("M", img.astype(np.float32), "W m-2 sr-1", 4.78, jiram.M_BAND.bandwidth_um)
    return Frame("T", "JIRAM", "JUNO", "2022-01-01T00:00:00", 0.1, {"M": band})


def _point_source(shape, x: float, y: float, flux: float) -> np.ndarray:
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    p, _, _ = PSF.stamps(
        xx[None, :1, :].astype(float), yy[None, :, :1].astype(float), np.array([x]), np.array([y])
    )
    return flux * p[0]


def _geometry(scale_km: float = 20.0):
    g = LabelGeometry(
        sub_observer_lat_deg=0.0,
        sub_observer_lon_w_deg=200.0,
        sub_solar_lat_deg=0.0,
        sub_solar_lon_w_deg=200.0,
        range_km=scale_km / jiram.IFOV_RAD,
        north_pa_deg=0.0,
        pixel_scale_km=scale_km,
        disk_center_sample=216.0,
        disk_center_line=200.0,
    )
    return backplanes_from_label(g, 432, 128)


def test_photometric_conversion_matches_published_formula():
    """Σ L_band / 0.4975 µm × π × (range × IFOV)² / cos e / 1e9 (Davies et al. 2024), from the backplanes."""
    rng = np.random.default_rng(4)
    bp = _geometry()
    x, y = 216.3, 118.6  # on the disk (limb near line 109 at this sample)
    flux = 0.05  # W m-2 sr-1 summed over pixels (band radiance)
    frame = _frame(_point_source(bp.shape, x, y, flux) + rng.normal(0, 1e-5, bp.shape))
    res = measure_frame(frame, detect_frame(frame, {"M": bp}, config=CFG), {"M": bp})
    d = max(res.detections, key=lambda d: d.snr)
    e = bp.value_at("emission_deg", d.sample, d.line)
    rng_km = bp.value_at("range_km", d.sample, d.line)
    hand = d.net_radiance_sum / 0.4975 * np.pi * (rng_km * 1e3 * jiram.IFOV_RAD) ** 2
    hand /= np.cos(np.radians(e)) * 1e9
    assert d.spectral_power_gw_um == pytest.approx(hand, rel=2e-3)
    assert d.spectral_intensity_gw_um_sr == pytest.approx(hand / np.pi, rel=2e-3)
    assert d.spectral_radiance_sum_w_m2_sr_um == pytest.approx(d.net_radiance_sum / 0.4975, rel=1e-6)
    assert d.net_radiance_sum == pytest.approx(flux, rel=0.02)
    assert spectral_factor(frame.bands["M"]) == pytest.approx(1 / 0.4975, rel=1e-6)


def test_without_geometry_only_the_radiance_sum_is_measured():
    rng = np.random.default_rng(5)
    frame = _frame(_point_source((128, 432), 100.2, 60.7, 0.05) + rng.normal(0, 1e-5, (128, 432)))
    res = measure_frame(frame, detect_frame(frame, config=CFG))
    d = max(res.detections, key=lambda d: d.snr)
    assert d.spectral_radiance_sum_w_m2_sr_um == pytest.approx(d.net_radiance_sum / 0.4975, rel=1e-6)
    assert d.lat_deg is None and d.spectral_intensity_gw_um_sr is None
