"""The width several sources share (:mod:`ioscan.detect.psf_stack`): the joint fit against synthetic stamps of
known width — bias, an honest error, blends and disagreeing sources left out."""

from __future__ import annotations

import numpy as np
import pytest


def _gaussian_stamps(rng, sigmas, snr, m=11):
    """Stamps (n, m, m) of pixel-integrated round Gaussians of widths ``sigmas`` (px) centred within ±0.5 px
    of the middle on a level of 3 with white noise of 1, each of matched-filter S/N ``snr``, and weights 1."""
    from ioscan.detect.psf_estimate import _g1

    u = np.arange(m, dtype=float)[None, :]
    out = []
    for s in sigmas:
        cx, cy = (m - 1) / 2 + rng.uniform(-0.5, 0.5, 2)
        p = np.outer(
            _g1(u, np.array([[cy]]), np.array([[s]]))[0][0], _g1(u, np.array([[cx]]), np.array([[s]]))[0][0]
        )
        out.append(snr / np.sqrt(np.sum(p * p)) * p + 3.0 + rng.normal(size=(m, m)))
    return np.array(out), np.ones((len(sigmas), m, m))


def test_joint_width_of_bright_sources_is_the_truth_between_the_grid_points():
    """At S/N 1000 (a width error of ~0.1 %) the profile's parabola finds the true 0.8 px between the grid's
    points (4 % apart) to 0.2 %."""
    from ioscan.detect.psf_stack import joint_width

    rng = np.random.default_rng(0)
    est = joint_width(*_gaussian_stamps(rng, [0.8] * 3, 1e3))
    assert est.sigma_px == pytest.approx(0.8, rel=2e-3)
    assert est.n_sources == 3 and est.n_dropped == 0 and est.rel_err < 2e-3 and est.accepted


def test_joint_width_error_is_honest_and_shrinks_with_the_combined_snr():
    """Sources of S/N 12, each too faint alone (a width error of ~10 %), shared: the stated error shrinks as
    1/√n and describes the scatter of the estimate over independent draws (truth 0.8 px)."""
    from ioscan.detect.psf_stack import joint_width

    rng = np.random.default_rng(5)
    res = {n: [joint_width(*_gaussian_stamps(rng, [0.8] * n, 12.0)) for _ in range(30)] for n in (2, 8)}
    err = {n: np.median([e.rel_err for e in v]) for n, v in res.items()}
    assert err[8] < 0.6 * err[2] and err[8] < 0.05
    for v in res.values():
        pulls = np.array([np.log(e.sigma_px / 0.8) / e.rel_err for e in v])
        assert abs(np.median(pulls)) < 0.5
        assert 0.6 < np.std(pulls) < 1.5
    assert np.mean([e.accepted for e in res[8]]) > 0.9


def test_joint_width_leaves_out_a_blend_and_rejects_sources_that_disagree():
    from ioscan.detect.psf_stack import joint_width

    rng = np.random.default_rng(2)
    # four true sources and a blend (twice as wide): the blend is left out, the width stays the truth's
    est = joint_width(*_gaussian_stamps(rng, [0.8, 0.8, 0.8, 0.8, 1.6], 30.0))
    assert est.n_dropped == 1 and est.n_sources == 4 and est.accepted
    assert est.sigma_px == pytest.approx(0.8, rel=0.05)
    assert max(est.own_sigmas_px) < 1.0
    # two sources that disagree: nothing is left out (two are needed), and the width is not accepted
    est = joint_width(*_gaussian_stamps(rng, [0.8, 1.6], 30.0))
    assert est.n_dropped == 0 and not est.agree and not est.accepted
