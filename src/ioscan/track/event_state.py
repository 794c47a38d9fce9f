"""Running state of each light curve's events, so that later points continue it (incremental tracking).

Light curves grow at the end: a new observation is later than the ones already tracked. Every event of a
(hot spot, band) light curve (:mod:`ioscan.track.event_batch`) then follows from a small state and the new
points, the same events as a full recomputation from all the points:

* **outburst** — each point is judged against the last ``baseline_points`` (10) earlier measured points that
  are not outbursts: the state keeps those (``baseline``: value and random error), so the sequential rule
  goes on exactly; a run of outburst points at the end (``last_outburst``, its start ``run_start_utc`` and
  peak ``run_peak_value``) is extended by new outburst points (one event: time of the first, highest value).
  Outburst events before the last run never change.
* **new** / **fading** (coverage) — the first and last points (``first_*``, ``last_*``) and the coverage.
* **fading** (decline) — the last ``fading_points`` + 1 values (``recent_values``) and the highest value
  (``peak_value``).
* **quiescent** — no outburst so far (``has_outburst``) and the measured points' sums
  (:data:`~ioscan.track.event_batch.STAT_NAMES`: count, mean and Σ(x − mean)², weighted mean and
  Σw(x − mean)², Σerr², bad errors), merged with the new points' by Chan et al.'s (1979) pairwise update:
  equal to the two-pass sums of a full recomputation to rounding (≈1e-15 relative).

Values are in the light curve's unit (GW µm⁻¹ sr⁻¹ for ioscan's spectral intensities), times UTC.
A light curve whose new points do not all come after its last point (:func:`out_of_order`) cannot be
continued: it is recomputed from all its points.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from ioscan.track.event_batch import (
    EVENT_COLUMNS,
    STAT_NAMES,
    Coverage,
    Curves,
    EventCriteria,
    _coverage_events,
    _outburst_events,
    _outburst_points,
    assemble,
    curves,
    measured_stats,
    quiescent_events,
)

#: the columns of a state table (one row per hot spot and band); times datetime64[ns] (UTC)
STATE_COLUMNS = (
    "hotspot_id",
    "band",
    "n_points",
    "first_time_utc",
    "first_value",
    "last_time_utc",
    "last_detection_id",
    "last_value",
    "peak_value",
    "recent_values",  # JSON list: the last fading_points + 1 values
    "baseline",  # JSON list of [value, err or null]: the last baseline_points measured non-outbursts
    "has_outburst",
    "last_outburst",
    "run_start_utc",  # the last run of outburst points, when the light curve ends in one
    "run_peak_value",
    *STAT_NAMES,
)


def _json_values(values: np.ndarray) -> str:
    return json.dumps([float(v) for v in values])


def _json_baseline(x: np.ndarray, e: np.ndarray) -> str:
    return json.dumps([[float(a), float(b) if np.isfinite(b) else None] for a, b in zip(x, e, strict=True)])


def _parse_baseline(text) -> tuple[np.ndarray, np.ndarray]:
    pairs = json.loads(text) if isinstance(text, str) and text else []
    x = np.array([p[0] for p in pairs], dtype=float)
    e = np.array([np.nan if p[1] is None else p[1] for p in pairs], dtype=float)
    return x, e


def _parse_values(text) -> np.ndarray:
    return np.array(json.loads(text) if isinstance(text, str) and text else [], dtype=float)


def states_of(cv: Curves, is_ob: np.ndarray, c: EventCriteria, stats: dict | None = None) -> pd.DataFrame:
    """The state (:data:`STATE_COLUMNS`) of every light curve of ``cv`` whose outburst points are
    ``is_ob``."""
    g, start, stop, x, e, lower = cv.g, cv.start, cv.stop, cv.x, cv.e, cv.lower
    n_groups = len(start)
    stats = stats if stats is not None else measured_stats(g, n_groups, x, e, lower)
    eligible = np.flatnonzero(~lower & ~is_ob)
    e_lo = np.searchsorted(g[eligible], np.arange(n_groups), side="left")
    e_hi = np.searchsorted(g[eligible], np.arange(n_groups), side="right")
    keep = c.fading_points + 1
    recent, baseline = [], []
    for k in range(n_groups):
        recent.append(_json_values(x[max(start[k], stop[k] - keep) : stop[k]]))
        idx = eligible[max(e_lo[k], e_hi[k] - c.baseline_points) : e_hi[k]]
        baseline.append(_json_baseline(x[idx], e[idx]))
    last_ob = is_ob[stop - 1]
    run_start = np.full(n_groups, np.datetime64("NaT"), dtype="datetime64[ns]")
    run_peak = np.full(n_groups, np.nan)
    for k in np.flatnonzero(last_ob):
        i = stop[k] - 1
        while i > start[k] and is_ob[i - 1]:
            i -= 1
        run_start[k] = cv.t[i]
        run_peak[k] = float(np.max(x[i : stop[k]]))
    out = pd.DataFrame(
        {
            "hotspot_id": cv.hs,
            "band": cv.band,
            "n_points": (stop - start).astype(np.int64),
            "first_time_utc": cv.t[start],
            "first_value": x[start],
            "last_time_utc": cv.t[stop - 1],
            "last_detection_id": np.asarray(cv.detection_id[stop - 1], dtype=np.int64),
            "last_value": x[stop - 1],
            "peak_value": np.maximum.reduceat(x, start),
            "recent_values": recent,
            "baseline": baseline,
            "has_outburst": np.bincount(g[is_ob], minlength=n_groups) > 0,
            "last_outburst": last_ob,
            "run_start_utc": run_start,
            "run_peak_value": run_peak,
        }
    )
    for name in STAT_NAMES:
        out[name] = stats[name]
    return out


def out_of_order(states: pd.DataFrame, points: pd.DataFrame) -> set[str]:
    """Hot spots with a new point (finite value) not after the last point of its light curve's state (time,
    then detection id): their light curves cannot be continued."""
    cv = curves(points)
    if cv is None or states is None or states.empty:
        return set()
    first = pd.DataFrame(
        {
            "hotspot_id": cv.hs,
            "band": cv.band,
            "t": cv.t[cv.start],
            "id": np.asarray(cv.detection_id[cv.start], dtype=np.int64),
        }
    )
    both = first.merge(states[["hotspot_id", "band", "last_time_utc", "last_detection_id"]], how="inner")
    t_last = both["last_time_utc"].to_numpy("datetime64[ns]")
    t_new = both["t"].to_numpy("datetime64[ns]")
    late = (t_new > t_last) | ((t_new == t_last) & (both["id"].to_numpy() > both["last_detection_id"]))
    return set(both.loc[~late, "hotspot_id"].astype(str))


def advance(
    states: pd.DataFrame,
    points: pd.DataFrame,
    positions: pd.DataFrame,
    coverage: Coverage | None,
    criteria: EventCriteria | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Continue light curves with later points.

    Args:
        states: the state of each light curve to continue (:data:`STATE_COLUMNS`; a light curve without a
            row has no points yet).
        points: the new points (:func:`~ioscan.track.event_batch.events_table` columns), each after its
            light curve's last point (:func:`out_of_order` says which are not).
        positions: ``hotspot_id``, ``lat_deg``, ``lon_w_deg`` of every hot spot in ``states`` and ``points``.
        coverage: every observation's coverage (new and fading events of all these light curves).
        criteria: thresholds.

    Returns:
        ``(events, states, replaced)``: every event of these light curves except the outburst events before
        their last run (those stay as they are), by hot spot, band and time; the new states; the outburst
        events the new points extend (``hotspot_id``, ``band``, ``time_utc``: the stored event of a run the
        light curve ended in, which ``events`` holds again with its new peak).
    """
    c = criteria or EventCriteria()
    old = states.reset_index(drop=True) if states is not None else pd.DataFrame(columns=list(STATE_COLUMNS))
    cv = curves(points) if points is not None and len(points) else None
    keys_old = list(zip(old["hotspot_id"].astype(str), old["band"].astype(str), strict=True))
    keys_new = list(zip(cv.hs, cv.band, strict=True)) if cv is not None else []
    universe = sorted(set(keys_old) | {(str(h), str(b)) for h, b in keys_new})
    if not universe:
        return (
            pd.DataFrame(columns=EVENT_COLUMNS),
            pd.DataFrame(columns=list(STATE_COLUMNS)),
            pd.DataFrame(columns=["hotspot_id", "band", "time_utc"]),
        )
    m = len(universe)
    at = {k: i for i, k in enumerate(universe)}
    io = np.array([at[k] for k in keys_old], dtype=np.int64)
    has_old = np.zeros(m, dtype=bool)
    has_old[io] = True

    def old_col(name, fill, dtype=None):
        arr = np.full(m, fill, dtype=dtype if dtype is not None else np.asarray(fill).dtype)
        if len(io):
            arr[io] = old[name].to_numpy(dtype=arr.dtype)
        return arr

    # the new points of each curve
    n_new = np.zeros(m, dtype=np.int64)
    new_lo = np.zeros(m, dtype=np.int64)
    if cv is not None:
        ic = np.array([at[(str(h), str(b))] for h, b in keys_new], dtype=np.int64)
        n_new[ic] = cv.stop - cv.start
        new_lo[ic] = cv.start
    # baseline prefix + new points, one curve after another (curves in ``universe`` order)
    base = [_parse_baseline(t) for t in old_col("baseline", None, object)]
    n_base = np.array([len(b[0]) for b in base], dtype=np.int64)
    size = n_base + n_new
    start = np.concatenate([[0], np.cumsum(size)[:-1]]).astype(np.int64)
    total = int(size.sum())
    X, E = np.zeros(total), np.full(total, np.nan)
    L = np.zeros(total, dtype=bool)
    T = np.full(total, np.datetime64("NaT"), dtype="datetime64[ns]")
    src = np.full(total, -1, dtype=np.int64)  # index into cv of the new points
    for k in range(m):
        a, nb = start[k], n_base[k]
        X[a : a + nb], E[a : a + nb] = base[k]
        src[a + nb : a + nb + n_new[k]] = np.arange(new_lo[k], new_lo[k] + n_new[k])
    is_new = src >= 0
    if cv is not None:
        pick = src[is_new]
        X[is_new], E[is_new], L[is_new], T[is_new] = cv.x[pick], cv.e[pick], cv.lower[pick], cv.t[pick]
    g = np.repeat(np.arange(m), size)
    is_ob = _outburst_points(g, start, X, E, L, c, skip=n_base) if total else np.zeros(0, dtype=bool)

    # outburst events of the new points; a run continuing the one a curve ended in keeps its start
    last_ob_old = old_col("last_outburst", False, bool)
    run_start_old = old_col("run_start_utc", np.datetime64("NaT", "ns"), "datetime64[ns]")
    run_peak_old = old_col("run_peak_value", np.nan, float)
    first_new = start + n_base
    continues = last_ob_old & (n_new > 0)
    continues[continues] = is_ob[first_new[continues]]
    rows: list[tuple] = []
    replaced = []
    for k, when, kind, value, crit in _outburst_events(g, T, X, is_ob, c):
        if continues[k] and when == T[first_new[k]]:
            replaced.append((universe[k][0], universe[k][1], run_start_old[k]))
            value = max(float(run_peak_old[k]), value)  # the first highest: the earlier when equal
            when = run_start_old[k]
        rows.append((k, when, kind, value, crit))

    # new states
    stop = start + size
    has_new = n_new > 0
    last_i = np.maximum(stop - 1, 0)
    n_points = old_col("n_points", 0, np.int64) + n_new
    nat = np.datetime64("NaT", "ns")
    fi = np.minimum(first_new, max(total - 1, 0))
    t_first, x_first = (T[fi], X[fi]) if total else (np.full(m, nat), np.full(m, np.nan))
    t_last, x_last = (T[last_i], X[last_i]) if total else (np.full(m, nat), np.full(m, np.nan))
    t0 = np.where(has_old, old_col("first_time_utc", nat, "datetime64[ns]"), t_first)
    x0 = np.where(has_old, old_col("first_value", np.nan, float), x_first)
    tl = np.where(has_new, t_last, old_col("last_time_utc", nat, "datetime64[ns]"))
    xl = np.where(has_new, x_last, old_col("last_value", np.nan, float))
    last_id = old_col("last_detection_id", -1, np.int64)
    if cv is not None:
        last_id[has_new] = np.asarray(cv.detection_id, dtype=np.int64)[src[last_i[has_new]]]
    peak = old_col("peak_value", -np.inf, float)
    recent, baseline = [], []
    recent_old = old_col("recent_values", None, object)
    keep = c.fading_points + 1
    elig = ~L & ~is_ob
    run_start = np.where(has_new, np.datetime64("NaT", "ns"), run_start_old)
    run_peak = np.where(has_new, np.nan, run_peak_old)
    last_ob = np.where(has_new, False, last_ob_old)
    for k in range(m):
        a, b, f = start[k], stop[k], first_new[k]
        xs_new = X[f:b]
        if len(xs_new):
            peak[k] = max(peak[k], float(xs_new.max()))
        recent.append(_json_values(np.concatenate([_parse_values(recent_old[k]), xs_new])[-keep:]))
        idx = np.flatnonzero(elig[a:b])[-c.baseline_points :] + a
        baseline.append(_json_baseline(X[idx], E[idx]))
        if has_new[k] and is_ob[b - 1]:
            i = b - 1
            while i > f and is_ob[i - 1]:
                i -= 1
            last_ob[k] = True
            if i == f and continues[k]:
                run_start[k] = run_start_old[k]
                run_peak[k] = max(float(run_peak_old[k]), float(X[f:b].max()))
            else:
                run_start[k], run_peak[k] = T[i], float(X[i:b].max())
    has_ob = old_col("has_outburst", False, bool) | (np.bincount(g[is_ob], minlength=m) > 0)
    # the measured points' sums: the old ones merged with the new points'
    new_stats = measured_stats(g[is_new], m, X[is_new], E[is_new], L[is_new]) if total else None
    counts = ("n_measured", "n_bad_err")
    carried = {s: old_col(s, 0, np.int64 if s in counts else float) for s in STAT_NAMES}
    merged = _merge_stats(carried, new_stats)

    hs = np.array([u[0] for u in universe], dtype=object)
    band = np.array([u[1] for u in universe], dtype=object)
    rows += _coverage_events(hs, band, t0, x0, tl, xl, positions, coverage, c)
    rows += _decline(recent, n_points, peak, tl, c)
    rows += quiescent_events(merged, has_ob, tl, c)
    events = assemble(rows, hs, band)
    new_states = pd.DataFrame(
        {
            "hotspot_id": hs,
            "band": band,
            "n_points": n_points,
            "first_time_utc": t0.astype("datetime64[ns]"),
            "first_value": x0.astype(float),
            "last_time_utc": tl.astype("datetime64[ns]"),
            "last_detection_id": last_id,
            "last_value": xl.astype(float),
            "peak_value": peak,
            "recent_values": recent,
            "baseline": baseline,
            "has_outburst": has_ob,
            "last_outburst": last_ob.astype(bool),
            "run_start_utc": run_start.astype("datetime64[ns]"),
            "run_peak_value": run_peak.astype(float),
        }
    )
    for name in STAT_NAMES:
        new_states[name] = merged[name]
    rep = pd.DataFrame(replaced, columns=["hotspot_id", "band", "time_utc"])
    return events, new_states, rep


def _decline(recent: list[str], n_points, peak, t_last, c: EventCriteria) -> list[tuple]:
    """Fading by decline (as :func:`ioscan.track.event_batch._decline_events`) from the last values."""
    fp = c.fading_points
    out = []
    for k in np.flatnonzero(np.asarray(n_points) >= fp + 1):
        xs = _parse_values(recent[k])
        top = float(peak[k])
        if np.all(np.diff(xs[-fp - 1 :]) < 0) and xs[-1] < c.fading_fraction * top:
            note = f"last {fp} values decline monotonically to < {c.fading_fraction:g} of the peak {top:g}"
            out.append((k, t_last[k], "fading", float(xs[-1]), note))
    return out


def _merge_stats(a: dict[str, np.ndarray], b: dict[str, np.ndarray] | None) -> dict[str, np.ndarray]:
    """Sums of the measured points of two parts of each light curve (Chan et al. 1979 pairwise update of
    mean and Σ(x − mean)², plain and weighted)."""
    if b is None:
        return a
    na, nb = a["n_measured"].astype(float), b["n_measured"].astype(float)
    n = na + nb
    out = {"n_measured": a["n_measured"] + b["n_measured"], "n_bad_err": a["n_bad_err"] + b["n_bad_err"]}
    out["sum_err2"] = a["sum_err2"] + b["sum_err2"]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        d = b["mean"] - a["mean"]
        out["mean"] = np.where(na == 0, b["mean"], np.where(nb == 0, a["mean"], a["mean"] + d * nb / n))
        out["m2"] = np.where(
            na == 0, b["m2"], np.where(nb == 0, a["m2"], a["m2"] + b["m2"] + d * d * na * nb / n)
        )
        wa, wb = a["sum_w"], b["sum_w"]
        w = wa + wb
        dw = b["w_mean"] - a["w_mean"]
        out["sum_w"] = np.where(na == 0, wb, np.where(nb == 0, wa, w))
        out["w_mean"] = np.where(
            na == 0, b["w_mean"], np.where(nb == 0, a["w_mean"], a["w_mean"] + dw * wb / w)
        )
        out["w_m2"] = np.where(
            na == 0, b["w_m2"], np.where(nb == 0, a["w_m2"], a["w_m2"] + b["w_m2"] + dw * dw * wa * wb / w)
        )
    return out


__all__ = ["STATE_COLUMNS", "advance", "out_of_order", "states_of"]
