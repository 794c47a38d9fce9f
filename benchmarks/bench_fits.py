"""Benchmark: the PSF fits, the fill's flux errors and the edge refits against git revision REV (issue 15).

Captures the calls of ``psf_photometry`` (the first pass's and the second pass's fits), ``fill_flux_err``
and ``flag_edge_refits`` that ``detect_frame`` makes on bench_scan's campaign (64 JIRAM frames, told the
pointing error; or the detect_frame calls pickled by ``--calls``, as /work/notes/prof's detprof.py makes
them), then runs each as it is and as it was at REV (psf, fit_kernels, photometry and edge_refit loaded from
``git show REV:...`` under other names; the captured PSF models rebuilt as REV's class), alternating call by
call for ``--rounds`` rounds after one warm-up round: CPU ms per frame of each, median and mean over rounds,
and whether every result is the same (fits field by field, errors, the detections' flags and extras; NaN
equal to NaN).

    PYTHONPATH=src python benchmarks/bench_fits.py [--against main] [--rounds 5] [--calls PKL]
        [--capture PKL] [--frames N]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import pickle
import sys
import tempfile
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # (before numpy is imported: one BLAS thread, as a scan's Dask worker runs)


sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_second_pass import import_old, interleaved_steps, simulate_calls, source_at  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MODULES = ("fit_kernels", "psf", "photometry", "edge_refit")


def load_old(rev: str, where: Path) -> dict:
    """The four modules as they were at ``rev``, importable side by side with the current ones."""
    for name in MODULES:
        text = source_at(rev, name)
        for other in MODULES:
            text = text.replace(f"from ioscan.detect.{other} import", f"from _old_{other} import")
            text = text.replace(f"from ioscan.detect import {other}\n", f"import _old_{other} as {other}\n")
        (where / f"_old_{name}.py").write_text(text)
    return import_old(where, MODULES)


def capture(calls: list) -> dict:
    """The three steps' arguments (deep copies, as each was called) over ``detect_frame`` of ``calls``."""
    import ioscan.detect.band as band
    import ioscan.detect.photometry as photometry
    from ioscan.detect import detect_frame

    cap: dict = {"psf_photometry": [], "fill_flux_err": [], "flag_edge_refits": []}
    where = {"psf_photometry": photometry, "fill_flux_err": band, "flag_edge_refits": band}
    orig = {name: getattr(mod, name) for name, mod in where.items()}

    def wrap(name):
        def g(*a, **k):
            cap[name].append(copy.deepcopy((a, k)))
            return orig[name](*a, **k)

        return g

    try:
        for name, mod in where.items():
            setattr(mod, name, wrap(name))
        for c in calls:
            detect_frame(*c[:2], config=c[2])
    finally:
        for name, mod in where.items():
            setattr(mod, name, orig[name])
    cap["n_frames"] = len(calls)
    return cap


def as_class(value, psf_cls):
    """``value`` with every PSF model (top level, tuples) rebuilt as ``psf_cls``."""
    if type(value).__name__ == "PsfModel":
        return psf_cls(value.weights, value.sigmas_px, value.elongation)
    if isinstance(value, tuple):
        return tuple(as_class(v, psf_cls) for v in value)
    return value


def runners(mods: dict) -> dict:
    """Each step with ``mods``' modules; returns what it gives (the edge refits: the detections' flags and
    extras and the count)."""
    cls = mods["psf"].PsfModel

    def fit(a, k):
        return mods["photometry"].psf_photometry(*as_class(a, cls), **k)

    def fill(a, k):
        return mods["photometry"].fill_flux_err(*as_class(a, cls), **k)

    def edge(a, k):
        a = as_class(a, cls)
        n = mods["edge_refit"].flag_edge_refits(*a, **k)
        return n, [(d.flags, d.extra) for d in a[0]]

    return {"psf_photometry": fit, "fill_flux_err": fill, "flag_edge_refits": edge}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--against", default="main", help="git revision to compare with")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--calls", help="pickled detect_frame calls (detprof.py's cache); default: simulate")
    ap.add_argument("--frames", type=int, default=0, help="of those, every k-th to make N frames (0: all)")
    ap.add_argument("--capture", help="pickle of the captured step calls: read if it exists, else written")
    ap.add_argument("--steps", default="psf_photometry,fill_flux_err,flag_edge_refits")
    args = ap.parse_args()
    if args.capture and Path(args.capture).exists():
        cap = pickle.loads(Path(args.capture).read_bytes())
    else:
        calls = pickle.loads(Path(args.calls).read_bytes()) if args.calls else simulate_calls()
        if args.frames:
            calls = calls[:: max(1, len(calls) // args.frames)][: args.frames]
        cap = capture(calls)
        del calls
        if args.capture:
            Path(args.capture).write_bytes(pickle.dumps(cap))
    import ioscan.detect.edge_refit as edge_refit_new
    import ioscan.detect.fit_kernels as fit_kernels_new
    import ioscan.detect.photometry as photometry_new
    import ioscan.detect.psf as psf_new

    old = load_old(args.against, Path(tempfile.mkdtemp()))
    new = {
        "fit_kernels": fit_kernels_new,
        "psf": psf_new,
        "photometry": photometry_new,
        "edge_refit": edge_refit_new,
    }
    run = {"new": runners(new), "old": runners(old)}
    call = lambda who, step, a, k: run[who][step](a, k)  # noqa: E731
    print(
        json.dumps(interleaved_steps(cap, args.steps.split(","), args.rounds, args.against, call), indent=1)
    )


if __name__ == "__main__":
    main()
