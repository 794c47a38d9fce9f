"""The PSF halo's weight (:mod:`ioscan.detect.psf_halo`): core-plus-halo fits on synthetic stamps of known
weight, their combination, and a frame of halo-free sources."""

from __future__ import annotations

import numpy as np
import pytest

from ioscan.detect.psf import PsfModel


def _mixture_stamp(rng, weights, sigmas, flux, m=15, noise=1.0, background=3.0):
    """A pixel-integrated Gaussian mixture of total ``flux`` near the centre of an m × m stamp, plus a flat
    background and white noise of σ ``noise``."""
    from ioscan.detect.psf_estimate import _g1

    u = np.arange(m, dtype=float)
    x0, y0 = (m - 1) / 2 + rng.uniform(-0.5, 0.5, 2)
    img = np.full((m, m), background)
    for w, s in zip(weights, sigmas, strict=True):
        img += flux * w * _g1(u, y0, s)[0][:, None] * _g1(u, x0, s)[0][None, :]
    return img + rng.normal(0.0, noise, (m, m))


@pytest.mark.parametrize(
    ("weights", "sigmas", "halo"), [((1.0,), (0.8,), 0.0), ((0.96, 0.04), (0.6, 2.5), 0.04)]
)
def test_core_halo_fit_measures_the_halo_weight_with_an_honest_error(weights, sigmas, halo):
    from ioscan.detect.psf_halo import fit_core_halo

    rng = np.random.default_rng(5)
    fits = np.array(
        [
            fit_core_halo(_mixture_stamp(rng, weights, sigmas, 3000.0), np.ones((15, 15)), 2.5)
            for _ in range(60)
        ]
    )
    w, e = fits[:, 0], fits[:, 1]
    assert np.all(np.isfinite(fits))
    # S/N ~200 of the total: the weight to ~0.006; unbiased, and the stated error its scatter
    assert np.median(e) < 0.01
    pull = (w - halo) / e
    assert abs(np.mean(pull)) < 0.4
    assert 0.7 < np.std(pull) < 1.3


def test_halo_weights_combined_leave_out_a_disagreeing_source():
    from ioscan.detect.psf_halo import HALO_SYSTEMATIC_ERR, combine_halo_weights

    hw = combine_halo_weights(np.array([0.001, -0.002, 0.0, 0.08]), np.array([0.004, 0.004, 0.004, 0.004]))
    assert hw.n_sources == 3 and hw.n_dropped == 1 and hw.agree
    assert hw.weight == pytest.approx(-0.001 / 3, abs=1e-9)
    assert hw.err == pytest.approx(np.hypot(0.004 / np.sqrt(3), HALO_SYSTEMATIC_ERR), rel=1e-6)
    model = PsfModel((0.96, 0.04), (0.6, 2.5))
    assert hw.accepted and hw.differs_from(model)
    halo_free = hw.applied_to(model)
    assert halo_free.weights == (1.0, 0.0) and halo_free.sigmas_px == (0.6, 2.5)
    # a weight within 3 errors of the model's does not differ; a single Gaussian has no halo to measure
    assert not combine_halo_weights(np.array([0.035]), np.array([0.004])).differs_from(model)
    assert not combine_halo_weights(np.array([0.0]), np.array([0.004])).differs_from(PsfModel.gaussian(0.8))


def test_halo_weight_on_a_frame_of_halo_free_sources():
    from ioscan.detect.psf_halo import HALO_MAX_ERR, halo_weight

    rng = np.random.default_rng(11)
    img = rng.normal(0.0, 1.0, (80, 80)).astype(np.float32) + 5.0
    xs, ys = np.array([20.0, 50.0, 30.0, 60.0]), np.array([20.0, 25.0, 55.0, 60.0])
    for x, y in zip(xs, ys, strict=True):
        img[int(y) - 7 : int(y) + 8, int(x) - 7 : int(x) + 8] += _mixture_stamp(
            rng, (1.0,), (0.8,), 4000.0, noise=0.0, background=0.0
        ).astype(np.float32)
    hw = halo_weight(img, None, None, xs, ys, np.full(4, 300.0), np.ones(4, bool), 2.5)
    assert hw is not None and hw.n_sources == 4 and hw.accepted and hw.err <= HALO_MAX_ERR
    assert abs(hw.weight) < 3 * hw.err
    assert hw.differs_from(PsfModel((0.96, 0.04), (0.8, 2.5)))
    # sources too faint, or not isolated, weigh nothing
    assert halo_weight(img, None, None, xs, ys, np.full(4, 30.0), np.ones(4, bool), 2.5) is None
    close = halo_weight(img, None, None, np.array([20.0, 26.0]), np.array([20.0, 20.0]), np.full(2, 300.0),
                        np.ones(2, bool), 2.5)  # fmt: skip
    assert close is None
