"""The optimised camera/ellipsoid/backplane code against plain, obviously-correct reference formulas."""

from __future__ import annotations

import numpy as np
import pytest

from ioscan import body as iobody
from ioscan.geometry.backplanes import REGISTRY, lat_pg_deg_components
from ioscan.geometry.camera import FrameCamera
from ioscan.geometry.ellipsoid import (
    intersect_components,
    intersect_rays,
    limb_distance_grid,
    limb_distance_px,
    limb_quadric,
)
from ioscan.geometry.pose import CameraPose, backplanes_from_pose, backplanes_from_rays
from ioscan.instruments.jiram import PIXEL_AXES
from ioscan.simulate.ephemeris import point_at_io


def _reference_backplanes(camera: FrameCamera, pose: CameraPose) -> dict[str, np.ndarray]:
    """Per-pixel geometry from the textbook formulas (np.cross, np.linalg.norm, body.py conversions)."""
    rays = camera.rays() @ pose.inst_to_body.T
    pts, hit = intersect_rays(pose.observer_km, rays, iobody.IO.radii_km)
    normal = iobody.surface_normal(pts)
    to_obs, to_sun = pose.observer_km - pts, pose.sun_km - pts

    def ang(u, v):
        return np.degrees(np.arctan2(np.linalg.norm(np.cross(u, v), axis=-1), np.sum(u * v, axis=-1)))

    return {
        "lat_deg": iobody.vector_to_lat_pg_deg(pts),
        "lat_pc_deg": iobody.vector_to_lat_pc_deg(pts),
        "lon_w_deg": iobody.vector_to_lon_w_deg(pts),
        "emission_deg": ang(normal, to_obs),
        "incidence_deg": ang(normal, to_sun),
        "phase_deg": ang(to_obs, to_sun),
        "range_km": np.linalg.norm(to_obs, axis=-1),
        "on_disk": hit.astype(float),
    }


@pytest.mark.parametrize("range_km", [2500.0, 40000.0, 400000.0])
@pytest.mark.parametrize("twist", [0.0, 37.0])
def test_backplanes_from_pose_equal_reference(range_km, twist):
    rng = np.random.default_rng(int(range_km) + int(twist))
    u = rng.normal(size=3)
    obs = range_km * u / np.linalg.norm(u)
    cam = FrameCamera(  # JIRAM's pixel axes, which point_at_io's attitude is built for
        n_samples=200,
        n_lines=90,
        ifov_rad=0.000237767 * (1 + range_km / 3e4),
        center_sample=99.5,
        center_line=44.5,
        sample_axis=PIXEL_AXES.sample_axis,
        line_axis=PIXEL_AXES.line_axis,
        twist_deg=twist,
    )
    pose = CameraPose(
        obs, point_at_io(obs, 10.0, target_km=[300.0, -200.0, 100.0]), np.array([7e8, 2e8, 1e7])
    )
    fast = backplanes_from_pose(cam, pose)
    ref = _reference_backplanes(cam, pose)
    assert list(fast.arrays) == list(REGISTRY)
    assert np.array_equal(fast["on_disk"], ref["on_disk"])
    on = fast.on_disk
    assert on.any() if range_km > 3000 else True
    # 1e-8° (0.3 mm on Io): at 400,000 km one pixel grazes the limb (0.002 px, emission 87°), where rounding
    # in the intercept is amplified to ~3e-9°
    for name, tol in (
        ("lat_deg", 1e-8),
        ("lat_pc_deg", 1e-8),
        ("lon_w_deg", 1e-8),
        ("emission_deg", 1e-6),
        ("incidence_deg", 1e-6),
        ("phase_deg", 1e-6),
        ("range_km", 1e-7 * range_km),
    ):
        assert np.all(np.isnan(fast[name][~on]))
        diff = fast[name][on] - ref[name][on]
        if name == "lon_w_deg":
            diff = (diff + 180.0) % 360.0 - 180.0
        assert np.max(np.abs(diff), initial=0.0) < tol, name
    assert np.allclose(fast["pixel_scale_km"][on], fast["range_km"][on] * cam.ifov_rad)
    # rays path gives the same
    viar = backplanes_from_rays(cam, obs, cam.rays() @ pose.inst_to_body.T, pose.sun_km, pose.inst_to_body)
    for name in REGISTRY:
        assert np.allclose(viar[name], fast[name], equal_nan=True, rtol=1e-12, atol=1e-9), name


def test_limb_grid_equals_limb_distance_px():
    obs = np.array([3000.0, 1000.0, -500.0])
    cam = FrameCamera(
        n_samples=120, n_lines=60, ifov_rad=0.004, center_sample=59.5, center_line=29.5, twist_deg=12
    )
    m = point_at_io(obs, 0.0, target_km=[0.0, 1500.0, 0.0])
    q = limb_quadric(obs, iobody.IO.radii_km)
    u_s, u_l, b = cam.axes()
    ref = limb_distance_px(q, cam.rays() @ m.T, m @ u_s * cam.ifov_rad, m @ u_l * cam.ifov_rad)
    grid = limb_distance_grid(
        q, m @ b, m @ u_s * cam.ifov_rad, m @ u_l * cam.ifov_rad, np.arange(120) - 59.5, np.arange(60) - 29.5
    )
    assert np.allclose(grid, ref, atol=1e-9)
    assert (ref > 0).any() and (ref < 0).any()


def _conic_distance_grid(conic: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Signed second-order distance to the conic xᵀCx = 0 of every pixel centre, as limbfit measures it."""
    from ioscan.geometry.limbfit import _conic_distance

    ll, ss = np.mgrid[0 : shape[0], 0 : shape[1]]
    return _conic_distance(conic, np.column_stack([ss.ravel(), ll.ravel()]).astype(float))[0].reshape(shape)


def test_limb_conic_is_the_curve_limb_distance_measures():
    """The conic a backplane carries reproduces its limb_distance_px; on it, rays graze the ellipsoid."""
    obs = np.array([3000.0, 1000.0, -500.0])
    cam = FrameCamera(
        n_samples=120, n_lines=60, ifov_rad=0.004, center_sample=59.5, center_line=29.5, twist_deg=12
    )
    pose = CameraPose(obs, point_at_io(obs, 0.0, target_km=[0.0, 1500.0, 0.0]), np.array([7e8, 0.0, 0.0]))
    bp = backplanes_from_pose(cam, pose)
    conic = bp.limb_conic_px
    assert conic.shape == (3, 3) and np.allclose(conic, conic.T) and np.linalg.norm(conic) == pytest.approx(1)
    assert np.allclose(_conic_distance_grid(conic, (60, 120)), bp["limb_distance_px"], atol=1e-9)
    # points on the conic: their rays meet the ellipsoid tangentially (discriminant 0, relative to |d|²)
    s = np.linspace(0.0, 119.0, 400)
    a, b, c = conic[1, 1], 2 * (conic[0, 1] * s + conic[1, 2]), conic[0, 0] * s * s + 2 * conic[0, 2] * s
    c = c + conic[2, 2]
    disc = b * b - 4 * a * c
    ok = disc >= 0
    line = (-b[ok] + np.sqrt(disc[ok])) / (2 * a)
    rays = cam.rays(s[ok], line) @ pose.inst_to_body.T
    _, disc_over_qa = intersect_components(tuple(obs), tuple(rays.T.copy()), iobody.IO.radii_km)
    assert ok.sum() > 50 and np.max(np.abs(disc_over_qa)) < 1e-9


def test_intersect_components_equals_intersect_rays():
    rng = np.random.default_rng(3)
    obs = np.array([0.0, -5000.0, 800.0])
    d = rng.normal(size=(5000, 3)) * 0.3 + (-obs / np.linalg.norm(obs))
    pts, hit = intersect_rays(obs, d, iobody.IO.radii_km)
    t, disc = intersect_components(tuple(obs), tuple(d.T.copy()), iobody.IO.radii_km)
    assert np.array_equal(np.isfinite(t), hit) and hit.any() and (~hit).any()
    assert np.allclose(obs + t[hit, None] * d[hit], pts[hit], atol=1e-9)
    assert np.all(disc[hit] >= 0) and np.all(disc[~hit & (d @ obs < 0)] < 0)


def test_fast_planetographic_latitude_equals_recpgr_definition():
    rng = np.random.default_rng(5)
    u = rng.normal(size=(4000, 3))
    pts = iobody.surface_point_from_lat_pc(iobody.vector_to_lat_pc_deg(u), iobody.vector_to_lon_w_deg(u))
    pts *= rng.uniform(0.995, 1.005, size=(4000, 1))  # also slightly off the surface
    fast = lat_pg_deg_components(*pts.T.copy())
    assert np.max(np.abs(fast - iobody.vector_to_lat_pg_deg(pts))) < 1e-8  # 1e-8° = 0.3 mm
    assert lat_pg_deg_components(np.array([0.0]), np.array([0.0]), np.array([1815.7]))[0] == pytest.approx(
        90.0
    )


def test_camera_caches_are_consistent():
    cam = FrameCamera(n_samples=7, n_lines=5, ifov_rad=0.01, center_sample=3.0, center_line=2.0, twist_deg=20)
    rays = cam.rays()
    assert np.allclose(cam.ray_norms(), np.linalg.norm(rays, axis=-1).ravel())
    m = point_at_io([100.0, 2000.0, 3.0], 5.0)
    comps = cam.rotated_ray_components(m, offset=(1e-4, -2e-4, 3e-4))
    r = rays.reshape(-1, 3)
    expect = r @ m.T - np.linalg.norm(r, axis=-1)[:, None] * np.array([1e-4, -2e-4, 3e-4])
    assert np.allclose(np.column_stack(comps), expect, atol=1e-15)
    with pytest.raises(ValueError):
        cam.pixel_offsets()[0][0] = 1.0  # cached arrays are read-only
