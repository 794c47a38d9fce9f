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


class _Planes:
    """The few backplanes coverage_grid reads."""

    def __init__(self, on, emission, lat, lon):
        self.on_disk = on
        self.arrays = {"emission_deg": emission, "lat_deg": lat, "lon_w_deg": lon}

    def __getitem__(self, name):
        return self.arrays[name]


def test_compiled_grid_equals_numpy_grid_cell_for_cell():
    """The compiled pass (one loop over the pixels) marks the cells numpy's masks and ``_cells`` mark: at
    random, at cell edges, with longitudes outside [0, 360) (the mod path), NaN and infinite latitudes and
    longitudes on the disk, emission at and above the limit and NaN, off-disk pixels with any values."""
    rng = np.random.default_rng(11)
    shape = (64, 96)
    n = shape[0] * shape[1]
    cases = []
    lat = rng.uniform(-90, 90, n)
    lon = rng.uniform(0, 360, n)
    emission = rng.uniform(0, 100, n)
    on = rng.random(n) < 0.7
    cases.append((on, emission, lat, lon))
    lat2, lon2, em2 = lat.copy(), lon.copy(), emission.copy()
    special_lat = [-90.0, 90.0, -0.0, np.nextafter(2.0, 0.0), np.nan, np.inf, -np.inf, 1e300, -1e300, 95.0]
    special_lon = [360.0, -0.0, -4.0, 725.0, np.nan, np.inf, -360.0, np.nextafter(360.0, 0.0), -1e-300, 1e300]
    lat2[: len(special_lat)] = special_lat
    lon2[: len(special_lon)] = special_lon
    em2[:10] = 1.0
    em2[10:14] = [80.0, np.nextafter(80.0, 0.0), np.nan, 80.0 + 1e-12]
    on2 = on.copy()
    on2[:14] = True
    cases.append((on2, em2, lat2, lon2))
    cases.append((np.zeros(n, bool), emission, lat, lon))  # nothing seen
    for on_, em_, la_, lo_ in cases:
        planes = [_Planes(on_.reshape(shape), *(v.reshape(shape) for v in (em_, la_, lo_)))]
        got = cv.coverage_grid(planes)
        with np.errstate(invalid="ignore"):  # numpy's casts of NaN and inf (the compiled pass has none)
            ref = cv.coverage_grid_numpy(planes)
        assert got.dtype == bool and np.array_equal(got, ref)
    # two bands add up; float32 layers (a backplane file's) as numpy reads them
    with np.errstate(invalid="ignore", over="ignore"):
        f32 = [v.astype(np.float32).reshape(shape) for v in (em2, lat2, lon2)]
        planes = [
            _Planes(on.reshape(shape), *(v.reshape(shape) for v in (emission, lat, lon))),
            _Planes(on2.reshape(shape), *f32),
        ]
        ref = cv.coverage_grid_numpy(planes)
    assert np.array_equal(cv.coverage_grid(planes), ref)
    assert cv.coverage_grid(planes).sum() > 1000
