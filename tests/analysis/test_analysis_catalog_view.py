"""One power per census hot spot: the order of preference, the M-band conversion against an independent
Planck integral, lower limits for saturated-only hot spots, implausible colour temperatures ignored."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from astropy import units as u
from astropy.modeling.models import BlackBody
from scipy.integrate import quad

from ioscan.analysis.catalog_view import hotspot_powers
from ioscan.analysis.config import AnalysisConfig
from ioscan.records import DetectionFlag

SIGMA = 5.670374419e-8


def f_independent_um(t_k: float) -> float:
    """σT⁴ / (π · mean of B_λ over JIRAM M 4.5375–5.035 µm), µm, with astropy's Planck law."""
    bb = BlackBody(temperature=t_k * u.K, scale=1.0 * u.W / (u.m**2 * u.um * u.sr))
    lo, hi = 4.5375, 5.035
    mean = quad(lambda lam: bb(lam * u.um).value, lo, hi)[0] / (hi - lo)
    return SIGMA * t_k**4 / (np.pi * mean)


def _det(hid, phi, err=0.1, flags=0):
    return {"hotspot_id": hid, "spectral_power_gw_um": phi, "spectral_power_err_gw_um": err, "flags": flags}


@pytest.fixture
def hotspots():
    ids = ["A", "B", "C", "D", "E", "F"]
    return pd.DataFrame(
        {
            "hotspot_id": ids,
            "lat_deg": 0.0,
            "lon_w_deg": 10.0,
            "lat_err_deg": 0.1,
            "lon_err_deg": 0.1,
            "name": None,
            "n_detections": 2,
        }
    )


def test_power_rules_in_order_of_preference(hotspots):
    sat = int(DetectionFlag.SATURATED)
    det = pd.DataFrame(
        [
            _det("A", 2.0),
            _det("A", 4.0),  # M only: 600–1200 K bracket
            _det("B", 3.0),  # plausible colour temperature, no fitted total power
            _det("C", 3.0),  # colour-fit total power
            _det("D", 10.0, flags=sat),
            _det("D", 20.0, flags=sat),  # saturated only: a lower limit
            _det("E", 1.0),  # implausible 100 K fit: ignored
            _det("F", 1.0),  # a flagged pair (out of range): ignored
        ]
    )
    table = pd.DataFrame(
        {
            "hotspot_id": ["B", "C", "E", "F"],
            "temperature_k": [900.0, 900.0, 100.0, 900.0],
            "temperature_err_k": [30.0, 30.0, 5.0, 30.0],
            "total_power_gw": [np.nan, 50.0, 1e9, 40.0],
            "total_power_err_gw": [np.nan, 5.0, 1e8, 4.0],
            "usable": [True, True, True, False],
            "flags": [0, 0, 0, 2],
        }
    )
    cfg = AnalysisConfig()
    out = hotspot_powers(hotspots, det, cfg, hotspot_table=table).set_index("hotspot_id")
    f600, f770, f1200 = (f_independent_um(t) for t in (600.0, 770.0, 1200.0))
    f_lo, f_hi = min(f600, f770, f1200), max(f600, f770, f1200)  # f has its minimum near 770 K
    assert out.loc["A", "spectral_power_gw_um"] == pytest.approx(3.0)
    assert out.loc["A", "power_gw"] == pytest.approx(3.0 * np.sqrt(f_lo * f_hi), rel=5e-3)
    assert out.loc["A", "power_source"] == "m_band_bracket"
    assert out.loc["A", "power_err_gw"] >= 3.0 * (f_hi - f_lo) / 2 * 0.99
    assert out.loc["B", "power_gw"] == pytest.approx(3.0 * f_independent_um(900.0), rel=5e-3)
    assert out.loc["B", "power_source"] == "m_band_colour_t"
    assert out.loc["C", "power_gw"] == 50.0 and out.loc["C", "power_source"] == "hotspot_table"
    assert bool(out.loc["D", "power_lower_limit"]) and out.loc["D", "spectral_power_gw_um"] == 20.0
    assert out.loc["E", "power_source"] == "m_band_bracket" and out.loc["E", "power_gw"] < 20
    assert out.loc["F", "power_source"] == "m_band_bracket"
