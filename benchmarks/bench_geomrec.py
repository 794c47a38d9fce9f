"""Benchmark: the geometry inside a scan's measure, records and backplanes stages (issue 15), the current code
against a git revision on the same captured inputs.

``--capture``: reads, navigates, registers and detects every frame of the simulated campaign (4 orbits of
16 JIRAM frames, seed 5) as ``bench_rows.py`` does and pickles what measurement and the records take (the
frame, its navigation, detections and pointing draws) to ``CAPTURE``. Each timed run is then a fresh process
with the ioscan of one source tree on ``PYTHONPATH`` (the current one, and ``REV`` checked out in a detached
worktree) that loads ``CAPTURE`` and times on the thread's CPU clock (BLAS one thread), ``--repeats`` times:
``measure`` (:func:`ioscan.measure.measure_frame` with the pointing draws), ``surface`` (the pointing draws'
:meth:`ioscan.geometry.views.View.surface`, as measurement calls it), ``coverage`` (``coverage_grid`` and
``encode_grid`` of the frame's backplanes), ``observation`` (``process._observation``), ``backplanes`` (a
fresh kernel navigation's backplanes, every layer made). Runs alternate (current, REV; then REV, current;
...) for ``--rounds`` rounds; per stage the mean ms per frame of each run, each round's ratio current ÷ REV
and their median (< 1 is faster). Every run also writes what it computed (the measured detections' fields,
the observation's columns, every backplane layer) and the runs are compared bit for bit.

    python benchmarks/bench_geomrec.py [--against main] [--rounds 5] [--repeats 3] [--campaign DIR]
        [--profile]

``--profile``: a cProfile of the stages (current code only), the 30 costliest functions by own time.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import pickle
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

STAGES = ("measure", "surface", "coverage", "observation", "backplanes")


def _capture(campaign: Path, target: Path) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_rows import _campaign, _inputs

    _campaign(campaign)
    items = []
    for path, frame, nav, found, pointing, settings in _inputs(campaign):
        for bp in (nav.backplanes or {}).values():
            bp.arrays = dict(bp.arrays)  # every layer made (a lazy provider's rest too)
        nav = copy.copy(nav)
        nav._recompute = None  # a closure over the kernels: not needed to measure or to make records
        items.append((path, frame, nav, found, pointing, settings))
    part = target.with_suffix(".part")
    with open(part, "wb") as fh:
        pickle.dump(items, fh, protocol=pickle.HIGHEST_PROTOCOL)
    part.rename(target)


def _child(capture: Path, out: Path, repeats: int, profile: bool) -> dict:
    from ioscan.geometry.coverage import coverage_grid, encode_grid
    from ioscan.geometry.navigate import navigate_frame
    from ioscan.measure import measure_frame
    from ioscan.measure.positions import band_line
    from ioscan.workflows.process import _observation

    with open(capture, "rb") as fh:
        items = pickle.load(fh)
    metakernel = capture.parent / "campaign" / "kernels" / "ioscan.tm"
    clock = time.thread_time
    spent = {k: 0.0 for k in STAGES}
    prof = None
    if profile:
        import cProfile

        prof = cProfile.Profile()
    results: dict[str, object] = {}
    # warm-up: the first frame once, untimed (numba loads, lazy imports)
    path, frame, nav, found, pointing, settings = items[0]
    measure_frame(frame, copy.deepcopy(found), nav.backplanes or None, config=settings.measure,
                  pointing_error_px=nav.pointing_error_px, pointing=pointing)  # fmt: skip
    navigate_frame(frame, kernels=metakernel, register=False)
    encode_grid(coverage_grid(nav.backplanes.values())) if nav.backplanes else None
    for n, (path, frame, nav, found, pointing, settings) in enumerate(items):
        copies = [copy.deepcopy(found) for _ in range(repeats)]
        for r, fd in enumerate(copies):
            if prof:
                prof.enable()
            t0 = clock()
            measure_frame(frame, fd, nav.backplanes or None, config=settings.measure,
                          pointing_error_px=nav.pointing_error_px, pointing=pointing)  # fmt: skip
            t1 = clock()
            surf = {}
            if pointing:
                for band, ps in pointing.items():
                    dets = [d for d in fd.detections if d.band == band]
                    if not dets:
                        continue
                    off = np.asarray(ps.offsets_px, dtype=float)
                    xs = np.array([d.sample for d in dets])[:, None] - off[None, :, 0]
                    ys = np.array([band_line(d) for d in dets])[:, None] - off[None, :, 1]
                    surf[band] = ps.view.surface(xs, ys)
            t2 = clock()
            grid = encode_grid(coverage_grid(nav.backplanes.values())) if nav.backplanes else None
            t3 = clock()
            obs = _observation(path, frame, nav, fd)
            t4 = clock()
            fresh = navigate_frame(frame, kernels=metakernel, register=False)
            layers = {b: dict(bp.arrays) for b, bp in (fresh.backplanes or {}).items()}
            t5 = clock()
            if prof:
                prof.disable()
            for k, v in zip(STAGES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4), strict=True):
                spent[k] += v
            if r == 0:
                results[f"{n}"] = {
                    "detections": [_det_fields(d) for d in fd.detections],
                    "surface": surf,
                    "grid": grid,
                    "observation": {k: v for k, v in vars(obs).items()},
                    "layers": layers,
                }
    with open(out, "wb") as fh:
        pickle.dump(results, fh, protocol=pickle.HIGHEST_PROTOCOL)
    nf = len(items)
    res = {"frames": nf, "ms_per_frame": {k: 1e3 * v / (nf * repeats) for k, v in spent.items()}}
    if prof:
        from bench_rows import profile_rows

        res["profile_tottime_ms_per_frame"] = profile_rows(prof, nf * repeats, 30)
    return res


def _det_fields(d) -> dict:
    out = {k: v for k, v in vars(d).items() if k != "extra"}
    out["extra"] = dict(d.extra)
    return out


def _same(a, b) -> bool:
    """Bit-for-bit equality of nested dicts, lists, arrays and floats (NaN equals NaN)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        if a.dtype.kind == "f":
            return bool(np.array_equal(a.view(np.uint64 if a.itemsize == 8 else np.uint32),
                                       b.view(np.uint64 if b.itemsize == 8 else np.uint32)))  # fmt: skip
        return bool(np.array_equal(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return np.float64(a).view(np.uint64) == np.float64(b).view(np.uint64)
    return type(a) is type(b) and a == b


def _differences(a: dict, b: dict) -> list[str]:
    diffs = []
    for frame in sorted(set(a) | set(b), key=int):
        if frame not in a or frame not in b:
            diffs.append(f"{frame}: missing")
            continue
        for key in a[frame]:
            if not _same(a[frame][key], b[frame][key]):
                diffs.append(f"{frame}:{key}")
    return diffs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--against", default="main")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--campaign", type=Path, default=None)
    ap.add_argument("--work", type=Path, default=None, help="folder of the capture (kept between runs)")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--child", nargs=2, type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--capture-only", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
        print(json.dumps(_child(args.child[0], args.child[1], args.repeats, args.profile)))
        return
    if args.capture_only:
        _capture(args.capture_only.parent / "campaign", args.capture_only)
        return
    here = Path(__file__).resolve().parents[1]
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_geomrec_"))
    work.mkdir(parents=True, exist_ok=True)
    if args.campaign and not (work / "campaign").exists():
        (work / "campaign").symlink_to(args.campaign.resolve())
    capture = work / "capture.pkl"
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    if not capture.exists():
        subprocess.run([sys.executable, __file__, "--capture-only", str(capture)], check=True,
                       env=dict(env, PYTHONPATH=str(here / "src")))  # fmt: skip

    def run(src: Path, tag: str, profile: bool = False) -> dict:
        cmd = [sys.executable, __file__, "--child", str(capture), str(work / f"{tag}.pkl"),
               "--repeats", str(args.repeats)] + (["--profile"] if profile else [])  # fmt: skip
        done = subprocess.run(cmd, check=True, capture_output=True, text=True,
                              env=dict(env, PYTHONPATH=str(src)))  # fmt: skip
        return json.loads(done.stdout.strip().splitlines()[-1])

    if args.profile:
        print(json.dumps(run(here / "src", "profile", profile=True), indent=1))
        return
    tree = Path(tempfile.mkdtemp(prefix="bench_geomrec_rev_")) / "rev"
    subprocess.run(["git", "-C", str(here), "worktree", "add", "--detach", str(tree), args.against],
                   check=True, capture_output=True)  # fmt: skip
    try:
        runs: dict[str, list[dict]] = {"current": [], "rev": []}
        for r in range(args.rounds):
            order = ("current", "rev") if r % 2 == 0 else ("rev", "current")
            for who in order:
                src = here / "src" if who == "current" else tree / "src"
                runs[who].append(run(src, f"{who}{r}"))
        with open(work / "current0.pkl", "rb") as fh:
            a = pickle.load(fh)
        with open(work / "rev0.pkl", "rb") as fh:
            b = pickle.load(fh)
        diffs = _differences(a, b)
    finally:
        subprocess.run(["git", "-C", str(here), "worktree", "remove", "--force", str(tree)],
                       check=False, capture_output=True)  # fmt: skip
        shutil.rmtree(tree.parent, ignore_errors=True)
    stages = {}
    for k in STAGES:
        cur = [x["ms_per_frame"][k] for x in runs["current"]]
        rev = [x["ms_per_frame"][k] for x in runs["rev"]]
        stages[k] = {
            "current_ms": [round(v, 3) for v in cur],
            "rev_ms": [round(v, 3) for v in rev],
            "current_median_ms": round(statistics.median(cur), 3),
            "rev_median_ms": round(statistics.median(rev), 3),
            "ratio_median": round(statistics.median(c / v for c, v in zip(cur, rev, strict=True) if v), 4),
        }
    print(json.dumps({"benchmark": "geomrec", "against": args.against, "rounds": args.rounds,
                      "repeats": args.repeats, "frames": runs["current"][0]["frames"],
                      "bit_for_bit": not diffs, "differences": diffs[:20], "stages": stages},
                     indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
