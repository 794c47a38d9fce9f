"""The published tables: raw numbers as the tables give them, conventions named, edges that matter."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import spiceypy

from ioscan import body
from ioscan.analysis import distributions as dist
from ioscan.analysis.coverage import Exposure
from ioscan.analysis.published import (
    CONVENTIONS,
    band_counts,
    edge_sensitivity,
    planetographic_latitudes,
    published_tables,
    table_hotspots,
)

EDGES = (-90, -60, -30, 30, 60, 90)


@pytest.fixture(scope="module")
def tables():
    return published_tables()


def test_davies2024_jiram_counts_as_printed(tables):
    lat = tables["davies2024_jiram"]["lat_deg"].to_numpy()
    # the JIRAM list: 20 at >= 60°N, 12 at <= -60°, 125 within ±30° (and 65 / 44 in the mid-latitude bands)
    assert band_counts(lat, EDGES) == [12, 44, 125, 65, 20]
    assert (
        int((lat >= 60).sum()) == 20
        and int((lat <= -60).sum()) == 12
        and int((np.abs(lat) < 30).sum()) == 125
    )


def test_every_table_names_its_latitude_convention(tables):
    assert set(CONVENTIONS) == set(tables)
    for conv in CONVENTIONS.values():
        assert conv["stated"] in (None, "planetographic", "planetocentric")
        assert conv["table_says"]
    # none of the shipped tables states it: they are binned as printed
    for name, df in tables.items():
        assert np.array_equal(table_hotspots(name, df)["lat_deg"].to_numpy(), df["lat_deg"].to_numpy())


def test_twelve_entries_lie_within_half_a_degree_of_an_edge_and_four_change_band(tables):
    es = edge_sensitivity(tables["davies2024_jiram"], EDGES)
    assert es["n_within"] == 12
    assert es["counts_as_printed"] == [12, 44, 125, 65, 20]
    # read as planetocentric and converted, 29.7, 29.7, 29.8 and 59.8 cross an edge (Io's f = 0.0075: +0.37°)
    assert es["counts_if_planetocentric"] == [12, 44, 122, 67, 21]
    assert es["n_changing_band"] == 4
    moved = sorted(e["lat_deg_printed"] for e in es["entries"] if e["changes_band"])
    assert moved == [29.7, 29.7, 29.8, 59.8]


def test_a_table_stating_planetocentric_is_converted_as_spice_would():
    df = pd.DataFrame(
        {
            "ref_id": ["a", "b", "c"],
            "name": [None] * 3,
            "lat_deg": [30.0, -60.0, 45.0],
            "lon_w_deg": [0.0, 90.0, 200.0],
        }
    )
    ours = planetographic_latitudes(df, "planetocentric")
    # independent truth: the triaxial surface point at that planetocentric latitude, through SPICE's recgeo
    # on the spheroid (a, f = (a − c)/a) that recpgr uses for Io
    for lat_pc, lon_w, lat_pg in zip(df["lat_deg"], df["lon_w_deg"], ours, strict=True):
        p = body.surface_point_from_lat_pc(lat_pc, lon_w)
        _, lat_geo, _ = spiceypy.recgeo(p, body.IO.a_km, body.IO.flattening)
        assert lat_pg == pytest.approx(np.degrees(lat_geo), abs=1e-9)
        assert abs(lat_pg) > abs(lat_pc)
    with pytest.raises(ValueError, match="unknown latitude convention"):
        planetographic_latitudes(df, "geodetic-ish")


def test_psj_powers_and_loki_share(tables):
    psj = table_hotspots("davies2024_psj", tables["davies2024_psj"])
    assert psj["power"].sum() == pytest.approx(57657.64, abs=0.01)
    share = psj["power"].max() / psj["power"].sum()
    assert share == pytest.approx(9600 / 57657.64) and 0.16 < share < 0.17  # "Loki alone gives ~17 %"
    assert tables["davies2024_jiram"]["max_unsaturated_spectral_power_gw_um"].sum() == pytest.approx(
        1006.83, abs=0.01
    )


def test_polar_equatorial_test_on_the_jiram_list_cannot_tell(tables):
    hs = table_hotspots("davies2024_jiram", tables["davies2024_jiram"])
    res = dist.compare_regions(
        hs,
        Exposure.uniform(),
        "polar",
        "equatorial",
        power_col="power",
        err_col=None,
        spectral_col="spectral",
        n_permutations=300,
        n_bootstrap=200,
        rng=np.random.default_rng(0),
    )
    d = res["density"]
    assert (d["n_a"], d["n_b"]) == (32, 125)
    # independent arithmetic: caps poleward of ±60° and the ±30° band on the mean sphere
    e_pol = 2 * dist.grids.band_area_km2(60, 90)
    e_eq = dist.grids.band_area_km2(-30, 30)
    assert d["ratio"] == pytest.approx((32 / e_pol) / (125 / e_eq), rel=1e-6)
    assert 0.85 < d["ratio"] < 1.0 and d["p_value"] > 0.5
    # with ~160 hot spots in the two regions a ratio of 1.5 is not detectable with 80 % power
    assert d["power_at_ratio"]["1.5"] < 0.8 and d["min_detectable_ratio_up"] > 1.5
