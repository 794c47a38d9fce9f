"""The coverage grid's cells of many pixels (cheaper steps) are those of the plain rule, cell for cell."""

from __future__ import annotations

import numpy as np

from ioscan.geometry import coverage as cv


def _plain(lat, lon):
    i = np.clip(((np.asarray(lat, float) + 90.0) // cv.CELL_DEG).astype(int), 0, cv.N_LAT - 1)
    j = np.clip((np.mod(np.asarray(lon, float), 360.0) // cv.CELL_DEG).astype(int), 0, cv.N_LON - 1)
    return i, j


def test_cells_equal_the_plain_rule_at_edges_and_at_random():
    rng = np.random.default_rng(4)
    edges = np.array([-90.0, -89.0, -88.0, -0.0, 0.0, 2.0, np.nextafter(2.0, 0.0), 88.0, 90.0])
    lon_edges = np.array(
        [0.0, -0.0, 2.0, np.nextafter(2.0, 0.0), 358.0, np.nextafter(360.0, 0.0), 1.0, 3.0, 5.0]
    )
    lat = np.concatenate([rng.uniform(-90, 90, 20_000), edges])
    lon = np.concatenate([rng.uniform(0, 360, 20_000), lon_edges])
    for lo in (lon, np.append(lon[:-3], [360.0, -4.0, 725.0])):  # outside [0, 360): the mod path
        got, ref = cv._cells(lat, lo), _plain(lat, lo)
        assert np.array_equal(got[0], ref[0]) and np.array_equal(got[1], ref[1])
    assert cv._cells(10.0, 359.0) == (50, 179) and cv._cells(-90.0, 360.0) == (0, 0)
