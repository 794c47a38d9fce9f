"""Score a scanned and tracked simulated campaign against the simulator's truth table.

Detections are matched to true hot spots frame by frame and band by band (within ``match_px`` pixels,
one-to-one; twice that for AO frames); those flagged COSMIC_RAY or ARTEFACT (never hot spots) are left out,
neither found nor false. Completeness is scored on true sources without a brighter true
neighbour within twice the matching radius (blends no finder can split are counted apart); tracking is
scored with the adjusted Rand index over detections matched to such unblended sources; hot spots are
matched to true ones by majority vote; cross-IDs are right when the hot spot's cross-identification names the
published source the simulated hot spot was seeded from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

SNR_BINS = ((3.0, 5.0), (5.0, 7.0), (7.0, 10.0), (10.0, np.inf))


@dataclass
class Evaluation:
    """Scores of a campaign against its truth (see module docstring)."""

    n_frames: int = 0
    n_confused: int = 0
    completeness_by_snr: dict = field(default_factory=dict)
    false_detections_per_frame: float = 0.0
    median_position_err_px: float = float("nan")
    median_flux_err_pct: float = float("nan")
    adjusted_rand_index: float = float("nan")
    n_true_with_3: int = 0
    n_true_with_3_recovered: int = 0
    n_crossid_checked: int = 0
    n_crossid_right: int = 0
    matched: pd.DataFrame | None = None


def _match_px(product_id: str, default: float) -> float:
    """Matching radius: ``default`` for JIRAM; 2× for AO frames, whose PSF core is ~3 px (σ)."""
    return default * 2.0 if not str(product_id).startswith("JIR_") else default


def mark_confused(truth: pd.DataFrame, confusion_px: float) -> pd.Series:
    """True for truth rows with a higher-SNR true source of the same frame and band within ``confusion_px``
    (a blend no finder can split; completeness is scored on unconfused sources)."""
    from scipy.spatial import cKDTree

    confused = pd.Series(False, index=truth.index)
    for (pid, _band), grp in truth.groupby(["product_id", "band"]):
        if len(grp) < 2:
            continue
        radius = _match_px(pid, confusion_px)
        xy = grp[["sample", "line"]].to_numpy(float)
        snr = grp["snr"].to_numpy(float)
        for i, j in cKDTree(xy).query_pairs(radius):
            weaker = i if snr[i] < snr[j] else j
            confused.loc[grp.index[weaker]] = True
    return confused


def match_detections(detections: pd.DataFrame, truth: pd.DataFrame, match_px: float = 2.0) -> pd.DataFrame:
    """Truth rows with the matched detection's id, position and flux (NaN where none matched)."""
    from scipy.optimize import linear_sum_assignment

    det = detections.copy()
    out = truth.copy()
    out["confused"] = mark_confused(truth, 2.0 * match_px)
    out["detection_row_id"] = np.nan
    out["det_sample"] = np.nan
    out["det_line"] = np.nan
    out["det_intensity_gw_um_sr"] = np.nan
    out["hotspot_id"] = None
    for (pid, band), tr in out.groupby(["product_id", "band"]):
        dd = det[(det["product_id"] == pid) & (det["band"] == band)]
        if dd.empty:
            continue
        d2 = (tr["sample"].to_numpy()[:, None] - dd["sample"].to_numpy()[None, :]) ** 2 + (
            tr["line"].to_numpy()[:, None] - dd["line"].to_numpy()[None, :]
        ) ** 2
        cost = np.where(d2 <= _match_px(pid, match_px) ** 2, d2, 1e9)
        rows, cols = linear_sum_assignment(cost)
        for r, c in zip(rows, cols, strict=True):
            if cost[r, c] >= 1e9:
                continue
            idx = tr.index[r]
            hit = dd.iloc[c]
            out.loc[idx, ["detection_row_id", "det_sample", "det_line", "det_intensity_gw_um_sr"]] = [
                hit["id"],
                hit["sample"],
                hit["line"],
                hit.get("spectral_intensity_gw_um_sr", np.nan),
            ]
            out.loc[idx, "hotspot_id"] = hit.get("hotspot_id")
    return out


def _n_without_true_source(detections: pd.DataFrame, truth: pd.DataFrame, match_px: float) -> int:
    """Detections with no true source (blended or not, SNR ≥ 1) within the matching radius: false ones."""
    from scipy.spatial import cKDTree

    n = 0
    real_truth = truth[truth["snr"] >= 1.0]
    for (pid, band), dd in detections.groupby(["product_id", "band"]):
        tt = real_truth[(real_truth["product_id"] == pid) & (real_truth["band"] == band)]
        if tt.empty:
            n += len(dd)
            continue
        dist, _ = cKDTree(tt[["sample", "line"]].to_numpy(float)).query(
            dd[["sample", "line"]].to_numpy(float)
        )
        n += int(np.sum(dist > _match_px(pid, match_px)))
    return n


def _crossid_right(truth_id: str, refs: pd.DataFrame) -> bool:
    ids = set()
    for row in refs.itertuples():
        if row.catalog == "davies2024_jiram":
            ids.add(str(row.ref_id))
        elif row.catalog == "davies2024_psj":
            ids.add(f"PSJ{int(row.ref_id):03d}")
    return truth_id in ids


def evaluate(store, truth: pd.DataFrame, match_px: float = 2.0) -> Evaluation:
    """Score the catalogue in ``store`` against a simulator truth table (``truth.csv``)."""
    from ioscan.records import DetectionFlag
    from ioscan.track.synthetic import adjusted_rand_index

    det = store.detections_frame(source="ioscan")
    # detections flagged COSMIC_RAY or ARTEFACT are kept in the database but never become hot spots: they are
    # neither found nor false (a true hot spot flagged ARTEFACT counts as missed)
    artefact = int(DetectionFlag.COSMIC_RAY | DetectionFlag.ARTEFACT)
    if not det.empty:
        det = det[(det["flags"].fillna(0).astype(int) & artefact) == 0]
    ev = Evaluation()
    jiram_truth = truth[truth["product_id"].isin(det["product_id"].unique())] if not det.empty else truth
    ev.n_frames = int(store.observations_frame()["product_id"].nunique())
    m = match_detections(det, jiram_truth, match_px)
    ev.matched = m
    found = m["detection_row_id"].notna()
    ev.n_confused = int(m["confused"].sum())
    for lo, hi in SNR_BINS:
        sel = (m["snr"] >= lo) & (m["snr"] < hi) & ~m["confused"]
        ev.completeness_by_snr[f"{lo:g}-{hi:g}"] = (
            round(float(found[sel].mean()), 3) if sel.any() else None,
            int(sel.sum()),
        )
    unmatched = det[~det["id"].isin(m.loc[found, "detection_row_id"].astype(int))]
    ev.false_detections_per_frame = _n_without_true_source(unmatched, jiram_truth, match_px) / max(
        ev.n_frames, 1
    )
    if found.any():
        dpos = np.hypot(
            m.loc[found, "det_sample"] - m.loc[found, "sample"],
            m.loc[found, "det_line"] - m.loc[found, "line"],
        )
        ev.median_position_err_px = float(np.median(dpos))
        ref = m.loc[found, "spectral_intensity_corrected_gw_um_sr"].astype(float)
        got = m.loc[found, "det_intensity_gw_um_sr"].astype(float)
        ok = np.isfinite(ref) & np.isfinite(got) & (ref > 0)
        if ok.any():
            ev.median_flux_err_pct = float(np.median(np.abs(got[ok] / ref[ok] - 1.0)) * 100)
    # tracking is scored on detections of unblended true sources (a blend has no single true identity)
    tracked = m[found & m["hotspot_id"].notna() & ~m["confused"]]
    if len(tracked) > 1:
        ev.adjusted_rand_index = float(
            adjusted_rand_index(tracked["hot_spot_id"].to_numpy(), tracked["hotspot_id"].to_numpy())
        )
    # hot spots: majority vote both ways
    cross = store.cross_ids_frame()
    for tid, grp in tracked.groupby("hot_spot_id"):
        if len(grp) < 3:
            continue
        ev.n_true_with_3 += 1
        best = grp["hotspot_id"].value_counts()
        hs, n = best.index[0], int(best.iloc[0])
        members = tracked[tracked["hotspot_id"] == hs]["hot_spot_id"].value_counts()
        if n >= 0.5 * len(grp) and members.index[0] == tid:
            ev.n_true_with_3_recovered += 1
            refs = cross[cross["hotspot_id"] == hs]
            if str(tid).startswith(("JRM", "PSJ")):
                ev.n_crossid_checked += 1
                ev.n_crossid_right += int(_crossid_right(str(tid), refs))
    return ev


def registration_table(
    store, frames: pd.DataFrame, truth: pd.DataFrame, match_px: float = 2.0
) -> pd.DataFrame:
    """How the simulated close-flyby frames (``frames.csv`` rows with a ``sequence``) were registered,
    against the truth: one row per frame with its altitude, method, matches, false-match probability, offset
    and remaining 1σ (px), the offset's error against the applied pointing error (px), and the median error
    (km) and median stated 1σ (km) of the hot spots found in it."""
    from ioscan.body import great_circle_distance_km
    from ioscan.instruments import jiram

    if "sequence" not in frames.columns:
        return pd.DataFrame()
    close = frames[frames["sequence"].notna()].set_index("product_id")
    if close.empty:
        return pd.DataFrame()
    obs = store.observations_frame().set_index("product_id")
    det = store.detections_frame()
    hot = det[(det["flags"].astype(int) & (8 | 128)) == 0]
    matched = match_detections(hot[hot["product_id"].isin(close.index)], truth, match_px)
    matched = matched[matched["detection_row_id"].notna()].merge(
        det[["id", "lat_deg", "lon_w_deg", "position_err_km"]].add_prefix("det_"),
        left_on="detection_row_id",
        right_on="det_id",
    )
    matched = matched[matched["det_lat_deg"].notna()]
    matched["err_km"] = great_circle_distance_km(
        matched["lat_deg"], matched["lon_w_deg"], matched["det_lat_deg"], matched["det_lon_w_deg"]
    )
    rows = []
    for pid, f in close.iterrows():
        if pid not in obs.index:
            continue
        o = obs.loc[pid]
        band = jiram.MODES[f["mode"]][0]
        d_s = o["pointing_offset_sample_px"] - f[f"{band}_pointing_error_sample_px"]
        d_l = o["pointing_offset_line_px"] - f[f"{band}_pointing_error_line_px"]
        m = matched[matched["product_id"] == pid]
        rows.append(
            {
                "product_id": pid,
                "sequence": int(f["sequence"]),
                "altitude_km": float(f["range_km"]) - 1821.49,
                "method": o["registration_method"],
                "n_matches": o["n_anchor_matches"],
                "false_match_prob": o["false_match_prob"],
                "offset_sample_px": o["pointing_offset_sample_px"],
                "offset_line_px": o["pointing_offset_line_px"],
                "offset_err_sample_px": o["pointing_offset_sample_err_px"],
                "offset_err_line_px": o["pointing_offset_line_err_px"],
                "offset_error_vs_truth_px": float(np.hypot(d_s, d_l)) if o["registered"] else np.nan,
                "true_offset_line_px": float(f[f"{band}_pointing_error_line_px"]),
                "n_hot_spots": int(len(m)),
                "median_position_err_km": float(m["err_km"].median()) if len(m) else np.nan,
                "median_stated_err_km": float(m["det_position_err_km"].median()) if len(m) else np.nan,
            }
        )
    return pd.DataFrame(rows)
