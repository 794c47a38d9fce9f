"""The PSF measured on frames with a known injected Gaussian PSF (on dark and on textured, sunlit-like ground,
round and elongated, of several widths), cosmic-ray hits kept out of it, the isolation test on textured
ground, which PSF detection and the spike test take (:func:`ioscan.detect.band._psf_in_use`), and the spike
test's amplitude refit."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from scipy import ndimage
from scipy.special import erf

from ioscan.detect import DetectConfig
from ioscan.detect.band import _psf_in_use, spike_amplitudes
from ioscan.detect.psf import PsfModel
from ioscan.detect.psf_estimate import bright_sources, measure_psf

NL, NS = 128, 432
MODEL = PsfModel((0.96, 0.04), (0.6, 2.5))  # JIRAM's M-band model


def _gauss_1d(centre: float, sigma: float, n: int) -> np.ndarray:
    """A unit Gaussian integrated over pixels 0..n−1 (written out here, independent of the package)."""
    edges = np.arange(n + 1) - 0.5
    c = 0.5 * (1.0 + erf((edges - centre) / (np.sqrt(2.0) * sigma)))
    return np.diff(c)


def _add_source(img: np.ndarray, x: float, y: float, flux: float, sigma_s: float, sigma_l: float) -> None:
    img += np.float32(flux) * np.outer(_gauss_1d(y, sigma_l, NL), _gauss_1d(x, sigma_s, NS)).astype(
        np.float32
    )


def _ground(rng: np.random.Generator, sunlit: bool) -> np.ndarray:
    """Dark ground (a flat 100) or sunlit-like ground: a level of 2,000 with a gradient and an albedo
    pattern ±15 % smooth on ~6–10 px (as the independent renderer's, no structure finer than ~8 px)."""
    if not sunlit:
        return np.full((NL, NS), 100.0)
    albedo = ndimage.gaussian_filter(rng.normal(0.0, 1.0, (NL, NS)), 4.0)
    albedo *= 0.15 / albedo.std()
    ramp = np.linspace(0.7, 1.3, NS)[None, :]
    return 2000.0 * ramp * (1.0 + albedo)


def _frame(seed: int, sigma_px: float, elongation: float = 1.0, sunlit: bool = True, n_sources: int = 6):
    """(image, true (x, y) of the sources, cosmic-ray hit pixels): sources of peak S/N ~40–200 ≥ 30 px
    apart, 15 hits of 1–2 pixels, shot + read noise."""
    rng = np.random.default_rng(seed)
    ground = _ground(rng, sunlit)
    img = ground.astype(np.float32)
    xs = 30.0 + 60.0 * np.arange(n_sources) + rng.uniform(-0.5, 0.5, n_sources)
    ys = rng.uniform(25.0, NL - 25.0, n_sources)
    noise = np.sqrt(ground + 25.0)
    sigma_s = sigma_px / np.sqrt(elongation)
    for x, y in zip(xs, ys, strict=True):
        peak_snr = rng.uniform(40.0, 200.0)
        flux = peak_snr * float(noise[int(y), int(x)]) * 2 * np.pi * sigma_px**2
        _add_source(img, x, y, flux, sigma_s, sigma_s * elongation)
    img += rng.normal(0.0, 1.0, img.shape).astype(np.float32) * noise.astype(np.float32)
    hits = []
    for _ in range(15):
        i, j = int(rng.integers(5, NL - 5)), int(rng.integers(5, NS - 6))
        n = int(rng.integers(1, 3))
        img[i, j : j + n] += np.float32(rng.uniform(30.0, 300.0) * noise[i, j])
        hits += [(i, j + k) for k in range(n)]
    return img, np.column_stack([xs, ys]), np.array(hits)


@pytest.mark.parametrize("sunlit", [False, True])
@pytest.mark.parametrize(("sigma_px", "elongation"), [(0.6, 1.0), (0.8, 1.0), (1.04, 1.0), (0.8, 1.4)])
def test_measured_width_follows_the_injected_psf(sunlit, sigma_px, elongation):
    """Geometric-mean width within 5 % of the truth and elongation within 10 %, on dark and on textured
    sunlit-like ground, with cosmic-ray hits in the frame."""
    img, _, _ = _frame(3, sigma_px, elongation, sunlit)
    est = measure_psf(img, None, None)
    assert est is not None and est.n_sources >= 3
    assert est.sigma_px == pytest.approx(sigma_px, rel=0.05)
    assert est.elongation == pytest.approx(elongation, rel=0.10)


@pytest.mark.parametrize("sunlit", [False, True])
def test_cosmic_ray_hits_are_no_candidates(sunlit):
    """No candidate within 1.5 px of a hit pixel; a frame of hits alone measures nothing."""
    img, xy, hits = _frame(5, 0.8, sunlit=sunlit)
    x, y, _ = bright_sources(img, np.ones(img.shape, bool))
    for i, j in hits:
        assert not np.any(np.hypot(x - j, y - i) < 1.5)
    assert len(x) >= 3  # the sources themselves are found
    only_hits, _, _ = _frame(5, 0.8, sunlit=sunlit, n_sources=0)
    assert measure_psf(only_hits, None, None) is None


@pytest.mark.parametrize(("neighbour_fraction", "kept"), [(0.05, True), (0.5, False)])
def test_a_weak_neighbouring_maximum_leaves_a_bright_candidate(neighbour_fraction, kept):
    """A neighbour 5.7 px away whose peak is 5 % of the candidate's (a texture bump on sunlit ground; it
    stands ~10 pixel-noise σ, above a third of the threshold) leaves it a candidate; one of half its peak (a
    blend) does not."""
    rng = np.random.default_rng(1)
    img = (100.0 + rng.normal(0.0, 1.0, (NL, NS))).astype(np.float32)
    _add_source(img, 200.0, 60.0, 4000.0, 0.8, 0.8)
    _add_source(img, 204.0, 64.0, 4000.0 * neighbour_fraction, 0.8, 0.8)
    x, y, _ = bright_sources(img, np.ones(img.shape, bool))
    assert bool(np.any(np.hypot(x - 200.0, y - 60.0) < 1.0)) is kept


def _limb(seen: bool):
    """A stand-in for :class:`ioscan.detect.region.Limb`: what :func:`_psf_in_use` reads."""
    return SimpleNamespace(circle=object() if seen else None, distance_px=None)


@pytest.mark.parametrize("limb_seen", [False, True])
def test_model_core_stays_in_the_filter_where_a_limb_is_seen(limb_seen):
    """Sources of σ 0.8 px: where no limb is seen detection takes the measured core; where one is seen the
    model's 0.6 px stays (``detect.psf_filter_where_limb_seen`` False), unless the setting is on."""
    img, _, _ = _frame(7, 0.8, sunlit=True)
    msgs: list[str] = []
    psf, spike, measured = _psf_in_use(img, None, _limb(limb_seen), MODEL, DetectConfig(), "M", msgs)
    assert spike is psf
    if limb_seen:
        assert psf is MODEL and not measured and not msgs
    else:
        assert measured and psf.core_sigma_px == pytest.approx(0.8, abs=0.04)
        assert psf.sigmas_px[1] == 2.5 and psf.weights == MODEL.weights  # the model's halo kept
    on = DetectConfig(psf_filter_where_limb_seen=True)
    psf, _, measured = _psf_in_use(img, None, _limb(limb_seen), MODEL, on, "M", [])
    assert measured and psf.core_sigma_px == pytest.approx(0.8, abs=0.04)


def test_spike_test_may_take_the_measured_core_alone():
    """With ``detect.psf_spike_one_source_snr`` a single source measures the spike test's core where a limb
    is seen, while the filter keeps the model's."""
    img, _, _ = _frame(11, 0.8, sunlit=True, n_sources=1)
    cfg = DetectConfig(psf_spike_one_source_snr=15.0)
    psf, spike, measured = _psf_in_use(img, None, _limb(True), MODEL, cfg, "M", [])
    assert psf is MODEL and not measured
    assert spike.core_sigma_px == pytest.approx(0.8, abs=0.04)
    psf, spike, _ = _psf_in_use(img, None, _limb(True), MODEL, DetectConfig(), "M", [])
    assert psf is MODEL and spike is MODEL


def test_spike_amplitudes_recover_the_injected_flux():
    """Least-squares amplitudes of a σ-0.8-px core on white noise: unbiased, scatter as 1/√Σp² predicts."""
    rng = np.random.default_rng(2)
    psf = PsfModel.gaussian(0.8)
    n, flux = 400, 50.0
    xs = 10.0 + 12.0 * (np.arange(n) % 20) + rng.uniform(-0.5, 0.5, n)
    ys = 10.0 + 12.0 * (np.arange(n) // 20) + rng.uniform(-0.5, 0.5, n)
    img = rng.normal(0.0, 1.0, (260, 260))
    for x, y in zip(xs, ys, strict=True):
        img += flux * np.outer(_gauss_1d(y, 0.8, 260), _gauss_1d(x, 0.8, 260))
    got = spike_amplitudes(img, np.ones(img.shape), np.ones(img.shape, bool), xs, ys, psf)
    err = 1.0 / np.sqrt(np.sum(_gauss_1d(2.0, 0.8, 5) ** 2) ** 2)  # Σp² over 5 × 5 of a centred source
    assert np.mean(got) == pytest.approx(flux, abs=4 * err / np.sqrt(n))
    assert np.std(got) == pytest.approx(err, rel=0.2)
