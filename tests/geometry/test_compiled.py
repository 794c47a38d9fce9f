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


# ------------------------------------------------------------------------- the SPICE backplanes' passes
def _spice_both(cam, inp, body=iobody.IO, **kw):
    from ioscan.geometry import spice_provider

    with np.errstate(all="ignore"):
        got = spice_provider._spice_arrays(cam, inp, body, compiled=True, **kw)
        ref = spice_provider._spice_arrays(cam, inp, body, compiled=False, **kw)
    return got, ref


def _assert_same(got, ref):
    (a, ca), (b, cb) = got, ref
    assert list(a) == list(b)
    for name in b:
        assert np.array_equal(a[name], b[name], equal_nan=True), name
    assert np.array_equal(ca, cb)


def _assert_deferred_same(cam, inp, ref):
    """The deferred surface terms (``defer_surface``): incidence read at some disk pixels first (one, every
    7th, all) without making the layer, then every layer: the same bits as ``ref`` (the numpy path's)."""
    deferred = _spice_both(cam, inp, defer_surface=True)[0]
    disk = np.flatnonzero(ref[0]["on_disk"].reshape(-1) > 0)
    for flat in (disk[:1], disk[::7], disk):
        at = deferred[0].values_at("incidence_deg", flat)
        assert np.array_equal(at, ref[0]["incidence_deg"].reshape(-1)[flat])
    assert not dict.__contains__(deferred[0], "incidence_deg")
    _assert_same(deferred, ref)


def _synthetic_inputs(rng, spin_xy: bool):
    """FrameInputs of a JIRAM-like frame looking at Io from 2,200–600,000 km, with a random inertial
    orientation, observer velocity (β ~1e-4), Io's velocity and spin (with a moving pole when ``spin_xy``: the
    full rotation of the rays by the light time)."""
    from scipy.spatial.transform import Rotation

    from ioscan.geometry.spice_provider import CLIGHT_KM_S, FrameInputs

    r_km = float(np.exp(rng.uniform(np.log(2200.0), np.log(6e5))))
    u = rng.normal(size=3)
    obs_body = r_km * u / np.linalg.norm(u)
    x0 = Rotation.random(random_state=int(rng.integers(1 << 31))).as_matrix()
    omega = np.array([0.0, 0.0, 4.1e-5]) + (rng.normal(size=3) * 3e-5 if spin_xy else 0.0)
    skew = np.array([[0.0, -omega[2], omega[1]], [omega[2], 0.0, -omega[0]], [-omega[1], omega[0], 0.0]])
    target = rng.normal(size=3) * (1800.0 if rng.random() < 0.5 else 300.0)
    inst_to_body = point_at_io(obs_body, float(rng.uniform(-180, 180)), target_km=target)
    cam = FrameCamera(
        n_samples=432, n_lines=int(rng.choice([128, 256])), ifov_rad=237.767e-6,
        center_sample=215.5, center_line=63.5,
    )  # fmt: skip
    sun = rng.normal(size=3)
    return cam, FrameInputs(
        et=0.0,
        lt_s=r_km / CLIGHT_KM_S,
        observer_body_km=obs_body,
        j2000_to_body=x0,
        j2000_to_body_rate=skew @ x0,
        inst_to_j2000=x0.T @ inst_to_body,
        beta=rng.normal(size=3) * 1e-4,
        # up to thousands of km/s (unphysical, the same arithmetic): the epoch's shift then moves the limb
        # enough for many rays to meet Io only at their second iteration (the retry)
        target_velocity_j2000=rng.normal(size=3) * float(np.exp(rng.uniform(np.log(15.0), np.log(3000.0)))),
        observer_minus_target_j2000=x0.T @ obs_body,
        sun_body_km=7.8e8 * sun / np.linalg.norm(sun),
        sun_body_rate=rng.normal(size=3) * 10.0,
    )


@pytest.mark.parametrize("spin_xy", [False, True])
def test_spice_arrays_compiled_equal_numpy_synthetic(spin_xy, monkeypatch):
    """Random views, far and close, boxed and whole-frame: every backplane and the conic bit for bit; the
    rays that meet Io only at their second light-time iteration (the retry) are among them."""
    from ioscan.geometry import spice_provider

    retries = []
    real = spice_provider._compiled_arrays

    def counting(cam, inp, body, *rest):  # the compiled path calls _Epoch.intersect only for the retry
        with monkeypatch.context() as m:
            m.setattr(spice_provider._Epoch, "intersect", lambda *a: retries.append(1) or intersect(*a))
            return real(cam, inp, body, *rest)

    intersect = spice_provider._Epoch.intersect
    monkeypatch.setattr(spice_provider, "_compiled_arrays", counting)
    rng = np.random.default_rng(11 if spin_xy else 12)
    n_disk = 0
    for _ in range(40):
        cam, inp = _synthetic_inputs(rng, spin_xy)
        got, ref = _spice_both(cam, inp)
        _assert_same(got, ref)
        n_disk += int(ref[0]["on_disk"].sum())
        _assert_deferred_same(cam, inp, ref)
        with monkeypatch.context() as m:  # the whole-frame path (no box)
            m.setattr(spice_provider, "_disk_box", lambda limb, margin: None)
            _assert_same(*_spice_both(cam, inp))
            _assert_deferred_same(cam, inp, ref)
    assert n_disk > 100_000
    assert retries, "no ray met Io only at its second light-time iteration"


def test_candidates_scattered_into_frame_images_bit_for_bit():
    """The compiled scatter of candidates' values (and of their hits, ``on_disk``) writes the images numpy's
    fancy indexing writes, NaN bits included, for few, many and no candidates."""
    from ioscan.geometry.pose import _scatter_layers, _scatter_layers_numpy
    from ioscan.geometry.spice_provider import _on_disk

    rng = np.random.default_rng(5)
    shape = (128, 432)
    n = shape[0] * shape[1]
    for m in (0, 1, 300, 12_000, n):
        idx = np.sort(rng.choice(n, m, replace=False)).astype(np.intp)
        hit = rng.random(m) < 0.7
        v = rng.normal(size=m) * 100.0
        v[rng.random(m) < 0.1] = np.nan  # values that are NaN at candidates, hit or not
        surf = {"a": v, "b": -v}
        got = _scatter_layers(shape, idx, hit, {k: a.copy() for k, a in surf.items()})
        want = _scatter_layers_numpy(shape, idx, hit, {k: a.copy() for k, a in surf.items()})
        for k in surf:
            assert got[k].shape == shape and np.array_equal(got[k].view(np.int64), want[k].view(np.int64)), k
        on = np.zeros(n)
        on[idx[hit]] = 1.0
        assert np.array_equal(_on_disk(shape, idx, hit), on.reshape(shape))
    # a candidate per pixel (no indices): the arrays themselves are written
    hit = rng.random(n) < 0.6
    v = rng.normal(size=n)
    v[rng.random(n) < 0.1] = np.nan
    for h in (hit, np.ones(n, bool)):
        got = _scatter_layers(shape, None, h, {"a": v.copy()})["a"]
        want = _scatter_layers_numpy(shape, None, h, {"a": v.copy()})["a"]
        assert np.array_equal(got.view(np.int64), want.view(np.int64))
        on = np.zeros(n)
        on[h] = 1.0
        assert np.array_equal(_on_disk(shape, None, h), on.reshape(shape))
