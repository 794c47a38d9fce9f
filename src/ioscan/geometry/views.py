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
        ``pixel_scale_km`` (NaN off the disk) and ``on_disk`` (bool)."""
        s = np.asarray(sample, dtype=float)
        ln = np.asarray(line, dtype=float)
        shape = np.broadcast(s, ln).shape
        rays = self.camera.rays(np.broadcast_to(s, shape).ravel(), np.broadcast_to(ln, shape).ravel())
        d = rays @ self.pose.inst_to_body.T
        d = d / np.linalg.norm(d, axis=-1, keepdims=True)
        o = tuple(float(v) for v in self.pose.observer_km)
        t, _ = intersect_components(o, (d[:, 0], d[:, 1], d[:, 2]), body.radii_km)
        hit = np.isfinite(t)
        p = np.asarray(o) + t[:, None] * d
        normal = p / body.radii_km**2
        normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
        to_sun = np.asarray(self.pose.sun_km, dtype=float) - p
        to_sun /= np.linalg.norm(to_sun, axis=-1, keepdims=True)

        def angle(u, v):
            return np.degrees(np.arccos(np.clip(np.sum(u * v, axis=-1), -1.0, 1.0)))

        out = {
            "lat_deg": lat_pg_deg_components(p[:, 0], p[:, 1], p[:, 2], body),
            "lon_w_deg": np.asarray(iobody.vector_to_lon_w_deg(p), dtype=float) % 360.0,
            "emission_deg": angle(normal, -d),
            "incidence_deg": angle(normal, to_sun),
            "phase_deg": angle(-d, to_sun),
            "range_km": t,
            "pixel_scale_km": t * self.camera.ifov_rad,
        }
        for key, val in out.items():
            out[key] = np.where(hit, val, np.nan).reshape(shape)
        out["on_disk"] = hit.reshape(shape)
        return out

    def pixels_per_km(self, points_km: np.ndarray) -> np.ndarray:
        """(..., 2, 2) Jacobian d(sample, line)/d(north km, east km) at surface points (tangent plane)."""
        p = np.asarray(points_km, dtype=float)
        n_hat = iobody.surface_normal(p)
        z = np.array([0.0, 0.0, 1.0])
        east = np.cross(z, n_hat)
        bad = np.linalg.norm(east, axis=-1) < 1e-9
        east[bad] = np.array([0.0, 1.0, 0.0])
        east /= np.linalg.norm(east, axis=-1, keepdims=True)
        north = np.cross(n_hat, east)
        s0, l0, _ = self.project(p)
        sn, ln_, _ = self.project(p + north)
        se, le, _ = self.project(p + east)
        return np.stack([np.stack([sn - s0, se - s0], -1), np.stack([ln_ - l0, le - l0], -1)], -2)
