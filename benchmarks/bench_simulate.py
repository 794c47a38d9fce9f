"""Benchmark: simulate and write 1,000 JIRAM frames (PDS3 RDRs) with a 2-process pool.

Times the whole campaign path: planning, SPICE kernel set, rendering from the kernels' poses (LT+S) with
noise and detector artefacts, writing .LBL/.IMG, truth. Prints one JSON object. Target: ≤ 60 s on 2 cores.

    python benchmarks/bench_simulate.py [--frames 1000] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    from ioscan.simulate import ephemeris as eph
    from ioscan.simulate.campaign import (
        REPRESENTATIVE_ORBITS,
        plan_campaign,
        recorded_jiram_to_body,
        render_plans,
    )
    from ioscan.simulate.kernels import write_kernel_set

    out = Path(tempfile.mkdtemp(prefix="ioscan_bench_sim_"))
    try:
        t0 = time.perf_counter()
        orbits = list(REPRESENTATIVE_ORBITS[:20])
        per_orbit = -(-args.frames // len(orbits))
        plans = plan_campaign(orbits, args.seed, per_orbit)[: args.frames]
        obs = [
            eph.PlannedObservation(
                p.time_utc, p.observer_km, p.observer_velocity_km_s, recorded_jiram_to_body(p)
            )
            for p in plans
        ]
        times = sorted(p.time_utc for p in plans)
        t_plan = time.perf_counter()
        mk = write_kernel_set(out / "kernels", obs, start_utc=times[0], stop_utc=times[-1], io_step_s=7200.0)
        names = sorted(p.name for p in (out / "kernels").iterdir() if p.name != mk.name)
        t_kern = time.perf_counter()
        paths, truths, _ = render_plans(
            plans,
            seed=args.seed,
            out_dir=out / "jiram",
            spice_file_names=names,
            workers=args.workers,
            metakernel=mk,
        )
        t_render = time.perf_counter()
        n_files = sum(1 for _ in (out / "jiram").rglob("*.IMG"))
        modes = {m: sum(p.mode == m for p in plans) for m in ("I1", "I2", "I3")}
        total = t_render - t0
        print(
            json.dumps(
                {
                    "benchmark": "simulate_jiram_frames",
                    "frames": len(plans),
                    "files_written": n_files,
                    "workers": args.workers,
                    "cpus": os.cpu_count(),
                    "modes": modes,
                    "truth_rows": int(sum(len(t) for t in truths)),
                    "plan_s": round(t_plan - t0, 3),
                    "kernels_s": round(t_kern - t_plan, 3),
                    "render_write_s": round(t_render - t_kern, 3),
                    "total_s": round(total, 3),
                    "frames_per_s": round(len(plans) / total, 2),
                    "target_s": 60.0,
                    "pass": total <= 60.0,
                }
            )
        )
    finally:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
