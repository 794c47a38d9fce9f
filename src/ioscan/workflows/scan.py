"""``ioscan scan``: every product under some paths, processed on Dask and stored.

Workers only compute (:func:`ioscan.workflows.process.process_product`); the calling process is the single
writer of this scan (one transaction per product), so a crash loses nothing already committed and leaves
nothing half-written. Products are fed to the workers as they free up (a few per worker in flight), and each
is first identified from its label or header (:func:`ioscan.formats.product_identity`: ID without version,
version, data checksum):

* already stored (same product, version and data; or the same data under another ID) → skipped;
* claimed by another live scan on the same catalogue → left to it (:mod:`ioscan.catalog.claims`): two scans
  share the work and each reports what it did; a product left to a scan that dies meanwhile is taken over;
* otherwise claimed, processed and stored; a new version (or same-ID product with changed data) supersedes the
  stored one (:mod:`ioscan.catalog.products`), which the summary lists.

Entries that cannot be scanned (file names that are not UTF-8, unreadable folders) and products that fail are
reported with their reason and the scan goes on; the run is recorded with its inputs, settings, status
(``ok``, ``partial`` when some products failed, ``failed``, ``interrupted``) and summary.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ioscan.errors import IoscanError
from ioscan.settings import Settings
from ioscan.workflows.process import ProductResult, process_product

#: products kept in flight per worker (enough to keep workers busy, few enough to share with other scans)
IN_FLIGHT_PER_WORKER = 2


@dataclass
class ScanSummary:
    """What one scan did.

    Attributes:
        n_found: products and unscannable entries found.
        n_skipped: products already stored when this scan came to them.
        n_done_elsewhere: products another scan on the same catalogue stored while this one ran.
        n_processed: products this scan processed and stored.
        n_errors: products (or entries) that failed; ``errors`` gives (path, reason).
        n_detections: detections stored by this scan.
        by_status: frame status → number of products processed.
        superseded: (product put out of force, product in force) for every version change this scan made.
        left_to_others: (path, which scan) of products another live scan was still working on at the end.
        duplicates: (path, stored product) of products whose data is stored under another product ID.
        notes: folders reached twice through symbolic links (loops included), searched once.
        elapsed_s: wall time of the scan, s.
        status: ``ok``, ``partial`` (some products failed), ``failed`` or ``interrupted``.
    """

    n_found: int = 0
    n_skipped: int = 0
    n_done_elsewhere: int = 0
    n_processed: int = 0
    n_errors: int = 0
    n_detections: int = 0
    by_status: dict = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)
    superseded: list[tuple[str, str]] = field(default_factory=list)
    left_to_others: list[tuple[str, str]] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    status: str = "running"

    @property
    def frames_per_s(self) -> float:
        """Products processed per second of wall time."""
        return self.n_processed / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_dict(self) -> dict:
        """A JSON-ready copy (stored in ``runs.summary``)."""
        return asdict(self) | {"frames_per_s": round(self.frames_per_s, 3)}


@dataclass
class _Item:
    path: Path
    key: str
    base_product_id: str | None
    checksum: str | None


@contextlib.contextmanager
def _dask_client(scheduler: str | None, workers: int) -> Iterator:
    """A Dask client on ``scheduler``, or on a LocalCluster of ``workers`` single-threaded processes; both
    closed in order on exit, their shutdown chatter (closed-connection tracebacks) kept off the terminal."""
    from dask.distributed import Client, LocalCluster

    with contextlib.ExitStack() as stack:
        stack.callback(_quiet_shutdown)  # runs last: after the client and cluster are closed
        if scheduler:
            client = stack.enter_context(Client(scheduler))
        else:
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    # no dashboard; its HTTP endpoint on a free port, not 8787 (which may be taken: a warning)
                    scheduler_kwargs={"dashboard_address": ":0"},
                    # workers log a closed-connection traceback when the scheduler stops before their
                    # next heartbeat: shutdown noise, not a problem (a product's failure comes back in its
                    # result, a dead worker as the future's error)
                    silence_logs=logging.CRITICAL,
                )
            )
            client = stack.enter_context(Client(cluster))
        stack.callback(_silence_dask)  # runs first on exit: before anything closes
        yield client


_DASK_LOGGERS = ("distributed", "tornado", "asyncio")


def _silence_dask() -> None:
    for name in _DASK_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _quiet_shutdown() -> None:
    """Leave the loggers silenced: connections the closed cluster leaves behind are reaped at exit."""
    _silence_dask()


#: chaining passes over the frames no registration reached (each may register frames that anchor more)
CHAIN_ROUNDS = 3


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
    lease_s: float | None = None,
) -> ScanSummary:
    """Process every product under ``paths`` into ``store`` (see the module docs) and return what was done.

    ``workers=0`` runs in this process (no Dask); otherwise a LocalCluster of ``workers`` single-threaded
    processes (CSPICE is not thread-safe), or the Dask scheduler at ``scheduler``. ``progress(done, total,
    result)`` is called as products are settled: ``result.status`` is the frame status, ``"error"``,
    ``"skipped"`` (stored already, or by another scan) or ``"left"`` (another scan works on it).
    ``lease_s`` is the claim lease (:data:`ioscan.catalog.claims.DEFAULT_LEASE_S`).

    Chaining (``settings.navigate.chain``): frames that no registration reached are held back (their claims
    kept); once every product was processed, they are processed again with the detections of registered
    frames of the same orbit (within ``chain_window_s``) as extra known hot spots, for a few rounds, and
    stored then.
    """
    from ioscan.catalog.claims import DEFAULT_LEASE_S, Claims
    from ioscan.formats import search_products

    t0 = time.perf_counter()
    settings = settings or Settings()
    if settings.navigate.register and settings.navigate.register_hot_spots:
        from ioscan.geometry.anchors import load_anchors

        load_anchors(settings.navigate.anchors)  # an unusable anchor table stops the scan before it starts
    paths = list(paths)
    found = search_products([Path(p) for p in paths])
    summary = ScanSummary(n_found=len(found.products) + len(found.problems), notes=list(found.notes))
    summary.errors += found.problems
    summary.n_errors = len(found.problems)
    run_id = store.start_run(
        "scan",
        {"paths": [str(p) for p in paths], "kernels": str(kernels or "")},
        settings=settings.to_dict(),
    )
    claims = Claims(store, run_id, DEFAULT_LEASE_S if lease_s is None else lease_s)
    total = summary.n_found
    done = [summary.n_errors]

    def tick(res: ProductResult | None) -> None:
        done[0] += 1
        if progress:
            progress(done[0], total, res)

    if progress:
        progress(done[0], total, None)
    runner = _Runner(store, claims, summary, kernels, settings, tick, run_id)
    try:
        runner.run(deque(found.products), workers=workers, scheduler=scheduler)
    except KeyboardInterrupt:
        summary.status = "interrupted"
        raise
    except BaseException:
        summary.status = "failed"
        raise
    else:
        summary.status = "partial" if summary.n_errors else "ok"
    finally:
        summary.elapsed_s = time.perf_counter() - t0
        with contextlib.suppress(Exception):  # never hide the error that ended the scan
            claims.release_all()
        store.finish_run(run_id, summary.status, summary.to_dict())
    return summary


class _Runner:
    """The scan loop: identify, claim, process (in process or on Dask), store, report."""

    def __init__(self, store, claims, summary: ScanSummary, kernels, settings: Settings, tick, run_id: int):
        self.store, self.claims, self.summary = store, claims, summary
        self.kernels = str(kernels) if kernels else None
        self.settings, self.tick, self.run_id = settings, tick, run_id
        self.held: list[tuple[Path, str]] = []
        self.mine: set[str] = set()  # product keys this scan claimed
        nav = settings.navigate
        self.chain = nav.chain and nav.register and nav.register_hot_spots
        self.pool: list[ProductResult] = []  # registered this run: their detections anchor chained frames
        self.unregistered: list[tuple[_Item, ProductResult]] = []  # held back for chaining, claims kept
        self.stored_before = store.last_observation_id()  # rows above it were stored during this scan

    # -- one product before processing
    def prepare(self, path: Path, *, last_round: bool) -> _Item | None:
        """Identify and claim ``path``: the item to process, or None when it is settled without processing."""
        from ioscan.catalog.products import product_key
        from ioscan.formats import product_identity

        try:
            ident = product_identity(path)
        except (IoscanError, OSError):
            ident = None  # unreadable: let the worker report it properly
        if ident is None:
            item = _Item(path, "unread|" + hashlib.sha256(str(path).encode("utf-8")).hexdigest(), None, None)
        else:
            key = product_key(ident.base_product_id, ident.product_version, ident.checksum_sha256)
            item = _Item(path, key, ident.base_product_id, ident.checksum_sha256)
        claim = self.claims.claim(item.key, item.base_product_id, item.checksum)
        if claim.outcome == "claimed":
            self.mine.add(item.key)
            return item
        if claim.outcome == "stored":
            if ident is not None and claim.detail != ident.product_id:
                self.summary.duplicates.append((str(path), claim.detail or ""))
            meanwhile = (claim.observation_id or 0) > self.stored_before
            if meanwhile and item.key not in self.mine:
                self.summary.n_done_elsewhere += 1
            else:  # stored before this scan, or by this scan from another path to the same product
                self.summary.n_skipped += 1
            self.tick(ProductResult(path=str(path), status="skipped"))
        elif last_round:
            self.summary.left_to_others.append((str(path), claim.detail or "another scan"))
            self.tick(ProductResult(path=str(path), status="left"))
        else:
            self.held.append((path, claim.detail or ""))
        return None

    # -- one product after processing
    def handle(self, item: _Item, res: ProductResult) -> None:
        """Store a processed product, or hold it for chaining when no registration reached it."""
        if self.chain and _chainable(res):
            self.unregistered.append((item, res))
            self.tick(res)
            return
        if self.chain and _registered(res):
            self.pool.append(res)
        self._store(item, res)
        self.tick(res)

    def _store(self, item: _Item, res: ProductResult) -> None:
        from ioscan.errors import CatalogError

        s = self.summary
        try:
            if res.status == "error" or res.observation is None:
                s.n_errors += 1
                s.errors.append((res.path, res.error or "failed"))
            else:
                try:
                    out = self.store.add_product(res.observation, res.bands, res.detections, self.run_id)
                except CatalogError as exc:  # this product cannot be stored: say why, go on
                    res.status, res.error = "error", str(exc)
                    s.n_errors += 1
                    s.errors.append((res.path, str(exc)))
                else:
                    if out.outcome == "stored":
                        s.n_processed += 1
                        s.n_detections += len(res.detections)
                        s.by_status[res.status] = s.by_status.get(res.status, 0) + 1
                        s.superseded += [(old, out.product) for old in out.superseded]
                        if out.superseded_by:
                            s.superseded.append((out.product, out.superseded_by))
                    elif out.outcome == "duplicate":
                        s.n_skipped += 1
                        s.duplicates.append((res.path, out.product))
                        res.status = "skipped"
                    else:
                        s.n_done_elsewhere += 1
                        res.status = "skipped"
        finally:
            self.claims.release(item.key)

    # -- the loops
    def run(self, products: deque, *, workers: int, scheduler: str | None) -> None:
        """Two rounds: every product, then once more those another scan held (it may have finished them, or
        died). A Dask cluster is started only when a product needs processing."""
        serial = workers <= 0 and not scheduler
        with contextlib.ExitStack() as stack:
            client: list = []

            def get_client():
                if not client:
                    client.append(stack.enter_context(_dask_client(scheduler, workers)))
                return client[0]

            for last_round in (False, True):
                if serial:
                    self._serial(products, last_round)
                else:
                    self._dask(get_client, products, workers, scheduler, last_round)
                products = deque(p for p, _ in self.held)
                self.held = []
                if not products:
                    break
            self._chain(None if serial else get_client)

    def _chain(self, get_client) -> None:
        """Chaining rounds over the frames no registration reached; then store every frame still held."""
        try:
            for _ in range(CHAIN_ROUNDS):
                window = self.settings.navigate.chain_window_s
                todo = [(it, r, _chain_anchors(r, self.pool, window)) for it, r in self.unregistered]
                todo = [(it, r, a) for it, r, a in todo if a is not None]
                if not todo:
                    break
                retried = {it.key for it, _, _ in todo}
                self.unregistered = [(it, r) for it, r in self.unregistered if it.key not in retried]
                again = self._process_with_anchors(get_client, [(it, a) for it, _, a in todo])
                for it, res in again:
                    if _registered(res):
                        self.pool.append(res)
                        self._store(it, res)
                    else:
                        self.unregistered.append((it, res))
                self.claims.renew()
                if not any(_registered(r) for _, r in again):
                    break
        finally:
            for it, res in self.unregistered:
                self._store(it, res)
            self.unregistered = []

    def _process_with_anchors(self, get_client, items: list) -> list[tuple[_Item, ProductResult]]:
        """Process (item, extra anchors) in this process (``get_client`` None) or on Dask."""
        if get_client is None:
            return [(it, process_product(it.path, self.kernels, self.settings, a)) for it, a in items]
        client = get_client()
        futures = [
            client.submit(process_product, str(it.path), self.kernels, self.settings, a, pure=False)
            for it, a in items
        ]
        out = []
        for (it, _), fut in zip(items, futures, strict=True):
            try:
                out.append((it, fut.result()))
            except Exception as exc:  # the worker died on this product
                error = f"{it.path.name}: worker failed: {type(exc).__name__}: {exc}"
                out.append((it, ProductResult(path=str(it.path), status="error", error=error)))
        return out

    def _serial(self, products: deque, last_round: bool) -> None:
        while products:
            item = self.prepare(products.popleft(), last_round=last_round)
            if item is not None:
                self.handle(item, process_product(item.path, self.kernels, self.settings))
            self.claims.renew()

    def _dask(
        self, get_client, products: deque, workers: int, scheduler: str | None, last_round: bool
    ) -> None:
        from dask.distributed import wait

        in_flight: dict = {}
        client, slots = None, 1
        try:
            while products or in_flight:
                while products and (client is None or len(in_flight) < slots):
                    item = self.prepare(products.popleft(), last_round=last_round)
                    if item is not None:
                        if client is None:
                            client = get_client()
                            slots = self._slots(client, workers, scheduler)
                        fut = client.submit(
                            process_product, str(item.path), self.kernels, self.settings, pure=False
                        )
                        in_flight[fut] = item
                if not in_flight:
                    continue
                try:
                    finished, _ = wait(
                        list(in_flight), timeout=self.claims.lease_s / 4, return_when="FIRST_COMPLETED"
                    )
                except TimeoutError:
                    finished = []
                for fut in finished:
                    item = in_flight.pop(fut)
                    try:
                        res = fut.result()
                    except Exception as exc:  # the worker died (or was killed) on this product
                        error = f"{item.path.name}: worker failed: {type(exc).__name__}: {exc}"
                        res = ProductResult(path=str(item.path), status="error", error=error)
                    self.handle(item, res)
                self.claims.renew()
        finally:
            if in_flight and client is not None:
                client.cancel(list(in_flight))

    @staticmethod
    def _slots(client, workers: int, scheduler: str | None) -> int:
        n = workers if not scheduler else max(1, len(client.scheduler_info().get("workers", {})))
        return IN_FLIGHT_PER_WORKER * n
