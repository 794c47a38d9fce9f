"""``ioscan track``: detections in the catalogue → hot spots, cross-IDs, light curves, events and colour
temperatures; the whole catalogue, or only what changed since the last run.

Reads detections from the store, associates them (``track.associate``, IDs stable across runs),
cross-identifies hot spots with the reference catalogues shipped in ``ioscan/data/reference``, flags
events per hot spot and band from their light curves, using each observation's coverage grid and
detection limit to tell "new" and "fading" from "not looked at", and derives each hot spot's colour
temperatures, areas and total powers from its detections in two bands close in time (``track.colour``).

**Incremental** (the default once a catalogue has been tracked with the same settings): only the detections
never associated are associated, against the hot spots in force (their positions, errors and counts are the
priors :func:`~ioscan.track.associate.associate` takes; detections already associated never move, as in a
full run). A hot spot *changed* when it gained detections, lost some (their product version was put out of
force), or was in view of an observation stored (or put out of force) since the last run — its new / fading
events depend on those. Events, colour temperatures and counts are recomputed for the changed hot spots only
(each light curve's events depend on its own points and coverage alone): a light curve whose new points all
come after its last one is *continued* from its stored state (:mod:`ioscan.track.event_state`: only the new
points are read, its earlier outburst events stay), one that loses points or gains earlier ones is recomputed
from all its points; cross-IDs for all (they are one-to-one across hot spots). Everything is written in one
transaction. A catalogue without light-curve states (tracked before they were kept) is tracked whole once.

**Full** (``full=True``, the first run, or after the tracking settings changed): every usable detection is
read; those already associated stay pinned to their hot spots and the others are associated as above; every
event, temperature and count is recomputed. The two give the same hot spot to every detection and the same
hot-spot table, events and temperatures, except where the calibration of the position errors
(``track.error_model``, ``track.night_offsets``) differs: a full run fits it on every detection, an
incremental one on the new detections only, so a detection near a gate can fall on the other side.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ioscan.track.colour import hotspot_temperatures
from ioscan.track.config import TrackConfig, usable_detections
from ioscan.track.crossid import cross_identify_all, hotspot_names
from ioscan.track.events import points_of

HOTSPOT_TABLE = ["hotspot_id", "lat_deg", "lon_w_deg", "lat_err_deg", "lon_err_deg", "lat_lon_err_corr"]


@dataclass
class TrackSummary:
    """Counts of one tracking run.

    ``mode``: ``full``, ``incremental`` or ``unchanged`` (nothing new since the last run); ``stages_s``:
    seconds spent in each stage (wall clock), ``stages_cpu_s`` this process's CPU seconds in each (a
    PostgreSQL server's work is not in them).
    """

    n_detections_used: int = 0
    n_detections_stored: int = 0  # in force (superseded product versions left out)
    n_hotspots: int = 0
    n_new_hotspots: int = 0
    n_cross_ids: int = 0
    events: dict = field(default_factory=dict)
    n_temperatures: int = 0
    n_temperatures_flagged: int = 0
    mode: str = "full"
    n_changed_hotspots: int = 0
    n_continued_hotspots: int = 0  # incremental: events continued from stored light-curve states
    n_recomputed_hotspots: int = 0  # incremental: events recomputed from all points (lost or earlier ones)
    stages_s: dict = field(default_factory=dict)
    stages_cpu_s: dict = field(default_factory=dict)


class _Stages:
    def __init__(self, summary: TrackSummary):
        self.summary, self.t, self.c = summary, time.perf_counter(), time.process_time()

    def __call__(self, name: str) -> None:
        now, cpu = time.perf_counter(), time.process_time()
        self.summary.stages_s[name] = round(self.summary.stages_s.get(name, 0.0) + now - self.t, 3)
        self.summary.stages_cpu_s[name] = round(self.summary.stages_cpu_s.get(name, 0.0) + cpu - self.c, 3)
        self.t, self.c = now, cpu


def track_catalog(store, config: TrackConfig | None = None, *, full: bool = False) -> TrackSummary:
    """Associate the usable detections in ``store`` into hot spots and write hot spots, cross-IDs, events
    and temperatures (recorded as a ``track`` run with its settings): only what changed since the last run,
    or everything with ``full`` (see the module docs)."""
    cfg = config or TrackConfig()
    run_id = store.start_run("track", {"full": bool(full)}, settings={"track": _settings_dict(cfg)})
    try:
        summary = _track(store, cfg, run_id, full)
    except BaseException:
        store.finish_run(run_id, "failed")
        raise
    store.finish_run(run_id, "ok", {"mode": summary.mode, "n_changed_hotspots": summary.n_changed_hotspots})
    return summary


def _settings_dict(cfg: TrackConfig) -> dict:
    from ioscan.settings import Settings

    return Settings(track=cfg).to_dict()["track"]


def _policy(cfg: TrackConfig):
    from ioscan.catalog.tracking import UsablePolicy

    return UsablePolicy(cfg.excluded_mask, cfg.max_position_err_km, cfg.max_emission_deg)


def _track(store, cfg: TrackConfig, run_id: int, full: bool) -> TrackSummary:
    from ioscan.catalog import tracking as tr

    summary = TrackSummary()
    stage = _Stages(summary)
    settings = _settings_dict(cfg)
    last_obs = store.last_observation_id()  # first: anything stored later is new to the next run
    state = tr.tracking_state(store)
    existing = store.hotspots_frame()
    summary.n_detections_stored = tr.count_detections(store)
    stage("read_state")
    incremental = (
        not full
        and state is not None
        and state["last_observation_id"] is not None
        and state["parameters"] == settings
        and not existing.empty
        and tr.has_light_curve_states(store)
    )
    if incremental:
        summary.mode = "incremental"
        _incremental(
            store, cfg, run_id, summary, stage, existing, int(state["last_observation_id"]), last_obs
        )
    else:
        _full(store, cfg, run_id, summary, stage, existing, last_obs)
    return summary


def _associate(det: pd.DataFrame, existing: pd.DataFrame, cfg: TrackConfig):
    from ioscan.track.associate import associate

    return associate(
        det,
        existing if not existing.empty else None,
        n_sigma=cfg.n_sigma,
        min_sep_km=cfg.min_sep_km,
        error_model=cfg.error_model,
        night_offsets=cfg.night_offsets,
        mixture=cfg.mixture,
    )


def _full(
    store, cfg: TrackConfig, run_id: int, summary: TrackSummary, stage, existing, last_obs: int
) -> None:
    from ioscan.catalog import tracking as tr

    read = tr.tracking_detections(store, _policy(cfg))
    det = usable_detections(read, cfg)
    summary.n_detections_used = len(det)
    stage("read_detections")
    previous = dict(zip(det["detection_id"].astype(int), det["hotspot_id"], strict=True))
    # read (the SQL policy is looser on the position error) but not usable: they lose their hot spot
    dropped = read[~read["id"].isin(det["detection_id"]) & read["hotspot_id"].notna()]
    previous |= dict(zip(dropped["id"].astype(int), dropped["hotspot_id"], strict=True))
    if det.empty:
        hotspots = pd.DataFrame(columns=HOTSPOT_TABLE)
    else:
        result = _associate(det, existing, cfg)
        det = det.assign(hotspot_id=result.hotspot_id.values)
        hotspots = result.hotspots[HOTSPOT_TABLE].copy()
    stage("associate")
    assign = dict(zip(det["detection_id"].astype(int), det["hotspot_id"], strict=True))
    assign |= {int(i): None for i in dropped["id"]}
    temps = _temperatures(store, cfg, det, stage)
    from ioscan.track.event_batch import events_table

    events, states = events_table(points_of(det), hotspots, _coverage(store), with_states=True)
    stage("events")
    _finish(
        store,
        cfg,
        run_id,
        summary,
        stage,
        hotspots,
        hotspots,
        existing,
        tr.TrackingUpdate(
            mode="full",
            assign=assign,
            hotspots=hotspots,
            previous=previous,
            policy=_policy(cfg),
            last_observation_id=last_obs,
            events=events,
            states=states,
            temperatures=temps,
        ),
    )
    summary.n_new_hotspots = len(set(hotspots["hotspot_id"]) - set(existing.get("hotspot_id", [])))
    summary.n_changed_hotspots = len(hotspots)


def _incremental(
    store, cfg: TrackConfig, run_id: int, summary: TrackSummary, stage, existing, since: int, last_obs: int
) -> None:
    from ioscan.catalog import tracking as tr

    new = usable_detections(tr.tracking_detections(store, _policy(cfg), new_only=True), cfg)
    leaving = tr.leaving_detections(store)
    changed_obs = tr.changed_observations(store, since)
    summary.n_detections_used = len(new)
    stage("read_detections")
    table = existing[HOTSPOT_TABLE].copy()
    touched: set[str] = set()
    if not new.empty:
        result = _associate(new, existing, cfg)
        new = new.assign(hotspot_id=result.hotspot_id.values)
        touched = set(new["hotspot_id"].dropna().astype(str))
        moved = result.hotspots[result.hotspots["hotspot_id"].isin(touched)]
        table = pd.concat(
            [table[~table["hotspot_id"].isin(touched)], moved[HOTSPOT_TABLE]], ignore_index=True
        )
        table = table.sort_values("hotspot_id", kind="stable").reset_index(drop=True)
    stage("associate")
    with_points = touched | set(leaving["hotspot_id"].astype(str))  # their light curves' points changed
    changed = with_points | _in_view(store, changed_obs, table)
    summary.n_changed_hotspots = len(changed)
    summary.n_hotspots = len(table)
    if not changed and changed_obs.empty:
        summary.mode = "unchanged"  # nothing to write: the association in force stays as it is
        return
    gone = set(leaving["id"].astype(int))
    fresh = new[new["source"] == "ioscan"] if len(new) else new
    events, states, continued, replaced = _changed_events(
        store, stage, changed, existing, table, fresh, set(leaving["hotspot_id"].astype(str)), gone
    )
    summary.n_continued_hotspots = len(continued)
    summary.n_recomputed_hotspots = len(changed) - len(continued)
    temps, temps_of = _new_temperatures(store, cfg, new, leaving, stage)
    assign = {int(i): h for i, h in zip(new["detection_id"], new["hotspot_id"], strict=True)}
    assign |= {int(i): None for i in gone}
    rows = table[table["hotspot_id"].isin(changed)]
    _finish(
        store,
        cfg,
        run_id,
        summary,
        stage,
        rows,
        table,
        existing,
        tr.TrackingUpdate(
            mode="incremental",
            assign=assign,
            hotspots=rows,
            changed=sorted(changed),
            last_observation_id=last_obs,
            temperatures=temps,
            temperatures_of=temps_of,
            events=events,
            states=states,
            continued=continued,
            replaced_outbursts=replaced,
        ),
    )
    summary.n_new_hotspots = len(touched - set(existing["hotspot_id"]))


def _coverage(store):
    """Every observation's coverage (new and fading events), read lean."""
    from ioscan.catalog import tracking as tr
    from ioscan.track.event_batch import Coverage

    return Coverage(*tr.coverage_rows(store))


def _changed_events(store, stage, changed, existing, table, fresh, leaving_hs: set, gone: set):
    """Events and light-curve states of the ``changed`` hot spots: ``(events, states, continued,
    replaced)``.

    A light curve whose new points (``fresh``, ioscan's new detections) all come after its stored state's
    last point is continued from that state (:func:`ioscan.track.event_state.advance`: its stored outburst
    events stay, but ``replaced``); the light curves of hot spots losing detections (``leaving_hs``,
    detection ids ``gone``) or gaining earlier ones are recomputed from all their points, read from the
    catalogue. ``continued``: the hot spots whose stored outburst events stay.
    """
    from ioscan.catalog import tracking as tr
    from ioscan.track.event_batch import events_table
    from ioscan.track.event_state import advance, out_of_order

    stored = sorted(changed & set(existing["hotspot_id"]))  # changed hot spots with stored detections
    states = tr.light_curve_states(store, stored) if stored else None
    new_points = points_of(fresh) if len(fresh) else None
    redo = set(leaving_hs) & changed
    if new_points is not None and states is not None:
        redo |= out_of_order(states, new_points)
    redo = sorted(redo & set(stored))
    old = tr.light_curve_points(store, redo, n_hotspots=len(existing)) if redo else None
    stage("read_light_curves")
    coverage = _coverage(store)
    parts, state_parts, replaced = [], [], None
    if redo:
        old = old[~old["detection_id"].isin(gone)]
        again = points_of(pd.concat([old, fresh[fresh["hotspot_id"].isin(redo)]], ignore_index=True))
        ev, st = events_table(again, table, coverage, with_states=True)
        parts.append(ev)
        state_parts.append(st)
    keep = sorted(changed - set(redo))
    if keep:
        mine = states[states["hotspot_id"].isin(keep)] if states is not None else None
        pts = new_points[new_points["hotspot_id"].isin(keep)] if new_points is not None else None
        ev, st, replaced = advance(mine, pts, table, coverage)
        parts.append(ev)
        state_parts.append(st)
    stage("events")
    parts = [p for p in parts if p is not None and len(p)]
    state_parts = [p for p in state_parts if p is not None and len(p)]
    events = pd.concat(parts, ignore_index=True) if parts else None
    states = pd.concat(state_parts, ignore_index=True) if state_parts else None
    return events, states, keep, replaced


def _temperatures(store, cfg: TrackConfig, det: pd.DataFrame, stage) -> list:
    """Colour temperatures of every hot spot seen in two bands of one instrument (a full run: ``det`` holds
    every usable detection)."""
    from ioscan.catalog import tracking as tr
    from ioscan.track.colour import colour_candidates

    bands = colour_candidates(det, cfg)[["hotspot_id", "instrument", "band"]] if len(det) else pd.DataFrame()
    if bands.empty:
        stage("temperatures")
        return []
    n = bands.drop_duplicates().groupby(["hotspot_id", "instrument"])["band"].size()
    rows = det[det["hotspot_id"].isin(set(n[n >= 2].index.get_level_values("hotspot_id")))]
    temps = hotspot_temperatures(rows, cfg, extra_of=functools.partial(tr.detection_extras, store))
    stage("temperatures")
    return temps


def _new_temperatures(store, cfg: TrackConfig, new: pd.DataFrame, leaving: pd.DataFrame, stage):
    """Colour temperatures that new and leaving detections change: ``(temperatures, detection ids whose
    stored temperatures they replace)``.

    Detections pair only within ``colour_window_s``, so a hot spot's candidates split into independent
    *chains* at every gap longer than that; only the chains that hold a new or leaving detection's time are
    paired again. The catalogue is read from some time before the earliest of those, further back until
    every such chain starts inside what was read.
    """
    from ioscan.catalog import tracking as tr
    from ioscan.catalog.times import utc_iso
    from ioscan.track._common import to_utc
    from ioscan.track.colour import COLUMNS, colour_candidates

    window = np.timedelta64(int(round(cfg.colour_window_s * 1e6)), "us")
    gone_ids = set(leaving["id"].astype(int)) if len(leaving) else set()
    fresh = colour_candidates(new, cfg)[list(COLUMNS)] if len(new) else pd.DataFrame(columns=list(COLUMNS))
    marks = [fresh[["hotspot_id", "instrument", "time_utc"]]]
    if len(leaving):
        marks.append(leaving[["hotspot_id", "instrument", "time_utc"]])
    dirty = pd.concat(marks, ignore_index=True).dropna()
    if dirty.empty:
        stage("temperatures")
        return [], sorted(gone_ids)
    dirty = dirty.assign(t=to_utc(dirty["time_utc"], "track").to_numpy().astype("datetime64[us]"))
    policy = tr.ColourPolicy(cfg.colour_allowed_mask, cfg.colour_min_snr, cfg.colour_max_emission_deg)
    hot = sorted(set(dirty["hotspot_id"].astype(str)))
    earliest = dirty["t"].min()
    margin = max(4 * window, np.timedelta64(86_400_000_000, "us"))
    while True:
        since = earliest - margin
        stored = tr.colour_detections(store, policy, hot, since_utc=utc_iso(pd.Timestamp(since)))
        stored = stored[~stored["detection_id"].isin(gone_ids)]
        rows = pd.concat([stored, fresh], ignore_index=True) if len(stored) else fresh.reset_index(drop=True)
        t = to_utc(rows["time_utc"], "track").to_numpy().astype("datetime64[us]")
        pick = _dirty_chains(rows, t, dirty, window)
        if not pick.any() or t[pick].min() >= since + window or margin > np.timedelta64(365_000, "D"):
            break
        margin = margin * 8  # a chain may reach further back than what was read
    chosen = rows[pick]
    temps = hotspot_temperatures(chosen, cfg, extra_of=functools.partial(tr.detection_extras, store))
    replaced = sorted({int(i) for i in chosen["detection_id"]} | gone_ids)
    stage("temperatures")
    return temps, replaced


def _dirty_chains(rows: pd.DataFrame, t: np.ndarray, dirty: pd.DataFrame, window) -> np.ndarray:
    """Which candidates are in a chain (per hot spot and instrument, split at gaps longer than ``window``)
    that holds one of the ``dirty`` times (a new candidate, or where a leaving one was)."""
    key = rows["hotspot_id"].astype(str).to_numpy() + "\x1f" + rows["instrument"].astype(str).to_numpy()
    dkey = dirty["hotspot_id"].astype(str).to_numpy() + "\x1f" + dirty["instrument"].astype(str).to_numpy()
    allkeys, code = np.unique(np.concatenate([key, dkey]), return_inverse=True)
    k_rows, k_dirty = code[: len(key)], code[len(key) :]
    # rows and dirty times together in (key, time) order; a chain breaks at a new key or a long gap
    kk = np.concatenate([k_rows, k_dirty])
    tt = np.concatenate([t, dirty["t"].to_numpy()])
    is_dirty = np.concatenate([np.zeros(len(t), bool), np.ones(len(k_dirty), bool)])
    order = np.lexsort((tt, kk))
    ks, ts = kk[order], tt[order]
    brk = np.ones(len(order), dtype=bool)
    brk[1:] = (ks[1:] != ks[:-1]) | ((ts[1:] - ts[:-1]) > window)
    chain = np.cumsum(brk) - 1
    dirty_chain = np.zeros(chain[-1] + 1 if len(chain) else 0, dtype=bool)
    dirty_chain[chain[is_dirty[order]]] = True
    pick = np.zeros(len(order), dtype=bool)
    pick[order] = dirty_chain[chain]
    return pick[: len(t)]


def _in_view(store, changed_obs: pd.DataFrame, table: pd.DataFrame) -> set[str]:
    """Hot spots in view of the changed observations (in any of their bands)."""
    from ioscan.catalog import tracking as tr
    from ioscan.track.event_batch import Coverage

    if changed_obs.empty or table.empty:
        return set()
    cov = Coverage(changed_obs, tr.frames_of(store, changed_obs["id"]))
    lat, lon = table["lat_deg"].to_numpy(float), table["lon_w_deg"].to_numpy(float)
    seen = np.zeros(len(table), dtype=bool)
    for band in cov.bands:
        seen |= cov.visible(band, lat, lon).any(axis=0)
    return set(table["hotspot_id"].to_numpy()[seen].astype(str))


def _finish(store, cfg, run_id, summary, stage, rows, table, existing, update) -> None:
    """Cross-IDs and names (all hot spots), one write (``update`` holds the events, states and
    temperatures)."""
    from dataclasses import replace

    from ioscan.catalog import tracking as tr

    cross = cross_identify_all(table, cfg)
    names = table["hotspot_id"].map(hotspot_names(cross, cfg.name_preference))
    name_of = dict(zip(table["hotspot_id"], names, strict=True))
    rows = rows.assign(name=rows["hotspot_id"].map(name_of), status=None)
    stored_names = dict(zip(existing.get("hotspot_id", []), existing.get("name", []), strict=True))
    given = set(rows["hotspot_id"])
    renamed = {
        h: n
        for h, n in name_of.items()
        if h in stored_names and h not in given and _text(stored_names[h]) != _text(n)
    }
    stage("cross_ids")
    cross_rows = cross[["hotspot_id", "catalog", "ref_id", "separation_km", "separation_sigma"]]
    tr.write_tracking(
        store,
        replace(
            update,
            hotspots=rows,
            cross_ids=cross_rows if not cross.empty else None,
            names=renamed,
            method="ioscan.track.associate",
            parameters=_settings_dict(cfg),
            run_id=run_id,
        ),
    )
    stage("write")
    temps, events = update.temperatures, update.events
    summary.n_temperatures = len(temps)
    summary.n_temperatures_flagged = sum(not t.usable for t in temps)
    summary.n_hotspots = len(table)
    summary.n_cross_ids = int(cross["hotspot_id"].nunique()) if not cross.empty else 0
    summary.events = events["kind"].value_counts().to_dict() if events is not None and len(events) else {}


def _text(value) -> str | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
