"""Latitude–longitude cells, their areas and the named regions of Io (planetographic °N, west °W).

The analysis grid is the catalogue's coverage grid (:mod:`ioscan.geometry.coverage`: 2° × 2°, rows from
−90°N, columns from 0°W). Areas are on Io's mean sphere (R = 1821.49 km) between the planetocentric latitudes
of the cells' planetographic edges (spheroid relation tan φ_c = (c/a)² tan φ_g): the whole sphere is
4πR² = 4.169e7 km²; the triaxial shape changes band areas by < 0.3 %.

Regions (Io is in synchronous rotation; 0°W faces Jupiter, the apex of motion is at 90°W):

* ``leading`` 0–180°W, ``trailing`` 180–360°W;
* ``subjovian`` within 90° of 0°W (270–360 and 0–90°W), ``antijovian`` within 90° of 180°W;
* ``north_polar`` lat ≥ polar, ``south_polar`` lat ≤ −polar, ``polar`` both, ``equatorial`` |lat| < eq.
"""

from __future__ import annotations

import numpy as np

from ioscan import body as iobody
from ioscan.geometry.coverage import CELL_DEG, N_LAT, N_LON

IO_AREA_KM2 = 4.0 * np.pi * iobody.IO_MEAN_RADIUS_KM**2
_C_OVER_A = 1.0 - iobody.IO.flattening


def pg_to_pc_spheroid_deg(lat_deg) -> np.ndarray:
    """Planetographic → planetocentric latitude on Io's reference spheroid (a, c), °N."""
    lat = np.radians(np.clip(np.asarray(lat_deg, dtype=float), -90.0, 90.0))
    out = np.degrees(np.arctan2(_C_OVER_A**2 * np.sin(lat), np.cos(lat)))
    return np.where(np.abs(np.asarray(lat_deg, dtype=float)) >= 90.0, np.asarray(lat_deg, dtype=float), out)


def band_area_km2(lat_min_deg, lat_max_deg, lon_width_deg=360.0) -> np.ndarray:
    """Area between two planetographic latitudes over ``lon_width_deg`` of longitude, km² (mean sphere)."""
    s1 = np.sin(np.radians(pg_to_pc_spheroid_deg(lat_min_deg)))
    s2 = np.sin(np.radians(pg_to_pc_spheroid_deg(lat_max_deg)))
    return iobody.IO_MEAN_RADIUS_KM**2 * np.radians(np.asarray(lon_width_deg, dtype=float)) * (s2 - s1)


def cell_edges_deg(cell_deg: float = CELL_DEG) -> tuple[np.ndarray, np.ndarray]:
    """(latitude edges from −90, west-longitude edges from 0) of a global grid, °."""
    n_lat, n_lon = int(round(180 / cell_deg)), int(round(360 / cell_deg))
    return np.linspace(-90.0, 90.0, n_lat + 1), np.linspace(0.0, 360.0, n_lon + 1)


def cell_centres_deg(cell_deg: float = CELL_DEG) -> tuple[np.ndarray, np.ndarray]:
    """(lat_deg, lon_w_deg) 2-D arrays of the cell centres, planetographic °N and °W."""
    lat_e, lon_e = cell_edges_deg(cell_deg)
    lat_c, lon_c = 0.5 * (lat_e[:-1] + lat_e[1:]), 0.5 * (lon_e[:-1] + lon_e[1:])
    return np.meshgrid(lat_c, lon_c, indexing="ij")


def cell_areas_km2(cell_deg: float = CELL_DEG) -> np.ndarray:
    """(n_lat, n_lon) cell areas, km²; they sum to 4πR²."""
    lat_e, lon_e = cell_edges_deg(cell_deg)
    rows = band_area_km2(lat_e[:-1], lat_e[1:], cell_deg)
    return np.repeat(rows[:, None], len(lon_e) - 1, axis=1)


def cell_index(lat_deg, lon_w_deg, cell_deg: float = CELL_DEG) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) of the cells holding points (°N, °W); points exactly at 90°N go to the top row."""
    n_lat, n_lon = int(round(180 / cell_deg)), int(round(360 / cell_deg))
    lat = np.asarray(lat_deg, dtype=float)
    lon = np.mod(np.asarray(lon_w_deg, dtype=float), 360.0)
    i = np.clip(np.floor((lat + 90.0) / cell_deg).astype(int), 0, n_lat - 1)
    j = np.clip(np.floor(lon / cell_deg).astype(int), 0, n_lon - 1)
    return i, j


REGIONS = (
    "north_polar",
    "south_polar",
    "polar",
    "equatorial",
    "leading",
    "trailing",
    "subjovian",
    "antijovian",
)


def in_region(name: str, lat_deg, lon_w_deg, *, polar_lat_deg: float = 60.0, eq_lat_deg: float = 30.0):
    """Boolean mask of points (°N, °W) inside region ``name`` (see the module docstring)."""
    lat = np.asarray(lat_deg, dtype=float)
    lon = np.mod(np.asarray(lon_w_deg, dtype=float), 360.0)
    masks = {
        "north_polar": lat >= polar_lat_deg,
        "south_polar": lat <= -polar_lat_deg,
        "polar": np.abs(lat) >= polar_lat_deg,
        "equatorial": np.abs(lat) < eq_lat_deg,
        "leading": lon < 180.0,
        "trailing": lon >= 180.0,
        "subjovian": (lon < 90.0) | (lon >= 270.0),
        "antijovian": (lon >= 90.0) & (lon < 270.0),
    }
    if name not in masks:
        raise ValueError(f"unknown region {name!r} (known: {', '.join(REGIONS)})")
    return masks[name]


def region_cells(name: str, *, polar_lat_deg: float = 60.0, eq_lat_deg: float = 30.0) -> np.ndarray:
    """(N_LAT, N_LON) weights in [0, 1]: the fraction of each coverage cell inside region ``name`` (cells cut
    by a latitude edge that is not a multiple of 2° are shared by area)."""
    lat_e, lon_e = cell_edges_deg()
    lat_c, lon_c = cell_centres_deg()
    if name in ("leading", "trailing", "subjovian", "antijovian"):
        return in_region(name, lat_c, lon_c).astype(float)
    lo, hi = lat_e[:-1], lat_e[1:]
    full = band_area_km2(lo, hi)

    def frac(a, b):  # fraction of each row between latitudes a and b
        inter = band_area_km2(np.clip(a, lo, hi), np.clip(b, lo, hi))
        return np.clip(inter / full, 0.0, 1.0)

    rows = {
        "north_polar": frac(polar_lat_deg, 90.0),
        "south_polar": frac(-90.0, -polar_lat_deg),
        "polar": frac(polar_lat_deg, 90.0) + frac(-90.0, -polar_lat_deg),
        "equatorial": frac(-eq_lat_deg, eq_lat_deg),
    }
    if name not in rows:
        raise ValueError(f"unknown region {name!r} (known: {', '.join(REGIONS)})")
    return np.repeat(rows[name][:, None], N_LON, axis=1)


def band_cells(lat_min_deg: float, lat_max_deg: float) -> np.ndarray:
    """(N_LAT, N_LON) fraction of each coverage cell between two planetographic latitudes."""
    lat_e, _ = cell_edges_deg()
    lo, hi = lat_e[:-1], lat_e[1:]
    inter = band_area_km2(np.clip(lat_min_deg, lo, hi), np.clip(lat_max_deg, lo, hi))
    frac = np.clip(inter / band_area_km2(lo, hi), 0.0, 1.0)
    return np.repeat(frac[:, None], N_LON, axis=1)


def in_band(lat_deg, lat_min_deg: float, lat_max_deg: float) -> np.ndarray:
    """Points in the band between two latitudes, an edge belonging to the band on its poleward side (so
    "≥ 60°N", "≤ −60°N" and "within ±30°" are bands of the partition −90, −60, −30, 30, 60, 90): north of the
    equator [min, max), south of it (min, max], the equator itself with the band north of it; the poles
    close their bands. Every latitude in [−90, 90] falls in exactly one band of a partition."""
    lat = np.asarray(lat_deg, dtype=float)
    north = (lat >= lat_min_deg) & ((lat < lat_max_deg) | ((lat_max_deg >= 90.0) & (lat <= 90.0)))
    south = (lat <= lat_max_deg) & ((lat > lat_min_deg) | ((lat_min_deg <= -90.0) & (lat >= -90.0)))
    return np.where(lat >= 0.0, north, south)


assert N_LAT * CELL_DEG == 180 and N_LON * CELL_DEG == 360
