"""``ioscan track`` derives colour temperatures per hot spot from two frames, never from one frame's two
strips, stores them (SQLite and PostgreSQL) and exports them."""

from __future__ import annotations

import pandas as pd
import pytest
from test_colour import astropy_intensity_gw_um_sr

from ioscan.catalog.export import export, table
from ioscan.records import BandSummary, Detection, Observation
from ioscan.workflows.track import track_catalog

L_BAND = BandSummary(band="L", wavelength_um=3.455, bandwidth_um=0.28, unit="W m-2 sr-1", saturation=0.9)
M_BAND = BandSummary(band="M", wavelength_um=4.78, bandwidth_um=0.4975, unit="W m-2 sr-1", saturation=0.9)


def _det(i, band, lat, lon, value):
    return Detection(
        band=band,
        sample=100.0 + 10 * i,
        line=60.0 + (128 if band == "M" else 0),
        sample_err_px=0.05,
        line_err_px=0.05,
        snr=80.0,
        net_radiance_sum=0.1,
        net_radiance_sum_err=0.001,
        unit="W m-2 sr-1",
        background=1e-4,
        peak=0.03,
        n_pixels=25,
        wavelength_um=3.455 if band == "L" else 4.78,
        lat_deg=lat,
        lon_w_deg=lon,
        lat_err_deg=0.1,
        lon_err_deg=0.1,
        position_err_km=3.0,
        emission_deg=30.0,
        spectral_intensity_gw_um_sr=value,
        spectral_intensity_err_gw_um_sr=0.01 * value,
        spectral_intensity_sys_err_gw_um_sr=0.1 * value,
    )


def summary(n: int, time_utc: str) -> Observation:
    return Observation(
        product_id=f"JIR_IMG_RDR_2022060T12000{n}_V01",
        instrument="JIRAM",
        time_utc=time_utc,
        observer="JUNO",
        mode="I1",
        checksum_sha256=f"{n:064x}",
        geometry_source="spice",
        status="ok",
    )


def test_track_pairs_two_frames_of_a_hot_spot_and_never_one_frames_strips(store, tmp_path):
    t_k, area = 640.0, 1.5
    il = astropy_intensity_gw_um_sr("JIRAM", "L", t_k, area)
    im = astropy_intensity_gw_um_sr("JIRAM", "M", t_k, area)
    # frame 1 (I1): hot spot A in the L strip, another place (B) in the M strip at the same time
    store.add_observation(
        summary(1, "2022-03-01T12:00:00"),
        [L_BAND, M_BAND],
        [_det(1, "L", 10.0, 100.0, il), _det(2, "M", -30.0, 200.0, 5 * im)],
    )
    # frame 2, 8 minutes later: A in the M strip
    store.add_observation(
        summary(2, "2022-03-01T12:08:00"), [L_BAND, M_BAND], [_det(3, "M", 10.02, 100.01, im)]
    )
    result = track_catalog(store)
    assert result.n_temperatures == 1 and result.n_temperatures_flagged == 0
    temps = store.hotspot_temperatures_frame()
    assert len(temps) == 1
    rec = temps.iloc[0]
    det = store.detections_frame().set_index("id")
    assert det.loc[rec["detection_short"], "band"] == "L" and det.loc[rec["detection_long"], "band"] == "M"
    assert (
        det.loc[rec["detection_short"], "observation_id"] != det.loc[rec["detection_long"], "observation_id"]
    )
    assert rec["temperature_k"] == pytest.approx(t_k, rel=1e-3)
    assert rec["area_km2"] == pytest.approx(area, rel=5e-3)
    assert rec["dt_s"] == pytest.approx(480.0) and bool(rec["usable"])

    spots = table(store, "hotspots").set_index("hotspot_id")
    assert spots.loc[rec["hotspot_id"], "temperature_k"] == pytest.approx(t_k, rel=1e-3)
    assert spots["n_temperatures"].sum() == 1
    n = export(store, "temperatures", "csv", tmp_path / "t.csv")
    out = pd.read_csv(tmp_path / "t.csv")
    assert n == 1 and {"temperature_err_k", "temperature_sys_err_k", "flag_names", "lat_deg"} <= set(
        out.columns
    )

    # tracking again replaces the table (no duplicates)
    track_catalog(store)
    assert len(store.hotspot_temperatures_frame()) == 1
