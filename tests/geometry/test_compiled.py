"""The compiled geometry kernels (ioscan.geometry.compiled) give their numpy versions' numbers bit for bit,
and those numbers are right against independent references (SPICE's limb, the textbook distance)."""

from __future__ import annotations

import numpy as np
import pytest

from ioscan import body as iobody
from ioscan.geometry.camera import FrameCamera
from ioscan.geometry.ellipsoid import (
    limb_distance_grid,
    limb_distance_grid_numpy,
    limb_distance_px,
    limb_quadric,
)
from ioscan.simulate.ephemeris import point_at_io


def _views(n: int, seed: int = 3):
    """Random observers (far, close, inside the limb-cone's reach) pointed near Io, JIRAM-sized frames."""
    rng = np.random.default_rng(seed)
    for _ in range(n):
        rng_km = float(np.exp(rng.uniform(np.log(2500.0), np.log(8e5))))
        u = rng.normal(size=3)
        obs = rng_km * u / np.linalg.norm(u)
        cam = FrameCamera(
            n_samples=int(rng.integers(3, 440)),
            n_lines=int(rng.integers(2, 260)),
            ifov_rad=237.767e-6 * float(rng.uniform(0.5, 20.0)),
            center_sample=float(rng.uniform(-50, 480)),
            center_line=float(rng.uniform(-50, 300)),
            twist_deg=float(rng.uniform(-180, 180)),
        )
        m = point_at_io(obs, 0.0, target_km=rng.normal(size=3) * 1500.0)
        yield obs, cam, m


def _grid_args(obs, cam, m):
    q = limb_quadric(obs, iobody.IO.radii_km)
    u_s, u_l, b = cam.axes()
    s = np.arange(cam.n_samples, dtype=float) - cam.center_sample
    ln = np.arange(cam.n_lines, dtype=float) - cam.center_line
    return q, m @ b, m @ u_s * cam.ifov_rad, m @ u_l * cam.ifov_rad, s, ln


def test_limb_distance_grid_compiled_equals_numpy_bit_for_bit():
    n_on = n_off = 0
    for obs, cam, m in _views(60):
        args = _grid_args(obs, cam, m)
        got = limb_distance_grid(*args)
        with np.errstate(all="ignore"):
            ref = limb_distance_grid_numpy(*args)
        assert got.shape == ref.shape == (cam.n_lines, cam.n_samples)
        assert np.array_equal(got, ref, equal_nan=True)
        n_on += int((got > 0).sum())
        n_off += int((got < 0).sum())
    assert n_on > 10_000 and n_off > 10_000  # both sides of the limb were exercised


def test_limb_distance_grid_compiled_edge_values_as_numpy():
    """Degenerate inputs (a zero gradient, a negative discriminant, NaN) take the numpy version's path."""
    q = np.diag([1.0, 1.0, -1.0])
    d0, d_s, d_l = np.array([0.0, 0.0, 1.0]), np.array([1e-2, 0.0, 0.0]), np.array([0.0, 1e-2, 0.0])
    s = np.array([-300.0, -1.0, 0.0, 1.0, np.nan, 250.0])
    ln = np.array([0.0, 2.0, -400.0])
    got = limb_distance_grid(q, d0, d_s, d_l, s, ln)
    with np.errstate(all="ignore"):
        ref = limb_distance_grid_numpy(q, d0, d_s, d_l, s, ln)
    assert np.array_equal(got, ref, equal_nan=True)
    assert np.isnan(got[:, 4]).all()


def test_limb_distance_grid_against_per_ray_distance():
    """Independent of the numpy version: the per-ray formula on explicit rays (:func:`limb_distance_px`)."""
    for obs, cam, m in _views(10, seed=8):
        q, d0, d_s, d_l, s, ln = _grid_args(obs, cam, m)
        rays = d0 + s[None, :, None] * d_s + ln[:, None, None] * d_l
        with np.errstate(all="ignore"):
            ref = limb_distance_px(q, rays, d_s, d_l)
        got = limb_distance_grid(q, d0, d_s, d_l, s, ln)
        np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-6)


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (7, 1)])
def test_limb_distance_grid_tiny(shape):
    obs = np.array([0.0, -40000.0, 0.0])
    cam = FrameCamera(n_samples=shape[1], n_lines=shape[0], ifov_rad=0.01, center_sample=0.0, center_line=0.0)
    args = _grid_args(obs, cam, point_at_io(obs, 0.0))
    with np.errstate(all="ignore"):
        assert np.array_equal(limb_distance_grid(*args), limb_distance_grid_numpy(*args), equal_nan=True)
