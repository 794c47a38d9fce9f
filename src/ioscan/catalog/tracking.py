"""What ``ioscan track`` reads from and writes to the catalogue, whole or incrementally.

* :func:`tracking_state` — the association result in force: whether it was made by a tracker that records
  what it saw (``mode``), with which settings (``parameters``) and up to which observation
  (``last_observation_id``: product stores commit their observations in id order, so every observation with a
  higher id is new to it).
* :func:`tracking_detections` — the detections tracking may use (in force, and the usability policy as a SQL
  filter), only the columns it needs (``extra`` as JSON text, parsed only where used): all of them, the new
  ones (never associated), or the members of given hot spots.
* :func:`leaving_detections` — associated detections whose product version was put out of force since.
* :func:`changed_observations` — observations stored since a run, and observations put out of force since
  (their coverage no longer counts).
* :func:`light_curve_states` / :func:`has_light_curve_states` — the light curves' running event states
  (:mod:`ioscan.track.event_state`) and whether the catalogue keeps them.
* :func:`coverage_rows` — what the new / fading events need of the observations in force (id, time,
  coverage grid) and of their bands (detection limits), and nothing else.
* :func:`write_tracking` — one transaction: detections' hot spots, the hot spots' rows (positions, counts,
  time span, names), and, for the hot spots that changed (all of them for a full run), their events, light-
  curve states and colour temperatures; cross-IDs replaced; the association run recorded with its mode and
  watermark.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from ioscan.catalog import schema as sch
from ioscan.errors import CatalogError
from ioscan.records import HotspotTemperature

if TYPE_CHECKING:
    from ioscan.catalog.store import Store

#: columns of :func:`tracking_detections` (``detection_id`` is the row id, the published one is
#: ``imported_detection_id``; ``instrument`` is the observation's; ``extra`` JSON text)
TRACKING_COLUMNS = (
    "id",
    "observation_id",
    "source",
    "detection_id",
    "time_utc",
    "observer",
    "hotspot_id",
    "band",
    "wavelength_um",
    "lat_deg",
    "lon_w_deg",
    "lat_err_deg",
    "lon_err_deg",
    "lat_lon_err_corr",
    "position_err_km",
    "emission_deg",
    "flags",
    "snr",
    "spectral_intensity_gw_um_sr",
    "spectral_intensity_err_gw_um_sr",
    "spectral_intensity_sys_err_gw_um_sr",
)
_IN_CHUNK = 500


@dataclass(frozen=True)
class UsablePolicy:
    """Which detections may make hot spots (:class:`ioscan.track.config.TrackConfig`, as numbers): no flag
    of ``excluded_mask``, a position with errors, position error and emission angle within limits. In SQL the
    position error is bounded by what the major axis allows (``position_err_km`` = √(σn² + σe²) is at most
    √2 × the major axis); :func:`ioscan.track.config.usable_detections` applies the major axis itself."""

    excluded_mask: int
    max_position_err_km: float
    max_emission_deg: float


@dataclass
class TrackingUpdate:
    """One tracking result to store (:func:`write_tracking`).

    Attributes:
        mode: ``"full"`` (everything replaced) or ``"incremental"`` (only ``changed`` hot spots touched).
        assign: detection row id → hot-spot ID (None: no hot spot) for every detection whose hot spot is set
            or changes (a full run: every usable detection; the others are cleared).
        hotspots: rows to upsert (the changed hot spots; all of them for a full run): ``hotspot_id``,
            ``lat_deg``, ``lon_w_deg``, ``lat_err_deg``, ``lon_err_deg``, ``name``, ``status``.
        changed: the hot spots whose events are replaced (ignored by a full run).
        events: events of the changed hot spots (:meth:`Store.write_events` columns).
        temperatures: the new colour temperatures (see ``temperatures_of``).
        cross_ids: every cross-identification (replaced as a whole).
        names: hot spot → name for hot spots outside ``hotspots`` whose name changed.
        last_observation_id: the highest observation id this run had seen.
        method, parameters, run_id: recorded with the association run.
        previous: a full run: the hot spot each detection of ``assign`` had before (only changes are
            written).
        policy: a full run: the usability policy it applied (detections outside it lose their hot spot).
        temperatures_of: an incremental run: the stored colour temperatures made from any of these
            detections are replaced by ``temperatures`` (a full run replaces them all).
        continued: an incremental run: changed hot spots whose light curves were continued from their
            states: their stored outburst events stay (``events`` holds their other events and the outbursts
            of the new points), except ``replaced_outbursts``; the other changed hot spots' events are all
            replaced.
        replaced_outbursts: stored outburst events (``hotspot_id``, ``band``, ``time_utc``) that the new
            points extend (``events`` holds them again, with their new peak).
        states: the light-curve states (:data:`ioscan.track.event_state.STATE_COLUMNS`) of the changed hot
            spots (a full run: of all), replacing theirs.
    """

    mode: str
    assign: Mapping[int, str | None]
    hotspots: pd.DataFrame
    changed: Sequence[str] = ()
    events: pd.DataFrame | None = None
    temperatures: Sequence[HotspotTemperature] = ()
    cross_ids: pd.DataFrame | None = None
    names: Mapping[str, str | None] = field(default_factory=dict)
    last_observation_id: int = 0
    method: str | None = None
    parameters: Mapping[str, Any] | None = None
    run_id: int | None = None
    previous: Mapping[int, str | None] = field(default_factory=dict)
    policy: UsablePolicy | None = None
    temperatures_of: Sequence[int] = ()
    continued: Sequence[str] = ()
    replaced_outbursts: pd.DataFrame | None = None
    states: pd.DataFrame | None = None


def tracking_state(store: Store) -> dict | None:
    """The latest association run (``id``, ``mode``, ``parameters``, ``last_observation_id``), or None."""
    a = sch.association_runs
    with store.engine.connect() as conn:
        row = conn.execute(
            sa.select(a.c.id, a.c.mode, a.c.parameters, a.c.last_observation_id)
            .order_by(a.c.id.desc())
            .limit(1)
        ).first()
    return None if row is None else dict(row._mapping)


def _usable(stmt, policy: UsablePolicy):
    return stmt.where(*_usable_conditions(policy))


def _usable_conditions(policy: UsablePolicy) -> list:
    """The tracking policy as SQL conditions on ``detections`` (none is ever NULL)."""
    d = sch.detections
    return [
        d.c.lat_deg.is_not(None),
        d.c.lon_w_deg.is_not(None),
        d.c.lat_err_deg.is_not(None),
        d.c.lon_err_deg.is_not(None),
        d.c.flags.op("&")(int(policy.excluded_mask)) == 0,
        sa.or_(
            d.c.position_err_km.is_(None),
            d.c.position_err_km <= float(np.sqrt(2.0) * policy.max_position_err_km),
        ),
        sa.or_(d.c.emission_deg.is_(None), d.c.emission_deg <= float(policy.max_emission_deg)),
    ]


def _fetch(conn: sa.Connection, stmt) -> pd.DataFrame:
    """Rows of ``stmt`` as a DataFrame built column by column from the driver's plain tuples (no per-value
    processing: the columns read here are numbers and text). Float columns become float64 (NULL → NaN),
    integer columns int64 (float64 with NaN where some are NULL), text stays Python strings (None kept)."""
    import numpy as np

    result = conn.execute(stmt)
    keys = list(result.keys())
    kinds = [_kind(c) for c in stmt.selected_columns]
    rows = result.cursor.fetchall() if result.cursor is not None else []
    n = len(rows)
    table = np.empty((n, len(keys)), dtype=object)
    if n:
        table[:] = rows
    data = {}
    for j, (key, kind) in enumerate(zip(keys, kinds, strict=True)):
        col = table[:, j]
        if kind in (float, int) and n:
            missing = np.equal(col, None)
            if kind is int and not missing.any():
                data[key] = col.astype(np.int64)
                continue
            out = np.full(n, np.nan)
            out[~missing] = col[~missing].astype(float)
            data[key] = out
        else:
            data[key] = pd.Series(col, dtype=object, copy=False)  # None stays None, no string inference
    return pd.DataFrame(data, columns=keys)


def _kind(column) -> type:
    try:
        return column.type.python_type
    except (AttributeError, NotImplementedError):
        return object


def tracking_detections(store: Store, policy: UsablePolicy, *, new_only: bool = False) -> pd.DataFrame:
    """Usable detections in force, :data:`TRACKING_COLUMNS` plus the observation's ``instrument``, by row id:
    all of them, or with ``new_only`` those never associated."""
    d, o = sch.detections, sch.observations
    stmt = (
        sa.select(*[d.c[name] for name in TRACKING_COLUMNS], o.c.instrument)
        .select_from(d.outerjoin(o, d.c.observation_id == o.c.id))
        .where(o.c.superseded_by_id.is_(None))
    )
    stmt = _usable(stmt, policy)
    if new_only:
        stmt = stmt.where(d.c.hotspot_id.is_(None))
    with store.engine.connect() as conn:
        return _fetch(conn, stmt.order_by(d.c.id))


#: columns of :func:`light_curve_points` (``detection_id`` is the row id)
POINT_COLUMNS = (
    "hotspot_id",
    "band",
    "time_utc",
    "spectral_intensity_gw_um_sr",
    "spectral_intensity_err_gw_um_sr",
    "flags",
)


def light_curve_points(
    store: Store, hotspot_ids: Sequence[str], *, n_hotspots: int | None = None
) -> pd.DataFrame:
    """The light-curve points of the given hot spots (ioscan's detections associated with them: what their
    events are made of): ``detection_id``, :data:`POINT_COLUMNS` and ``source`` ("ioscan"). When they are a
    good part of the ``n_hotspots`` in the catalogue, one pass over the table (faster than an index lookup
    per row)."""
    d = sch.detections
    ids = sorted({str(h) for h in hotspot_ids})
    cols = [d.c.id.label("detection_id"), *[d.c[c] for c in POINT_COLUMNS]]
    base = sa.select(*cols).where(d.c.source == "ioscan")
    with store.engine.connect() as conn:
        if n_hotspots and len(ids) > 0.2 * n_hotspots:
            out = _fetch(conn, base.where(d.c.hotspot_id.is_not(None)))
            out = out[out["hotspot_id"].isin(ids).to_numpy()].reset_index(drop=True)
            return out.assign(source="ioscan")
        parts = [
            _fetch(conn, base.where(d.c.hotspot_id.in_(ids[i : i + _IN_CHUNK])))
            for i in range(0, max(len(ids), 1), _IN_CHUNK)
        ]
    out = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    return out.assign(source="ioscan")


@dataclass(frozen=True)
class ColourPolicy:
    """Which associated detections may enter a colour pair (:func:`ioscan.track.colour.colour_candidates`,
    as numbers): flags within ``allowed_mask``, S/N and emission within limits, intensity and error given."""

    allowed_mask: int
    min_snr: float
    max_emission_deg: float


def _colour_candidates(stmt, policy: ColourPolicy):
    d, o = sch.detections, sch.observations
    return stmt.where(
        d.c.hotspot_id.is_not(None),
        o.c.instrument.is_not(None),
        o.c.superseded_by_id.is_(None),
        d.c.flags.op("&")(~int(policy.allowed_mask)) == 0,
        d.c.snr >= float(policy.min_snr),
        d.c.emission_deg <= float(policy.max_emission_deg),
        d.c.spectral_intensity_gw_um_sr.is_not(None),
        d.c.spectral_intensity_err_gw_um_sr.is_not(None),
    )


def colour_bands(store: Store, policy: ColourPolicy, hotspot_ids: Sequence[str]) -> pd.DataFrame:
    """The (``hotspot_id``, ``instrument``, ``band``) combinations of the colour candidates of the given hot
    spots."""
    d, o = sch.detections, sch.observations
    ids = sorted({str(h) for h in hotspot_ids})
    parts = []
    with store.engine.connect() as conn:
        for i in range(0, max(len(ids), 1), _IN_CHUNK):
            stmt = (
                sa.select(d.c.hotspot_id, o.c.instrument, d.c.band)
                .select_from(d.join(o, d.c.observation_id == o.c.id))
                .where(d.c.hotspot_id.in_(ids[i : i + _IN_CHUNK]))
                .group_by(d.c.hotspot_id, o.c.instrument, d.c.band)
            )
            parts.append(_fetch(conn, _colour_candidates(stmt, policy)))
    return pd.concat(parts, ignore_index=True)


def colour_detections(
    store: Store, policy: ColourPolicy, hotspot_ids: Sequence[str], *, since_utc: str | None = None
) -> pd.DataFrame:
    """The colour candidates of the given hot spots (in force; from ``since_utc`` on, ISO text) with what
    colour temperatures need (:data:`ioscan.track.colour.COLUMNS`, ``detection_id`` = row id; ``extra``
    through :func:`detection_extras`, for the detections that pair)."""
    from ioscan.track.colour import COLUMNS

    d, o = sch.detections, sch.observations
    cols = [
        d.c.id.label("detection_id")
        if c == "detection_id"
        else (o.c.instrument if c == "instrument" else d.c[c])
        for c in COLUMNS
    ]
    ids = sorted({str(h) for h in hotspot_ids})
    parts = []
    with store.engine.connect() as conn:
        for i in range(0, max(len(ids), 1), _IN_CHUNK):
            stmt = (
                sa.select(*cols)
                .select_from(d.join(o, d.c.observation_id == o.c.id))
                .where(d.c.hotspot_id.in_(ids[i : i + _IN_CHUNK]))
            )
            if since_utc is not None:
                stmt = stmt.where(d.c.time_utc >= since_utc)
            parts.append(_fetch(conn, _colour_candidates(stmt, policy)))
    return pd.concat(parts, ignore_index=True)


def detection_extras(store: Store, ids: Sequence[int]) -> dict[int, str | None]:
    """Row id → ``extra`` (JSON text) of the given detections."""
    d = sch.detections
    out: dict[int, str | None] = {}
    wanted = sorted({int(i) for i in ids})
    with store.engine.connect() as conn:
        for i in range(0, len(wanted), _IN_CHUNK):
            stmt = sa.select(d.c.id, sa.cast(d.c.extra, sa.Text)).where(d.c.id.in_(wanted[i : i + _IN_CHUNK]))
            out.update(conn.execute(stmt).all())
    return out


def count_detections(store: Store) -> int:
    """Detections in force (imported ones included): all of them less those of superseded product versions
    (found through the observations, which are few: no join over the detections)."""
    d = sch.detections
    with store.engine.connect() as conn:
        total = int(conn.execute(sa.select(sa.func.count()).select_from(d)).scalar_one())
        out = _superseded_ids(conn)
        for chunk in _chunks(out, _IN_CHUNK):
            stmt = sa.select(sa.func.count()).select_from(d).where(d.c.observation_id.in_(chunk))
            total -= int(conn.execute(stmt).scalar_one())
    return total


def _superseded_ids(conn) -> list[int]:
    o = sch.observations
    stmt = sa.select(o.c.id).where(o.c.superseded_by_id.is_not(None)).order_by(o.c.id)
    return [int(i) for i in conn.execute(stmt).scalars()]


def leaving_detections(store: Store) -> pd.DataFrame:
    """Associated detections of product versions out of force (``id``, ``hotspot_id``, ``time_utc``,
    ``instrument``): they leave their hot spots. Looked up by observation (the index), from the few
    superseded observations."""
    d, o = sch.detections, sch.observations
    cols = (d.c.id, d.c.hotspot_id, d.c.time_utc, o.c.instrument)
    with store.engine.connect() as conn:
        out = _superseded_ids(conn)
        parts = [
            _fetch(
                conn,
                sa.select(*cols)
                .select_from(d.join(o, d.c.observation_id == o.c.id))
                .where(d.c.observation_id.in_(chunk), d.c.hotspot_id.is_not(None)),
            )
            for chunk in _chunks(out, _IN_CHUNK)
        ]
        if not parts:
            parts = [
                _fetch(
                    conn,
                    sa.select(*cols).select_from(d.join(o, d.c.observation_id == o.c.id)).where(sa.false()),
                )
            ]
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    return frame.sort_values("id", kind="stable").reset_index(drop=True)


def changed_observations(store: Store, last_observation_id: int) -> pd.DataFrame:
    """Observations stored after ``last_observation_id`` and in force, and older ones put out of force
    since (``id``, ``time_utc``, ``coverage_grid``, ``in_force``)."""
    o = sch.observations
    stmt = sa.select(
        o.c.id, o.c.time_utc, o.c.coverage_grid, o.c.superseded_by_id.is_(None).label("in_force")
    ).where(
        sa.or_(
            sa.and_(o.c.id > last_observation_id, o.c.superseded_by_id.is_(None)),
            sa.and_(o.c.id <= last_observation_id, o.c.superseded_by_id > last_observation_id),
        )
    )
    return store._read(stmt.order_by(o.c.id))


def frames_of(store: Store, observation_ids: Sequence[int]) -> pd.DataFrame:
    """The band rows of the given observations, superseded or not."""
    f = sch.frames
    ids = sorted({int(i) for i in observation_ids})
    parts = [
        store._read(sa.select(f).where(f.c.observation_id.in_(ids[i : i + _IN_CHUNK])))
        for i in range(0, len(ids), _IN_CHUNK)
    ]
    return pd.concat(parts, ignore_index=True) if parts else store._read(sa.select(f).where(sa.false()))


def write_tracking(store: Store, update: TrackingUpdate) -> int:
    """Store one tracking result in ONE transaction (see :class:`TrackingUpdate`); returns the id of its
    ``association_runs`` record. The hot spots' counts and time spans are counted from their detections once
    these are assigned. Raises CatalogError (nothing written) on unknown hot-spot IDs, detection ids not in
    the catalogue, or bad event / temperature rows."""
    from ioscan.catalog.store import HOTSPOT_KEYS, _json_safe, _now_utc, _records

    full = update.mode == "full"
    what = f"track ({update.mode})"
    hs_rows = _hotspot_rows(update.hotspots, what, HOTSPOT_KEYS, _records)
    new_ids = {r["id"] for r in hs_rows}
    changed = sorted(new_ids if full else {str(h) for h in update.changed})
    events = _event_rows(update.events, what) if update.events is not None and len(update.events) else []
    temps = store._temperature_rows(update.temperatures, what)
    cross = store._cross_id_rows(update.cross_ids) if update.cross_ids is not None else []
    _check_within(events, changed, "event", what)
    continued = set() if full else {str(x) for x in update.continued} & set(changed)
    states = _state_rows(update.states, what)
    _check_within(states, changed, "light-curve state", what)
    _check_within(temps, changed, "temperature", what)
    h = sch.hotspots
    try:
        with store._write() as conn:
            old_ids = set(conn.execute(sa.select(h.c.id)).scalars())
            known = new_ids if full else old_ids | new_ids
            for det_id, hs in update.assign.items():
                if hs is not None and str(hs) not in known:
                    raise CatalogError(f"{what}: detection {det_id} mapped to unknown hot spot {hs!r}")
            ar_id = int(
                conn.execute(
                    sa.insert(sch.association_runs).values(
                        run_id=update.run_id,
                        method=update.method,
                        parameters=_json_safe(dict(update.parameters or {})),
                        created_utc=_now_utc(),
                        n_hotspots=len(known),
                        n_assigned=sum(hs is not None for hs in update.assign.values()),
                        mode=update.mode,
                        last_observation_id=int(update.last_observation_id),
                        n_changed=len(changed),
                    )
                ).inserted_primary_key[0]
            )
            _upsert_hotspots(conn, hs_rows, old_ids, ar_id, update.names)
            lost, gained = _assign(conn, store, update, full, what)
            if full:
                for chunk in _chunks(sorted(old_ids - new_ids), _IN_CHUNK):
                    conn.execute(sa.delete(h).where(h.c.id.in_(chunk)))
                count_members(conn, None)
            else:  # hot spots that lost members are counted again; the others add what they gained
                count_members(conn, sorted(lost))
                add_members(conn, {k: v for k, v in gained.items() if k not in lost})
            # events of the changed hot spots, temperatures of the detections given; cross-IDs as a whole
            t = sch.hotspot_temperatures
            lcs = sch.light_curve_states
            if full:
                conn.execute(sa.delete(sch.events))
                conn.execute(sa.delete(t))
                conn.execute(sa.delete(lcs))
            else:
                events = _replace_events(conn, events, changed, continued, update.replaced_outbursts)
                for chunk in _chunks(changed, _IN_CHUNK):
                    conn.execute(sa.delete(lcs).where(lcs.c.hotspot_id.in_(chunk)))
                for chunk in _chunks(sorted({int(i) for i in update.temperatures_of}), _IN_CHUNK):
                    conn.execute(
                        sa.delete(t).where(
                            sa.or_(t.c.detection_short.in_(chunk), t.c.detection_long.in_(chunk))
                        )
                    )
            if events:
                conn.execute(sa.insert(sch.events), events)
            if states:
                conn.execute(sa.insert(lcs), states)
            if temps:
                conn.execute(sa.insert(sch.hotspot_temperatures), temps)
            conn.execute(sa.delete(sch.cross_ids))
            if cross:
                conn.execute(sa.insert(sch.cross_ids), cross)
    except sa.exc.IntegrityError as exc:
        from ioscan.catalog.store import _first_line

        raise CatalogError(f"{what}: {_first_line(exc)} (unknown hot-spot or detection?)") from None
    return ar_id


def _replace_events(
    conn, rows: list[dict], changed: Sequence[str], continued: set, replaced: pd.DataFrame | None
) -> list[dict]:
    """Remove the stored events an incremental run replaces and return the rows still to insert.

    The changed hot spots' events are all replaced, except the stored outburst events of ``continued``
    ones that the new points do not extend (``replaced``). Of the events replaced, those stored exactly
    as given (same light curve, kind, time, value and criterion) stay as they are (same row id): only the
    others are deleted, and only new rows inserted.
    """
    from collections import defaultdict

    from ioscan.catalog.times import utc_iso

    ev = sch.events
    for chunk in _chunks([x for x in changed if x not in continued], _IN_CHUNK):
        conn.execute(sa.delete(ev).where(ev.c.hotspot_id.in_(chunk)))
    extended = set()
    if replaced is not None and len(replaced):
        extended = {
            (str(h), str(b), utc_iso(pd.Timestamp(tm)))
            for h, b, tm in zip(replaced["hotspot_id"], replaced["band"], replaced["time_utc"], strict=True)
        }
    stored: dict[tuple, list[int]] = defaultdict(list)
    cols = (ev.c.id, ev.c.hotspot_id, ev.c.band, ev.c.kind, ev.c.time_utc, ev.c.value, ev.c.criterion)
    for chunk in _chunks(sorted(continued), _IN_CHUNK):
        for eid, hs, band, kind, tm, value, crit in conn.execute(
            sa.select(*cols).where(ev.c.hotspot_id.in_(chunk))
        ).all():
            if kind == "outburst" and (hs, band, tm) not in extended:
                continue  # an earlier outburst: it stays
            stored[(hs, band, kind, tm, _finite(value), crit)].append(int(eid))
    fresh = []
    for r in rows:
        key = (r["hotspot_id"], r["band"], r["kind"], r["time_utc"], _finite(r["value"]), r["criterion"])
        if r["hotspot_id"] in continued and stored.get(key):
            stored[key].pop()  # stored as it is: kept
        else:
            fresh.append(r)
    stale = sorted(i for ids in stored.values() for i in ids)
    for chunk in _chunks(stale, _IN_CHUNK):
        conn.execute(sa.delete(ev).where(ev.c.id.in_(chunk)))
    return fresh


def _finite(value) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def _iso_times(values, what: str) -> list[str | None]:
    """Times (ISO text, datetime64, Timestamps) as the catalogue's text (``utc_iso``'s form, all at once);
    None where missing."""
    from ioscan.track._common import to_utc

    t = to_utc(pd.Series(values), what).to_numpy().astype("datetime64[us]")
    text = np.char.add(np.datetime_as_string(t, unit="us"), "Z")
    return [None if np.isnat(a) else str(b) for a, b in zip(t, text, strict=True)]


def _event_rows(events: pd.DataFrame, what: str) -> list[dict[str, Any]]:
    """Event rows (:meth:`Store.write_events` columns) for the ``events`` table, checked: hot spot, kind (one
    of ``EVENT_KINDS``) and time given; NaN values as NULL."""
    need = ["hotspot_id", "kind", "time_utc"]
    missing = [c for c in need if c not in events.columns]
    if missing:
        raise CatalogError(f"{what}: missing columns {missing}")
    n = len(events)
    cols = {}
    for c in ("hotspot_id", "band", "kind", "criterion"):
        v = events[c].to_numpy(dtype=object) if c in events.columns else np.full(n, None, dtype=object)
        cols[c] = [None if x is None or (isinstance(x, float) and not np.isfinite(x)) else str(x) for x in v]
    value = pd.to_numeric(events["value"], errors="coerce").to_numpy(float) if "value" in events else None
    cols["value"] = [None] * n if value is None else [float(x) if np.isfinite(x) else None for x in value]
    cols["time_utc"] = _iso_times(events["time_utc"], what)
    for c in need:
        bad = [i for i, x in enumerate(cols[c]) if x is None]
        if bad:
            raise CatalogError(f"{what}: row {bad[0]} has no {c}")
    wrong = sorted({k for k in cols["kind"] if k not in sch.EVENT_KINDS})
    if wrong:
        raise CatalogError(f"{what}: kind {wrong[0]!r} not one of {sch.EVENT_KINDS}")
    names = list(cols)
    return [dict(zip(names, row, strict=True)) for row in zip(*cols.values(), strict=True)]


#: the light-curve state columns holding times (datetime64 in memory, ISO text in the catalogue)
_STATE_TIMES = ("first_time_utc", "last_time_utc", "run_start_utc")


def _state_rows(states: pd.DataFrame | None, what: str) -> list[dict[str, Any]]:
    """Light-curve states as rows of ``light_curve_states`` (times as ISO text, NaN and NaT as NULL)."""
    from ioscan.track.event_state import STATE_COLUMNS

    if states is None or not len(states):
        return []
    missing = [c for c in STATE_COLUMNS if c not in states.columns]
    if missing:
        raise CatalogError(f"{what}: light-curve states lack columns {missing}")
    cols = {}
    for c in STATE_COLUMNS:
        v = states[c].to_numpy()
        if c in _STATE_TIMES:
            cols[c] = _iso_times(v, what)
        elif v.dtype.kind == "f":
            cols[c] = [float(x) if np.isfinite(x) else None for x in v]
        elif v.dtype.kind in "iu":
            cols[c] = [int(x) for x in v]
        elif v.dtype.kind == "b":
            cols[c] = [bool(x) for x in v]
        else:
            cols[c] = [None if x is None else str(x) for x in v]
    return [dict(zip(STATE_COLUMNS, row, strict=True)) for row in zip(*cols.values(), strict=True)]


def light_curve_states(store: Store, hotspot_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """The stored light-curve states (:data:`ioscan.track.event_state.STATE_COLUMNS`; times datetime64,
    NULL values NaN) of the given hot spots (all with None)."""
    from ioscan.track._common import to_utc
    from ioscan.track.event_state import STATE_COLUMNS

    s = sch.light_curve_states
    base = sa.select(*[s.c[c] for c in STATE_COLUMNS])
    with store.engine.connect() as conn:
        if hotspot_ids is None:
            out = _fetch(conn, base)
        else:
            ids = sorted({str(h) for h in hotspot_ids})
            parts = [
                _fetch(conn, base.where(s.c.hotspot_id.in_(ids[i : i + _IN_CHUNK])))
                for i in range(0, max(len(ids), 1), _IN_CHUNK)
            ]
            out = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    for c in _STATE_TIMES:
        t = out[c]
        known = t.notna().to_numpy()
        col = np.full(len(out), np.datetime64("NaT"), dtype="datetime64[ns]")
        if known.any():
            col[known] = to_utc(t[known], "light_curve_states").to_numpy().astype("datetime64[ns]")
        out[c] = col
    for c in ("has_outburst", "last_outburst"):
        out[c] = out[c].astype(bool)
    return out.sort_values(["hotspot_id", "band"], kind="stable").reset_index(drop=True)


def has_light_curve_states(store: Store) -> bool:
    """Whether the catalogue keeps light-curve states for what it tracked: it has some, or no light-curve
    point (ioscan detection with an intensity) is associated yet (a catalogue tracked before they were kept
    has none: re-track it whole)."""
    d, s = sch.detections, sch.light_curve_states
    with store.engine.connect() as conn:
        if conn.execute(sa.select(s.c.hotspot_id).limit(1)).first() is not None:
            return True
        stmt = sa.select(d.c.id).where(
            d.c.hotspot_id.is_not(None),
            d.c.source == "ioscan",
            d.c.spectral_intensity_gw_um_sr.is_not(None),  # a light-curve point
        )
        stmt = stmt.limit(1)
        return conn.execute(stmt).first() is None


def coverage_rows(store: Store) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The observations in force (``id``, ``time_utc``, ``coverage_grid``) and their bands
    (``observation_id``, ``band``, ``detection_limit_gw_um_sr``): what
    :class:`ioscan.track.event_batch.Coverage` reads."""
    o, f = sch.observations, sch.frames
    with store.engine.connect() as conn:
        obs = _fetch(
            conn,
            sa.select(o.c.id, o.c.time_utc, o.c.coverage_grid)
            .where(o.c.superseded_by_id.is_(None))
            .order_by(o.c.time_utc, o.c.id),
        )
        frames = _fetch(
            conn,
            sa.select(f.c.observation_id, f.c.band, f.c.detection_limit_gw_um_sr)
            .select_from(f.join(o, f.c.observation_id == o.c.id))
            .where(o.c.superseded_by_id.is_(None))
            .order_by(f.c.observation_id, f.c.band),
        )
    return obs, frames


def _chunks(items: Sequence, size: int):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _upsert_hotspots(conn, hs_rows: list[dict], old_ids: set, ar_id: int, names: Mapping) -> None:
    h = sch.hotspots
    fresh = [dict(r, association_run_id=ar_id) for r in hs_rows if r["id"] not in old_ids]
    kept = [dict(r, association_run_id=ar_id, hid=r["id"]) for r in hs_rows if r["id"] in old_ids]
    if fresh:
        conn.execute(sa.insert(h), fresh)
    if kept:
        values = {k: sa.bindparam(k) for k in kept[0] if k not in ("id", "hid")}
        conn.execute(sa.update(h).where(h.c.id == sa.bindparam("hid")).values(**values), kept)
    given = {r["id"] for r in hs_rows}
    renamed = [{"hid": str(k), "nm": v} for k, v in names.items() if str(k) not in given]
    if renamed:
        conn.execute(
            sa.update(h).where(h.c.id == sa.bindparam("hid")).values(name=sa.bindparam("nm")), renamed
        )


def _assign(conn, store: Store, update: TrackingUpdate, full: bool, what: str) -> tuple[set, dict]:
    """Set the hot spot of the detections whose hot spot changes (a full run also clears every detection it
    did not use: out of force, or no longer usable under its settings). Returns the hot spots that lost a
    detection and, per hot spot, the detections it gained."""
    d, o = sch.detections, sch.observations
    wanted = {int(i): (None if hs is None else str(hs)) for i, hs in update.assign.items()}
    if full:
        current = {int(i): (None if hs is None else str(hs)) for i, hs in update.previous.items()}
        unused = d.c.observation_id.in_(sa.select(o.c.id).where(o.c.superseded_by_id.is_not(None)))
        if update.policy is not None:
            unused = sa.or_(unused, sa.not_(sa.and_(*_usable_conditions(update.policy))))
        conn.execute(sa.update(d).where(d.c.hotspot_id.is_not(None), unused).values(hotspot_id=None))
    else:
        current = {}
        ids = sorted(wanted)
        for chunk in _chunks(ids, _IN_CHUNK):
            current.update(conn.execute(sa.select(d.c.id, d.c.hotspot_id).where(d.c.id.in_(chunk))).all())
        missing = [i for i in ids if i not in current]
        if missing:
            raise CatalogError(
                f"{what}: {len(missing)} detection ids are not in the catalogue {store.url} "
                f"(e.g. {missing[:5]})"
            )
    changes = [{"det": i, "hs": hs} for i, hs in wanted.items() if current.get(i) != hs]
    _set_hotspots(conn, changes)
    lost = {current[c["det"]] for c in changes if current.get(c["det"]) is not None}
    gained: dict[str, list[int]] = {}
    for c in changes:
        if c["hs"] is not None:
            gained.setdefault(c["hs"], []).append(c["det"])
    return lost, gained


def add_members(conn, gained: Mapping[str, Sequence[int]]) -> None:
    """Add the detections each hot spot gained to its count and time span (``count_members`` for hot spots
    that only gained: the same numbers, without counting their earlier members again)."""
    d, h = sch.detections, sch.hotspots
    ids = sorted(i for det_ids in gained.values() for i in det_ids)
    acc: dict[str, list] = {}
    for chunk in _chunks(ids, _IN_CHUNK):
        stmt = (
            sa.select(d.c.hotspot_id, sa.func.count(), sa.func.min(d.c.time_utc), sa.func.max(d.c.time_utc))
            .where(d.c.id.in_(chunk))
            .group_by(d.c.hotspot_id)
        )
        for hs, n, first, last in conn.execute(stmt).all():
            a = acc.setdefault(hs, [0, first, last])
            a[0], a[1], a[2] = a[0] + n, min(a[1], first), max(a[2], last)
    if not acc:
        return
    first, last = sa.bindparam("first"), sa.bindparam("last")
    conn.execute(
        sa.update(h)
        .where(h.c.id == sa.bindparam("hid"))
        .values(
            n_detections=h.c.n_detections + sa.bindparam("n"),
            first_time_utc=sa.case(
                (sa.or_(h.c.first_time_utc.is_(None), h.c.first_time_utc > first), first),
                else_=h.c.first_time_utc,
            ),
            last_time_utc=sa.case(
                (sa.or_(h.c.last_time_utc.is_(None), h.c.last_time_utc < last), last),
                else_=h.c.last_time_utc,
            ),
        ),
        [{"hid": hs, "n": n, "first": f, "last": la} for hs, (n, f, la) in sorted(acc.items())],
    )


#: more changes than this go through a temporary table and one UPDATE ... FROM
_BULK = 2000


def _set_hotspots(conn, changes: list[dict]) -> None:
    """Set ``hotspot_id`` of the detections ``changes`` (``{"det": id, "hs": hot spot or None}``): a few by
    statements grouped by target; many through a temporary table joined in one ``UPDATE ... FROM`` (SQLite
    ≥ 3.33 and PostgreSQL), which rewrites each row once."""
    d = sch.detections
    if len(changes) <= _BULK:
        by_target: dict[str | None, list[int]] = {}
        for c in changes:
            by_target.setdefault(c["hs"], []).append(c["det"])
        for target, det_ids in by_target.items():
            for chunk in _chunks(sorted(det_ids), 5000):
                conn.execute(sa.update(d).where(d.c.id.in_(chunk)).values(hotspot_id=target))
        return
    tmp = sa.Table(
        "ioscan_track_assign",
        sa.MetaData(),
        sa.Column("det", sa.Integer, primary_key=True),
        sa.Column("hs", sa.String(16)),
        prefixes=["TEMPORARY"],
    )
    tmp.create(conn)  # inside the write transaction: a failure rolls it back with the rest
    for chunk in _chunks(changes, 100_000):
        conn.execute(sa.insert(tmp), list(chunk))
    conn.execute(sa.update(d).values(hotspot_id=tmp.c.hs).where(d.c.id == tmp.c.det))
    tmp.drop(conn)


def count_members(conn, hotspot_ids: Sequence[str] | None) -> None:
    """Number of detections, first and last time of the given hot spots (all with None), from the
    detections assigned to them."""
    d, h = sch.detections, sch.hotspots
    stat = sa.select(
        d.c.hotspot_id,
        sa.func.count().label("n"),
        sa.func.min(d.c.time_utc).label("first"),
        sa.func.max(d.c.time_utc).label("last"),
    ).group_by(d.c.hotspot_id)
    if hotspot_ids is None:
        conn.execute(sa.update(h).values(n_detections=0, first_time_utc=None, last_time_utc=None))
        rows = conn.execute(stat.where(d.c.hotspot_id.is_not(None))).all()
    else:
        rows = []
        for chunk in _chunks(list(hotspot_ids), _IN_CHUNK):
            conn.execute(
                sa.update(h)
                .where(h.c.id.in_(chunk))
                .values(n_detections=0, first_time_utc=None, last_time_utc=None)
            )
            rows += conn.execute(stat.where(d.c.hotspot_id.in_(chunk))).all()
    if rows:
        conn.execute(
            sa.update(h)
            .where(h.c.id == sa.bindparam("hid"))
            .values(
                n_detections=sa.bindparam("n"),
                first_time_utc=sa.bindparam("first"),
                last_time_utc=sa.bindparam("last"),
            ),
            [{"hid": r.hotspot_id, "n": r.n, "first": r.first, "last": r.last} for r in rows],
        )


def _hotspot_rows(table: pd.DataFrame, what: str, keys, records) -> list[dict[str, Any]]:
    if table is None or table.empty:
        return []
    for col in ("hotspot_id", "lat_deg", "lon_w_deg"):
        if col not in table.columns:
            raise CatalogError(f"{what}: hot-spot table has no {col!r} column")
    ids = [str(i) for i in table["hotspot_id"]]
    if len(set(ids)) != len(ids):
        raise CatalogError(f"{what}: a hot-spot ID appears twice")
    rows = []
    for rec in records(table):
        row = {k: rec.get(k) for k in keys}
        row["id"] = str(rec["hotspot_id"])
        if row["lat_deg"] is None or row["lon_w_deg"] is None:
            raise CatalogError(f"{what}: hot spot {row['id']} has no position")
        rows.append(row)
    return rows


def _check_within(rows: list[dict], changed: Sequence[str], kind: str, what: str) -> None:
    allowed = set(changed)
    outside = sorted({r["hotspot_id"] for r in rows} - allowed)
    if outside:
        raise CatalogError(f"{what}: {kind} rows for hot spots that did not change: {outside[:5]}")
