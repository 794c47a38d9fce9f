"""Hold the BLAS libraries numpy and scipy loaded (OpenBLAS) to one thread while a scan processes products.

A Dask worker runs its products with one BLAS thread (the nanny sets ``OPENBLAS_NUM_THREADS=1`` before it
starts the process); a scan in the calling process found OpenBLAS with one thread per core already running,
and that pool spun on the second core (~40 ms of CPU per frame on 2 cores) and summed some products in
another order, so a few detections' values differed from a Dask scan in their last bits.
:func:`one_blas_thread` sets every loaded OpenBLAS to one thread for the scan (and back after), through the
library's own ``openblas_set_num_threads``, which needs no environment variable set before numpy was
imported.
"""

from __future__ import annotations

import contextlib
import ctypes
import sys
from collections.abc import Iterator
from pathlib import Path

#: the setter and getter names the OpenBLAS builds numpy and scipy ship export (scipy-openblas, 64-bit
#: integer or not; a plain OpenBLAS)
_NAMES = (
    ("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
    ("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"),
    ("openblas_set_num_threads64_", "openblas_get_num_threads64_"),
    ("openblas_set_num_threads", "openblas_get_num_threads"),
)


def _loaded_openblas() -> list[str]:
    """Paths of the OpenBLAS libraries mapped into this process (Linux: ``/proc/self/maps``; elsewhere the
    ones numpy and scipy ship beside their packages)."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as fh:
            paths = {line.split(maxsplit=5)[-1].strip() for line in fh if "openblas" in line.lower()}
        return sorted(p for p in paths if p.startswith("/"))
    except OSError:
        pass
    found = []
    for name in ("numpy", "scipy"):
        mod = sys.modules.get(name)
        if mod is None or not getattr(mod, "__file__", None):
            continue
        root = Path(mod.__file__).parent
        for folder in (root.parent / f"{name}.libs", root / ".dylibs"):
            if folder.is_dir():
                found += [str(p) for p in folder.iterdir() if "openblas" in p.name.lower()]
    return sorted(found)


def _controls() -> list[tuple[object, object]]:
    """(set_num_threads, get_num_threads) of every loaded OpenBLAS."""
    out = []
    for path in _loaded_openblas():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for set_name, get_name in _NAMES:
            setter, getter = getattr(lib, set_name, None), getattr(lib, get_name, None)
            if setter is not None and getter is not None:
                setter.argtypes, setter.restype = [ctypes.c_int], None
                getter.argtypes, getter.restype = [], ctypes.c_int
                out.append((setter, getter))
                break
    return out


def blas_threads() -> list[int]:
    """The thread count of every loaded OpenBLAS (empty when none is found)."""
    return [int(get()) for _, get in _controls()]


def limit_blas_threads(n: int = 1) -> list[tuple[object, int]]:
    """Set every loaded OpenBLAS to ``n`` threads; returns what to restore (setter, previous count)."""
    previous = []
    for setter, getter in _controls():
        before = int(getter())
        setter(n)
        previous.append((setter, before))
    return previous


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Every loaded OpenBLAS held to one thread inside the block, as on a Dask worker."""
    previous = limit_blas_threads(1)
    try:
        yield
    finally:
        for setter, before in previous:
            setter(before)
