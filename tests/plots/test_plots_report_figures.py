"""Report figures checked for content: west longitude increasing to the left, labels with units, colour bars
named, the right number of plotted points, polar views with the right handedness."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from ioscan.analysis import distributions as dist
from ioscan.analysis.coverage import Exposure
from ioscan.plots import distributions as pdist
from ioscan.plots import maps
from ioscan.plots.timeseries import plot_dcf, plot_hotspot_lightcurve, plot_output_series


@pytest.fixture
def hotspots():
    rng = np.random.default_rng(0)
    n = 40
    return pd.DataFrame(
        {
            "hotspot_id": [f"H{i}" for i in range(n)],
            "name": [None] * n,
            "lat_deg": rng.uniform(-85, 85, n),
            "lon_w_deg": rng.uniform(0, 360, n),
            "power_gw": np.r_[rng.lognormal(3, 1.5, n - 3), [np.nan] * 3],
            "power_err_gw": np.full(n, 1.0),
            "spectral_power_gw_um": rng.lognormal(0, 1, n),
        }
    )


def _points(ax) -> int:
    return sum(
        len(c.get_offsets()) for c in ax.collections if hasattr(c, "get_offsets") and len(c.get_offsets())
    )


def test_global_map_runs_west_longitude_to_the_left_and_plots_every_hot_spot(hotspots):
    fig = maps.plot_hotspot_map(hotspots, np.ones((90, 180), bool), None, title="test")
    ax = fig.axes[0]
    assert ax.get_xlim() == (360.0, 0.0)  # 0–360°W increasing to the left
    assert "°W" in ax.get_xlabel() and "°N" in ax.get_ylabel() and "Planetographic" in ax.get_ylabel()
    assert _points(ax) == len(hotspots)  # 37 with power + 3 without
    cbar = fig.axes[1]
    assert "(GW" in cbar.get_ylabel()
    plt.close(fig)


def test_polar_views_put_90w_on_the_left_and_0w_towards_the_viewer_side():
    x, y = maps.polar_xy(np.array([60.0, 60.0]), np.array([90.0, 0.0]), north=True)
    assert x[0] < 0 and abs(y[0]) < 1e-12 and y[1] < 0  # 90°W left, 0°W bottom
    x, y = maps.polar_xy(np.array([-60.0, -60.0]), np.array([90.0, 0.0]), north=False)
    assert x[0] < 0 and y[1] > 0  # 90°W left, 0°W top
    # clockwise west longitude seen from above the north pole (east longitude counter-clockwise)
    x, y = maps.polar_xy(np.array([60.0, 60.0]), np.array([0.0, 10.0]), north=True)
    assert x[0] * y[1] - y[0] * x[1] < 0


def test_polar_maps_count_the_hot_spots_poleward_of_the_edge(hotspots):
    fig = maps.plot_polar_maps(hotspots, None, None, title="t", edge_lat_deg=45.0)
    n_north = int((hotspots["lat_deg"] >= 45).sum())
    n_south = int((hotspots["lat_deg"] <= -45).sum())
    assert _points(fig.axes[0]) == n_north and _points(fig.axes[1]) == n_south
    assert f"{n_north} hot spots" in fig.axes[0].get_title()
    assert "(GW" in fig.axes[2].get_ylabel()
    plt.close(fig)


def test_coverage_maps_have_four_panels_with_units():
    ex = Exposure.uniform()
    ex.best_emission_deg = np.full(ex.area_km2.shape, 30.0)
    ex.best_scale_km = np.full(ex.area_km2.shape, 20.0)
    ex.limit_spectral_power_gw_um = np.full(ex.area_km2.shape, 0.1)
    fig = maps.plot_coverage_maps(ex, None)
    panels = [a for a in fig.axes if a.get_xlabel()]
    assert len(panels) == 4 and all(a.get_xlim() == (360.0, 0.0) for a in panels)
    labels = [a.get_ylabel() for a in fig.axes if not a.get_xlabel()]
    assert (
        any("(°)" in s for s in labels)
        and any("km/px" in s for s in labels)
        and any("GW µm⁻¹" in s for s in labels)
    )
    plt.close(fig)


def test_latitude_band_and_comparison_figures(hotspots):
    ex = Exposure.uniform()
    bands = dist.latitude_bands(hotspots, ex, (-90, -60, -30, 30, 60, 90), n_bootstrap=50)
    fig = pdist.plot_latitude_bands(bands, None, title="t")
    assert fig.axes[0].get_xlabel() == "Hot spots per 10⁶ km²" and "(GW)" in fig.axes[1].get_xlabel()
    assert len(fig.axes[0].patches) == 5
    plt.close(fig)
    tests = {
        name: dist.compare_regions(hotspots, ex, a, b, n_permutations=20, n_bootstrap=20) | {"verdict": "x"}
        for name, a, b in dist.COMPARISONS
    }
    fig = pdist.plot_comparisons(tests, None, title="t")
    assert "log scale" in fig.axes[0].get_xlabel() and len(fig.axes[0].get_yticklabels()) == 4
    plt.close(fig)
    fig = pdist.plot_power_curve(tests["polar_vs_equatorial"], None, None, title="t")
    assert fig.axes[0].get_ylim() == (0.0, 1.02) and "dimensionless" in fig.axes[0].get_xlabel()
    plt.close(fig)


def test_time_series_figures_label_their_axes():
    ep = pd.DataFrame(
        {
            "epoch": ["PJ5", "PJ9"],
            "time_utc": pd.to_datetime(["2017-03-27", "2017-10-24"]),
            "region": ["global", "global"],
            "output_w_m2": [0.1, 0.2],
            "output_err_w_m2": [0.01, 0.02],
        }
    )
    ext = pd.DataFrame(
        {
            "time_utc": pd.to_datetime(["2017-03-01", "2017-06-01"]),
            "value": [1.0, 2.0],
            "err": [np.nan, np.nan],
        }
    )
    fig = plot_output_series(ep, None, external=ext, external_label="torus S+ (R)")
    assert (
        fig.axes[0].get_ylabel() == "Output per area seen (W m⁻²)"
        and fig.axes[1].get_ylabel() == "torus S+ (R)"
    )
    plt.close(fig)
    d = pd.DataFrame(
        {
            "lag_d": [-10.0, 0.0, 10.0],
            "dcf": [0.1, 0.8, 0.2],
            "dcf_err": [0.1] * 3,
            "envelope_low": [-0.5] * 3,
            "envelope_high": [0.5] * 3,
            "used": [True] * 3,
        }
    )
    fig = plot_dcf(
        {"dcf": d, "n_surrogates": 100, "peak_dcf": 0.8, "peak_lag_d": 0.0, "p_value": 0.01}, None, title="t"
    )
    assert "days" in fig.axes[0].get_xlabel() and "p = 0.01" in fig.axes[0].get_title()
    plt.close(fig)
    lc = pd.DataFrame(
        {
            "time_utc": ["2017-03-27T00:00:00Z", "2017-05-19T00:00:00Z"],
            "value": [3.0, 4.0],
            "err": [0.1, 0.2],
            "flags": [0, 1],
        }
    )
    fig = plot_hotspot_lightcurve(lc, None, title="t")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Time (UTC)" and "GW µm⁻¹ sr⁻¹" in ax.get_ylabel()
    assert sorted(t.get_text() for t in ax.get_legend().get_texts()) == [
        "1 detection",
        "1 saturated detection (lower limits)",
    ]
    plt.close(fig)
