"""An image limb circle with the disk seen beyond it decides nothing off the disk
(:data:`ioscan.detect.region.MAX_BRIGHT_BEYOND_PX`, issue 11, day side): a sharp arc bent inwards by the
darkening towards a terminator's horn is fitted short, and its near and far OFF_DISK zones took true hot
spots on the limb."""

from __future__ import annotations

import numpy as np

from ioscan.detect.config import DetectConfig
from ioscan.detect.limb import EdgePoints, LimbCircle, find_limb, known_zone
from ioscan.detect.region import (
    BRIGHT_BEYOND_MARGIN_PX,
    MAX_BRIGHT_BEYOND_PX,
    Limb,
    bright_beyond_circle_px,
    bright_over_sky,
    decides_off_disk,
    locate_limb,
    off_disk_zone,
)
from ioscan.records import BandImage
from ioscan.simulate.independent import draw_scene, render_scene

NEAR_PX = 2.2  # detection's near-limb distance at the renderer's measured PSF (2σ + 1)


def _renderer_day_frame(index: int, seed: int):
    """Frame ``index`` of ``bench_generalise --seed seed`` (scenes drawn in turn, even frames sunlit)."""
    rng = np.random.default_rng(seed)
    for i in range(index + 1):
        params = draw_scene(rng, kind="day" if i % 2 == 0 else "night", mode="I2")
    return render_scene(params)


def _zone(circle: LimbCircle, shape: tuple[int, int], bright_beyond_px: int) -> np.ndarray:
    """The OFF_DISK zone of an image circle with ``bright_beyond_px`` bright pixels beyond it."""
    d = circle.distance_px(shape)
    known = known_zone(circle, shape)
    trusted = decides_off_disk(circle, bright_beyond_px)
    limb = Limb(
        d, False, None, 0.0, circle=circle, known=known, trusted=trusted, bright_beyond_px=bright_beyond_px
    )
    return off_disk_zone(limb, shape, NEAR_PX)


def test_a_circle_bent_by_a_terminator_horn_decides_nothing_off_the_disk():
    """Renderer seed 99, day frame 18: the first circle found is sharp, pinned (2σ band error 0.94 px) and
    63.7 px in radius against a true 88 (its arc darkened towards the horn); its zones flagged a true hot
    spot of S/N 15.2 (1 px inside the true limb, 5.7 px beyond the circle) OFF_DISK with 404
    other true-disk pixels. 282 bright pixels stand beyond it: it now decides nothing."""
    frame = _renderer_day_frame(18, seed=99)
    b = frame.bands["M"]
    saturated = b.image >= frame.saturation_w_m2_sr * (1 - 1e-6)
    circle = find_limb(b.image, 0.8, saturated)
    assert circle is not None and not circle.soft and not circle.beside_soft
    assert decides_off_disk(circle) and 60.0 < circle.radius_px < 68.0
    shape = b.image.shape
    d = circle.distance_px(shape)
    beyond = bright_beyond_circle_px(bright_over_sky(b.image, d), d)
    assert beyond > MAX_BRIGHT_BEYOND_PX
    true_disk = b.on_disk_fraction > 0
    spot = (103, 366)  # (line, sample) of the hot spot at (365.9, 102.9)
    before = _zone(circle, shape, 0)
    assert before[spot] and (before & true_disk).sum() == 405
    after = _zone(circle, shape, beyond)
    assert not decides_off_disk(circle, beyond)
    assert not after.any()

    band = BandImage("M", b.image, "W m-2 sr-1", 4.78, 0.4975)
    limb = locate_limb(band, b.image, None, 0.8, DetectConfig(), saturated=saturated)
    assert limb.circle is not None and limb.bright_beyond_px == beyond and not limb.trusted
    assert not off_disk_zone(limb, shape, NEAR_PX).any()
    assert any("bright pixels lie beyond that circle" in m for m in limb.messages)


SHAPE = (100, 300)  # lines × samples
DISK = (150.0, 10.0, 60.0)  # the disk's centre (sample, line) and radius, px: its lower half in view


def _disk_image() -> np.ndarray:
    """A flat sunlit disk (:data:`DISK`, 100 units over a sky of 0, a 1-px soft edge) with unit Gaussian
    noise, in a frame of :data:`SHAPE`."""
    rng = np.random.default_rng(5)
    cx, cy, r = DISK
    yy, xx = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1]]
    inside = np.clip(r - np.hypot(xx - cx, yy - cy) + 0.5, 0.0, 1.0)
    return (100.0 * inside + rng.normal(0.0, 1.0, SHAPE)).astype(np.float32)


def _circle(cx: float, cy: float, r: float) -> LimbCircle:
    """A pinned sharp circle seen over 60–120° (the bottom of the frame; edge points every degree)."""
    a = np.radians(np.arange(60.0, 121.0))
    ones = np.ones_like(a)
    pts = EdgePoints(cx + r * np.cos(a), cy + r * np.sin(a), -np.cos(a), -np.sin(a), 100.0 * ones, 1.8 * ones)
    return LimbCircle(cx, cy, r, 0.2, a.size, r * np.radians(60.0), 100.0, pts, np.eye(3) * 1e-3)


def test_a_circle_short_of_the_disk_is_refused_and_the_right_one_keeps_a_far_peak_off_the_disk():
    """The lower half of a flat disk of radius 60 px: a circle of radius 45 touching its limb at the bottom
    (the arc seen) runs inside it elsewhere and leaves > 1000 bright pixels beyond it: it decides nothing.
    The right circle leaves none but a bright 3 × 3 peak 15 px out in the sky (≤ 9 pixels), which its
    zones still flag OFF_DISK."""
    img = _disk_image()
    cx, cy, r = DISK
    short = _circle(cx, cy + (r - 45.0), 45.0)
    d_short = short.distance_px(SHAPE)
    beyond_short = bright_beyond_circle_px(bright_over_sky(img, d_short), d_short)
    assert beyond_short > 10 * MAX_BRIGHT_BEYOND_PX
    assert decides_off_disk(short) and not decides_off_disk(short, beyond_short)
    assert _zone(short, SHAPE, 0).any() and not _zone(short, SHAPE, beyond_short).any()

    peak = (int(cy + r + 15.0), int(cx))  # (line, sample): 15 px below the disk's lowest point
    img[peak[0] - 1 : peak[0] + 2, peak[1] - 1 : peak[1] + 2] += 50.0
    right = _circle(cx, cy, r)
    d_right = right.distance_px(SHAPE)
    beyond_right = bright_beyond_circle_px(bright_over_sky(img, d_right), d_right)
    assert 0 < beyond_right <= 9 < MAX_BRIGHT_BEYOND_PX
    assert d_right[peak] < -(BRIGHT_BEYOND_MARGIN_PX + NEAR_PX)
    assert decides_off_disk(right, beyond_right) and _zone(right, SHAPE, beyond_right)[peak]
