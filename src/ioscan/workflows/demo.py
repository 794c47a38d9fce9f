"""``make demo``: simulate a small Juno campaign, scan it on Dask into SQLite, track, export, summarise.

Everything goes into one folder: ``campaign/`` (kernels, PDS3 RDRs, FITS, truth), ``ioscan.db`` (the
catalogue), ``exports/`` (CSV, Parquet, GeoJSON) and ``summary.json``. Re-running reuses what is there: the
simulator is deterministic, so the same products have the same checksums and the scan skips them.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console


def _lightcurve_max(detections: pd.DataFrame, band: str = "M") -> pd.Series:
    sel = detections[(detections["band"] == band) & detections["hotspot_id"].notna()]
    return sel.groupby("hotspot_id")["spectral_intensity_gw_um_sr"].max().dropna()


def run_demo(
    out: Path,
    *,
    orbits: int = 4,
    seed: int = 1,
    workers: int = 2,
    console: Console | None = None,
    frames_per_orbit: int = 5,
    ground_nights: int = 2,
    ground_pixels: int = 512,
) -> dict:
    """Run the whole job and return the summary (also written to ``out/summary.json``)."""
    from ioscan.catalog.export import export
    from ioscan.catalog.store import open_store
    from ioscan.cli import _progress_printer
    from ioscan.console import make_console
    from ioscan.pipeline import scan
    from ioscan.simulate.campaign import simulate_campaign
    from ioscan.workflows.evaluate import evaluate
    from ioscan.workflows.report import (
        print_brightest,
        print_evaluation,
        print_scan_summary,
        print_track_summary,
    )
    from ioscan.workflows.track import track_catalog

    console = console or make_console()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    timings = {}
    t0 = time.perf_counter()
    console.rule(f"1. simulating {orbits} Juno orbits and {ground_nights} ground-based nights")
    camp = simulate_campaign(
        out / "campaign",
        orbits=orbits,
        seed=seed,
        frames_per_orbit=frames_per_orbit,
        ground_nights=ground_nights,
        ground_pixels=ground_pixels,
        workers=max(workers, 1),
    )
    console.print(f"{camp.n_jiram} JIRAM PDS3 frames, {camp.n_ground} FITS frames, kernels {camp.metakernel}")
    timings["simulate_s"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    console.rule("2. scanning (Dask LocalCluster)" if workers > 0 else "2. scanning")
    with open_store(out / "ioscan.db") as store:
        summary = scan(
            [out / "campaign"],
            store=store,
            kernels=camp.metakernel,
            workers=workers,
            progress=_progress_printer(console),
        )
        print_scan_summary(console, summary)
        timings["scan_s"] = time.perf_counter() - t1

        t2 = time.perf_counter()
        console.rule("3. tracking, cross-identification, events")
        tracked = track_catalog(store)
        print_track_summary(console, tracked)
        timings["track_s"] = time.perf_counter() - t2

        console.rule("4. exports")
        exports = out / "exports"
        exports.mkdir(exist_ok=True)
        for what in ("hotspots", "detections", "lightcurves"):
            for fmt, suffix in (("csv", "csv"), ("parquet", "parquet"), ("geojson", "geojson")):
                if what == "lightcurves" and fmt == "geojson":
                    continue
                export(store, what, fmt, exports / f"{what}.{suffix}")
        console.print(f"exports in {exports}")

        console.rule("5. summary")
        hotspots = store.hotspots_frame()
        detections = store.detections_frame()
        print_brightest(console, hotspots, _lightcurve_max(detections))
        events = store.events_frame() if hasattr(store, "events_frame") else pd.DataFrame()
        if not events.empty:
            counts = events.groupby("kind")["hotspot_id"].nunique().to_dict()
            console.print("events: " + ", ".join(f"{k}: {v} hot spots" for k, v in sorted(counts.items())))
            for kind in ("outburst", "new"):
                sel = events[events["kind"] == kind].head(8)
                for row in sel.itertuples():
                    console.print(
                        f"  {kind:8s} {row.hotspot_id} {row.band} at {row.time_utc}: {row.value:.3g}"
                    )
        truth = pd.read_csv(camp.truth_csv)
        ev = evaluate(store, truth)
        print_evaluation(console, ev)
    timings["total_s"] = time.perf_counter() - t0
    result = {
        "folder": str(out.resolve()),
        "database": str((out / "ioscan.db").resolve()),
        "n_jiram_frames": camp.n_jiram,
        "n_ground_frames": camp.n_ground,
        "n_detections": int(len(detections)),
        "n_hotspots": int(len(hotspots)),
        "events": tracked.events,
        "completeness_by_snr": ev.completeness_by_snr,
        "false_detections_per_frame": ev.false_detections_per_frame,
        "adjusted_rand_index": ev.adjusted_rand_index,
        "true_hotspots_with_3_detections_recovered": [ev.n_true_with_3_recovered, ev.n_true_with_3],
        "cross_ids_right": [ev.n_crossid_right, ev.n_crossid_checked],
        "timings_s": {k: round(v, 1) for k, v in timings.items()},
    }
    (out / "summary.json").write_text(
        json.dumps(result, indent=2, default=lambda x: None if x is np.nan else x)
    )
    console.print(f"[bold]done in {timings['total_s']:.0f} s[/bold]; catalogue, exports and summary in {out}")
    return result
