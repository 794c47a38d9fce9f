"""The geometry's limb check makes its expected image only when it has edge points to use it on, and gives
the same offset as with the image given outright."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ioscan.detect.limb import geometry_limb_offset_px


def _disk(centre_sample: float, radius_px: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A PSF-blurred bright disk (σ 0.7 px) with noise, and the signed limb distance of its geometry (px)."""
    yy, xx = np.mgrid[0:128, 0:432]
    d = radius_px - np.hypot(xx - centre_sample, yy - 64.0)
    img = ndimage.gaussian_filter((d > 0).astype(float) * 100.0, 0.7)
    return img + np.random.default_rng(seed).normal(0.0, 1.0, img.shape), d


def test_expected_as_a_function_gives_the_same_offset():
    img, d = _disk(216.0, 50.0)
    expected = ndimage.gaussian_filter((d + 1.0 > 0).astype(float), 0.7)  # a limb 1 px further out
    calls = []

    def make():
        calls.append(1)
        return expected

    off_fn, pts_fn = geometry_limb_offset_px(img, d, 0.7, expected=make)
    off, pts = geometry_limb_offset_px(img, d, 0.7, expected=expected)
    assert calls == [1]
    assert off_fn == off and len(pts_fn) == len(pts) >= 12
    # measured against the expected image's own rise, 1 px on the sky side of the image's edge
    assert abs(off + 1.0) < 0.3
    assert abs(geometry_limb_offset_px(img, d, 0.7)[0]) < 0.3  # the geometry's limb is the image's


def test_expected_not_made_without_a_limb_in_view():
    img, d = _disk(216.0, 800.0)  # the disk fills the frame: no limb to check

    def make():
        raise AssertionError("made without edge points")

    off, pts = geometry_limb_offset_px(img, d, 0.7, expected=make)
    assert np.isnan(off) and len(pts) == 0
