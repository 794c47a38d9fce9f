"""``DetectConfig.own_option_zones``: each background option's limb zone reaches as far as its own annulus and
filter, so the small quadratic's pixels beyond its reach take their scale from the disk's far blocks rather
than from blocks shared with a cluttered limb."""

from __future__ import annotations

import numpy as np
import pytest

from ioscan.detect.background import estimate_background
from ioscan.detect.psf import PsfModel


@pytest.mark.parametrize("seed", [5, 6])
def test_small_annulus_zone_stops_at_its_reach(seed):
    """Unit white noise; a straight limb; 1.5–5 px inside it extra noise of σ 10 (a limb's misfit); on the
    disk a texture of 12.6-px wavelength that the plane cannot follow (so the small quadratic is chosen).
    8.5–10.5 px inside the limb (beyond the small quadratic's reach of the band, 7.9 px; within the plane's,
    10.9 px) the scale is the far disk's (1) with the setting, raised by the limb's blocks without it (1.12 /
    1.05 on these seeds)."""
    rng = np.random.default_rng(seed)
    nl, ns = 128, 432
    ll, ss = np.mgrid[0:nl, 0:ns].astype(float)
    d = ll - 30.0
    img = rng.normal(0.0, 1.0, (nl, ns))
    ring = (d > 1.5) & (d < 5)
    img[ring] += rng.normal(0.0, 10.0, ring.sum())
    img += 3.0 * np.sin(ss / 2.0) * (d > 0)
    psf = PsfModel.gaussian(0.6)
    band = (d > 8.5) & (d < 10.5) & (ss > 20) & (ss < ns - 20)
    far = (d > 30) & (d < 80) & (ss > 20) & (ss < ns - 20)
    off = estimate_background(img, psf=psf, limb_distance_px=d)
    on = estimate_background(img, psf=psf, limb_distance_px=d, own_option_zones=True)
    assert np.all(on.choice[band] == 0) and np.all(off.choice[band] == 0)
    assert np.median(on.scale[band]) < 1.01
    assert np.median(off.scale[band]) > np.median(on.scale[band]) + 0.03
    assert np.median(on.scale[far]) == pytest.approx(np.median(off.scale[far]), abs=0.01)
    # the S/N there is then as calibrated as far from the limb (unit scatter of a noise map within 10 %)
    assert np.std(on.snr[band]) == pytest.approx(np.std(on.snr[far]), rel=0.1)
