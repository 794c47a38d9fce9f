"""Benchmark: tracking a 1,000,000-detection catalogue, then adding 10,000 detections to it (issue 15).

1. In memory (as before): associate ~1,000,000 JIRAM-like detections of 3,000 hot spots (``sy.detections``),
   score against the truth, extract light curves.
2. Through the catalogue (SQLite): a JIRAM-like campaign (:func:`ioscan.track.synthetic.observed_campaign`:
   3,000 hot spots, ~1,000,000 detections in ~860 observations with coverage grids, L and M bands,
   outbursts, hot spots switching on and off) loaded in bulk (set-up, not timed), then ``ioscan track`` as
   a user runs it (:func:`ioscan.workflows.track.track_catalog`: read, associate, cross-identify, events,
   colour temperatures, one transaction) timed stage by stage; then ~10,000 detections in new observations
   are added and tracked incrementally (only the new detections associated, events only for the hot spots
   they or the new observations changed, continued from their stored light-curve states); with
   ``--compare``, a full re-track of the same catalogue (a copy) says whether both give the same hot spot to
   every detection and leave the same hot-spot table, events and light-curve states. Stage times are given
   in wall-clock and CPU seconds (``*_stages_cpu_s``: on a shared machine the CPU seconds are the measure).

Prints one JSON object whose ``issue15`` part holds the two numbers of issue 15 per database, with their
targets: ``track_1m_seconds`` (``ioscan track`` of exactly ``--detections`` = 1,000,000 detections, events
and temperatures included, ≤ 60 s) and ``add_10k_seconds`` (the incremental ``ioscan track`` after 10,000
new detections in new observations, ≤ 5 s). SQLite always; PostgreSQL with ``--pg-url URL`` (an empty
database: the benchmark refuses one that holds observations). ``--quick``: 100,000 detections, 1,000 new.

Run: ``python benchmarks/bench_track.py [--quick] [--detections 1000000] [--new 10000] [--pg-url URL]
[--compare] [--skip-memory]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from ioscan.track import synthetic as sy
from ioscan.track._common import unit_vectors
from ioscan.track.associate import associate
from ioscan.track.lightcurve import lightcurve


def _in_memory(args) -> dict:
    rng = np.random.default_rng(args.seed)
    truth = sy.population(args.n_hotspots, rng, n_pairs=args.n_hotspots // 20)
    det = sy.detections(truth, rng, n_obs=args.n_obs, sigma_km=tuple(args.sigma_km))
    det["spectral_intensity_gw_um_sr"] = rng.lognormal(1.0, 1.0, len(det))
    det["spectral_intensity_err_gw_um_sr"] = 0.1 * det["spectral_intensity_gw_um_sr"]
    inp = det.drop(columns="true_id")

    t0 = time.perf_counter()
    res = associate(inp)
    t_assoc = time.perf_counter() - t0
    ari = sy.adjusted_rand_index(det.true_id, res.hotspot_id)
    u = truth[["ux", "uy", "uz"]].to_numpy()
    _, nb = cKDTree(u).query(unit_vectors(det.lat_deg.to_numpy(), det.lon_w_deg.to_numpy()), k=1)
    oracle = sy.adjusted_rand_index(det.true_id, truth.true_id.to_numpy()[nb])

    inp["hotspot_id"] = res.hotspot_id
    ids = res.hotspots.sort_values("n_detections", ascending=False).hotspot_id.to_numpy()[:20]
    t0 = time.perf_counter()
    n_pts = sum(len(lightcurve(inp, h, "M")) for h in ids)
    t_lc = (time.perf_counter() - t0) / len(ids)
    return {
        "n_detections": len(det),
        "n_true_hotspots": len(truth),
        "sigma_km": list(args.sigma_km),
        "associate_seconds": round(t_assoc, 2),
        "ari": round(ari, 5),
        "ari_nearest_truth_oracle": round(oracle, 5),
        "n_hotspots_found": len(res.hotspots),
        "n_hotspots_with_ge3_detections": int((res.hotspots.n_detections >= 3).sum()),
        "n_singleton_hotspots": int((res.hotspots.n_detections == 1).sum()),
        "lightcurve_seconds_per_call_1M_frame": round(t_lc, 4),
        "lightcurve_points_per_call": n_pts / len(ids),
    }


def load_campaign(store, observations, detections, *, chunk: int = 50_000) -> None:
    """Bulk-load a synthetic campaign (observations, their L and M band rows, detections) into ``store``
    (benchmark set-up: plain inserts, not the scan's write path)."""
    import sqlalchemy as sa

    from ioscan.catalog import schema as sch

    obs_rows = [
        {
            "id": int(r.id),
            "product_id": r.product_id,
            "base_product_id": r.product_id,
            "product_key": f"{r.product_id}||",
            "instrument": "JIRAM",
            "observer": "JUNO",
            "time_utc": r.time_utc,
            "geometry_source": "spice",
            "status": "ok",
            "n_detections": 0,
            "coverage_grid": r.coverage_grid,
        }
        for r in observations.itertuples()
    ]
    frame_rows = [
        {"observation_id": int(o), "band": b, "wavelength_um": w, "detection_limit_gw_um_sr": 0.3}
        for o in observations["id"]
        for b, w in (("L", 3.455), ("M", 4.78))
    ]
    cols = [c for c in detections.columns if c != "true_id"]
    extra = {"intensity_err_fraction": {"calibration": 0.1, "psf_model": 0.2}}
    with store.engine.begin() as conn:
        conn.execute(sa.insert(sch.observations), obs_rows)
        conn.execute(sa.insert(sch.frames), frame_rows)
        values = detections[cols].to_dict(orient="list")
        n = len(detections)
        for i in range(0, n, chunk):
            rows = [
                {k: values[k][j] for k in cols} | {"source": "ioscan", "observer": "JUNO", "extra": extra}
                for j in range(i, min(i + chunk, n))
            ]
            conn.execute(sa.insert(sch.detections), rows)


def _campaign(args):
    rng = np.random.default_rng(args.seed + 1)
    truth = sy.population(args.n_hotspots, rng, n_pairs=args.n_hotspots // 20)
    obs, det = sy.observed_campaign(truth, rng, n_obs=args.campaign_obs)
    if getattr(args, "detections", None):  # exactly this many: the last observations' detections cut
        if len(det) < args.detections:
            raise SystemExit(f"bench_track: --campaign-obs {args.campaign_obs} gives {len(det)} detections")
        det = det.iloc[: args.detections]
        obs = obs[obs["id"].isin(det["observation_id"].unique())]
    per_obs = max(len(det) // max(len(obs), 1), 1)
    n_new_obs = max(int(np.ceil(args.new / per_obs)), 1)
    new_obs, new_det = sy.observed_campaign(
        truth,
        rng,
        n_obs=n_new_obs,
        start=str(np.datetime64(obs["time_utc"].iloc[-1][:-1]) + np.timedelta64(1, "D")),
        obs_start=int(obs["id"].max()) + 1,
    )
    return obs, det, new_obs, new_det.iloc[: args.new]


def _through_catalogue(args, out: Path, url: str | None = None) -> dict:
    from ioscan.catalog.store import open_store
    from ioscan.workflows.track import track_catalog

    obs, det, new_obs, new_det = _campaign(args)
    db = url or out / "track.db"
    if url:
        with open_store(url) as store:
            if not store.observations_frame().empty:
                raise SystemExit(f"bench_track: {url} is not empty; give an empty database")
    t0 = time.perf_counter()
    with open_store(db) as store:
        load_campaign(store, obs, det)
    load_s = time.perf_counter() - t0
    result: dict = {
        "catalogue_detections": len(det),
        "catalogue_observations": len(obs),
        "load_s": round(load_s, 1),
    }
    with open_store(db) as store:
        t0, c0 = time.perf_counter(), time.process_time()
        full = track_catalog(store)
        result["track_seconds"] = round(time.perf_counter() - t0, 2)
        result["track_cpu_seconds"] = round(time.process_time() - c0, 2)
        result["track_stages_s"] = full.stages_s
        result["track_stages_cpu_s"] = full.stages_cpu_s
        result["track_summary"] = {
            "n_hotspots": full.n_hotspots,
            "events": full.events,
            "n_temperatures": full.n_temperatures,
            "mode": full.mode,
        }
    if args.compare and not url:
        shutil.copy(db, out / "copy.db")
    with open_store(db) as store:
        load_campaign(store, new_obs, new_det)
        t0, c0 = time.perf_counter(), time.process_time()
        inc = track_catalog(store)
        result["add_detections"] = len(new_det)
        result["add_observations"] = len(new_obs)
        result["incremental_seconds"] = round(time.perf_counter() - t0, 2)
        result["incremental_cpu_seconds"] = round(time.process_time() - c0, 2)
        result["incremental_stages_s"] = inc.stages_s
        result["incremental_stages_cpu_s"] = inc.stages_cpu_s
        result["incremental_summary"] = {
            "mode": inc.mode,
            "n_detections_used": inc.n_detections_used,
            "n_changed_hotspots": inc.n_changed_hotspots,
            "n_continued_hotspots": inc.n_continued_hotspots,
            "n_recomputed_hotspots": inc.n_recomputed_hotspots,
            "n_new_hotspots": inc.n_new_hotspots,
        }
        mapping_inc = store.detections_frame()[["id", "hotspot_id"]]
        tracked_inc = _tracked(store) if args.compare else None
    if args.compare and not url:
        with open_store(out / "copy.db") as store:
            load_campaign(store, new_obs, new_det)
            t0 = time.perf_counter()
            track_catalog(store, full=True)
            result["full_retrack_seconds"] = round(time.perf_counter() - t0, 2)
            mapping_full = store.detections_frame()[["id", "hotspot_id"]]
            tracked_full = _tracked(store)
        both = mapping_inc.merge(mapping_full, on="id", suffixes=("_inc", "_full"))
        same = (both["hotspot_id_inc"].fillna("") == both["hotspot_id_full"].fillna("")).to_numpy()
        result["same_hotspot_as_full_retrack_fraction"] = round(float(same.mean()), 6)
        result["same_as_full_retrack"] = _compare(tracked_inc, tracked_full)
    return result


def _tracked(store) -> dict:
    """What a tracking run leaves besides the associations: hot spots, events, light-curve states."""
    from ioscan.catalog.tracking import light_curve_states

    key = ["hotspot_id", "band", "kind", "time_utc"]
    return {
        "hotspots": store.hotspots_frame().drop(columns=["association_run_id"]),
        "events": store.events_frame().drop(columns="id").sort_values(key).reset_index(drop=True),
        "states": light_curve_states(store),
    }


def _compare(a: dict, b: dict) -> dict:
    """Whether an incremental run left the same hot spots, events and light-curve states as a full re-track
    (floating-point values to 1e-9 relative: running sums are merged in another order)."""
    import pandas as pd

    out = {}
    for name in ("hotspots", "events", "states"):
        x, y = a[name], b[name]
        try:
            pd.testing.assert_frame_equal(x, y, check_exact=False, rtol=1e-9, atol=0.0)
            out[name] = {"rows": len(x), "equal": True}
        except AssertionError as exc:
            out[name] = {"rows": [len(x), len(y)], "equal": False, "first_difference": str(exc)[:300]}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-hotspots", type=int, default=3000)
    ap.add_argument("--n-obs", type=int, default=667)  # × ~1500 visible per frame ≈ 1.0 M detections
    ap.add_argument("--campaign-obs", type=int, default=960)  # × ~1,056 detections per frame > 1.0 M
    ap.add_argument("--detections", type=int, default=1_000_000, help="catalogue size (exact)")
    ap.add_argument("--new", type=int, default=10_000)
    ap.add_argument("--quick", action="store_true", help="100,000 detections, 1,000 new, no in-memory part")
    ap.add_argument("--pg-url", default=None, help="also on this (empty) PostgreSQL database")
    ap.add_argument("--sigma-km", type=float, nargs=2, default=(0.5, 15.0))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--compare", action="store_true", help="also a full re-track of the same catalogue")
    ap.add_argument("--skip-memory", action="store_true", help="skip the in-memory association")
    args = ap.parse_args()
    if args.quick:
        args.detections, args.campaign_obs, args.new, args.skip_memory = 100_000, 100, 1_000, True

    result: dict = {"benchmark": "track"}
    if not args.skip_memory:
        result |= _in_memory(args)
    out = Path(tempfile.mkdtemp(prefix="ioscan_bench_track_"))
    try:
        result["catalogue"] = _through_catalogue(args, out)
        if args.pg_url:
            result["catalogue_postgresql"] = _through_catalogue(args, out, args.pg_url)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    issue15 = {}
    for key, db in (("catalogue", "sqlite"), ("catalogue_postgresql", "postgresql")):
        if key in result:
            c = result[key]
            issue15[db] = {
                "detections": c["catalogue_detections"],
                "track_1m_seconds": c["track_seconds"],
                "track_1m_cpu_seconds": c["track_cpu_seconds"],
                "added_detections": c["add_detections"],
                "add_10k_seconds": c["incremental_seconds"],
                "add_10k_cpu_seconds": c["incremental_cpu_seconds"],
            }
    result["issue15"] = issue15
    result["load_average_1min"] = round(os.getloadavg()[0], 2)  # wall times on a shared machine: see CPU
    result["targets"] = {
        "associate_seconds": 30,
        "track_1m_seconds": 60,
        "add_10k_seconds": 5,
        "track_seconds": 60,
        "incremental_seconds": 5,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
