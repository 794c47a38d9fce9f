"""The compiled kernels a scan's workers start with (issue 15): the forkserver loads every overload numba's
disk cache holds for this machine and source, compiling nothing, and the workers forked from it inherit
them (their first product loads none); a scan starts that server as it begins, before it plans."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ioscan.workflows import cluster

_KERNEL_SOURCE = """
from numba import njit

@njit(cache=True)
def twice(x):
    return 2 * x
"""

_LOAD = """
import json, sys
import ioscan.workflows.worker_preload as preload
import probe_kernels
before = probe_kernels.twice.signatures
n = preload.load_cached_kernels("probe_kernels")
signatures = sorted(map(str, probe_kernels.twice.signatures))
value = probe_kernels.twice(21.5)
misses = sum(probe_kernels.twice.stats.cache_misses.values())
facts = {"before": len(before), "loaded": n, "signatures": signatures, "misses": misses, "value": value}
print(json.dumps(facts))
"""


def _python(code: str, path: Path) -> dict:
    env_path = f"{path}:{Path(cluster.__file__).parents[2]}"
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=True,
        env={**__import__("os").environ, "PYTHONPATH": env_path},
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_cached_overloads_load_without_compiling_and_stale_ones_are_skipped(tmp_path):
    module = tmp_path / "probe_kernels.py"
    module.write_text(_KERNEL_SOURCE)
    # a first process compiles two overloads into the disk cache
    fill = "import json, probe_kernels; print(json.dumps([probe_kernels.twice(1.5), probe_kernels.twice(3)]))"
    assert _python(fill, tmp_path) == [3.0, 6]
    loaded = _python(_LOAD, tmp_path)
    assert loaded["before"] == 0 and loaded["loaded"] == 2
    assert loaded["signatures"] == ["(float64,)", "(int64,)"]
    assert loaded["misses"] == 0 and loaded["value"] == 43.0  # the float64 overload ran, none compiled
    # the source changed: its cache is stale, nothing is loaded (the kernel compiles at its first call)
    module.write_text(_KERNEL_SOURCE.replace("2 * x", "2 * x + 0"))
    stale = _python(_LOAD, tmp_path)
    assert stale["loaded"] == 0 and stale["misses"] == 1 and stale["value"] == 43.0


_INHERIT = """
import json
from ioscan.detect import background_kernels

def worker_kernels():
    import os
    from ioscan.detect import background_kernels as bk
    from ioscan.workflows.worker_preload import cached_dispatchers
    n_before = sum(len(d.overloads) for d in cached_dispatchers())
    bk.warm_up()  # every background kernel called as detection calls it
    hits = sum(sum(d.stats.cache_hits.values()) for d in cached_dispatchers())
    misses = sum(sum(d.stats.cache_misses.values()) for d in cached_dispatchers())
    return {"ppid": os.getppid(), "overloads": n_before, "cache_hits": hits, "misses": misses}

if __name__ == "__main__":
    import os
    background_kernels.warm_up()  # the disk cache holds these kernels (compiled now if it did not)
    from ioscan.workflows.cluster import dask_client
    with dask_client(None, 1) as client:
        facts = list(client.run(worker_kernels).values())
    print(json.dumps({"facts": facts, "me": os.getpid()}))
"""


@pytest.mark.skipif(
    cluster.WORKER_START_METHOD not in __import__("multiprocessing").get_all_start_methods(),
    reason="no forkserver on this platform",
)
def test_workers_forked_from_the_server_hold_the_cached_kernels_before_their_first_product(tmp_path):
    script = tmp_path / "inherit.py"  # a file, as a script's functions reach a forked worker through it
    script.write_text(_INHERIT)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    (facts,) = out["facts"]
    assert facts["ppid"] != out["me"]  # forked by the server
    assert facts["overloads"] >= 16  # at least the background kernels, loaded before the worker ran any
    # the worker's calls found them in memory: none loaded from the disk cache in the worker, none compiled
    assert facts["cache_hits"] == 0 and facts["misses"] == 0


def test_a_scan_with_its_own_workers_starts_their_server_once_it_has_found_products(monkeypatch, tmp_path):
    from ioscan.catalog.store import open_store
    from ioscan.formats import ProductSearch
    from ioscan.workflows import scan as scan_module

    calls: list[str] = []
    monkeypatch.setattr(cluster, "start_worker_server", lambda: calls.append("server"))
    monkeypatch.setattr(scan_module._Runner, "run", lambda self, items, **kw: calls.append("run"))
    import ioscan.formats as formats  # scan() imports search_products from there when it runs

    real_search = formats.search_products
    empty = tmp_path / "empty"
    empty.mkdir()
    one = ProductSearch(products=[tmp_path / "JIR_IMG_RDR_2017244T000000_V01.LBL"])
    with open_store(tmp_path / "c.db") as store:
        for workers, scheduler in ((2, None), (0, None), (2, "tcp://127.0.0.1:1")):
            own_workers = bool(workers and not scheduler)
            # nothing found: no server (it would outlive a scan that ends at once)
            monkeypatch.setattr(
                formats, "search_products", lambda p: calls.append("search") or real_search(p)
            )
            calls.clear()
            scan_module.scan([empty], store=store, workers=workers, scheduler=scheduler)
            assert calls == ["search", "run"]
            # a product found: the server starts before the runner claims and processes it
            monkeypatch.setattr(formats, "search_products", lambda p: calls.append("search") or one)
            calls.clear()
            scan_module.scan([tmp_path], store=store, workers=workers, scheduler=scheduler)
            assert calls == (["search", "server", "run"] if own_workers else ["search", "run"])
