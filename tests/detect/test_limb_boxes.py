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


def test_a_circle_not_finite_boxes_the_whole_image():
    """(Its distance is NaN everywhere, as on the whole image: no ring, no pixel left out.)"""
    circle = _circle(float("nan"), 60.0, 30.0)
    assert circle.box_px(6.0, SHAPE) == (slice(0, SHAPE[0]), slice(0, SHAPE[1]))
    box, ring = limb_mod._dark_ring(circle, SHAPE)
    assert ring.shape == SHAPE and not ring.any()


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


def _reference_known_zone(circle: LimbCircle, shape: tuple[int, int], margin_px: float) -> np.ndarray:
    """known_zone as first written: the angle of every pixel."""
    yy, xx = np.ogrid[0 : shape[0], 0 : shape[1]]
    return limb_mod._in_known_arc(circle, yy, xx, margin_px)


def _arc_circle(cx: float, cy: float, r: float, angles_rad: np.ndarray) -> LimbCircle:
    ones = np.ones_like(angles_rad)
    c, s = np.cos(angles_rad), np.sin(angles_rad)
    pts = EdgePoints(cx + r * c, cy + r * s, -c, -s, 100.0 * ones, 1.8 * ones)
    return LimbCircle(cx, cy, r, 0.2, angles_rad.size, r, 100.0, pts, np.eye(3) * 1e-4)


def test_known_zone_is_the_angle_tests_bit_for_bit():
    """Random circles (centres in and beyond the frame, integer ones whose arc's rays run exactly through
    pixel centres, arcs from a few degrees to all round): the cross products' zone is the angles' zone on
    every pixel, with and without a margin."""
    rng = np.random.default_rng(15)
    shape = (61, 97)
    cases = [
        _arc_circle(48.0, 30.0, 20.0, np.array([0.0, np.pi / 2])),  # rays along a line and a column
        _arc_circle(48.0, 30.0, 20.0, np.array([-np.pi / 4, np.pi / 4])),  # rays along diagonals
        _arc_circle(48.0, 30.0, 20.0, np.linspace(-np.pi, np.pi / 2, 50)),  # 3/4 turn
        _arc_circle(48.0, 30.0, 20.0, np.array([0.0, np.pi])),  # half a turn, start or end
        _arc_circle(48.0, 30.0, 20.0, np.linspace(0.0, 2 * np.pi, 400, endpoint=False)),  # all round
    ]
    for _ in range(60):
        cx, cy = rng.uniform(-150, 250), rng.uniform(-150, 200)
        if rng.uniform() < 0.3:
            cx, cy = float(round(cx)), float(round(cy))
        a0 = rng.uniform(-np.pi, np.pi)
        ang = a0 + rng.uniform(0.0, rng.choice([0.1, 2.0, 3.0, 3.2, 6.0, 6.28]), 30)
        cases.append(_arc_circle(cx, cy, rng.uniform(10, 300), ang))
    for circle in cases:
        for margin in (0.0, 5.0, 40.0):
            want = _reference_known_zone(circle, shape, margin)
            assert np.array_equal(known_zone(circle, shape, margin), want)
