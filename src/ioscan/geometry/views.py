"""A band's pinhole geometry (camera + pose) as a function of any pixel, inside the image or not.

Backplanes give the geometry of the image's own pixels; registration and the propagation of a pointing
uncertainty need it where the scene would be under another pointing, up to ~150 px outside the frame. A
:class:`View` answers both ways: :meth:`View.project` puts surface points on pixels, :meth:`View.surface`
intersects pixel rays with Io's ellipsoid (no aberration beyond what the pose folds in: SPICE poses are exact
at the boresight and < 0.1 px off across a JIRAM band).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ioscan import body as iobody
from ioscan.geometry.backplanes import lat_pg_deg_components
from ioscan.geometry.camera import FrameCamera
from ioscan.geometry.ellipsoid import intersect_components
from ioscan.geometry.pose import CameraPose, project_points

#: degrees per radian, as ``np.degrees`` multiplies by it
_DEG_PER_RAD = 180.0 / np.pi


@dataclass
class View:
    """One band's camera and pose (IAU_IO, target epoch)."""

    camera: FrameCamera
    pose: CameraPose

    @property
    def shape(self) -> tuple[int, int]:
        """(n_lines, n_samples) of the band image."""
        return self.camera.n_lines, self.camera.n_samples

    def project(self, points_km: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Body-frame points (..., 3) → (sample, line, visible): visible = in front of the camera and on the
        observer-facing side of Io."""
        return project_points(self.camera, self.pose, points_km)

    def surface(self, sample, line, body: iobody.Ellipsoid = iobody.IO) -> dict[str, np.ndarray]:
        """Geometry where the rays of (sub-)pixels (any position, arrays of one shape) meet Io: ``lat_deg``
        (planetographic °N), ``lon_w_deg``, ``emission_deg``, ``incidence_deg``, ``phase_deg``, ``range_km``,
        ``pixel_scale_km`` (NaN off the disk) and ``on_disk`` (bool).

        Computed on contiguous x, y, z component arrays, the same operations in the same order as on (n, 3)
        vectors (sums over the components left to right), so the same values bit for bit: the arithmetic
        after the rays' rotation into the body frame in one compiled pass
        (:func:`ioscan.geometry.compiled.view_surface_terms`), the transcendental functions (arctan2,
        arccos: numpy's own vectorised ones) in numpy, as :meth:`surface_numpy` takes every step."""
        from ioscan.geometry.compiled import readonly, view_surface_terms

        s = np.asarray(sample, dtype=float)
        ln = np.asarray(line, dtype=float)
        shape = np.broadcast(s, ln).shape
        rays = _camera_rays_compiled(
            self.camera, np.broadcast_to(s, shape).ravel(), np.broadcast_to(ln, shape).ravel()
        )
        d = np.ascontiguousarray((rays @ self.pose.inst_to_body.T).T)
        o = tuple(float(v) for v in self.pose.observer_km)
        w = 1.0 / np.asarray(body.radii_km, dtype=float) ** 2
        qc = o[0] * o[0] * w[0] + o[1] * o[1] * w[1] + o[2] * o[2] * w[2] - 1.0  # as intersect_components
        a = body.a_km
        c = a * (1.0 - body.flattening)
        e2 = 1.0 - (c / a) ** 2
        ep2 = (a / c) ** 2 - 1.0  # as lat_pg_deg_components
        t, x, y, num, den, ce, ci, cp = view_surface_terms(
            *readonly(d[0], d[1], d[2], np.asarray(o), w), float(qc),
            *readonly(body.radii_km**2, self.pose.sun_km), float(a), float(c), float(ep2 * c), float(-e2 * a),
        )  # fmt: skip
        hit = np.isfinite(t)
        lat = np.arctan2(num, den)
        lat *= _DEG_PER_RAD
        out = {
            "lat_deg": lat,
            "lon_w_deg": _lon_w_deg_inplace(np.arctan2(y, x)),
            "emission_deg": _arccos_deg(ce),
            "incidence_deg": _arccos_deg(ci),
            "phase_deg": _arccos_deg(cp),
            "range_km": t,
            "pixel_scale_km": t * self.camera.ifov_rad,
        }
        if not hit.all():  # NaN off the disk (np.where(hit, value, nan)'s bits), in place: fresh arrays
            miss = ~hit
            for val in out.values():
                np.copyto(val, np.nan, where=miss)
        for key, val in out.items():
            out[key] = val.reshape(shape)
        out["on_disk"] = hit.reshape(shape)
        return out

    def surface_numpy(self, sample, line, body: iobody.Ellipsoid = iobody.IO) -> dict[str, np.ndarray]:
        """:meth:`surface` by numpy's whole-array steps (the reference the tests compare it with)."""
        s = np.asarray(sample, dtype=float)
        ln = np.asarray(line, dtype=float)
        shape = np.broadcast(s, ln).shape
        rays = _camera_rays(
            self.camera, np.broadcast_to(s, shape).ravel(), np.broadcast_to(ln, shape).ravel()
        )
        d = list(np.ascontiguousarray((rays @ self.pose.inst_to_body.T).T))
        _normalise(d)
        o = tuple(float(v) for v in self.pose.observer_km)
        t, _ = intersect_components(o, tuple(d), body.radii_km)
        hit = np.isfinite(t)
        p = [o[j] + t * d[j] for j in range(3)]
        radii2 = body.radii_km**2
        normal = [p[j] / radii2[j] for j in range(3)]
        _normalise(normal)
        sun = np.asarray(self.pose.sun_km, dtype=float)
        to_sun = [sun[j] - p[j] for j in range(3)]
        _normalise(to_sun)
        back = [-dj for dj in d]  # towards the observer
        out = {
            "lat_deg": lat_pg_deg_components(p[0], p[1], p[2], body),
            "lon_w_deg": _lon_w_deg(p[0], p[1]),
            "emission_deg": _angle_deg(normal, back),
            "incidence_deg": _angle_deg(normal, to_sun),
            "phase_deg": _angle_deg(back, to_sun),
            "range_km": t,
            "pixel_scale_km": t * self.camera.ifov_rad,
        }
        everywhere = bool(hit.all())
        for key, val in out.items():
            out[key] = (val if everywhere else np.where(hit, val, np.nan)).reshape(shape)
        out["on_disk"] = hit.reshape(shape)
        return out

    def pixels_per_km(self, points_km: np.ndarray) -> np.ndarray:
        """(..., 2, 2) Jacobian d(sample, line)/d(north km, east km) at surface points (tangent plane)."""
        p = np.asarray(points_km, dtype=float)
        north, east = tangent_steps_km(p)
        s0, l0, _ = self.project(p)
        sn, ln_, _ = self.project(p + north)
        se, le, _ = self.project(p + east)
        return np.stack([np.stack([sn - s0, se - s0], -1), np.stack([ln_ - l0, le - l0], -1)], -2)


def tangent_steps_km(points_km: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(north, east): unit vectors (km) in the tangent planes of surface points ``points_km`` (..., 3), east
    along the body's +z × the surface normal (+y where that vanishes, at a pole), north = normal × east."""
    n_hat = iobody.surface_normal(points_km)
    z = np.array([0.0, 0.0, 1.0])
    east = np.cross(z, n_hat)
    bad = np.linalg.norm(east, axis=-1) < 1e-9
    east[bad] = np.array([0.0, 1.0, 0.0])
    east /= np.linalg.norm(east, axis=-1, keepdims=True)
    return np.cross(n_hat, east), east


def _dot(u: list[np.ndarray], v: list[np.ndarray]) -> np.ndarray:
    """Σ u_j·v_j over the three components, left to right (as ``np.sum(u * v, axis=-1)`` on (n, 3))."""
    out = u[0] * v[0]
    out += u[1] * v[1]
    out += u[2] * v[2]
    return out


def _normalise(v: list[np.ndarray]) -> None:
    """Divide three component arrays by their vectors' length, in place (as ``np.linalg.norm(axis=-1)``)."""
    length = np.sqrt(_dot(v, v))
    for component in v:
        component /= length


def _angle_deg(u: list[np.ndarray], v: list[np.ndarray]) -> np.ndarray:
    """Angle between unit vectors given as component arrays, degrees."""
    out = np.arccos(np.clip(_dot(u, v), -1.0, 1.0))
    out *= _DEG_PER_RAD
    return out


def _arccos_deg(cos: np.ndarray) -> np.ndarray:
    """arccos in degrees of clipped cosines, as :func:`_angle_deg` takes it (in place)."""
    out = np.arccos(cos, out=cos)
    out *= _DEG_PER_RAD
    return out


class PendingView(View):
    """A :class:`View` whose pose is made on its first read, by ``make_pose`` (the same pose; e.g.
    :meth:`ioscan.geometry.spice_provider.SpiceGeometry.pose_maker`): a navigation's predicted views, which a
    limb registration replaces without reading them. Pickled as a plain View, its pose made."""

    def __init__(self, camera: FrameCamera, make_pose):
        self.camera = camera
        self._make_pose = make_pose
        self._pose: CameraPose | None = None

    @property
    def pose(self) -> CameraPose:  # type: ignore[override]
        if self._pose is None:
            self._pose = self._make_pose()
            self._make_pose = None
        return self._pose

    @property
    def pose_pending(self) -> bool:
        """True while the pose is not made yet."""
        return self._pose is None

    def __reduce__(self):
        return View, (self.camera, self.pose)


def _camera_rays(camera: FrameCamera, sample: np.ndarray, line: np.ndarray) -> np.ndarray:
    """``camera.rays(sample, line)`` of flat arrays, (n, 3), built a component at a time (same values)."""
    if type(camera).rays is not FrameCamera.rays:  # a camera of its own rays
        return camera.rays(sample, line)
    u_s, u_l, b = camera.axes()
    ds = (sample - camera.center_sample) * camera.ifov_rad
    dl = (line - camera.center_line) * camera.ifov_rad
    rays = np.empty((ds.size, 3))
    for j in range(3):
        component = ds * u_s[j]
        component += b[j]
        component += dl * u_l[j]
        rays[:, j] = component
    return rays


def _camera_rays_compiled(camera: FrameCamera, sample: np.ndarray, line: np.ndarray) -> np.ndarray:
    """:func:`_camera_rays` in one compiled pass (:func:`ioscan.geometry.compiled.frame_camera_rays`: the
    same operations, the same values)."""
    if type(camera).rays is not FrameCamera.rays:  # a camera of its own rays
        return camera.rays(sample, line)
    from ioscan.geometry.compiled import frame_camera_rays, readonly

    u_s, u_l, b = camera.axes()
    return frame_camera_rays(
        *readonly(sample, line), float(camera.center_sample), float(camera.center_line),
        float(camera.ifov_rad), *readonly(u_s, b, u_l),
    )  # fmt: skip


def _lon_w_deg_inplace(lon: np.ndarray) -> np.ndarray:
    """:func:`_lon_w_deg`'s steps after its arctan2 (``lon`` = arctan2(y, x), a fresh array), in place:
    where(lon < 0, lon + 360, lon) as an addition where negative, where(lon ≥ 360, 0, lon) as a copy."""
    lon *= -_DEG_PER_RAD
    np.add(lon, 360.0, out=lon, where=lon < 0.0)
    lon += 0.0
    np.copyto(lon, 0.0, where=lon >= 360.0)
    return lon


def _lon_w_deg(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """West longitude in [0, 360) of body-frame points (x, y), as ``vector_to_lon_w_deg(p) % 360``: the
    east longitude's −[−180°, 180°] wrapped by one addition (no ``np.mod``; −0 → +0 as there)."""
    lon = np.arctan2(y, x)
    lon *= -_DEG_PER_RAD
    lon = np.where(lon < 0.0, lon + 360.0, lon)
    lon += 0.0
    return np.where(lon >= 360.0, 0.0, lon)
