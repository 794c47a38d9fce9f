"""Viewing geometry of the independent renderer: a pinhole camera looking at a triaxial (or spherical) Io.

Camera frame: +x along increasing sample, +y along increasing line (along track), +z the boresight. The ray of
pixel (sample s, line l), pixel centres at integers, is ``((s - s0)·IFOV, (l - l0)·IFOV, 1)`` normalised, with
(s0, l0) the optical centre of the M band (215.5, 63.5). Other bands of the same detector are the same camera
at other line ranges (JIRAM's L band sits 138 detector lines before the M band). Nothing here comes from
``ioscan.geometry``: the renderer is meant to be an independent check of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

IFOV_RAD = 0.000237767
N_SAMPLES = 432
N_LINES_BAND = 128
#: detector lines between the first L line and the first M line (128 L lines + 10 gap lines)
L_TO_M_LINES = 138
OPTICAL_CENTER_SAMPLE_PX = 215.5
OPTICAL_CENTER_LINE_PX = 63.5
IO_RADII_KM = (1829.4, 1819.4, 1815.7)
IO_MEAN_RADIUS_KM = 1821.49


@dataclass(frozen=True)
class ViewGeometry:
    """Where Io is and how it is lit, in the camera frame.

    Attributes:
        range_km: distance camera → Io centre, km.
        center_sample_px, center_line_px: pixel (M-band product coordinates) of Io's centre.
        body_to_cam: 3×3 rotation taking body-fixed (IAU-like: +z north pole, +x lon 0) vectors to the camera
            frame.
        sun_dir_cam: unit vector from Io's centre towards the Sun, camera frame.
        eclipsed: Io in Jupiter's shadow (no sunlight at all).
        radii_km: the ellipsoid's semi-axes (a, b, c), km.
    """

    range_km: float
    center_sample_px: float
    center_line_px: float
    body_to_cam: np.ndarray
    sun_dir_cam: np.ndarray
    eclipsed: bool = False
    radii_km: tuple[float, float, float] = IO_RADII_KM

    @property
    def pixel_scale_km(self) -> float:
        """Pixel footprint at normal view at Io's centre, km/px."""
        return self.range_km * IFOV_RAD

    @property
    def radius_px(self) -> float:
        """Apparent equatorial radius of the disk, pixels (small-angle)."""
        return max(self.radii_km) / self.pixel_scale_km

    @property
    def center_cam_km(self) -> np.ndarray:
        """Io's centre in the camera frame, km."""
        return self.range_km * pixel_ray(self.center_sample_px, self.center_line_px)

    @property
    def phase_deg(self) -> float:
        """Sun–Io–camera angle at Io's centre, degrees."""
        to_cam = -self.center_cam_km / self.range_km
        return float(np.degrees(np.arccos(np.clip(to_cam @ self.sun_dir_cam, -1.0, 1.0))))


def rotation_matrix(axis: str, angle_rad: float) -> np.ndarray:
    """Active rotation about a coordinate axis ("x", "y" or "z") by ``angle_rad``."""
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    i = "xyz".index(axis)
    j, k = (i + 1) % 3, (i + 2) % 3
    m = np.eye(3)
    m[j, j], m[j, k], m[k, j], m[k, k] = c, -s, s, c
    return m


def pixel_ray(sample_px, line_px) -> np.ndarray:
    """Unit ray direction(s) of pixel coordinates (M-band product pixels), camera frame, shape (..., 3)."""
    s = np.asarray(sample_px, dtype=float)
    ln = np.asarray(line_px, dtype=float)
    v = np.stack(
        [
            (s - OPTICAL_CENTER_SAMPLE_PX) * IFOV_RAD,
            (ln - OPTICAL_CENTER_LINE_PX) * IFOV_RAD,
            np.ones(np.broadcast(s, ln).shape),
        ],
        axis=-1,
    )
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def project_to_pixel(points_cam_km: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Camera-frame points (..., 3), km → (sample, line) pixel coordinates (M-band product pixels)."""
    p = np.asarray(points_cam_km, dtype=float)
    return (
        OPTICAL_CENTER_SAMPLE_PX + p[..., 0] / p[..., 2] / IFOV_RAD,
        OPTICAL_CENTER_LINE_PX + p[..., 1] / p[..., 2] / IFOV_RAD,
    )


def body_to_camera(sub_obs_lat_deg: float, sub_obs_lon_w_deg: float, north_pa_deg: float) -> np.ndarray:
    """Rotation body-fixed → camera for a viewer over (lat, lon W) with the pole at a position angle.

    The camera looks along −(sub-observer direction); ``north_pa_deg`` is the angle of the projected pole from
    image "up" (−line) towards −sample. Latitudes here are planetocentric, the body treated as a sphere.
    """
    lat, lon_e = np.radians(sub_obs_lat_deg), np.radians(-sub_obs_lon_w_deg)
    up = np.array([np.cos(lat) * np.cos(lon_e), np.cos(lat) * np.sin(lon_e), np.sin(lat)])  # body → camera
    north = np.array([0.0, 0.0, 1.0]) - np.sin(lat) * up
    north = north / np.linalg.norm(north) if np.linalg.norm(north) > 1e-9 else np.array([1.0, 0.0, 0.0])
    # camera axes in body coordinates, pole straight up: z = −up (boresight), y = −north, x = y × z = east
    cam_from_body = np.stack([np.cross(north, up), -north, -up])
    pa = np.radians(north_pa_deg)
    # rotating the image by the position angle: a pole at PA θ points to (−sin θ, −cos θ) in (sample, line)
    return rotation_matrix("z", -pa) @ cam_from_body


def sun_direction(to_cam_unit: np.ndarray, phase_deg: float, azimuth_deg: float) -> np.ndarray:
    """Unit vector making ``phase_deg`` with ``to_cam_unit``, rotated by ``azimuth_deg`` around it."""
    t = to_cam_unit / np.linalg.norm(to_cam_unit)
    ref = np.array([1.0, 0.0, 0.0]) if abs(t[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    u = np.cross(t, ref)
    u /= np.linalg.norm(u)
    w = np.cross(t, u)
    a, z = np.radians(phase_deg), np.radians(azimuth_deg)
    return np.cos(a) * t + np.sin(a) * (np.cos(z) * u + np.sin(z) * w)


@dataclass
class RayHits:
    """Ray–ellipsoid intersections of a grid of pixel rays.

    Attributes:
        hit: bool mask (grid shape).
        point_body_km: body-fixed surface points (grid + (3,)); NaN where no hit.
        cos_emission, cos_incidence: cosines at the surface (0 where no hit; incidence may be negative).
    """

    hit: np.ndarray
    point_body_km: np.ndarray
    cos_emission: np.ndarray
    cos_incidence: np.ndarray


def intersect(view: ViewGeometry, sample_px: np.ndarray, line_px: np.ndarray) -> RayHits:
    """Intersect the rays of the given pixel coordinates (any equal shapes) with Io's ellipsoid."""
    radii = np.asarray(view.radii_km, dtype=float)
    cam_to_body = view.body_to_cam.T
    origin_b = cam_to_body @ (-view.center_cam_km)  # camera position, body frame, km
    d_b = pixel_ray(sample_px, line_px) @ view.body_to_cam  # = (cam_to_body @ d) row-wise
    o = origin_b / radii
    d = d_b / radii
    qa = np.sum(d * d, axis=-1)
    qb = d @ o
    qc = o @ o - 1.0
    disc = qb * qb - qa * qc
    hit = disc > 0.0
    t = np.where(hit, (-qb - np.sqrt(np.where(hit, disc, 0.0))) / qa, np.nan)
    p = origin_b + t[..., None] * d_b
    n = p / radii**2
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    cos_e = np.where(hit, -np.sum(n * d_b, axis=-1), 0.0)
    sun_b = cam_to_body @ view.sun_dir_cam
    cos_i = np.where(hit, n @ sun_b, 0.0)
    return RayHits(hit=hit, point_body_km=p, cos_emission=cos_e, cos_incidence=cos_i)


def surface_normals(points_body_km: np.ndarray, radii_km=IO_RADII_KM) -> np.ndarray:
    """Outward unit normals of the ellipsoid at body-fixed points (..., 3)."""
    n = np.asarray(points_body_km) / np.asarray(radii_km, dtype=float) ** 2
    return n / np.linalg.norm(n, axis=-1, keepdims=True)


def random_surface_points(rng: np.random.Generator, n: int, radii_km=IO_RADII_KM) -> np.ndarray:
    """``n`` points on the ellipsoid, uniform in direction from the centre (body frame, km)."""
    u = rng.normal(size=(n, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    return u / np.sqrt(np.sum(u**2 / np.asarray(radii_km) ** 2, axis=1, keepdims=True))


def visible_points(view: ViewGeometry, points_body_km: np.ndarray) -> dict[str, np.ndarray]:
    """Pixel position, emission and visibility of body-fixed points (convex body: visible iff cos e > 0)."""
    p_cam = points_body_km @ view.body_to_cam.T + view.center_cam_km
    n_cam = surface_normals(points_body_km, view.radii_km) @ view.body_to_cam.T
    to_cam = -p_cam / np.linalg.norm(p_cam, axis=1, keepdims=True)
    cos_e = np.sum(n_cam * to_cam, axis=1)
    sample, line = project_to_pixel(p_cam)
    return {"sample": sample, "line": line, "cos_emission": cos_e, "visible": cos_e > 0.0}


def lat_lon(points_body_km: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Planetocentric latitude °N and west longitude °W (0–360) of body-fixed points."""
    p = np.asarray(points_body_km)
    lat_pc = np.degrees(np.arctan2(p[..., 2], np.hypot(p[..., 0], p[..., 1])))
    lon_w = (-np.degrees(np.arctan2(p[..., 1], p[..., 0]))) % 360.0
    return lat_pc, lon_w
