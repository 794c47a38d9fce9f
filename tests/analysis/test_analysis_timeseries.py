"""Discrete correlation with surrogate significance, and the external-series reader."""

from __future__ import annotations

import numpy as np
import pytest

from ioscan.analysis.external import ExternalSeriesError, read_external_series
from ioscan.analysis.timeseries import (
    OUProcess,
    correlate_with_surrogates,
    dcf_bins,
    discrete_correlation,
    fit_ou,
)


def _ar1(n_days: int, tau_d: float, rng) -> np.ndarray:
    """An independent daily AR(1) (the discrete damped random walk), unit variance."""
    phi = np.exp(-1.0 / tau_d)
    x = np.empty(n_days)
    x[0] = rng.standard_normal()
    for i in range(1, n_days):
        x[i] = phi * x[i - 1] + np.sqrt(1 - phi**2) * rng.standard_normal()
    return x


def test_dcf_equals_a_brute_force_loop():
    rng = np.random.default_rng(0)
    ta, tb = np.sort(rng.uniform(0, 100, 15)), np.sort(rng.uniform(0, 100, 12))
    a, b = rng.standard_normal(15), rng.standard_normal(12)
    edges = dcf_bins(10.0, 50.0)
    glob = discrete_correlation(ta, a, None, tb, b, None, edges)
    local = discrete_correlation(ta, a, None, tb, b, None, edges, local=True)
    den = np.sqrt(np.var(a, ddof=1) * np.var(b, ddof=1))
    for k in range(len(edges) - 1):
        pairs = [(i, j) for i in range(15) for j in range(12) if edges[k] <= tb[j] - ta[i] < edges[k + 1]]
        assert glob["n_pairs"].iloc[k] == local["n_pairs"].iloc[k] == len(pairs)
        if pairs:  # Edelson & Krolik: mean of the unbinned products, global normalisation
            vals = [(a[i] - a.mean()) * (b[j] - b.mean()) / den for i, j in pairs]
            assert glob["dcf"].iloc[k] == pytest.approx(np.mean(vals))
        if len(pairs) > 2:  # Welsh's local DCF: the Pearson correlation of the pairs in the bin
            x, y = zip(*[(a[i], b[j]) for i, j in pairs], strict=True)
            assert local["dcf"].iloc[k] == pytest.approx(np.corrcoef(x, y)[0, 1])


def test_ou_fit_recovers_the_time_scale_and_amplitude():
    rng = np.random.default_rng(1)
    x = 3.0 + 2.0 * _ar1(3000, 20.0, rng)
    t = np.sort(rng.choice(3000, 300, replace=False)).astype(float)
    fit = fit_ou(t, x[t.astype(int)] + 0.1 * rng.standard_normal(300), np.full(300, 0.1))
    assert fit.tau_d == pytest.approx(20.0, rel=0.35)
    assert fit.sigma == pytest.approx(2.0, rel=0.2)
    assert fit.mean == pytest.approx(3.0, abs=0.6)


def test_a_lagged_copy_is_found_at_its_lag():
    rng = np.random.default_rng(2)
    x = _ar1(2000, 15.0, rng)
    ta = np.sort(rng.choice(np.arange(50, 1900), 80, replace=False)).astype(float)
    tb = np.sort(rng.choice(np.arange(100, 1950), 120, replace=False)).astype(float)
    a = x[ta.astype(int)] + 0.2 * rng.standard_normal(80)
    b = 5 + 3 * x[(tb - 30).astype(int)] + 0.3 * rng.standard_normal(120)  # b follows a by 30 days
    res = correlate_with_surrogates(
        ta,
        a,
        np.full(80, 0.2),
        tb,
        b,
        np.full(120, 0.3),
        lag_bin_d=10,
        max_lag_d=150,
        n_surrogates=200,
        rng=rng,
    )
    assert res["peak_lag_d"] == pytest.approx(30, abs=10)
    assert res["peak_dcf"] > 0.7 and res["p_value"] < 0.01


def test_independent_red_noise_series_keep_the_level():
    # autocorrelated but independent pairs: surrogates that keep the autocorrelation keep p uniform
    # (white-noise shuffles would not); 40 pairs here, >= 200 pairs in benchmarks/bench_report.py
    rng = np.random.default_rng(3)
    p = []
    for _ in range(40):
        xa, xb = _ar1(600, 40.0, rng), _ar1(600, 40.0, rng)
        ta = np.sort(rng.choice(600, 30, replace=False))
        tb = np.sort(rng.choice(600, 30, replace=False))
        r = correlate_with_surrogates(
            ta.astype(float),
            xa[ta],
            None,
            tb.astype(float),
            xb[tb],
            None,
            lag_bin_d=20,
            max_lag_d=200,
            n_surrogates=100,
            rng=rng,
        )
        p.append(r["p_value"])
    assert np.mean(np.asarray(p) < 0.05) <= 0.15


def test_ou_simulation_has_the_stationary_variance():
    sims = OUProcess(1.0, 2.0, 10.0).simulate(
        np.arange(0, 400.0, 3.0), np.zeros(134), np.random.default_rng(4), n=400
    )
    assert sims.std() == pytest.approx(2.0, rel=0.05) and sims.mean() == pytest.approx(1.0, abs=0.15)


def test_external_series_reader_names_file_and_line(tmp_path):
    good = tmp_path / "torus.csv"
    good.write_text("time_utc,value,err\n2022-01-02T00:00:00Z,3.5,0.2\n2022-01-01T00:00:00,2.0,\n")
    s = read_external_series(good)
    assert list(s["value"]) == [2.0, 3.5] and np.isnan(s["err"].iloc[0])
    cases = {
        "a.csv": ("when,value\n2022-01-01,1\n", "missing column"),
        "b.csv": ("time_utc,value\n2022-01-01,1\nyesterday,2\n", "line 3: time_utc 'yesterday'"),
        "c.csv": ("time_utc,value\n2022-01-01,1\n2022-01-02,lots\n", "line 3: value 'lots'"),
        "d.csv": ("time_utc,value,err\n2022-01-01,1,-2\n", "line 2: err must not be negative"),
    }
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(ExternalSeriesError, match=message):
            read_external_series(tmp_path / name)
    with pytest.raises(ExternalSeriesError, match="no such file"):
        read_external_series(tmp_path / "missing.csv")


def test_kalman_likelihood_equals_the_dense_gaussian_likelihood():
    """The O(n) filter gives the exact likelihood of σ² exp(−|Δt|/τ) + diag(e²), mean profiled by GLS."""
    from ioscan.analysis.timeseries import ou_neg_log_likelihood

    rng = np.random.default_rng(7)
    t = np.sort(rng.uniform(0, 500, 60))
    x = rng.normal(2.0, 1.0, 60)
    e2 = rng.uniform(0.01, 0.2, 60)
    for tau, s2 in ((3.0, 0.5), (40.0, 1.7), (900.0, 0.2)):
        c = s2 * np.exp(-np.abs(t[:, None] - t[None, :]) / tau) + np.diag(e2 + 1e-12 * s2)
        ci = np.linalg.inv(c)
        one = np.ones(60)
        mu = (one @ ci @ x) / (one @ ci @ one)
        r = x - mu
        dense = 0.5 * r @ ci @ r + 0.5 * np.linalg.slogdet(c)[1]
        nll, mu_k = ou_neg_log_likelihood(t, x, e2, tau, s2)
        assert nll == pytest.approx(dense, rel=1e-9, abs=1e-9) and mu_k == pytest.approx(mu, rel=1e-9)
