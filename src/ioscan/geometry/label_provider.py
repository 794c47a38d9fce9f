"""Backplanes from label / header geometry (ground-based FITS headers, some JIRAM labels).

The label gives the sub-observer and sub-solar points (planetographic °N, west °W), the range to Io's centre,
the position angle of Io's north pole, the pixel scale at the disk centre and the disk-centre pixel.

Model: the sub-observer point is SPICE's "NEAR POINT/ELLIPSOID" sub-observer point, so the observer lies on
the surface normal there, at ``range_km`` from Io's centre. The camera is a pinhole whose boresight goes
through Io's centre at the disk-centre pixel, with IFOV = pixel_scale_km / range_km. The Sun lies along the
normal at the sub-solar point, 5.2 au away. No aberration correction (the label values are apparent ones).

The north position angle is measured on the image (from −line toward −sample), so the label alone does not say
whether the image shows the scene as seen along the boresight or mirrored: ``axes`` gives the instrument's
pixel-axis convention (:data:`~ioscan.geometry.camera.DIRECT_VIEW_AXES` for ground-based images, which are
direct views; ``ioscan.instruments.jiram.PIXEL_AXES`` for JIRAM products, which are mirrored).
"""

from __future__ import annotations

import numpy as np

from ioscan import body as iobody
from ioscan.errors import GeometryError
from ioscan.geometry.backplanes import SUN_IO_DISTANCE_KM, Backplanes
from ioscan.geometry.camera import DIRECT_VIEW_AXES, FrameCamera, PixelAxes, image_directions
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
    geom: LabelGeometry,
    time_utc: str = "",
    body: iobody.Ellipsoid = iobody.IO,
    *,
    axes: PixelAxes = DIRECT_VIEW_AXES,
) -> CameraPose:
    """Camera pose implied by label geometry for a camera with pixel axes ``axes`` (module docstring)."""
    if not np.isfinite(geom.range_km) or geom.range_km <= body.a_km:
        raise GeometryError(f"label range {geom.range_km} km puts the observer inside Io")
    observer = _position_along_normal(
        geom.sub_observer_lat_deg, geom.sub_observer_lon_w_deg, geom.range_km, body
    )
    sun = _position_along_normal(geom.sub_solar_lat_deg, geom.sub_solar_lon_w_deg, SUN_IO_DISTANCE_KM, body)
    b = -observer / np.linalg.norm(observer)
    # looking down a pole, the prime meridian (body +X) plays "north"
    u_s, u_l = image_directions(b, (0.0, 0.0, 1.0), geom.north_pa_deg, mirrored=axes.mirrored)
    return CameraPose(
        observer_km=observer,
        inst_to_body=axes.instrument_to(u_s, u_l, b),
        sun_km=sun,
        time_utc=time_utc,
        abcorr="NONE",
    )


def camera_from_label(
    geom: LabelGeometry, n_samples: int, n_lines: int, *, axes: PixelAxes = DIRECT_VIEW_AXES
) -> FrameCamera:
    """Pinhole camera with IFOV = pixel scale / range, boresight at the disk-centre pixel, axes ``axes``."""
    return FrameCamera.with_axes(
        axes,
        n_samples=n_samples,
        n_lines=n_lines,
        ifov_rad=geom.pixel_scale_km / geom.range_km,
        center_sample=geom.disk_center_sample,
        center_line=geom.disk_center_line,
    )


def backplanes_from_label(
    geom: LabelGeometry,
    n_samples: int,
    n_lines: int,
    time_utc: str = "",
    body: iobody.Ellipsoid = iobody.IO,
    *,
    axes: PixelAxes = DIRECT_VIEW_AXES,
) -> Backplanes:
    """All backplanes of an image of ``n_lines`` × ``n_samples`` pixels from label geometry (pixel axes
    ``axes``: see the module docstring)."""
    camera = camera_from_label(geom, n_samples, n_lines, axes=axes)
    return backplanes_from_pose(
        camera,
        pose_from_label(geom, time_utc, body, axes=axes),
        body=body,
        meta={"provider": "label", "abcorr": "NONE"},
    )
