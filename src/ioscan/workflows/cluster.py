"""The Dask side of a scan: the cluster, the worker plugin that prepares each worker once, the task.

* :func:`dask_client` — a client on a ``LocalCluster`` of single-threaded worker processes (CSPICE is not
  thread-safe), or on the scheduler at ``tcp://host:port``; closed in order, shutdown chatter kept quiet.
  The LocalCluster's workers are forked from a ``forkserver`` that imported the pipeline once and loaded
  the compiled kernels from numba's cache (:data:`WORKER_PRELOAD`, :mod:`ioscan.workflows.worker_preload`;
  no SPICE kernel there), so a worker's start-up is its plugin's setup; a scan starts that server as it
  begins (:func:`start_worker_server`), so that its imports run while the scan plans; the server lives as
  long as the calling process, and later scans in it fork from it too.
* :class:`ScanWorkerPlugin` — runs once in every worker when it joins: the pipeline's modules imported, BLAS
  held to one thread (:mod:`~ioscan.workflows.blas`), the allocator tuned
  (:func:`~ioscan.geometry.spice_provider.tune_allocator`), the SPICE kernels loaded
  (:func:`~ioscan.geometry.spice_provider.load_kernels`, once per process) and the anchor table of the
  scan's settings read (the shipped one from its disk cache, :func:`ioscan.geometry.anchors.cache_dir`), so
  no task pays for them; what is alive then is left out of the garbage collector's passes (``gc.freeze``);
  the worker processes of the scan's own LocalCluster exit without the interpreter's teardown.
* :func:`run_product` — one product: :func:`~ioscan.workflows.process.process_product` under a per-process
  lock, so a worker started with several threads still runs SPICE one product at a time (a chaining retry).
* :func:`run_products` — the scan's task: a few products one after the other (the caller's scheduling and
  communication paid once for them), each result as the writer needs it: its catalogue rows made on the
  worker, without the records and messages; :func:`run_retries` the same for chaining retries.
* :func:`worker_peak_rss_mb` — each worker's peak resident memory (MB) since it started.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import threading
from collections.abc import Iterator

from ioscan.errors import ClusterError
from ioscan.workflows.process import ProductResult, for_writer, process_product

#: seconds to wait for a scheduler to answer, and for its first worker to join
CONNECT_TIMEOUT_S = 30.0
WORKER_WAIT_S = 120.0
PLUGIN_NAME = "ioscan-scan-worker"

#: Dask settings of a LocalCluster a scan starts (its scheduler runs in the calling process, its workers are
#: single-threaded): no statistical profiler sampling the task every 10 ms in each worker, no work stealing
#: (each worker holds at most TASKS_PER_WORKER tasks; chaining retries go to the worker that kept
#: the frame), event-loop checks less often and the system monitor (host CPU, memory, network and disk for
#: a dashboard no scan shows) every 30 s: the idle calling process of a 2-worker cluster 7.3 → 4.7-5.3 ms
#: CPU a second at 2 s → 30 s. A scan on ``--scheduler`` keeps that cluster's own settings.
LOCAL_CLUSTER_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.scheduler.work-stealing": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "30s",
    "distributed.worker.memory.monitor-interval": "500ms",
}

#: how a scan's own LocalCluster starts its worker processes: forked from a server process that imported
#: :data:`WORKER_PRELOAD` once (``forkserver``), so that each worker does not import them again; ``spawn``
#: (Dask's default: a fresh interpreter per worker) where the platform has no forkserver
WORKER_START_METHOD = "forkserver"
#: what that server imports before it forks a worker: Dask's worker and :mod:`ioscan.workflows.worker_preload`
#: (the pipeline, what a first product imports lazily, numba's registries). Only imports: no SPICE kernel is
#: ever loaded there (each worker furnishes its own after the fork, in :class:`ScanWorkerPlugin`: CSPICE's
#: state is per process)
WORKER_PRELOAD = ("distributed", "ioscan.workflows.worker_preload")
#: the modules :mod:`~ioscan.workflows.worker_preload` imports: the task functions, the pipeline
#: (:func:`~ioscan.workflows.process.import_pipeline`), CSPICE's library, and what a worker's first product
#: imports lazily
PRELOADED_MODULES = (
    "ioscan.workflows.cluster",
    "ioscan.workflows.process",
    "ioscan.workflows.retry_cache",
    "ioscan.catalog.rows",
    "ioscan.detect",
    "ioscan.detect.band",
    "ioscan.detect.frame",
    "ioscan.formats",
    "ioscan.formats.jiram_pds3",
    "ioscan.geometry.anchors",
    "ioscan.geometry.compiled",
    "ioscan.geometry.coverage",
    "ioscan.geometry.detectability",
    "ioscan.geometry.limb_kernels",
    "ioscan.geometry.matcher_kernels",
    "ioscan.geometry.navigate",
    "ioscan.geometry.spice_provider",
    "ioscan.geometry.hotspot_registration",
    "ioscan.instruments.nirc2",
    "ioscan.measure",
    "ioscan.measure.errors",
    "ioscan.measure.frame",
    "ioscan.measure.intensity",
    "ioscan.measure.limits",
    "ioscan.measure.positions",
    "ioscan.catalog.reference",
    "ioscan.workflows.blas",
    "pdr",
    "pyarrow.pandas_compat",
    "scipy.constants",
    "scipy.fft",
    "scipy.sparse",
    "scipy.spatial",
    "spiceypy",
    "threadpoolctl",
)

_DASK_LOGGERS = ("distributed", "tornado", "asyncio")
_PRODUCT_LOCK = threading.Lock()


def _worker_plugin_base():
    from distributed.diagnostics.plugin import WorkerPlugin

    return WorkerPlugin


class ScanWorkerPlugin(_worker_plugin_base()):
    """Prepares a worker for scan tasks once, when it joins (or when the plugin is registered).

    Args:
        kernels: the SPICE metakernel to load (a path the workers can read), or None.
        anchors: the anchor table of the scan's settings (``navigate.anchors``), or None.
        quick_exit: the worker process belongs to the scan's own LocalCluster: when it exits (the cluster
            closing), skip the interpreter's teardown of the pipeline's modules (~0.4 s per worker, paid
            while the scan waits for the cluster to close). Never for a cluster given with ``--scheduler``.
    """

    name = PLUGIN_NAME

    def __init__(self, kernels: str | None, anchors: str | None = None, quick_exit: bool = False):
        self.kernels = kernels
        self.anchors = anchors
        self.quick_exit = quick_exit

    def setup(self, worker=None) -> None:
        """Import the pipeline, tune the allocator, load the kernels and the anchor table (a problem with
        either is left for each product to report in one line)."""
        from ioscan.errors import IoscanError
        from ioscan.geometry.spice_provider import load_kernels, tune_allocator
        from ioscan.workflows.blas import limit_blas_threads
        from ioscan.workflows.process import _anchors, import_pipeline

        import_pipeline()
        # as the nanny's environment does, also on a worker started without one (put back in teardown)
        self._blas_before = limit_blas_threads(1)
        tune_allocator()
        if self.kernels:
            with contextlib.suppress(IoscanError):
                load_kernels(self.kernels)
        if self.anchors:
            with contextlib.suppress(IoscanError):
                _anchors(self.anchors)
        if self.quick_exit:
            _exit_without_teardown()
        # what is alive now (the modules, kernels, anchor table) lives as long as the worker: left out of
        # the garbage collector's passes (a full pass walked ~130,000 objects, ~50 ms; put back in teardown)
        gc.freeze()

    def teardown(self, worker=None) -> None:
        """Put BLAS's thread count and the garbage collector back as they were found (a shared
        ``--scheduler`` cluster's worker outlives the scan)."""
        gc.unfreeze()
        limiter, self._blas_before = getattr(self, "_blas_before", None), None
        if limiter is not None:
            with contextlib.suppress(Exception):
                limiter.restore_original_limits()


def _exit_without_teardown() -> None:
    """At this process's exit, end it before the interpreter tears its modules down (the last atexit
    handler registered runs first): streams flushed, nothing else left to do in a scan's own worker."""
    import atexit
    import os
    import sys

    def _quick_exit() -> None:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(0)

    atexit.register(_quick_exit)


def run_product(path: str, kernels: str | None, settings, extra_anchors=None) -> ProductResult:
    """One product on a worker (see :func:`~ioscan.workflows.process.process_product`; ``extra_anchors``:
    known hot spots from frames registered before, for chaining), one at a time per process."""
    with _PRODUCT_LOCK:
        result = process_product(path, kernels, settings, extra_anchors)
    with contextlib.suppress(ValueError):  # not on a worker (called directly)
        from distributed import get_worker

        result.worker = get_worker().address
    return result


def run_products(paths: list[str], kernels: str | None, settings) -> list[ProductResult]:
    """Several products on a worker, one after the other, as :func:`run_product` processes each (one Dask
    task for all: the scheduler's and the client's work per task paid once). Each result comes back as the
    scan's writer needs it (:func:`~ioscan.workflows.process.for_writer`: its catalogue rows made here, no
    messages): every byte sent is unpickled by the calling process, which then only inserts."""
    return [for_writer(run_product(path, kernels, settings), settings) for path in paths]


def run_retries(retries: list[tuple[str, object]], kernels: str | None, settings) -> list[ProductResult]:
    """Chaining retries, (path, extra anchors) each, one after the other on the worker that kept their
    frames' states (one Dask task for all), each result as the scan's writer needs it (see
    :func:`run_products`)."""
    return [for_writer(run_product(path, kernels, settings, extra), settings) for path, extra in retries]


def forget_states() -> None:
    """Free this worker's frame states kept for chaining (:mod:`ioscan.workflows.retry_cache`)."""
    from ioscan.workflows import retry_cache

    with _PRODUCT_LOCK:
        retry_cache.forget()


def _peak_rss_mb() -> float:
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024.0**2 if sys.platform == "darwin" else peak / 1024.0  # bytes on macOS, KiB elsewhere


def worker_peak_rss_mb(client) -> dict[str, float]:
    """Peak resident memory of every worker process since it started, MB, by worker address."""
    return {addr: round(float(mb), 1) for addr, mb in client.run(_peak_rss_mb).items()}


@contextlib.contextmanager
def dask_client(
    scheduler: str | None, workers: int, kernels: str | None = None, anchors: str | None = None
) -> Iterator:
    """A Dask client on ``scheduler``, or on a LocalCluster of ``workers`` single-threaded processes, with
    :class:`ScanWorkerPlugin` on every worker; both closed in order on exit, their shutdown chatter
    (closed-connection tracebacks) kept off the terminal. Raises ClusterError (one line) when the
    scheduler cannot be reached or no worker joins it."""
    import dask
    from dask.distributed import Client, LocalCluster

    with contextlib.ExitStack() as stack:
        stack.callback(_silence_dask)  # runs last: after the client and cluster are closed
        if scheduler:
            try:
                client = stack.enter_context(Client(scheduler, timeout=CONNECT_TIMEOUT_S))
            except (OSError, TimeoutError, ValueError) as exc:
                raise ClusterError(
                    f"cannot reach the Dask scheduler at {scheduler}: {_first_line(exc)}"
                ) from None
            try:
                client.wait_for_workers(1, timeout=WORKER_WAIT_S)
            except TimeoutError:
                raise ClusterError(
                    f"no Dask worker joined the scheduler at {scheduler} within {WORKER_WAIT_S:g} s"
                ) from None
        else:
            stack.enter_context(dask.config.set(LOCAL_CLUSTER_CONFIG | _start_method_config()))
            try:
                cluster = stack.enter_context(
                    LocalCluster(
                        n_workers=workers,
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=None,
                        # no dashboard; its HTTP endpoint on a free port, not 8787 (which may be taken)
                        scheduler_kwargs={"dashboard_address": ":0"},
                        # workers log a closed-connection traceback when the scheduler stops before their
                        # next heartbeat: shutdown noise, not a problem (a product's failure comes back in
                        # its result, a dead worker as the future's error)
                        silence_logs=logging.CRITICAL,
                    )
                )
            except (OSError, RuntimeError, TimeoutError) as exc:
                raise ClusterError(
                    f"cannot start {workers} Dask worker processes: {_first_line(exc)}"
                ) from None
            client = stack.enter_context(Client(cluster))
        plugin = ScanWorkerPlugin(kernels, anchors, quick_exit=not scheduler)
        client.register_plugin(plugin, name=PLUGIN_NAME)
        if scheduler:  # leave a shared cluster as it was found
            stack.callback(_unregister, client)
        stack.callback(_silence_dask)  # runs first on exit: before anything closes
        yield client


def start_worker_server() -> None:
    """Start the server a scan's own LocalCluster forks its workers from (:data:`WORKER_START_METHOD`,
    :data:`WORKER_PRELOAD`) now, in the background: its imports (~1.5 s of CPU) then run while the scan
    searches, checks its settings and claims its first products, before :func:`dask_client` needs it. Nothing
    when it runs already or the platform has none; a failure is left for :func:`dask_client` to report."""
    with contextlib.suppress(OSError, RuntimeError, ValueError):
        _start_method_config()


def _start_method_config() -> dict[str, str]:
    """Dask's setting of how the workers start (:data:`WORKER_START_METHOD`), the forkserver told what to
    preload (:data:`WORKER_PRELOAD`; a forkserver already running in this process keeps what it has)."""
    import multiprocessing

    import dask

    method = WORKER_START_METHOD
    if method not in multiprocessing.get_all_start_methods():
        return {}
    config = {"distributed.worker.multiprocessing-method": method}
    if method == "forkserver":
        from distributed.utils import get_mp_context

        with dask.config.set(config):
            context = get_mp_context()  # Dask sets its own preload list the first time: ours replaces it
        context.set_forkserver_preload(list(WORKER_PRELOAD))
        _start_forkserver()
    return config


def _start_forkserver() -> None:
    """Start the forkserver now (nothing to do when it runs), so that its imports run while this process
    starts the scheduler and the nannies, in the environment Dask's nanny gives a worker process before it
    starts it (one BLAS thread, the allocator's trim threshold, the hash seed: what the nanny would have
    given the server had it started it)."""
    import os
    from multiprocessing import forkserver

    import dask

    environ = dask.config.get("distributed.nanny.pre-spawn-environ")
    env = {k: os.environ.get(k, str(v)) for k, v in environ.items() if v is not None}
    if env.get("PYTHONHASHSEED") in (None, "0"):
        env["PYTHONHASHSEED"] = "6640"  # Dask's own choice (distributed.nanny), for consistent hashing
    os.environ.update(env)  # as the nanny does before it starts a worker (it leaves them set too)
    forkserver.ensure_running()


def _unregister(client) -> None:
    with contextlib.suppress(Exception):
        client.unregister_worker_plugin(PLUGIN_NAME)


def _silence_dask() -> None:
    for name in _DASK_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
