"""Where the limb comes from (:func:`ioscan.detect.region.locate_limb`): the geometry's limb is checked
against the image's unless navigation registered the geometry on this very band's limb."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from ioscan.detect import DetectConfig, region
from ioscan.detect.region import locate_limb
from ioscan.geometry.backplanes import Backplanes, LimbRegistration
from ioscan.records import BandImage


def _disk_and_geometry(geometry_shift_px: float, registered_on: str | None):
    """A bright disk (radius 50 px, PSF σ 0.7 px, unit noise) in band "M", its left half in view (a whole
    limb's check sees no shift along it), and backplanes whose disk sits ``geometry_shift_px`` to the right
    of it, registered on ``registered_on``'s limb (None: predicted)."""
    yy, xx = np.mgrid[0:128, 0:432]
    seen = 50.0 - np.hypot(xx - 400.0, yy - 64.0)
    img = ndimage.gaussian_filter((seen > 0) * 100.0, 0.7) + np.random.default_rng(1).normal(0, 1, seen.shape)
    d = 50.0 - np.hypot(xx - 400.0 - geometry_shift_px, yy - 64.0)
    reg = None
    if registered_on is not None:
        reg = LimbRegistration(registered_on, (geometry_shift_px, 0.0), (0.1, 0.1), 0.2, 120)
    bp = Backplanes({"on_disk": (d > 0).astype(float), "limb_distance_px": d}, limb_registration=reg)
    return BandImage("M", img.astype(np.float32), "W m-2 sr-1", 4.78, 0.5), bp


@pytest.mark.parametrize("registered_on", [None, "L"])
def test_a_geometry_3_px_off_is_caught_unless_fitted_in_this_band(registered_on):
    """Predicted, or registered on another band's limb: the check finds the 3 px, takes the image's limb."""
    band, bp = _disk_and_geometry(3.0, registered_on)
    limb = locate_limb(band, band.data, bp, 0.7, DetectConfig(pointing_error_px=0.25))
    assert not limb.from_geometry and limb.circle is not None
    assert any("limb is taken from the image" in m for m in limb.messages)
    assert limb.circle.center_sample == pytest.approx(400.0, abs=0.5)


def test_a_band_whose_limb_navigation_fitted_is_not_checked_again(monkeypatch):
    """Registered on this band's limb, the backplanes' limb is the fitted one: no check is made (it would
    re-measure the fit) and the geometry's limb distance is used as it is."""
    calls = []
    monkeypatch.setattr(region, "geometry_limb_offset_px", lambda *a, **k: calls.append(1))
    band, bp = _disk_and_geometry(0.0, "M")
    limb = locate_limb(band, band.data, bp, 0.7, DetectConfig(pointing_error_px=0.25))
    assert calls == [] and limb.from_geometry and limb.backplanes is bp
    assert limb.distance_px is not None and np.array_equal(limb.distance_px, bp["limb_distance_px"])
    assert limb.messages == () and limb.shading is None


def test_the_check_still_runs_for_a_band_registered_otherwise(monkeypatch):
    """The same backplanes registered on another band's limb are checked once (what catches a wrong one)."""
    calls = []
    real = region.geometry_limb_offset_px
    monkeypatch.setattr(region, "geometry_limb_offset_px", lambda *a, **k: calls.append(1) or real(*a, **k))
    band, bp = _disk_and_geometry(0.0, "L")
    limb = locate_limb(band, band.data, bp, 0.7, DetectConfig(pointing_error_px=0.25))
    assert calls == [1] and limb.from_geometry


def _inside_the_disk(min_distance_px: float):
    """A band deep inside Io's disk (a close flyby: no limb in view) showing a bright round albedo feature
    (radius 40 px, a soft edge) on darker ground, and backplanes whose smallest limb distance over the band
    is ``min_distance_px`` (a disk centred far below the frame)."""
    yy, xx = np.mgrid[0:128, 0:432]
    feature = ndimage.gaussian_filter((np.hypot(xx - 200.0, yy - 64.0) < 40.0) * 60.0, 3.0)
    img = 20.0 + feature + np.random.default_rng(2).normal(0, 1, feature.shape)
    radius = 5000.0
    d = radius - np.hypot(xx - 216.0, yy - (radius - min_distance_px))
    bp = Backplanes({"on_disk": (d > 0).astype(float), "limb_distance_px": d})
    return BandImage("M", img.astype(np.float32), "W m-2 sr-1", 4.78, 0.5), bp


def test_no_limb_is_looked_for_where_the_geometry_puts_the_band_beyond_5_sigma_inside_the_disk(monkeypatch):
    """Pointing uncertain by 51.4 px (an unregistered JIRAM frame): a band whose every pixel the geometry puts
    more than 5σ (257 px) inside the limb shows no limb; the image's limb is not looked for (the albedo
    feature's outline, which the search takes for a disk 40 px across, is not Io's limb) and the whole band
    is searched with no limb."""
    cfg = DetectConfig(pointing_error_px=51.4)
    band, bp = _inside_the_disk(300.0)
    assert 295.0 < np.min(bp["limb_distance_px"]) <= 300.0
    # without the geometry (or within 5σ of it) the image's search takes the feature's outline for a limb
    seen = locate_limb(band, band.data, None, 0.7, cfg)
    assert seen.distance_px is not None and seen.distance_px[64, 200] > 30
    near = locate_limb(band, band.data, _inside_the_disk(250.0)[1], 0.7, cfg)
    assert near.distance_px is not None and not near.from_geometry
    calls = []
    monkeypatch.setattr(region, "find_limb", lambda *a, **k: calls.append(1))
    monkeypatch.setattr(region, "limb_distance_from_data", lambda *a, **k: calls.append(2))
    limb = locate_limb(band, band.data, bp, 0.7, cfg)
    assert calls == []
    assert limb.distance_px is None and not limb.from_geometry and limb.backplanes is bp
    assert limb.circle is None and limb.status is None
    assert any("none looked for" in m for m in limb.messages)
    assert region.search_region(limb, band.data.shape, pad=5)[1] is None  # searched everywhere


def test_the_out_of_view_test_reads_the_pointing_error_and_the_shape():
    """:func:`region.limb_out_of_view_px`: the smallest distance when it exceeds 5σ, else None; None too for
    backplanes of another shape or a NaN distance (not decided)."""
    _, bp = _inside_the_disk(300.0)
    low = float(np.min(bp["limb_distance_px"]))
    assert region.limb_out_of_view_px(bp, (128, 432), 51.4) == low
    assert region.limb_out_of_view_px(bp, (128, 432), low / 5.0 + 0.01) is None
    assert region.limb_out_of_view_px(bp, (64, 432), 51.4) is None
    d = np.array(bp["limb_distance_px"])
    d[3, 3] = np.nan
    nan_bp = Backplanes({"on_disk": np.ones_like(d), "limb_distance_px": d})
    assert region.limb_out_of_view_px(nan_bp, (128, 432), 51.4) is None
