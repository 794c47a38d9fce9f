"""Coverage and exposure: completeness, per-cell geometry, filled coverage grids."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ioscan import body
from ioscan.analysis import grids
from ioscan.analysis.coverage import Completeness, build_exposure, cell_geometry, fill_coverage


def test_completeness_by_number_and_by_power_count_the_reference():
    ref = np.array([0.1, 0.2, 0.5, 1.0, 5.0])
    c = Completeness.from_values(ref, "test")
    lim = np.array([0.05, 0.2, 0.3, 5.0, 6.0, np.nan])
    assert list(c.by_number(lim)) == pytest.approx([1.0, 0.8, 0.6, 0.2, 0.0, 1.0])
    assert c.by_power(lim) == pytest.approx([1.0, 6.7 / 6.8, 6.5 / 6.8, 5.0 / 6.8, 0.0, 1.0])


def test_cell_geometry_matches_spherical_trigonometry_for_a_distant_observer():
    lat = np.array([0.0, 0.0, 30.0, -45.0])
    lon = np.array([60.0, 0.0, 0.0, 300.0])
    e, r = cell_geometry(0.0, 0.0, 6.7e8, lat, lon)
    # from far away, emission = angle from the sub-observer point (the ellipsoid changes it by < 0.3°)
    gamma = body.angular_separation_deg(0.0, 0.0, lat, lon)
    assert e == pytest.approx(gamma, abs=0.3)
    assert r == pytest.approx(6.7e8 + 1829.4 * (1 - np.cos(np.radians(gamma))), rel=1e-6)


def test_cell_geometry_of_a_close_observer_against_vectors():
    e, r = cell_geometry(20.0, 100.0, 2000.0, np.array([20.0, 25.0]), np.array([100.0, 100.0]))
    assert e[0] == pytest.approx(0.0, abs=1e-6) and r[0] == pytest.approx(2000.0, rel=1e-9)
    # 5° (≈160 km) away along the meridian, seen from 2000 km: tan e ≈ 160/2000 plus the surface tilt of 5°
    assert 9.0 < e[1] < 15.0


def test_fill_coverage_fills_narrow_polar_cells_and_leaves_low_latitudes_alone():
    g = np.zeros((90, 180), bool)
    g[44:46, 10:60] = True  # equatorial band
    g[44:46, 100] = True  # a single seen cell at the equator stays single
    g[88, ::6] = True  # 86–88°N row sampled every 6th cell by coarse pixel centres
    out = fill_coverage(g)
    assert out[88].all()
    assert out[44:46, 10:60].all() and not out[44:46, 61:99].any() and out[44, 100] and not out[44, 101]


def test_exposure_from_one_synthetic_observation():
    lat_c, lon_c = grids.cell_centres_deg()
    e, _ = cell_geometry(0.0, 0.0, 6.7e8, lat_c, lon_c)
    grid = e < 80
    obs = pd.DataFrame(
        {
            "id": [1],
            "sub_observer_lat_deg": [0.0],
            "sub_observer_lon_w_deg": [0.0],
            "range_km": [6.7e8],
            "pixel_scale_km": [30.0],
        }
    )
    frames = pd.DataFrame({"observation_id": [1], "band": ["Ms"], "detection_limit_gw_um_sr": [0.1]})
    comp = Completeness.from_values([0.5, 1.0, 2.0, 4.0], "test")
    ex = build_exposure(obs, frames, {1: grid}, completeness=comp)
    assert (ex.seen == fill_coverage(grid)).all()
    # limit = π I0 (r/r0)^2 / cos e: π·0.1 at the sub-observer point, rising towards the limb
    i, j = grids.cell_index(0.0, 1.0)
    assert ex.limit_spectral_power_gw_um[i, j] == pytest.approx(np.pi * 0.1, rel=1e-3)
    i2, j2 = grids.cell_index(0.0, 61.0)
    assert ex.limit_spectral_power_gw_um[i2, j2] == pytest.approx(
        np.pi * 0.1 / np.cos(np.radians(61.0)), rel=0.02
    )
    assert ex.completeness_n[i, j] == 1.0 and ex.completeness_n[i2, j2] == 0.75
    # the visible cap below 80° emission covers (1 − cos 80°)/2 of the sphere
    frac = np.sum(ex.area_km2 * ex.seen) / ex.area_km2.sum()
    assert frac == pytest.approx((1 - np.cos(np.radians(80.0))) / 2, abs=0.01)
