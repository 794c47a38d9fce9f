"""The OFF_DISK zone of an image limb (:func:`ioscan.detect.region.off_disk_zone`, issue 11, day side): far
beyond a sharp circle (its covariance's error) whether or not it decides the near zone, and a soft trusted
limb's zone only beyond its measured edge width."""

from __future__ import annotations

import numpy as np
from test_limb_short_arc import CENTRE, RADIUS_PX, _corner_disk
from test_limb_terminator import _gibbous, _lambert_scene

from ioscan.detect.limb import find_limb, known_zone
from ioscan.detect.region import (
    FAR_SIGMA,
    Limb,
    decides_off_disk,
    far_off_disk,
    off_disk_zone,
    soft_margin_px,
)

NEAR_PX = 2.6  # detection's default near-limb distance at PSF σ 0.8 px (2σ + 1)


def _limb_of(img: np.ndarray) -> Limb:
    circle = find_limb(img, 0.8)
    assert circle is not None
    d = circle.distance_px(img.shape)
    known = known_zone(circle, img.shape)
    return Limb(d, False, None, 0.0, circle=circle, known=known, trusted=decides_off_disk(circle))


def test_far_beyond_a_short_arc_is_off_the_disk_outside_its_known_zone():
    """The corner's 45 px arc: a pixel at the frame's far end (706 px from the disk's centre, outside the
    arc's known zone) is off the disk by the far rule; no pixel of the true disk is."""
    img = _corner_disk()
    limb = _limb_of(img)
    far = far_off_disk(limb.circle, limb.distance_px, NEAR_PX)
    yy, xx = np.mgrid[0 : img.shape[0], 0 : img.shape[1]]
    on_disk = np.hypot(xx - CENTRE[0], yy - CENTRE[1]) < RADIUS_PX + 1.0
    assert not (far & on_disk).any()
    assert far[120, 430] and not limb.known[120, 430]
    zone = off_disk_zone(limb, img.shape, NEAR_PX)
    assert zone[120, 430] and not (zone & on_disk & (limb.distance_px < -NEAR_PX)).any()


def test_a_short_arc_bent_by_a_terminator_takes_no_true_disk_pixel():
    """The gibbous disk's sunlit arc beside a terminator (radius 60 px against 115: its covariance does not
    hold the horns' bending): the tangent at the arc's middle keeps the far rule off the true disk, and the
    zone leaves such a circle out altogether."""
    frame = _gibbous(90.0)
    b = frame.bands["M"]
    limb = _limb_of(b.image)
    assert limb.circle.beside_soft and not limb.trusted
    far = far_off_disk(limb.circle, limb.distance_px, NEAR_PX)
    assert far.any() and not (far & (b.on_disk_fraction > 0)).any()
    assert not off_disk_zone(limb, b.image.shape, NEAR_PX).any()


def test_a_soft_trusted_limb_flags_only_beyond_its_edge_width():
    """A whole Lambert disk at 2° phase: its soft edge (20–80 % width ~3.3 px) is trusted; its zone starts
    beyond the near-limb distance plus that width, and takes no pixel of the true disk."""
    frame = _lambert_scene(200_000.0, 2.0, 30.0, 200.0)
    b = frame.bands["M"]
    limb = _limb_of(b.image)
    assert limb.circle.soft and limb.trusted
    width = soft_margin_px(limb.circle)
    assert 2.5 < width < 5.0
    zone = off_disk_zone(limb, b.image.shape, NEAR_PX)
    assert zone.any() and limb.distance_px[zone].max() < -(NEAR_PX + width)
    assert not (zone & (b.on_disk_fraction > 0)).any()


def test_no_circle_decides_nothing_and_the_geometry_everything():
    limb = Limb(np.zeros((4, 5)), False, None, 0.0, trusted=False)
    assert not off_disk_zone(limb, (4, 5), NEAR_PX).any()
    assert off_disk_zone(Limb(np.zeros((4, 5)), True, None, 0.0), (4, 5), NEAR_PX) is None
    assert FAR_SIGMA == 5.0
