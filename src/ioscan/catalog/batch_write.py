"""Several products' rows written with a handful of statements, whatever their number: what a scan's writer
does with the results that arrived together (:meth:`ioscan.catalog.store.Store.add_products`).

One product at a time took ten statements (known already? insert the observation, its bands, its
detections, read and settle its versions, release its claim; a savepoint around it), ~3 ms of the writer's
CPU per product of ~40 detections on SQLite, nearly all of it SQLAlchemy's work per statement.
:func:`insert_batch` does the same for a whole batch in seven: one look-up of what is stored already, one
multi-row INSERT each for observations (their ids returned in order), bands and detections, one read of
the versions of every product ID concerned, the version changes, one release of the claims. The rows, their
ids and every outcome are those of the products stored one after the other in the batch's order: it only
takes a batch whose products cannot meet each other (no two share a product ID without version, nor a data
checksum), and any database error puts the batch back to the product-by-product path (the caller's), so that
each product stays all-or-nothing on its own.
"""

from __future__ import annotations

import functools
import itertools
import operator
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from ioscan.catalog import schema as sch
from ioscan.catalog.products import StoredProduct, apply_version_changes, stored_outcome, version_changes
from ioscan.catalog.rows import ProductRows


def batchable(batch: Sequence[ProductRows]) -> bool:
    """True when no two products of ``batch`` share a product key, a product ID without version or a data
    checksum (storing one could then change what storing another does)."""
    obs = [rows.observation for rows in batch]
    keys = {o["product_key"] for o in obs}
    bases = {o["base_product_id"] for o in obs}
    checksums = [o.get("checksum_sha256") for o in obs if o.get("checksum_sha256")]
    return len(keys) == len(bases) == len(obs) and len(set(checksums)) == len(checksums)


def insert_batch(conn: sa.Connection, batch: Sequence[ProductRows]) -> list[StoredProduct] | None:
    """Write ``batch`` (inside a write transaction, the products lock held) as storing each product in turn
    would (:meth:`ioscan.catalog.store.Store._insert_product`): the outcome of each, in order. None, with
    nothing written, when the batch is not :func:`batchable`, the database cannot return the new rows' ids
    in order, or a statement fails: then store the products one by one."""
    if not batch or not batchable(batch) or not _ordered_returning(conn):
        return None
    savepoint = conn.begin_nested()
    try:
        out = _write(conn, batch)
    except sa.exc.StatementError:
        savepoint.rollback()
        return None
    savepoint.commit()
    return out


def _ordered_returning(conn: sa.Connection) -> bool:
    return bool(getattr(conn.dialect, "insert_executemany_returning_sort_by_parameter_order", False))


def _write(conn: sa.Connection, batch: Sequence[ProductRows]) -> list[StoredProduct]:
    known = known_products(conn, [rows.observation for rows in batch])
    new = [rows for rows, done in zip(batch, known, strict=True) if done is None]
    ids = _insert_rows(conn, new)
    stored = settle_versions(conn, [rows.observation for rows in new], ids)
    conn.execute(release_statement(), {"keys": [rows.observation["product_key"] for rows in batch]})
    settled = iter(stored)
    return [done if done is not None else next(settled) for done in known]


def known_products(conn: sa.Connection, obs: Sequence[Mapping[str, Any]]) -> list[StoredProduct | None]:
    """For each product, the outcome when it (same key) or its data (same checksum under another product ID
    without version) is stored already, else None: one query for all."""
    keys = [x["product_key"] for x in obs]
    checksums = [x["checksum_sha256"] for x in obs if x.get("checksum_sha256")]
    params = {"keys": keys, "checksums": checksums} if checksums else {"keys": keys}
    rows = conn.execute(_known_statement(bool(checksums)), params).all()
    by_key = {r.product_key: r for r in rows}
    matches = []
    for x in obs:
        row, outcome = by_key.get(x["product_key"]), "already_stored"
        if row is None and x.get("checksum_sha256"):
            same_data = (
                r
                for r in rows
                if r.checksum_sha256 == x["checksum_sha256"] and r.base_product_id != x["base_product_id"]
            )
            row, outcome = next(same_data, None), "duplicate"
        matches.append((row, outcome))
    names = _product_ids(conn, {r.superseded_by_id for r, _ in matches if r is not None} - {None})
    return [
        None
        if row is None
        else StoredProduct(
            int(row.id), str(row.product_id), outcome, superseded_by=names.get(row.superseded_by_id)
        )
        for row, outcome in matches
    ]


@functools.cache
def _known_statement(with_checksums: bool) -> sa.Select:
    """:func:`known_products`' query, built once: the stored rows whose product key is one of ``keys`` or
    (``with_checksums``) whose data checksum is one of ``checksums`` (expanding parameters)."""
    o = sch.observations
    found = o.c.product_key.in_(sa.bindparam("keys", expanding=True))
    if with_checksums:
        found = sa.or_(found, o.c.checksum_sha256.in_(sa.bindparam("checksums", expanding=True)))
    cols = (
        o.c.id,
        o.c.product_id,
        o.c.superseded_by_id,
        o.c.product_key,
        o.c.checksum_sha256,
        o.c.base_product_id,
    )
    return sa.select(*cols).where(found).order_by(o.c.id)


def _product_ids(conn: sa.Connection, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    o = sch.observations
    rows = conn.execute(sa.select(o.c.id, o.c.product_id).where(o.c.id.in_(sorted(ids))))
    return {int(i): str(p) for i, p in rows}


def _insert_rows(conn: sa.Connection, batch: Sequence[ProductRows]) -> list[int]:
    """Insert the observations (ids returned in the batch's order), then every band and detection row."""
    if not batch:
        return []
    o = sch.observations
    returning = sa.insert(o).returning(o.c.id, sort_by_parameter_order=True)
    ids = [int(i) for i in conn.execute(returning, [rows.observation for rows in batch]).scalars()]
    bands = [dict(r, observation_id=i) for rows, i in zip(batch, ids, strict=True) for r in rows.bands]
    if bands:
        conn.execute(sa.insert(sch.frames), bands)
    insert_product_detections(conn, list(zip(batch, ids, strict=True)))
    return ids


def insert_detections(conn: sa.Connection, params: list[dict[str, Any]]) -> None:
    """Insert detection rows (:func:`detection_params`). On SQLite one executemany of value tuples, each
    value through the bind processor SQLAlchemy would apply, in the order of the statement it compiles:
    what ``conn.execute`` sends, without its per-row parameter building (~40 rows a frame, ~0.7 ms of the
    writer's CPU); elsewhere, or rows with other columns, through ``conn.execute``."""
    if not params:
        return
    keys = tuple(params[0])
    if (
        conn.dialect.name != "sqlite"
        or conn.dialect.paramstyle != "qmark"
        or any(p.keys() != params[0].keys() for p in params)
    ):
        conn.execute(detection_insert(conn.dialect), params)
        return
    sql, order, processors = _sqlite_detection_insert(conn.dialect, keys)
    rows = [tuple(processors[k](p[k]) if k in processors else p[k] for k in order) for p in params]
    conn.exec_driver_sql(sql, rows)


#: the columns :func:`detection_params` adds to a product's detection rows, in its order
_COMMON = ("observation_id", "source", "time_utc", "observer")


def insert_product_detections(conn: sa.Connection, products: Sequence[tuple[ProductRows, int]]) -> None:
    """Insert the detection rows of ``products`` (each product's rows and its observation id): what
    :func:`insert_detections` of their :func:`detection_params` inserts. On SQLite the value tuples are made
    from the rows' own tuples (the product's columns added, put in the statement's order by one
    ``itemgetter``), without a dict per row; the float columns' bind processor (``float``; None as None)
    is applied only to values that are not floats or None already (it leaves those as they are)."""
    if not any(rows.detection_values for rows, _ in products):
        return
    columns = products[0][0].detection_columns
    if (
        conn.dialect.name != "sqlite"
        or conn.dialect.paramstyle != "qmark"
        or any(rows.detection_columns != columns for rows, _ in products)
    ):
        insert_detections(conn, [d for rows, i in products for d in detection_params(rows, i)])
        return
    keys = tuple(_EXTRA_TEXT if c == "extra" else c for c in columns) + _COMMON
    sql, order, processors = _sqlite_detection_insert(conn.dialect, keys)
    index = {k: i for i, k in enumerate(keys)}
    pick = operator.itemgetter(*(index[k] for k in order))
    processed = operator.itemgetter(*(index[k] for k in processors)) if len(processors) > 1 else None
    out: list[tuple] = []
    as_is = {float, type(None)}
    for rows, obs_id in products:
        obs = rows.observation
        common = (obs_id, "ioscan", obs["time_utc"], obs.get("observer"))
        full = [v + common for v in rows.detection_values]
        kinds = (
            set()
            if processed is None
            else set(map(type, itertools.chain.from_iterable(map(processed, full))))
        )
        if processed is None or not kinds <= as_is:
            full = [_processed(v, keys, processors) for v in full]
        out.extend(map(pick, full))
    conn.exec_driver_sql(sql, out)


def _processed(values: tuple, keys: tuple[str, ...], processors: dict) -> tuple:
    """``values`` (one per key) through the bind processors of their keys."""
    return tuple(processors[k](x) if k in processors else x for k, x in zip(keys, values, strict=True))


@functools.lru_cache(maxsize=8)
def _sqlite_detection_insert(dialect: sa.Dialect, keys: tuple[str, ...]) -> tuple[str, tuple[str, ...], dict]:
    """(SQL, parameter names in order, bind processors by name) of :func:`detection_insert` for rows with
    ``keys``, compiled as ``conn.execute`` compiles it."""
    compiled = detection_insert(dialect).compile(dialect=dialect, column_keys=list(keys))
    processors = {k: f for k, f in (compiled._bind_processors or {}).items() if f is not None}
    return compiled.string, tuple(compiled.positiontup), processors


def detection_insert(dialect: sa.Dialect) -> sa.Insert:
    """The INSERT of :func:`detection_params`: ``extra`` bound as the JSON text the rows hold
    (:func:`~ioscan.catalog.rows.json_text`: the text the JSON type would write), cast to JSON where the
    database has the type (SQLite stores the text as it is: a cast there would give it numeric affinity)."""
    text = sa.bindparam(_EXTRA_TEXT, type_=sa.Text())
    return sa.insert(sch.detections).values(
        extra=text if dialect.name == "sqlite" else sa.cast(text, sa.JSON)
    )


_EXTRA_TEXT = "extra_json"


def detection_params(rows: ProductRows, observation_id: int) -> list[dict[str, Any]]:
    """One product's detection rows for :func:`detection_insert` (its time and observer, ``source``)."""
    obs = rows.observation
    common = {
        "observation_id": observation_id,
        "source": "ioscan",
        "time_utc": obs["time_utc"],
        "observer": obs.get("observer"),
    }
    cols = tuple(_EXTRA_TEXT if c == "extra" else c for c in rows.detection_columns)
    return [dict(zip(cols, v, strict=True), **common) for v in rows.detection_values]


@functools.cache
def _versions_statement() -> sa.Select:
    """:func:`settle_versions`' read of the stored versions of the product IDs ``bases``, built once."""
    o = sch.observations
    cols = (o.c.id, o.c.base_product_id, o.c.product_id, o.c.checksum_sha256, o.c.product_version)
    cols += (o.c.product_created_utc, o.c.superseded_by_id)
    return (
        sa.select(*cols)
        .where(o.c.base_product_id.in_(sa.bindparam("bases", expanding=True)))
        .order_by(o.c.id)
    )


@functools.cache
def release_statement() -> sa.Delete:
    """The release of the scan claims on the product keys ``keys``, built once."""
    c = sch.scan_claims.c
    return sa.delete(sch.scan_claims).where(c.product_key.in_(sa.bindparam("keys", expanding=True)))


def settle_versions(
    conn: sa.Connection, obs: Sequence[Mapping[str, Any]], ids: list[int]
) -> list[StoredProduct]:
    """Settle which version of each new product's ID is in force (one read for all: the products of the
    batch share no ID, :func:`batchable`) and say what storing each did."""
    if not obs:
        return []
    bases = [x["base_product_id"] for x in obs]
    by_base: dict[str, list] = {b: [] for b in bases}
    for r in conn.execute(_versions_statement(), {"bases": bases}):
        by_base[r.base_product_id].append(r)
    out = []
    for base, obs_id in zip(bases, ids, strict=True):
        changes = version_changes(by_base[base])
        apply_version_changes(conn, changes)
        out.append(stored_outcome(by_base[base], changes, obs_id))
    return out
