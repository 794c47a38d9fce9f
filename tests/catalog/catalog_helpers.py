"""Builders of realistic frame summaries and detections for the catalogue tests."""

from __future__ import annotations

import math

from ioscan.records import BandSummary, Detection, DetectionFlag, Observation


def make_detection(i: int, band: str = "M", **kw) -> Detection:
    base = dict(
        band=band,
        sample=10.25 + i,
        line=140.5 + i,
        sample_err_px=0.05,
        line_err_px=0.07,
        snr=25.0 + i,
        net_radiance_sum=0.125 * (i + 1),
        net_radiance_sum_err=0.01,
        unit="W m-2 sr-1",
        background=1e-4,
        peak=0.05,
        n_pixels=9 + i,
        flags=int(DetectionFlag.SATURATED | DetectionFlag.NEAR_LIMB) if i % 2 else 0,
        wavelength_um=4.78,
        lat_deg=-12.5 + i,
        lon_w_deg=(308.4 + 20 * i) % 360,
        lat_err_deg=0.3,
        lon_err_deg=0.4,
        position_err_km=10.0,
        emission_deg=35.0,
        incidence_deg=95.0,
        phase_deg=60.0,
        range_km=80000.0,
        pixel_scale_km=19.0,
        spectral_radiance_sum_w_m2_sr_um=0.25,
        spectral_intensity_gw_um_sr=3.0 + i,
        spectral_intensity_err_gw_um_sr=0.2,
        spectral_power_gw_um=math.pi * (3.0 + i),
        spectral_power_err_gw_um=math.pi * 0.2,
        spectral_intensity_sys_err_gw_um_sr=0.1 * (3.0 + i),
        extra={"aperture_px": 3, "note": "test"},
    )
    base.update(kw)
    return Detection(**base)


def summary(n: int, **kw) -> Observation:
    out = dict(
        product_id=f"JIR_IMG_RDR_2022063T0834{n:02d}_V01",
        instrument="JIRAM",
        observer="Juno",
        mode="I2",
        orbit=41,
        time_utc=f"2022-063T08:34:{n:02d}.500",
        exposure_s=0.00125,
        file_path=f"/data/JIR_{n}.IMG",
        checksum_sha256=f"{n:064x}",
        sub_observer_lat_deg=5.0,
        sub_observer_lon_w_deg=300.0,
        range_km=80000.0,
        pixel_scale_km=19.0,
        phase_deg=60.0,
        geometry_source="spice",
        status="ok",
    )
    out.update(kw)
    return Observation(**out)


BANDS = [
    BandSummary(
        band="M", wavelength_um=4.78, bandwidth_um=0.4975, unit="W m-2 sr-1", saturation=0.9, noise=1e-4
    )
]
