"""The shading template's blur on its support's box equals the PSF's correlation of the whole image, bit for
bit (the speed-up must not move any detection)."""

from __future__ import annotations

import numpy as np
import pytest

from ioscan.detect.psf import PsfModel
from ioscan.detect.shading import blur_support


@pytest.mark.parametrize("elongation", [1.0, 1.7])
@pytest.mark.parametrize("centre", [(64.0, 216.0), (5.0, 420.0), (120.0, 3.0), (64.0, 600.0)])
def test_blur_support_is_the_whole_image_correlation_bit_for_bit(elongation, centre):
    psf = PsfModel((0.96, 0.04), (0.6, 2.5), elongation=elongation)
    yy, xx = np.mgrid[0:128, 0:432]
    support = np.hypot(yy - centre[0], xx - centre[1]) < 90.0
    raw = np.zeros(support.shape)
    raw[support] = np.random.default_rng(1).uniform(0.1, 2.0, support.sum())
    got = blur_support(raw, support, psf)
    want = psf.correlate(raw, mode="nearest")
    assert np.array_equal(got, want)
    assert np.array_equal(np.signbit(got), np.signbit(want))
