"""Io's triaxial ellipsoid and coordinate conversions (IAU/NAIF pck00010 values).

Conventions (docs/architecture.md):

* Body-fixed Cartesian vectors are in the IAU_IO frame, km.
* ``lat_deg`` is **planetographic** latitude °N exactly as SPICE ``recpgr`` defines it for Io: the geodetic
  latitude relative to the reference spheroid of equatorial radius ``a`` and flattening ``f = (a − c)/a``.
* ``lat_pc_deg`` is **planetocentric** latitude °N.
* ``lon_w_deg`` is **west** longitude 0–360 (Io rotates prograde, so ``recpgr`` returns west longitude);
  ``lon_e_deg`` is east longitude, ``lon_w = (360 − lon_e) mod 360``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NAIF_ID_IO = 501
ROTATION_PERIOD_D = 1.769138


@dataclass(frozen=True)
class Ellipsoid:
    """A triaxial ellipsoid with radii a ≥ b ≥ c in km (a toward the sub-Jupiter point, c polar)."""

    a_km: float
    b_km: float
    c_km: float

    @property
    def radii_km(self) -> np.ndarray:
        return np.array([self.a_km, self.b_km, self.c_km])

    @property
    def flattening(self) -> float:
        """SPICE planetographic flattening f = (a − c)/a."""
        return (self.a_km - self.c_km) / self.a_km

    @property
    def mean_radius_km(self) -> float:
        """Arithmetic mean radius, km (1821.5 km for Io)."""
        return (self.a_km + self.b_km + self.c_km) / 3.0


IO = Ellipsoid(1829.4, 1819.4, 1815.7)
IO_MEAN_RADIUS_KM = 1821.49


def wrap_lon_deg(lon_deg):
    """Wrap a longitude into [0, 360) degrees (a tiny negative input gives 0, not 360)."""
    wrapped = np.mod(np.asarray(lon_deg, dtype=float), 360.0)
    return np.where(wrapped >= 360.0, 0.0, wrapped)


def lon_e_to_lon_w(lon_e_deg):
    """East longitude (any range) → west longitude in [0, 360), degrees."""
    return wrap_lon_deg(-np.asarray(lon_e_deg, dtype=float))


def lon_w_to_lon_e(lon_w_deg):
    """West longitude → east longitude in [0, 360), degrees."""
    return wrap_lon_deg(-np.asarray(lon_w_deg, dtype=float))


def vector_to_lon_w_deg(xyz_km: np.ndarray) -> np.ndarray:
    """Body-fixed vectors (..., 3) → west longitude 0–360°."""
    xyz = np.asarray(xyz_km, dtype=float)
    return wrap_lon_deg(-np.degrees(np.arctan2(xyz[..., 1], xyz[..., 0])))


def vector_to_lat_pc_deg(xyz_km: np.ndarray) -> np.ndarray:
    """Body-fixed vectors (..., 3) → planetocentric latitude °N."""
    xyz = np.asarray(xyz_km, dtype=float)
    return np.degrees(np.arctan2(xyz[..., 2], np.hypot(xyz[..., 0], xyz[..., 1])))


def vector_to_lat_pg_deg(xyz_km: np.ndarray, body: Ellipsoid = IO) -> np.ndarray:
    """Body-fixed vectors (..., 3) → planetographic latitude °N, as SPICE ``recpgr`` computes it.

    Geodetic latitude on the spheroid (a, c = a(1 − f)) by Bowring's iteration; converges to < 1e-12 rad
    in three steps for points within tens of km of the surface.
    """
    xyz = np.asarray(xyz_km, dtype=float)
    a = body.a_km
    c = a * (1.0 - body.flattening)
    e2 = 1.0 - (c / a) ** 2
    ep2 = (a / c) ** 2 - 1.0
    p = np.hypot(xyz[..., 0], xyz[..., 1])
    z = xyz[..., 2]
    # Bowring's parametric start, then Newton-like refinement
    beta = np.arctan2(a * z, c * np.maximum(p, 1e-300))
    lat = np.arctan2(z + ep2 * c * np.sin(beta) ** 3, p - e2 * a * np.cos(beta) ** 3)
    for _ in range(3):
        beta = np.arctan2((1.0 - body.flattening) * np.sin(lat), np.cos(lat))
        lat = np.arctan2(z + ep2 * c * np.sin(beta) ** 3, p - e2 * a * np.cos(beta) ** 3)
    return np.degrees(lat)


def surface_normal(xyz_km: np.ndarray, body: Ellipsoid = IO) -> np.ndarray:
    """Outward unit normal of the triaxial ellipsoid at surface points (..., 3)."""
    xyz = np.asarray(xyz_km, dtype=float)
    n = xyz / body.radii_km**2
    return n / np.linalg.norm(n, axis=-1, keepdims=True)


def direction_from_lat_pc_lon_w(lat_pc_deg, lon_w_deg) -> np.ndarray:
    """Unit vector (..., 3) for planetocentric latitude °N and west longitude °W."""
    lat = np.radians(np.asarray(lat_pc_deg, dtype=float))
    lon_e = -np.radians(np.asarray(lon_w_deg, dtype=float))
    return np.stack([np.cos(lat) * np.cos(lon_e), np.cos(lat) * np.sin(lon_e), np.sin(lat)], axis=-1)


def surface_point_from_lat_pc(lat_pc_deg, lon_w_deg, body: Ellipsoid = IO) -> np.ndarray:
    """Triaxial surface point (..., 3) km at planetocentric latitude °N, west longitude °W."""
    u = direction_from_lat_pc_lon_w(lat_pc_deg, lon_w_deg)
    scale = 1.0 / np.sqrt(np.sum((u / body.radii_km) ** 2, axis=-1, keepdims=True))
    return u * scale


def surface_point_from_lat_pg(lat_deg, lon_w_deg, body: Ellipsoid = IO) -> np.ndarray:
    """Triaxial surface point (..., 3) km whose ``recpgr`` latitude is ``lat_deg`` (°N, planetographic).

    Solved by a secant iteration on the planetocentric latitude of the surface point (< 1e-10° error).
    """
    target = np.asarray(lat_deg, dtype=float)
    lon = np.broadcast_to(np.asarray(lon_w_deg, dtype=float), target.shape)
    # first guess from the spheroid relation tan(lat_pc) = (c/a)^2 tan(lat_pg)
    ratio = (1.0 - body.flattening) ** 2
    guess = np.degrees(np.arctan(ratio * np.tan(np.radians(np.clip(target, -89.9999999, 89.9999999)))))
    guess = np.where(np.abs(target) >= 90.0, target, guess)
    for _ in range(6):
        pg = vector_to_lat_pg_deg(surface_point_from_lat_pc(guess, lon, body), body)
        guess = np.clip(guess + (target - pg) * ratio, -90.0, 90.0)
    return surface_point_from_lat_pc(guess, lon, body)


def lat_pg_to_lat_pc_deg(lat_deg, lon_w_deg, body: Ellipsoid = IO) -> np.ndarray:
    """Planetographic → planetocentric latitude (°N) of the surface point at that longitude."""
    return vector_to_lat_pc_deg(surface_point_from_lat_pg(lat_deg, lon_w_deg, body))


def lat_pc_to_lat_pg_deg(lat_pc_deg, lon_w_deg, body: Ellipsoid = IO) -> np.ndarray:
    """Planetocentric → planetographic latitude (°N) of the surface point at that longitude."""
    return vector_to_lat_pg_deg(surface_point_from_lat_pc(lat_pc_deg, lon_w_deg, body), body)


def angular_separation_deg(lat1_deg, lon1_deg, lat2_deg, lon2_deg) -> np.ndarray:
    """Great-circle angle between two directions (latitudes and longitudes in the same convention), °.

    Uses the Vincenty formula (stable at all separations). Longitudes may be east or west as long as
    both points use the same one.
    """
    p1, p2 = np.radians(lat1_deg), np.radians(lat2_deg)
    dl = np.radians(np.asarray(lon2_deg, dtype=float) - np.asarray(lon1_deg, dtype=float))
    num = np.hypot(np.cos(p2) * np.sin(dl), np.cos(p1) * np.sin(p2) - np.sin(p1) * np.cos(p2) * np.cos(dl))
    den = np.sin(p1) * np.sin(p2) + np.cos(p1) * np.cos(p2) * np.cos(dl)
    return np.degrees(np.arctan2(num, den))


def great_circle_distance_km(lat1_deg, lon1_deg, lat2_deg, lon2_deg, radius_km: float = IO_MEAN_RADIUS_KM):
    """Distance on the mean sphere (1821.49 km) between two points, km (planetocentric latitudes)."""
    return np.radians(angular_separation_deg(lat1_deg, lon1_deg, lat2_deg, lon2_deg)) * radius_km


def ellipsoid_surface_distance_km(
    lat1_deg: float,
    lon1_w_deg: float,
    lat2_deg: float,
    lon2_w_deg: float,
    body: Ellipsoid = IO,
    n_steps: int = 512,
) -> float:
    """Distance along the triaxial surface between two planetographic points, km.

    Length of the curve cut on the ellipsoid by the plane through the centre and both points (the
    normal-section path), summed over ``n_steps`` chords. On Io it exceeds the true geodesic by less
    than 1e-5 relative, far below any hot-spot position error.
    """
    p1 = surface_point_from_lat_pg(lat1_deg, lon1_w_deg, body)
    p2 = surface_point_from_lat_pg(lat2_deg, lon2_w_deg, body)
    return _section_length_km(p1 / np.linalg.norm(p1), p2 / np.linalg.norm(p2), body, n_steps)


def _section_length_km(u1: np.ndarray, u2: np.ndarray, body: Ellipsoid, n_steps: int) -> float:
    """Length of the central-plane section of the ellipsoid between unit directions u1 and u2, km."""
    omega = np.arccos(np.clip(np.dot(u1, u2), -1.0, 1.0))
    if omega < 1e-12:
        return 0.0
    if omega > np.pi - 1e-9:  # antipodes: the plane is not unique; go through the pole side
        helper = np.array([0.0, 0.0, 1.0]) if abs(u1[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
        mid = helper - np.dot(helper, u1) * u1
        mid /= np.linalg.norm(mid)
        half = n_steps // 2
        return _section_length_km(u1, mid, body, half) + _section_length_km(mid, u2, body, half)
    t = np.linspace(0.0, 1.0, n_steps + 1)[:, None]
    dirs = (np.sin((1 - t) * omega) * u1 + np.sin(t * omega) * u2) / np.sin(omega)
    pts = dirs / np.sqrt(np.sum((dirs / body.radii_km) ** 2, axis=-1, keepdims=True))
    return float(np.sum(np.linalg.norm(np.diff(pts, axis=0), axis=-1)))
