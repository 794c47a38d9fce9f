"""The events of many light curves at once: what :func:`ioscan.track.events.find_events` gives for each
(hot spot, band) light curve, computed for a whole catalogue with array operations.

Same criteria, same numbers, same event rows (a test compares them light curve by light curve):

* **outburst** — the sequential rule (each point against the median, MAD scatter and typical error of up to
  ``baseline_points`` earlier measured points that are not outbursts) settled in rounds for all light curves
  at once: each round tests every point after the last settled outburst of its light curve, and the first
  that meets the rule is the next outburst (see :func:`_outburst_points`).
* **new** / **fading** — each observation's coverage grid is decoded once and read at every hot spot's
  position (:class:`Coverage`); covering observations without a detection are counted before the first and
  after the last detection of each light curve (an observation strictly before the first or after the last
  detection cannot hold one of its detections: a detection has its observation's time).
* **fading** (decline) and **quiescent** — per-light-curve reductions over contiguous segments
  (``np.add.reduceat``, the same pairwise sums as ``np.sum`` over each light curve).

Light curves are independent of each other: the events of one hot spot do not depend on which others are
computed with it (what incremental tracking relies on).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ioscan.robust import MAD_TO_SIGMA
from ioscan.track.events import Event

EVENT_COLUMNS = ["hotspot_id", "band", "kind", "time_utc", "value", "criterion"]
_RANK = {"outburst": 1, "new": 0, "fading": 2, "quiescent": 3}
_CHUNK = 100_000  # points per block of the baseline computation (memory: ~10 arrays of CHUNK × baseline)


@dataclass(frozen=True)
class EventCriteria:
    """The thresholds of :func:`ioscan.track.events.find_events` (same names, same defaults)."""

    outburst_n_sigma: float = 5.0
    outburst_factor: float = 3.0
    baseline_points: int = 10
    min_baseline_points: int = 3
    outburst_threshold: float | None = None
    new_min_covered: int = 3
    fading_min_covered: int = 3
    fading_points: int = 3
    fading_fraction: float = 0.25
    quiescent_p: float = 0.01
    quiescent_fvar: float = 0.1


class Coverage:
    """Which observation saw which place, per band: each coverage grid decoded once.

    Args:
        observations: observations in force (``id``, ``time_utc``, ``coverage_grid``).
        frames: their band rows (``observation_id``, ``band``, ``detection_limit_gw_um_sr``).
    """

    def __init__(self, observations: pd.DataFrame, frames: pd.DataFrame):
        from ioscan.geometry.coverage import N_LAT, N_LON, decode_grid
        from ioscan.track._common import to_utc

        self.bands: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
        if observations.empty or frames.empty:
            return
        grid_of = {}
        for oid, text in zip(observations["id"], observations["coverage_grid"], strict=True):
            g = decode_grid(text) if isinstance(text, str) else None
            grid_of[int(oid)] = g.ravel() if g is not None else np.zeros(N_LAT * N_LON, dtype=bool)
        for band, rows in frames.groupby("band", sort=True):
            rows = rows.merge(
                observations[["id", "time_utc"]],
                left_on="observation_id",
                right_on="id",
                suffixes=("", "_obs"),
            )
            if rows.empty:
                continue
            t = to_utc(rows["time_utc"], "events(coverage)").to_numpy().astype("datetime64[ns]")
            order = np.argsort(t, kind="stable")
            lim = pd.to_numeric(rows["detection_limit_gw_um_sr"], errors="coerce").to_numpy(float)
            oids = rows["observation_id"].to_numpy(np.int64)
            grids = np.stack([grid_of[int(o)] for o in oids[order]])
            self.bands[str(band)] = (oids[order], t[order], lim[order], grids)

    def visible(self, band: str, lat_deg: np.ndarray, lon_w_deg: np.ndarray) -> np.ndarray | None:
        """(observations of ``band`` in time order, places) bool: the place was in view; None without
        observations in that band."""
        from ioscan.geometry.coverage import N_LON, _cells

        if band not in self.bands:
            return None
        i, j = _cells(lat_deg, lon_w_deg)
        return self.bands[band][3][:, i * N_LON + j]


def events_table(
    points: pd.DataFrame,
    positions: pd.DataFrame,
    coverage: Coverage | None,
    criteria: EventCriteria | None = None,
    *,
    coverage_only: bool = False,
    with_states: bool = False,
):
    """Events of every (hot spot, band) light curve in ``points`` (see the module docstring).

    Args:
        points: light-curve points: ``hotspot_id``, ``band``, ``time_utc`` (datetime64 or ISO text),
            ``value``, ``err`` (random 1σ), ``lower_limit`` (bool), ``detection_id`` (order within a time).
        positions: ``hotspot_id``, ``lat_deg``, ``lon_w_deg`` of every hot spot in ``points``.
        coverage: the observations' coverage (None: only statistical criteria, no new / coverage fading).
        criteria: thresholds.
        coverage_only: only the events coverage decides (new, fading): what changes for a light curve
            whose points did not change when new observations see its hot spot (the others depend on the
            points alone).
        with_states: also return each light curve's running state (:mod:`ioscan.track.event_state`), from
            which :func:`ioscan.track.event_state.advance` continues it with later points.

    Returns:
        DataFrame :data:`EVENT_COLUMNS` (outburst, new, fading, quiescent), by hot spot, band, then time;
        with ``with_states`` ``(events, states)`` (states None without points).
    """
    c = criteria or EventCriteria()
    cv = curves(points)
    if cv is None:
        return (
            (pd.DataFrame(columns=EVENT_COLUMNS), None)
            if with_states
            else pd.DataFrame(columns=EVENT_COLUMNS)
        )
    g, start, stop, t, x, e, lower = cv.g, cv.start, cv.stop, cv.t, cv.x, cv.e, cv.lower
    n_groups = len(start)
    t0, x0, tl, xl = t[start], x[start], t[stop - 1], x[stop - 1]

    # (light curve, time, kind, value, criterion)
    rows: list[tuple] = _coverage_events(cv.hs, cv.band, t0, x0, tl, xl, positions, coverage, c)
    if coverage_only and not with_states:
        return assemble(rows, cv.hs, cv.band)
    is_ob = _outburst_points(g, start, x, e, lower, c)
    stats = measured_stats(g, n_groups, x, e, lower)
    if not coverage_only:
        has_outburst = np.bincount(g[is_ob], minlength=n_groups) > 0
        rows += _outburst_events(g, t, x, is_ob, c)
        rows += _decline_events(start, stop, t, x, c)
        rows += quiescent_events(stats, has_outburst, tl, c)
    events = assemble(rows, cv.hs, cv.band)
    if not with_states:
        return events
    from ioscan.track.event_state import states_of

    return events, states_of(cv, is_ob, c, stats)


@dataclass
class Curves:
    """Light-curve points in (hot spot, band, time, detection id) order: curve number ``g`` of each point,
    each curve's ``start`` / ``stop`` indices, hot spot ``hs`` and ``band`` per curve; per point the time
    ``t`` (datetime64[ns]), ``value`` x, random error ``e``, ``lower`` limit and ``detection_id``."""

    g: np.ndarray
    start: np.ndarray
    stop: np.ndarray
    hs: np.ndarray
    band: np.ndarray
    t: np.ndarray
    x: np.ndarray
    e: np.ndarray
    lower: np.ndarray
    detection_id: np.ndarray


def curves(points: pd.DataFrame) -> Curves | None:
    """The finite points of ``points`` (:func:`events_table` columns) as :class:`Curves`; None if none."""
    from ioscan.track._common import to_utc, unique_ints

    pts = points[np.isfinite(pd.to_numeric(points["value"], errors="coerce").to_numpy(float))]
    pts = pts[pts["hotspot_id"].notna().to_numpy() & pts["band"].notna().to_numpy()]
    if pts.empty:
        return None
    t_all = to_utc(pts["time_utc"], "events(points)").to_numpy().astype("datetime64[ns]")
    # light curves numbered in (hot spot, band) order, without building string columns
    h_code, h_names = pd.factorize(pts["hotspot_id"].to_numpy(dtype=object).astype(str), sort=True)
    b_code, b_names = pd.factorize(pts["band"].to_numpy(dtype=object).astype(str), sort=True)
    raw = h_code.astype(np.int64) * len(b_names) + b_code
    uniq = unique_ints(raw)
    gcode = np.searchsorted(uniq, raw)
    det_id = pts["detection_id"].to_numpy()
    order = np.lexsort((det_id, t_all.astype(np.int64), gcode))
    g = gcode[order]
    x = pd.to_numeric(pts["value"], errors="coerce").to_numpy(float)[order]
    e = (
        pd.to_numeric(pts["err"], errors="coerce").to_numpy(float)[order]
        if "err" in pts
        else np.full(len(x), np.nan)
    )
    lower = (
        pts["lower_limit"].fillna(False).astype(bool).to_numpy()[order]
        if "lower_limit" in pts
        else np.zeros(len(x), bool)
    )
    n_groups = int(g[-1]) + 1
    return Curves(
        g=g,
        start=np.searchsorted(g, np.arange(n_groups), side="left"),
        stop=np.searchsorted(g, np.arange(n_groups), side="right"),
        hs=np.asarray(h_names, dtype=object)[uniq // len(b_names)],
        band=np.asarray(b_names, dtype=object)[uniq % len(b_names)],
        t=t_all[order],
        x=x,
        e=e,
        lower=lower,
        detection_id=det_id[order],
    )


def assemble(rows: list[tuple], hs: np.ndarray, band: np.ndarray) -> pd.DataFrame:
    """Event rows ``(curve, time, kind, value, criterion)`` as a DataFrame (:data:`EVENT_COLUMNS`) by hot
    spot, band, time, then kind."""
    if not rows:
        return pd.DataFrame(columns=EVENT_COLUMNS)
    seq = np.arange(len(rows))
    grp = np.array([r[0] for r in rows])
    when = np.array([pd.Timestamp(r[1]).value for r in rows], dtype=np.int64)
    rank = np.array([_RANK[r[2]] for r in rows])
    keep = np.lexsort((seq, rank, when, grp))
    return pd.DataFrame(
        {
            "hotspot_id": hs[grp[keep]],
            "band": band[grp[keep]],
            "kind": [rows[i][2] for i in keep],
            "time_utc": [pd.Timestamp(rows[i][1]) for i in keep],
            "value": [rows[i][3] for i in keep],
            "criterion": [rows[i][4] for i in keep],
        },
        columns=EVENT_COLUMNS,
    )


def _sorted_median(a: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Row medians of ``a`` (n, k) whose first ``count`` entries per row (after sorting; NaN sort last)
    are the values, as ``np.median`` computes them; NaN where ``count`` is 0."""
    s = np.sort(a, axis=1)
    rows = np.arange(len(a))
    lo = np.maximum((count - 1) // 2, 0)
    hi = np.maximum(count // 2, 0)
    hi = np.minimum(hi, a.shape[1] - 1)
    med = (s[rows, lo] + s[rows, hi]) / 2
    return np.where(count > 0, med, np.nan)


#: points of a light curve tested per round of :func:`_outburst_points`
_WINDOW = 32


def _outburst_points(g, start, x, e, lower, c: EventCriteria, skip: np.ndarray | None = None) -> np.ndarray:
    """Which points are outbursts, exactly as the sequential rule of
    :func:`ioscan.track.events._outbursts` decides, for every light curve at once.

    The sequential rule compares each point with the baseline of up to ``baseline_points`` earlier measured
    points that are not outbursts. Rounds: every point after its light curve's last settled outburst is
    tested against baselines that leave out the outbursts settled so far; the first point of each light
    curve that meets the rule is an outburst (every point before it is settled as not one, with an exact
    baseline), and its light curve goes on from the next point. A light curve leaves the rounds when no later
    point meets the rule. ``skip``: the first ``skip`` points of each light curve are settled already as not
    outbursts (a baseline carried over from earlier points: :mod:`ioscan.track.event_state`), not tested.
    """
    n = len(x)
    is_ob = np.zeros(n, dtype=bool)
    end = np.append(start[1:], n)
    frontier = start.copy() if skip is None else start + skip  # first point of each curve not settled yet
    active = np.flatnonzero(frontier < end)
    while len(active):
        # the active light curves, whole (baselines reach back before the frontier), as local arrays
        size = end[active] - start[active]
        rows = _segments(start[active], size)
        local_start = np.cumsum(np.concatenate([[0], size[:-1]]))
        gl = np.repeat(np.arange(len(active)), size)
        eligible = ~lower[rows] & ~is_ob[rows]
        before = np.cumsum(eligible) - eligible  # eligible points before each point (local arrays)
        # at most _WINDOW points per light curve a round: points after its first outburst would be tested
        # again next round anyway (their baselines change), and those before it are settled exactly
        span = np.minimum(end[active] - frontier[active], _WINDOW)
        todo = _segments(local_start + frontier[active] - start[active], span)
        hit = _meets_rule(todo, gl, local_start, before, eligible, x[rows], e[rows], c)
        first = np.full(len(active), len(rows))
        np.minimum.at(first, gl[todo[hit]], todo[hit])
        found = first < len(rows)
        settled = rows[first[found]]
        is_ob[settled] = True
        frontier[active[~found]] += span[~found]  # no outburst in the window: all settled as not one
        frontier[active[found]] = settled + 1
        active = active[frontier[active] < end[active]]
    return is_ob


def _segments(begin: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Concatenated ranges begin[i] .. begin[i] + count[i] − 1."""
    count = np.maximum(count, 0)
    offsets = np.repeat(begin - np.cumsum(np.concatenate([[0], count[:-1]])), count)
    return offsets + np.arange(int(count.sum()))


def _meets_rule(idx, g, start, before, eligible, x, e, c: EventCriteria) -> np.ndarray:
    """Whether each point ``idx`` meets the outburst rule against its baseline: the last
    ``baseline_points`` eligible points before it in its light curve (at least ``min_baseline_points``),
    median, MAD scatter and typical error as :func:`ioscan.track.events._outbursts` computes them."""
    m_max = c.baseline_points
    hit = np.zeros(len(idx), dtype=bool)
    if c.outburst_threshold is not None:
        hit |= x[idx] >= c.outburst_threshold
    pos = np.flatnonzero(eligible)  # global index of each eligible point
    k = np.arange(m_max)
    m_all = np.minimum(before[idx] - before[start[g[idx]]], m_max)
    for chunk in range(0, len(idx), _CHUNK):
        sub = np.flatnonzero(m_all[chunk : chunk + _CHUNK] >= c.min_baseline_points) + chunk
        if len(sub) == 0:
            continue
        use = idx[sub]
        mu = m_all[sub]
        back = before[use][:, None] - m_max + k[None, :]  # positions in ``pos``
        valid = k[None, :] >= (m_max - mu)[:, None]
        src = pos[np.where(valid, back, 0)]
        b = np.where(valid, x[src], np.nan)
        be = np.where(valid, e[src], np.nan)
        med = _sorted_median(b, mu)
        scatter = MAD_TO_SIGMA * _sorted_median(np.abs(b - med[:, None]), mu)
        n_err = np.isfinite(be).sum(axis=1)
        typ_err = np.where(n_err > 0, _sorted_median(be, n_err), 0.0)
        intrinsic2 = np.maximum(scatter**2 - typ_err**2, 0.0)
        err_med2 = (1.2533 * np.maximum(scatter, typ_err)) ** 2 / mu
        xi, ei = x[use], e[use]
        ei = np.where(np.isfinite(ei), ei, typ_err)
        sd = np.sqrt(ei**2 + intrinsic2 + err_med2)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (xi - med) / sd
        ok = (
            (sd > 0) & (z >= c.outburst_n_sigma) & ((med <= 0) | (xi >= c.outburst_factor * med)) & (xi > med)
        )
        hit[sub] |= ok
    return hit


def _outburst_events(g, t, x, is_ob, c: EventCriteria) -> list[tuple]:
    """One event per run of consecutive outburst points of a light curve: the time of its first point, the
    value of its peak (the first highest)."""
    crit = (
        f"statistical: >= {c.outburst_n_sigma:g} sigma and >= x{c.outburst_factor:g} above the running "
        f"median of up to {c.baseline_points} earlier non-outburst points (>= {c.min_baseline_points})"
    )
    if c.outburst_threshold is not None:
        crit += f"; or absolute: value >= {c.outburst_threshold:g} (user level)"
    idx = np.flatnonzero(is_ob)
    if len(idx) == 0:
        return []
    new_run = np.ones(len(idx), dtype=bool)
    new_run[1:] = (idx[1:] != idx[:-1] + 1) | (g[idx[1:]] != g[idx[:-1]])
    starts = np.flatnonzero(new_run)
    stops = np.append(starts[1:], len(idx))
    out = []
    for a, b in zip(starts, stops, strict=True):
        run = idx[a:b]
        peak = run[int(np.argmax(x[run]))]
        out.append((int(g[run[0]]), t[run[0]], "outburst", float(x[peak]), crit))
    return out


def _coverage_events(hs, band, t0_all, x0_all, tl_all, xl_all, positions, coverage, c: EventCriteria) -> list:
    """New and coverage-fading events of every light curve from its first (``t0``, ``x0``) and last
    (``tl``, ``xl``) points."""
    if coverage is None:
        return []
    pos = positions.drop_duplicates("hotspot_id").set_index("hotspot_id")
    out: list[tuple] = []
    groups = np.arange(len(hs))
    for b in np.unique(band):
        sel = groups[band == b]
        lat = pos.loc[hs[sel], "lat_deg"].to_numpy(float)
        lon = pos.loc[hs[sel], "lon_w_deg"].to_numpy(float)
        vis = coverage.visible(str(b), lat, lon)
        if vis is None:
            continue
        _, ot, lim, _ = coverage.bands[str(b)]
        t0, tl = t0_all[sel], tl_all[sel]
        x0, xl = x0_all[sel], xl_all[sel]
        lim_ok = np.isfinite(lim)[:, None]
        for chunk in range(0, len(sel), 2048):
            cs = slice(chunk, chunk + 2048)
            v = vis[:, cs]
            before = v & (ot[:, None] < t0[None, cs]) & ~(lim_ok & (lim[:, None] > x0[None, cs]))
            n_before = before.sum(axis=0)
            after = v & (ot[:, None] > tl[None, cs]) & ~(lim_ok & (lim[:, None] > xl[None, cs]))
            cum = np.cumsum(after, axis=0)
            n_after = cum[-1] if len(cum) else np.zeros(v.shape[1], dtype=np.int64)
            nth = np.argmax(cum >= c.fading_min_covered, axis=0)
            for j, k in enumerate(sel[cs]):
                if n_before[j] >= c.new_min_covered:
                    note = (
                        f"first detection after {n_before[j]} covering observations without detection "
                        f"(>= {c.new_min_covered}; visible, limit below the detected value)"
                    )
                    out.append((k, t0_all[k], "new", float(x0_all[k]), note))
                if n_after[j] >= c.fading_min_covered:
                    note = (
                        f"{n_after[j]} covering observations without detection after the last "
                        f"detection (>= {c.fading_min_covered})"
                    )
                    out.append((k, ot[nth[j]], "fading", float(xl_all[k]), note))
    return out


def _decline_events(start, stop, t, x, c: EventCriteria) -> list[tuple]:
    """Fading by decline: the last ``fading_points`` values fall monotonically below a fraction of the
    peak."""
    fp = c.fading_points
    n = stop - start
    out: list[tuple] = []
    for k in np.flatnonzero(n >= fp + 1):
        xs = x[start[k] : stop[k]]
        peak = float(xs.max())
        if np.all(np.diff(xs[-fp - 1 :]) < 0) and xs[-1] < c.fading_fraction * peak:
            note = f"last {fp} values decline monotonically to < {c.fading_fraction:g} of the peak {peak:g}"
            out.append((k, t[stop[k] - 1], "fading", float(xs[-1]), note))
    return out


#: per light curve, the sums over its measured points the quiescence test needs (see :func:`measured_stats`)
STAT_NAMES = ("n_measured", "mean", "m2", "sum_w", "w_mean", "w_m2", "sum_err2", "n_bad_err")


def measured_stats(g, n_groups: int, x, e, lower) -> dict[str, np.ndarray]:
    """Per light curve, over its measured points (not lower limits): count, mean and Σ(x − mean)², Σw,
    weighted mean and Σw(x − weighted mean)² with w = 1/err², Σerr², and how many errors are not finite
    and positive (then the weighted terms mean nothing). Per-curve reductions over contiguous segments
    (``np.add.reduceat``); curves without measured points get zeros."""
    meas = ~lower
    n_meas = np.bincount(g[meas], minlength=n_groups)
    out = {k: np.zeros(n_groups) for k in STAT_NAMES}
    out["n_measured"] = n_meas.astype(np.int64)
    out["n_bad_err"] = np.zeros(n_groups, dtype=np.int64)
    ok = n_meas > 0
    if not ok.any():
        return out
    gs, xs, es = g[meas], x[meas], e[meas]
    seg = np.searchsorted(gs, np.flatnonzero(ok), side="left")
    n = n_meas[ok].astype(float)
    rep = np.repeat(np.arange(len(seg)), n_meas[ok])
    mean = np.add.reduceat(xs, seg) / n
    dev = xs - mean[rep]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        w = 1.0 / es**2
        sw = np.add.reduceat(w, seg)
        wm = np.add.reduceat(w * xs, seg) / sw
        out["w_m2"][ok] = np.add.reduceat(w * (xs - wm[rep]) ** 2, seg)
    out["mean"][ok] = mean
    out["m2"][ok] = np.add.reduceat(dev * dev, seg)
    out["sum_w"][ok] = sw
    out["w_mean"][ok] = wm
    out["sum_err2"][ok] = np.add.reduceat(es**2, seg)
    out["n_bad_err"][ok] = np.add.reduceat(~(np.isfinite(es) & (es > 0)), seg)
    return out


def quiescent_events(stats: dict[str, np.ndarray], has_outburst, t_last, c: EventCriteria) -> list[tuple]:
    """Quiescence: no outburst, ≥ 3 measured points, consistent with a constant (as
    :func:`ioscan.track.lightcurve.variability_stats` judges it), from :func:`measured_stats`; the event at
    the time ``t_last`` of each light curve's last point."""
    n_meas = stats["n_measured"]
    ok = (n_meas >= 3) & ~np.asarray(has_outburst, dtype=bool)
    if not ok.any():
        return []
    n = n_meas[ok].astype(float)
    mean = stats["mean"][ok]
    std = np.sqrt(stats["m2"][ok] / (n - 1))
    good = stats["n_bad_err"][ok] == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        wm = stats["w_mean"][ok]
        p = stats_chi2_sf(stats["w_m2"][ok], n - 1)
        mse = stats["sum_err2"][ok] / n
        nxs = np.where(mean != 0, (std**2 - mse) / mean**2, np.nan)
        fvar = np.where(nxs > 0, np.sqrt(np.where(nxs > 0, nxs, 0.0)), np.nan)
    p = np.where(good, p, np.nan)
    fvar = np.where(good, fvar, np.nan)
    nxs = np.where(good, nxs, np.nan)
    wm = np.where(good, wm, np.nan)
    passes = (np.isfinite(p) & (p >= c.quiescent_p)) | (np.isfinite(fvar) & (fvar < c.quiescent_fvar))
    passes |= np.isfinite(nxs) & (nxs <= 0)
    note = (
        f"no outburst; constant within errors (p >= {c.quiescent_p:g}) or "
        f"fractional variability < {c.quiescent_fvar:g}"
    )
    out: list[tuple] = []
    for j, k in enumerate(np.flatnonzero(ok)):
        if passes[j]:
            value = float(wm[j] if np.isfinite(wm[j]) else mean[j])
            out.append((k, t_last[k], "quiescent", value, note))
    return out


def stats_chi2_sf(chi2: np.ndarray, dof: np.ndarray) -> np.ndarray:
    """χ² survival function (scipy)."""
    return stats.chi2.sf(chi2, dof)


__all__ = ["EVENT_COLUMNS", "Coverage", "Curves", "Event", "EventCriteria", "events_table"]
