"""Where on Io a frame looked: a 2° × 2° coverage grid (planetographic °N × west °W), compactly encoded.

Used to decide whether a hot spot *could* have been seen in an observation (for "new" and "fading" events):
a cell counts as covered when some on-disk pixel of the frame falls in it at an emission angle below
``emission_max_deg``.
"""

from __future__ import annotations

import base64
import zlib

import numpy as np

CELL_DEG = 2.0
N_LAT = int(180 / CELL_DEG)
N_LON = int(360 / CELL_DEG)


def _cells(lat_deg, lon_w_deg) -> tuple[np.ndarray, np.ndarray]:
    lat = np.asarray(lat_deg, dtype=float)
    lon = np.asarray(lon_w_deg, dtype=float)
    if lat.ndim and lat.size:
        # many pixels (a frame's): the same cells by cheaper steps — x // 2 is floor(x / 2) exactly (a power
        # of two divides exactly), and lon mod 360 is lon itself in [0, 360) (backplanes' west longitudes)
        i = np.floor((lat + 90.0) / CELL_DEG)
        lon_ok = float(lon.min()) >= 0.0 and float(lon.max()) < 360.0
        j = np.floor((lon if lon_ok else np.mod(lon, 360.0)) / CELL_DEG)
        return np.clip(i.astype(int), 0, N_LAT - 1), np.clip(j.astype(int), 0, N_LON - 1)
    i = np.clip(((lat + 90.0) // CELL_DEG).astype(int), 0, N_LAT - 1)
    j = np.clip((np.mod(lon, 360.0) // CELL_DEG).astype(int), 0, N_LON - 1)
    return i, j


def coverage_grid(backplanes, emission_max_deg: float = 80.0) -> np.ndarray:
    """Boolean (90, 180) grid of the cells seen by any of ``backplanes`` (an iterable of Backplanes)."""
    from ioscan.geometry.compiled import mark_coverage, readonly

    grid = np.zeros((N_LAT, N_LON), dtype=bool)
    for bp in backplanes:
        # one compiled pass over the pixels (the cells of _cells, bit for bit; no masks or index arrays)
        layers = readonly(bp.on_disk, bp["emission_deg"], bp["lat_deg"], bp["lon_w_deg"])
        mark_coverage(*(a.reshape(-1) for a in layers), float(emission_max_deg), CELL_DEG, grid)
    return grid


def coverage_grid_numpy(backplanes, emission_max_deg: float = 80.0) -> np.ndarray:
    """:func:`coverage_grid` by numpy's whole-array steps (the reference the tests compare it with)."""
    grid = np.zeros((N_LAT, N_LON), dtype=bool)
    for bp in backplanes:
        seen = bp.on_disk & (bp["emission_deg"] < emission_max_deg)
        if seen.any():
            i, j = _cells(bp["lat_deg"][seen], bp["lon_w_deg"][seen])
            grid[i, j] = True
    return grid


def encode_grid(grid: np.ndarray) -> str:
    """Grid → short ASCII text (zlib-compressed bit-packed, base64) for a database column."""
    return base64.b64encode(zlib.compress(np.packbits(grid.astype(bool)).tobytes(), 9)).decode("ascii")


def decode_grid(text: str | None) -> np.ndarray | None:
    """Inverse of :func:`encode_grid` (None for missing text)."""
    if not text:
        return None
    bits = np.unpackbits(np.frombuffer(zlib.decompress(base64.b64decode(text)), dtype=np.uint8))
    return bits[: N_LAT * N_LON].reshape(N_LAT, N_LON).astype(bool)


def is_covered(grid: np.ndarray | None, lat_deg: float, lon_w_deg: float) -> bool:
    """True when the cell of (lat_deg, lon_w_deg) is covered; False for a missing grid."""
    if grid is None:
        return False
    i, j = _cells(lat_deg, lon_w_deg)
    return bool(grid[i, j])
