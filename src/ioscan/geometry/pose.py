"""Camera pose in Io's body frame, and backplanes from a pose (no aberration: geometric rays)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ioscan import body as iobody
from ioscan.errors import GeometryError
from ioscan.geometry.backplanes import Backplanes, surface_backplanes
from ioscan.geometry.camera import FrameCamera
from ioscan.geometry.ellipsoid import intersect_rays, limb_distance_px, limb_quadric


@dataclass
class CameraPose:
    """Where the camera is and where it looks, in the IAU_IO body frame at the target epoch.

    Attributes:
        observer_km: observer position relative to Io's centre, km (3,).
        inst_to_body: 3×3 matrix rotating instrument-frame vectors into the body frame.
        sun_km: Sun position relative to Io's centre, km (3,).
        time_utc: observation time, ISO UTC.
        abcorr: aberration correction applied when the pose was built ("NONE", "LT+S").
    """

    observer_km: np.ndarray
    inst_to_body: np.ndarray
    sun_km: np.ndarray
    time_utc: str = ""
    abcorr: str = "NONE"


def check_observer_outside(observer_km: np.ndarray, body: iobody.Ellipsoid = iobody.IO, what: str = "") -> None:
    """Raise GeometryError if the observer is inside (or on) the ellipsoid."""
    if float(np.sum((np.asarray(observer_km) / body.radii_km) ** 2)) <= 1.0:
        raise GeometryError(f"observer is inside Io's ellipsoid{(' ' + what) if what else ''}")


def backplanes_from_rays(
    camera: FrameCamera,
    observer_km: np.ndarray,
    rays_body: np.ndarray,
    sun_km: np.ndarray,
    inst_to_body: np.ndarray,
    *,
    body: iobody.Ellipsoid = iobody.IO,
    meta: dict | None = None,
) -> Backplanes:
    """Backplanes from per-pixel body-frame rays (which a provider may have corrected for aberration)."""
    check_observer_outside(observer_km, body, meta.get("what", "") if meta else "")
    points, hit = intersect_rays(observer_km, rays_body, body.radii_km)
    u_s, u_l, _ = camera.axes()
    q = limb_quadric(observer_km, body.radii_km)
    limb = limb_distance_px(
        q, rays_body, inst_to_body @ u_s * camera.ifov_rad, inst_to_body @ u_l * camera.ifov_rad
    )
    arrays = surface_backplanes(points, hit, observer_km, sun_km, camera.ifov_rad, limb, body)
    return Backplanes(arrays=arrays, meta=dict(meta or {}))


def backplanes_from_pose(
    camera: FrameCamera, pose: CameraPose, *, body: iobody.Ellipsoid = iobody.IO, meta: dict | None = None
) -> Backplanes:
    """Backplanes of every pixel of ``camera`` placed at ``pose``."""
    rays_body = camera.rays() @ pose.inst_to_body.T
    info = {"time_utc": pose.time_utc, "abcorr": pose.abcorr}
    info.update(meta or {})
    return backplanes_from_rays(
        camera, pose.observer_km, rays_body, pose.sun_km, pose.inst_to_body, body=body, meta=info
    )


def project_points(camera: FrameCamera, pose: CameraPose, points_km: np.ndarray):
    """Body-frame points (..., 3) → (sample, line, visible) where visible means in front of the camera,
    on the observer-facing side of the ellipsoid (emission < 90°) — used by the simulator and the tracker."""
    points = np.asarray(points_km, dtype=float)
    rel = points - pose.observer_km
    inst = rel @ pose.inst_to_body  # body → instrument (transpose)
    sample, line, front = camera.project(inst)
    normal = iobody.surface_normal(points)
    facing = np.sum(normal * (-rel), axis=-1) > 0
    return sample, line, front & facing
