"""One compile per kernel across a test run's processes: a file lock around numba's load-or-compile step.

``make test`` runs two pytest-xdist workers. On a fresh checkout numba's disk cache (``cache=True``) is empty
and both workers reach the same kernels at about the same time (neighbouring test files use the same
detection code), so each compiles them — ~1-20 s of CPU per kernel family — and their concurrent writes of a
kernel's cache index can drop each other's overloads, which then compile again later. With
:func:`install`, a process that is about to load or compile a ``cache=True`` kernel first takes an exclusive
``flock`` on a lock file of that kernel's cache index: a second process waits, then loads what the first
saved. Nothing compiled changes (the same compiler, the same cache files); only who compiles.

The lock is taken inside numba's own (re-entrant, per-process) compiler lock, so threads of one process never
wait on each other's file lock; a kernel whose compile needs another kernel nests the second lock inside the
first (a cycle would need mutually recursive kernels, which numba's cache does not support anyway).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

#: where the lock files live (shared by every process of the machine's test runs; empty files)
LOCK_DIR = Path(tempfile.gettempdir()) / "ioscan-test-numba-locks"


def _lock_path(dispatcher) -> Path | None:
    """The lock file of ``dispatcher``'s on-disk cache index, or None for a kernel without ``cache=True``."""
    cache_file = getattr(getattr(dispatcher, "_cache", None), "_cache_file", None)
    index = getattr(cache_file, "_index_path", None)
    if index is None:
        return None
    return LOCK_DIR / (hashlib.sha256(os.fsencode(index)).hexdigest()[:32] + ".lock")


def locked_compile(original: Callable, held: set[Path]) -> Callable:
    """``Dispatcher.compile`` wrapped: the numba compiler lock, then this kernel's file lock (taken once per
    process: ``held`` holds the paths this process has locked), then ``original``."""
    from numba.core.compiler_lock import global_compiler_lock

    def compile(self, sig):
        path = _lock_path(self)
        if path is None:
            return original(self, sig)
        with global_compiler_lock:
            if path in held:  # a nested compile of the same kernel (another signature) in this process
                return original(self, sig)
            LOCK_DIR.mkdir(parents=True, exist_ok=True)
            with open(path, "a") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)
                held.add(path)
                try:
                    return original(self, sig)
                finally:
                    held.discard(path)
                    fcntl.flock(fh, fcntl.LOCK_UN)

    compile.__wrapped__ = original
    return compile


def install() -> bool:
    """Wrap numba's ``Dispatcher.compile`` in this process (once); False where it already is."""
    from numba.core.dispatcher import Dispatcher

    if hasattr(Dispatcher.compile, "__wrapped__"):
        return False
    Dispatcher.compile = locked_compile(Dispatcher.compile, set())
    return True
