"""Navigation of close-flyby frames (1,500–20,000 km altitude) against the simulator's truth; prints JSON.

Simulates ``--sequences`` five-frame close-flyby sequences (:mod:`ioscan.simulate.close_flybys`: pointing
errors up to 2° along track; true hot spots off their published positions by the published-position error
model), scans them as a user would (``ioscan.scan``: limb, then known hot spots, then chaining; Dask), once
with the shipped published tables as anchors and once with a refined table (the truth displaced by 3 km, as
a catalogue refined on limb-registered frames would list it), and scores every run against the truth:

* per altitude bin: frames, how they were registered, the position error (km) of the hot spots detected in
  frames registered on ≥ 2 known hot spots, against the combined error of the anchors used
  (√2·σ_anchor/√n), and in the other frames;
* wrong registrations: registered frames whose offset lies outside the 99.9 % region of their stated
  covariance and more than 1 px from the truth, against the sum of their stated false-match probabilities;
* coverage, registered or not: the true position inside the stated 95 % ellipse (2×2 covariance with the
  lat/lon correlation); the true intensity inside ±1.96σ (all, and unsaturated: a saturated source's
  photometry is another model's business), and the intensity's geometric factor (pixel scale² / cos e)
  inside its own interval; scored apart: the measured intensities (unsaturated, with a value and an error)
  inside ±1.96σ, the fraction of unsaturated detections with no intensity at all (emission 85–89° or off the
  disk), and saturated lower limits at or below the truth;
* the hot-spot scores of the frames the limb did not register, as ``before`` (the predicted geometry with
  the old isotropic linear error) would have had them, is not recomputed here: see docs/measurements.md.

Options: ``--sequences N`` (default 60 = 300 frames), ``--quick`` (12 sequences), ``--workers``,
``--seed``, ``--along uniform`` (pointing errors uniform in ±2°, harder than navigation's prior),
``--keep DIR`` (keep the products and catalogues there), ``--rescore DIR [DIR ...]`` (score kept runs'
shipped-table catalogues again without scanning, and the ground floor pooled over them). Limb-registered
frames also get their offsets' pulls against the applied pointing (``limb_offset_pulls``; frames registered on
known hot spots or chained, ``hotspot_offset_pulls``) and the ground
floor their positions need for 95 % coverage
(``ground_floor_km_for_95``, with a bootstrap interval over frames).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

BINS_KM = (1500.0, 3000.0, 6000.0, 12000.0, 20000.0)


def _scan(root: Path, db: Path, anchors: str, workers: int) -> float:
    from ioscan.catalog.store import open_store
    from ioscan.settings import Settings
    from ioscan.workflows.scan import scan

    settings = Settings.load(overrides=[f'navigate.anchors="{anchors}"'])
    t0 = time.perf_counter()
    with open_store(db) as store:
        scan(
            [root / "jiram"],
            store=store,
            kernels=root / "kernels" / "ioscan.tm",
            workers=workers,
            settings=settings,
        )
    return time.perf_counter() - t0


def _mahalanobis2(dx, dy, sx, sy, corr) -> np.ndarray:
    cov_xy = corr * sx * sy
    det = sx**2 * sy**2 - cov_xy**2
    return (sy**2 * dx**2 - 2 * cov_xy * dx * dy + sx**2 * dy**2) / det


def _score(root: Path, db: Path, anchor_sigma_km: float, limb_rows: list | None = None) -> dict:
    from ioscan.body import great_circle_distance_km
    from ioscan.catalog.store import open_store
    from ioscan.instruments import jiram
    from ioscan.records import DetectionFlag
    from ioscan.workflows.evaluate import match_detections

    truth = pd.read_csv(root / "truth" / "truth.csv")
    frames = pd.read_csv(root / "truth" / "frames.csv").set_index("product_id")
    with open_store(db) as store:
        obs = store.observations_frame().set_index("product_id")
        det = store.detections_frame()
    frames["altitude_km"] = (
        np.linalg.norm(frames[["range_km"]].to_numpy(), axis=1) - 1821.49
    )  # frames.csv range_km is from Io's centre
    first_band = {pid: jiram.MODES[m][0] for pid, m in frames["mode"].items()}
    # --- frames
    fr = obs.join(frames[["altitude_km", "sequence"]], how="inner")
    fr["truth_s"] = [frames.loc[p, f"{first_band[p]}_pointing_error_sample_px"] for p in fr.index]
    fr["truth_l"] = [frames.loc[p, f"{first_band[p]}_pointing_error_line_px"] for p in fr.index]
    reg = fr[fr["registered"].astype(bool)].copy()
    ds = reg.pointing_offset_sample_px - reg.truth_s
    dl = reg.pointing_offset_line_px - reg.truth_l
    m2 = _mahalanobis2(
        ds,
        dl,
        reg.pointing_offset_sample_err_px,
        reg.pointing_offset_line_err_px,
        reg.pointing_offset_corr.fillna(0),
    )
    reg["wrong"] = (m2 > 13.8) & (np.hypot(ds, dl) > 1.0)
    hs = reg[reg.registration_method.isin(["hotspots", "chain"])]
    # --- hot spots
    hot = det[(det["flags"].astype(int) & (8 | 128)) == 0]  # not cosmic rays or artefacts
    matched = match_detections(hot, truth)
    matched = matched[matched["detection_row_id"].notna()].merge(
        det.add_prefix("det_").rename(columns={"det_id": "detection_row_id"}),
        on="detection_row_id",
        how="left",
    )
    matched = matched[matched["det_lat_deg"].notna()]
    matched = matched.join(fr[["altitude_km", "registration_method", "n_anchor_matches"]], on="product_id")
    err_km = great_circle_distance_km(
        matched.lat_deg, matched.lon_w_deg, matched.det_lat_deg, matched.det_lon_w_deg
    )
    matched["err_km"] = np.asarray(err_km)
    dlat = matched.lat_deg - matched.det_lat_deg
    dlon = (matched.lon_w_deg - matched.det_lon_w_deg + 180.0) % 360.0 - 180.0
    pos_m2 = _mahalanobis2(
        dlat, dlon, matched.det_lat_err_deg, matched.det_lon_err_deg, matched.det_lat_lon_err_corr.fillna(0)
    )
    matched["pos_in"] = pos_m2 <= 5.99
    i_true = matched.spectral_intensity_corrected_gw_um_sr
    matched["i_in"] = (
        matched.det_spectral_intensity_gw_um_sr - i_true
    ).abs() <= 1.96 * matched.det_spectral_intensity_err_gw_um_sr
    sat = (matched.det_flags.astype(int) & 1) > 0
    lower = ((matched.det_flags.astype(int) & int(DetectionFlag.LOWER_LIMIT)) > 0) & np.isfinite(
        matched.det_spectral_intensity_gw_um_sr.astype(float)
    )
    has_i = np.isfinite(matched.det_spectral_intensity_gw_um_sr.astype(float))
    measured = ~sat & ~lower & has_i & np.isfinite(matched.det_spectral_intensity_err_gw_um_sr.astype(float))
    factor_true = (matched.range_km * jiram.IFOV_RAD) ** 2 / np.cos(np.radians(matched.emission_deg))
    gf = matched.det_extra.map(lambda e: (e or {}).get("geometry_factor_km2", np.nan))
    gfe = matched.det_extra.map(lambda e: (e or {}).get("geometry_factor_err_km2", np.nan))
    matched["g_in"] = (gf - factor_true).abs() <= 1.96 * gfe
    two = matched.registration_method.isin(["hotspots", "chain"]) & (matched.n_anchor_matches >= 2)
    matched["anchor_km"] = math.sqrt(2.0) * anchor_sigma_km / np.sqrt(matched.n_anchor_matches.clip(lower=1))

    def bin_of(alt):
        return pd.cut(
            alt, BINS_KM, labels=[f"{a:.0f}-{b:.0f}" for a, b in zip(BINS_KM[:-1], BINS_KM[1:], strict=True)]
        )

    fr["bin"] = bin_of(fr.altitude_km)
    matched["bin"] = bin_of(matched.altitude_km)
    per_bin = {}
    for name, grp in fr.groupby("bin", observed=False):
        m = matched[matched["bin"] == name]
        m2_ = m[two.loc[m.index]]
        rest = m[~two.loc[m.index]]
        per_bin[str(name)] = {
            "frames": int(len(grp)),
            "registered": {k: int(v) for k, v in grp.registration_method.value_counts().items()},
            "hot_spots_in_frames_with_2_matches": int(len(m2_)),
            "median_position_err_km_2_matches": _r(m2_.err_km.median()),
            "median_anchor_combined_err_km": _r(m2_.anchor_km.median()),
            "median_position_err_km_other": _r(rest.err_km.median()),
            "hot_spots_other": int(len(rest)),
        }
    limb = reg[reg.registration_method == "limb"]
    on_limb = matched[matched.registration_method == "limb"]
    if limb_rows is not None:  # pooled over runs (--rescore DIR DIR ...): a run's frames kept apart
        limb_rows.append(
            on_limb.assign(
                product_id=str(root) + ":" + on_limb.product_id.astype(str),
                dlat=dlat.loc[on_limb.index],
                dlon=dlon.loc[on_limb.index],
            )
        )
    return {
        "frames": int(len(fr)),
        "registered": {k: int(v) for k, v in fr.registration_method.value_counts().items()},
        "limb_offset_pulls": _limb_pulls(limb, ds.loc[limb.index], dl.loc[limb.index]),
        "hotspot_offset_pulls": _limb_pulls(hs, ds.loc[hs.index], dl.loc[hs.index]),
        "coverage_position_95_by_method": {
            str(k): _r(v.mean(), 4) for k, v in matched.groupby("registration_method").pos_in
        },
        "ground_floor_km_for_95": _ground_floor(on_limb, dlat.loc[on_limb.index], dlon.loc[on_limb.index]),
        "per_altitude_bin": per_bin,
        "median_position_err_km_2_matches": _r(matched.err_km[two].median()),
        "median_anchor_combined_err_km_2_matches": _r(matched.anchor_km[two].median()),
        "median_position_err_km_all": _r(matched.err_km.median()),
        "p90_position_err_km_all": _r(matched.err_km.quantile(0.9)),
        "wrong_registrations": int(reg.wrong.sum()),
        "wrong_registration_fraction_of_frames": _r(reg.wrong.sum() / max(len(fr), 1), 4),
        "hotspot_registrations": int(len(hs)),
        "wrong_hotspot_registrations": int(hs.wrong.sum()),
        "stated_false_match_sum": _r(hs.false_match_prob.sum(), 3),
        "hot_spots_scored": int(len(matched)),
        "coverage_position_95": _r(matched.pos_in.mean(), 4),
        "coverage_position_95_registered": _r(
            matched.pos_in[matched.registration_method != "none"].mean(), 4
        ),
        "coverage_position_95_unregistered": _r(
            matched.pos_in[matched.registration_method == "none"].mean(), 4
        ),
        "coverage_intensity_95": _r(matched.i_in.mean(), 4),
        "coverage_intensity_95_unsaturated": _r(matched.i_in[~sat].mean(), 4),
        # the same, scored apart: measured intensities (unsaturated, with a value and an error) inside
        # ±1.96σ; the detections with no intensity at all (emission 85-89°, off the disk: the foreshortening
        # unknowable); saturated lower limits at or below the truth
        "coverage_intensity_95_measured": _r(matched.i_in[measured].mean(), 4),
        "intensity_measured": int(measured.sum()),
        "no_intensity_fraction_unsaturated": _r((~has_i[~sat]).mean(), 4),
        "lower_limits": int(lower.sum()),
        "lower_limits_at_or_below_truth": _r(
            (matched.det_spectral_intensity_gw_um_sr[lower] <= i_true[lower]).mean(), 4
        ),
        "coverage_intensity_factor_95": _r(matched.g_in[gf.notna()].mean(), 4),
    }


def _limb_pulls(limb: pd.DataFrame, ds: pd.Series, dl: pd.Series) -> dict:
    """Limb-registered frames: the registered offset against the applied pointing over its stated 1σ (the
    fit's × ``navigate.LIMB_ERROR_SCALE`` and the pixel floor in quadrature): rms and robust std per axis."""
    if len(limb) < 2:
        return {"frames": int(len(limb))}
    ps = (ds / limb.pointing_offset_sample_err_px).to_numpy(float)
    pl = (dl / limb.pointing_offset_line_err_px).to_numpy(float)
    return {
        "frames": int(len(limb)),
        "pull_rms": [_r(np.sqrt(np.mean(p**2))) for p in (ps, pl)],
        "pull_robust_std": [_r(1.4826 * np.median(np.abs(p - np.median(p)))) for p in (ps, pl)],
    }


def _ground_floor(m: pd.DataFrame, dlat: pd.Series, dlon: pd.Series, n_boot: int = 500) -> dict:
    """The ground error (1σ, km, isotropic, as ``measure.positions.with_ground_error`` adds it) that puts 95 %
    of the limb-registered positions inside their 95 % ellipse: the stated covariance less the ground floor
    it holds (``PointingPrior.limb_floor_km``), then the floor solved for (bisection, 0–20 km), with a 68 %
    bootstrap interval over frames (a frame's positions share its pointing error). None below 20 positions."""
    from ioscan.body import IO_MEAN_RADIUS_KM
    from ioscan.instruments import get_instrument

    g0 = get_instrument("JIRAM").pointing.limb_floor_km
    ok = m.det_lat_err_deg.notna() & m.det_lon_err_deg.notna() & dlat.notna() & dlon.notna()
    m, dlat, dlon = m[ok], dlat[ok].to_numpy(float), dlon[ok].to_numpy(float)
    if len(m) < 20:
        return {"positions": int(len(m))}
    unit_lat = np.full(len(m), np.degrees(1.0 / IO_MEAN_RADIUS_KM))
    unit_lon = unit_lat / np.maximum(np.cos(np.radians(m.det_lat_deg.to_numpy(float))), 1e-6)
    sl, so = m.det_lat_err_deg.to_numpy(float), m.det_lon_err_deg.to_numpy(float)
    cov = m.det_lat_lon_err_corr.fillna(0).to_numpy(float) * sl * so
    vl = np.clip(sl**2 - (g0 * unit_lat) ** 2, 0, None)
    vo = np.clip(so**2 - (g0 * unit_lon) ** 2, 0, None)

    def coverage(g: float, idx) -> float:
        a, b = vl[idx] + (g * unit_lat[idx]) ** 2, vo[idx] + (g * unit_lon[idx]) ** 2
        det = np.maximum(a * b - cov[idx] ** 2, 1e-30)
        m2 = (b * dlat[idx] ** 2 - 2 * cov[idx] * dlat[idx] * dlon[idx] + a * dlon[idx] ** 2) / det
        return float(np.mean(m2 <= 5.99))

    def solve(idx) -> float:
        lo, hi = 0.0, 20.0
        if coverage(lo, idx) >= 0.95:
            return 0.0
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            lo, hi = (lo, mid) if coverage(mid, idx) >= 0.95 else (mid, hi)
        return hi

    allidx = np.arange(len(m))
    frames = m.product_id.to_numpy()
    groups = [np.flatnonzero(frames == f) for f in np.unique(frames)]
    rng = np.random.default_rng(0)
    boot = [
        solve(np.concatenate([groups[i] for i in rng.integers(0, len(groups), len(groups))]))
        for _ in range(n_boot)
    ]
    return {
        "positions": int(len(m)),
        "frames": len(groups),
        "applied_km": g0,
        "coverage_without_floor": _r(coverage(0.0, allidx), 4),
        "coverage_applied": _r(coverage(g0, allidx), 4),
        "floor_km": _r(solve(allidx)),
        "floor_km_68": [_r(v) for v in np.percentile(boot, [16, 84])],
    }


def _r(x, nd: int = 2):
    return None if x is None or not np.isfinite(x) else round(float(x), nd)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sequences", type=int, default=60)
    ap.add_argument("--quick", action="store_true", help="12 sequences (60 frames)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--along", choices=("gaussian", "uniform"), default="gaussian")
    ap.add_argument("--keep", type=Path, default=None)
    ap.add_argument(
        "--rescore", type=Path, nargs="*", default=None, help="score runs kept with --keep again (no scan)"
    )
    args = ap.parse_args()
    from ioscan.catalog.reference import PUBLISHED_POSITION_ERROR
    from ioscan.geometry.anchors import KM_PER_DEG
    from ioscan.simulate.close_flybys import simulate_close_flybys

    if args.rescore:
        sigma = PUBLISHED_POSITION_ERROR.core_deg * KM_PER_DEG
        rows: list = []
        out = {
            str(d): _score(d / "products", d / "shipped_tables.db", sigma, limb_rows=rows)
            for d in args.rescore
        }
        pooled = pd.concat(rows, ignore_index=True)
        out["ground_floor_km_for_95_pooled"] = _ground_floor(pooled, pooled.dlat, pooled.dlon)
        print(json.dumps(out))
        return

    n_seq = 12 if args.quick else args.sequences
    work = args.keep or Path(tempfile.mkdtemp(prefix="ioscan_bench_nav_"))
    try:
        t0 = time.perf_counter()
        sim = simulate_close_flybys(
            work / "products",
            n_sequences=n_seq,
            seed=args.seed,
            along=args.along,
            workers=args.workers,
            refined_sigma_km=3.0,
        )
        t_sim = time.perf_counter() - t0
        root = work / "products"
        out = {
            "sequences": n_seq,
            "frames": sim.n_frames,
            "seed": args.seed,
            "pointing_error_along": args.along,
            "simulate_s": round(t_sim, 1),
        }
        for label, spec, sigma in (
            ("shipped_tables", "shipped", PUBLISHED_POSITION_ERROR.core_deg * KM_PER_DEG),
            ("refined_table", f"shipped+{sim.refined_csv}", 3.0),
        ):
            db = work / f"{label}.db"
            if db.exists():
                db.unlink()
            t_scan = _scan(root, db, spec, args.workers)
            res = _score(root, db, sigma)
            res["scan_s_per_frame"] = round(t_scan / max(sim.n_frames, 1), 3)
            out[label] = res
        r = out["shipped_tables"]
        out["targets"] = {
            "wrong_registrations_le_1pct": bool(r["wrong_registration_fraction_of_frames"] <= 0.01),
            "median_err_le_20km_2_matches": bool((r["median_position_err_km_2_matches"] or 1e9) <= 20.0),
            "median_err_le_anchor_combined": bool(
                (r["median_position_err_km_2_matches"] or 1e9)
                <= (r["median_anchor_combined_err_km_2_matches"] or 0)
            ),
            "position_coverage_ge_95pct": bool(r["coverage_position_95"] >= 0.95),
            "intensity_coverage_ge_95pct_unsaturated": bool(
                (r["coverage_intensity_95_unsaturated"] or 0) >= 0.95
            ),
            "intensity_coverage_ge_95pct_measured": bool((r["coverage_intensity_95_measured"] or 0) >= 0.95),
        }
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
