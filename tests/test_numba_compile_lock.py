"""The test run's numba compile lock (``tests/numba_compile_lock.py``): processes reaching the same cached
kernel at once compile it once, the others load it; a kernel calling another compiles and gives its values."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

_KERNELS = """
from numba import njit

@njit(cache=True)
def inner(x):
    return x * x

@njit(cache=True)
def outer(x):
    return inner(x) + inner(x + 1)
"""

#: one process: wait until every process is ready, then call the kernels (with or without the lock)
_RUN = """
import json, sys, time
from pathlib import Path
sys.path[:0] = [{tests!r}, {tmp!r}]
if {lock!r}:
    import numba_compile_lock
    numba_compile_lock.LOCK_DIR = Path({tmp!r}) / "locks"
    assert numba_compile_lock.install() and not numba_compile_lock.install()
import probe_kernels as k
Path({tmp!r}, "ready_" + sys.argv[1]).touch()
while len(list(Path({tmp!r}).glob("ready_*"))) < {n}:
    time.sleep(0.001)
values = [k.outer(3), k.outer(2.5), k.inner(4)]
misses = sum(sum(d.stats.cache_misses.values()) for d in (k.inner, k.outer))
print(json.dumps({{"values": values, "misses": misses}}))
"""


def _run_at_once(tmp: Path, n: int, lock: bool) -> list[dict]:
    """Start ``n`` processes that call the probe kernels at the same moment; their values and cache misses."""
    code = textwrap.dedent(_RUN.format(tests=str(Path(__file__).parent), tmp=str(tmp), lock=lock, n=n))
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(i)], stdout=subprocess.PIPE, text=True, env=env)
        for i in range(n)
    ]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    return [json.loads(o.strip().splitlines()[-1]) for o in outs]


def test_processes_compiling_at_once_compile_each_overload_once(tmp_path):
    (tmp_path / "probe_kernels.py").write_text(_KERNELS)
    runs = _run_at_once(tmp_path, 3, lock=True)
    assert all(r["values"] == [25, 18.5, 16] for r in runs)
    # outer(int), outer(float), inner(int), inner(float): 4 overloads, each compiled by one process only
    assert sum(r["misses"] for r in runs) == 4
