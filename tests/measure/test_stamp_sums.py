"""The PSF stamps' sums of a band's detections at once (``measure.errors.stamp_sums``) against each source's
own stamp (``core_stamp``, ``psf_sums``), and the error terms from them against the terms from each stamp."""

from __future__ import annotations

import numpy as np

from ioscan.instruments import get_instrument
from ioscan.measure import MeasureConfig
from ioscan.measure.errors import (
    BandNoise,
    core_stamp,
    error_terms,
    flat_field_fraction,
    prior_for,
    psf_sums,
    random_flux_err,
    shot_noise_factor,
    source_stamp_sums,
    stamp_sums,
)
from ioscan.records import Detection


def _random_sources(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Core σ of several stamp sizes (below the 0.3-px floor too), centroids anywhere, some at half pixels."""
    rng = np.random.default_rng(seed)
    sigma = rng.choice([0.1, 0.3, 0.6, 0.8, 1.0, 1.3, 2.2], n) * rng.uniform(0.9, 1.1, n)
    sample, line = rng.uniform(-5.0, 500.0, n), rng.uniform(-5.0, 300.0, n)
    sample[: n // 10] = np.round(sample[: n // 10]) + 0.5
    line[n // 10 : n // 5] = np.round(line[n // 10 : n // 5]) - 0.5
    return sigma, sample, line


def test_stamp_sums_are_each_sources_own_stamps_sums_bit_for_bit():
    sigma, sample, line = _random_sources(3000, 1)
    sums = stamp_sums(sigma, sample, line)
    assert sums.shape == (3000, 4)
    for k in range(len(sigma)):
        p = core_stamp(sigma[k], sample[k], line[k])
        own = (np.sum(p), np.sum(p**2), np.sum(p**3), np.sum((p**2) ** 2))
        assert tuple(sums[k]) == own
        assert tuple(sums[k, :3]) == psf_sums(sigma[k], sample[k], line[k])


def test_stamp_sums_are_those_of_a_unit_flux_gaussian():
    sigma, sample, line = _random_sources(200, 2)
    s1, s2 = stamp_sums(sigma, sample, line)[:, :2].T
    # ≥ 2.5σ (and ≥ 2 px) each side: nearly all of the unit flux; ΣP² ≤ (peak pixel)·ΣP
    assert np.all((s1 > 0.98) & (s1 <= 1.0 + 1e-12))
    assert np.all((s2 > 0.0) & (s2 <= s1))
    assert len(stamp_sums([], [], [])) == 0


def _det(rng: np.random.Generator, sigma: float, sample: float, line: float) -> Detection:
    flux = float(rng.uniform(0.01, 50.0))
    return Detection(
        band="M",
        sample=float(sample),
        line=float(line),
        sample_err_px=0.05,
        line_err_px=0.05,
        snr=10.0,
        net_radiance_sum=flux,
        net_radiance_sum_err=flux / float(rng.uniform(5.0, 5000.0)),
        unit="W m-2 sr-1",
        background=0.0,
        peak=flux,
        n_pixels=int(rng.integers(9, 50)),
        extra={"psf_core_sigma_px": float(sigma), "chi2_dof": float(rng.uniform(0.5, 4.0))},
    )


def test_error_terms_from_the_bands_sums_are_those_from_each_stamp():
    rng = np.random.default_rng(3)
    sigma, sample, line = _random_sources(300, 3)
    dets = [_det(rng, *src) for src in zip(sigma, sample, line, strict=True)]
    cfg = MeasureConfig()
    prior = prior_for(get_instrument("JIRAM").photometry, cfg)
    noise = BandNoise(map_scale2=0.9, n_sources=5, radiance_per_electron=1e-4)
    for det, sums in zip(dets, source_stamp_sums(dets), strict=True):
        own = error_terms(det, prior, cfg, noise)
        assert error_terms(det, prior, cfg, noise, sums) == own
        assert random_flux_err(det, own, cfg, noise, sums) == random_flux_err(det, own, cfg, noise)
        s, ln, core = det.sample, det.line, det.extra["psf_core_sigma_px"]
        assert flat_field_fraction(0.01, 0.002, core, s, ln, sums) == flat_field_fraction(
            0.01, 0.002, core, s, ln
        )
        assert shot_noise_factor(core, s, ln, 25, sums) == shot_noise_factor(core, s, ln, 25)
