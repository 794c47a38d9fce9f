"""Cells, areas, bands and regions of Io (planetographic °N, west °W)."""

from __future__ import annotations

import numpy as np
import pytest

from ioscan import body
from ioscan.analysis import grids


def test_cell_areas_tile_the_sphere_and_caps_have_the_spherical_area():
    area = grids.cell_areas_km2()
    assert area.shape == (90, 180)
    assert area.sum() == pytest.approx(4 * np.pi * body.IO_MEAN_RADIUS_KM**2, rel=1e-12)
    # cap poleward of planetographic 60°: 2πR²(1 − sin φc), φc the planetocentric latitude on the spheroid
    c_over_a = body.IO.c_km / body.IO.a_km
    lat_c = np.degrees(np.arctan(c_over_a**2 * np.tan(np.radians(60.0))))
    assert lat_c == pytest.approx(59.63, abs=0.01)  # f = 0.0075 shifts ±60° by 0.37°
    cap = 2 * np.pi * body.IO_MEAN_RADIUS_KM**2 * (1 - np.sin(np.radians(lat_c)))
    assert grids.band_area_km2(60.0, 90.0) == pytest.approx(cap, rel=1e-9)
    assert grids.band_area_km2(-90.0, -60.0) == pytest.approx(cap, rel=1e-9)


def test_bands_partition_latitudes_with_edges_on_their_poleward_side():
    edges = [-90, -60, -30, 30, 60, 90]
    lat = np.array([-90, -60, -59.99, -30, -29.99, 0, 29.99, 30, 59.99, 60, 90.0])
    member = np.array([grids.in_band(lat, lo, hi) for lo, hi in zip(edges[:-1], edges[1:], strict=True)])
    assert (member.sum(axis=0) == 1).all()  # each latitude in exactly one band
    band_of = member.argmax(axis=0)
    assert list(band_of) == [0, 0, 1, 1, 2, 2, 2, 3, 3, 4, 4]
    # an equator edge goes north
    assert grids.in_band(np.array([0.0]), 0, 30)[0] and not grids.in_band(np.array([0.0]), -30, 0)[0]


def test_regions_follow_io_synchronous_rotation():
    lat = np.array([0.0, 0.0, 0.0, 0.0, 70.0, -70.0])
    lon = np.array([0.0, 90.0, 180.0, 270.0, 10.0, 10.0])
    assert list(grids.in_region("leading", lat, lon)) == [True, True, False, False, True, True]
    assert list(grids.in_region("subjovian", lat, lon)) == [True, False, False, True, True, True]
    assert list(grids.in_region("polar", lat, lon)) == [False] * 4 + [True, True]
    with pytest.raises(ValueError, match="unknown region"):
        grids.in_region("arctic", lat, lon)


def test_region_cells_share_cut_cells_by_area():
    area = grids.cell_areas_km2()
    w = grids.region_cells("polar", polar_lat_deg=61.0)  # 61° cuts the 60–62° row
    assert np.sum(area * w) == pytest.approx(2 * grids.band_area_km2(61.0, 90.0), rel=1e-9)
    assert np.sum(area * grids.region_cells("leading")) == pytest.approx(area.sum() / 2, rel=1e-12)
