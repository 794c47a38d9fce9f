"""Imported once by the forkserver a scan's LocalCluster forks its workers from
(:data:`ioscan.workflows.cluster.WORKER_PRELOAD`), so that no worker pays it again: the modules a worker
uses (:data:`~ioscan.workflows.cluster.PRELOADED_MODULES`), numba's typing and lowering registries (which
numba otherwise fills when a worker's first compiled kernel loads from its cache, ~0.2-0.3 s) and the
machine code of every compiled kernel found in numba's on-disk cache (:func:`load_cached_kernels`, which a
worker's first product otherwise loads kernel by kernel). Nothing here loads a SPICE kernel, starts a thread
or compiles anything: each worker loads its SPICE kernels after the fork, and a kernel not in the cache is
compiled where it is first called, as before."""

from __future__ import annotations

import contextlib
import importlib
import sys

from ioscan.workflows.cluster import PRELOADED_MODULES


def preload() -> None:
    """Import :data:`~ioscan.workflows.cluster.PRELOADED_MODULES` (one that fails is left to the worker,
    which reports it), fill numba's registries and load the cached kernels."""
    for name in PRELOADED_MODULES:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    from numba.core.registry import cpu_target

    cpu_target.typing_context.refresh()
    cpu_target.target_context.refresh()
    # numba's cache internals read here are not public API: if a numba release moves them, the workers load
    # their kernels at their first call as before, rather than the server failing to start
    with contextlib.suppress(AttributeError, TypeError):
        load_cached_kernels()


def cached_dispatchers(prefix: str = "ioscan.") -> list:
    """Every numba dispatcher compiled with ``cache=True`` in the imported modules named ``prefix``…"""
    from numba.core.caching import NullCache
    from numba.core.dispatcher import Dispatcher

    found: dict[int, object] = {}
    for name, module in list(sys.modules.items()):
        if not name.startswith(prefix) or module is None:
            continue
        for value in list(vars(module).values()):
            if isinstance(value, Dispatcher) and not isinstance(value._cache, NullCache):
                found[id(value)] = value
    return list(found.values())


def load_cached_kernels(prefix: str = "ioscan.") -> int:
    """Load into this process every overload that numba's on-disk cache holds, fresh and for this machine,
    for the dispatchers of :func:`cached_dispatchers` (what their first call would load); never compiles.
    Forked workers inherit the machine code. Returns how many overloads were loaded."""
    return sum(_load_cached_overloads(d) for d in cached_dispatchers(prefix))


def _load_cached_overloads(dispatcher) -> int:
    """The cached overloads of one dispatcher whose index key (signature, machine, bytecode) matches this
    process, loaded as ``Dispatcher.compile`` loads one from the cache; a failed load is skipped."""
    from numba.core import sigutils
    from numba.core.compiler_lock import global_compiler_lock

    cache = dispatcher._cache
    codegen = dispatcher.targetctx.codegen()
    loaded = 0
    with global_compiler_lock:
        for key in list(cache._cache_file._load_index()):
            sig = key[0]
            if key != cache._index_key(sig, codegen):
                continue  # another machine's, or older bytecode's
            args, _ = sigutils.normalize_signature(sig)
            if dispatcher.overloads.get(tuple(args)) is not None:
                continue
            cres = cache.load_overload(sig, dispatcher.targetctx)
            if cres is None:
                continue
            if not cres.objectmode:
                dispatcher.targetctx.insert_user_function(cres.entry_point, cres.fndesc, [cres.library])
            dispatcher.add_overload(cres)
            loaded += 1
    return loaded


preload()
