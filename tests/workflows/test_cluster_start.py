"""How a scan's processes start (issue 15): reading settings imports neither pandas nor scipy.optimize; a
scan's own LocalCluster forks its workers from a forkserver that imported the pipeline once and never loaded
a SPICE kernel, each worker loading its own after the fork."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ioscan.workflows import cluster

_SETTINGS = """
import sys
from ioscan.settings import Settings
Settings.load(overrides=["track.n_sigma=4", "track.mixture.nu=5"])
print(" ".join(m for m in ("pandas", "scipy.optimize", "scipy.spatial", "sqlalchemy") if m in sys.modules))
"""

_PRELOAD = """
import importlib, sys
from ioscan.workflows.cluster import PRELOADED_MODULES, WORKER_PRELOAD
for name in WORKER_PRELOAD + PRELOADED_MODULES:  # each one importable (the forkserver skips one that fails)
    importlib.import_module(name)
import spiceypy
print(spiceypy.ktotal("ALL"), "ioscan.geometry.spice_provider" in sys.modules)
"""


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout


def test_reading_settings_imports_no_pandas_nor_scipy_optimize():
    assert _run(_SETTINGS).strip() == ""


def test_the_tracker_settings_are_the_classes_its_steps_use():
    from ioscan.settings import Settings
    from ioscan.track import error_model, mixture, night_offsets

    s = Settings.load(overrides=["track.mixture.nu=5", "track.error_model.max_iter=3"])
    assert isinstance(s.track.mixture, mixture.MixtureConfig) and s.track.mixture.nu == 5.0
    assert isinstance(s.track.error_model, error_model.ErrorModelConfig) and s.track.error_model.max_iter == 3
    assert isinstance(s.track.night_offsets, night_offsets.NightOffsetConfig)


def test_the_forkserver_preload_imports_and_loads_no_kernel():
    total, provider_imported = _run(_PRELOAD).split()
    assert total == "0"  # CSPICE's kernel pool is empty in the process the workers are forked from
    assert provider_imported == "True"  # the pipeline (which holds the SPICE provider) is preloaded


def _worker_facts() -> dict:
    import spiceypy

    return {
        "ppid": os.getppid(),
        "kernels": spiceypy.ktotal("ALL"),
        "pipeline": "ioscan.geometry.navigate" in sys.modules,
        "hash": hash("ioscan"),
    }


def _hash_with_seed(seed: str) -> int:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    code = 'print(hash("ioscan"))'
    return int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env).stdout)


@pytest.mark.skipif(
    cluster.WORKER_START_METHOD not in __import__("multiprocessing").get_all_start_methods(),
    reason="no forkserver on this platform",
)
def test_workers_are_forked_from_the_forkserver_each_with_its_own_kernels(small_campaign):
    seed = os.environ.get("PYTHONHASHSEED")
    seed = "6640" if seed in (None, "0") else seed  # what Dask's nanny gives a spawned worker
    with cluster.dask_client(None, 2, str(small_campaign.metakernel)) as client:
        facts = list(client.run(_worker_facts).values())
    assert len(facts) == 2 and all(f["pipeline"] for f in facts)
    parents = {f["ppid"] for f in facts}
    assert len(parents) == 1 and os.getpid() not in parents  # both forked by one server, not by this process
    assert all(f["kernels"] > 0 for f in facts)  # the scan's kernels furnished in each worker, after the fork
    # the server started with the environment the nanny gives a worker (here: its hash seed)
    assert {f["hash"] for f in facts} == {_hash_with_seed(seed)}
