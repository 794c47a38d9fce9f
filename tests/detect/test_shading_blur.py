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


def test_template_over_a_window_that_holds_the_sunlit_disk_is_the_whole_ones_crop():
    from ioscan.detect.shading import blur_reach_px, shading_template, sunlit_mask, template_crops_to
    from ioscan.geometry.label_provider import backplanes_from_label
    from ioscan.records import LabelGeometry

    geom = LabelGeometry(
        sub_observer_lat_deg=5.0,
        sub_observer_lon_w_deg=200.0,
        sub_solar_lat_deg=0.0,
        sub_solar_lon_w_deg=230.0,
        range_km=120000.0,
        north_pa_deg=15.0,
        pixel_scale_km=120000.0 * 2.4e-4,
        disk_center_sample=200.0,
        disk_center_line=70.0,
    )
    bp = backplanes_from_label(geom, 432, 128)
    rng = np.random.default_rng(2)
    mu0 = np.cos(np.radians(np.nan_to_num(bp["incidence_deg"], nan=180.0)))
    data = np.clip(mu0, 0.0, None) * rng.uniform(0.7, 1.3, mu0.shape) + rng.normal(0.0, 0.01, mu0.shape)
    psf = PsfModel((0.96, 0.04), (0.6, 2.5))
    on = sunlit_mask(bp)
    rows, cols = np.flatnonzero(on.any(axis=1)), np.flatnonzero(on.any(axis=0))
    r = blur_reach_px(psf)
    win = (slice(max(rows[0] - r, 0), rows[-1] + r + 1), slice(max(cols[0] - r, 0), cols[-1] + r + 1))
    assert template_crops_to(bp, psf, win)
    whole = shading_template(data, bp, psf)
    assert whole is not None
    assert np.array_equal(shading_template(data, bp, psf, win), whole[win])
    tight = (slice(rows[0], rows[-1] + 1), slice(cols[0] + 5, cols[-1] + 1))  # cuts the disk's blur
    assert not template_crops_to(bp, psf, tight)
