"""``ioscan scan``: every product under some paths, processed on Dask and stored.

Workers only compute (:func:`ioscan.workflows.process.process_product`); the calling process is the single
writer to the catalogue (one transaction per product), so a crash loses nothing already committed and leaves
nothing half-written. Re-runs skip products whose checksum is already stored. The run is recorded with its
inputs and settings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ioscan.errors import IoscanError
from ioscan.settings import Settings
from ioscan.workflows.process import ProductResult, process_product


@dataclass
class ScanSummary:
    """Counts of one scan run."""

    n_found: int = 0
    n_skipped: int = 0
    n_processed: int = 0
    n_errors: int = 0
    n_detections: int = 0
    by_status: dict = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)


def product_checksum(path: Path) -> str:
    """Checksum the reader will record: of the IMG beside a PDS3 label (same stem), else of the file."""
    from ioscan.formats import file_checksum_sha256

    if path.suffix.lower() == ".lbl":
        for suffix in (".IMG", ".img"):
            img = path.with_suffix(suffix)
            if img.exists():
                return file_checksum_sha256(img)
    return file_checksum_sha256(path)


def _dask_client(scheduler: str | None, workers: int):
    from dask.distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler)
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
    return Client(cluster)


def scan(
    paths: Iterable[str | Path],
    *,
    store,
    kernels: str | Path | None = None,
    workers: int = 2,
    scheduler: str | None = None,
    settings: Settings | None = None,
    progress: Callable[[int, int, ProductResult | None], None] | None = None,
) -> ScanSummary:
    """Process every product under ``paths`` into ``store``; skip products already stored (by checksum).

    ``workers=0`` runs in this process (no Dask); otherwise a LocalCluster of ``workers`` single-threaded
    processes (CSPICE is not thread-safe), or the Dask scheduler at ``scheduler``.
    """
    from ioscan.formats import find_products

    settings = settings or Settings()
    paths = list(paths)
    products = find_products([Path(p) for p in paths])
    summary = ScanSummary(n_found=len(products))
    todo = []
    for p in products:
        try:
            if store.has_checksum(product_checksum(p)):
                summary.n_skipped += 1
                continue
        except (IoscanError, OSError):
            pass  # unreadable: let the worker report it properly
        todo.append(p)
    run_id = store.start_run(
        "scan",
        {"paths": [str(p) for p in paths], "kernels": str(kernels or "")},
        settings=settings.to_dict(),
    )
    total = len(todo)
    if progress:
        progress(0, total, None)

    def handle(res: ProductResult, done: int) -> None:
        summary.by_status[res.status] = summary.by_status.get(res.status, 0) + 1
        if res.status == "error" or res.observation is None:
            summary.n_errors += 1
            summary.errors.append((res.path, res.error or ""))
        else:
            store.add_observation(res.observation, res.bands, res.detections, run_id)
            summary.n_processed += 1
            summary.n_detections += len(res.detections)
        if progress:
            progress(done, total, res)

    status = "ok"
    try:
        if workers <= 0 and not scheduler:
            for i, p in enumerate(todo, 1):
                handle(process_product(p, kernels, settings), i)
        elif todo:
            from dask.distributed import as_completed

            with _dask_client(scheduler, workers) as client:
                futures = [
                    client.submit(
                        process_product, str(p), str(kernels) if kernels else None, settings, pure=False
                    )
                    for p in todo
                ]
                for i, fut in enumerate(as_completed(futures), 1):
                    handle(fut.result(), i)
    except BaseException:
        status = "interrupted"
        raise
    finally:
        store.finish_run(run_id, status)
    return summary
