"""Camera pose in Io's body frame, and backplanes from a pose (no aberration: geometric rays)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ioscan import body as iobody
from ioscan.errors import GeometryError
from ioscan.geometry.backplanes import REGISTRY, Backplanes, surface_arrays
from ioscan.geometry.camera import FrameCamera
from ioscan.geometry.ellipsoid import intersect_components, limb_distance_grid, limb_quadric


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


def check_observer_outside(
    observer_km: np.ndarray, body: iobody.Ellipsoid = iobody.IO, what: str = ""
) -> None:
    """Raise GeometryError if the observer is inside (or on) the ellipsoid."""
    if float(np.sum((np.asarray(observer_km) / body.radii_km) ** 2)) <= 1.0:
        raise GeometryError(f"observer is inside Io's ellipsoid{(' ' + what) if what else ''}")


def _limb_grid(camera: FrameCamera, observer_km, inst_to_body, radii_km, extra=None) -> np.ndarray:
    """Signed limb distance of every pixel (rays linear in pixel coordinates), pixels."""
    return _limb_grid_of_rays(camera, _limb_rays(camera, observer_km, inst_to_body, radii_km, extra))


def _limb_grid_of_rays(camera: FrameCamera, rays: tuple) -> np.ndarray:
    """:func:`_limb_grid` of the rays :func:`_limb_rays` made (which :func:`limb_conic_px` can share)."""
    d0, d_s, d_l, q = rays
    s = np.arange(camera.n_samples, dtype=float) - camera.center_sample
    l = np.arange(camera.n_lines, dtype=float) - camera.center_line
    return limb_distance_grid(q, d0, d_s, d_l, s, l)


def _limb_rays(camera: FrameCamera, observer_km, inst_to_body, radii_km, extra=None, quadric=None):
    """(ray at the optical centre, its derivatives per sample and per line, limb quadric), body frame:
    the ray of pixel (s, l) is d0 + (s − center_sample)·d_s + (l − center_line)·d_l. ``quadric``: the
    observer's :func:`limb_quadric` when made already (it depends on the observer alone)."""
    u_s, u_l, b = camera.axes()
    m = np.asarray(inst_to_body, dtype=float)
    d0 = m @ b - (0.0 if extra is None else extra)
    q = limb_quadric(np.asarray(observer_km, dtype=float), radii_km) if quadric is None else quadric
    return d0, m @ u_s * camera.ifov_rad, m @ u_l * camera.ifov_rad, q


def limb_conic_px(camera: FrameCamera, observer_km, inst_to_body, radii_km, extra=None) -> np.ndarray:
    """The limb as an image conic: 3×3 C with xᵀCx = dᵀQd for x = (sample, line, 1) (> 0 on the disk),
    normalised to unit Frobenius norm; the same rays as :func:`_limb_grid` (``extra``: see there)."""
    return _limb_conic_of_rays(camera, _limb_rays(camera, observer_km, inst_to_body, radii_km, extra))


def _limb_conic_of_rays(camera: FrameCamera, rays: tuple) -> np.ndarray:
    """:func:`limb_conic_px` of the rays :func:`_limb_rays` made (which :func:`_limb_grid` can share)."""
    d0, d_s, d_l, q = rays
    m = np.column_stack([d_s, d_l, d0 - camera.center_sample * d_s - camera.center_line * d_l])
    c = m.T @ q @ m
    c = 0.5 * (c + c.T)
    return c / float(np.sqrt(np.sum(c * c)))


def _scatter_layers(shape, idx, hit, surf: dict) -> dict[str, np.ndarray]:
    """Per-candidate surface arrays as full images (NaN off the disk; ``idx`` None: a candidate per pixel,
    the arrays themselves are written). Each image in one compiled pass
    (:func:`ioscan.geometry.compiled.scatter_candidates`: the values of ``np.full(n, nan); out[idx] = v;
    out[idx[~hit]] = nan``, NaN for NaN; :func:`~ioscan.geometry.compiled.nan_where_missed` without
    ``idx``)."""
    from ioscan.geometry.compiled import nan_where_missed, readonly, readonly_index, scatter_candidates

    n = shape[0] * shape[1]
    arrays = {}
    if not surf:
        return arrays
    hit_ro = readonly(hit)[0]
    if idx is None:
        missed = not hit.all()
    else:
        idx_ro = readonly_index(idx)
    for name, v in surf.items():
        if idx is None:
            out = v
            if (
                missed
                and out.dtype == np.float64
                and out.ndim == 1
                and out.flags.c_contiguous
                and out.flags.writeable
            ):
                nan_where_missed(out, hit_ro)
            elif missed:
                out[~hit] = np.nan
        else:
            out = scatter_candidates(n, idx_ro, hit_ro, *readonly(v))
        arrays[name] = out.reshape(shape)
    return arrays


def _scatter_layers_numpy(shape, idx, hit, surf: dict) -> dict[str, np.ndarray]:
    """:func:`_scatter_layers` in numpy (its reference in the tests)."""
    n = shape[0] * shape[1]
    arrays = {}
    for name, v in surf.items():
        if idx is None:
            out = v
            if not hit.all():
                out[~hit] = np.nan
        else:
            out = np.full(n, np.nan)
            out[idx] = v
            out[idx[~hit]] = np.nan
        arrays[name] = out.reshape(shape)
    return arrays


def _assemble(shape, idx, hit, surf: dict, limb: np.ndarray) -> dict[str, np.ndarray]:
    """Scatter per-candidate surface arrays into full images (NaN off the disk) in REGISTRY order."""
    n = shape[0] * shape[1]
    on = np.zeros(n)
    if idx is None:
        on[hit] = 1.0
    else:
        on[idx[hit]] = 1.0
    arrays = _scatter_layers(shape, idx, hit, surf)
    arrays["on_disk"] = on.reshape(shape)
    arrays["limb_distance_px"] = limb
    return {name: arrays[name] for name in REGISTRY}


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
    shape = (camera.n_lines, camera.n_samples)
    r = np.asarray(rays_body, dtype=float).reshape(-1, 3)
    d = tuple(np.ascontiguousarray(r[:, k]) for k in range(3))
    return _backplanes_from_components(camera, observer_km, d, sun_km, inst_to_body, body, shape, meta)


def _backplanes_from_components(
    camera, observer_km, d, sun_km, inst_to_body, body, shape, meta
) -> Backplanes:
    o = tuple(float(v) for v in np.asarray(observer_km, dtype=float))
    t, _ = intersect_components(o, d, body.radii_km)
    hit = np.isfinite(t)
    n = hit.size
    idx = None
    if hit.sum() < 0.6 * n:
        idx = np.flatnonzero(hit)
        t = t[idx]
        d = tuple(c[idx] for c in d)
        hit = np.ones(idx.size, dtype=bool)
    p = tuple(o[k] + t * d[k] for k in range(3))
    sun = np.asarray(sun_km, dtype=float)
    to_obs = tuple(o[k] - p[k] for k in range(3))
    to_sun = tuple(sun[k] - p[k] for k in range(3))
    rng = np.sqrt(to_obs[0] ** 2 + to_obs[1] ** 2 + to_obs[2] ** 2)
    surf = surface_arrays(
        p, to_obs, to_sun, rng, camera.ifov_rad, float(iobody.vector_to_lon_w_deg(sun)), body
    )
    limb = _limb_grid(camera, observer_km, inst_to_body, body.radii_km)
    return Backplanes(
        arrays=_assemble(shape, idx, hit, surf, limb),
        meta=dict(meta or {}),
        limb_conic_px=limb_conic_px(camera, observer_km, inst_to_body, body.radii_km),
    )


def backplanes_from_pose(
    camera: FrameCamera, pose: CameraPose, *, body: iobody.Ellipsoid = iobody.IO, meta: dict | None = None
) -> Backplanes:
    """Backplanes of every pixel of ``camera`` placed at ``pose``."""
    info = {"time_utc": pose.time_utc, "abcorr": pose.abcorr}
    info.update(meta or {})
    check_observer_outside(pose.observer_km, body, info.get("what", ""))
    d = camera.rotated_ray_components(pose.inst_to_body)
    return _backplanes_from_components(
        camera,
        pose.observer_km,
        d,
        pose.sun_km,
        pose.inst_to_body,
        body,
        (camera.n_lines, camera.n_samples),
        info,
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
