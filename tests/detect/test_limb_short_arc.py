"""A short arc of the limb decides what is off the disk when it is the frame's first edge, not when it is
the sunlit limb left between a terminator's horns (:func:`ioscan.detect.region.decides_off_disk`, issue 11,
day side: cosmic-ray remnants and noise peaks hundreds of px out in the sky beyond a short limb arc)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ioscan.detect import DetectConfig
from ioscan.detect.limb import find_limb
from ioscan.detect.region import MIN_TRUSTED_ARC_PX, decides_off_disk, locate_limb
from ioscan.records import BandImage

#: a uniform disk of this radius (px) centred off the frame's top-left corner: ~45 px of its limb in view
RADIUS_PX = 310.0
CENTRE = (-200.0, -200.0)


def _corner_disk() -> np.ndarray:
    """A bright uniform disk (step 100, PSF σ 0.8 px, unit noise) whose limb crosses the frame's top-left
    corner, the rest of the 128 × 432 frame sky."""
    yy, xx = np.mgrid[0:128, 0:432]
    inside = RADIUS_PX - np.hypot(xx - CENTRE[0], yy - CENTRE[1]) > 0
    img = ndimage.gaussian_filter(inside * 100.0, 0.8)
    return (img + np.random.default_rng(3).normal(0.0, 1.0, img.shape)).astype(np.float32)


def test_a_short_arc_seen_first_decides_what_is_off_the_disk():
    """The corner's arc (45 px, less than MIN_TRUSTED_ARC_PX) is sharp, pinned and the frame's only edge: it
    decides (it did not before). Its radius is 263 px, not 310 (a short arc's curvature is loose), but along
    the rays through the arc (its known zone) the circle is the limb to a fraction of a pixel: no pixel of
    the true disk lies beyond the near-limb distance (2.6 px) there, and a pixel 140 px out along the ray
    through the arc's middle does."""
    img = _corner_disk()
    circle = find_limb(img, 0.8)
    assert circle is not None and not circle.soft and not circle.beside_soft
    assert circle.arc_px < MIN_TRUSTED_ARC_PX
    assert decides_off_disk(circle)
    limb = locate_limb(BandImage("M", img, "W m-2 sr-1", 4.78, 0.5), img, None, 0.8, DetectConfig())
    assert limb.trusted and not limb.from_geometry
    yy, xx = np.mgrid[0 : img.shape[0], 0 : img.shape[1]]
    on_disk = np.hypot(xx - CENTRE[0], yy - CENTRE[1]) < RADIUS_PX
    beyond = limb.known & (limb.distance_px < -2.6)
    assert not (beyond & on_disk).any()
    far = (120, 120)  # (line, sample): 45° from the centre, through the arc's middle
    assert beyond[far] and limb.distance_px[far] < -140.0
