"""Hold the BLAS libraries numpy and scipy loaded (OpenBLAS) to one thread while a scan processes products.

A Dask worker runs its products with one BLAS thread (the nanny sets ``OPENBLAS_NUM_THREADS=1`` before it
starts the process); a scan in the calling process found OpenBLAS with one thread per core already running,
and that pool spun on the second core (~40 ms of CPU per frame on 2 cores) and summed some products in
another order, so a few detections' values differed from a Dask scan in their last bits.
:func:`one_blas_thread` sets every loaded BLAS to one thread for the scan (and back after) through
``threadpoolctl``, which calls each library's own setter and needs no environment variable set before numpy
was imported.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from threadpoolctl import threadpool_info, threadpool_limits


def blas_threads() -> list[int]:
    """The thread count of every loaded BLAS library (empty when none is found)."""
    return [int(lib["num_threads"]) for lib in threadpool_info() if lib["user_api"] == "blas"]


def limit_blas_threads(n: int = 1) -> threadpool_limits:
    """Set every loaded BLAS to ``n`` threads; ``.restore_original_limits()`` of the result puts them back."""
    return threadpool_limits(limits=n, user_api="blas")


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Every loaded BLAS held to one thread inside the block, as on a Dask worker."""
    limiter = limit_blas_threads(1)
    try:
        yield
    finally:
        limiter.restore_original_limits()
