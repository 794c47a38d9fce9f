"""The core measured on bright sources near the limb (``measure_psf(near_limb_min_snr=...)``): sources the
old rule leaves out (within 6 px of the limb) measured to the truth where the limb's step leaves the fit
good, and left out where the step spoils it."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import erf

from ioscan.detect.psf_estimate import NEAR_LIMB_MIN_SNR, measure_psf

TRUE_SIGMA = 0.8


def _pixel_gaussian(nl: int, ns: int, x0: float, y0: float, sigma: float, flux: float) -> np.ndarray:
    def g1(n: int, c: float) -> np.ndarray:
        u = np.arange(n)
        return 0.5 * (erf((u - c + 0.5) / (sigma * np.sqrt(2))) - erf((u - c - 0.5) / (sigma * np.sqrt(2))))

    return flux * np.outer(g1(nl, y0), g1(ns, x0))


def _disk_with_sources_at_limb(step: float, flux: float, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """A sharp sunlit disk (radius 60 px, ``step`` noise σ at its limb, brightening inward) with three
    sources of core σ 0.8 px 1.5–3.5 px inside its limb; unit white noise. Returns (image, limb distance)."""
    rng = np.random.default_rng(seed)
    nl = ns = 160
    yy, xx = np.mgrid[0:nl, 0:ns]
    c, radius = 80.0, 60.0
    d = radius - np.hypot(xx - c, yy - c)
    img = np.where(d > 0, step + 0.05 * step * np.clip(d, 0, 20), 0.0)
    for angle, depth in ((0.3, 2.5), (2.0, 3.5), (4.0, 1.5)):
        r = radius - depth
        img += _pixel_gaussian(
            nl, ns, c + r * np.cos(angle) + 0.2, c + r * np.sin(angle) - 0.3, TRUE_SIGMA, flux
        )
    return (img + rng.normal(0.0, 1.0, img.shape)).astype(np.float32), d


def test_sources_near_the_limb_measure_the_core_the_old_rule_cannot():
    img, d = _disk_with_sources_at_limb(5.0, 3000.0)
    assert measure_psf(img, None, d) is None  # all within 6 px of the limb
    est = measure_psf(img, None, d, near_limb_min_snr=NEAR_LIMB_MIN_SNR)
    assert est is not None and est.n_sources == 3
    assert est.sigma_px == pytest.approx(TRUE_SIGMA, rel=0.03)


def test_fits_the_limbs_step_spoils_are_left_out():
    img, d = _disk_with_sources_at_limb(200.0, 10000.0)
    # without the S/N floor the step's misfit biases the width; with it nothing is measured
    loose = measure_psf(img, None, d, near_limb_min_snr=15.0)
    assert loose is not None and loose.sigma_px > 1.02 * TRUE_SIGMA
    assert measure_psf(img, None, d, near_limb_min_snr=NEAR_LIMB_MIN_SNR) is None


def test_without_the_option_nothing_changes_away_from_the_limb():
    img, d = _disk_with_sources_at_limb(5.0, 3000.0)
    far = d + 20.0  # the same image, its limb said to be 20 px further out: every source away from it
    a = measure_psf(img, None, far)
    b = measure_psf(img, None, far, near_limb_min_snr=NEAR_LIMB_MIN_SNR)
    assert a is not None and a == b
