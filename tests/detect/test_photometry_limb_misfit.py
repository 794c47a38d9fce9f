"""The band model's misfit of the ground near the limb, measured on the frame (issue 14):
:func:`ioscan.detect.photometry.limb_misfit_variance`.

Truth the term did not make: a frame drawn here — white noise of σ 1 (the noise map states 1), a straight limb
along the lines, and a misfit of known structure (a smooth random field, 2 px correlation, fading away from
the limb) that the background kernel cannot follow; the residual is the kernel's own (data − K⋆data). The
misfit's flux variance at the source's limb distance is read off the noise-free misfit at the same copies;
the noise's share is the kernel's adjoint applied to the weights (ndimage, not the term's own sum).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from ioscan.detect import photometry
from ioscan.detect.background import BandModel, background_kernel
from ioscan.detect.band import detect_band
from ioscan.detect.config import DetectConfig
from ioscan.records import BandImage
from ioscan.simulate.independent import draw_scene, render_scene
from ioscan.simulate.independent_backplanes import truth_backplanes

NL, NS = 64, 432
LIMB_LINE = 20  # the limb: the disk below it (positive distance)
SOURCE_LINE = 28  # the source's line, 8 px inside the limb
ANNULUS = (2, 4, 2)  # the renderer's PSF (σ 0.8 px)'s small annulus
KERN = background_kernel(*ANNULUS)
STAMP_L, STAMP_S = (g.ravel() for g in np.mgrid[-2:3, -2:3])
COPIES_S = np.arange(20, NS - 20, 13)  # copies along the limb at the source's limb distance, apart
COPIES_L = np.full(COPIES_S.size, SOURCE_LINE)
NO_HOLE = (np.array([], np.intp), np.array([], np.intp))


def _weights() -> np.ndarray:
    """a = P/ΣP² of a Gaussian PSF of σ 0.8 px on a 5 × 5 stamp."""
    yy, xx = np.mgrid[-2:3, -2:3]
    p = np.exp(-(yy**2 + xx**2) / (2 * 0.8**2))
    return p / np.sum(p * p)


def _model(data: np.ndarray) -> BandModel:
    """A band model of ``data`` with the kernel's own background, every pixel usable and clean, noise 1."""
    bg = ndimage.correlate(data, KERN, mode="nearest")
    one = np.ones((NL, NS))
    every = np.ones((NL, NS), bool)
    return BandModel(
        background=bg,
        residuals=[data - bg],
        usable=every,
        clean=every,
        sigma_white=one,
        scale=one,
        noise=one,
        snr=np.zeros((NL, NS)),
        phase=np.zeros((NL, NS), int),
        choice=np.zeros((NL, NS), int),
        annuli=[ANNULUS],
        limb_distance_px=np.arange(NL, dtype=float)[:, None] - LIMB_LINE + np.zeros((1, NS)),
        noise_median=1.0,
    )


def _term(data: np.ndarray) -> float:
    return photometry.limb_misfit_variance(
        _model(data), 0, KERN, _weights(), COPIES_L, COPIES_S, NO_HOLE, STAMP_L, STAMP_S
    )


def _misfit(rms: float, seed: int = 5) -> np.ndarray:
    """A smooth random field (2 px Gaussian correlation) of ``rms`` at the limb, fading as exp(−d / 10 px)."""
    field = ndimage.gaussian_filter(np.random.default_rng(seed).normal(size=(NL, NS)), 2.0)
    d = np.abs(np.arange(NL, dtype=float) - LIMB_LINE)[:, None]
    return rms * field / field.std() * np.exp(-d / 10.0)


def _stated_noise_share() -> float:
    """Σ ((δ − K)ᵀa)² for σ = 1: the PSF weights less their kernel adjoint (ndimage.convolve), squared."""
    ap = np.pad(_weights(), KERN.shape[0] // 2)
    g = ap - ndimage.convolve(ap, KERN, mode="constant")
    return float(np.sum(g * g))


def test_noise_share_is_the_fit_s_stated_residual_variance():
    """On ground without noise or misfit every copy reads 0, so the term is minus the noise's share: the
    residual's variance the noise map states, the kernel's inflation included (1.35 × Σ a²σ² here: taking
    Σ a²σ² alone would leave a third of the noise in the term)."""
    stated = _stated_noise_share()
    assert stated > 1.3 * float(np.sum(_weights() ** 2))
    assert _term(np.zeros((NL, NS))) == pytest.approx(-stated, rel=1e-12)


def _misfit_flux(mis: np.ndarray) -> np.ndarray:
    """The noise-free misfit's flux Σ a·r at each copy."""
    r = _model(mis).residuals[0]
    a = _weights().ravel()
    return np.array(
        [np.sum(a * r[li + STAMP_L, sj + STAMP_S]) for li, sj in zip(COPIES_L, COPIES_S, strict=True)]
    )


def test_no_misfit_gives_no_term_and_a_known_misfit_its_variance():
    """Noise alone: the term's mean over 32 noise draws is 0 within 0.15 × the stated share (its scatter
    per draw is ~0.35 ×, the mean's ~0.06 ×; the median² adds π/2N of the variance, N = 30 copies). A misfit
    of 4σ rms at the limb, 24 draws of its field × 4 of the noise: the term's mean is the misfit's own flux
    variance at the copies (noise-free, mean square over copies and fields; the median²'s π/2N of the whole
    variance added) within 15 % (the mean's scatter is ~6 %), and 4× the no-misfit term's scatter at least."""
    rng = np.random.default_rng(11)
    stated = _stated_noise_share()
    fields = [_misfit(4.0, seed) for seed in range(24)]
    truth = float(np.mean([np.mean(_misfit_flux(m) ** 2) for m in fields]))
    assert truth > stated  # a misfit the noise map does not state
    median_share = np.pi / (2 * COPIES_S.size)
    without = np.array([_term(rng.normal(size=(NL, NS))) for _ in range(32)])
    with_misfit = np.array([_term(m + rng.normal(size=(NL, NS))) for m in fields for _ in range(4)])
    assert abs(without.mean()) < 0.15 * stated
    assert with_misfit.mean() == pytest.approx(truth + median_share * (truth + stated), rel=0.15)
    assert with_misfit.mean() > 4 * without.std()


def test_too_few_copies_give_nan():
    few = photometry.FILL_MIN_SHIFTS - 1
    v = photometry.limb_misfit_variance(
        _model(np.zeros((NL, NS))),
        0,
        KERN,
        _weights(),
        COPIES_L[:few],
        COPIES_S[:few],
        NO_HOLE,
        STAMP_L,
        STAMP_S,
    )
    assert np.isnan(v)


def test_fluxes_and_detections_do_not_change_only_near_limb_errors(monkeypatch):
    """A sunlit renderer M frame with bright sources injected 4–15 px inside the limb, detected with the
    term on and off: the same detections, positions, fluxes and fit errors; the fill error the same away
    from the limb and changed for some source near it."""
    rng = np.random.default_rng(29)
    scene = draw_scene(rng, kind="day", mode="I2")
    rend = render_scene(scene)
    rb = rend.bands["M"]
    bp = truth_backplanes(scene.view, "M")
    ld = bp["limb_distance_px"]
    cand = np.argwhere((ld >= 4) & (ld < 15) & (rb.sunlit > 0))
    cand = cand[(cand[:, 0] >= 10) & (cand[:, 0] < 118) & (cand[:, 1] >= 10) & (cand[:, 1] < 422)]
    assert len(cand) > 20
    img = rb.image.astype(np.float64).copy()
    for ln, s in cand[:: max(len(cand) // 4, 1)][:4]:
        _, _, st = scene.psf.stamp(float(s), float(ln))
        f = 500.0 * rb.sigma[ln, s] / np.sqrt(np.sum(st**2))
        scene.psf.add_sources(img, [float(s)], [float(ln)], [f])
    band = BandImage(band="M", data=img.astype(np.float32), unit="W/(m^2*sr)", wavelength_um=4.78,
                     bandwidth_um=0.4975)  # fmt: skip
    cfg = DetectConfig(psf=0.8)
    monkeypatch.setattr(photometry, "LIMB_MISFIT", True)
    on = detect_band(band, bp, instrument="JIRAM", config=cfg).detections
    monkeypatch.setattr(photometry, "LIMB_MISFIT", False)
    off = detect_band(band, bp, instrument="JIRAM", config=cfg).detections
    assert len(on) == len(off) >= 4
    for a, b in zip(on, off, strict=True):
        assert (a.sample, a.line, a.flags) == (b.sample, b.line, b.flags)
        assert (a.net_radiance_sum, a.net_radiance_sum_err) == (b.net_radiance_sum, b.net_radiance_sum_err)
    fill_on = np.array([np.nan_to_num(d.extra["fill_flux_err"]) for d in on])
    fill_off = np.array([np.nan_to_num(d.extra["fill_flux_err"]) for d in off])
    near = np.array(
        [d.extra["limb_distance_px"] is not None and d.extra["limb_distance_px"] < 20 for d in on]
    )
    assert np.any(fill_on[near] != fill_off[near])
    assert np.array_equal(fill_on[~near], fill_off[~near])
