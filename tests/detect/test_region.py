"""Where the limb comes from (:func:`ioscan.detect.region.locate_limb`): the geometry's limb is checked
against the image's unless navigation registered the geometry on this very band's limb."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import ndimage

from ioscan.detect import DetectConfig, region
from ioscan.detect.region import locate_limb
from ioscan.geometry.backplanes import Backplanes, LimbRegistration
from ioscan.records import BandImage


def _disk_and_geometry(geometry_shift_px: float, registered_on: str | None):
    """A bright disk (radius 50 px, PSF σ 0.7 px, unit noise) in band "M", its left half in view (a whole
    limb's check sees no shift along it), and backplanes whose disk sits ``geometry_shift_px`` to the right
    of it, registered on ``registered_on``'s limb (None: predicted)."""
    yy, xx = np.mgrid[0:128, 0:432]
    seen = 50.0 - np.hypot(xx - 400.0, yy - 64.0)
    img = ndimage.gaussian_filter((seen > 0) * 100.0, 0.7) + np.random.default_rng(1).normal(0, 1, seen.shape)
    d = 50.0 - np.hypot(xx - 400.0 - geometry_shift_px, yy - 64.0)
    reg = None
    if registered_on is not None:
        reg = LimbRegistration(registered_on, (geometry_shift_px, 0.0), (0.1, 0.1), 0.2, 120)
    bp = Backplanes({"on_disk": (d > 0).astype(float), "limb_distance_px": d}, limb_registration=reg)
    return BandImage("M", img.astype(np.float32), "W m-2 sr-1", 4.78, 0.5), bp


@pytest.mark.parametrize("registered_on", [None, "L"])
def test_a_geometry_3_px_off_is_caught_unless_fitted_in_this_band(registered_on):
    """Predicted, or registered on another band's limb: the check finds the 3 px, takes the image's limb."""
    band, bp = _disk_and_geometry(3.0, registered_on)
    limb = locate_limb(band, band.data, bp, 0.7, DetectConfig(pointing_error_px=0.25))
    assert not limb.from_geometry and limb.circle is not None
    assert any("limb is taken from the image" in m for m in limb.messages)
    assert limb.circle.center_sample == pytest.approx(400.0, abs=0.5)


def test_a_band_whose_limb_navigation_fitted_is_not_checked_again(monkeypatch):
    """Registered on this band's limb, the backplanes' limb is the fitted one: no check is made (it would
    re-measure the fit) and the geometry's limb distance is used as it is."""
    calls = []
    monkeypatch.setattr(region, "geometry_limb_offset_px", lambda *a, **k: calls.append(1))
    band, bp = _disk_and_geometry(0.0, "M")
    limb = locate_limb(band, band.data, bp, 0.7, DetectConfig(pointing_error_px=0.25))
    assert calls == [] and limb.from_geometry and limb.backplanes is bp
    assert limb.distance_px is not None and np.array_equal(limb.distance_px, bp["limb_distance_px"])
    assert limb.messages == () and limb.shading is None


def test_the_check_still_runs_for_a_band_registered_otherwise(monkeypatch):
    """The same backplanes registered on another band's limb are checked once (what catches a wrong one)."""
    calls = []
    real = region.geometry_limb_offset_px
    monkeypatch.setattr(region, "geometry_limb_offset_px", lambda *a, **k: calls.append(1) or real(*a, **k))
    band, bp = _disk_and_geometry(0.0, "L")
    limb = locate_limb(band, band.data, bp, 0.7, DetectConfig(pointing_error_px=0.25))
    assert calls == [1] and limb.from_geometry


def _sunlit_renderer_band(seed: int = 5, index: int = 3):
    """The independent renderer's sunlit frame ``index`` of ``seed`` (a disk of radius ~119 px, its sunlit
    limb in view) as an M-band image, and its view."""
    from ioscan.simulate.independent import draw_scene, render_scene

    rng = np.random.default_rng(seed)
    for _ in range(index):
        draw_scene(rng, kind="day")
    params = draw_scene(rng, kind="day")
    b = render_scene(params).bands["M"]
    band = BandImage(band="M", data=b.image, unit="W m-2 sr-1", wavelength_um=4.78, bandwidth_um=0.5)
    return band, params.view


def test_the_geometrys_limb_seen_in_the_image_keeps_its_circle_only_where_they_agree():
    """detect.limb_profile_with_geometry: with the renderer's exact geometry the sharp limb the image shows is
    kept as the limb's circle (its profile then measured); with the geometry 1.6 px off along the seen arc
    (within the check's tolerance at a 1-px pointing error, beyond GEOMETRY_CIRCLE_AGREE_PX) it is not; off by
    default, the geometry's limb alone."""
    from dataclasses import replace

    from ioscan.detect.region import GEOMETRY_CIRCLE_AGREE_PX
    from ioscan.simulate.independent_backplanes import truth_backplanes

    band, view = _sunlit_renderer_band()
    on = DetectConfig(limb_profile_with_geometry=True, pointing_error_px=0.1)
    exact = locate_limb(band, band.data, truth_backplanes(view, "M"), 0.6, on)
    assert exact.from_geometry and exact.circle is not None
    assert abs(exact.circle.radius_px - view.radius_px) < 1.0
    assert exact.known is not None and exact.known.any()
    default = replace(on, limb_profile_with_geometry=False)
    off = locate_limb(band, band.data, truth_backplanes(view, "M"), 0.6, default)
    assert off.from_geometry and off.circle is None
    shifted = replace(view, center_sample_px=view.center_sample_px + 1.6)
    assert GEOMETRY_CIRCLE_AGREE_PX < 1.6
    one_px = replace(on, pointing_error_px=1.0)
    moved = locate_limb(band, band.data, truth_backplanes(shifted, "M"), 0.6, one_px)
    assert moved.from_geometry and moved.circle is None


@pytest.fixture(scope="module")
def renderer_frame_50():
    """The independent renderer's sunlit frame 50 with its exact backplanes and truth
    (``test_band._renderer_frame``; ~1 s to draw), rendered once for the tests below, which only read it:
    its image is checked unchanged after them."""
    from test_band import _renderer_frame

    frame, backplanes, truth = _renderer_frame(50)
    image = np.asarray(frame.bands["M"].data).tobytes()
    yield frame, backplanes, truth
    assert np.asarray(frame.bands["M"].data).tobytes() == image


def test_shading_template_that_misses_the_limb_gives_way_to_the_images_model(renderer_frame_50):
    """The independent renderer's sunlit frame 50 (Minnaert limb factor floored at cos e = 0.2, PSF σ 0.8 px),
    given its exact geometry: with ``detect.shading_limb_mismatch`` 0.1 the geometry's shading template,
    which misses the limb the image shows, gives way to the limb's measured profile (``Limb.image_model``,
    the circle kept, a message), and more of the frame's isolated hot spots of ideal S/N ≥ 7 are found
    (measured: 12 of 14 against 9 with the template)."""
    from test_band import _found_isolated

    from ioscan.detect import detect_frame

    frame, backplanes, truth = renderer_frame_50
    band = frame.bands["M"]
    found = {}
    for gate in (None, 0.1):
        cfg = DetectConfig(pointing_error_px=0.1, shading_limb_mismatch=gate, shading_foreign_law=False)
        limb = locate_limb(
            band, np.asarray(band.data), backplanes["M"], 0.6, cfg, psf=cfg.psf_for("M", "JIRAM", 4.78)
        )
        assert limb.from_geometry and limb.image_model is (gate is not None)
        assert (limb.circle is not None) is (gate is not None)
        assert any("misses the limb" in m for m in limb.messages) is (gate is not None)
        res = detect_frame(frame, backplanes, config=cfg)
        found[gate] = _found_isolated(res, truth, band.line_offset)
    assert found[0.1] >= found[None] + 2, found


# --- the search of a band whose geometry is too uncertain for its limb (detect.pointing_reach_px) ---

#: JIRAM's pointing prior's bound (sample, line), px: 8 px across track, 2° along
REACH = (8.0, 146.87)


def _circle_conic(cs: float, cl: float, r: float) -> np.ndarray:
    """The conic of a circle of radius ``r`` centred at (sample ``cs``, line ``cl``), > 0 inside."""
    return np.array([[-1.0, 0.0, cs], [0.0, -1.0, cl], [cs, cl, r * r - cs * cs - cl * cl]])


def _predicted(cs: float, cl: float, r: float, shape=(128, 432), conic: bool = True) -> Backplanes:
    """Backplanes of a circular disk predicted at (``cs``, ``cl``), radius ``r``, with its limb conic."""
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    d = r - np.hypot(xx - cs, yy - cl)
    return Backplanes(
        {"on_disk": (d > 0).astype(float), "limb_distance_px": d},
        limb_conic_px=_circle_conic(cs, cl, r) if conic else None,
    )


def test_the_limb_ellipses_extent_is_where_its_tangents_are():
    """A rotated ellipse's sample and line extents from its dual conic equal those of its sampled points;
    a hyperbola (or no conic) has none."""
    a, b, t, cs, cl = 70.0, 40.0, 0.6, 210.0, -30.0
    ct, st = np.cos(t), np.sin(t)
    rot = np.array([[ct, -st], [st, ct]])
    q = rot @ np.diag([1 / a**2, 1 / b**2]) @ rot.T  # (x − c)ᵀ Q (x − c) = 1 on the ellipse
    c0 = np.array([cs, cl])
    conic = np.zeros((3, 3))
    conic[:2, :2] = -q
    conic[:2, 2] = conic[2, :2] = q @ c0
    conic[2, 2] = 1.0 - c0 @ q @ c0
    phi = np.linspace(0, 2 * np.pi, 200001)
    pts = c0[:, None] + rot @ np.vstack([a * np.cos(phi), b * np.sin(phi)])
    (s0, s1), (l0, l1) = region.limb_extent_px(conic)
    assert (s0, s1) == pytest.approx((pts[0].min(), pts[0].max()), abs=1e-6)
    assert (l0, l1) == pytest.approx((pts[1].min(), pts[1].max()), abs=1e-6)
    assert region.limb_extent_px(np.diag([1.0, -1.0, 1.0])) is None
    assert region.limb_extent_px(None) is None


def test_reach_box_grows_the_disks_box_by_the_bound_and_the_margin():
    bp = _predicted(200.0, 150.0, 30.0)  # centred below the frame: its widest part out of view
    lines, samples = region.reach_box(bp, REACH, 2.8, (128, 432))
    assert (samples.start, samples.stop) == (int(np.floor(170 - 8 - 2.8)), int(np.ceil(230 + 8 + 2.8)) + 1)
    assert (lines.start, lines.stop) == (0, 128)
    far = region.reach_box(_predicted(200.0, 500.0, 30.0), REACH, 2.8, (128, 432))
    assert region._empty(far)
    assert region.reach_box(_predicted(200.0, 64.0, 30.0, conic=False), REACH, 2.8, (128, 432)) is None


def _night_frame(true_cs: float, true_cl: float, r: float, sources) -> BandImage:
    """A dark (night side) disk of radius ``r`` at (``true_cs``, ``true_cl``): unit noise and point sources
    (sample, line, flux) of a 0.6 px Gaussian core."""
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:128, 0:432]
    img = rng.normal(0.0, 1.0, (128, 432))
    for s, l, f in sources:
        img += f * np.exp(-((xx - s) ** 2 + (yy - l) ** 2) / (2 * 0.6**2)) / (2 * np.pi * 0.6**2)
    return BandImage("M", img.astype(np.float32), "W m-2 sr-1", 4.78, 0.5)


@pytest.mark.parametrize("error_px", [(-7.0, 60.0), (-8.0, 146.0), (8.0, -146.0), (7.9, 20.0)])
def test_a_hot_spot_at_the_far_limb_is_found_with_and_without_the_crop(error_px):
    """The geometry off by up to the prior's bound (the scene at true = predicted + error): a hot spot on
    the true disk's limb farthest across track from the predicted disk is found told the bound (the crop)
    as without it, at the same place; a source in the sky far beyond the disk is searched only without."""
    from ioscan.detect.band import detect_band

    true_cs, true_cl, r = 200.0, 64.0, 30.0
    far_s = true_cs - (r - 1.0) * np.sign(error_px[0])  # on the disk, away from where it was predicted
    spot, sky = (far_s, true_cl, 400.0), (400.0, 30.0, 400.0)
    band = _night_frame(true_cs, true_cl, r, [spot, sky])
    bp = _predicted(true_cs - error_px[0], true_cl - error_px[1], r)
    whole = DetectConfig(pointing_error_px=51.4)
    cropped = DetectConfig(pointing_error_px=51.4, pointing_reach_px=REACH)
    got = {}
    for name, cfg in (("whole", whole), ("cropped", cropped)):
        res = detect_band(band, bp, instrument="JIRAM", config=cfg, keep_model=True)
        got[name] = res
        near = [d for d in res.detections if np.hypot(d.sample - spot[0], d.line - spot[1]) < 1.0]
        assert len(near) == 1 and near[0].snr > 20, name
    in_sky = [
        [d for d in got[k].detections if np.hypot(d.sample - sky[0], d.line - sky[1]) < 1.0]
        for k in ("whole", "cropped")
    ]
    assert len(in_sky[0]) == 1 and in_sky[1] == []
    assert got["cropped"].model.snr.shape[1] < 150 < got["whole"].model.snr.shape[1]
    assert any("searched within samples" in m for m in got["cropped"].messages)


def test_a_disk_filling_the_frame_is_searched_as_without_the_bound():
    """A close flyby (the disk overfills the frame, no limb in view): the bound reaches the whole band,
    and detection is the same as without it, field for field."""
    from ioscan.detect.band import detect_band

    band = _night_frame(300.0, 900.0, 2000.0, [(120.0, 40.0, 400.0), (300.0, 100.0, 250.0)])
    bp = _predicted(296.0, 940.0, 2000.0)
    told = DetectConfig(pointing_error_px=51.4)
    cfgs = [told, dataclasses.replace(told, pointing_reach_px=REACH)]
    a, b = (detect_band(band, bp, instrument="JIRAM", config=c) for c in cfgs)
    assert len(a.detections) >= 2
    assert repr(a.detections) == repr(b.detections)
    assert a.messages == b.messages and a.noise_median == b.noise_median


def test_a_disk_beyond_the_bound_is_not_in_view():
    band = _night_frame(200.0, 64.0, 30.0, [])
    cfg = DetectConfig(pointing_error_px=51.4, pointing_reach_px=REACH)
    limb = locate_limb(band, band.data, _predicted(200.0, 500.0, 30.0), 0.6, cfg)
    assert limb.status == "no_io" and "not within the pointing's reach" in limb.messages[-1]


def test_a_foreign_photometric_law_gives_way_to_the_images_model(renderer_frame_50):
    """The independent renderer's sunlit frame 50 (its own law: Minnaert limb factor floored at cos e = 0.2,
    the edge integrated over sub-pixels), given its exact geometry: with ``detect.shading_foreign_law`` the
    law fitted to the disk's own limb (:func:`ioscan.detect.shading.shading_template`, ``fit_law``) is not the
    template's, so the limb's measured profile models the disk (``Limb.image_model``, a message) and more of
    the frame's isolated hot spots of ideal S/N ≥ 7 are found than with the template."""
    from test_band import _found_isolated

    from ioscan.detect import detect_frame

    frame, backplanes, truth = renderer_frame_50
    band = frame.bands["M"]
    found = {}
    for foreign in (False, True):
        cfg = DetectConfig(pointing_error_px=0.1, shading_foreign_law=foreign)
        limb = locate_limb(
            band, np.asarray(band.data), backplanes["M"], 0.6, cfg, psf=cfg.psf_for("M", "JIRAM", 4.78)
        )
        assert limb.from_geometry and limb.image_model is foreign
        assert any("another photometric law" in m for m in limb.messages) is foreign
        res = detect_frame(frame, backplanes, config=cfg)
        found[foreign] = _found_isolated(res, truth, band.line_offset)
    assert found[True] >= found[False] + 2, found


@pytest.mark.parametrize("range_km", [60000.0, 250000.0])
def test_the_simulators_own_law_keeps_the_shading_template(range_km):
    """The project's simulator (its sunlit surface follows the template's law, albedo texture and dark spots
    to the limb; near and far disks, radius ~120 and ~30 px): ``detect.shading_foreign_law`` keeps the
    geometry's shading template (no image model, no message)."""
    from test_shading import simulator_sunlit_disk

    from ioscan.detect.shading import shading_template

    img, backplanes, psf = simulator_sunlit_disk(range_km)
    band = BandImage("M", img, "W m-2 sr-1", 4.78, 0.4975)
    cfg = DetectConfig(pointing_error_px=0.25, shading_foreign_law=True)
    limb = locate_limb(band, img, backplanes, 0.6, cfg, psf=cfg.psf_for("M", "JIRAM", 4.78))
    assert limb.from_geometry and not limb.image_model
    assert not any("another photometric law" in m for m in limb.messages)
    law: list = []  # the law's own test, whether or not the image shows a limb along the geometry's
    shading_template(img, backplanes, psf, fit_law="subpixel", report=law)
    assert law == [False]
