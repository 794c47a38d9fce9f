"""Hot-spot colour temperatures from two bands seen in different frames close in time.

Truth: astropy's Planck law integrated over each filter's band limits (the instrument registry's boxcar), not
ioscan's radiometry.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from astropy import units as u
from astropy.modeling.physical_models import BlackBody
from scipy import constants

from ioscan.instruments import get_instrument
from ioscan.records import DetectionFlag, TemperatureFlag
from ioscan.track.colour import hotspot_temperatures, pair_in_time, temperature_summary
from ioscan.track.config import TrackConfig

T0 = pd.Timestamp("2022-03-01T12:00:00")


def astropy_intensity_gw_um_sr(instrument: str, band: str, t_k: float, area_km2: float) -> float:
    """Band-mean spectral radiance of a blackbody (astropy) × area: GW µm⁻¹ sr⁻¹."""
    filt = get_instrument(instrument).band(band)
    bb = BlackBody(temperature=t_k * u.K, scale=1.0 * u.W / (u.m**2 * u.um * u.sr))
    x, w = np.polynomial.legendre.leggauss(64)  # exact to ~1e-12 for this smooth integrand
    half = (filt.high_um - filt.low_um) / 2
    lam = filt.low_um + half * (x + 1)
    integral = half * np.sum(w * bb(lam * u.um).value)
    return integral / (filt.high_um - filt.low_um) * area_km2 * 1e6 / 1e9


def _det(i, hs, band, minutes, value, *, rel_err=0.01, flags=0, snr=50.0, emission=30.0, inst="JIRAM"):
    return {
        "detection_id": i,
        "hotspot_id": hs,
        "time_utc": (T0 + pd.Timedelta(minutes=minutes)).isoformat(),
        "band": band,
        "instrument": inst,
        "wavelength_um": get_instrument(inst).band(band).center_um,
        "flags": flags,
        "snr": snr,
        "emission_deg": emission,
        "spectral_intensity_gw_um_sr": value,
        "spectral_intensity_err_gw_um_sr": rel_err * value,
        "spectral_intensity_sys_err_gw_um_sr": 0.1 * value,
    }


def _source(hs, t_k, area, *, i0=0, dt_min=10.0, **kw):
    il = astropy_intensity_gw_um_sr("JIRAM", "L", t_k, area)
    im = astropy_intensity_gw_um_sr("JIRAM", "M", t_k, area)
    return [_det(i0, hs, "L", 0.0, il, **kw), _det(i0 + 1, hs, "M", dt_min, im, **kw)]


def test_temperature_area_and_power_of_a_hot_spot_seen_in_two_frames():
    t_k, area = 830.0, 0.8
    det = pd.DataFrame(_source("IOS00001", t_k, area))
    (rec,) = hotspot_temperatures(det)
    assert (rec.band_short, rec.band_long, rec.instrument) == ("L", "M", "JIRAM")
    assert rec.dt_s == pytest.approx(600.0) and (rec.detection_short, rec.detection_long) == (0, 1)
    assert rec.temperature_k == pytest.approx(t_k, rel=1e-3)
    assert rec.area_km2 == pytest.approx(area, rel=5e-3)
    assert rec.total_power_gw == pytest.approx(
        constants.Stefan_Boltzmann * t_k**4 * area * 1e6 / 1e9, rel=5e-3
    )
    assert rec.usable and rec.flags == 0 and rec.message == "ok"
    # 1 % random errors and a 5 %/h allowance over 10 min; 10 % systematic per band
    assert 0 < rec.temperature_err_k < rec.temperature_sys_err_k
    assert rec.variability_err_fraction == pytest.approx(0.05 / 6)
    assert pd.Timestamp(rec.time_utc) == T0 + pd.Timedelta(minutes=5)


def test_variability_allowance_grows_with_the_time_between_the_bands():
    near = hotspot_temperatures(pd.DataFrame(_source("IOS00001", 700.0, 1.0, dt_min=2.0)))[0]
    far = hotspot_temperatures(pd.DataFrame(_source("IOS00001", 700.0, 1.0, dt_min=50.0)))[0]
    assert far.temperature_err_k > 3 * near.temperature_err_k
    assert far.temperature_sys_err_k == pytest.approx(near.temperature_sys_err_k, rel=1e-3)


def test_no_pair_beyond_the_window_or_from_flagged_faint_or_oblique_detections():
    cfg = TrackConfig()
    rows = _source("IOS00001", 700.0, 1.0, dt_min=cfg.colour_window_s / 60 + 1)  # too far apart
    rows += _source(
        "IOS00002", 700.0, 1.0, i0=10, flags=int(DetectionFlag.SATURATED | DetectionFlag.LOWER_LIMIT)
    )
    rows += _source("IOS00003", 700.0, 1.0, i0=20, snr=4.0)
    rows += _source("IOS00004", 700.0, 1.0, i0=30, emission=82.0)
    rows += _source("IOS00005", 700.0, 1.0, i0=40, flags=int(DetectionFlag.BLENDED))
    assert hotspot_temperatures(pd.DataFrame(rows), cfg) == []
    allowed = TrackConfig(colour_allowed_flags=("BLENDED",))
    assert [r.hotspot_id for r in hotspot_temperatures(pd.DataFrame(rows), allowed)] == ["IOS00005"]


def test_pairs_are_one_to_one_closest_in_time_first():
    t1 = np.array(["2022-01-01T00:00:00", "2022-01-01T00:10:00"], dtype="datetime64[s]")
    t2 = np.array(
        ["2022-01-01T00:09:00", "2022-01-01T00:30:00", "2022-01-01T00:01:00"], dtype="datetime64[s]"
    )
    assert sorted(pair_in_time(t1, t2, 3600.0)) == [(0, 2), (1, 0)]
    assert pair_in_time(t1, t2, 30.0) == []


def test_implausible_values_are_flagged_and_kept_out_of_statistics():
    rows = _source("IOS00001", 700.0, 1.0)  # plausible
    rows += _source("IOS00002", 2600.0, 0.01, i0=10)  # hotter than Io shows
    rows += _source("IOS00003", 1000.0, 3.0e5, i0=20)  # 1.7e7 GW: beyond any outburst on record
    il = astropy_intensity_gw_um_sr("JIRAM", "L", 700.0, 1.0)
    rows += [_det(30, "IOS00004", "L", 0, il), _det(31, "IOS00004", "M", 5, il * 1e-4)]  # no blackbody T
    temps = hotspot_temperatures(pd.DataFrame(rows))
    by_id = {t.hotspot_id: t for t in temps}
    assert len(temps) == 4
    assert by_id["IOS00001"].usable
    assert by_id["IOS00002"].flags == TemperatureFlag.TEMPERATURE_RANGE and not by_id["IOS00002"].usable
    assert by_id["IOS00003"].flags & TemperatureFlag.POWER_RANGE and not by_id["IOS00003"].usable
    assert by_id["IOS00004"].flags == TemperatureFlag.NO_FIT and "too blue" in by_id["IOS00004"].message
    assert by_id["IOS00004"].temperature_k is None
    df = pd.DataFrame([t.__dict__ for t in temps])
    summary = temperature_summary(df).set_index("hotspot_id")
    assert summary.loc["IOS00002", "n_temperatures"] == 1
    assert summary.loc["IOS00002", "n_temperatures_usable"] == 0
    assert np.isnan(summary.loc["IOS00002", "temperature_k"])
    assert summary.loc["IOS00001", "temperature_k"] == pytest.approx(700.0, rel=1e-3)


def test_two_ao_filters_of_one_night_give_a_temperature():
    t_k, area = 450.0, 20.0
    lp = astropy_intensity_gw_um_sr("NIRC2", "Lp", t_k, area)
    ms = astropy_intensity_gw_um_sr("NIRC2", "Ms", t_k, area)
    det = pd.DataFrame(
        [_det(0, "IOS00001", "Lp", 0, lp, inst="NIRC2"), _det(1, "IOS00001", "Ms", 3, ms, inst="NIRC2")]
    )
    (rec,) = hotspot_temperatures(det)
    assert (rec.band_short, rec.band_long) == ("Lp", "Ms")
    assert rec.temperature_k == pytest.approx(t_k, rel=2e-3)
