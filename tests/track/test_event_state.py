"""Light curves continued from their stored state give the events (and states) of a recomputation from all
their points: the truth is :func:`events_table` on the whole light curves (itself checked against
:func:`find_events`, one light curve at a time, in ``test_event_batch``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_event_batch import _campaign

from ioscan.track.event_batch import Coverage, EventCriteria, events_table
from ioscan.track.event_state import STATE_COLUMNS, advance, out_of_order
from ioscan.track.events import points_of

KEY = ["hotspot_id", "band", "kind", "time_utc"]


def _continued(points, cuts, hot, coverage, criteria):
    """Events and states after tracking ``points`` up to the first cut, then continuing at each cut."""
    t = pd.to_datetime(points["time_utc"].str.rstrip("Z")).to_numpy()
    first = points[t < cuts[0]]
    events, states = events_table(first, hot, coverage, criteria, with_states=True)
    bounds = [*cuts, np.datetime64("2100-01-01")]
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        part = points[(t >= lo) & (t < hi)]
        new_events, states, replaced = advance(states, part, hot, coverage, criteria)
        # stored outburst events stay, except the runs the new points extend
        kept = events[events["kind"] == "outburst"]
        drop = kept.merge(replaced.assign(_r=True), on=["hotspot_id", "band", "time_utc"], how="left")
        kept = kept[drop["_r"].isna().to_numpy()]
        events = pd.concat([kept, new_events], ignore_index=True)  # every state is continued
    return events, states


def _sorted(events: pd.DataFrame) -> pd.DataFrame:
    out = events.copy()
    out["time_utc"] = pd.to_datetime(out["time_utc"])
    return out.sort_values(KEY, kind="stable").reset_index(drop=True)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("finite_errors", [False, True])
def test_continued_light_curves_equal_recomputed(seed, finite_errors):
    det, hot, obs, frames = _campaign(seed)
    if finite_errors:  # every error usable: the quiescence test is decided by its statistics
        det["spectral_intensity_err_gw_um_sr"] = det["spectral_intensity_err_gw_um_sr"].fillna(0.2)
    points = points_of(det)
    coverage = Coverage(obs, frames)
    crit = EventCriteria()
    truth, truth_states = events_table(points, hot, coverage, crit, with_states=True)
    times = np.sort(pd.to_datetime(obs["time_utc"].str.rstrip("Z")).to_numpy())
    # continued at one cut, then at several (one of them with no new point: coverage alone)
    for cuts in ([times[60]], [times[30], times[45], times[45] + np.timedelta64(1, "s"), times[80]]):
        events, states = _continued(points, cuts, hot, coverage, crit)
        a, b = _sorted(events), _sorted(truth)
        assert len(a) == len(b) and set(b["kind"]) >= {"outburst", "new", "fading"}
        pd.testing.assert_frame_equal(a[KEY], b[KEY])
        np.testing.assert_allclose(a["value"].astype(float), b["value"].astype(float), rtol=1e-12)
        assert (a["criterion"] == b["criterion"]).all()
        if finite_errors:
            assert (b["kind"] == "quiescent").sum() >= 3
        s = states.sort_values(["hotspot_id", "band"]).reset_index(drop=True)
        r = truth_states.sort_values(["hotspot_id", "band"]).reset_index(drop=True)
        assert list(s.columns) == list(STATE_COLUMNS)
        exact = ["hotspot_id", "band", "n_points", "first_time_utc", "last_time_utc", "last_detection_id",
                 "recent_values", "baseline", "has_outburst", "last_outburst", "run_start_utc",
                 "n_measured", "n_bad_err"]  # fmt: skip
        pd.testing.assert_frame_equal(s[exact], r[exact], check_dtype=False)
        good = (r["n_bad_err"] == 0).to_numpy()
        for col in ("first_value", "last_value", "peak_value", "run_peak_value", "mean", "sum_err2"):
            np.testing.assert_allclose(s[col].astype(float), r[col].astype(float), rtol=1e-12, err_msg=col)
        for col in ("m2", "sum_w", "w_mean", "w_m2"):  # the weighted terms only where every error is usable
            np.testing.assert_allclose(s[col][good], r[col][good], rtol=1e-9, atol=1e-12, err_msg=col)


def test_an_outburst_run_continued_across_runs_is_one_event():
    """A light curve ending in an outburst continues it: one event, the start of the run, the higher peak."""
    t = np.datetime64("2022-01-01T00:00:00", "ns") + np.arange(20).astype("timedelta64[h]")
    x = np.full(20, 1.0) + 0.01 * np.sin(np.arange(20))
    x[12:16] = [20.0, 30.0, 50.0, 40.0]
    points = pd.DataFrame(
        {
            "hotspot_id": "IOS00001",
            "band": "M",
            "time_utc": t,
            "detection_id": np.arange(20),
            "value": x,
            "err": 0.05,
            "lower_limit": False,
        }
    )
    hot = pd.DataFrame({"hotspot_id": ["IOS00001"], "lat_deg": [0.0], "lon_w_deg": [10.0]})
    truth = events_table(points, hot, None)
    ob = truth[truth["kind"] == "outburst"]
    assert len(ob) == 1 and ob["time_utc"].iloc[0] == t[12] and ob["value"].iloc[0] == 50.0
    ev1, st1 = events_table(points.iloc[:14], hot, None, with_states=True)
    assert st1["last_outburst"].iloc[0] and ev1[ev1["kind"] == "outburst"]["value"].iloc[0] == 30.0
    ev2, st2, replaced = advance(st1, points.iloc[14:], hot, None)
    assert replaced["time_utc"].tolist() == [t[12]]
    ob2 = ev2[ev2["kind"] == "outburst"]
    assert ob2["time_utc"].tolist() == [t[12]] and ob2["value"].tolist() == [50.0]
    assert not st2["last_outburst"].iloc[0] and st2["has_outburst"].iloc[0]


def test_points_before_the_last_cannot_continue_a_light_curve():
    det, hot, obs, frames = _campaign(4, n_hot=10, n_obs=30)
    points = points_of(det)
    _, states = events_table(points, hot, None, with_states=True)
    late = points.iloc[[5]].assign(detection_id=10**6)  # an old time, a new id
    assert out_of_order(states, late) == {late["hotspot_id"].iloc[0]}
    later = late.assign(time_utc="2030-01-01T00:00:00Z")
    assert out_of_order(states, later) == set()
