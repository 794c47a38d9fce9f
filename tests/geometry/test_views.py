"""A View answers for any pixel: it agrees with the backplanes inside the frame and projects back."""

from __future__ import annotations

import numpy as np

from ioscan import body as iobody
from ioscan.geometry.pose import backplanes_from_pose
from ioscan.geometry.views import View
from ioscan.simulate.campaign import FramePlan, band_pose, recorded_jiram_to_body
from ioscan.simulate.ephemeris import sun_position_body
from ioscan.simulate.render_jiram import jiram_band_camera


def _view(range_km=5000.0):
    plan = FramePlan(
        product_id="JIR_IMG_RDR_2023363T211633_V01",
        orbit=57,
        mode="I2",
        time_utc="2023-12-29T21:16:33",
        exposure_s=0.02,
        observer_km=np.array([range_km, 800.0, 600.0]),
        observer_velocity_km_s=np.zeros(3),
        twist_deg=25.0,
        pointing_error_deg=(0.0, 0.0),
        seed=1,
        target_km=iobody.surface_point_from_lat_pg(5.0, 350.0),
    )
    sun = sun_position_body(plan.time_utc)
    return View(jiram_band_camera(), band_pose(plan, "M", recorded_jiram_to_body(plan), sun))


def test_surface_agrees_with_backplanes_inside_the_frame():
    view = _view()
    bp = backplanes_from_pose(view.camera, view.pose)
    rng = np.random.default_rng(0)
    s, ln = rng.integers(0, 432, 200), rng.integers(0, 128, 200)
    g = view.surface(s.astype(float), ln.astype(float))
    on = bp.on_disk[ln, s]
    assert np.array_equal(g["on_disk"], on) and on.sum() > 100
    for key in ("lat_deg", "emission_deg", "incidence_deg", "phase_deg", "range_km"):
        assert np.allclose(g[key][on], bp[key][ln, s][on], atol=1e-6), key
    dlon = (g["lon_w_deg"][on] - bp["lon_w_deg"][ln, s][on] + 180) % 360 - 180
    assert np.abs(dlon).max() < 1e-6


def test_surface_beyond_the_frame_and_back():
    """150 lines outside the band the geometry still comes out, and projecting the point returns the
    pixel."""
    view = _view()
    s = np.array([10.0, 200.0, 420.0])
    ln = np.array([-150.0, 64.0, 277.0])
    g = view.surface(s, ln)
    assert g["on_disk"].all()
    pts = iobody.surface_point_from_lat_pg(g["lat_deg"], g["lon_w_deg"])
    s2, l2, vis = view.project(pts)
    assert vis.all() and np.allclose(s2, s, atol=1e-4) and np.allclose(l2, ln, atol=1e-4)


def test_pixels_per_km_is_the_local_scale():
    view = _view(range_km=5000.0)
    g = view.surface(np.array([216.0]), np.array([64.0]))
    p = iobody.surface_point_from_lat_pg(g["lat_deg"], g["lon_w_deg"])
    jac = view.pixels_per_km(p)[0]
    # a pixel's footprint at normal view is range × IFOV; foreshortening shrinks one direction by cos e
    sv = np.linalg.svd(jac, compute_uv=False)
    scale = 1.0 / g["pixel_scale_km"][0]
    assert np.isclose(sv[0], scale, rtol=0.02)
    assert np.isclose(sv[1], scale * np.cos(np.radians(g["emission_deg"][0])), rtol=0.05)


def test_predicted_views_make_their_poses_on_first_read(small_campaign):
    """A navigation's predicted SPICE views make their poses only when read (a limb registration replaces
    them unread); read, or pickled, a pose is the one ``SpiceGeometry.pose`` gives, bit for bit."""
    import pickle

    from ioscan.formats import read_product
    from ioscan.geometry.navigate import navigate_frame, register_on_limb
    from ioscan.geometry.spice_provider import spice_geometry
    from ioscan.geometry.views import PendingView

    geo = spice_geometry(small_campaign.metakernel)
    registered = 0
    for lbl in sorted(small_campaign.metakernel.parent.parent.glob("jiram/*/*.LBL")):
        frame = read_product(lbl)
        nav = navigate_frame(frame, kernels=small_campaign.metakernel, register=False)
        predicted = dict(nav.views)
        assert all(isinstance(v, PendingView) and v.pose_pending for v in predicted.values())
        register_on_limb(frame, nav)
        if nav.registered:
            registered += 1
            assert all(v.pose_pending for v in predicted.values())
            assert not any(isinstance(v, PendingView) for v in nav.views.values())
        for name, view in predicted.items():
            want = geo.pose(frame.time_utc, frame.bands[name].spice_frame)
            again = pickle.loads(pickle.dumps(view))
            assert type(again) is View and not view.pose_pending
            for got in (view.pose, again.pose):
                for field in ("observer_km", "inst_to_body", "sun_km"):
                    assert np.array_equal(getattr(got, field), getattr(want, field)), field
                assert (got.time_utc, got.abcorr) == (want.time_utc, want.abcorr)
    assert registered >= 1
