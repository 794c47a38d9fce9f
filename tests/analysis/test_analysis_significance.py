"""Tests and intervals against independent implementations (scipy) and published values."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from ioscan.analysis import significance as sig


@pytest.mark.parametrize(("n", "p0"), [(157, 0.2135), (30, 0.5), (60, 0.03), (1, 0.3)])
def test_two_sided_binomial_pvalues_equal_scipy_binomtest(n, p0):
    ours = sig.binomial_two_sided_pvalues(n, p0)
    ref = np.array([stats.binomtest(k, n, p0).pvalue for k in range(n + 1)])
    assert np.max(np.abs(ours - ref)) < 1e-12


def test_garwood_intervals_match_the_published_table():
    # Garwood (1936) 95 % limits as tabulated (e.g. Gehrels 1986 / standard Poisson tables)
    assert sig.garwood_interval(0) == pytest.approx((0.0, 3.689), abs=1e-3)
    assert sig.garwood_interval(10) == pytest.approx((4.795, 18.390), abs=1e-3)


def test_density_ratio_and_its_exact_power_against_monte_carlo():
    e_a, e_b = 5.7e6, 2.06e7
    res = sig.density_ratio_test(32, e_a, 125, e_b)
    assert res["ratio"] == pytest.approx((32 / e_a) / (125 / e_b))
    assert res["ratio_ci_low"] < res["ratio"] < res["ratio_ci_high"]
    assert res["p_value"] == pytest.approx(stats.binomtest(32, 157, e_a / (e_a + e_b)).pvalue)
    # exact power vs an independent simulation of Poisson counts with numpy
    rng = np.random.default_rng(1)
    lam_b = 125.0
    for ratio in (1.0, 1.5, 2.0):
        na = rng.poisson(ratio * lam_b * e_a / e_b, 4000)
        nb = rng.poisson(lam_b, 4000)
        p = np.array(
            [stats.binomtest(a, a + b, e_a / (e_a + e_b)).pvalue for a, b in zip(na, nb, strict=True)]
        )
        # the exact power conditions on n = n_A + n_B; at the mean n it equals the unconditional rate to ~0.02
        n_mean = int(round((na + nb).mean()))
        assert np.mean(p < 0.05) == pytest.approx(sig.density_test_power(n_mean, e_a, e_b, ratio), abs=0.03)


def test_min_detectable_ratio_inverts_the_power():
    e_a, e_b = 1.0, 3.0
    r = sig.min_detectable_ratio(200, e_a, e_b, power=0.8)
    assert sig.density_test_power(200, e_a, e_b, r) >= 0.8 > sig.density_test_power(200, e_a, e_b, r * 0.97)
    assert sig.min_detectable_ratio(200, e_a, e_b, upward=False) < 1.0


def test_permutation_test_agrees_with_scipy_permutation_test():
    rng = np.random.default_rng(3)
    a = rng.lognormal(0.5, 1.0, 25)
    b = rng.lognormal(0.0, 1.0, 40)
    ours = sig.permutation_test(a, b, n_permutations=4000, rng=rng)
    ref = stats.permutation_test(
        (np.log10(a), np.log10(b)),
        lambda x, y: np.mean(x) - np.mean(y),
        n_resamples=4000,
        alternative="two-sided",
        random_state=4,
    )
    assert ours["statistic"] == pytest.approx(ref.statistic)
    assert ours["p_value"] == pytest.approx(ref.pvalue, abs=0.02)


def test_verdicts_say_cannot_tell_when_power_is_low():
    assert sig.verdict(0.01, 0.05, 0.3, "x")[0] == "differ"
    short, sentence = sig.verdict(0.4, 0.05, 0.6, "a density ratio of 1.5")
    assert short == "cannot tell" and "only 0.60" in sentence
    assert sig.verdict(0.4, 0.05, 0.95, "a density ratio of 1.5")[0].startswith("no difference as large as")
