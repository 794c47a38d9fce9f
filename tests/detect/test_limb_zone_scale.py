"""``DetectConfig.limb_zone_own_scale_px``: deep in the limb profile's zone the S/N is the zone's white-noise
S/N scaled by its own limb-distance profile and cells alone. Checked on the independent renderer's sunlit
limb without hot spots (code the detector never uses; the limb and its profile found in the image): all of
the S/N there is noise and the limb model's misfit."""

from __future__ import annotations

import numpy as np
import pytest
from test_limb import _render

from ioscan.detect.background import estimate_background
from ioscan.detect.disk import laplacian_noise
from ioscan.detect.limb import find_limb, known_zone
from ioscan.detect.limb_profile import fit_limb_model
from ioscan.detect.psf import PsfModel

ROBUST = 1.4826  # MAD → σ of a Gaussian


@pytest.mark.parametrize("seed, phase_deg, azimuth_deg", [(1, 30.0, 90.0), (2, 60.0, 45.0)])
def test_own_scale_is_the_scatter_there(seed, phase_deg, azimuth_deg):
    """Two gibbous disks, no hot spots. By default the zone's scale (blocks × limb-distance profile × the
    zone's 90 % quantile) leaves the S/N map 4 px or more inside the limb a robust scatter of only ~0.35
    (measured 0.36, 0.38): its scale is ~3 times what is there. With the setting at 4 px that scatter is
    ~1 (measured 1.06, 0.90), its scale lower; every pixel shallower than 4 px or outside the zone keeps
    its S/N and scale bit for bit. (Not asserted: on a crescent, phase 120°, the scatter is 1.24 and the
    map reaches 14 on the misfit — the zone's 2 × 16 px cells do not follow a profile that fails along the
    arc.)"""
    frame = _render(seed=seed, phase_deg=phase_deg, sun_azimuth_deg=azimuth_deg)
    img = frame.bands["M"].image.astype(float)
    circle = find_limb(img, 0.8)
    assert circle is not None
    model = fit_limb_model(img, circle, known_zone(circle, img.shape), np.isfinite(img), laplacian_noise(img))
    assert model is not None
    kw = dict(psf=PsfModel.gaussian(0.8), limb_distance_px=model.distance_px, limb_model=model)
    off = estimate_background(img, **kw)
    on = estimate_background(img, **kw, limb_zone_own_scale_px=4.0)
    d = model.distance_px
    deep = model.zone & off.usable & (d >= 4.0)
    assert deep.sum() > 500
    rest = ~(model.zone & (d >= 4.0))
    assert np.array_equal(on.snr[rest], off.snr[rest]) and np.array_equal(on.scale[rest], off.scale[rest])
    assert ROBUST * np.median(np.abs(off.snr[deep])) < 0.5
    assert ROBUST * np.median(np.abs(on.snr[deep])) == pytest.approx(1.0, abs=0.15)
    assert np.median(on.scale[deep]) < 0.6 * np.median(off.scale[deep])
    assert np.all(on.scale[deep] >= 1.0)


def test_an_infinite_depth_turns_the_own_scale_off():
    """``--set detect.limb_zone_own_scale_px=inf`` (TOML has no null): no pixel is that deep, and the S/N and
    scale are those of the setting off, bit for bit."""
    frame = _render(seed=1, phase_deg=30.0, sun_azimuth_deg=90.0)
    img = frame.bands["M"].image.astype(float)
    circle = find_limb(img, 0.8)
    model = fit_limb_model(img, circle, known_zone(circle, img.shape), np.isfinite(img), laplacian_noise(img))
    kw = dict(psf=PsfModel.gaussian(0.8), limb_distance_px=model.distance_px, limb_model=model)
    off = estimate_background(img, **kw)
    inf = estimate_background(img, **kw, limb_zone_own_scale_px=float("inf"))
    assert np.array_equal(inf.snr, off.snr) and np.array_equal(inf.scale, off.scale)
