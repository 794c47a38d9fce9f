"""Latitude bands and region comparisons on populations with known truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ioscan.analysis import distributions as dist
from ioscan.analysis import grids
from ioscan.analysis.calibration import _density_p, simulate_census
from ioscan.analysis.coverage import Completeness, Exposure

REF = Completeness.from_values(np.geomspace(0.05, 50.0, 200), "log-uniform test luminosity function")


def _table(lat, power):
    n = len(lat)
    return pd.DataFrame(
        {
            "hotspot_id": [f"H{i}" for i in range(n)],
            "name": [None] * n,
            "lat_deg": lat,
            "lon_w_deg": np.linspace(0, 359, n),
            "power_gw": power,
            "power_err_gw": 0.1 * power,
            "spectral_power_gw_um": power / 7.0,
        }
    )


def test_latitude_bands_count_sum_and_normalise():
    lat = np.array([-75, -45, -10, 0, 10, 20, 45, 70, 80.0])
    power = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9.0])
    ex = Exposure.uniform(completeness=0.5)
    bands = dist.latitude_bands(
        _table(lat, power), ex, (-90, -60, -30, 30, 60, 90), n_bootstrap=500, rng=np.random.default_rng(0)
    )
    assert [b["n_hotspots"] for b in bands] == [1, 1, 4, 1, 2]
    assert [b["power_gw"] for b in bands] == [1, 2, 18, 7, 17]
    assert sum(b["power_fraction"] for b in bands) == pytest.approx(1.0)
    eq = bands[2]
    area = grids.band_area_km2(-30, 30)
    assert eq["raw_density_per_1e6_km2"] == pytest.approx(4 / area * 1e6)
    assert eq["density_per_1e6_km2"] == pytest.approx(
        4 / (0.5 * area) * 1e6
    )  # exposure = area × completeness
    assert eq["ci_low"] < eq["density_per_1e6_km2"] < eq["ci_high"]
    assert eq["power_ci_low_gw"] < 18 < eq["power_ci_high_gw"]
    assert eq["observed_area_fraction"] == 1.0


def test_exposure_normalisation_removes_a_coverage_bias():
    # a census that sees the polar caps only with bright limits: few polar hot spots are found there
    ex = Exposure.uniform()
    lat_c, _ = grids.cell_centres_deg()
    ex.limit_spectral_power_gw_um = np.where(np.abs(lat_c) >= 60, 5.0, np.nan)
    ex.completeness_n = REF.by_number(ex.limit_spectral_power_gw_um)
    ex.completeness_p = REF.by_power(ex.limit_spectral_power_gw_um)
    rng = np.random.default_rng(2)
    w_a, w_b = grids.region_cells("polar"), grids.region_cells("equatorial")
    e_a, e_b = float(np.sum(ex.exposure_n_km2 * w_a)), float(np.sum(ex.exposure_n_km2 * w_b))
    a_a, a_b = float(np.sum(ex.area_km2 * w_a)), float(np.sum(ex.area_km2 * w_b))
    p_norm, p_raw = [], []
    for _ in range(200):
        sim = simulate_census(ex, 250, rng, reference=REF)  # true density uniform on Io
        ia = grids.in_region("polar", sim["lat_deg"], sim["lon_w_deg"]).sum()
        ib = grids.in_region("equatorial", sim["lat_deg"], sim["lon_w_deg"]).sum()
        p_norm.append(_density_p(int(ia), int(ib), e_a, e_b))
        p_raw.append(_density_p(int(ia), int(ib), a_a, a_b))
    # without an effect the exposure-normalised test keeps its level; the area-only one sees a false deficit
    assert np.mean(np.asarray(p_norm) < 0.05) <= 0.09
    assert np.mean(np.asarray(p_raw) < 0.05) > 0.9


def test_an_injected_polar_excess_is_found_and_measured():
    ex = Exposure.uniform()
    rng = np.random.default_rng(5)
    weights = 1.0 + 2.0 * grids.region_cells("polar")  # true polar density 3× the rest
    sim = simulate_census(ex, 600, rng, reference=REF, density_weights=weights)
    sim["hotspot_id"] = [f"S{i}" for i in range(len(sim))]
    sim["name"] = None
    res = dist.compare_regions(
        sim, ex, "polar", "equatorial", err_col=None, n_permutations=200, n_bootstrap=200, rng=rng
    )
    d = res["density"]
    assert d["p_value"] < 1e-6
    assert d["ratio_ci_low"] < 3.0 < d["ratio_ci_high"]


def test_jackknife_names_the_brightest_source_and_its_share():
    lat = np.array([70.0, 75.0, 0.0, 5.0, 10.0])
    power = np.array([100.0, 1.0, 1.0, 1.0, 1.0])
    res = dist.compare_regions(
        _table(lat, power),
        Exposure.uniform(),
        "polar",
        "equatorial",
        n_permutations=50,
        n_bootstrap=100,
        rng=np.random.default_rng(0),
    )
    jk = res["power_weighted"]["jackknife_brightest"]
    assert jk[0]["id"] == "H0" and jk[0]["share_of_total"] == pytest.approx(100 / 104)
    ep = Exposure.uniform().exposure_p_km2
    e_pol = float(np.sum(ep * grids.region_cells("polar")))
    e_eq = float(np.sum(ep * grids.region_cells("equatorial")))
    assert res["power_weighted"]["ratio"] == pytest.approx((101 / e_pol) / (3 / e_eq))
    assert jk[0]["ratio_without"] == pytest.approx((1 / e_pol) / (3 / e_eq))
