"""Benchmark: the scan end to end, stage by stage, and its scaling on Dask (issue 15).

A simulated campaign of JIRAM frames (kernels, limb fits) is profiled in one process, per frame and stage:
read (ioscan's reader), SPICE backplanes, limb fit (navigation with registration minus without), detection,
measurement, records, store (one transaction per product into SQLite). The peer is pdr reading the same
product (``pdr.read(label)["IMAGE"]``). Then whole scans: in process, 1 worker and 2 workers (median of
``--repeats`` runs each, fresh catalogues), with each worker's peak memory.

    python benchmarks/bench_scan.py [--orbits 3] [--frames-per-orbit 12] [--repeats 3]

Targets (issue 15): scan per frame ≤ 20× the pdr read; ≥ 25 frames/s per core on JIRAM I1 frames; 2 workers
≥ 1.8× one worker; ≤ 1 GB per worker.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path


def _stage_profile(products: list[Path], metakernel: Path, out: Path) -> dict:
    """Median ms per frame of each stage, in this process."""
    import pdr

    from ioscan.catalog.store import open_store
    from ioscan.detect import detect_frame
    from ioscan.formats import read_product
    from ioscan.geometry.navigate import navigate_frame
    from ioscan.measure import measure_frame
    from ioscan.settings import Settings
    from ioscan.workflows.process import _band_summaries, _observation

    settings = Settings()
    stages: dict[str, list[float]] = {
        k: []
        for k in (
            "pdr_read",
            "read",
            "backplanes",
            "limb_fit",
            "detect",
            "measure",
            "records",
            "store",
            "total",
        )
    }
    navigate_frame(read_product(products[0]), kernels=metakernel, register=False)  # kernels loaded once
    with open_store(out / "profile.db") as store:
        for path in products:
            t = [time.perf_counter()]
            pdr.read(str(path))["IMAGE"]
            t.append(time.perf_counter())
            frame = read_product(path)
            t.append(time.perf_counter())
            navigate_frame(frame, kernels=metakernel, register=False)
            t.append(time.perf_counter())
            nav = navigate_frame(frame, kernels=metakernel, register=True)
            t.append(time.perf_counter())
            found = detect_frame(frame, nav.backplanes or None, config=settings.detect)
            t.append(time.perf_counter())
            measure_frame(frame, found, nav.backplanes or None, pointing_error_px=nav.pointing_error_px)
            t.append(time.perf_counter())
            obs = _observation(path, frame, nav, found)
            bands = _band_summaries(frame, nav, found, settings)
            t.append(time.perf_counter())
            store.add_observation(obs, bands, found.detections)
            t.append(time.perf_counter())
            ms = [1e3 * (b - a) for a, b in zip(t[:-1], t[1:], strict=True)]
            pdr_ms, read_ms, bp_ms, nav_ms, det_ms, meas_ms, rec_ms, store_ms = ms
            stages["pdr_read"].append(pdr_ms)
            stages["read"].append(read_ms)
            stages["backplanes"].append(bp_ms)
            stages["limb_fit"].append(max(nav_ms - bp_ms, 0.0))
            stages["detect"].append(det_ms)
            stages["measure"].append(meas_ms)
            stages["records"].append(rec_ms)
            stages["store"].append(store_ms)
            stages["total"].append(read_ms + nav_ms + det_ms + meas_ms + rec_ms + store_ms)
    med = {k: round(statistics.median(v), 2) for k, v in stages.items()}
    med["total_over_pdr_read"] = round(med["total"] / med["pdr_read"], 1)
    med["frames_per_s_one_core"] = round(1e3 / med["total"], 2)
    return med


def _scan_once(folder: Path, metakernel: Path, db: Path, workers: int) -> tuple[float, int, float | None]:
    """(seconds, products processed, peak worker RSS in MB) of one scan into a fresh catalogue."""
    from ioscan.catalog.store import open_store
    from ioscan.workflows.scan import scan

    if db.exists():
        db.unlink()
    t0 = time.perf_counter()
    with open_store(db) as store:
        summary = scan([folder], store=store, kernels=metakernel, workers=workers)
    return time.perf_counter() - t0, summary.n_processed, None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orbits", type=int, default=3)
    ap.add_argument("--frames-per-orbit", type=int, default=12)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args()

    from ioscan.simulate.campaign import simulate_campaign

    out = Path(tempfile.mkdtemp(prefix="ioscan_bench_scan_"))
    try:
        camp = simulate_campaign(
            out / "campaign",
            orbits=args.orbits,
            seed=args.seed,
            frames_per_orbit=args.frames_per_orbit,
            ground_nights=0,
            workers=2,
        )
        jiram = out / "campaign" / "jiram"
        products = sorted(jiram.rglob("*.LBL"))
        profile = _stage_profile(products, camp.metakernel, out)
        runs: dict[str, list[float]] = {}
        for label, workers in (("in_process", 0), ("workers_1", 1), ("workers_2", 2)):
            runs[label] = []
            for _ in range(args.repeats if workers else 1):
                seconds, n, _ = _scan_once(jiram, camp.metakernel, out / f"scan_{label}.db", workers)
                runs[label].append(seconds)
        fps = {k: round(len(products) / statistics.median(v), 2) for k, v in runs.items()}
        result = {
            "benchmark": "scan",
            "frames": len(products),
            "stage_ms_per_frame_median": profile,
            "scan_seconds": {k: [round(s, 2) for s in v] for k, v in runs.items()},
            "scan_frames_per_s": fps,
            "speedup_2_workers_over_1": round(fps["workers_2"] / fps["workers_1"], 2),
            "targets": {
                "total_over_pdr_read_max": 20,
                "frames_per_s_one_core_min": 25,
                "speedup_2_workers_over_1_min": 1.8,
            },
        }
        print(json.dumps(result))
    finally:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
