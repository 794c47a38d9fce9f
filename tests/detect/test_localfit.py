"""The limb fit (ioscan.detect.localfit): noise-calibrated S/N on a bright limb with structure across it, and
the S/N of an injected point source against the ideal matched filter's."""

import numpy as np
import pytest
from scipy.special import erf

from ioscan.detect.background import PHASES
from ioscan.detect.localfit import limb_fit_snr
from ioscan.detect.psf import PsfModel

SHAPE = (80, 120)
CENTRE = (40.0, -140.0)  # (line, sample) of a circle whose limb crosses the frame near sample 20
RADIUS_PX = 160.0


def _scene(seed: int, texture: bool):
    """A bright disk (level 1000 over sky 10) blurred at its limb, with structure across the limb as fine as
    the PSF (radial ripples 6 px in period, 1 % of the level, only within 12 px of the limb), unit
    white noise; the signed limb distance (px, positive on the disk)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1]].astype(float)
    d = RADIUS_PX - np.hypot(yy - CENTRE[0], xx - CENTRE[1])
    level = 10.0 + 990.0 * 0.5 * (1.0 + erf(d / (np.sqrt(2.0) * 0.8)))
    if texture:
        level *= 1.0 + 0.01 * np.sin(2 * np.pi * d / 6.0) * (np.abs(d) < 12)
    noise = rng.normal(0.0, 1.0, SHAPE) * np.sqrt(level / 100.0)
    return level, level + noise, level / 100.0, d


def _profile(d: np.ndarray, shift_px: float = 0.0) -> np.ndarray:
    """The limb's shape (0 on the sky, 1 on the disk) as a measured profile gives it, ``shift_px`` off."""
    return 0.5 * (1.0 + erf((d + shift_px) / (np.sqrt(2.0) * 0.8)))


@pytest.mark.parametrize("shift_px", [0.0, 0.15])
def test_white_noise_snr_is_unit_gaussian_across_a_structured_limb(shift_px):
    """A limb step of ~300 σ with ripples across it (6 px in period, ~3 σ: a quadratic over the window does
    not follow them), the profile given exact or 0.15 px off (the shift terms take that): the S/N at
    source-free pixels 3 px outside to 8 px inside the limb is unit noise — robust std 1 ± 0.2, median
    0 ± 0.3 — and never reaches 5.5."""
    psf = PsfModel.gaussian(0.8)
    _, img, var, d = _scene(1, texture=True)
    target = (np.abs(d) < 8) & (d > -3)
    target[:6] = target[-6:] = False
    weight = np.ones(SHAPE, bool)
    snr = limb_fit_snr(img, var, weight, target, d, psf, PHASES[:1], profile=_profile(d, shift_px))[0]
    v = snr[target]
    robust = 1.4826 * np.median(np.abs(v - np.median(v)))
    assert abs(robust - 1.0) < 0.2
    assert abs(np.median(v)) < 0.3
    assert np.max(np.abs(v)) < 5.5


def test_injected_source_on_the_limb_keeps_most_of_its_ideal_snr():
    """A point source 3 px inside the bright limb, ideal matched-filter S/N 10 (true PSF, true per-pixel
    noise): the fit recovers 0.55–1 of it on noise-free data, the mean over 40 noise draws agrees with that
    within ±0.35 (the mean's 1σ ~0.16) and the draws scatter with unit std (0.7–1.3)."""
    psf = PsfModel.gaussian(0.8)
    level, _, var, d = _scene(2, texture=True)
    # a pixel about 3 px inside the limb, away from the frame edges
    li = 40
    sj = int(np.argmin(np.abs(d[li] - 3.0)))
    o = np.arange(-6, 7, dtype=float)
    p = psf.stamps(
        (sj + o)[None, None, :], (li + o)[None, :, None], np.array([float(sj)]), np.array([float(li)])
    )
    stamp = p[0][0]
    sig = np.sqrt(var[li - 6 : li + 7, sj - 6 : sj + 7])
    ideal_per_flux = np.sqrt(np.sum(stamp**2 / sig**2))
    flux = 10.0 / ideal_per_flux
    clean = level.copy()
    clean[li - 6 : li + 7, sj - 6 : sj + 7] += flux * stamp
    target = np.zeros(SHAPE, bool)
    target[li, sj] = True
    weight = np.ones(SHAPE, bool)
    prof = _profile(d)
    noiseless = limb_fit_snr(clean, var, weight, target, d, psf, PHASES[:1], profile=prof)[0][li, sj]
    assert 5.5 <= noiseless <= 10.0
    rng = np.random.default_rng(3)
    found = []
    for _ in range(40):
        noisy = clean + rng.normal(0, 1, SHAPE) * np.sqrt(var)
        found.append(limb_fit_snr(noisy, var, weight, target, d, psf, PHASES[:1], profile=prof)[0][li, sj])
    assert abs(np.mean(found) - noiseless) < 0.35  # 40 draws: the mean's 1σ is ~0.16
    assert 0.7 < np.std(found) < 1.3  # the S/N's noise is unit


def test_masked_pixels_and_short_windows():
    """Pixels without weight do not enter (an arbitrary value there changes nothing), and a window with too
    few weighted pixels gives 0."""
    psf = PsfModel.gaussian(0.8)
    _, img, var, d = _scene(4, texture=False)
    target = np.zeros(SHAPE, bool)
    target[30:50, 10:30] = True
    weight = np.ones(SHAPE, bool)
    weight[35:40, 15:18] = False
    a = limb_fit_snr(img, var, weight, target, d, psf, PHASES)
    img2 = img.copy()
    img2[35:40, 15:18] = 1e9
    b = limb_fit_snr(img2, var, weight, target, d, psf, PHASES)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_allclose(u, v, atol=1e-9)
    sparse = np.zeros(SHAPE, bool)
    sparse[::4, ::4] = True
    c = limb_fit_snr(img, var, sparse, target, d, psf, PHASES[:1])[0]
    assert np.all(c[target] == 0.0)


def test_limb_fit_setting_changes_only_the_limb_zone():
    """detect.limb_fit on a sunlit frame of the independent renderer (no geometry: the limb and its profile
    are found in the image): the S/N map is the same bit for bit outside the limb model's zone and differs
    inside it; off (the default), detection is unchanged (tests/detect/test_detect_pinned.py)."""
    from independent_frames import sunlit_independent_frame
    from ioscan.detect import DetectConfig, detect_frame

    frame = sunlit_independent_frame()
    models = []
    for on in (False, True):
        res = detect_frame(frame, config=DetectConfig(limb_fit=on), keep_models=True)
        models.append(res.bands["M"].model)
    off, on = models
    zone = np.abs(off.snr - on.snr) > 0
    assert zone.any()
    d = off.limb_distance_px
    assert d is not None
    # what changed lies within the zone (SKY_REACH_PX outside to ZONE_REACH_PX inside the limb, the arc's
    # taper aside)
    from ioscan.detect.limb_profile import SKY_REACH_PX, ZONE_REACH_PX

    assert np.all((d[zone] > -SKY_REACH_PX - 0.5) & (d[zone] < ZONE_REACH_PX + 0.5))
