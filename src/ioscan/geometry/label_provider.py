"""Backplanes from label / header geometry (ground-based FITS headers, some JIRAM labels).

The label gives the sub-observer and sub-solar points (planetographic °N, west °W), the range to Io's centre,
the position angle of Io's north pole, the pixel scale at the disk centre and the disk-centre pixel.

Model: the sub-observer point is SPICE's "NEAR POINT/ELLIPSOID" sub-observer point, so the observer lies on
the surface normal there, at ``range_km`` from Io's centre. The camera is a pinhole whose boresight goes
through Io's centre at the disk-centre pixel, with IFOV = pixel_scale_km / range_km. The Sun lies along the
normal at the sub-solar point, 5.2 au away. No aberration correction (the label values are apparent ones).
"""

from __future__ import annotations

import numpy as np

from ioscan import body as iobody
from ioscan.errors import GeometryError
from ioscan.geometry.backplanes import SUN_IO_DISTANCE_KM, Backplanes
from ioscan.geometry.camera import FrameCamera
from ioscan.geometry.pose import CameraPose, backplanes_from_pose
from ioscan.records import LabelGeometry


def _position_along_normal(lat_deg: float, lon_w_deg: float, distance_km: float, body: iobody.Ellipsoid):
    """Point at ``distance_km`` from Io's centre on the surface normal of the planetographic point."""
    p = iobody.surface_point_from_lat_pg(lat_deg, lon_w_deg, body)
    n = iobody.surface_normal(p, body)
    pn = float(p @ n)
    h = -pn + np.sqrt(pn * pn - float(p @ p) + distance_km**2)
    return p + h * n


def pose_from_label(
    geom: LabelGeometry, time_utc: str = "", body: iobody.Ellipsoid = iobody.IO
) -> CameraPose:
    """Camera pose implied by label geometry (see module docstring for the model)."""
    if not np.isfinite(geom.range_km) or geom.range_km <= body.a_km:
        raise GeometryError(f"label range {geom.range_km} km puts the observer inside Io")
    observer = _position_along_normal(
        geom.sub_observer_lat_deg, geom.sub_observer_lon_w_deg, geom.range_km, body
    )
    sun = _position_along_normal(geom.sub_solar_lat_deg, geom.sub_solar_lon_w_deg, SUN_IO_DISTANCE_KM, body)
    b = -observer / np.linalg.norm(observer)
    pole = np.array([0.0, 0.0, 1.0])
    p = pole - (pole @ b) * b
    if np.linalg.norm(p) < 1e-9:  # looking down a pole: use the prime meridian as "north"
        p = np.array([1.0, 0.0, 0.0]) - b[0] * b
    p /= np.linalg.norm(p)
    q = np.cross(b, p)
    pa = np.radians(geom.north_pa_deg)
    u_s = -np.sin(pa) * p + np.cos(pa) * q
    u_l = -np.cos(pa) * p - np.sin(pa) * q
    return CameraPose(
        observer_km=observer,
        inst_to_body=np.column_stack([u_s, u_l, b]),
        sun_km=sun,
        time_utc=time_utc,
        abcorr="NONE",
    )


def camera_from_label(geom: LabelGeometry, n_samples: int, n_lines: int) -> FrameCamera:
    """Pinhole camera with IFOV = pixel scale / range, boresight at the disk-centre pixel."""
    return FrameCamera(
        n_samples=n_samples,
        n_lines=n_lines,
        ifov_rad=geom.pixel_scale_km / geom.range_km,
        center_sample=geom.disk_center_sample,
        center_line=geom.disk_center_line,
    )


def backplanes_from_label(
    geom: LabelGeometry, n_samples: int, n_lines: int, time_utc: str = "", body: iobody.Ellipsoid = iobody.IO
) -> Backplanes:
    """All backplanes of an image of ``n_lines`` × ``n_samples`` pixels from label geometry."""
    camera = camera_from_label(geom, n_samples, n_lines)
    return backplanes_from_pose(
        camera, pose_from_label(geom, time_utc, body), body=body, meta={"provider": "label", "abcorr": "NONE"}
    )
