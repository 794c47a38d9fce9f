"""The sunlit disk a band's photometric-law test and its plain shading template share
(:class:`ioscan.detect.shading.SunlitDisk`): each made once, bit for bit what each made on its own."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from ioscan.detect import DetectConfig
from ioscan.detect.psf import PsfModel
from ioscan.detect.shading import (
    _NEAR_OFFSETS,
    _cos_deg_at,
    _cos_deg_on,
    _line_fit,
    _nearest_disk_pixel,
    blur_support,
    blur_taps_px,
    law_differs,
    shading_template,
    sunlit_box,
    sunlit_disk,
    sunlit_mask,
    template_crops_to,
)
from ioscan.records import BandImage


def _same(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    """Both None, or equal to the last bit (the sign of zero too)."""
    if a is None or b is None:
        return a is None and b is None
    return np.array_equal(a, b) and np.array_equal(np.signbit(a), np.signbit(b))


@pytest.mark.parametrize("range_km", [60000.0, 250000.0])
def test_the_shared_disks_template_is_the_whole_images_and_its_crops(range_km):
    """The sunlit box's template placed in the whole image is ``shading_template`` of the whole image, and
    its crop to a window that holds the blurred disk is the window's own template."""
    from test_shading import simulator_sunlit_disk

    img, bp, psf = simulator_sunlit_disk(range_km)
    disk = sunlit_disk(img, bp, psf)
    assert disk.exact and disk.window == sunlit_box(bp, psf)
    whole = disk.template()
    assert whole is not None and disk.template() is whole  # made once
    assert _same(whole, shading_template(img, bp, psf))
    rows, cols = disk.window
    wider = (slice(max(rows.start - 3, 0), rows.stop), slice(max(cols.start - 7, 0), cols.stop + 2))
    assert template_crops_to(bp, psf, wider)
    assert _same(np.ascontiguousarray(whole[wider]), shading_template(img, bp, psf, wider))


def test_the_shared_disk_gives_the_law_test_its_own_answer():
    """The law test reading the shared disk's cosines answers as with its own (the renderer's foreign law,
    with the deciding candidate; the simulator's own law), and so does the whole image's window."""
    from test_shading import _renderer_disk, simulator_sunlit_disk

    img, _, bp, psf = _renderer_disk(0.6)
    won, won_shared = [], []
    disk = sunlit_disk(img, bp, psf)
    assert law_differs(img, bp, psf, winner=won) is True
    assert law_differs(img, bp, psf, disk.window, winner=won_shared, disk=disk) is True
    assert won == won_shared
    img, bp, psf = simulator_sunlit_disk(60000.0)
    disk = sunlit_disk(img, bp, psf)
    assert law_differs(img, bp, psf, disk.window, disk=disk) is False
    assert _same(disk.template(), shading_template(img, bp, psf))  # the cosines the test left, reused


def test_no_shared_template_on_the_night_side():
    from test_shading import _geometry

    from ioscan.geometry.label_provider import backplanes_from_label

    bp = backplanes_from_label(_geometry(20.0), 432, 128)
    img = np.random.default_rng(0).normal(0.0, 1e-4, (128, 432))
    disk = sunlit_disk(img, bp, PsfModel.gaussian(0.6))
    assert disk.template() is None and law_differs(img, bp, disk.psf, disk.window, disk=disk) is None


def test_the_background_crops_the_limbs_shared_template(monkeypatch):
    """On the simulator's sunlit frame the law's test (``detect.shading_foreign_law``) leaves the band's
    sunlit disk on its :class:`Limb`; the background's template is its crop, not made again, and equals the
    crop's own template bit for bit."""
    from test_shading import simulator_sunlit_disk

    from ioscan.detect import band as band_module
    from ioscan.detect.region import locate_limb, search_region

    img, bp, _ = simulator_sunlit_disk(60000.0)
    cfg = DetectConfig(pointing_error_px=0.25, shading_foreign_law=True)
    psf = cfg.psf_for("M", "JIRAM", 4.78)
    limb = locate_limb(BandImage("M", img, "W m-2 sr-1", 4.78, 0.4975), img, bp, 0.6, cfg, psf=psf)
    assert limb.shading is not None and limb.shading.data is img and limb.shading.psf is psf
    sl, _ = search_region(limb, img.shape, pad=12)
    want = shading_template(img, bp, psf, sl)

    def not_again(*args, **kwargs):
        raise AssertionError("the template made again")

    monkeypatch.setattr(band_module, "shading_template", not_again)
    args = band_module._background_args(img, limb, None, sl, psf, cfg)
    assert want is not None and _same(args["shading"], want)


@pytest.mark.parametrize(
    "psf",
    [
        PsfModel((0.96, 0.04), (0.6, 2.5)),
        PsfModel((0.96, 0.04), (0.6, 2.5), elongation=1.7),
        PsfModel.gaussian(0.8),
    ],
)
def test_the_blur_reads_its_taps_box_and_no_further(psf):
    """A blurred pixel sums the inputs within :func:`blur_taps_px` of it alone: zeroing all beyond that box
    leaves it the same bit for bit; a box one pixel shorter along either axis does not."""
    rng = np.random.default_rng(4)
    raw = rng.uniform(0.1, 2.0, (64, 80))
    support = np.ones(raw.shape, bool)
    full = blur_support(raw, support, psf)
    taps_l, taps_s = blur_taps_px(psf)
    centre = np.zeros(raw.shape, bool)
    centre[30:33, 38:42] = True
    for (tl, ts), exact in (
        ((taps_l, taps_s), True),
        ((taps_l - 1, taps_s), False),
        ((taps_l, taps_s - 1), False),
    ):
        box = ndimage.maximum_filter(centre.view(np.uint8), size=(2 * tl + 1, 2 * ts + 1), mode="constant")
        part = blur_support(np.where(box.view(bool), raw, 0.0), box.view(bool), psf)
        assert np.array_equal(part[centre], full[centre]) is exact, (tl, ts)


def test_nearest_disk_pixel_is_the_first_in_offset_order():
    """Each off-disk pixel's nearest disk pixel (:func:`_nearest_disk_pixel`) is the first disk pixel of
    :data:`_NEAR_OFFSETS` seen from it (all offsets tested at once here), none beyond 3 px."""
    rng = np.random.default_rng(5)
    disk = ndimage.binary_opening(rng.uniform(size=(40, 50)) < 0.35)
    nl, ns = disk.shape
    i = np.flatnonzero(~disk)
    got, found = _nearest_disk_pixel(disk, i)
    off = np.asarray(_NEAR_OFFSETS)
    r, c = np.divmod(i, ns)
    rr, cc = r[:, None] + off[:, 0], c[:, None] + off[:, 1]
    inside = (rr >= 0) & (rr < nl) & (cc >= 0) & (cc < ns)
    j = np.where(inside, rr * ns + cc, 0)
    hit = inside & disk.ravel()[j]
    assert np.array_equal(found, hit.any(axis=1)) and 0 < found.sum() < found.size
    assert np.array_equal(got[found], j[np.arange(i.size), np.argmax(hit, axis=1)][found])


def test_cosines_gathered_are_those_computed_at_the_pixels():
    rng = np.random.default_rng(6)
    ang = rng.uniform(0.0, 120.0, (20, 30))
    ang[rng.uniform(size=ang.shape) < 0.2] = np.nan
    on = rng.uniform(size=ang.shape) < 0.5
    known = _cos_deg_on(ang, on)
    i = rng.integers(0, ang.size, 200)
    want = np.cos(np.radians(ang.ravel()[i]))
    assert np.array_equal(_cos_deg_at(ang, known, on, i), want, equal_nan=True)
    assert np.isnan(known[~on]).all()


def test_line_fit_keeps_np_means_operations():
    rng = np.random.default_rng(7)
    for n in (20, 257, 4000):
        x, y = rng.normal(size=n), rng.normal(size=n)
        xm, ym = float(np.mean(x)), float(np.mean(y))
        dx = x - xm
        slope = float(np.dot(dx, y - ym)) / float(np.dot(dx, dx))
        assert _line_fit(x, y) == (slope, ym - slope * xm)


def test_sunlit_mask_of_the_shared_disk_is_the_windows():
    from test_shading import simulator_sunlit_disk

    img, bp, psf = simulator_sunlit_disk(250000.0)
    disk = sunlit_disk(img, bp, psf)
    assert np.array_equal(disk.on, sunlit_mask(bp)[disk.window])
    want = _cos_deg_on(np.asarray(bp["incidence_deg"], float)[disk.window], disk.on)
    assert np.array_equal(disk.mu0, want, equal_nan=True)
