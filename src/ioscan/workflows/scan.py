"""``ioscan scan``: every product under some paths, processed on Dask and stored.

Workers only compute (:func:`ioscan.workflows.process.process_product`, each worker prepared once by
:class:`~ioscan.workflows.cluster.ScanWorkerPlugin`: kernels loaded, pipeline imported); the calling process
is the single writer of this scan. On Dask it stores the results that arrived together in one transaction
(at most :data:`WRITE_BATCH_MAX` products, none kept waiting longer than :data:`WRITE_BATCH_S`), each product
all-or-nothing within it (:meth:`~ioscan.catalog.store.Store.add_products`); in process, one transaction per
product. A crash loses nothing already committed and leaves nothing half-written. Products are fed to the
workers as they free up (a few per worker in flight, so memory stays bounded however many products there
are), claimed a few at a time, and each is first identified from its label or header
(:func:`ioscan.formats.product_identity`: ID without version, version, data checksum):

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
import gc
import hashlib
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from ioscan.errors import IoscanError
from ioscan.settings import Settings
from ioscan.workflows.process import ProductResult, ProductSettings, chainable, process_product

#: on Dask, products are sent in tasks of at most this many, one after the other on a worker (fewer towards
#: the end, so that the last tasks spread over the workers): the scheduler's and the client's work per task,
#: ~4-5 ms of the calling process's CPU (its other threads: a dozen messages between client, scheduler and
#: worker), is paid once for them. 3 → 8: the calling process's other threads 6.5 → 4.9 ms CPU per frame
#: (2 workers, 64 frames)
BATCH_MAX = 8
#: tasks kept in flight per worker: one running, the next waiting (a worker never waits for its next frame)
TASKS_PER_WORKER = 2
#: products kept in flight per worker at most (enough to keep workers busy, few enough to share with others)
IN_FLIGHT_PER_WORKER = TASKS_PER_WORKER * BATCH_MAX
#: on Dask, at most this many products per write transaction...
WRITE_BATCH_MAX = 16
#: ...and no result waits longer than this for its transaction, s
WRITE_BATCH_S = 1.0
#: on Dask, products are identified and claimed this many at a time (at least; one per worker otherwise)
CLAIM_BLOCK = 4
#: on Dask, results are stored in the order the products were taken up; at most this many per slot in flight
#: wait for an earlier product's result (no more products are sent meanwhile: memory and what a kill loses
#: stay bounded)
WAITING_PER_SLOT = 4


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
        worker_peak_rss_mb: on Dask, the peak resident memory of each worker process, MB (by address).
        cluster_start_s: on Dask, the time taken to start (or reach) the cluster and prepare its workers
            (kernels loaded, pipeline imported), s: included in ``elapsed_s``.
        cluster_close_s: on Dask, the time taken to close the client and the cluster the scan started, s:
            included in ``elapsed_s``.
        main_cpu_s: CPU seconds of the calling process by part (:class:`CpuParts`): ``identify`` (labels
            and checksums), ``claims``, ``dask`` (submitting, waiting, receiving results), ``process`` (in
            process), ``store``, ``chain`` (anchors and bookkeeping), ``progress`` (the caller's display),
            ``other`` (the rest of the calling thread: start, search, cluster start-up and shutdown) and
            ``other_threads`` (on a LocalCluster the scheduler and the client's communication); in process,
            ``process`` is the first processing of every product, ``process_chain`` the chaining retries and
            ``process_finish`` the measurement of held frames no retry reached (deferred until then).
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
    worker_peak_rss_mb: dict = field(default_factory=dict)
    cluster_start_s: float = 0.0
    cluster_close_s: float = 0.0
    main_cpu_s: dict = field(default_factory=dict)

    @property
    def frames_per_s(self) -> float:
        """Products processed per second of wall time."""
        return self.n_processed / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_dict(self) -> dict:
        """A JSON-ready copy (stored in ``runs.summary``)."""
        return asdict(self) | {"frames_per_s": round(self.frames_per_s, 3)}


class CpuParts:
    """CPU seconds of the calling thread by part (a part entered inside another is charged to itself only),
    and of the process's other threads."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.part = "other"
        self.t0_thread, self.t0_process = time.thread_time(), time.process_time()
        self.mark = self.t0_thread

    def _switch(self, part: str) -> str:
        now = time.thread_time()
        self.seconds[self.part] = self.seconds.get(self.part, 0.0) + now - self.mark
        self.mark, previous, self.part = now, self.part, part
        return previous

    @contextlib.contextmanager
    def __call__(self, part: str):
        previous = self._switch(part)
        try:
            yield
        finally:
            self._switch(previous)

    def result(self) -> dict[str, float]:
        """Seconds by part, rounded to ms; ``other_threads``: the process's CPU outside the calling thread."""
        self._switch(self.part)
        thread = time.thread_time() - self.t0_thread
        out = {k: round(v, 3) for k, v in sorted(self.seconds.items())}
        out["other_threads"] = round(max(time.process_time() - self.t0_process - thread, 0.0), 3)
        return out


@dataclass
class _Item:
    path: Path
    key: str
    base_product_id: str | None
    checksum: str | None
    seq: int = 0  # the order in which this scan took it up (a scan in process: the order it processed it)


#: chaining passes over the frames no registration reached (each may register frames that anchor more)
CHAIN_ROUNDS = 3
#: retry a held frame whose anchors come from the same registered frames as at its last try, or that has no
#: detection to match (the same result: False but for tests that check so)
RETRY_UNCHANGED = False


def _matchable(res: ProductResult) -> int:
    """The detections of ``res`` the hot-spot matcher could use (all of them when it did not say)."""
    return res.matchable if res.matchable is not None else res.n_detections


def _registered(res: ProductResult) -> bool:
    return res.observation is not None and bool(res.observation.registered)


class _ChainAnchors:
    """The anchors chaining gives a held frame: the detections of the frames registered in this scan of the
    same orbit within the window (:func:`ioscan.geometry.anchors.anchors_from_detections`, each frame's
    detections sharing its remaining pointing error), each registered frame's table made once."""

    def __init__(self, window_s: float):
        self.window_s = window_s
        # (orbit, time as seconds, anchors, order taken up) in the order the frames registered
        self.pool: list[tuple[int | None, float, object, int]] = []

    def add(self, res: ProductResult, seq: int) -> None:
        """A registered frame: its detections become anchors for the frames chained after it."""
        from ioscan.workflows.process import chain_anchor_table

        o = res.observation
        table = res.chain_anchors if res.rows is not None else chain_anchor_table(res)  # made by its worker
        self.pool.append((o.orbit, _seconds(o.time_utc), table, seq))

    def sort(self) -> None:
        """Put the frames registered so far in the order they were taken up: on Dask results arrive in any
        order, and the anchors' order is the order a scan in process gives them (the same numbers)."""
        self.pool.sort(key=lambda entry: entry[3])

    def sources(self, res: ProductResult) -> tuple[int, ...]:
        """Which registered frames (their places in the pool) give ``res`` anchors: the same sources, the
        same anchor table (the pool only grows)."""
        obs = res.observation
        t0 = _seconds(obs.time_utc)
        return tuple(
            k
            for k, (orbit, t, table, _) in enumerate(self.pool)
            if table is not None and orbit == obs.orbit and abs(t - t0) <= self.window_s
        )

    def table(self, sources: tuple[int, ...]):
        import pandas as pd

        return pd.concat([self.pool[k][2] for k in sources], ignore_index=True)


def _seconds(time_utc: str) -> float:
    from datetime import UTC, datetime

    from ioscan.catalog.times import ISO_FORMAT, utc_iso

    return datetime.strptime(utc_iso(time_utc), ISO_FORMAT).replace(tzinfo=UTC).timestamp()


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
        # an unusable anchor table stops the scan before it starts; in process it is the one the frames use,
        # on Dask only the tables the setting names are read here (the workers read the shipped one)
        from ioscan.geometry.anchors import check_anchors
        from ioscan.workflows.process import _anchors

        if workers <= 0 and not scheduler:
            _anchors(settings.navigate.anchors)
        else:
            check_anchors(settings.navigate.anchors)
    paths = list(paths)
    found = search_products([Path(p) for p in paths])
    if found.products and workers > 0 and not scheduler:
        # the workers' server imports the pipeline while this process claims; not when nothing was found (a
        # server still importing when the scan ends would outlive it by its imports, ~1.8 s of CPU)
        from ioscan.workflows.cluster import start_worker_server

        start_worker_server()
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
    cpu = CpuParts()

    def tick(res: ProductResult | None) -> None:
        done[0] += 1
        if progress:
            with cpu("progress"):
                progress(done[0], total, res)

    if progress:
        progress(done[0], total, None)
    runner = _Runner(store, claims, summary, kernels, settings, tick, run_id, cpu)
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
        summary.main_cpu_s = cpu.result()
        with contextlib.suppress(Exception):  # never hide the error that ended the scan
            claims.release_all()
        store.finish_run(run_id, summary.status, summary.to_dict())
    return summary


class _Runner:
    """The scan loop: identify, claim, process (in process or on Dask), store, report."""

    def __init__(
        self, store, claims, summary: ScanSummary, kernels, settings: Settings, tick, run_id: int, cpu=None
    ):
        self.cpu = cpu or CpuParts()
        self.store, self.claims, self.summary = store, claims, summary
        self.kernels = str(kernels) if kernels else None
        self.settings, self.tick, self.run_id = settings, tick, run_id
        # what a Dask worker is sent: the sections processing a product reads (a worker then never imports
        # the tracker's and the report's settings, ~0.3 s of its start-up)
        self.held: list[tuple[Path, str]] = []
        self.mine: set[str] = set()  # product keys this scan claimed
        nav = settings.navigate
        self.chain = nav.chain and nav.register and nav.register_hot_spots
        # a frame held for chaining is measured once chaining has run: by its retry, or finished then
        # (process_product's defer_held; its first measurement was thrown away when a retry replaced it)
        self.product_settings = replace(ProductSettings.of(settings), defer_held=self.chain)
        # registered this run: their detections anchor chained frames
        self.pool = _ChainAnchors(nav.chain_window_s)
        self.unregistered: list[tuple[_Item, ProductResult]] = []  # held back for chaining, claims kept
        self.tried: dict[str, tuple[int, ...]] = {}  # product key → the anchor sources of its last retry
        self.n_taken = 0  # products identified so far (their order: _Item.seq)
        self.stored_before = store.last_observation_id()  # rows above it were stored during this scan

    # -- products before processing
    def prepare(self, paths: list[Path], *, last_round: bool, quick: bool = True) -> list[_Item]:
        """Identify and claim ``paths`` (one transaction): the items to process; the others are settled
        without processing (stored already, left to another scan, or looked at again in the last round).
        ``quick`` False (a scan in process): a JIRAM label is parsed whole, for the read that follows
        (:func:`ioscan.formats.product_identity`)."""
        from ioscan.catalog.products import product_key
        from ioscan.formats import product_identity

        items, idents = [], []
        for path in paths:
            try:
                with self.cpu("identify"):
                    ident = product_identity(path, quick=quick)
            except (IoscanError, OSError):
                ident = None  # unreadable: let the worker report it properly
            if ident is None:
                key = "unread|" + hashlib.sha256(str(path).encode("utf-8")).hexdigest()
                items.append(_Item(path, key, None, None))
            else:
                key = product_key(ident.base_product_id, ident.product_version, ident.checksum_sha256)
                items.append(_Item(path, key, ident.base_product_id, ident.checksum_sha256))
            idents.append(ident)
            items[-1].seq = self.n_taken = self.n_taken + 1
        with self.cpu("claims"):
            if len(items) == 1:
                claims = [self.claims.claim(items[0].key, items[0].base_product_id, items[0].checksum)]
            else:
                claims = self.claims.claim_many([(i.key, i.base_product_id, i.checksum) for i in items])
        return [
            item
            for item, ident, claim in zip(items, idents, claims, strict=True)
            if self._claimed(item, ident, claim, last_round)
        ]

    def _claimed(self, item: _Item, ident, claim, last_round: bool) -> bool:
        if claim.outcome == "claimed":
            self.mine.add(item.key)
            return True
        path = item.path
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
        return False

    # -- products after processing
    def held_for_chaining(self, item: _Item, res: ProductResult) -> bool:
        """Hold a result no registration reached for chaining (reported now, stored after chaining), and
        pool a registered one's detections as anchors; True when held."""
        if self.chain and chainable(res):
            self.unregistered.append((item, res))
            self.tick(res)
            return True
        if self.chain and _registered(res):
            with self.cpu("chain"):
                self.pool.add(res, item.seq)
        return False

    def store_one(self, item: _Item, res: ProductResult, *, report: bool = True) -> None:
        """Store one result in its own transaction (the in-process loop; and frames held for chaining,
        reported already when held: ``report`` False)."""
        from ioscan.errors import CatalogError

        outcome = None
        if res.status != "error" and res.observation is not None:
            try:
                with self.cpu("store"):
                    if res.rows is not None:  # made by a worker: never raises, the outcome says
                        outcome = self.store.add_products([res.rows], self.run_id)[0]
                    else:
                        records = (res.observation, res.bands, res.detections)
                        outcome = self.store.add_product(*records, self.run_id)
            except CatalogError as exc:  # this product cannot be stored: say why, go on
                outcome = exc
            except BaseException:
                self.claims.release(item.key)
                raise
        self._settle(item, res, outcome, report=report)

    def store_batch(self, done: list[tuple[_Item, ProductResult]], *, report: bool = True) -> None:
        """Store the results that arrived together in one transaction, each product all-or-nothing
        (``report`` False: reported already, when held for chaining)."""
        todo = [k for k, (_, r) in enumerate(done) if r.status != "error" and r.observation is not None]
        results = [done[k][1] for k in todo]
        products = [r.rows if r.rows is not None else (r.observation, r.bands, r.detections) for r in results]
        if products:
            with self.cpu("store"):
                outcomes = dict(zip(todo, self.store.add_products(products, self.run_id), strict=True))
        else:
            outcomes = {}
        for k, (item, res) in enumerate(done):
            self._settle(item, res, outcomes.get(k), report=report)

    def _settle(self, item: _Item, res: ProductResult, outcome, *, report: bool = True) -> None:
        """Count one product (``outcome``: a StoredProduct, a CatalogError, or None when it failed before
        storing) and report it; a claim not released by storing is released here."""
        s = self.summary
        stored = outcome is not None and not isinstance(outcome, Exception)
        if res.status == "error" or res.observation is None:
            s.n_errors += 1
            s.errors.append((res.path, res.error or "failed"))
        elif not stored:
            res.status, res.error = "error", str(outcome)
            s.n_errors += 1
            s.errors.append((res.path, str(outcome)))
        elif outcome.outcome == "stored":
            s.n_processed += 1
            s.n_detections += res.n_detections
            s.by_status[res.status] = s.by_status.get(res.status, 0) + 1
            s.superseded += [(old, outcome.product) for old in outcome.superseded]
            if outcome.superseded_by:
                s.superseded.append((outcome.product, outcome.superseded_by))
        elif outcome.outcome == "duplicate":
            s.n_skipped += 1
            s.duplicates.append((res.path, outcome.product))
            res.status = "skipped"
        else:
            s.n_done_elsewhere += 1
            res.status = "skipped"
        if not stored:  # storing released it in its own transaction
            with self.cpu("claims"):
                self.claims.release(item.key)
        if report:
            self.tick(res)

    # -- the loops
    def run(self, products: deque, *, workers: int, scheduler: str | None) -> None:
        """Two rounds: every product, then once more those another scan held (it may have finished them, or
        died). A Dask cluster is started only when a product needs processing."""
        serial = workers <= 0 and not scheduler
        with contextlib.ExitStack() as stack:
            client: list = []
            if serial:  # one BLAS thread, as on a Dask worker: no spinning pool, the same sums (blas.py)
                from ioscan.workflows.blas import one_blas_thread
                from ioscan.workflows.process import import_pipeline

                import_pipeline()  # every BLAS the pipeline uses is loaded before it is held
                stack.enter_context(one_blas_thread())
            stack.enter_context(_long_lived_frozen())  # after the pipeline's imports

            def get_client():
                if not client:
                    from ioscan.workflows.cluster import dask_client

                    t0 = time.perf_counter()
                    nav = self.settings.navigate
                    anchors = nav.anchors if nav.register and nav.register_hot_spots else None
                    closing: list[float] = []
                    stack.callback(self._closed, closing)  # runs once the client and cluster are closed
                    client.append(stack.enter_context(dask_client(scheduler, workers, self.kernels, anchors)))
                    stack.callback(lambda: closing.append(time.perf_counter()))  # runs before they close
                    self.summary.cluster_start_s = round(time.perf_counter() - t0, 3)
                    gc.freeze()  # the cluster's and client's objects too (see _long_lived_frozen)
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
            try:
                self._chain(None if serial else get_client)
            finally:
                self._forget_states(client[0] if client else None)
            if client:
                self._record_memory(client[0])

    def _closed(self, closing: list[float]) -> None:
        if closing:
            self.summary.cluster_close_s = round(time.perf_counter() - closing[0], 3)

    def _chain(self, get_client) -> None:
        """Chaining rounds over the frames no registration reached; then store every frame still held."""
        with self.cpu("chain"):
            self._chain_rounds(get_client)

    def _chain_rounds(self, get_client) -> None:
        self.pool.sort()
        self.unregistered.sort(key=lambda entry: entry[0].seq)
        try:
            for _ in range(CHAIN_ROUNDS):
                # a frame whose anchors come from the same registered frames as at its last try would give
                # the same result again (processing is deterministic), and so would a frame without
                # detections the matcher can use (none, or all flagged or too faint: no registration, no
                # posterior to draw its pointing from, whatever the anchors): only the others are tried
                todo = [(it, r, self.pool.sources(r)) for it, r in self.unregistered]
                again_ok = RETRY_UNCHANGED
                todo = [
                    (it, r, src)
                    for it, r, src in todo
                    if src and (again_ok or (src != self.tried.get(it.key) and _matchable(r) > 0))
                ]
                if not todo:
                    break
                for it, _, src in todo:
                    self.tried[it.key] = src
                retried = {it.key for it, _, _ in todo}
                self.unregistered = [(it, r) for it, r in self.unregistered if it.key not in retried]
                again = self._process_with_anchors(
                    get_client, [(it, r, self.pool.table(src)) for it, r, src in todo]
                )
                registered = []
                for it, res in again:
                    if _registered(res):
                        self.pool.add(res, it.seq)
                        registered.append((it, res))
                    else:
                        self.unregistered.append((it, res))
                self._store_held(registered, batch=get_client is not None)
                with self.cpu("claims"):
                    self.claims.renew()
                if not any(_registered(r) for _, r in again):
                    break
        finally:
            held, self.unregistered = self.unregistered, []
            self._store_held(self._finish_deferred(get_client, held), batch=get_client is not None)

    def _finish_deferred(self, get_client, held: list[tuple[_Item, ProductResult]]):
        """``held`` with each frame whose measurement was deferred (never retried: its first processing's
        result, :attr:`ProductResult.deferred`) finished from its kept state, as its first processing would
        have finished it (:data:`~ioscan.workflows.process.NO_EXTRA_ANCHORS`)."""
        from ioscan.workflows.process import NO_EXTRA_ANCHORS

        todo = [k for k, (_, r) in enumerate(held) if r.deferred]
        if not todo:
            return held
        items = [(held[k][0], held[k][1], NO_EXTRA_ANCHORS) for k in todo]
        out = list(held)
        for k, done in zip(todo, self._again(get_client, items, "process_finish"), strict=True):
            out[k] = done
        return out

    def _store_held(self, held: list[tuple[_Item, ProductResult]], *, batch: bool) -> None:
        """Store frames held for chaining (reported already): on Dask in transactions of at most
        :data:`WRITE_BATCH_MAX` (the workers are idle by then), in process one transaction each."""
        if not batch:
            for it, res in held:
                self.store_one(it, res, report=False)
            return
        for k in range(0, len(held), WRITE_BATCH_MAX):
            self.store_batch(held[k : k + WRITE_BATCH_MAX], report=False)

    def _process_with_anchors(self, get_client, items: list) -> list[tuple[_Item, ProductResult]]:
        """Process (item, last result, extra anchors) in this process (``get_client`` None) or on Dask, each
        on the worker that processed it last when it is still there (it kept the frame's state:
        :mod:`ioscan.workflows.retry_cache`)."""
        return self._again(get_client, items, "process_chain")

    def _again(self, get_client, items: list, part: str) -> list[tuple[_Item, ProductResult]]:
        """:meth:`_process_with_anchors`, in process charged to CPU part ``part``."""
        if get_client is None:
            with self.cpu(part):
                settings = self.product_settings
                return [(it, process_product(it.path, self.kernels, settings, a)) for it, _, a in items]
        with self.cpu("dask"):
            return self._dask_with_anchors(get_client, items)

    def _dask_with_anchors(self, get_client, items: list) -> list[tuple[_Item, ProductResult]]:
        """The retries on Dask, in tasks of up to :data:`BATCH_MAX` products that the same worker processed
        last (each task sent there); results in the order of ``items``."""
        from ioscan.workflows.cluster import run_retries

        client = get_client()
        by_worker: dict[str | None, list[int]] = {}
        for k, (_, last, _) in enumerate(items):
            by_worker.setdefault(last.worker, []).append(k)
        tasks = [ks[i : i + BATCH_MAX] for ks in by_worker.values() for i in range(0, len(ks), BATCH_MAX)]

        def submit(ks: list[int]):
            worker = items[ks[0]][1].worker
            where = {"workers": [worker], "allow_other_workers": True} if worker else {}
            retries = [(str(items[k][0].path), items[k][2]) for k in ks]
            return client.submit(
                run_retries, retries, self.kernels, self.product_settings, pure=False, **where
            )

        results: dict[int, ProductResult] = {}
        pending = [(ks, submit(ks)) for ks in tasks]
        while pending:
            ks, fut = pending.pop(0)
            try:
                results.update(zip(ks, fut.result(), strict=True))
            except Exception as exc:  # the worker died on one of these products
                if len(ks) > 1:  # each again on its own: only the one it died on fails
                    pending += [([k], submit([k])) for k in ks]
                    continue
                it = items[ks[0]][0]
                error = f"{it.path.name}: worker failed: {type(exc).__name__}: {exc}"
                results[ks[0]] = ProductResult(path=str(it.path), status="error", error=error)
        return [(it, results[k]) for k, (it, _, _) in enumerate(items)]

    @staticmethod
    def _forget_states(client) -> None:
        """Free the frames' states kept for chaining (in this process, and on every worker of ``client``)."""
        from ioscan.workflows import retry_cache

        retry_cache.forget()
        if client is not None:
            from ioscan.workflows.cluster import forget_states

            with contextlib.suppress(Exception):  # memory only: never a reason to fail
                client.run(forget_states)

    def _record_memory(self, client) -> None:
        from ioscan.workflows.cluster import worker_peak_rss_mb

        with contextlib.suppress(Exception):  # a figure for the record: never a reason to fail
            self.summary.worker_peak_rss_mb = worker_peak_rss_mb(client)

    def _serial(self, products: deque, last_round: bool) -> None:
        while products:
            for item in self.prepare([products.popleft()], last_round=last_round, quick=False):
                with self.cpu("process"):
                    res = process_product(item.path, self.kernels, self.product_settings)
                if not self.held_for_chaining(item, res):
                    self.store_one(item, res)
            with self.cpu("claims"):
                self.claims.renew()

    def _dask(
        self, get_client, products: deque, workers: int, scheduler: str | None, last_round: bool
    ) -> None:
        from dask.distributed import wait

        FIRST = "FIRST_COMPLETED"  # noqa: N806
        in_flight: dict = {}  # future → the items of its task
        n_in_flight = 0  # products in flight
        ready: deque[_Item] = deque()  # claimed, not submitted yet
        submitted: deque[_Item] = deque()  # in flight, or arrived before an earlier one; in the order taken
        arrived: dict[int, ProductResult] = {}  # by _Item.seq: results waiting for an earlier product's
        done: list[tuple[_Item, ProductResult]] = []  # processed, in order, not stored yet
        first_done = 0.0
        client, slots, block, n_workers = None, 1, 1, 1
        try:
            while products or ready or in_flight or done:
                while (products or ready) and (
                    client is None or (n_in_flight < slots and len(arrived) < WAITING_PER_SLOT * slots)
                ):
                    size = _batch_size(len(products) + len(ready), n_workers)
                    if len(ready) < size and products:
                        take = [products.popleft() for _ in range(min(max(block, size), len(products)))]
                        ready.extend(self.prepare(take, last_round=last_round))
                        continue
                    if not ready:
                        continue
                    if client is None:
                        client = get_client()
                        n_workers = self._n_workers(client, workers, scheduler)
                        slots = IN_FLIGHT_PER_WORKER * n_workers
                        block = max(CLAIM_BLOCK, n_workers)
                        continue  # the task's size for this many workers
                    batch = [ready.popleft() for _ in range(min(size, len(ready)))]
                    with self.cpu("dask"):
                        fut = self._submit(client, batch)
                    in_flight[fut] = batch
                    n_in_flight += len(batch)
                    submitted.extend(batch)
                if in_flight:
                    timeout = self.claims.lease_s / 4
                    if done:
                        timeout = min(timeout, max(first_done + WRITE_BATCH_S - time.monotonic(), 0.0))
                    try:
                        with self.cpu("dask"):
                            finished, _ = wait(list(in_flight), timeout=timeout, return_when=FIRST)
                    except TimeoutError:
                        finished = []
                    for fut in finished:
                        batch = in_flight.pop(fut)
                        try:
                            with self.cpu("dask"):
                                results = fut.result()
                        except Exception as exc:  # the worker died (or was killed) on one of these products
                            if len(batch) > 1:  # each again on its own: only the one it died on fails
                                for item in batch:
                                    with self.cpu("dask"):
                                        in_flight[self._submit(client, [item])] = [item]
                                continue
                            item = batch[0]
                            error = f"{item.path.name}: worker failed: {type(exc).__name__}: {exc}"
                            results = [ProductResult(path=str(item.path), status="error", error=error)]
                        n_in_flight -= len(batch)
                        for item, res in zip(batch, results, strict=True):
                            arrived[item.seq] = res
                    # results are taken in the order the products were taken up (a scan in process's order):
                    # the catalogue's rows come in the same order whatever the workers' timing
                    while submitted and submitted[0].seq in arrived:
                        item = submitted.popleft()
                        res = arrived.pop(item.seq)
                        if self.held_for_chaining(item, res):
                            continue
                        if not done:
                            first_done = time.monotonic()
                        done.append((item, res))
                due = not in_flight or time.monotonic() - first_done >= WRITE_BATCH_S
                if done and (len(done) >= WRITE_BATCH_MAX or due):
                    batch, done = done, []
                    self.store_batch(batch)
                with self.cpu("claims"):
                    self.claims.renew()
        finally:
            if in_flight and client is not None:
                client.cancel(list(in_flight))

    def _submit(self, client, batch: list[_Item]):
        """One task processing ``batch``'s products one after the other on a worker."""
        from ioscan.workflows.cluster import run_products

        paths = [str(item.path) for item in batch]
        return client.submit(run_products, paths, self.kernels, self.product_settings, pure=False)

    @staticmethod
    def _n_workers(client, workers: int, scheduler: str | None) -> int:
        return workers if not scheduler else max(1, len(client.scheduler_info().get("workers", {})))


@contextlib.contextmanager
def _long_lived_frozen():
    """While a scan runs, the objects alive when it starts (modules, settings; on Dask the cluster and the
    client, frozen again once they start) are left out of the garbage collector's passes (``gc.freeze``):
    in the calling process each full pass walked ~180,000 of them, ~80 ms, two or three per 64-frame scan.
    They are put back when the scan ends (``gc.unfreeze``); what the scan makes is collected as before."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _batch_size(remaining: int, n_workers: int) -> int:
    """Products per task: :data:`BATCH_MAX` while ``remaining`` products give every worker's
    :data:`TASKS_PER_WORKER` tasks that many, fewer towards the end (one each for the last few), so that the
    last tasks spread over the workers."""
    return max(1, min(BATCH_MAX, remaining // (TASKS_PER_WORKER * max(n_workers, 1))))
