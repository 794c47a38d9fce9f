"""Start-up cost of detection's compiled loops (:mod:`ioscan.detect.fit_kernels`, numba with an on-disk
cache): what a fresh process — a new Dask worker — pays before its first frame.

Each measurement runs in a fresh interpreter: ``import ioscan.detect`` (numba's own import included), then the
first call of every kernel with the argument types detection gives it (float32 and float64 data where both
occur), then a second call (the steady cost, subtracted). ``cold``: an empty cache folder
(``NUMBA_CACHE_DIR``), so every kernel is compiled and written to it; ``warm``: the same folder again, so
every kernel is loaded from it (what every worker after the first pays on a machine, and every process
after an install). Prints one JSON object: CPU seconds (``time.process_time``: compiling and loading are
CPU-bound, and CPU time depends little on what else the machine runs), median of ``--runs`` fresh processes
each (default 3; each cold run with its own empty folder).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, time
t0 = time.process_time()
import numpy as np
import ioscan.detect  # noqa: F401  (detection and its kernels, as a worker imports them)
from ioscan.detect import fit_kernels as fk
t_import = time.process_time() - t0
rng = np.random.default_rng(0)
n, m, big = 4, 5, 21
lo, w, hf = 5, 11, 5
p, dpx, dpy = rng.normal(size=(3, n, m, m))
wt = rng.uniform(0.5, 2, (n, m, m))
ok = np.ones((n, m, m), bool)
inv = np.arange(n * m * m)
stack = rng.normal(size=(3, n, big, big))
c = np.ones((1, big, big)); c[0, lo + 2, lo + 3] = 0.0
q = np.column_stack([np.full(n, 100.0), np.full(n, 5.0), np.full(n, 5.0), np.ones(n), np.ones(n),
                     np.zeros(n), np.zeros(n), np.zeros(n)])
g1 = rng.uniform(0, 1, (n, 2, 11))
mm = 11
xc = np.tile(np.arange(mm) - 5.0, (mm, 1))
jac = rng.normal(size=(n, mm, mm, 8)); stm = rng.normal(size=(n, mm, mm)); wm = np.ones((n, mm, mm))
erf_ab = rng.normal(size=(2, 2, 2, 40))
erf_idx = np.arange(erf_ab.size).reshape(erf_ab.shape)
calls = {
    "psf_stamps": lambda: fk.psf_stamps(rng.uniform(0, 1, (2, 2, n * m)), rng.normal(size=(2, 2, n * m)),
                                        np.array([0.9, 0.1]), n, m, True),
    "fill_unclean": lambda: fk.fill_unclean(stack, c, np.array([0]), np.array([2]), np.zeros((1, w), bool),
                                            np.ones((1, w)), np.array([2]), lo, hf, 3,
                                            np.ascontiguousarray(stack[..., lo:lo + w, lo:lo + w])),
    "source_fit_sums_f32": lambda: fk.source_fit_sums(p, dpx, dpy, wt, p.astype(np.float32), ok, ok, inv,
                                                      inv.size, np.ones(n), True, True),
    "source_fit_sums_f64": lambda: fk.source_fit_sums(p, dpx, dpy, wt, p.copy(), ok, ok, inv, inv.size,
                                                      np.ones(n), True, True),
    "linear_flux_f32": lambda: fk.linear_flux(p, wt, p.astype(np.float32)),
    "weighted_chi2": lambda: fk.weighted_chi2(wt, p, np.ones(n), dpx),
    "elliptical_model": lambda: fk.elliptical_model(q, g1, g1, g1, xc, xc.T.copy()),
    "normal_equations": lambda: fk.normal_equations(jac, wm, stm, stm, np.arange(n), np.empty((n, 8, 8)),
                                                    np.empty((n, 8))),
    "weighted_misfit": lambda: fk.weighted_misfit(wm, stm, stm),
    "median3_finite_f32": lambda: fk.median3_finite(rng.normal(size=(64, 64)).astype(np.float32)),
    "median3_finite_f64": lambda: fk.median3_finite(rng.normal(size=(64, 64))),
    "level_crossings": lambda: fk.level_crossings(g1[0].astype(np.float32), np.arange(11.0), np.float32(0.5)),
    "steepest_rise": lambda: fk.steepest_rise(g1[0].astype(np.float32), np.arange(11.0) - 5, 1.5,
                                              np.float32(2), np.float32(0.5)),
    "steepest_rise_f64": lambda: fk.steepest_rise(g1[0], np.arange(11.0) - 5, 1.5, 2.0, 0.5),
    "local_maxima": lambda: fk.local_maxima(rng.normal(size=(64, 64)).astype(np.float32), np.float32(1.6)),
    "profile_arguments": lambda: fk.profile_arguments(rng.normal(size=(2, 40)), np.ones((2, 2)), 1.4),
    "shared_erf_arguments": lambda: fk.shared_erf_arguments(erf_ab),
    "profile_values_shared": lambda: fk.profile_values_shared(erf_ab.reshape(-1), erf_idx, erf_ab + 1.0,
                                                              np.ones((2, 2)), 2.5),
}
first, steady = {}, {}
for name, fn in calls.items():
    t = time.process_time(); fn(); first[name] = time.process_time() - t
    t = time.process_time(); fn(); steady[name] = time.process_time() - t
print(json.dumps({"import_s": t_import, "first_calls_s": sum(first.values()) - sum(steady.values()),
                  "per_kernel_s": {k: first[k] - steady[k] for k in first}}))
"""


def _child(cache_dir: str) -> dict:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="fresh processes per measurement")
    args = ap.parse_args()
    cold, warm = [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="ioscan_numba_") as d:
            cold.append(_child(d))
            warm.append(_child(d))

    def med(rows, key):
        return round(statistics.median(r[key] for r in rows), 3)

    kernels = cold[0]["per_kernel_s"]
    print(
        json.dumps(
            {
                "runs": args.runs,
                "cold_import_s": med(cold, "import_s"),
                "cold_compile_first_calls_s": med(cold, "first_calls_s"),
                "warm_import_s": med(warm, "import_s"),
                "warm_load_first_calls_s": med(warm, "first_calls_s"),
                "cold_per_kernel_s": {
                    k: round(statistics.median(r["per_kernel_s"][k] for r in cold), 3) for k in kernels
                },
                "warm_per_kernel_s": {
                    k: round(statistics.median(r["per_kernel_s"][k] for r in warm), 4) for k in kernels
                },
            }
        )
    )


if __name__ == "__main__":
    main()
