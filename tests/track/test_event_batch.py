"""The events of a whole catalogue at once are the events of each light curve on its own."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ioscan.geometry.coverage import N_LAT, N_LON, encode_grid
from ioscan.records import DetectionFlag
from ioscan.track.event_batch import EVENT_COLUMNS, events_table
from ioscan.track.events import _coverage_table, events_for, find_events
from ioscan.track.lightcurve import lightcurve

KEPT = ("outburst", "new", "fading", "quiescent")


def _campaign(seed: int, n_hot: int = 40, n_obs: int = 90):
    """Observations (one or two bands, coverage of a random half of Io, limits, some missing) and the
    detections of hot spots with steady, outbursting, declining, switching-on and lower-limit behaviours."""
    rng = np.random.default_rng(seed)
    t0 = np.datetime64("2021-01-01T00:00:00", "ns")
    times = t0 + np.sort(rng.choice(np.arange(4000), n_obs, replace=False)).astype("timedelta64[h]")
    sub_lon = rng.uniform(0, 360, n_obs)
    lat_c = np.arange(N_LAT) * 2.0 - 89.0
    lon_c = np.arange(N_LON) * 2.0 + 1.0
    obs_rows, frame_rows = [], []
    hs_lat = rng.uniform(-60, 60, n_hot)
    hs_lon = rng.uniform(0, 360, n_hot)
    kind = rng.integers(0, 5, n_hot)  # 0 steady, 1 outbursts, 2 decline, 3 switches on, 4 lower limits
    level = rng.lognormal(1.0, 1.0, n_hot)
    det_rows = []
    for o in range(n_obs):
        dlon = (lon_c[None, :] - sub_lon[o] + 180) % 360 - 180
        grid = (np.abs(dlon) < 80) & (np.abs(lat_c)[:, None] < 75)
        if o % 17 == 5:
            grid = None  # no coverage grid
        obs_rows.append(
            {
                "id": o + 1,
                "time_utc": str(times[o]) + "Z",
                "coverage_grid": encode_grid(grid) if grid is not None else "",
            }
        )
        bands = ("L", "M") if o % 3 else ("M",)
        for b in bands:
            lim = np.nan if o % 11 == 0 else rng.lognormal(0.0, 1.0)
            frame_rows.append({"observation_id": o + 1, "band": b, "detection_limit_gw_um_sr": lim})
            for h in range(n_hot):
                d = (hs_lon[h] - sub_lon[o] + 180) % 360 - 180
                if abs(d) > 70 or rng.random() < 0.15:
                    continue  # not in view, or missed
                if kind[h] == 3 and o < n_obs // 2:
                    continue  # switches on half-way
                v = level[h] * (1 + 0.1 * rng.normal())
                if kind[h] == 1 and rng.random() < 0.12:
                    v *= rng.uniform(4, 12)
                if kind[h] == 2:
                    v = level[h] * 30 * np.exp(-o / 15.0)
                flags = int(DetectionFlag.LOWER_LIMIT) if kind[h] == 4 and rng.random() < 0.3 else 0
                err = np.nan if rng.random() < 0.05 else 0.05 * abs(v) + 0.01
                det_rows.append(
                    {
                        "detection_id": len(det_rows) + 1,
                        "hotspot_id": f"IOS{h:05d}",
                        "band": b,
                        "source": "ioscan",
                        "observation_id": o + 1,
                        "time_utc": str(times[o]) + "Z",
                        "spectral_intensity_gw_um_sr": v if rng.random() > 0.02 else np.nan,
                        "spectral_intensity_err_gw_um_sr": err,
                        "flags": flags,
                    }
                )
    hot = pd.DataFrame(
        {"hotspot_id": [f"IOS{h:05d}" for h in range(n_hot)], "lat_deg": hs_lat, "lon_w_deg": hs_lon}
    )
    return pd.DataFrame(det_rows), hot, pd.DataFrame(obs_rows), pd.DataFrame(frame_rows)


def _one_by_one(det, hot, observations, frames, **criteria) -> pd.DataFrame:
    """The events, light curve by light curve, with :func:`find_events` (the reference)."""
    rows = []
    pos = hot.set_index("hotspot_id")
    for (hs, band), _ in det.groupby(["hotspot_id", "band"]):
        lc = lightcurve(det, hs, band)
        lc = lc[np.isfinite(lc["value"].astype(float))]
        if lc.empty:
            continue
        cov = _coverage_table(observations, frames, band, pos.at[hs, "lat_deg"], pos.at[hs, "lon_w_deg"])
        for ev in find_events(lc, coverage=cov, **criteria):
            if ev.kind in KEPT:
                rows.append((hs, band, ev.kind, ev.time_utc, ev.value, ev.criterion))
    return pd.DataFrame(rows, columns=EVENT_COLUMNS)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_all_light_curves_at_once_match_each_on_its_own(seed):
    det, hot, observations, frames = _campaign(seed)
    ref = _one_by_one(det, hot, observations, frames)
    got = events_for(det, hot, observations, frames)
    assert set(ref["kind"]) == set(KEPT)  # the campaign exercises every kind
    assert len(got) == len(ref)
    for col in ("hotspot_id", "band", "kind", "criterion"):
        assert got[col].tolist() == ref[col].tolist()
    assert [pd.Timestamp(t) for t in got["time_utc"]] == [pd.Timestamp(t) for t in ref["time_utc"]]
    np.testing.assert_allclose(got["value"].astype(float), ref["value"].astype(float), rtol=1e-12)


def test_other_criteria_match_too():
    from ioscan.track.event_batch import Coverage, EventCriteria

    det, hot, observations, frames = _campaign(5)
    criteria = {"outburst_threshold": 8.0, "baseline_points": 5, "outburst_n_sigma": 3.0, "fading_points": 2}
    ref = _one_by_one(det, hot, observations, frames, **criteria)
    points = det.rename(
        columns={"spectral_intensity_gw_um_sr": "value", "spectral_intensity_err_gw_um_sr": "err"}
    )
    points["lower_limit"] = (points["flags"] & int(DetectionFlag.LOWER_LIMIT)) != 0
    got = events_table(points, hot, Coverage(observations, frames), EventCriteria(**criteria))
    assert (ref["criterion"].str.contains("absolute")).any()
    assert got[["hotspot_id", "band", "kind", "criterion"]].equals(
        ref[["hotspot_id", "band", "kind", "criterion"]]
    )
    np.testing.assert_allclose(got["value"].astype(float), ref["value"].astype(float), rtol=1e-12)


def test_a_light_curve_does_not_depend_on_the_others():
    det, hot, observations, frames = _campaign(4)
    every = events_for(det, hot, observations, frames)
    some = sorted(det["hotspot_id"].unique())[::3]
    part = events_for(det[det["hotspot_id"].isin(some)], hot, observations, frames)
    expect = every[every["hotspot_id"].isin(some)].reset_index(drop=True)
    pd.testing.assert_frame_equal(part.reset_index(drop=True), expect)


def test_empty_and_statistics_only():
    empty = events_table(
        pd.DataFrame(
            columns=["hotspot_id", "band", "time_utc", "value", "err", "lower_limit", "detection_id"]
        ),
        pd.DataFrame(columns=["hotspot_id", "lat_deg", "lon_w_deg"]),
        None,
    )
    assert empty.empty and list(empty.columns) == EVENT_COLUMNS
