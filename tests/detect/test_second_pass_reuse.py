"""The second pass's background takes the first pass's white noise and dark limb
(``estimate_background(known_noise=...)``): given those of a run on the same image, it is that run; and its
windows leave out saturated sources that have no faint neighbours to re-check."""

from __future__ import annotations

import numpy as np

from ioscan.detect import default_psf, second_pass
from ioscan.detect.background import estimate_background
from ioscan.detect.photometry import PsfFit
from ioscan.detect.second_pass import (
    SourceRoles,
    background_in_windows,
    second_background,
)

JIRAM_PSF = default_psf("JIRAM", 4.78)


def _limb_scene(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A 96 × 200 frame: a night-side disk (level 6, its limb at sample 90 dark: no step) beside a sky of 5,
    both rising by 20 down the lines, white noise σ = √level (shot noise), two hot spots; and its signed
    limb distance (px, positive on the disk)."""
    rng = np.random.default_rng(seed)
    ss = np.arange(200.0)[None, :].repeat(96, axis=0)
    d = ss - 90.0
    level = np.where(d > 0, 6.0, 5.0) + 20.0 * np.arange(96.0)[:, None] / 95.0
    img = level + rng.normal(0.0, 1.0, level.shape) * np.sqrt(level)
    img[30, 140] += 300.0
    img[70, 120] += 60.0
    return img, d


def test_the_noise_of_a_run_on_the_same_image_gives_that_run():
    img, d = _limb_scene(1)
    args = dict(psf=JIRAM_PSF, limb_distance_px=d, sunlit=np.zeros(img.shape, bool))
    fitted = estimate_background(img, **args)
    dark = fitted.usable & (np.abs(d) <= 1.5 * JIRAM_PSF.core_sigma_px + 0.5)
    assert dark.sum() > 100  # the dark limb's band is kept: the reused mask is not empty
    given = estimate_background(img, **args, known_noise=(fitted.sigma_white, fitted.usable))
    assert np.array_equal(given.usable, fitted.usable)
    assert np.array_equal(given.sigma_white, fitted.sigma_white)
    assert np.array_equal(given.choice, fitted.choice)
    for name in ("background", "noise", "snr"):  # (σ² from σ: float32 rounding)
        np.testing.assert_allclose(getattr(given, name), getattr(fitted, name), rtol=1e-5, atol=1e-6)


def test_the_first_pass_noise_is_the_true_noise_of_the_subtracted_image():
    """The white noise fitted with the hot spots in the image serves the image they were subtracted from:
    within 5 % of the true σ (read noise 3 and shot noise of a level rising from 20 to 80 down the lines;
    median over the usable pixels), as a fit on that image is."""
    rng = np.random.default_rng(5)
    level = 20.0 + 60.0 * np.arange(96.0)[:, None] / 95.0 + np.zeros((96, 200))
    truth = np.sqrt(9.0 + level)
    clean = level + rng.normal(0.0, 1.0, level.shape) * truth
    img = clean.copy()
    for line, sample, flux in ((30, 140, 3000.0), (31, 60, 1500.0), (70, 120, 600.0)):
        img[line - 1 : line + 2, sample - 1 : sample + 2] += (
            flux * np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16
        )
    first = estimate_background(img, psf=JIRAM_PSF)
    again = estimate_background(clean, psf=JIRAM_PSF, known_noise=(first.sigma_white, first.usable))
    refitted = estimate_background(clean, psf=JIRAM_PSF)
    for model in (again, refitted):
        err = np.median(np.abs(model.sigma_white[model.usable] / truth[model.usable] - 1.0))
        assert err < 0.05


def test_a_masked_pixel_leaves_the_reused_dark_limb():
    img, d = _limb_scene(2)
    args = dict(psf=JIRAM_PSF, limb_distance_px=d, sunlit=np.zeros(img.shape, bool))
    fitted = estimate_background(img, **args)
    mask = np.zeros(img.shape, bool)
    mask[40:44, 89:92] = True  # on the dark limb's band
    assert fitted.usable[mask].all()
    given = estimate_background(img, **args, mask=mask, known_noise=(fitted.sigma_white, fitted.usable))
    assert not given.usable[mask].any()
    assert np.array_equal(given.usable | mask, fitted.usable)


def test_windows_take_their_part_of_the_known_noise():
    img, d = _limb_scene(3)
    args = dict(psf=JIRAM_PSF, limb_distance_px=d, sunlit=np.zeros(img.shape, bool))
    fitted = estimate_background(img, **args)
    known = (fitted.sigma_white * 1.5, fitted.usable)  # (not what the window would fit itself)
    win = (slice(10, 80), slice(60, 170))
    model = background_in_windows(img, [win], dict(args, known_noise=known))
    alone = estimate_background(
        img[win], psf=JIRAM_PSF, limb_distance_px=d[win], sunlit=np.zeros(img[win].shape, bool),
        known_noise=(known[0][win], known[1][win]),
    )  # fmt: skip
    assert np.array_equal(model.sigma_white[win], known[0][win])
    assert np.array_equal(model.snr[win], alone.snr)
    assert not model.usable[:10].any()


def _roles(n: int, **marked) -> SourceRoles:
    arrays = {name: np.zeros(n, bool) for name in SourceRoles.__dataclass_fields__}
    for name, idx in marked.items():
        arrays[name][list(idx)] = True
    arrays["good"][:] = True
    return SourceRoles(**arrays)


def _fit_at(x, y) -> PsfFit:
    n = len(x)
    one = np.ones(n)
    return PsfFit(np.asarray(x, float), np.asarray(y, float), one, one, one, one, one, one, one.astype(bool))


def _windows_made(monkeypatch) -> list:
    made = []

    def counted(image, windows, args):
        made.append(list(windows))
        return background_in_windows(image, windows, args)

    monkeypatch.setattr(second_pass, "background_in_windows", counted)
    return made


def test_saturated_sources_without_faint_neighbours_get_no_window(monkeypatch):
    """Windows go about the searched zone near the bright sources and about the faint neighbours to re-check,
    not about a saturated source (its surroundings are not searched): the saturated source alone (1) gets
    none, and the one with a neighbour (2) only the neighbour's 3 × 3 pixels and the margin."""
    rng = np.random.default_rng(4)
    img = 5.0 + rng.normal(0.0, 1.0, (120, 400))
    model = estimate_background(img, psf=JIRAM_PSF)
    # 0: bright; 1: saturated, alone; 2: saturated with 3, a faint neighbour to re-check
    fit = _fit_at([30.0, 200.0, 330.0, 335.0], [40.0, 50.0, 60.0, 62.0])
    roles = _roles(4, bright=[0], clipped=[1, 2], very_bright=[1, 2], check=[3])
    zone = second_pass.near_sources(fit.x[:1], fit.y[:1], img.shape, 12.0)
    made = _windows_made(monkeypatch)
    block, sigma = 8, 0.6
    second_background(
        img, np.zeros(img.shape), roles, fit, model, dict(psf=JIRAM_PSF), sigma, block, zone=zone
    )
    m = max(h1 for _, h1, _ in model.annuli) + 2 * int(np.ceil(4 * sigma)) + block
    assert made == [
        [
            (slice(40 - 12 - m, 40 + 13 + m), slice(0, 30 + 13 + m)),
            (slice(61 - m, 64 + m), slice(334 - m, 337 + m)),
        ]
    ]
    made.clear()  # nothing searched: the re-check's window alone
    second_background(img, np.zeros(img.shape), roles, fit, model, dict(psf=JIRAM_PSF), sigma, block)
    assert made == [[(slice(61 - m, 64 + m), slice(334 - m, 337 + m))]]


def test_second_windows_cover_what_is_read():
    """Per bright source the box of the zone's pixels within 1.5 blocks of it and its 3-px disk, grown by the
    margin; none where its zone is empty; the re-checked 3 × 3 pixels grown by the margin; merged where they
    overlap, clipped to the image."""
    shape, block, m = (100, 300), 8, 5
    fit = _fit_at([50.0, 150.0, 250.0, 60.4, 296.0], [50.0, 50.0, 50.0, 47.6, 2.0])
    bright = np.array([True, True, True, False, False])
    check = np.array([False, False, False, True, True])
    zone = np.zeros(shape, bool)
    zone[45:48, 52:60] = True  # right of source 0 only (lines 45–47, samples 52–59)
    zone[50, 150] = True  # source 1: its own pixel
    zone[50, 230:271] = True  # past source 2's 1.5 blocks (12 px) on both sides: only 238–262 are its
    wins = second_pass.second_windows(zone, fit, bright, check, block, m, shape)
    want = [
        # source 0 (lines 45–53: its 3-px disk; samples 47–59) merged with the re-check at (60, 48):
        # lines 47–49, samples 59–61
        (slice(45 - m, 54 + m), slice(47 - m, 62 + m)),
        (slice(47 - m, 54 + m), slice(147 - m, 154 + m)),
        (slice(47 - m, 54 + m), slice(238 - m, 263 + m)),
        (slice(0, 4 + m), slice(295 - m, 300)),  # (clipped)
    ]
    assert sorted(wins, key=lambda w: w[1].start) == want
    assert second_pass.second_windows(None, fit, bright, check, block, m, shape) == [
        (slice(47 - m, 50 + m), slice(59 - m, 62 + m)),
        (slice(0, 4 + m), slice(295 - m, 300)),
    ]
    empty = np.zeros(shape, bool)
    assert second_pass.second_windows(empty, fit, bright, np.zeros(5, bool), block, m, shape) == []
