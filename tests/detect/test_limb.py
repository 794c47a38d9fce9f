"""Io's limb found in the image without geometry (:mod:`ioscan.detect.limb`), checked against the independent
renderer's exact ray–ellipsoid geometry (code the detector never uses)."""

from __future__ import annotations

import numpy as np
import pytest

from ioscan.detect import DetectConfig, detect_frame
from ioscan.detect.limb import find_limb, geometry_limb_offset_px
from ioscan.records import BandImage, Frame
from ioscan.simulate.independent import (
    DetectorParams,
    HotSpotParams,
    Photometry,
    SceneParams,
    render_scene,
    view_geometry,
)
from ioscan.simulate.independent import geometry as igeo

NO_SPOTS = HotSpotParams(n_surface_mean=0.0, limb_sources_mean=0.0)
QUIET = DetectorParams(cosmic_rays_mean=0.0, column_gain_rms=0.0, column_offset_rms_w_m2_sr=0.0)


def _render(seed=1, **view):
    v = view_geometry(**{"range_km": 60_000.0, "center_sample_px": 200.0, "center_line_px": 160.0, **view})
    params = SceneParams(
        seed=seed, view=v, hot_spots=NO_SPOTS, detector=QUIET, photometry=Photometry(minnaert_k=0.7)
    )
    return render_scene(params)


def _true_limb_distance_px(view, xs, ys, cx, cy) -> np.ndarray:
    """Signed distance (px, positive inside) from points to the true limb, along the line to (cx, cy): the
    ray–ellipsoid hit/miss boundary found by bisection with the renderer's own geometry."""
    ux, uy = cx - xs, cy - ys
    n = np.hypot(ux, uy)
    ux, uy = ux / n, uy / n
    lo, hi = np.full(xs.shape, -8.0), np.full(xs.shape, 8.0)  # miss at lo, hit at hi (along the inward line)
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        hit = igeo.intersect(view, xs + mid * ux, ys + mid * uy).hit
        lo, hi = np.where(hit, lo, mid), np.where(hit, mid, hi)
    return -0.5 * (lo + hi)  # the point lies this far inside the limb


@pytest.mark.parametrize("phase_deg, azimuth_deg", [(30.0, 90.0), (120.0, 0.0)])
def test_sharp_sunlit_limb_found_to_a_fraction_of_a_pixel(phase_deg, azimuth_deg):
    """A gibbous and a crescent disk (128 px radius, Minnaert k 0.7): every edge point the circle uses lies
    within 2.5 px of the true (triaxial, perspective) limb, none on the terminator (tens of px away), and the
    circle follows those points to 0.9 px at 90 % of them (measured: 0.2 px on the crescent; on the gibbous
    disk the limb dims towards the terminator and its steepest edge moves up to 2 px inwards)."""
    frame = _render(phase_deg=phase_deg, sun_azimuth_deg=azimuth_deg)
    band = frame.bands["M"]
    limb = find_limb(band.image, 0.8)
    assert limb is not None
    assert 120 < limb.radius_px < 136
    v = frame.params.view
    d_true = _true_limb_distance_px(v, limb.points.x, limb.points.y, limb.center_sample, limb.center_line)
    d_fit = limb.radius_px - np.hypot(limb.points.x - limb.center_sample, limb.points.y - limb.center_line)
    assert np.max(np.abs(d_true)) < 2.5  # points on the limb, none on the terminator
    assert np.percentile(np.abs(d_fit - d_true), 90) < 0.9


def test_no_limb_on_the_night_side_or_around_a_saturated_hot_spot():
    night = _render(eclipsed=True)
    assert find_limb(night.bands["M"].image, 0.8) is None
    img = np.random.default_rng(2).normal(0.0, 1.0, (128, 432))
    yy, xx = np.mgrid[0:128, 0:432]
    img += 3e6 * np.exp(-0.5 * ((xx - 200.3) ** 2 + (yy - 60.7) ** 2) / 0.8**2) / (2 * np.pi * 0.64)
    sat = img >= 1000.0
    img = np.minimum(img, 1000.0)
    assert sat.sum() >= 20  # a clipped core several pixels wide, with a sharp edge all round
    assert find_limb(img, 0.8, sat) is None


def _frame(band: BandImage) -> Frame:
    return Frame("T", "JIRAM", "JUNO", "2023-01-01T00:00:00", 0.01, {"M": band})


def _backplanes_of(view, shape=(128, 432)):
    """The renderer's own geometry of ``view`` as backplanes (limb distance along the line to the centre)."""
    from ioscan.geometry.backplanes import Backplanes

    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(float)
    d = _true_limb_distance_px(view, xx.ravel(), yy.ravel(), view.center_sample_px, view.center_line_px)
    d = d.reshape(xx.shape)
    hit = igeo.intersect(view, xx, yy)
    on = hit.hit
    return Backplanes(
        {
            "on_disk": on.astype(float),
            "limb_distance_px": d,
            "incidence_deg": np.where(on, np.degrees(np.arccos(np.clip(hit.cos_incidence, -1, 1))), np.nan),
            "emission_deg": np.where(on, np.degrees(np.arccos(np.clip(hit.cos_emission, -1, 1))), np.nan),
        }
    )


def test_geometry_off_by_3_px_is_checked_against_the_image():
    """A geometry whose disk sits 3 px from the disk in the image (told ±0.25 px) is measured as such and not
    used for the background regions (the detections are those made with no geometry at all); the exact
    geometry is kept."""
    import dataclasses

    frame = _render(phase_deg=40.0, sun_azimuth_deg=90.0)
    b = frame.bands["M"]
    v = frame.params.view
    exact = _backplanes_of(v)
    off, pts = geometry_limb_offset_px(b.image, exact["limb_distance_px"], 0.8)
    assert len(pts) >= 50 and abs(off) < 0.3
    moved = _backplanes_of(dataclasses.replace(v, center_line_px=v.center_line_px - 3.0))  # the disk 3 px up
    off3, _ = geometry_limb_offset_px(b.image, moved["limb_distance_px"], 0.8)
    assert 1.8 < off3 < 3.2  # the seen arc: 3 px × cos(its angle from vertical) inside the moved disk

    band = BandImage("M", b.image, "W m-2 sr-1", 4.78, 0.4975)
    cfg = DetectConfig(pointing_error_px=0.25)
    res = detect_frame(_frame(band), {"M": moved}, config=cfg)
    assert any("limb is taken from the image" in m for m in res.messages)
    alone = detect_frame(_frame(band), None, config=cfg)
    assert [(d.sample, d.line) for d in res.detections] == [(d.sample, d.line) for d in alone.detections]
    kept = detect_frame(_frame(band), {"M": exact}, config=cfg)
    assert not any("limb is taken from the image" in m for m in kept.messages)


def test_pixel_noise_map_in_c_order_has_the_same_values():
    """``c_order``: the same map, laid out in C order (whole-image operations with C-ordered images run at
    numpy's contiguous speed); odd and even blocks, tiny images."""
    from ioscan.detect.limb import pixel_noise_map

    rng = np.random.default_rng(3)
    for shape in ((128, 432), (37, 91), (5, 3), (40, 40)):
        x = rng.normal(5.0, 1.0 + rng.random(shape)).astype(np.float32)
        want = pixel_noise_map(x)
        got = pixel_noise_map(x, c_order=True)
        assert got.flags.c_contiguous and got.dtype == want.dtype
        assert np.array_equal(got, want)


def test_smoothing_is_scipys_gaussian_filter():
    """The edge points' smoothing of a float32 image, compiled: ``ndimage.gaussian_filter(median3(x),
    SMOOTH_PX, mode="nearest")`` bit for bit (NaN, inf, 1 × 1 … 60 × 70 and frame-sized images)."""
    from scipy import ndimage

    from ioscan.detect import limb

    rng = np.random.default_rng(1)
    for t in range(60):
        shape = (int(rng.integers(1, 60)), int(rng.integers(1, 70))) if t % 5 else (128, 432)
        x = (rng.normal(5, 2, shape) * 10 ** rng.uniform(-3, 3)).astype(np.float32)
        if t % 7 == 0:
            x[rng.random(shape) < 0.05] = np.nan
        if t % 11 == 0:
            x[rng.random(shape) < 0.05] = np.inf
        want = ndimage.gaussian_filter(limb.median3(x), limb.SMOOTH_PX, mode="nearest")
        got = limb._smooth(x)
        assert got.dtype == want.dtype and got.tobytes() == want.tobytes(), t
