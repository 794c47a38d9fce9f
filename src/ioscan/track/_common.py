"""Small helpers shared by the tracking modules: input checks, UTC times, unit vectors on Io."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from ioscan.body import IO, IO_MEAN_RADIUS_KM
from ioscan.errors import CatalogError

DEG = np.pi / 180.0


def text_column(df: pd.DataFrame, column: str) -> np.ndarray:
    """A column as an object array of ``str``, ``""`` where missing (absent column, None or NaN).

    ``astype(str)`` is not enough: pandas 3's string dtype keeps NaN as NaN.
    """
    if column not in df.columns:
        return np.full(len(df), "", dtype=object)
    values = df[column]
    return values.astype(object).where(values.notna(), "").astype(str).to_numpy(dtype=object)


def unique_ints(values) -> np.ndarray:
    """Sorted distinct values of an integer array (sort-based: numpy 2's hashing ``np.unique`` is two orders
    of magnitude slower on large integer arrays)."""
    s = np.sort(np.asarray(values).ravel())
    if len(s) == 0:
        return s
    keep = np.empty(len(s), dtype=bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]


def isin_ints(values, test) -> np.ndarray:
    """``np.isin`` for integer arrays, by sorting (numpy 2's ``np.isin`` hashes through ``np.unique``: two
    orders of magnitude slower on large arrays)."""
    values = np.asarray(values)
    table = unique_ints(test)
    if len(table) == 0 or values.size == 0:
        return np.zeros(values.shape, dtype=bool)
    pos = np.minimum(np.searchsorted(table, values), len(table) - 1)
    return table[pos] == values


def require_columns(df: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Raise CatalogError naming ``what`` and the missing columns."""
    if not isinstance(df, pd.DataFrame):
        raise CatalogError(f"{what}: expected a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise CatalogError(f"{what}: missing column(s) {missing}; has {list(df.columns)}")


def to_utc(values, what: str) -> pd.Series:
    """ISO 8601 strings or datetime64 (naive = UTC, or tz-aware) → tz-naive UTC datetime64 Series."""
    s = pd.Series(values)
    try:
        out = pd.to_datetime(s, utc=True, format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise CatalogError(f"{what}: cannot parse time_utc as ISO 8601 UTC ({exc})") from None
    return out.dt.tz_convert(None)


def finite_float(df: pd.DataFrame, col: str, what: str, *, ids=None) -> np.ndarray:
    """Column as float array; raise CatalogError naming the rows where it is not finite."""
    arr = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(arr)
    if bad.any():
        where = (np.asarray(ids) if ids is not None else df.index.to_numpy())[bad][:5]
        raise CatalogError(f"{what}: non-finite {col} for {int(bad.sum())} row(s), e.g. {list(where)}")
    return arr


_C_OVER_A2 = ((IO.a_km * (1.0 - IO.flattening)) / IO.a_km) ** 2


def unit_vectors(lat_deg: np.ndarray, lon_w_deg: np.ndarray) -> np.ndarray:
    """Planetographic °N, west °W → unit direction (n, 3) in IAU_IO.

    Uses the spheroid (a, c) relation tan(lat_pc) = (c/a)² tan(lat_pg) that SPICE's planetographic
    latitude is defined on. It is an exact bijection with :func:`vectors_to_lat_lon`, so averaging
    directions and converting back gives the planetographic latitude of the mean position; the
    difference from the direction of the triaxial surface point is a smooth sub-kilometre distortion
    that does not matter for grouping detections.
    """
    lat = np.radians(np.asarray(lat_deg, float))
    lat_pc = np.arctan2(_C_OVER_A2 * np.sin(lat), np.cos(lat))
    lon_e = -np.radians(np.asarray(lon_w_deg, float))
    cl = np.cos(lat_pc)
    return np.stack([cl * np.cos(lon_e), cl * np.sin(lon_e), np.sin(lat_pc)], axis=-1)


def vectors_to_lat_lon(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit directions (n, 3) → planetographic °N and west °W (inverse of :func:`unit_vectors`)."""
    u = np.asarray(u, float)
    rho = np.hypot(u[..., 0], u[..., 1])
    lat = np.degrees(np.arctan2(u[..., 2], _C_OVER_A2 * rho))
    lon = np.mod(-np.degrees(np.arctan2(u[..., 1], u[..., 0])), 360.0)
    return lat, lon


def local_north_east(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit north and east tangent vectors (n, 3) at unit directions ``u`` (any pole handled).

    East is ẑ × u normalised; at a pole (where that vanishes) east is taken along +y so the
    frame stays defined; north = u × east.
    """
    z = np.array([0.0, 0.0, 1.0])
    east = np.cross(z, u)
    norm = np.linalg.norm(east, axis=-1, keepdims=True)
    at_pole = norm[..., 0] < 1e-12
    east = np.where(at_pole[..., None], np.array([0.0, 1.0, 0.0]), east / np.maximum(norm, 1e-300))
    north = np.cross(u, east)
    return north, east


def km_errors(lat_deg, lat_err_deg, lon_err_deg, position_err_km=None) -> tuple[np.ndarray, np.ndarray]:
    """1σ position errors along north and east in km (mean-sphere scale R = 1821.49 km).

    ``lon_err_deg`` is in degrees of longitude, so its ground length shrinks by cos(latitude). Where
    the lat/lon errors are missing (NaN), ``position_err_km`` (isotropic) is used instead.
    """
    lat = np.asarray(lat_deg, float)
    s_n = np.asarray(lat_err_deg, float) * DEG * IO_MEAN_RADIUS_KM
    coslat = np.abs(np.cos(lat * DEG))
    with np.errstate(invalid="ignore"):
        s_e = np.asarray(lon_err_deg, float) * DEG * IO_MEAN_RADIUS_KM * coslat
    # at a pole a degree of longitude has no length: an infinite lon error there carries no information
    s_e = np.where(~np.isfinite(s_e) & (coslat < 1e-9) & np.isfinite(s_n), s_n, s_e)
    if position_err_km is not None:
        pe = np.asarray(position_err_km, float)
        s_n = np.where(np.isfinite(s_n), s_n, pe)
        s_e = np.where(np.isfinite(s_e), s_e, pe)
    return s_n, s_e
