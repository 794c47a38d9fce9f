"""View.surface on component arrays against the (n, 3)-vector computation it replaced, bit for bit, on
pixels on and off the disk of views at several ranges and twists."""

from __future__ import annotations

import numpy as np
import pytest

from ioscan import body as iobody
from ioscan.geometry.backplanes import lat_pg_deg_components
from ioscan.geometry.ellipsoid import intersect_components
from ioscan.geometry.views import View
from ioscan.simulate.campaign import FramePlan, band_pose, recorded_jiram_to_body
from ioscan.simulate.ephemeris import sun_position_body
from ioscan.simulate.render_jiram import jiram_band_camera


def _view(range_km: float, twist_deg: float, band: str) -> View:
    plan = FramePlan(
        product_id="JIR_IMG_RDR_2023363T211633_V01",
        orbit=57,
        mode="I2",
        time_utc="2023-12-29T21:16:33",
        exposure_s=0.02,
        observer_km=np.array([range_km, 800.0, 600.0]),
        observer_velocity_km_s=np.zeros(3),
        twist_deg=twist_deg,
        pointing_error_deg=(0.0, 0.0),
        seed=1,
        target_km=iobody.surface_point_from_lat_pg(5.0, 350.0),
    )
    sun = sun_position_body(plan.time_utc)
    return View(jiram_band_camera(), band_pose(plan, band, recorded_jiram_to_body(plan), sun))


def _surface_by_vectors(view: View, sample, line, body: iobody.Ellipsoid = iobody.IO) -> dict:
    """The reference: View.surface as it was computed on (n, 3) vectors."""
    s, ln = np.asarray(sample, dtype=float), np.asarray(line, dtype=float)
    shape = np.broadcast(s, ln).shape
    rays = view.camera.rays(np.broadcast_to(s, shape).ravel(), np.broadcast_to(ln, shape).ravel())
    d = rays @ view.pose.inst_to_body.T
    d = d / np.linalg.norm(d, axis=-1, keepdims=True)
    o = tuple(float(v) for v in view.pose.observer_km)
    t, _ = intersect_components(o, (d[:, 0], d[:, 1], d[:, 2]), body.radii_km)
    hit = np.isfinite(t)
    p = np.asarray(o) + t[:, None] * d
    normal = p / body.radii_km**2
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    to_sun = np.asarray(view.pose.sun_km, dtype=float) - p
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
        "pixel_scale_km": t * view.camera.ifov_rad,
    }
    for key, val in out.items():
        out[key] = np.where(hit, val, np.nan).reshape(shape)
    out["on_disk"] = hit.reshape(shape)
    return out


@pytest.mark.parametrize(("range_km", "twist_deg", "band"), [(8000.0, 25.0, "M"), (60000.0, -70.0, "L")])
def test_surface_is_the_vector_computation_bit_for_bit(range_km, twist_deg, band):
    view = _view(range_km, twist_deg, band)
    rng = np.random.default_rng(int(range_km))
    # draws around detections as measurement makes them (n sources × k draws), on, near and off the disk
    with np.errstate(invalid="ignore"):  # Io's centre (its "surface normal" is undefined)
        centre_s, centre_l, _ = view.project(np.zeros(3))
    radius_px = iobody.IO.a_km / range_km / view.camera.ifov_rad
    centres_s = centre_s + rng.uniform(-1.3, 1.3, 40) * radius_px
    centres_l = centre_l + rng.uniform(-1.3, 1.3, 40) * radius_px
    s = centres_s[:, None] + rng.normal(0.0, 3.0, (40, 300))
    ln = centres_l[:, None] + rng.normal(0.0, 3.0, (40, 300))
    got, ref = view.surface(s, ln), _surface_by_vectors(view, s, ln)
    assert got.keys() == ref.keys()
    on = ref["on_disk"]
    assert 0.05 < on.mean() < 0.95  # both on and off the disk
    for key, val in ref.items():
        assert got[key].shape == val.shape
        assert np.array_equal(got[key], val, equal_nan=key != "on_disk"), key
    one = view.surface(float(centre_s), float(centre_l))  # scalars still give 0-d arrays
    assert one["lat_deg"].shape == () and one["on_disk"]
    assert one["lat_deg"] == _surface_by_vectors(view, float(centre_s), float(centre_l))["lat_deg"]


def _bits(a: np.ndarray) -> np.ndarray:
    return a.view(np.uint64) if a.dtype == np.float64 else a


@pytest.mark.parametrize(("range_km", "twist_deg", "band"), [(3000.0, 10.0, "M"), (250000.0, 40.0, "L")])
def test_compiled_surface_is_numpy_surface_bit_for_bit(range_km, twist_deg, band):
    """The compiled pass (``compiled.view_surface_terms``) and numpy's steps (``surface_numpy``) give the
    same bits (signed zeros and NaN payloads too), on and off the disk, all on the disk (no mask), and for
    NaN pixel positions."""
    view = _view(range_km, twist_deg, band)
    rng = np.random.default_rng(int(range_km) + 1)
    with np.errstate(invalid="ignore"):
        centre_s, centre_l, _ = view.project(np.zeros(3))
    radius_px = iobody.IO.a_km / range_km / view.camera.ifov_rad
    for spread in (1.4, 0.5):  # on and off the disk; all on it
        s = centre_s + rng.uniform(-spread, spread, (30, 200)) * radius_px
        ln = centre_l + rng.uniform(-spread, spread, (30, 200)) * radius_px
        s[0, :3] = np.nan
        got, ref = view.surface(s, ln), view.surface_numpy(s, ln)
        assert got.keys() == ref.keys()
        if spread < 1.0:
            assert ref["on_disk"][1:].all()
        else:
            assert 0.05 < ref["on_disk"].mean() < 0.95
        for key, val in ref.items():
            assert got[key].dtype == val.dtype and got[key].shape == val.shape
            assert np.array_equal(_bits(got[key]), _bits(val)), key


def test_compiled_rays_and_in_place_longitudes_are_numpys_bit_for_bit():
    """The compiled rays (``compiled.frame_camera_rays``) are ``_camera_rays``', and the in-place west
    longitudes ``_lon_w_deg``', at the seam (±0, ±180°, just below 360°), and for NaN."""
    from ioscan.geometry import views

    view = _view(20000.0, 33.0, "M")
    rng = np.random.default_rng(3)
    s, ln = rng.uniform(-200, 600, 5000), rng.uniform(-200, 300, 5000)
    s[:2] = np.nan
    got = views._camera_rays_compiled(view.camera, s, ln)
    assert np.array_equal(_bits(got), _bits(views._camera_rays(view.camera, s, ln)))
    tiny = np.nextafter(0.0, 1.0)
    x = np.concatenate([rng.normal(0, 1, 4000), [1.0, 1.0, -1.0, -1.0, 1.0, 1.0, np.nan, 0.0, -0.0]])
    y = np.concatenate([rng.normal(0, 1, 4000), [0.0, -0.0, 0.0, -0.0, tiny, -tiny, 1.0, 0.0, -0.0]])
    ref = views._lon_w_deg(x, y)
    got = views._lon_w_deg_inplace(np.arctan2(y, x))
    assert np.array_equal(_bits(got), _bits(ref))
    assert ((got >= 0.0) & (got < 360.0) | np.isnan(got)).all()
