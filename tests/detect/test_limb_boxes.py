"""The limb circle's distance and known zone made on a box of the image are the whole image's, bit for bit
(:meth:`LimbCircle.distance_px` with a box, :meth:`LimbCircle.box_px`, :func:`limb._dark_ring`), and the
geometry check that reads them (:func:`region._image_limb_along_geometry`) decides as on the whole image."""

from __future__ import annotations

import numpy as np
import pytest

from ioscan.detect import limb as limb_mod
from ioscan.detect.limb import EdgePoints, LimbCircle, known_zone
from ioscan.detect.region import GEOMETRY_CIRCLE_AGREE_PX, _image_limb_along_geometry

SHAPE = (128, 432)


def _circle(cx: float, cy: float, r: float, a0: float = 10.0, a1: float = 130.0) -> LimbCircle:
    """A circle of radius ``r`` (px) centred at (``cx``, ``cy``), seen along ``a0``–``a1`` (°)."""
    a = np.radians(np.arange(a0, a1, 1.0))
    ones = np.ones_like(a)
    pts = EdgePoints(cx + r * np.cos(a), cy + r * np.sin(a), -np.cos(a), -np.sin(a), 100.0 * ones, 1.8 * ones)
    return LimbCircle(cx, cy, r, 0.2, a.size, r * float(np.ptp(a)), 100.0, pts, np.eye(3) * 1e-4)


CIRCLES = [
    _circle(200.3, 60.7, 31.2),  # a far disk inside the frame
    _circle(215.1, 300.4, 280.9, 200.0, 330.0),  # a near disk filling the frame, centre below it
    _circle(-40.2, 64.0, 70.5, -60.0, 60.0),  # centre beyond the frame's left edge
    _circle(600.0, -300.0, 20.0),  # wholly outside the frame: an empty box
]


@pytest.mark.parametrize("circle", CIRCLES)
def test_distance_on_a_box_is_the_whole_images_crop(circle):
    """The box holds every pixel within its reach beyond the limb, and the distance there is the whole
    image's, bit for bit."""
    whole = circle.distance_px(SHAPE)
    for beyond in (2.0, 6.0):
        box = circle.box_px(beyond, SHAPE)
        inside = np.zeros(SHAPE, bool)
        inside[box] = True
        assert not np.any((whole >= -beyond) & ~inside)
        part = circle.distance_px(SHAPE, box)
        assert part.shape == whole[box].shape
        assert np.array_equal(part, whole[box])


@pytest.mark.parametrize("circle", CIRCLES)
def test_dark_ring_is_the_whole_images_ring(circle):
    """find_limb's ring 2–6 px beyond the circle where it was seen: the whole-image mask, cropped, with no
    pixel beyond the box."""
    d = circle.distance_px(SHAPE)
    whole = (d <= -2.0) & (d >= -6.0) & known_zone(circle, SHAPE, margin_px=0.0)
    box, ring = limb_mod._dark_ring(circle, SHAPE)
    assert np.array_equal(ring, whole[box])
    assert np.count_nonzero(ring) == np.count_nonzero(whole)


def test_image_limb_along_geometry_agrees_as_on_the_whole_image(monkeypatch):
    """With find_limb's circle given, the check against the geometry keeps the circle where its distance
    agrees with the geometry's within GEOMETRY_CIRCLE_AGREE_PX along the arc seen, and refuses it beyond."""
    circle = CIRCLES[1]
    monkeypatch.setattr("ioscan.detect.region.find_limb", lambda *a, **k: circle)
    data = np.zeros(SHAPE, np.float32)
    geo = circle.distance_px(SHAPE) + 0.5 * GEOMETRY_CIRCLE_AGREE_PX
    got, known = _image_limb_along_geometry(data, geo, 1.0, None, True, 0.0)
    assert got is circle and np.array_equal(known, known_zone(circle, SHAPE))
    off = circle.distance_px(SHAPE) + 1.5 * GEOMETRY_CIRCLE_AGREE_PX
    assert _image_limb_along_geometry(data, off, 1.0, None, True, 0.0) == (None, None)
