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


#: chaining passes over the frames no registration reached (each may register frames that anchor more)
CHAIN_ROUNDS = 3


def _run(items, kernels, settings: Settings, client):
    """Process (path, extra anchors) items in this process (client None) or on Dask; yields results as they
    come."""
    k = str(kernels) if kernels else None
    if client is None:
        for path, anchors in items:
            yield process_product(path, k, settings, anchors)
        return
    from dask.distributed import as_completed

    futures = [client.submit(process_product, str(p), k, settings, a, pure=False) for p, a in items]
    for fut in as_completed(futures):
        yield fut.result()


def _registered(res: ProductResult) -> bool:
    return res.observation is not None and bool(res.observation.registered)


def _chainable(res: ProductResult) -> bool:
    """Not registered, but navigated from kernels or a label with an orbit and time: worth a chaining try."""
    obs = res.observation
    return (
        obs is not None
        and res.status != "error"
        and not obs.registered
        and obs.geometry_source in ("spice", "label")
        and obs.orbit is not None
    )


def store_held(res: ProductResult, handle) -> None:
    """Store a result that was held back for chaining (progress was counted when it was first processed)."""
    handle(res, None)


def _chain_anchors(res: ProductResult, pool: list[ProductResult], window_s: float):
    """Anchors from the detections of registered frames of the same orbit within ``window_s`` of ``res``
    (None when there are none): each frame's detections share its remaining pointing error."""
    from datetime import datetime

    import pandas as pd

    from ioscan.catalog.times import ISO_FORMAT, utc_iso
    from ioscan.geometry.anchors import anchors_from_detections

    def parse_utc(text: str) -> datetime:
        return datetime.strptime(utc_iso(text), ISO_FORMAT)

    obs = res.observation
    t0 = parse_utc(obs.time_utc)
    tables = []
    for other in pool:
        o = other.observation
        if o.orbit != obs.orbit or abs((parse_utc(o.time_utc) - t0).total_seconds()) > window_s:
            continue
        dets = pd.DataFrame([d.__dict__ for d in other.detections])
        if dets.empty:
            continue
        shared_km = float(o.pointing_offset_err_px or 0.0) * float(o.pixel_scale_km or 0.0)
        tables.append(anchors_from_detections(dets, o.product_id, shared_km))
    tables = [t for t in tables if len(t)]
    return pd.concat(tables, ignore_index=True) if tables else None


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

    Chaining (``settings.navigate.chain``): frames that no registration reached are held back; once every
    product was processed, they are processed again with the detections of registered frames of the same
    orbit (within ``chain_window_s``) as extra known hot spots, for a few rounds, and stored then.
    """
    from ioscan.formats import find_products

    settings = settings or Settings()
    if settings.navigate.register and settings.navigate.register_hot_spots:
        from ioscan.geometry.anchors import load_anchors

        load_anchors(settings.navigate.anchors)  # an unusable anchor table stops the scan before it starts
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

    def handle(res: ProductResult, done: int | None = None) -> None:
        summary.by_status[res.status] = summary.by_status.get(res.status, 0) + 1
        if res.status == "error" or res.observation is None:
            summary.n_errors += 1
            summary.errors.append((res.path, res.error or ""))
        else:
            store.add_observation(res.observation, res.bands, res.detections, run_id)
            summary.n_processed += 1
            summary.n_detections += len(res.detections)
        if progress and done is not None:
            progress(done, total, res)

    status = "ok"
    chain = settings.navigate.chain and settings.navigate.register and settings.navigate.register_hot_spots
    pool: list[ProductResult] = []  # registered this run: their detections anchor chained frames
    held: list[ProductResult] = []  # not registered: held back for the chaining pass
    done = 0

    def first(res: ProductResult) -> None:
        nonlocal done
        done += 1
        if chain and _chainable(res):
            held.append(res)
            if progress:
                progress(done, total, res)
            return
        if chain and _registered(res):
            pool.append(res)
        handle(res, done)

    try:
        client = None if (workers <= 0 and not scheduler) or not todo else _dask_client(scheduler, workers)
        try:
            for res in _run([(p, None) for p in todo], kernels, settings, client):
                first(res)
            # chaining: frames of the same orbit registered this run anchor the others, a few rounds
            for _ in range(CHAIN_ROUNDS):
                items = [(r, _chain_anchors(r, pool, settings.navigate.chain_window_s)) for r in held]
                items = [(r, a) for r, a in items if a is not None]
                if not items:
                    break
                retried = {r.path for r, _ in items}
                again = list(_run([(r.path, a) for r, a in items], kernels, settings, client))
                held = [r for r in held if r.path not in retried]
                for res in again:
                    if _registered(res):
                        pool.append(res)
                        store_held(res, handle)
                    else:
                        held.append(res)
                if not any(_registered(r) for r in again):
                    break
            for res in held:
                store_held(res, handle)
        finally:
            if client is not None:
                cluster = None if scheduler else client.cluster
                client.close()
                if cluster is not None:
                    cluster.close()
    except BaseException:
        status = "interrupted"
        raise
    finally:
        store.finish_run(run_id, status)
    return summary
