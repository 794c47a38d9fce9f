"""Imported once by the forkserver a scan's LocalCluster forks its workers from
(:data:`ioscan.workflows.cluster.WORKER_PRELOAD`), so that no worker pays it again: the modules a worker
uses (:data:`~ioscan.workflows.cluster.PRELOADED_MODULES`) and numba's typing and lowering registries (which
numba otherwise fills when a worker's first compiled kernel loads from its cache, ~0.2-0.3 s). Nothing here
loads a SPICE kernel or starts a thread: each worker loads its kernels after the fork."""

from __future__ import annotations

import contextlib
import importlib

from ioscan.workflows.cluster import PRELOADED_MODULES


def preload() -> None:
    """Import :data:`~ioscan.workflows.cluster.PRELOADED_MODULES` (one that fails is left to the worker,
    which reports it) and fill numba's registries."""
    for name in PRELOADED_MODULES:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    from numba.core.registry import cpu_target

    cpu_target.typing_context.refresh()
    cpu_target.target_context.refresh()


preload()
