"""``ioscan track``: detections in the catalogue → hot spots, cross-IDs, light curves and events.

Reads detections from the store, associates them (``track.associate``, IDs stable across runs),
cross-identifies hot spots with the reference catalogues shipped in ``ioscan/data/reference``, and flags
events per hot spot and band from their light curves, using each observation's coverage grid and
detection limit to tell "new" and "fading" from "not looked at".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ioscan.detect.types import DetectionFlag

#: detections that never make a hot spot
EXCLUDED_FLAGS = int(DetectionFlag.COSMIC_RAY | DetectionFlag.OFF_DISK | DetectionFlag.ARTEFACT)
#: detections less precise than this (1σ, km) are kept but not associated: e.g. JIRAM frames that could not be
#: re-registered, whose pointing may be off by up to ~2°, would otherwise glue unrelated hot spots together
MAX_POSITION_ERR_KM = 300.0
#: detections seen more obliquely than this are kept but not associated: within ~10° of the limb a 0.5-px
#: centroid error moves a position by several degrees and the foreshortening correction exceeds ×5.7
MAX_EMISSION_DEG = 80.0
#: per-catalogue 1σ position error assumed for published positions, degrees
REFERENCE_ERR_DEG = {"davies2024_jiram": 1.0, "davies2024_psj": 1.5, "mura2024": 1.5, "usgs_sim3168": 2.0}
#: catalogues in order of preference for a hot spot's name
NAME_PREFERENCE = ("davies2024_psj", "davies2024_jiram", "usgs_sim3168", "mura2024")


@dataclass
class TrackSummary:
    """Counts of one tracking run."""

    n_detections_used: int = 0
    n_hotspots: int = 0
    n_new_hotspots: int = 0
    n_cross_ids: int = 0
    events: dict = field(default_factory=dict)


def _usable(det: pd.DataFrame) -> pd.DataFrame:
    ok = (
        np.isfinite(det["lat_deg"].astype(float))
        & np.isfinite(det["lon_w_deg"].astype(float))
        & np.isfinite(det["lat_err_deg"].astype(float))
        & np.isfinite(det["lon_err_deg"].astype(float))
        & ((det["flags"].fillna(0).astype(int) & EXCLUDED_FLAGS) == 0)
        & ~(det["position_err_km"].astype(float) > MAX_POSITION_ERR_KM)
        & ~(det["emission_deg"].astype(float) > MAX_EMISSION_DEG)
    )
    out = (
        det[ok]
        .rename(columns={"detection_id": "imported_detection_id"})
        .rename(columns={"id": "detection_id"})
    )
    out["value"] = out["spectral_intensity_gw_um_sr"]
    return out


def _label(catalog: str, ref_id) -> str:
    """A self-describing reference ID: JRM IDs as they are, PSJ Table 10 ranks as "PSJ#308"."""
    return f"PSJ#{ref_id}" if catalog == "davies2024_psj" else str(ref_id)


def _names(cross: pd.DataFrame) -> dict[str, str]:
    """Best name per hot spot: a published name from the preferred catalogue that has one, else the preferred
    catalogue's reference ID."""
    names: dict[str, str] = {}
    if cross.empty:
        return names
    ranked = cross.assign(rank=cross["catalog"].map({c: i for i, c in enumerate(NAME_PREFERENCE)}).fillna(99))
    for hs, grp in ranked.sort_values("rank").groupby("hotspot_id", sort=False):
        named = [n for n in grp["name"] if isinstance(n, str) and n.strip()]
        first = grp.iloc[0]
        names[hs] = named[0] if named else _label(first["catalog"], first["ref_id"])
    return names


def cross_identify_all(hotspots: pd.DataFrame) -> pd.DataFrame:
    """Cross-IDs of ``hotspots`` against every shipped reference catalogue."""
    from ioscan.catalog.reference import reference_catalogs
    from ioscan.track.crossid import cross_identify

    frames = []
    for name, ref in reference_catalogs().items():
        if ref.empty or hotspots.empty:
            continue
        frames.append(cross_identify(hotspots, ref, ref_err_deg=REFERENCE_ERR_DEG.get(name, 2.0)))
    return (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(
            columns=["hotspot_id", "catalog", "ref_id", "name", "separation_km", "separation_sigma"]
        )
    )


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


def events_for(
    det: pd.DataFrame, hotspots: pd.DataFrame, observations: pd.DataFrame, frames: pd.DataFrame
) -> pd.DataFrame:
    """Events of every hot spot and band (outburst, new, fading, quiescent)."""
    from ioscan.track.events import find_events
    from ioscan.track.lightcurve import lightcurve

    rows = []
    pos = hotspots.set_index("hotspot_id")
    ioscan_det = det[det["source"] == "ioscan"] if "source" in det else det
    for (hs, band), _ in ioscan_det.groupby(["hotspot_id", "band"]):
        lc = lightcurve(ioscan_det, hs, band)
        lc = lc[np.isfinite(lc["value"].astype(float))]
        if lc.empty:
            continue
        cov = _coverage_table(
            observations, frames, band, float(pos.at[hs, "lat_deg"]), float(pos.at[hs, "lon_w_deg"])
        )
        for ev in find_events(lc, coverage=cov):
            if ev.kind not in ("outburst", "new", "fading", "quiescent"):
                continue
            rows.append(
                {
                    "hotspot_id": hs,
                    "band": band,
                    "kind": ev.kind,
                    "time_utc": ev.time_utc,
                    "value": ev.value,
                    "criterion": ev.criterion,
                }
            )
    return pd.DataFrame(rows, columns=["hotspot_id", "band", "kind", "time_utc", "value", "criterion"])


def track_catalog(store, *, n_sigma: float = 3.0) -> TrackSummary:
    """Associate every usable detection in ``store`` into hot spots and write hot spots, cross-IDs, events."""
    from ioscan.track.associate import associate

    summary = TrackSummary()
    det = _usable(store.detections_frame())
    summary.n_detections_used = len(det)
    if det.empty:
        return summary
    existing = store.hotspots_frame()
    result = associate(det, existing if not existing.empty else None, n_sigma=n_sigma)
    det = det.assign(hotspot_id=result.hotspot_id.values)
    hotspots = result.hotspots.copy()
    cross = cross_identify_all(hotspots)
    hotspots["name"] = hotspots["hotspot_id"].map(_names(cross))
    store.assign_hotspots(
        dict(zip(det["detection_id"].astype(int), det["hotspot_id"], strict=True)),
        hotspots,
        method="ioscan.track.associate",
        parameters={"n_sigma": n_sigma},
    )
    if not cross.empty:
        store.write_cross_ids(cross[["hotspot_id", "catalog", "ref_id", "separation_km", "separation_sigma"]])
    events = events_for(det, hotspots, store.observations_frame(), store.frames_frame())
    store.write_events(events)
    summary.n_hotspots = len(hotspots)
    summary.n_new_hotspots = len(set(hotspots["hotspot_id"]) - set(existing.get("hotspot_id", [])))
    summary.n_cross_ids = int(cross["hotspot_id"].nunique()) if not cross.empty else 0
    summary.events = events["kind"].value_counts().to_dict() if not events.empty else {}
    return summary
