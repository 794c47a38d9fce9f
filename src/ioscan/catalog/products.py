"""Product versions in the catalogue: the key each stored product has, and which version is in force.

A product is keyed by its ID without the version (``base_product_id``), its version and the checksum of its
data (:func:`product_key`). Of the stored rows sharing a ``base_product_id`` one is *in force*: the highest
version (:func:`ioscan.formats.versions.version_key`); between two copies of one version whose data differ,
the one the archive made later (``product_created_utc``), then the one stored later. Every other row points
at it through ``superseded_by_id``: kept with its detections, left out of tracking, exports and statistics by
default. :func:`resolve_versions` applies this after every store, so the outcome is the same whatever the
order in which products are scanned.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from ioscan.catalog import schema as sch
from ioscan.catalog.rows import identity_fields, product_key  # noqa: F401 (this module's API as before)
from ioscan.formats.versions import version_key


@dataclass
class StoredProduct:
    """What storing one product did.

    Attributes:
        observation_id: its ``observations`` row (the existing one when it was stored before).
        product: the product as shown (ID, and data checksum when the ID alone does not tell versions apart).
        outcome: ``"stored"``; ``"already_stored"`` (same ID, version and data); ``"duplicate"`` (the same
            data is stored under another product ID: nothing written).
        superseded: products this one put out of force (shown as ``product``).
        superseded_by: the product in force when this one is not, else None.
    """

    observation_id: int
    product: str
    outcome: str
    superseded: list[str] = field(default_factory=list)
    superseded_by: str | None = None


def shown(product_id: str, checksum: str | None, *, with_data: bool) -> str:
    """A product as a scan reports it: the ID, plus the start of the checksum when asked."""
    return f"{product_id} (data {checksum[:12]})" if with_data and checksum else product_id


def resolve_versions(conn: sa.Connection, base_product_id: str) -> dict[int, int | None]:
    """Mark the rows of ``base_product_id`` superseded by the one in force; returns ``{id: superseded_by_id}``
    for the rows whose state changed. Call inside the write transaction that stored a row."""
    o = sch.observations
    rows = conn.execute(
        sa.select(o.c.id, o.c.product_version, o.c.product_created_utc, o.c.superseded_by_id).where(
            o.c.base_product_id == base_product_id
        )
    ).all()
    changes = version_changes(rows)
    apply_version_changes(conn, changes)
    return changes


def version_changes(rows) -> dict[int, int | None]:
    """``{id: superseded_by_id}`` for the rows of one ``base_product_id`` (each with ``id``,
    ``product_version``, ``product_created_utc`` and ``superseded_by_id``) whose state must change so that
    every row but the one in force points at it; no database."""
    if not rows:
        return {}
    winner = max(rows, key=lambda r: (version_key(r.product_version), r.product_created_utc or "", r.id)).id
    changes: dict[int, int | None] = {}
    for r in rows:
        wanted = None if r.id == winner else winner
        if r.superseded_by_id != wanted:
            changes[r.id] = wanted
    return changes


def apply_version_changes(conn: sa.Connection, changes: dict[int, int | None]) -> None:
    """Write ``changes`` (:func:`version_changes`): one UPDATE per target row."""
    o = sch.observations
    for target in set(changes.values()):
        ids = [i for i, t in changes.items() if t == target]
        conn.execute(sa.update(o).where(o.c.id.in_(ids)).values(superseded_by_id=target))


def stored_outcome(rows: list, changes: dict[int, int | None], obs_id: int) -> StoredProduct:
    """What storing ``obs_id`` did, from the rows of its product ID (id, product_id, checksum_sha256,
    superseded_by_id; read before or after ``changes`` were applied) and their version changes
    (:func:`version_changes`: id → the id superseding it, None: current)."""
    by_id = {r.id: r for r in rows}
    ids = [r.product_id for r in rows]

    def name(i: int) -> str:
        r = by_id[i]
        return shown(r.product_id, r.checksum_sha256, with_data=ids.count(r.product_id) > 1)

    by = changes.get(obs_id, by_id[obs_id].superseded_by_id)
    return StoredProduct(
        obs_id,
        name(obs_id),
        "stored",
        superseded=[name(i) for i, target in changes.items() if i != obs_id and target is not None],
        superseded_by=None if by is None else name(by),
    )
