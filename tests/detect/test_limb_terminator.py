"""The limb found in the image is not a terminator (:func:`ioscan.detect.limb.find_limb`, issue 11, day side):
a gibbous disk whose sunlit limb shows only a short arc beside a long terminator, rendered by the independent
renderer (its exact ray–ellipsoid geometry is the truth); the width of a PSF-blurred step."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ioscan.detect.limb import edge_points, find_limb, step_width_px
from ioscan.detect.region import MIN_TRUSTED_ARC_PX, decides_off_disk
from ioscan.simulate.independent import (
    DetectorParams,
    HotSpotParams,
    Photometry,
    SceneParams,
    render_scene,
    view_geometry,
)

NO_SPOTS = HotSpotParams(n_surface_mean=0.0, limb_sources_mean=0.0)
QUIET = DetectorParams(cosmic_rays_mean=0.0, column_gain_rms=0.0, column_offset_rms_w_m2_sr=0.0)


def _gibbous(sun_azimuth_deg: float):
    """A 115 px disk centred near the frame's left edge at 60° phase (Minnaert k 0.7)."""
    v = view_geometry(
        range_km=67_000.0,
        center_sample_px=20.0,
        center_line_px=120.0,
        phase_deg=60.0,
        sun_azimuth_deg=sun_azimuth_deg,
    )
    params = SceneParams(
        seed=1, view=v, hot_spots=NO_SPOTS, detector=QUIET, photometry=Photometry(minnaert_k=0.7)
    )
    return render_scene(params)


def _off_true_limb_px(frame, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Distance (px) of points from the pixels the true limb crosses (the renderer's disk coverage)."""
    b = frame.bands["M"]
    d = ndimage.distance_transform_edt(~b.limb_mask)
    return d[
        np.clip(np.rint(ys).astype(int), 0, d.shape[0] - 1),
        np.clip(np.rint(xs).astype(int), 0, d.shape[1] - 1),
    ]


def test_short_sunlit_limb_beside_a_long_terminator():
    """Sunlit limb ~30 px long, terminator ~100 px: main's circle (radius 123 px, centre 70 px off) lay on the
    terminator (its points 10–40 px from the limb; arc 101 px: trusted); the circle found now follows the
    true limb's pixels (median within 1 px; the last few points reach 4 px where the terminator joins the
    limb at the horn), and its arc, found beside the terminator, is too short to be trusted (its radius is
    that of a short arc, 60 px against 115: bent by the horns) unless the radius is right to 1 px."""
    frame = _gibbous(90.0)
    limb = find_limb(frame.bands["M"].image, 0.8)
    assert limb is not None
    off = _off_true_limb_px(frame, limb.points.x, limb.points.y)
    assert np.median(off) <= 1.0 and np.max(off) <= 4.5
    assert limb.beside_soft
    assert abs(limb.radius_px - frame.params.view.radius_px) < 1.0 or not decides_off_disk(limb)


def test_step_width_is_that_edge_points_measure_on_a_blurred_step():
    """A straight step blurred by a Gaussian PSF (σ 0.6, 0.8, 1.2 px; pixel-integrated by 5 × 5
    sub-sampling), little noise: the median 20–80 % width of its edge points is :func:`step_width_px` to
    10 %."""
    rng = np.random.default_rng(3)
    for sigma in (0.6, 0.8, 1.2):
        sub = 5
        xx = (np.arange(80 * sub) + 0.5) / sub
        edge = (xx[None, :] > 40.3 + 0.1 * (np.arange(60 * sub)[:, None] / sub)).astype(float)
        img = ndimage.gaussian_filter(edge, sigma * sub).reshape(60, sub, 80, sub).mean(axis=(1, 3))
        img = 100.0 * img + rng.normal(0.0, 0.2, img.shape)
        pts = edge_points(img, sigma)
        assert len(pts) > 30
        assert abs(np.median(pts.width_px) / step_width_px(sigma) - 1.0) < 0.1


def _lambert_scene(range_km: float, phase_deg: float, sun_azimuth_deg: float, center_sample_px: float):
    v = view_geometry(
        range_km=range_km,
        center_sample_px=center_sample_px,
        center_line_px=64.0,
        phase_deg=phase_deg,
        sun_azimuth_deg=sun_azimuth_deg,
    )
    params = SceneParams(
        seed=1, view=v, hot_spots=NO_SPOTS, detector=QUIET, photometry=Photometry(minnaert_k=1.0)
    )
    return render_scene(params)


def test_a_terminator_alone_in_view_is_not_trusted():
    """A gibbous Lambert disk (radius 154 px, 45° phase) centred 60 px left of the frame with the Sun
    beyond it: only the terminator is in view (the limb beside it is on the night side). The circle found
    follows the terminator (43 px inside the true limb, radius 249 px): it is soft and covers less than half
    a turn, so it is not trusted (main trusted it: a 120 px arc) and OFF_DISK is left to no limb."""
    frame = _lambert_scene(50_000.0, 45.0, 90.0, -60.0)
    limb = find_limb(frame.bands["M"].image, 0.8)
    assert limb is not None
    assert np.median(_off_true_limb_px(frame, limb.points.x, limb.points.y)) > 20.0  # the terminator
    assert limb.arc_px >= MIN_TRUSTED_ARC_PX and limb.soft
    assert not decides_off_disk(limb)


def test_a_soft_limb_near_zero_phase_is_still_trusted():
    """A whole Lambert disk at 2° and 5° phase (radius 38 and 51 px): its edge is as soft as a terminator's,
    but the circle covers more than half a turn, which no terminator's can: trusted, its radius within
    1.5 px of the truth (the steepest rise lies ~1 px inside the limb)."""
    for range_km, phase, center in ((200_000.0, 2.0, 200.0), (150_000.0, 5.0, 216.0)):
        frame = _lambert_scene(range_km, phase, 30.0, center)
        limb = find_limb(frame.bands["M"].image, 0.8)
        assert limb is not None and limb.soft
        assert decides_off_disk(limb)
        assert abs(limb.radius_px - frame.params.view.radius_px) < 1.5
        assert np.median(_off_true_limb_px(frame, limb.points.x, limb.points.y)) <= 1.0
