"""Lomb–Scargle on Loki-like irregular sampling with seasonal gaps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ioscan.errors import IoscanError
from ioscan.track.periodogram import periodogram


def _sampling(rng, years=10, per_year=25):
    """Irregular epochs: Jupiter observable ~8 months a year, random nights within."""
    t = []
    for y in range(years):
        t.append(y * 365.25 + np.sort(rng.uniform(0, 240, per_year)))
    return np.concatenate(t)


def _lc(t, y, err):
    return pd.DataFrame(
        {"time_utc": pd.to_datetime("2010-01-01") + pd.to_timedelta(t, unit="D"), "value": y, "err": err}
    )


@pytest.mark.parametrize(("seed", "period"), [(0, 480.0), (1, 520.0), (2, 540.0)])
def test_recovers_loki_like_period(seed, period):
    rng = np.random.default_rng(seed)
    t = _sampling(rng)
    err = 8.0
    y = 60 + 25 * np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi)) + rng.normal(0, err, len(t))
    res = periodogram(_lc(t, y, err), min_period_d=100, max_period_d=1500)
    assert res.best_period_d == pytest.approx(period, rel=0.05)
    assert res.false_alarm_probability < 1e-6
    assert res.n_points == len(t) and res.baseline_d > 3000


@pytest.mark.parametrize("seed", [3, 4, 5, 6])
def test_pure_noise_has_large_fap(seed):
    rng = np.random.default_rng(seed)
    t = _sampling(rng)
    res = periodogram(_lc(t, 60 + rng.normal(0, 8.0, len(t)), 8.0), min_period_d=100, max_period_d=1500)
    assert res.false_alarm_probability > 0.01


def test_periodogram_input_checks():
    lc = _lc(np.arange(4.0), np.ones(4), 1.0)
    with pytest.raises(IoscanError, match="at least 5"):
        periodogram(lc, min_period_d=1, max_period_d=10)
    with pytest.raises(IoscanError, match="min_period_d"):
        periodogram(_lc(np.arange(10.0), np.ones(10), 1.0), min_period_d=10, max_period_d=1)
