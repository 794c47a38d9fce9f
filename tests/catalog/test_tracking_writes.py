"""What ``write_tracking`` stores and refuses: light-curve states read back as written (times, NULLs, JSON
text), the hot spots' position correlation kept, bad event rows refused with nothing written."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ioscan.catalog import tracking as tr
from ioscan.catalog.store import open_store
from ioscan.errors import CatalogError
from ioscan.track.event_state import STATE_COLUMNS

HOT = pd.DataFrame(
    {
        "hotspot_id": ["IOS00001", "IOS00002"],
        "lat_deg": [10.0, -20.0],
        "lon_w_deg": [100.0, 300.0],
        "lat_err_deg": [0.1, 0.2],
        "lon_err_deg": [0.3, 0.4],
        "lat_lon_err_corr": [0.45, np.nan],
    }
)


def _states() -> pd.DataFrame:
    t = np.array(["2022-01-01T00:00:00.123456", "2023-05-06T07:08:09.000001"], dtype="datetime64[ns]")
    row = {
        "hotspot_id": ["IOS00001", "IOS00002"],
        "band": ["M", "L"],
        "n_points": [5, 1],
        "first_time_utc": t,
        "first_value": [1.5, 2.0],
        "last_time_utc": t + np.timedelta64(3, "D"),
        "last_detection_id": [17, 4],
        "last_value": [1.25, 2.0],
        "peak_value": [9.0, 2.0],
        "recent_values": ["[1.0, 9.0, 1.1, 1.25]", "[2.0]"],
        "baseline": ["[[1.0, 0.1], [1.25, null]]", "[[2.0, 0.2]]"],
        "has_outburst": [True, False],
        "last_outburst": [False, False],
        "run_start_utc": np.array(["NaT", "NaT"], dtype="datetime64[ns]"),
        "run_peak_value": [np.nan, np.nan],
        "n_measured": [5, 1],
        "mean": [2.8, 2.0],
        "m2": [50.1, 0.0],
        "sum_w": [400.0, np.inf],  # an error of 0: no weighted terms (stored as NULL)
        "w_mean": [1.2, np.nan],
        "w_m2": [3.3, np.nan],
        "sum_err2": [0.05, 0.0],
        "n_bad_err": [1, 1],
    }
    return pd.DataFrame(row, columns=list(STATE_COLUMNS))


def _update(**kw) -> tr.TrackingUpdate:
    return tr.TrackingUpdate(mode="full", assign={}, hotspots=HOT, **kw)


def test_states_and_correlation_read_back_as_written(db_url):
    with open_store(db_url) as store:
        tr.write_tracking(store, _update(states=_states()))
        back = tr.light_curve_states(store)
        hot = store.hotspots_frame()
    want = _states()
    want["sum_w"] = [400.0, np.nan]
    pd.testing.assert_frame_equal(back, want, check_dtype=False)
    assert hot["lat_lon_err_corr"].iloc[0] == 0.45 and np.isnan(hot["lat_lon_err_corr"].iloc[1])


@pytest.mark.parametrize(
    "events, message",
    [
        (pd.DataFrame({"hotspot_id": ["IOS00001"], "kind": ["eruption"], "time_utc": ["2022"]}), "kind"),
        (pd.DataFrame({"hotspot_id": ["IOS00001"], "kind": ["new"], "time_utc": [None]}), "time"),
        (pd.DataFrame({"hotspot_id": ["IOS00001"], "kind": ["new"]}), "missing columns"),
    ],
)
def test_bad_events_are_refused_and_nothing_is_written(db_url, events, message):
    with open_store(db_url) as store:
        with pytest.raises(CatalogError, match=message):
            tr.write_tracking(store, _update(events=events, states=_states()))
        assert store.hotspots_frame().empty and store.association_runs_frame().empty
        assert tr.light_curve_states(store).empty


def test_states_without_their_columns_are_refused(tmp_path):
    with open_store(tmp_path / "c.db") as store:
        with pytest.raises(CatalogError, match="light-curve states lack"):
            tr.write_tracking(store, _update(states=_states().drop(columns="baseline")))
        assert store.hotspots_frame().empty
