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
    near_any,
    second_background,
    windows_around,
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


def test_near_any_is_the_distance_matrix():
    rng = np.random.default_rng(5)
    x, y = rng.uniform(0, 60, 40), rng.uniform(0, 40, 40)
    of = rng.random(40) < 0.2
    d = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    np.fill_diagonal(d, np.inf)
    want = (d[:, of] <= 12.0).any(axis=1)
    got = near_any(x, y, of, 12.0)
    assert want.any() and not want.all()
    assert np.array_equal(got, want)


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


def test_saturated_sources_without_faint_neighbours_get_no_window(monkeypatch):
    """Windows go around the bright sources and the saturated ones that have faint neighbours to re-check,
    not around a saturated source alone (its surroundings are not searched)."""
    img, d = _limb_scene(4)
    model = estimate_background(img, psf=JIRAM_PSF)
    # 0: bright; 1: saturated, alone; 2: saturated with 3, a faint neighbour to re-check
    fit = _fit_at([30.0, 100.0, 170.0, 175.0], [40.0, 50.0, 60.0, 62.0])
    roles = _roles(4, bright=[0], clipped=[1, 2], very_bright=[1, 2], check=[3])
    seen = []

    def windows(x, y, half, shape):
        seen.append(set(zip(np.asarray(x).tolist(), np.asarray(y).tolist(), strict=True)))
        return windows_around(x, y, half, shape)

    monkeypatch.setattr(second_pass, "windows_around", windows)
    block = 8
    second_background(img, np.zeros(img.shape), roles, fit, model, dict(psf=JIRAM_PSF), 0.6, block)
    assert seen == [{(30.0, 40.0), (170.0, 60.0)}]


def test_windows_that_no_re_check_reads_are_not_made(monkeypatch):
    """With nothing to search (``read_only_at``: the faint neighbours re-checked), the windows that hold none
    of their 3 × 3 pixels are not made, and the S/N there is the same bit for bit (each window is made
    alone)."""
    rng = np.random.default_rng(5)
    img = 5.0 + rng.normal(0.0, 1.0, (120, 900))
    model = estimate_background(img, psf=JIRAM_PSF)
    # 0, 1: bright, far apart (two windows); 2: saturated with 3, a faint neighbour to re-check
    fit = _fit_at([20.0, 300.0, 775.0, 778.4], [20.0, 70.0, 40.0, 41.6])
    roles = _roles(4, bright=[0, 1], clipped=[2], very_bright=[2], check=[3])
    made = []

    def counted(image, windows, args):
        made.append(len(windows))
        return background_in_windows(image, windows, args)

    monkeypatch.setattr(second_pass, "background_in_windows", counted)
    args, block = dict(psf=JIRAM_PSF), 8
    src = np.zeros(img.shape)
    full, _ = second_background(img, src, roles, fit, model, args, 0.6, block)
    only, _ = second_background(img, src, roles, fit, model, args, 0.6, block, read_only_at=roles.check)
    assert made[0] > made[1] == 1
    want = second_pass.still_there(roles.check, fit, full.snr, 5.2)
    assert np.array_equal(second_pass.still_there(roles.check, fit, only.snr, 5.2), want)
    i, j = 42, 778  # the re-checked source's pixel (round(41.6), round(778.4)) and its 3 × 3
    assert np.array_equal(only.snr[i - 1 : i + 2, j - 1 : j + 2], full.snr[i - 1 : i + 2, j - 1 : j + 2])
    assert np.any(full.snr[12:28, 12:28] != 0) and np.all(only.snr[12:28, 12:28] == 0)


def test_windows_holding_the_re_checked_pixels():
    from ioscan.detect.second_pass import windows_holding

    wins = [(slice(0, 10), slice(0, 10)), (slice(20, 30), slice(0, 10)), (slice(0, 10), slice(40, 50))]
    # the 3 × 3 around (sample 10.4 → 10, line 5): samples 9–11 touch the first window only
    assert windows_holding(wins, np.array([10.4]), np.array([5.0])) == wins[:1]
    assert windows_holding(wins, np.array([11.0]), np.array([5.0])) == []  # samples 10–12: none
    assert windows_holding(wins, np.array([5.0, 45.0]), np.array([30.0, 0.0])) == wins[1:]
    assert windows_holding(wins, np.array([5.0]), np.array([31.0])) == []  # lines 30–32: past the second
    assert windows_holding(wins, np.array([5.0]), np.array([-0.4])) == wins[:1]  # (clipped at the edge)
