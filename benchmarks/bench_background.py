"""Benchmark: ``estimate_background`` against git revision REV (issue 15).

Captures the ``estimate_background`` calls that ``detect_frame`` makes on bench_scan's campaign (64 JIRAM
frames, told the pointing error: :func:`bench_second_pass.simulate_calls`) — the first pass's (``band``) and
the second pass's (``second_pass``: ``second_background`` and its windows) apart —, then runs each call with
the current ``background`` module and with the one of REV (``background`` and ``background_kernels`` loaded
from ``git show REV:...`` under other names), the two alternating pass by pass for ``--rounds`` rounds after
a warm-up round: CPU ms per frame (``time.thread_time``; set OPENBLAS_NUM_THREADS=1), median and mean over
rounds, and whether every ``BandModel`` is the same, field by field (NaN equal to NaN).

    OPENBLAS_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_background.py [--against main] [--rounds 5]
        [--capture PKL]
"""

from __future__ import annotations

import argparse
import copy
import json
import pickle
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_second_pass import import_old, same, simulate_calls, source_at  # noqa: E402


def load_old(rev: str, where: Path):
    """``ioscan.detect.background`` as it was at ``rev`` (with its own kernels module), importable beside the
    current one."""
    for name in ("background_kernels", "background"):
        text = source_at(rev, name)
        old_import = "from ioscan.detect import background_kernels as kernels"
        text = text.replace(old_import, "import _old_background_kernels as kernels")
        (where / f"_old_{name}.py").write_text(text)
    return import_old(where, ("background_kernels", "background"))["background"]


def capture(calls: list) -> dict:
    """The ``estimate_background`` calls (deep copies of their arguments) of ``detect_frame`` over ``calls``,
    by pass: "first" (``band``'s) and "second" (``second_pass``'s)."""
    import ioscan.detect.band as band
    import ioscan.detect.second_pass as second_pass
    from ioscan.detect import detect_frame

    cap: dict = {"first": [], "second": []}
    orig = band.estimate_background
    orig_sp = second_pass.estimate_background

    def wrap(which, f):
        def g(data, **kw):
            cap[which].append(copy.deepcopy((data, kw)))
            return f(data, **kw)

        return g

    try:
        band.estimate_background = wrap("first", orig)
        second_pass.estimate_background = wrap("second", orig_sp)
        for c in calls:
            detect_frame(*c[:2], config=c[2])
    finally:
        band.estimate_background = orig
        second_pass.estimate_background = orig_sp
    cap["n_frames"] = len(calls)
    return cap


def run(cap: dict, rounds: int, against: str) -> dict:
    """Each pass's captured calls with the current module and REV's in turn (the first order alternating by
    round), after a warm-up round that also compares every result."""
    from ioscan.detect import background as new

    with tempfile.TemporaryDirectory() as tmp:
        old = load_old(against, Path(tmp))
        nf = cap["n_frames"]
        report: dict = {"frames": nf, "rounds": rounds, "against": against, "clock": "thread CPU"}
        for which in ("first", "second"):
            ms = {"new": [], "old": []}
            identical = True
            for r in range(rounds + 1):
                order = (("new", new), ("old", old)) if r % 2 else (("old", old), ("new", new))
                for who, mod in order:
                    t = time.thread_time()
                    out = [mod.estimate_background(d, **kw) for d, kw in cap[which]]
                    ms[who].append(1e3 * (time.thread_time() - t) / nf)
                    if r == 0:
                        if who == "new":
                            got_new = out
                        else:
                            got_old = out
                if r == 0:
                    identical = all(same(a, b) for a, b in zip(got_new, got_old, strict=True))
            report[which] = {
                "calls": len(cap[which]),
                "identical": identical,
                **{
                    f"{who}_ms_per_frame": {
                        "median": round(float(np.median(v[1:])), 3),
                        "mean": round(float(np.mean(v[1:])), 3),
                    }
                    for who, v in ms.items()
                },
            }
            report[which]["ratio_median"] = round(
                report[which]["new_ms_per_frame"]["median"] / report[which]["old_ms_per_frame"]["median"], 3
            )
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--against", default="main")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--capture", help="pickle of the captured calls: read if it exists, else written")
    args = ap.parse_args()
    path = Path(args.capture) if args.capture else None
    if path is not None and path.exists():
        cap = pickle.loads(path.read_bytes())
    else:
        cap = capture(simulate_calls())
        if path is not None:
            path.write_bytes(pickle.dumps(cap))
    print(json.dumps({"benchmark": "background_against", **run(cap, args.rounds, args.against)}, indent=1))


if __name__ == "__main__":
    main()
