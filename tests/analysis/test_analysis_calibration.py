"""Simulated censuses: they respect coverage and limits, and a small calibration keeps the tests' level
(the ≥ 200-population calibrations run in ``benchmarks/bench_report.py`` and in every report)."""

from __future__ import annotations

import numpy as np
import pytest

from ioscan.analysis import grids
from ioscan.analysis.calibration import calibrate_comparisons, simulate_census
from ioscan.analysis.coverage import Completeness, Exposure

REF = Completeness.from_values(np.geomspace(0.05, 50.0, 200), "test")


def _exposure():
    ex = Exposure.uniform()
    lat_c, lon_c = grids.cell_centres_deg()
    seen = ~((lon_c > 200) & (lon_c < 300))  # a 100° band of longitudes never seen
    ex.n_seen = seen.astype(int)
    ex.limit_spectral_power_gw_um = np.where(seen, np.where(lat_c > 45, 2.0, 0.2), np.nan)
    ex.completeness_n = np.where(seen, REF.by_number(ex.limit_spectral_power_gw_um), 0.0)
    ex.completeness_p = np.where(seen, REF.by_power(ex.limit_spectral_power_gw_um), 0.0)
    return ex


def test_simulated_hot_spots_are_only_where_seen_and_above_the_limit():
    ex = _exposure()
    sim = simulate_census(ex, 2000, np.random.default_rng(0), reference=REF)
    assert len(sim) == 2000
    i, j = grids.cell_index(sim["lat_deg"], sim["lon_w_deg"])
    assert ex.seen[i, j].all()
    assert (sim["spectral_power_gw_um"].to_numpy() >= ex.limit_spectral_power_gw_um[i, j]).all()
    # the detected fraction north of 45° follows the exposure
    north = (sim["lat_deg"] > 46).mean()
    expect = np.sum(ex.exposure_n_km2[lat_c_rows(46)]) / ex.exposure_n_km2.sum()
    assert north == pytest.approx(expect, abs=0.03)


def lat_c_rows(lat_min):
    lat_c, _ = grids.cell_centres_deg()
    return lat_c > lat_min


def test_small_calibration_keeps_the_level_and_has_power():
    res = calibrate_comparisons(
        _exposure(),
        200,
        [("polar_vs_equatorial", "polar", "equatorial")],
        reference=REF,
        n_populations=60,
        effect_ratios=(3.0,),
        n_permutations=100,
        rng=np.random.default_rng(1),
    )["polar_vs_equatorial"]
    assert res["false_positive_rate_density"] <= 0.15  # nominal 0.05; 60 populations
    assert res["false_positive_rate_power_distribution"] <= 0.15
    assert res["power_density_at_ratio"]["3"] >= 0.8
    lo, hi = res["false_positive_rate_density_ci"]
    assert lo <= res["false_positive_rate_density"] <= hi
