"""Detection on frames the project's simulator did not make: PSF measured on the frame, the spike test at a
σ 0.8 px PSF, noise calibrated under column offsets and gain steps, the plane background on smooth ground.
Sources and hits are drawn with the independent renderer's own PSF and detector code."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ioscan.detect import DetectConfig, DetectionFlag, detect_frame
from ioscan.detect.background import efficiency, filter_options
from ioscan.detect.psf import PsfModel
from ioscan.detect.psf_estimate import bright_sources, estimate_psf
from ioscan.records import BandImage, Frame
from ioscan.simulate.independent import GaussianPsf, HotSpotParams, draw_scene, render_scene
from ioscan.simulate.independent.detector import CR_SHAPES


def _frame(img: np.ndarray) -> Frame:
    band = BandImage("M", img.astype(np.float32), "W m-2 sr-1", 4.78, 0.4975)
    return Frame("T", "JIRAM", "JUNO", "2023-01-01T00:00:00", 0.01, {"M": band})


def _grid_sources(psf: GaussianPsf, snr: float, rng, n_side=(5, 14), noise=1.0):
    """A 128 × 432 frame of unit white noise with point sources on a jittered grid (≥ 25 px apart), each of
    ideal matched-filter S/N ``snr`` under this PSF; returns (image, samples, lines)."""
    img = rng.normal(0.0, noise, (128, 432))
    ys = np.repeat(np.linspace(12, 115, n_side[0]), n_side[1]) + rng.uniform(-0.5, 0.5, n_side[0] * n_side[1])
    xs = np.tile(np.linspace(15, 415, n_side[1]), n_side[0]) + rng.uniform(-0.5, 0.5, n_side[0] * n_side[1])
    _, _, st = psf.stamp(0.3, 0.2)
    flux = snr * noise / np.sqrt(np.sum(st**2))
    psf.add_sources(img, xs, ys, np.full(xs.size, flux))
    return img, xs, ys


@pytest.mark.parametrize("sigma, elong", [(0.56, 1.0), (0.8, 1.0), (1.04, 1.0), (0.8, 1.5)])
def test_psf_measured_on_the_frame(sigma, elong):
    """Bright isolated sources (S/N 60) of a Gaussian PSF of σ 0.56–1.04 px, round or 1.5× longer along track:
    the measured widths are within 5 % of the true ones (the fit is the detector's; the sources the
    independent renderer's)."""
    rng = np.random.default_rng(1)
    psf = GaussianPsf(sigma_sample_px=sigma, elongation=elong)
    img, _, _ = _grid_sources(psf, 60.0, rng, n_side=(3, 6))
    valid = np.ones(img.shape, bool)
    x, y, peak = bright_sources(img, valid)
    est = estimate_psf(img, np.ones(img.shape), valid, x, y, np.full(x.size, np.inf), np.ones(x.size, bool))
    assert est is not None and est.n_sources >= 3
    assert est.sigma_sample_px == pytest.approx(sigma, rel=0.05)
    assert est.sigma_line_px == pytest.approx(sigma * elong, rel=0.05)


def test_cosmic_rays_make_no_psf_estimate():
    rng = np.random.default_rng(2)
    img = rng.normal(0.0, 1.0, (128, 432))
    for k, shape in enumerate(CR_SHAPES * 3):
        i, j = 10 + 5 * (k % 20), 20 + 19 * (k // 5 % 20)
        for dl, ds in shape:
            img[i + dl, j + ds] += 300.0
    x, y, _ = bright_sources(img, np.ones(img.shape, bool))
    assert x.size == 0


def test_detection_uses_the_measured_psf_and_finds_faint_sources():
    """A frame of σ 1.04 px sources (the instrument's model says 0.6 px), six bright (S/N 80) among seventy
    of S/N 8: the PSF is measured on the bright ones and the faint ones are found (≥ 90 %; measured 93 %,
    the calibrated S/N being ~0.88 of the ideal for this PSF)."""
    rng = np.random.default_rng(3)
    psf = GaussianPsf(sigma_sample_px=1.04)
    img, xs, ys = _grid_sources(psf, 8.0, rng)
    _, _, st = psf.stamp(0.0, 0.0)
    # between the rows and columns of the faint ones
    bx = 15.0 + 400.0 / 13.0 * np.array([1.5, 4.5, 7.5, 10.5, 3.5, 8.5])
    by = np.array([24.9, 24.9, 24.9, 24.9, 76.4, 76.4])
    psf.add_sources(img, bx, by, np.full(6, 80.0 / np.sqrt(np.sum(st**2))))
    res = detect_frame(_frame(img))
    assert any("PSF measured" in m and "core σ 1.04" in m for m in res.messages), res.messages
    found = [
        any(np.hypot(d.sample - x, d.line - y) < 1.5 for d in res.hot_spots)
        for x, y in zip(xs, ys, strict=True)
    ]
    assert np.mean(found) >= 0.9


def test_spike_test_at_a_wide_psf():
    """Sources of S/N 6 under a σ 0.8 px PSF (those detected) are flagged COSMIC_RAY at most once in 50;
    1–3-pixel hits (the
    renderer's shapes) bright enough to be detected are flagged at least nine times in ten."""
    rng = np.random.default_rng(4)
    psf = GaussianPsf(sigma_sample_px=0.8)
    cfg = DetectConfig(psf=0.8)
    n_src = n_flag = 0
    for _ in range(3):
        img, xs, ys = _grid_sources(psf, 6.0, rng)
        res = detect_frame(_frame(img), config=cfg)
        for d in res.detections:
            if min(np.hypot(d.sample - xs, d.line - ys)) < 1.5:
                n_src += 1
                n_flag += bool(d.flags & DetectionFlag.COSMIC_RAY)
    assert n_src >= 100 and n_flag <= n_src / 50
    n_hit = n_caught = 0
    for _ in range(3):
        img = rng.normal(0.0, 1.0, (128, 432))
        spots = []
        for k in range(60):
            i, j = 8 + 22 * (k // 15) + rng.integers(-3, 4), 14 + 27 * (k % 15) + rng.integers(-3, 4)
            amp = float(np.exp(rng.uniform(np.log(8.0), np.log(200.0))))
            for n, (dl, ds) in enumerate(CR_SHAPES[k % len(CR_SHAPES)]):
                img[i + dl, j + ds] += amp * (1.0 if n == 0 else rng.uniform(0.3, 1.0))
            spots.append((j, i))
        res = detect_frame(_frame(img), config=cfg)
        for d in res.detections:
            if min(np.hypot(d.sample - s, d.line - ln) for s, ln in spots) < 3.0:
                n_hit += 1
                n_caught += bool(d.flags & DetectionFlag.COSMIC_RAY)
    assert n_hit >= 100 and n_caught >= 0.9 * n_hit


def test_noise_calibrated_under_column_offsets_and_a_gain_step():
    """Night frames of the independent renderer with column offsets of 0.3 σ_read rms, 0.5 % column gains
    and a block of 150 columns 2 % off, no hot spot and no hit: no detection."""
    rng = np.random.default_rng(5)
    n = 0
    for i in range(6):
        p = draw_scene(rng, kind="night", start_time_utc=f"2023-03-01T00:00:0{i}.000")
        det = dataclasses.replace(
            p.detector,
            column_offset_rms_w_m2_sr=0.3 * p.detector.read_noise_w_m2_sr,
            column_gain_rms=0.005,
            gain_step=(100, 250, 1.02),
            cosmic_rays_mean=0.0,
        )
        p = dataclasses.replace(
            p, detector=det, hot_spots=HotSpotParams(n_surface_mean=0.0, limb_sources_mean=0.0)
        )
        r = render_scene(p)
        band = BandImage("M", r.bands["M"].image, "W m-2 sr-1", 4.78, 0.4975)
        res = detect_frame(Frame("T", "JIRAM", "JUNO", "2023-01-01T00:00:00", 0.01, {"M": band}))
        n += len(res.hot_spots)
    assert n == 0


def test_plane_background_on_smooth_ground():
    """The plane option keeps ≥ 97 % of the ideal S/N for σ 0.6–1 px cores (the small quadratic annulus
    83–91 %) and is the one chosen on white noise."""
    for sigma in (0.6, 0.8, 1.0):
        psf = PsfModel.gaussian(sigma)
        opts = filter_options(sigma)
        eff = [efficiency(psf, h0, h1, None, deg) for h0, h1, _, deg in opts]
        assert [o[3] for o in opts] == [2, 1] and eff[1] >= 0.97 and eff[0] < 0.92
    img = np.random.default_rng(6).normal(0.0, 1.0, (128, 432))
    res = detect_frame(_frame(img), config=DetectConfig(psf=0.8), keep_models=True)
    assert np.mean(res.bands["M"].model.choice == 1) > 0.6


def test_spike_test_frees_three_pixel_tracks_whose_brightest_pixel_is_an_end():
    """Faint straight and diagonal 3-pixel hits (end pixel 4–8 σ, the others 0.5–0.9 of it) under the JIRAM
    model PSF: at least 90 % of those detected are flagged COSMIC_RAY (80 % when only the brightest pixel's
    neighbours were freed, which leaves the far end's χ² to the spike)."""
    rng = np.random.default_rng(11)
    shapes = (
        ((0, 0), (0, 1), (0, 2)),
        ((0, 0), (1, 0), (2, 0)),
        ((0, 0), (1, 1), (2, 2)),
        ((0, 0), (1, -1), (2, -2)),
    )
    n_hit = n_caught = 0
    for _ in range(4):
        img = rng.normal(0.0, 1.0, (128, 432))
        spots = []
        for k in range(60):
            i, j = 10 + 22 * (k // 15) + rng.integers(-3, 4), 14 + 27 * (k % 15) + rng.integers(-3, 4)
            amp = rng.uniform(4.0, 8.0)
            for n, (dl, ds) in enumerate(shapes[k % 4]):
                img[i + dl, j + ds] += amp * (1.0 if n == 0 else rng.uniform(0.5, 0.9))
            spots.append((j, i))
        for d in detect_frame(_frame(img)).detections:
            if min(np.hypot(d.sample - s, d.line - ln) for s, ln in spots) < 3.0:
                n_hit += 1
                n_caught += bool(d.flags & DetectionFlag.COSMIC_RAY)
    assert n_hit >= 100 and n_caught >= 0.9 * n_hit


def test_one_clear_source_measures_the_psf_and_exposes_faint_hits():
    """A night frame with a single isolated hot spot of S/N 40 under a σ 0.8 px PSF (the model says 0.6) and
    faint 1–2-pixel hits (peak 7–9 σ), no limb in view: the one source measures the core width (within
    8 %), and with it the spike test flags the hits the model's sharper core let pass (issue 11: the night
    side's cosmic-ray remnants sat on frames where no PSF was measured)."""
    rng = np.random.default_rng(11)
    psf = GaussianPsf(sigma_sample_px=0.8)
    n_hits = n_caught = n_measured = 0
    for _ in range(4):
        img = rng.normal(0.0, 1.0, (128, 432))
        _, _, st = psf.stamp(0.0, 0.0)
        psf.add_sources(img, [216.3], [64.4], [40.0 / np.sqrt(np.sum(st**2))])
        hits = []
        for k in range(12):
            i, j = 12 + 34 * (k // 6) + rng.integers(-2, 3), 30 + 30 * (k % 6) + (0 if k % 6 < 3 else 230)
            i = i if abs(i - 64) > 10 else i + 25
            amp = rng.uniform(7.0, 9.0)
            img[i, j] += amp
            if k % 2:
                img[i, j + 1] += 0.5 * amp
            hits.append((j, i))
        res = detect_frame(_frame(img))
        est = [m for m in res.messages if "PSF measured on 1 sources" in m]
        n_measured += bool(est)
        if est:
            core = float(est[0].split("core σ ")[1].split(" px")[0])
            assert core == pytest.approx(0.8, rel=0.08)
        for d in res.detections:
            if min(np.hypot(d.sample - s, d.line - ln) for s, ln in hits) < 1.5:
                n_hits += 1
                n_caught += bool(d.flags & DetectionFlag.COSMIC_RAY)
    assert n_measured == 4
    # with the model's 0.6-px core 4 of 44 detected hits escaped the flag
    assert n_hits >= 20 and n_hits - n_caught <= 1, (n_hits, n_caught)
