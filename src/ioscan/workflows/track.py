"""``ioscan track``: detections in the catalogue → hot spots, cross-IDs, light curves, events and colour
temperatures.

Reads detections from the store, associates them (``track.associate``, IDs stable across runs),
cross-identifies hot spots with the reference catalogues shipped in ``ioscan/data/reference``, flags
events per hot spot and band from their light curves, using each observation's coverage grid and
detection limit to tell "new" and "fading" from "not looked at", and derives each hot spot's colour
temperatures, areas and total powers from its detections in two bands close in time (``track.colour``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ioscan.track.colour import hotspot_temperatures
from ioscan.track.config import TrackConfig, usable_detections
from ioscan.track.crossid import cross_identify_all, hotspot_names
from ioscan.track.events import events_for


@dataclass
class TrackSummary:
    """Counts of one tracking run."""

    n_detections_used: int = 0
    n_detections_stored: int = 0  # in force (superseded product versions left out)
    n_hotspots: int = 0
    n_new_hotspots: int = 0
    n_cross_ids: int = 0
    events: dict = field(default_factory=dict)
    n_temperatures: int = 0
    n_temperatures_flagged: int = 0


def track_catalog(store, config: TrackConfig | None = None) -> TrackSummary:
    """Associate every usable detection in ``store`` into hot spots and write hot spots, cross-IDs, events
    (recorded as a ``track`` run with its settings)."""
    cfg = config or TrackConfig()
    run_id = store.start_run("track", {}, settings={"track": _settings_dict(cfg)})
    try:
        summary = _track(store, cfg, run_id)
    except BaseException:
        store.finish_run(run_id, "failed")
        raise
    store.finish_run(run_id, "ok")
    return summary


def _settings_dict(cfg: TrackConfig) -> dict:
    from ioscan.settings import Settings

    return Settings(track=cfg).to_dict()["track"]


def _track(store, cfg: TrackConfig, run_id: int) -> TrackSummary:
    from ioscan.track.associate import associate

    summary = TrackSummary()
    stored = store.detections_frame()
    summary.n_detections_stored = len(stored)
    det = usable_detections(stored, cfg)
    summary.n_detections_used = len(det)
    if det.empty:
        return summary
    existing = store.hotspots_frame()
    result = associate(
        det,
        existing if not existing.empty else None,
        n_sigma=cfg.n_sigma,
        min_sep_km=cfg.min_sep_km,
        error_model=cfg.error_model,
        night_offsets=cfg.night_offsets,
        mixture=cfg.mixture,
    )
    det = det.assign(hotspot_id=result.hotspot_id.values)
    hotspots = result.hotspots.copy()
    cross = cross_identify_all(hotspots, cfg)
    hotspots["name"] = hotspots["hotspot_id"].map(hotspot_names(cross, cfg.name_preference))
    store.assign_hotspots(
        dict(zip(det["detection_id"].astype(int), det["hotspot_id"], strict=True)),
        hotspots,
        method="ioscan.track.associate",
        parameters=_settings_dict(cfg),
        run_id=run_id,
    )
    if not cross.empty:
        store.write_cross_ids(cross[["hotspot_id", "catalog", "ref_id", "separation_km", "separation_sigma"]])
    observations = store.observations_frame()
    events = events_for(det, hotspots, observations, store.frames_frame())
    store.write_events(events)
    temps = hotspot_temperatures(_with_instrument(det, observations), cfg)
    store.write_hotspot_temperatures(temps)
    summary.n_temperatures = len(temps)
    summary.n_temperatures_flagged = sum(not t.usable for t in temps)
    summary.n_hotspots = len(hotspots)
    summary.n_new_hotspots = len(set(hotspots["hotspot_id"]) - set(existing.get("hotspot_id", [])))
    summary.n_cross_ids = int(cross["hotspot_id"].nunique()) if not cross.empty else 0
    summary.events = events["kind"].value_counts().to_dict() if not events.empty else {}
    return summary


def _with_instrument(det, observations):
    """Detections with their observation's instrument (None for imported ones)."""
    inst = observations.set_index("id")["instrument"] if not observations.empty else {}
    return det.assign(instrument=det["observation_id"].map(inst))
