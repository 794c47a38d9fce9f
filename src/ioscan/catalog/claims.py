"""Scan claims: which running scan works on which product, so scans on one catalogue share the work.

A scan claims a product (its :func:`~ioscan.catalog.products.product_key`) just before working on it. A claim
carries a lease (:data:`DEFAULT_LEASE_S`) that the scan renews while it works; storing the product releases
the claim in the same transaction (:meth:`ioscan.catalog.store.Store.add_product`) and a failure releases it
explicitly, so a failed product is tried again by the next scan. Another scan's claim is *stale*, and taken
over, when its lease has run out, when its run is no longer ``running``, or when it was made on this host by a
process that is gone: a scan killed with ``kill -9`` is taken over at once by a re-run on the same machine,
and from another machine once the lease runs out. Claims are rows of ``scan_claims``; taking one is a single
write transaction, and taking over a stale one only succeeds if nobody changed it meanwhile, so a product is
never claimed by two scans at once.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa

from ioscan.catalog import schema as sch
from ioscan.catalog.batch_write import known_products
from ioscan.catalog.times import utc_iso

if TYPE_CHECKING:
    from ioscan.catalog.store import Store

#: how long a claim holds without renewal, s
DEFAULT_LEASE_S = 600.0


@dataclass(frozen=True)
class Claim:
    """The answer to a claim.

    Attributes:
        outcome: ``"claimed"`` (this scan works on it now), ``"stored"`` (already in the catalogue) or
            ``"held"`` (another live scan works on it, or this scan already does, reached by another path).
        detail: for ``stored``, the product ID it is stored as; for ``held``, which scan holds it.
        observation_id: for ``stored``, its ``observations`` row.
    """

    outcome: str
    detail: str | None = None
    observation_id: int | None = None


def process_alive(pid: int) -> bool:
    """True when process ``pid`` exists on this host and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


def _utc(seconds_from_now: float = 0.0) -> str:
    return utc_iso(datetime.now(UTC) + timedelta(seconds=seconds_from_now))


class Claims:
    """The claims of one scan run on ``store`` (host and process of the caller)."""

    def __init__(self, store: Store, run_id: int, lease_s: float = DEFAULT_LEASE_S):
        self.store = store
        self.run_id = run_id
        self.lease_s = float(lease_s)
        self.host = socket.gethostname()[:255]
        self.pid = os.getpid()
        self._renewed = time.monotonic()

    def _stale(self, conn: sa.Connection, row) -> bool:
        if row.lease_until_utc < _utc():
            return True
        if row.host == self.host and not process_alive(int(row.pid)):
            # its scan was killed: say so in its run record
            r = sch.runs
            conn.execute(
                sa.update(r).where(r.c.id == row.run_id, r.c.status == "running").values(status="interrupted")
            )
            return True
        status = conn.execute(sa.select(sch.runs.c.status).where(sch.runs.c.id == row.run_id)).scalar()
        return status != "running"

    def claim(self, key: str, base_product_id: str | None = None, checksum: str | None = None) -> Claim:
        """Claim product ``key`` for this run (see the module docs); ``base_product_id`` and ``checksum``
        also find it stored when its data is in the catalogue under another product ID."""
        for _attempt in range(3):
            try:
                with self.store._write() as conn:
                    answer = self._claim_in(conn, key, base_product_id, checksum)
            except sa.exc.IntegrityError:
                continue  # another scan inserted the same claim first: look again
            if answer is not None:
                return answer
        return Claim("held", "another scan (the claim kept changing)")

    def claim_many(self, products: Sequence[tuple[str, str | None, str | None]]) -> list[Claim]:
        """:meth:`claim` for several products (``(key, base_product_id, checksum)`` each) in one write
        transaction: those stored already and those nobody claimed yet with a few statements for all
        (:meth:`_claim_unclaimed`), the others each in a savepoint; a product whose claim raced with another
        scan is looked at again on its own."""
        answers: list[Claim | None] = [None] * len(products)
        with self.store._write() as conn:
            for i, answer in self._claim_unclaimed(conn, products).items():
                answers[i] = answer
            for i, (key, base, checksum) in enumerate(products):
                if answers[i] is not None:
                    continue
                savepoint = conn.begin_nested()
                try:
                    answers[i] = self._claim_in(conn, key, base, checksum)
                except sa.exc.IntegrityError:
                    savepoint.rollback()
                else:
                    savepoint.commit()
        return [a if a is not None else self.claim(*products[i]) for i, a in enumerate(answers)]

    def _claim_unclaimed(
        self, conn: sa.Connection, products: Sequence[tuple[str, str | None, str | None]]
    ) -> dict[int, Claim]:
        """Inside a write transaction, the answers for the products stored already and the claims of those
        no scan claimed, in three statements (the rest, claimed by a scan, are left to :meth:`_claim_in`):
        what :meth:`_claim_in` answers for each. Nothing when two share a key (the second is then held by
        the first) or the claims raced with another scan's."""
        keys = [key for key, _, _ in products]
        if len(set(keys)) != len(keys):
            return {}
        c = sch.scan_claims
        savepoint = conn.begin_nested()
        try:
            stored = known_products(
                conn, [{"product_key": k, "base_product_id": b, "checksum_sha256": s} for k, b, s in products]
            )
            claimed = set(conn.execute(sa.select(c.c.product_key).where(c.c.product_key.in_(keys))).scalars())
            answers = {
                i: Claim("stored", done.product, done.observation_id)
                for i, done in enumerate(stored)
                if done is not None
            }
            new = [i for i, key in enumerate(keys) if i not in answers and key not in claimed]
            if new:
                values = self._claim_values()
                conn.execute(sa.insert(c), [dict(values, product_key=keys[i]) for i in new])
        except sa.exc.IntegrityError:  # another scan claimed one meanwhile: each on its own
            savepoint.rollback()
            return {}
        savepoint.commit()
        return answers | {i: Claim("claimed") for i in new}

    def _claim_values(self) -> dict:
        """A new claim's columns but its key: this run, host and process, now, and the lease's end."""
        return {
            "run_id": self.run_id,
            "host": self.host,
            "pid": self.pid,
            "claimed_utc": _utc(),
            "lease_until_utc": _utc(self.lease_s),
        }

    def _claim_in(
        self, conn: sa.Connection, key: str, base_product_id: str | None, checksum: str | None
    ) -> Claim | None:
        """One claim inside a write transaction; None when the claim changed meanwhile (look again)."""
        c = sch.scan_claims
        values = self._claim_values()
        stored = self.store._known_product(
            conn, {"product_key": key, "base_product_id": base_product_id, "checksum_sha256": checksum}
        )
        if stored is not None:
            return Claim("stored", stored.product, stored.observation_id)
        row = conn.execute(sa.select(c).where(c.c.product_key == key)).first()
        if row is None:
            conn.execute(sa.insert(c).values(product_key=key, **values))
            return Claim("claimed")
        if row.run_id == self.run_id:
            return Claim("held", f"this scan (run {self.run_id}), from another path")
        if self._stale(conn, row):
            taken = conn.execute(
                sa.update(c)
                .where(
                    c.c.product_key == key,
                    c.c.run_id == row.run_id,
                    c.c.lease_until_utc == row.lease_until_utc,
                )
                .values(**values)
            )
            return Claim("claimed") if taken.rowcount == 1 else None
        return Claim("held", f"run {row.run_id} on {row.host} (process {row.pid})")

    def renew(self, *, every_s: float | None = None) -> None:
        """Extend the lease of every claim of this run (at most once per ``every_s``, default a quarter of
        the lease)."""
        every = self.lease_s / 4 if every_s is None else every_s
        if time.monotonic() - self._renewed < every:
            return
        c = sch.scan_claims
        with self.store._write() as conn:
            conn.execute(
                sa.update(c).where(c.c.run_id == self.run_id).values(lease_until_utc=_utc(self.lease_s))
            )
        self._renewed = time.monotonic()

    def release(self, key: str) -> None:
        """Give up this run's claim on ``key`` (after a failure; storing releases it by itself)."""
        c = sch.scan_claims
        with self.store._write() as conn:
            conn.execute(sa.delete(c).where(c.c.product_key == key, c.c.run_id == self.run_id))

    def release_all(self) -> None:
        """Give up every claim of this run (at the end of a scan, whatever happened)."""
        c = sch.scan_claims
        with self.store._write() as conn:
            conn.execute(sa.delete(c).where(c.c.run_id == self.run_id))

    def held(self) -> int:
        """How many claims this run holds."""
        c = sch.scan_claims
        with self.store.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count()).select_from(c).where(c.c.run_id == self.run_id)
                ).scalar_one()
            )
