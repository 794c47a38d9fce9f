"""Events on injected outbursts, steady noise, and coverage tables."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ioscan.track.events import find_events


def _lc(values, err, start="2020-01-01", step_d=10.0):
    n = len(values)
    return pd.DataFrame(
        {
            "time_utc": pd.to_datetime(start) + pd.to_timedelta(np.arange(n) * step_d, unit="D"),
            "value": values,
            "err": err,
            "observation_id": [f"O{i:03d}" for i in range(n)],
        }
    )


def _steady(rng, n, level=10.0, err=0.5, intrinsic=0.1):
    return level * (1 + intrinsic * rng.normal(size=n)) + rng.normal(0, err, n)


def test_injected_outbursts_are_flagged():
    hits = 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        y = _steady(rng, 60)
        starts = sorted(rng.choice(np.arange(8, 55, 12), size=2, replace=False))
        for s in starts:  # outburst: ×6 then decaying ×3, ×1.5
            y[s] *= 6.0
            y[s + 1] *= 3.0
            y[s + 2] *= 1.5
        ev = find_events(_lc(y, 0.5))
        ob = [e for e in ev if e.kind == "outburst"]
        times = {e.time_utc for e in ob}
        expected = {pd.Timestamp("2020-01-01") + pd.Timedelta(days=10.0 * s) for s in starts}
        hits += len(times & expected)
        assert times <= expected  # nothing else flagged
        assert all(e.significance >= 5 for e in ob)
        assert not any(e.kind == "quiescent" for e in ev)
    assert hits == 40


def test_false_positive_rate_on_steady_noise():
    n_curves, n_false = 300, 0
    for seed in range(n_curves):
        rng = np.random.default_rng(1000 + seed)
        ev = find_events(_lc(_steady(rng, 40, intrinsic=0.15), 0.5))
        n_false += sum(e.kind == "outburst" for e in ev)
    assert n_false / n_curves <= 0.01


def test_absolute_threshold_and_criterion_text():
    y = np.array([300.0, 10.0, 11.0, 9.0, 10.0])
    ev = find_events(_lc(y, 0.5), outburst_threshold=200.0)
    ob = [e for e in ev if e.kind == "outburst"]
    assert len(ob) == 1 and ob[0].value == 300.0 and "200" in ob[0].criterion
    assert not [e for e in find_events(_lc(y, 0.5)) if e.kind == "outburst"]  # no baseline before it


def test_new_needs_coverage():
    y = np.full(6, 10.0) + np.random.default_rng(0).normal(0, 0.3, 6)
    lc = _lc(y, 0.3, start="2021-01-01")
    ev = find_events(lc)
    assert ev[0].kind == "first_seen" and "no coverage" in ev[0].criterion
    cov = pd.DataFrame(
        {
            "observation_id": [f"C{i}" for i in range(5)],
            "time_utc": pd.date_range("2020-06-01", periods=5, freq="20D"),
            "visible": [True, True, True, False, True],
            "detection_limit": [1.0, 1.0, 50.0, 1.0, 1.0],
        }
    )
    ev = find_events(lc, coverage=cov)
    new = [e for e in ev if e.kind == "new"]
    assert len(new) == 1 and new[0].significance == 3.0  # one not visible, one limit above the value
    ev = find_events(lc, coverage=cov, new_min_covered=4)
    assert not [e for e in ev if e.kind == "new"] and ev[0].kind == "first_seen"


def test_fading_with_and_without_coverage():
    y = np.array([10.0, 10.5, 9.8, 10.2, 10.1])
    lc = _lc(y, 0.3, start="2021-01-01")
    cov = pd.DataFrame(
        {
            "observation_id": ["X1", "X2", "X3", "O001"],
            "time_utc": pd.to_datetime(["2021-03-01", "2021-04-01", "2021-05-01", "2021-01-11"]),
            "visible": True,
        }
    )
    fading = [e for e in find_events(lc, coverage=cov) if e.kind == "fading"]
    assert len(fading) == 1 and fading[0].time_utc == pd.Timestamp("2021-05-01")
    assert not [e for e in find_events(lc) if e.kind == "fading"]
    decline = _lc(np.array([10.0, 10.2, 9.9, 6.0, 3.5, 2.0]), 0.2)
    fading = [e for e in find_events(decline) if e.kind == "fading"]
    assert len(fading) == 1 and fading[0].value == 2.0


def test_quiescent_on_constant_source():
    rng = np.random.default_rng(5)
    ev = find_events(_lc(10 + rng.normal(0, 0.5, 30), 0.5))
    q = [e for e in ev if e.kind == "quiescent"]
    assert len(q) == 1 and abs(q[0].value - 10) < 0.5
    assert find_events(_lc(np.array([]), 0.5)) == []


def test_lower_limits_never_make_a_baseline_but_can_be_an_outburst():
    """Saturated points (lower limits) low in a bright phase must not drag the baseline down (which would
    turn the next ordinary point into an 'outburst'), while a lower limit far above the baseline is one."""
    y = np.array([10.0, 10.2, 9.9, 2.0, 2.1, 2.0, 2.0, 2.1, 2.0, 2.0, 10.1, 9.8, 60.0, 10.0])
    lower = np.zeros(len(y), bool)
    lower[[3, 4, 5, 6, 7, 8, 9, 12]] = True  # clipped cores: their sums are low bounds
    lc = _lc(y, 0.3).assign(lower_limit=lower)
    lc.loc[lower, "err"] = np.nan
    events = find_events(lc)
    ob = [e for e in events if e.kind == "outburst"]
    assert [e.time_utc for e in ob] == [pd.Timestamp("2020-01-01") + pd.Timedelta(days=120)]
    # without the outburst, the measured points alone are constant within their errors: quiescent
    lc2 = lc.drop(index=12)
    assert any(e.kind == "quiescent" for e in find_events(lc2))


def test_quiescence_needs_three_measured_points():
    lc = _lc(np.array([10.0, 10.1, 30.0]), 0.3).assign(lower_limit=[False, False, True])
    assert not any(e.kind == "quiescent" for e in find_events(lc))
