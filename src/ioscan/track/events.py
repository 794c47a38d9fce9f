"""Flag events in a hot spot's light curve: outburst, new (or first seen), fading, quiescent.

Criteria (all thresholds are keyword arguments):

* **outburst** — statistical: a point at least ``outburst_n_sigma`` (5) standard deviations *and* a factor
  ``outburst_factor`` (3) above the running baseline, the median of up to ``baseline_points`` (10)
  earlier non-outburst points (at least ``min_baseline_points`` = 3). The standard deviation combines
  the point's error, the baseline's intrinsic scatter (robust MAD scatter in excess of the typical
  error) and the baseline median's own error. Consecutive outburst points make one event (time of the
  first, value and significance of the peak). Optionally also an absolute level
  ``outburst_threshold`` (same units as the light curve): the literature defines outbursts
  qualitatively as rare, short, very bright eruptions — e.g. the 2013 August 15 events at Rarog and
  Heno Paterae reached ~500 and ~250 GW µm⁻¹ sr⁻¹ at 2–4 µm (de Pater et al. 2014, Icarus 242) and
  201308C emitted 15 to >25 TW (de Kleer et al. 2014, Icarus 242, 352) — so no universal number is
  built in: pass the level your band and study adopt, and it is quoted in the event's criterion.
* **new** — with a coverage table (rows: ``observation_id``, ``time_utc``, ``visible`` and optional
  ``detection_limit`` in light-curve units): first detection preceded by at least ``new_min_covered``
  (3) observations in which the position was visible, the limit (when given) was below the first
  detected value, and nothing was detected. Without coverage only **first_seen** is reported: the
  first detection, with no claim that the source was absent before.
* **fading** — with coverage: the last ``fading_min_covered`` (3) covering observations after the last
  detection saw nothing (limit below the last value when given). Without coverage: the last
  ``fading_points`` (3) values decline monotonically and the last is below ``fading_fraction`` (0.25)
  of the peak.
* **quiescent** — no outburst, and the light curve is consistent with a constant
  (χ² p-value ≥ ``quiescent_p``, 0.01) or its fractional variability is below ``quiescent_fvar`` (0.1).

Errors are the points' random errors (``err``; :mod:`ioscan.track.lightcurve`): a systematic error moves a
whole light curve and cannot make or hide an event. Lower limits (``lower_limit``, saturated sources) never
enter a baseline or the quiescence test, but one above the outburst criterion is an outburst (the true value
is higher still).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ioscan.records import DetectionFlag
from ioscan.robust import mad_sigma
from ioscan.track._common import require_columns, to_utc
from ioscan.track.lightcurve import variability_stats


@dataclass
class Event:
    """One flagged event.

    ``significance``: outburst → σ above baseline; new / fading → number of covering non-detections;
    first_seen → NaN; quiescent → χ² per dof against a constant. ``criterion`` says what was applied.
    """

    kind: str
    time_utc: pd.Timestamp
    value: float
    significance: float
    criterion: str


def _outbursts(
    t, x, e, lower, *, n_sigma, factor, baseline_points, min_baseline_points, threshold
) -> list[Event]:
    n = len(x)
    is_ob = np.zeros(n, dtype=bool)
    z = np.full(n, np.nan)
    stat_crit = (
        f"statistical: >= {n_sigma:g} sigma and >= x{factor:g} above the running median of up to "
        f"{baseline_points} earlier non-outburst points (>= {min_baseline_points})"
    )
    for i in range(n):
        base_idx = np.flatnonzero(~is_ob[:i] & ~lower[:i])[-baseline_points:]
        if len(base_idx) >= min_baseline_points:
            b, be = x[base_idx], e[base_idx]
            med = float(np.median(b))
            scatter = mad_sigma(b)
            typ_err = float(np.nanmedian(be)) if np.isfinite(be).any() else 0.0
            intrinsic2 = max(scatter**2 - typ_err**2, 0.0)
            err_med2 = (1.2533 * max(scatter, typ_err)) ** 2 / len(b)
            ei = e[i] if np.isfinite(e[i]) else typ_err
            sd = np.sqrt(ei**2 + intrinsic2 + err_med2)
            if sd > 0:
                z[i] = (x[i] - med) / sd
                if z[i] >= n_sigma and (med <= 0 or x[i] >= factor * med) and x[i] > med:
                    is_ob[i] = True
        if threshold is not None and x[i] >= threshold:
            is_ob[i] = True
    events = []
    i = 0
    while i < n:
        if not is_ob[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and is_ob[j + 1]:
            j += 1
        peak = i + int(np.argmax(x[i : j + 1]))
        crit = stat_crit
        if threshold is not None:
            crit += f"; or absolute: value >= {threshold:g} (user level)"
        zz = z[i : j + 1]
        sig = float(np.nanmax(zz)) if np.isfinite(zz).any() else np.nan
        events.append(Event("outburst", pd.Timestamp(t[i]), float(x[peak]), sig, crit))
        i = j + 1
    return events


def _covering(coverage: pd.DataFrame, detected_obs: set, level: float) -> pd.DataFrame:
    """Coverage rows that saw the position, could have detected ``level``, and have no detection."""
    cov = coverage.copy()
    cov["time_utc"] = to_utc(cov["time_utc"], "find_events(coverage)").to_numpy()
    ok = np.array(cov["visible"].astype(bool).to_numpy(), dtype=bool)
    if "detection_limit" in cov.columns:
        lim = pd.to_numeric(cov["detection_limit"], errors="coerce").to_numpy(float)
        ok &= ~(np.isfinite(lim) & (lim > level))
    ok &= ~cov["observation_id"].isin(detected_obs).to_numpy()
    return cov.loc[ok].sort_values("time_utc", kind="stable")


def find_events(
    lc: pd.DataFrame,
    *,
    coverage: pd.DataFrame | None = None,
    outburst_n_sigma: float = 5.0,
    outburst_factor: float = 3.0,
    baseline_points: int = 10,
    min_baseline_points: int = 3,
    outburst_threshold: float | None = None,
    new_min_covered: int = 3,
    fading_min_covered: int = 3,
    fading_points: int = 3,
    fading_fraction: float = 0.25,
    quiescent_p: float = 0.01,
    quiescent_fvar: float = 0.1,
) -> list[Event]:
    """Events in a light curve from :func:`~ioscan.track.lightcurve.lightcurve` (see module docstring).

    Returns events sorted by time (kind order within the same time: first_seen/new, outburst, fading,
    quiescent).
    """
    require_columns(lc, ["time_utc", "value"], "find_events(lc)")
    d = lc.copy()
    d["time_utc"] = to_utc(d["time_utc"], "find_events(lc)").to_numpy()
    d["value"] = pd.to_numeric(d["value"], errors="coerce")
    d = d[np.isfinite(d["value"].to_numpy(float))].sort_values("time_utc", kind="stable")
    if len(d) == 0:
        return []
    t = d["time_utc"].to_numpy()
    x = d["value"].to_numpy(float)
    e = (
        pd.to_numeric(d["err"], errors="coerce").to_numpy(float)
        if "err" in d.columns
        else np.full(len(x), np.nan)
    )
    lower = (
        d["lower_limit"].fillna(False).astype(bool).to_numpy()
        if "lower_limit" in d.columns
        else np.zeros(len(x), dtype=bool)
    )
    events = _outbursts(
        t,
        x,
        e,
        lower,
        n_sigma=outburst_n_sigma,
        factor=outburst_factor,
        baseline_points=baseline_points,
        min_baseline_points=min_baseline_points,
        threshold=outburst_threshold,
    )
    obs = set(d["observation_id"].dropna()) if "observation_id" in d.columns else set()

    # new / first seen
    kind, score = "first_seen", np.nan
    if coverage is None:
        note = "first detection; no coverage table given, so absence before is not known"
    else:
        require_columns(coverage, ["observation_id", "time_utc", "visible"], "find_events(coverage)")
        cov = _covering(coverage, obs, float(x[0]))
        before = int((cov["time_utc"].to_numpy() < t[0]).sum())
        if before >= new_min_covered:
            kind, score = "new", float(before)
            note = (
                f"first detection after {before} covering observations without detection "
                f"(>= {new_min_covered}; visible, limit below the detected value)"
            )
        else:
            note = f"first detection; only {before} earlier covering observations (< {new_min_covered})"
    events.append(Event(kind, pd.Timestamp(t[0]), float(x[0]), score, note))

    # fading
    if coverage is not None:
        cov = _covering(coverage, obs, float(x[-1]))
        after = cov[cov["time_utc"].to_numpy() > t[-1]]
        if len(after) >= fading_min_covered:
            events.append(
                Event(
                    "fading",
                    pd.Timestamp(after["time_utc"].iloc[fading_min_covered - 1]),
                    float(x[-1]),
                    float(len(after)),
                    f"{len(after)} covering observations without detection after the last "
                    f"detection (>= {fading_min_covered})",
                )
            )
    if len(x) >= fading_points + 1:
        tail = x[-fading_points:]
        peak = float(x.max())
        if np.all(np.diff(x[-fading_points - 1 :]) < 0) and tail[-1] < fading_fraction * peak:
            events.append(
                Event(
                    "fading",
                    pd.Timestamp(t[-1]),
                    float(x[-1]),
                    np.nan,
                    f"last {fading_points} values decline monotonically to < "
                    f"{fading_fraction:g} of the peak {peak:g}",
                )
            )

    # quiescent
    if not any(ev.kind == "outburst" for ev in events) and int((~lower).sum()) >= 3:
        vs = variability_stats(d)
        p_ok = np.isfinite(vs["p_constant"]) and vs["p_constant"] >= quiescent_p
        f_ok = np.isfinite(vs["fvar"]) and vs["fvar"] < quiescent_fvar
        if p_ok or f_ok or (np.isfinite(vs["excess_variance"]) and vs["excess_variance"] <= 0):
            events.append(
                Event(
                    "quiescent",
                    pd.Timestamp(t[-1]),
                    float(vs["weighted_mean"] if np.isfinite(vs["weighted_mean"]) else vs["mean"]),
                    float(vs["chi2_dof"]),
                    f"no outburst; constant within errors (p >= {quiescent_p:g}) or "
                    f"fractional variability < {quiescent_fvar:g}",
                )
            )
    rank = {"new": 0, "first_seen": 0, "outburst": 1, "fading": 2, "quiescent": 3}
    events.sort(key=lambda ev: (ev.time_utc, rank[ev.kind]))
    return events


def _coverage_table(observations: pd.DataFrame, frames: pd.DataFrame, band: str, lat: float, lon: float):
    """Observations in ``band`` and whether each covered (lat, lon), with its detection limit."""
    from ioscan.geometry.coverage import decode_grid, is_covered

    rows = frames[frames["band"] == band].merge(
        observations, left_on="observation_id", right_on="id", suffixes=("", "_obs")
    )
    if rows.empty or "coverage_grid" not in rows:
        return None
    return pd.DataFrame(
        {
            "observation_id": rows["observation_id"],
            "time_utc": rows["time_utc"],
            "visible": [is_covered(decode_grid(g), lat, lon) for g in rows["coverage_grid"]],
            "detection_limit": rows.get("detection_limit_gw_um_sr"),
        }
    )


def points_of(det: pd.DataFrame) -> pd.DataFrame:
    """Light-curve points (:func:`ioscan.track.event_batch.events_table` columns) of ioscan's own
    detections (``source`` "ioscan", or no ``source`` column): ``hotspot_id``, ``band``, ``time_utc``,
    ``detection_id``, ``value`` (spectral intensity), ``err`` (its random 1σ), ``lower_limit``."""
    d = det[det["source"] == "ioscan"] if "source" in det else det
    n = len(d)

    def num(col: str) -> np.ndarray:
        return pd.to_numeric(d[col], errors="coerce").to_numpy(float) if col in d else np.full(n, np.nan)

    flags = pd.to_numeric(d["flags"], errors="coerce").fillna(0).to_numpy(np.int64) if "flags" in d else 0
    return pd.DataFrame(
        {
            "hotspot_id": pd.Series(d["hotspot_id"].to_numpy(dtype=object), dtype=object),
            "band": pd.Series(d["band"].to_numpy(dtype=object), dtype=object),
            "time_utc": pd.Series(d["time_utc"].to_numpy(), dtype=d["time_utc"].dtype),
            "detection_id": d["detection_id"].to_numpy() if "detection_id" in d else np.arange(n),
            "value": num("spectral_intensity_gw_um_sr"),
            "err": num("spectral_intensity_err_gw_um_sr"),
            "lower_limit": (np.zeros(n, dtype=np.int64) + flags) & int(DetectionFlag.LOWER_LIMIT) != 0,
        }
    )


def events_for(
    det: pd.DataFrame,
    hotspots: pd.DataFrame,
    observations: pd.DataFrame,
    frames: pd.DataFrame,
    *,
    coverage_only: bool = False,
    coverage=None,
) -> pd.DataFrame:
    """Events of every hot spot and band (outburst, new, fading, quiescent) from ioscan's own detections:
    :func:`find_events` of each (hot spot, band) light curve with its coverage table, computed for all of
    them at once (:func:`ioscan.track.event_batch.events_table`); with ``coverage_only`` the new and fading
    events only. ``coverage``: the observations' :class:`~ioscan.track.event_batch.Coverage` when already
    built (else from ``observations`` and ``frames``)."""
    from ioscan.track.event_batch import Coverage, events_table

    points = points_of(det)
    cov = coverage if coverage is not None else Coverage(observations, frames)
    return events_table(points, hotspots, cov, coverage_only=coverage_only)
