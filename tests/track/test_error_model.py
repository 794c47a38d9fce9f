"""The error model recovers understated errors (scale, systematic floor, observer factor) from repeat
detections, and leaves honest errors alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ioscan.track import synthetic as sy
from ioscan.track.error_model import ErrorModelConfig, calibrate, error_groups, fit_scale_and_floor

R_KM = 1821.49


def _repeat_detections(rng, *, scale, floor_km, observer_factor=1.0, n_sites=120, n_per=15):
    """Detections of sites with quoted 1σ 10–60 km and true 1σ = k·√((scale·quoted)² + floor²), k =
    ``observer_factor`` for observer B (half the nights), 1 for A. Returns (frame, unit vectors, quoted
    variances north/east, true labels)."""
    u_site = sy.random_directions(n_sites, rng)
    site = np.repeat(np.arange(n_sites), n_per)
    n = len(site)
    quoted = rng.uniform(10.0, 60.0, n)
    night = rng.integers(0, 200, n)
    observer = np.where(night % 2 == 0, "A", "B")
    k = np.where(observer == "B", observer_factor, 1.0)
    true = k * np.sqrt((scale * quoted) ** 2 + floor_km**2)
    g = rng.normal(size=(n, 2)) * true[:, None]
    u = sy.offset(u_site[site], g[:, 0], g[:, 1])
    times = np.datetime64("2015-01-01T10:00:00") + (night * 86400).astype("timedelta64[s]")
    frame = pd.DataFrame({"source": "cat", "observer": observer, "time_utc": times})
    return frame, u, quoted**2, quoted**2, site


def test_recovers_scale_and_floor():
    rng = np.random.default_rng(2)
    frame, u, sn2, se2, site = _repeat_detections(rng, scale=1.5, floor_km=30.0)
    model = calibrate(u, sn2, se2, site, error_groups(frame))
    assert model.scale[0] == pytest.approx(1.5, rel=0.15)
    assert model.floor_km[0] == pytest.approx(30.0, rel=0.35)
    true = np.sqrt(1.5**2 * sn2 + 30.0**2)
    ratio = np.sqrt(model.var_north_km2) / true
    assert np.median(ratio) == pytest.approx(1.0, abs=0.12)
    assert np.quantile(ratio, 0.9) < 1.35 and np.quantile(ratio, 0.1) > 0.75


def test_observer_factor():
    rng = np.random.default_rng(3)
    frame, u, sn2, se2, site = _repeat_detections(rng, scale=1.2, floor_km=0.0, observer_factor=1.6)
    model = calibrate(u, sn2, se2, site, error_groups(frame))
    b_over_a = np.median(model.k_observer[frame["observer"] == "B"]) / np.median(
        model.k_observer[frame["observer"] == "A"]
    )
    assert b_over_a == pytest.approx(1.6, rel=0.15)


def test_honest_errors_are_left_alone():
    rng = np.random.default_rng(4)
    frame, u, sn2, se2, site = _repeat_detections(rng, scale=1.0, floor_km=0.0)
    model = calibrate(u, sn2, se2, site, error_groups(frame))
    ratio = np.sqrt(model.var_north_km2 / sn2)
    assert np.quantile(ratio, 0.95) < 1.12  # never below 1 (min_scale), barely above
    assert (ratio >= 1.0 - 1e-12).all()


def test_fit_is_robust_to_tails():
    rng = np.random.default_rng(5)
    q2 = rng.uniform(10.0, 60.0, 4000) ** 2
    d2 = (rng.normal(size=4000) ** 2) * 2.0**2 * q2
    d2[:200] *= 100.0  # 5 % at ten times the scatter
    a, b = fit_scale_and_floor(d2, q2, np.zeros_like(q2), ErrorModelConfig())
    assert a == pytest.approx(2.0, rel=0.15) and b < 0.5 * np.sqrt(np.median(q2))


def test_groups_split_nights_by_time_gap():
    t = pd.to_datetime(["2015-01-01T06:00", "2015-01-01T12:00", "2015-01-02T06:00", "2015-01-01T07:00"])
    frame = pd.DataFrame({"time_utc": t, "observer": ["K", "K", "K", "G"], "source": "x"})
    g = error_groups(frame, night_gap_h=8.0)
    assert g["night"][0] == g["night"][1] != g["night"][2]
    assert g["night"][3] not in set(g["night"][:3]) and g["observer"][3] != g["observer"][0]
    assert g["catalogue"].nunique() == 1
