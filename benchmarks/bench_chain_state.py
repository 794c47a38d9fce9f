"""Benchmark: a chaining state's copy, and what a scan in process costs with it (issue 15).

On bench_scan's campaign (64 JIRAM frames, seed 5; or ``--campaign DIR`` made before), whole in-process scans
(chaining on) alternate, for ``--rounds`` rounds after one warm-up round each, between the kept state's copy
as it is (:func:`ioscan.workflows.retry_cache.copy_state`: the navigation's backplanes and views shared) and a
full deep copy (as before 2026-12-07: every lazy layer of the predicted geometry made for the copy, and
counted by making it). Per variant: CPU ms per frame of the scanning thread (``time.thread_time``) per round
and their median, the scan's ``process`` and ``process_chain`` parts, the CPU of the copies alone and of
the lazy layers they made, and whether the two catalogues hold the same values (every stored column but
bookkeeping).

    PYTHONPATH=src python benchmarks/bench_chain_state.py [--rounds 5] [--campaign DIR]
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

_BOOKKEEPING = {"id", "observation_id", "run_id", "import_id", "hotspot_id", "superseded_by_id"}


def _deep_copy_state(started):
    """The kept state's copy before 2026-12-07: navigation and detections deep-copied, the frame shared."""
    out = copy.copy(started)
    memo = {id(started.frame): started.frame, id(started.searched): started.searched}
    out.nav = copy.deepcopy(started.nav, memo)
    out.found = copy.deepcopy(started.found, memo)
    return out


def _nbytes_making_layers(obj, depth: int = 0, seen: set | None = None) -> int:
    """The state's bytes as counted before 2026-12-07 (a lazy layer made to be counted)."""
    seen = set() if seen is None else seen
    if id(obj) in seen or depth > 16:
        return 0
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        return int(obj.nbytes)
    if isinstance(obj, dict):
        return sum(_nbytes_making_layers(v, depth + 1, seen) for v in obj.values())
    if isinstance(obj, list | tuple):
        return sum(_nbytes_making_layers(v, depth + 1, seen) for v in obj)
    fields = getattr(obj, "__dict__", None)
    return _nbytes_making_layers(fields, depth + 1, seen) if isinstance(fields, dict) else 0


def _digest(db: Path) -> str:
    from ioscan.catalog.store import open_store

    with open_store(db, create=False) as store:
        tables = [store.observations_frame(), store.frames_frame(), store.detections_frame()]
    h = hashlib.sha256()
    for df in tables:
        df = df.drop(columns=[c for c in df.columns if c in _BOOKKEEPING])
        keys = [c for c in ("product_id", "band", "detection_id", "sample", "line") if c in df.columns]
        h.update(repr(df.sort_values(keys).reset_index(drop=True).to_dict("list")).encode())
    return h.hexdigest()[:16]


def run(campaign: Path, rounds: int) -> dict:
    from ioscan.catalog.store import open_store
    from ioscan.geometry import backplanes
    from ioscan.workflows import retry_cache
    from ioscan.workflows.scan import scan

    metakernel = next(campaign.rglob("*.tm"))
    variants = {
        "shared": (retry_cache.copy_state, retry_cache._nbytes),
        "deep_copy": (_deep_copy_state, _nbytes_making_layers),
    }
    spent = {"copy": 0.0, "layers": 0.0}
    complete = backplanes.LazyLayers._complete

    def timed_complete(self):
        t0 = time.thread_time()
        complete(self)
        spent["layers"] += time.thread_time() - t0

    backplanes.LazyLayers._complete = timed_complete
    out: dict = {
        k: {"ms_per_frame": [], "process": [], "process_chain": [], "copy": [], "layers": []}
        for k in variants
    }
    digests = {}
    try:
        for r in range(rounds + 1):
            for name in variants if r % 2 == 0 else reversed(list(variants)):
                copy_state, nbytes = variants[name]

                def timed_copy(started, copy_state=copy_state):
                    t0 = time.thread_time()
                    try:
                        return copy_state(started)
                    finally:
                        spent["copy"] += time.thread_time() - t0

                retry_cache.copy_state, retry_cache._nbytes = timed_copy, nbytes
                retry_cache.forget()
                spent.update(copy=0.0, layers=0.0)
                db = Path(tempfile.mkdtemp(prefix="ioscan_chain_state_")) / "scan.db"
                t0 = time.thread_time()
                with open_store(db) as store:
                    summary = scan([campaign / "jiram"], store=store, kernels=metakernel, workers=0)
                whole = time.thread_time() - t0
                n = max(summary.n_processed, 1)
                if r == 0:
                    digests[name] = _digest(db)
                    continue
                row = out[name]
                row["ms_per_frame"].append(round(1e3 * whole / n, 2))
                for part in ("process", "process_chain"):
                    row[part].append(round(1e3 * summary.main_cpu_s.get(part, 0.0) / n, 2))
                row["copy"].append(round(1e3 * spent["copy"] / n, 2))
                row["layers"].append(round(1e3 * spent["layers"] / n, 2))
    finally:
        retry_cache.copy_state, retry_cache._nbytes = variants["shared"]
        backplanes.LazyLayers._complete = complete
    result = {"benchmark": "chain_state", "rounds": rounds, "frames": n}
    for name, row in out.items():
        result[name] = {**row, **{f"{k}_median": statistics.median(v) for k, v in row.items() if v}}
    result["ratio_per_round"] = [
        round(a / b, 3)
        for a, b in zip(out["shared"]["ms_per_frame"], out["deep_copy"]["ms_per_frame"], strict=True)
    ]
    result["same_catalogue"] = len(set(digests.values())) == 1
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--campaign", type=Path, help="a campaign simulated before (bench_scan's, seed 5)")
    args = ap.parse_args()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    campaign = args.campaign
    if campaign is None:
        from ioscan.simulate.campaign import simulate_campaign

        campaign = Path(tempfile.mkdtemp(prefix="ioscan_chain_state_")) / "campaign"
        simulate_campaign(campaign, orbits=4, seed=5, frames_per_orbit=16, ground_nights=0, workers=2)
    print(json.dumps(run(campaign, args.rounds), indent=1))


if __name__ == "__main__":
    main()
