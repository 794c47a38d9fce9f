"""Subtract and search again: faint neighbours of bright hot spots, without sources made by PSF mismatch."""

from __future__ import annotations

import numpy as np
from test_detect import _frame, _sources  # same directory: pytest puts it on sys.path

from ioscan.detect import DetectConfig, DetectionFlag, PsfModel, default_psf, detect_frame
from ioscan.detect.background import estimate_background
from ioscan.detect.second_pass import (
    PASTED_MAPS,
    background_in_windows,
    discounted_snr,
    model_error_snr,
    near_sources,
    radial_profiles,
    source_image,
    windows_around,
)

SHAPE = (128, 432)
JIRAM_PSF = default_psf("JIRAM", 4.78)


def _norm(psf: PsfModel) -> float:
    """√ΣP² of a pixel-centred source: matched-filter S/N = flux · this / σ."""
    o = np.arange(-12, 13, dtype=float)
    p, _, _ = psf.stamps(o[None, None, :], o[None, :, None], np.zeros(1), np.zeros(1))
    return float(np.sqrt(np.sum(p**2)))


def _bright_grid(rng, psf, snr_range, n=16):
    """Bright sources on a grid 52 × 64 px apart (S/N log-uniform in ``snr_range``)."""
    k = np.arange(n)
    xs = 25 + (k % 8) * 52 + rng.uniform(-2, 2, n)
    ys = 32 + (k // 8) * 64 + rng.uniform(-2, 2, n)
    snr = 10 ** rng.uniform(np.log10(snr_range[0]), np.log10(snr_range[1]), n)
    return xs, ys, snr / _norm(psf)


def _false(dets, xs, ys, radius=1.5, count_cosmic_rays=True):
    """Detections farther than ``radius`` from every true source (flagged or not, unless told)."""
    return [
        d
        for d in dets
        if np.min(np.hypot(np.asarray(xs) - d.sample, np.asarray(ys) - d.line)) > radius
        and (count_cosmic_rays or not d.flags & DetectionFlag.COSMIC_RAY)
    ]


def test_faint_neighbours_a_few_pixels_from_bright_hot_spots_are_found():
    rng = np.random.default_rng(3)
    found = {False: 0, True: 0}
    false = {False: 0, True: 0}
    n_faint = 0
    for _ in range(4):
        bx, by, bf = _bright_grid(rng, JIRAM_PSF, (300, 3000))
        sep = rng.uniform(3, 6, bx.size)
        ang = rng.uniform(0, 2 * np.pi, bx.size)
        fx, fy = bx + sep * np.cos(ang), by + sep * np.sin(ang)
        ff = rng.uniform(8, 20, bx.size) / _norm(JIRAM_PSF)
        xs, ys = np.concatenate([bx, fx]), np.concatenate([by, fy])
        img = 5.0 + _sources(SHAPE, xs, ys, np.concatenate([bf, ff]), psf=JIRAM_PSF) + rng.normal(0, 1, SHAPE)
        n_faint += bx.size
        for on in (False, True):
            res = detect_frame(_frame(img), config=DetectConfig(subtract_and_search=on))
            pos = np.array([(d.sample, d.line) for d in res.detections])
            dist = np.hypot(pos[:, 0][None] - fx[:, None], pos[:, 1][None] - fy[:, None]).min(axis=1)
            found[on] += int(np.sum(dist < 1.5))
            false[on] += len(_false(res.detections, xs, ys))
    # measured: 48 % without the second pass, 100 % with it; ≤ 2 false detections in the 4 frames either way
    assert found[False] / n_faint < 0.75
    assert found[True] / n_faint >= 0.95
    assert false[True] <= false[False] + 1


def test_a_wrong_psf_model_makes_no_sources_around_bright_hot_spots():
    # the frame's PSF is 10 % wider in its core and has heavier wings than the model the detector uses
    truth = PsfModel((0.94, 0.06), (0.66, 2.8))
    rng = np.random.default_rng(5)
    false = {False: 0, True: 0}
    for _ in range(5):
        xs, ys, fl = _bright_grid(rng, truth, (100, 5000))
        img = 5.0 + _sources(SHAPE, xs, ys, fl, psf=truth) + rng.normal(0, 1, SHAPE)
        for on in (False, True):
            res = detect_frame(_frame(img), config=DetectConfig(subtract_and_search=on))
            false[on] += len(_false(res.detections, xs, ys))
    # measured: 1 and 1 in 10 such frames (without the azimuthal-median step and the model-error term: 191)
    assert false[True] <= false[False] + 1


def _elongated(shape, xs, ys, fluxes, sigma_s, sigma_l, wing=(0.04, 2.5)):
    """Point sources with an elliptical core (σ ``sigma_s`` along samples, ``sigma_l`` along lines) and the
    model's circular wing, pixel-integrated: a PSF the circular model cannot fit."""
    from scipy.special import erf

    def integ(u, s):
        return 0.5 * (erf((u + 0.5) / (np.sqrt(2) * s)) - erf((u - 0.5) / (np.sqrt(2) * s)))

    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    img = np.zeros(shape)
    for x, y, f in zip(xs, ys, fluxes, strict=True):
        u, v = xx - x, yy - y
        core = integ(u, sigma_s) * integ(v, sigma_l)
        img += f * ((1 - wing[0]) * core + wing[0] * integ(u, wing[1]) * integ(v, wing[1]))
    return img


def test_an_elongated_psf_makes_no_sources_around_bright_hot_spots():
    # the core is 0.72 × 0.5 px (σ) where the model has 0.6 × 0.6: its residual is not symmetric, so the
    # azimuthal median cannot take it; the model error the bright sources' residuals show, and the rule that
    # a new source's fit may not slide within 2.5 px of a known one, do (measured over 8 such frames: 28 false
    # detections without them, none with them)
    rng = np.random.default_rng(5)
    false = {False: 0, True: 0}
    for _ in range(4):
        xs, ys, fl = _bright_grid(rng, JIRAM_PSF, (100, 5000))
        img = 5.0 + _elongated(SHAPE, xs, ys, fl, 0.72, 0.5) + rng.normal(0, 1, SHAPE)
        for on in (False, True):
            res = detect_frame(_frame(img), config=DetectConfig(subtract_and_search=on))
            false[on] += len(_false(res.detections, xs, ys))
    assert false[True] <= false[False] + 1


def test_cosmic_ray_tracks_beside_bright_hot_spots_make_no_sources():
    rng = np.random.default_rng(11)
    n_false = n_hits = n_flagged = 0
    for _ in range(4):
        xs, ys, fl = _bright_grid(rng, JIRAM_PSF, (100, 1000))
        img = 5.0 + _sources(SHAPE, xs, ys, fl, psf=JIRAM_PSF) + rng.normal(0, 1, SHAPE)
        for x, y in zip(xs, ys, strict=True):  # a 2–3 pixel track 5–9 px from each hot spot
            r, a = rng.uniform(5, 9), rng.uniform(0, 2 * np.pi)
            li, sj = int(round(y + r * np.sin(a))), int(round(x + r * np.cos(a)))
            length = int(rng.integers(2, 4))
            img[li, sj : sj + length] += rng.uniform(300, 3000)
            n_hits += 1
        res = detect_frame(_frame(img), config=DetectConfig())
        n_false += len(_false(res.detections, xs, ys, count_cosmic_rays=False))
        n_flagged += sum(bool(d.flags & DetectionFlag.COSMIC_RAY) for d in res.detections)
    assert n_false <= 1
    # about one flagged detection per hit, not the pieces a hit subtracted as a PSF would leave (measured for
    # 64 hits: 66; 64 without the second pass; 186 when hits are subtracted as PSFs)
    assert n_flagged <= n_hits + 4


def test_source_image_holds_the_flux_and_near_sources_the_disks():
    img = source_image(JIRAM_PSF, np.array([40.3]), np.array([30.6]), np.array([123.0]), (64, 96))
    assert abs(img.sum() - 123.0) < 1e-3 * 123.0
    assert np.unravel_index(np.argmax(img), img.shape) == (31, 40)
    near = near_sources(np.array([10.0, 90.0]), np.array([5.0, 60.0]), (64, 96), 4.0)
    assert near[5, 14] and not near[5, 15] and near[60, 90] and near[63, 90] and not near[30, 50]
    assert near.sum() == 49 + 48  # a radius-4 disk (49 px), and one whose last line is off the frame


def test_windows_merge_when_they_overlap():
    wins = windows_around(np.array([20.0, 30.0, 200.0]), np.array([20.0, 25.0, 50.0]), 10, (100, 300))
    assert sorted((w[0].start, w[0].stop, w[1].start, w[1].stop) for w in wins) == [
        (10, 36, 10, 41),
        (40, 61, 190, 211),
    ]


def test_radial_profiles_take_a_symmetric_halo_and_leave_a_neighbour():
    rng = np.random.default_rng(2)
    yy, xx = np.mgrid[0:64, 0:64]
    halo = 40.0 * np.exp(-0.5 * ((xx - 31.3) ** 2 + (yy - 32.6) ** 2) / 3.0**2)
    neighbour = _sources((64, 64), [35.5], [34.0], [60.0], psf=JIRAM_PSF)
    noise = rng.normal(0, 1, (64, 64))
    prof = radial_profiles(halo + neighbour + noise, np.ones((64, 64), bool), [31.3], [32.6], 12.0)
    left = halo + neighbour + noise - prof
    r = np.hypot(xx - 31.3, yy - 32.6)
    ring = (r > 1.0) & (r < 10) & (np.hypot(xx - 35.5, yy - 34.0) > 3)
    assert np.std(left[ring] - noise[ring]) < 1.5  # the halo (up to 40σ) is gone to the noise level
    assert left[34, 35] - noise[34, 35] > 0.8 * neighbour[34, 35]  # the neighbour stays


def test_background_in_windows_matches_the_window_alone():
    rng = np.random.default_rng(4)
    img = 5.0 + rng.normal(0, 1, (96, 200))
    win = (slice(10, 70), slice(100, 170))
    model = background_in_windows(img, [win], dict(psf=JIRAM_PSF))
    alone = estimate_background(img[win], psf=JIRAM_PSF)
    np.testing.assert_allclose(model.snr[win], alone.snr)
    np.testing.assert_allclose(model.noise[win], alone.noise)
    assert not model.usable[:10].any() and not model.usable[:, :100].any()
    assert model.usable[win].all() == alone.usable.all()


def test_pasted_model_maps_equal_an_eager_paste():
    """Every map of the windows' model, pasted when first read, equals the windows' own maps pasted into
    arrays of the image's shape (dtype and the value outside the windows as before: float64 / bool / intp)."""
    rng = np.random.default_rng(7)
    img = 5.0 + rng.normal(0, 1, (96, 200))
    img[40, 30] += 80.0
    wins = [(slice(0, 50), slice(0, 60)), (slice(30, 96), slice(120, 200))]
    model = background_in_windows(img, wins, dict(psf=JIRAM_PSF))
    parts = [estimate_background(img[w], psf=JIRAM_PSF) for w in wins]
    for name, (dtype, fill) in PASTED_MAPS.items():
        want = np.full(img.shape, fill, dtype)
        for w, m in zip(wins, parts, strict=True):
            want[w] = getattr(m, name)
        got = getattr(model, name)
        assert got.dtype == want.dtype and np.array_equal(got, want, equal_nan=True), name
        assert getattr(model, name) is got  # pasted once
    for k in range(len(parts[0].residuals)):
        want = np.zeros(img.shape)
        for w, m in zip(wins, parts, strict=True):
            want[w] = m.residuals[k]
        assert np.array_equal(model.residuals[k], want)
    assert np.array_equal(model.outliers, model.usable & ~model.clean)
    assert model.annuli == parts[0].annuli and model.refit is None


def test_discounted_snr_in_a_box_equals_the_whole_image():
    """The model-error discount made in the searched box only equals the whole image's discount in the box
    (a subtracted source inside it) and is the S/N as it is (as float64) outside; without a box, the whole
    image's."""
    rng = np.random.default_rng(9)
    snr = rng.normal(0, 3, (60, 90)).astype(np.float32)
    snr[5, 5] = np.nan
    src = np.zeros((60, 90))
    src[30, 40] = 500.0
    noise = np.full((60, 90), 0.5, np.float32)
    box = (slice(20, 45), slice(25, 60))
    err = 0.05 * model_error_snr(src, noise, 0.6)
    whole = snr / np.sqrt(1.0 + err * err)
    got = discounted_snr(snr, src, noise, 0.6, 0.05, box)
    assert got.dtype == whole.dtype
    assert np.array_equal(got[box], whole[box])
    outside = np.ones(snr.shape, bool)
    outside[box] = False
    assert np.array_equal(got[outside], snr[outside].astype(np.float64), equal_nan=True)
    assert np.array_equal(discounted_snr(snr, src, noise, 0.6, 0.05, None), whole, equal_nan=True)
