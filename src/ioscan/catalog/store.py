"""The catalogue database: open it, write frames and results, read tables back as DataFrames.

``open_store(url)`` connects (SQLite by default, PostgreSQL with a ``postgresql://`` URL through psycopg 3),
brings the schema to the latest alembic revision and returns a :class:`Store`; ``open_store(url,
create=False)`` (the commands that only read a catalogue) refuses to make a new one. Creating and migrating
the schema is safe when several processes open one catalogue at once (SQLite: an immediate transaction;
PostgreSQL: an advisory lock). Every write method is one transaction (``BEGIN IMMEDIATE`` on SQLite, so
concurrent writers wait for each other instead of failing): it stores all of its input or nothing. Nothing
here prints.

Products: :meth:`Store.add_product` keys a product by its ID without the version, its version and its data
checksum (:mod:`ioscan.catalog.products`); the highest version of a product is in force and older ones are
kept, marked superseded, and left out of every read by default (``include_superseded=True`` to see them).

Conventions (see :mod:`ioscan.catalog.schema`): times are fixed-width ISO 8601 UTC text
(``2022-03-01T12:00:00.000000Z``); ``lat_deg`` planetographic °N, ``lon_w_deg`` west 0–360; hot-spot
associations are the ``hotspot_id`` column of ``detections``, replaced as a whole by :meth:`assign_hotspots`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from ioscan import __version__
from ioscan.catalog import schema as sch
from ioscan.catalog.batch_write import (  # noqa: F401 (detection_params, insert_detections: as before)
    detection_params,
    insert_batch,
    insert_detections,
    insert_product_detections,
    known_products,
    release_statement,
    settle_versions,
)
from ioscan.catalog.products import StoredProduct
from ioscan.catalog.rows import (  # noqa: F401 (ProductRows, product_rows: this module's API as before)
    DETECTION_FIELDS,
    ProductRows,
    _check_text,
    _clean,
    _detection_row,
    _float_or_none,
    _json_safe,
    _plain_float,
    _plain_json,
    observation_row,
    product_rows,
)
from ioscan.catalog.times import utc_iso
from ioscan.errors import CatalogError
from ioscan.records import BandSummary, Detection, HotspotTemperature, Observation

DEFAULT_SQLITE_FILE = "ioscan.db"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

HOTSPOT_KEYS = ("lat_deg", "lon_w_deg", "lat_err_deg", "lon_err_deg", "lat_lon_err_corr", "name", "status")
LIGHTCURVE_COLUMNS = (
    "id",
    "time_utc",
    "band",
    "wavelength_um",
    "source",
    "observation_id",
    "detection_id",
    "observer",
    "lat_deg",
    "lon_w_deg",
    "emission_deg",
    "snr",
    "flags",
    "spectral_intensity_gw_um_sr",
    "spectral_intensity_err_gw_um_sr",
    "spectral_power_gw_um",
    "spectral_power_err_gw_um",
    "spectral_intensity_sys_err_gw_um_sr",
    "spectral_power_sys_err_gw_um",
)


# ----------------------------------------------------------------------------------------------- opening
def engine_url(url: str | Path | None = None) -> sa.URL:
    """The SQLAlchemy URL for ``url``: None → ``sqlite:///ioscan.db`` in the CWD; a path → SQLite at that
    path; ``":memory:"`` → in-memory SQLite; ``postgresql://`` / ``postgres://`` → the psycopg 3 driver;
    other SQLAlchemy URLs unchanged."""
    if url is None:
        return sa.make_url(f"sqlite:///{Path.cwd() / DEFAULT_SQLITE_FILE}")
    if str(url) == ":memory:":
        return sa.make_url("sqlite://")  # in-memory SQLite (one per thread; for tests and quick looks)
    if isinstance(url, Path) or "://" not in str(url):
        return sa.make_url(f"sqlite:///{Path(url).expanduser().resolve()}")
    text = str(url)
    for prefix in ("postgresql://", "postgres://"):
        if text.startswith(prefix):
            text = "postgresql+psycopg://" + text[len(prefix) :]
    try:
        return sa.make_url(text)
    except sa.exc.ArgumentError as exc:
        raise CatalogError(f"cannot read database URL {url!r}: {exc}") from None


def _make_engine(url: sa.URL) -> sa.Engine:
    if url.get_backend_name() == "sqlite":
        database = url.database
        if database and database != ":memory:" and not Path(database).parent.is_dir():
            raise CatalogError(
                f"cannot create catalogue {database}: folder {Path(database).parent} is missing"
            )
        engine = sa.create_engine(url, connect_args={"timeout": 30})
        sa.event.listen(engine, "connect", _sqlite_on_connect)
        # pysqlite's own transaction handling defers BEGIN; emit it ourselves so every transaction
        # (reads included) is a real SQLite transaction and DDL is transactional too. Write transactions
        # (execution option WRITE) take the write lock at once: a deferred one that read first could not
        # upgrade while another process writes ("database is locked" without waiting).
        sa.event.listen(engine, "begin", _sqlite_begin)
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


#: execution option of write transactions (``engine.execution_options(**WRITE)``)
WRITE = {"ioscan_write": True}
#: PostgreSQL advisory-lock keys: schema migrations, product stores (which decide versions and duplicates)
_PG_LOCK_SCHEMA = 0x10_5CA0
_PG_LOCK_PRODUCTS = 0x10_5CA1
#: a product's observation and band inserts (the values bound per call), built once
_INSERT_OBSERVATION = sa.insert(sch.observations)
_INSERT_FRAMES = sa.insert(sch.frames)


def _sqlite_begin(conn: sa.Connection) -> None:
    write = conn.get_execution_options().get("ioscan_write")
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")  # first: switching to WAL may have to wait for a lock
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB page cache: big transactions stay in memory
    cursor.close()


def upgrade_schema(engine: sa.Engine) -> None:
    """Run the packaged alembic migrations up to ``head`` on ``engine`` (idempotent, and safe when several
    processes do it at once: one migrates, the others wait and find the schema at head).

    SQLite: foreign keys are switched off for the migration (a migration that rebuilds a table must not
    cascade its deletes into the rows that refer to it) and checked before the commit.
    """
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        if sqlite:  # outside any transaction, where SQLite honours it
            conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.execution_options(**WRITE).begin():
                if not sqlite:
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_SCHEMA})
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
                if sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").first()
                    if broken is not None:
                        raise CatalogError(f"migration left a dangling reference in table {broken[0]}")
        finally:
            if sqlite:
                conn.connection.driver_connection.execute("PRAGMA foreign_keys=ON")


def _is_catalogue(engine: sa.Engine) -> bool:
    with engine.connect() as conn:
        return sa.inspect(conn).has_table("alembic_version")


def open_store(url: str | Path | None = None, *, create: bool = True) -> Store:
    """Open (upgrading as needed) the catalogue at ``url``; see :func:`engine_url`. With ``create=True`` a
    missing catalogue is made; with ``create=False`` (commands that only read one) a missing SQLite file,
    or a database without an ioscan schema, is a CatalogError and nothing is created.

    SQLite connections get WAL journaling, foreign keys and a 30 s busy timeout.
    Raises CatalogError naming the database when it cannot be opened or migrated.
    """
    sa_url = engine_url(url)
    shown_url = sa_url.render_as_string(hide_password=True)
    if not create and sa_url.get_backend_name() == "sqlite":
        database = sa_url.database
        if not database or database == ":memory:" or not Path(database).is_file():
            where = "in memory" if not database or database == ":memory:" else database
            raise CatalogError(
                f"no catalogue {where}: give the catalogue with --db (a scan or an import makes one)"
            )
    engine = _make_engine(sa_url)
    try:
        if not create and not _is_catalogue(engine):
            raise CatalogError(
                f"{shown_url} is not an ioscan catalogue (no ioscan schema in it); nothing was changed"
            )
        upgrade_schema(engine)
    except CatalogError:
        engine.dispose()
        raise
    except Exception as exc:  # connection refused, unknown revision (newer database), permissions...
        engine.dispose()
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CatalogError(f"cannot open catalogue {shown_url}: {detail}") from exc
    return Store(engine)


# ----------------------------------------------------------------------------------------------- helpers
def _now_utc() -> str:
    return utc_iso(datetime.now(UTC))


def _frame(result: sa.CursorResult, float_columns: Iterable[str] = ()) -> pd.DataFrame:
    """A DataFrame built column by column (much faster than from Row objects); ``float_columns`` become
    float64 with NULL → NaN."""
    import numpy as np

    keys = list(result.keys())
    rows = result.fetchall()
    floats = set(float_columns)
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(keys)
    data = {}
    for name, values in zip(keys, columns, strict=True):
        if name in floats:
            data[name] = np.array(values, dtype="float64")
        else:
            data[name] = pd.Series(values, dtype=object) if not values else list(values)
    return pd.DataFrame(data, columns=keys)


def _float_names(table: sa.Table) -> list[str]:
    return [c.name for c in table.columns if isinstance(c.type, sa.Float)]


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _clean(v) for k, v in row.items()} for row in df.to_dict(orient="records")]


# ----------------------------------------------------------------------------------------------- store
class Store:
    """A connection to one catalogue database (use :func:`open_store`)."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self._writer = engine.execution_options(**WRITE)

    def _write(self):
        """A write transaction (``BEGIN IMMEDIATE`` on SQLite)."""
        return self._writer.begin()

    @property
    def sqlite_path(self) -> Path | None:
        """The database file of an SQLite catalogue (None for PostgreSQL or in memory)."""
        db = self.engine.url.database
        if self.dialect != "sqlite" or not db or db == ":memory:":
            return None
        return Path(db).resolve()

    # -- plumbing
    @property
    def url(self) -> str:
        """The database URL, password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    def close(self) -> None:
        """Release all connections."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    def _read(self, stmt: sa.Executable, float_columns: Iterable[str] = ()) -> pd.DataFrame:
        with self.engine.connect() as conn:
            return _frame(conn.execute(stmt), float_columns)

    # -- runs
    def start_run(
        self,
        command: str,
        parameters: Mapping[str, Any] | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> int:
        """Record the start of a processing run (its inputs in ``parameters``, the detect / measure /
        navigate / track settings it was made with in ``settings``); returns its id."""
        with self._write() as conn:
            result = conn.execute(
                sa.insert(sch.runs).values(
                    ioscan_version=__version__,
                    command=command,
                    parameters=_json_safe(dict(parameters or {})),
                    settings=_json_safe(dict(settings)) if settings is not None else None,
                    started_utc=_now_utc(),
                    status="running",
                )
            )
            return int(result.inserted_primary_key[0])

    def finish_run(self, run_id: int, status: str = "ok", summary: Mapping[str, Any] | None = None) -> None:
        """Mark run ``run_id`` finished with ``status`` (``ok``; ``partial``: some products failed;
        ``failed``; ``interrupted``) and what it did (``summary``: counts, failures and their reasons)."""
        values: dict[str, Any] = {"finished_utc": _now_utc(), "status": status}
        if summary is not None:
            values["summary"] = _json_safe(dict(summary))
        with self._write() as conn:
            result = conn.execute(sa.update(sch.runs).where(sch.runs.c.id == run_id).values(**values))
            if result.rowcount != 1:
                raise CatalogError(f"no run {run_id} in catalogue {self.url}")

    def runs_frame(self) -> pd.DataFrame:
        """All runs, oldest first."""
        return self._read(sa.select(sch.runs).order_by(sch.runs.c.id))

    # -- observations
    def has_checksum(self, checksum: str) -> bool:
        """True when a product with this SHA-256 checksum is already stored."""
        stmt = sa.select(sch.observations.c.id).where(sch.observations.c.checksum_sha256 == checksum).limit(1)
        with self.engine.connect() as conn:
            return conn.execute(stmt).first() is not None

    def last_observation_id(self) -> int:
        """The highest ``observations`` row id (0 when empty): rows above it were stored later."""
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.max(sch.observations.c.id))).scalar() or 0)

    def stored_as(self, key: str, base_product_id: str, checksum: str | None) -> str | None:
        """The product ID under which this product (``key`` of :func:`~ioscan.catalog.products.product_key`)
        or its data (the same ``checksum`` under another base ID) is already stored, else None."""
        with self.engine.connect() as conn:
            found = self._known_product(
                conn, {"product_key": key, "base_product_id": base_product_id, "checksum_sha256": checksum}
            )
        return None if found is None else found.product

    def add_observation(
        self,
        observation: Observation,
        bands: Sequence[BandSummary],
        detections: Sequence[Detection],
        run_id: int | None = None,
    ) -> int:
        """Store one product (see :meth:`add_product`); returns its observation id."""
        return self.add_product(observation, bands, detections, run_id).observation_id

    def add_product(
        self,
        observation: Observation,
        bands: Sequence[BandSummary],
        detections: Sequence[Detection],
        run_id: int | None = None,
    ) -> StoredProduct:
        """Store one observation, its bands and all its detections in ONE transaction, and settle which
        version of the product is in force; release a scan's claim on it in the same transaction.

        ``observation.n_detections`` is set to ``len(detections)``. Detections get the observation's time and
        observer and ``source='ioscan'``. Idempotent: a product already stored with the same base ID, version
        and checksum, or whose data is stored under another product ID, writes nothing (the outcome says
        which). A new version, or a same-ID product whose data changed, is stored; the older one is kept and
        marked superseded (:mod:`ioscan.catalog.products`). Any failure leaves nothing of this frame in the
        database.
        """
        rows = product_rows(observation, bands, detections, run_id)
        try:
            with self._write() as conn:
                self._lock_products(conn)
                return self._insert_product(conn, rows)
        except sa.exc.IntegrityError as exc:
            # a concurrent writer may have stored the same product in the meantime
            with self.engine.connect() as conn:
                done = self._known_product(conn, rows.observation)
            if done is not None:
                return done
            raise CatalogError(f"{rows.product}: cannot store observation: {_first_line(exc)}") from None
        except sa.exc.StatementError as exc:
            raise CatalogError(f"{rows.product}: cannot store observation: {_first_line(exc)}") from None

    def add_products(
        self,
        products: Sequence[tuple[Observation, Sequence[BandSummary], Sequence[Detection]] | ProductRows],
        run_id: int | None = None,
    ) -> list[StoredProduct | CatalogError]:
        """Store several products in ONE transaction, each all-or-nothing, as :meth:`add_product` stores one:
        what a scan's writer does with the results that arrived together (one commit, one product lock
        instead of one per product). Products that cannot meet each other are written together with a few
        statements for all (:func:`~ioscan.catalog.batch_write.insert_batch`); otherwise, or when that
        fails, one after the other, a savepoint each.

        ``products`` holds (observation, bands, detections) triples, or their :class:`ProductRows` made
        already (:func:`product_rows`). Returns one outcome per product, in
        order: its :class:`~ioscan.catalog.products.StoredProduct`, or the CatalogError that kept it out (then
        nothing of it is written, and the others are stored all the same). If the transaction itself cannot
        commit, every product of it gets that error and nothing is written.
        """
        out: list[StoredProduct | CatalogError | None] = [None] * len(products)
        todo: list[tuple[int, ProductRows]] = []
        for i, product in enumerate(products):
            try:
                if isinstance(product, ProductRows):  # made already (by a scan's worker): this run's
                    rows = dataclasses.replace(product, observation={**product.observation, "run_id": run_id})
                else:
                    rows = product_rows(*product, run_id)
                todo.append((i, rows))
            except CatalogError as exc:
                out[i] = exc
        if not todo:
            return out  # type: ignore[return-value]
        decided: dict[int, StoredProduct | CatalogError] = {}
        try:
            with self._write() as conn:
                self._lock_products(conn)
                together = insert_batch(conn, [rows for _, rows in todo])  # None: one by one
                if together is not None:
                    decided = dict(zip((i for i, _ in todo), together, strict=True))
                else:
                    decided = self._insert_each(conn, todo)
        except sa.exc.StatementError as exc:  # the commit or the lock failed: nothing of the batch stored
            decided = {
                i: CatalogError(f"{rows.product}: cannot store observation: {_first_line(exc)}")
                for i, rows in todo
            }
        for i, outcome in decided.items():
            out[i] = outcome
        return out  # type: ignore[return-value]

    def _insert_each(
        self, conn: sa.Connection, todo: list[tuple[int, ProductRows]]
    ) -> dict[int, StoredProduct | CatalogError]:
        """Write products one after the other, each in its own savepoint: a product that fails leaves
        nothing, its CatalogError is its outcome, the others are stored."""
        decided: dict[int, StoredProduct | CatalogError] = {}
        for i, rows in todo:
            savepoint = conn.begin_nested()
            try:
                decided[i] = self._insert_product(conn, rows)
            except sa.exc.StatementError as exc:
                savepoint.rollback()
                done = self._known_product(conn, rows.observation)
                decided[i] = (
                    done
                    if done is not None
                    else CatalogError(f"{rows.product}: cannot store observation: {_first_line(exc)}")
                )
            else:
                savepoint.commit()
        return decided

    def _lock_products(self, conn: sa.Connection) -> None:
        """PostgreSQL: one product store at a time decides versions and duplicates (SQLite: the write
        lock does)."""
        if self.dialect == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_PRODUCTS})

    def _insert_product(self, conn: sa.Connection, rows: ProductRows) -> StoredProduct:
        """Write one product's rows (inside a write transaction), settle its versions, release its claim."""
        obs = rows.observation
        release = {"keys": [obs["product_key"]]}
        done = self._known_product(conn, obs)
        if done is not None:
            conn.execute(release_statement(), release)
            return done
        # the values as parameters, not in the statement: one compiled statement for every product
        obs_id = int(conn.execute(_INSERT_OBSERVATION, obs).inserted_primary_key[0])
        if rows.bands:
            conn.execute(_INSERT_FRAMES, [dict(r, observation_id=obs_id) for r in rows.bands])
        insert_product_detections(conn, [(rows, obs_id)])
        outcome = self._settle_versions(conn, obs, obs_id)
        conn.execute(release_statement(), release)
        return outcome

    @staticmethod
    def _known_product(conn: sa.Connection, obs: Mapping[str, Any]) -> StoredProduct | None:
        """The outcome when this product (same key) or its data (same checksum, other base ID) is stored
        (:func:`~ioscan.catalog.batch_write.known_products`, the batch writer's look-up, for one)."""
        return known_products(conn, [obs])[0]

    @staticmethod
    def _settle_versions(conn: sa.Connection, obs: Mapping[str, Any], obs_id: int) -> StoredProduct:
        """Settle which version of the product's ID is in force and say what storing it did
        (:func:`~ioscan.catalog.batch_write.settle_versions`, the batch writer's, for one: one read)."""
        return settle_versions(conn, [obs], [obs_id])[0]

    _observation_row = staticmethod(observation_row)

    def observations_frame(self, *, include_superseded: bool = False) -> pd.DataFrame:
        """Observations in force (with ``include_superseded``, also the superseded versions), in time
        order."""
        t = sch.observations
        stmt = sa.select(t).order_by(t.c.time_utc, t.c.id)
        if not include_superseded:
            stmt = stmt.where(t.c.superseded_by_id.is_(None))
        return self._read(stmt, _float_names(t))

    def frames_frame(
        self, observation_id: int | None = None, *, include_superseded: bool = False
    ) -> pd.DataFrame:
        """Band rows (one per band of each observation in force, or of every stored one)."""
        f, o = sch.frames, sch.observations
        stmt = sa.select(f).order_by(f.c.observation_id, f.c.band)
        if observation_id is not None:
            stmt = stmt.where(f.c.observation_id == observation_id)
        if not include_superseded:
            stmt = stmt.where(f.c.observation_id.in_(sa.select(o.c.id).where(o.c.superseded_by_id.is_(None))))
        return self._read(stmt, _float_names(f))

    # -- detections
    def detections_frame(
        self,
        *,
        band: str | None = None,
        hotspot_id: str | None = None,
        start_utc: Any = None,
        end_utc: Any = None,
        source: str | None = None,
        observation_id: int | None = None,
        include_superseded: bool = False,
    ) -> pd.DataFrame:
        """Detections (all columns plus the observation's ``product_id``), in time order.

        Filters combine with AND; ``start_utc``/``end_utc`` are inclusive bounds (any form
        :func:`~ioscan.catalog.times.utc_iso` reads). ``id`` is the database row id used by
        :meth:`assign_hotspots`; ``detection_id`` is the published ID of an imported detection. Detections
        of superseded product versions are left out unless ``include_superseded``.
        """
        d, o = sch.detections, sch.observations
        stmt = sa.select(d, o.c.product_id).select_from(d.outerjoin(o, d.c.observation_id == o.c.id))
        if not include_superseded:
            stmt = stmt.where(o.c.superseded_by_id.is_(None))
        if band is not None:
            stmt = stmt.where(d.c.band == band)
        if hotspot_id is not None:
            stmt = stmt.where(d.c.hotspot_id == hotspot_id)
        if source is not None:
            stmt = stmt.where(d.c.source == source)
        if observation_id is not None:
            stmt = stmt.where(d.c.observation_id == observation_id)
        try:
            if start_utc is not None:
                stmt = stmt.where(d.c.time_utc >= utc_iso(start_utc))
            if end_utc is not None:
                stmt = stmt.where(d.c.time_utc <= utc_iso(end_utc))
        except ValueError as exc:
            raise CatalogError(f"detections query: {exc}") from None
        return self._read(stmt.order_by(d.c.time_utc, d.c.id), _float_names(d))

    def lightcurve(self, hotspot_id: str, band: str) -> pd.DataFrame:
        """Detections of one hot spot in one band, in time order (uses the (hotspot, band, time) index);
        superseded product versions left out.

        Columns: :data:`LIGHTCURVE_COLUMNS` plus ``product_id``.
        """
        d, o = sch.detections, sch.observations
        stmt = (
            sa.select(*[d.c[name] for name in LIGHTCURVE_COLUMNS], o.c.product_id)
            .select_from(d.outerjoin(o, d.c.observation_id == o.c.id))
            .where(d.c.hotspot_id == hotspot_id, d.c.band == band, o.c.superseded_by_id.is_(None))
            .order_by(d.c.time_utc, d.c.id)
        )
        return self._read(stmt, _float_names(d))

    def add_imported_detections(
        self,
        source: str,
        file_name: str,
        checksum_sha256: str,
        rows: Sequence[Mapping[str, Any]],
        lines: Sequence[int] | None = None,
    ) -> int:
        """Store already validated published detections from one file in one transaction.

        ``rows`` hold ``detections`` columns (``time_utc`` normalised, ``band``...). Returns the number
        stored: 0 when this file (same ``source`` and checksum) was imported before. A ``detection_id``
        already stored for ``source`` raises CatalogError naming the file and its line (``lines[i]``).
        """
        if source == "ioscan":
            raise CatalogError(f"{file_name}: source name 'ioscan' is reserved for ioscan's own detections")
        d, imp = sch.detections, sch.imports
        with self._write() as conn:
            done = conn.execute(
                sa.select(imp.c.id).where(imp.c.source == source, imp.c.checksum_sha256 == checksum_sha256)
            ).first()
            if done is not None:
                return 0
            ids = [r.get("detection_id") for r in rows]
            wanted = {i for i in ids if i is not None}
            if wanted:
                clash = set()
                for chunk in _chunks(sorted(wanted), 500):
                    clash.update(
                        conn.execute(
                            sa.select(d.c.detection_id).where(
                                d.c.source == source, d.c.detection_id.in_(chunk)
                            )
                        ).scalars()
                    )
                if clash:
                    i = next(k for k, v in enumerate(ids) if v in clash)
                    where = f"line {lines[i]}" if lines is not None else f"row {i + 1}"
                    raise CatalogError(
                        f"{file_name}: {where}: detection_id {ids[i]!r} of source {source!r} is already "
                        f"stored (from another file)"
                    )
            import_id = int(
                conn.execute(
                    sa.insert(imp).values(
                        source=source,
                        file_name=file_name,
                        checksum_sha256=checksum_sha256,
                        n_rows=len(rows),
                        imported_utc=_now_utc(),
                    )
                ).inserted_primary_key[0]
            )
            if rows:
                conn.execute(
                    sa.insert(d),
                    [
                        {k: _clean(v) for k, v in r.items()} | {"source": source, "import_id": import_id}
                        for r in rows
                    ],
                )
        return len(rows)

    def imports_frame(self) -> pd.DataFrame:
        """Imported files (source, file name, checksum, rows, time)."""
        return self._read(sa.select(sch.imports).order_by(sch.imports.c.id))

    # -- hot spots and associations
    def assign_hotspots(
        self,
        mapping: Mapping[int, str | None],
        hotspots: pd.DataFrame,
        *,
        method: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        run_id: int | None = None,
    ) -> int:
        """Replace the association result: hot-spot table and every detection's ``hotspot_id``.

        ``mapping`` maps detection row ``id`` → hot-spot ID (None = unassociated; detections not in the
        mapping end up unassociated). ``hotspots`` has a ``hotspot_id`` (or ``id``) column with stable IDs
        such as ``"IOS0001"``, plus ``lat_deg``, ``lon_w_deg`` and optionally ``lat_err_deg``,
        ``lon_err_deg``, ``name``, ``status``. ``n_detections``, ``first_time_utc`` and ``last_time_utc`` are
        computed from the stored detections. Cross-IDs and events (which refer to hot-spot IDs) are cleared.
        One transaction; returns the id of the ``association_runs`` record.
        """
        table = hotspots.rename(columns={"id": "hotspot_id"}) if "id" in hotspots.columns else hotspots
        for col in ("hotspot_id", "lat_deg", "lon_w_deg"):
            if col not in table.columns:
                raise CatalogError(f"assign_hotspots: hot-spot table has no {col!r} column")
        hs_ids = [str(h) for h in table["hotspot_id"]]
        if len(set(hs_ids)) != len(hs_ids):
            dup = pd.Series(hs_ids)[pd.Series(hs_ids).duplicated()].iloc[0]
            raise CatalogError(f"assign_hotspots: hot-spot ID {dup!r} appears twice")
        known = set(hs_ids)
        updates = []
        for det_id, hs in mapping.items():
            if hs is None or (isinstance(hs, float) and math.isnan(hs)):
                continue
            if str(hs) not in known:
                raise CatalogError(f"assign_hotspots: detection {det_id} mapped to unknown hot spot {hs!r}")
            updates.append({"det_id": int(det_id), "hs_id": str(hs)})
        hs_rows = []
        for rec in _records(table):
            row = {k: rec.get(k) for k in HOTSPOT_KEYS}
            row["id"] = str(rec["hotspot_id"])
            if row["lat_deg"] is None or row["lon_w_deg"] is None:
                raise CatalogError(f"assign_hotspots: hot spot {row['id']} has no position")
            hs_rows.append(row)

        d, h = sch.detections, sch.hotspots
        new_ids = [r["id"] for r in hs_rows]
        with self._write() as conn:
            conn.execute(sa.delete(sch.events))
            conn.execute(sa.delete(sch.cross_ids))
            ar_id = int(
                conn.execute(
                    sa.insert(sch.association_runs).values(
                        run_id=run_id,
                        method=method,
                        parameters=_json_safe(dict(parameters or {})),
                        created_utc=_now_utc(),
                        n_hotspots=len(hs_rows),
                        n_assigned=len(updates),
                    )
                ).inserted_primary_key[0]
            )
            # upsert the hot spots (old ones not in the new table are deleted once unreferenced)
            old_ids = set(conn.execute(sa.select(h.c.id)).scalars())
            fresh = [dict(r, association_run_id=ar_id) for r in hs_rows if r["id"] not in old_ids]
            kept = [dict(r, association_run_id=ar_id, hid=r["id"]) for r in hs_rows if r["id"] in old_ids]
            if fresh:
                conn.execute(sa.insert(h), fresh)
            if kept:
                values = {k: sa.bindparam(k) for k in (*HOTSPOT_KEYS, "association_run_id")}
                conn.execute(sa.update(h).where(h.c.id == sa.bindparam("hid")).values(**values), kept)
            # write only the detections whose hot spot changes (a re-association usually moves few)
            current = dict(
                conn.execute(sa.select(d.c.id, d.c.hotspot_id).where(d.c.hotspot_id.is_not(None))).all()
            )
            wanted = {u["det_id"]: u["hs_id"] for u in updates}
            changes = [{"det_id": i, "hs_id": hs} for i, hs in wanted.items() if current.get(i) != hs]
            changes += [{"det_id": i, "hs_id": None} for i in current if i not in wanted]
            by_target: dict[str | None, list[int]] = {}
            for c in changes:
                by_target.setdefault(c["hs_id"], []).append(c["det_id"])
            for target, det_ids in by_target.items():  # few statements, each moving many rows
                for chunk in _chunks(sorted(det_ids), 5000):
                    conn.execute(sa.update(d).where(d.c.id.in_(chunk)).values(hotspot_id=target))
            gone = sorted(old_ids - set(new_ids))
            for chunk in _chunks(gone, 500):
                conn.execute(sa.delete(h).where(h.c.id.in_(chunk)))
            n_done = conn.execute(sa.select(sa.func.count()).where(d.c.hotspot_id.is_not(None))).scalar_one()
            if n_done != len(updates):
                raise CatalogError(
                    f"assign_hotspots: {len(updates) - n_done} detection ids of the mapping are not in the "
                    f"catalogue {self.url}"
                )
            from ioscan.catalog.tracking import count_members

            count_members(conn, None)
        return ar_id

    def hotspots_frame(self) -> pd.DataFrame:
        """Hot spots (``hotspot_id``, position, errors, counts, time span, name, status), by ID."""
        h = sch.hotspots
        cols = [h.c.id.label("hotspot_id"), *[c for c in h.columns if c.name != "id"]]
        return self._read(sa.select(*cols).order_by(h.c.id), _float_names(h))

    def association_runs_frame(self) -> pd.DataFrame:
        """The association results recorded so far (the latest is the one in force)."""
        return self._read(sa.select(sch.association_runs).order_by(sch.association_runs.c.id))

    def write_cross_ids(self, cross_ids: pd.DataFrame) -> int:
        """Replace all cross-identifications (columns ``hotspot_id``, ``catalog``, ``ref_id``,
        ``separation_km``, ``separation_sigma``) in one transaction; returns the number written."""
        return self._replace(sch.cross_ids, self._cross_id_rows(cross_ids), "write_cross_ids")

    def write_events(self, events: pd.DataFrame) -> int:
        """Replace all events (columns ``hotspot_id``, ``band``, ``kind`` in outburst/new/fading/quiescent,
        ``time_utc``, ``value``, ``criterion``) in one transaction; returns the number written."""
        return self._replace(sch.events, self._event_rows(events, "write_events"), "write_events")

    def _cross_id_rows(self, cross_ids: pd.DataFrame) -> list[dict[str, Any]]:
        rows = self._table_rows(
            cross_ids, sch.cross_ids, ("hotspot_id", "catalog", "ref_id"), "write_cross_ids"
        )
        for r in rows:
            r["ref_id"] = str(r["ref_id"])
        return rows

    def _event_rows(self, events: pd.DataFrame, what: str) -> list[dict[str, Any]]:
        rows = self._table_rows(events, sch.events, ("hotspot_id", "kind", "time_utc"), what)
        for i, r in enumerate(rows):
            if r["kind"] not in sch.EVENT_KINDS:
                raise CatalogError(f"{what}: row {i}: kind {r['kind']!r} not one of {sch.EVENT_KINDS}")
            try:
                r["time_utc"] = utc_iso(r["time_utc"])
            except ValueError as exc:
                raise CatalogError(f"{what}: row {i}: {exc}") from None
        return rows

    def cross_ids_frame(self) -> pd.DataFrame:
        """All cross-identifications, by hot spot then separation."""
        c = sch.cross_ids
        return self._read(
            sa.select(c).order_by(c.c.hotspot_id, c.c.separation_km, c.c.catalog), _float_names(c)
        )

    def events_frame(self) -> pd.DataFrame:
        """All events, in time order."""
        e = sch.events
        return self._read(sa.select(e).order_by(e.c.time_utc, e.c.id), _float_names(e))

    def write_hotspot_temperatures(self, temperatures: Iterable[HotspotTemperature]) -> int:
        """Replace all hot-spot temperatures (:class:`~ioscan.records.HotspotTemperature` records) in one
        transaction; returns the number written."""
        rows = self._temperature_rows(temperatures, "write_hotspot_temperatures")
        return self._replace(sch.hotspot_temperatures, rows, "write_hotspot_temperatures")

    @staticmethod
    def _temperature_rows(temperatures: Iterable[HotspotTemperature], what: str) -> list[dict[str, Any]]:
        rows = []
        for i, rec in enumerate(temperatures):
            if not isinstance(rec, HotspotTemperature):
                raise CatalogError(f"{what}: row {i} is a {type(rec).__name__}")
            row = {k: _clean(v) for k, v in dataclasses.asdict(rec).items()}
            try:
                row["time_utc"] = utc_iso(rec.time_utc)
            except ValueError as exc:
                raise CatalogError(f"{what}: row {i}: {exc}") from None
            rows.append(row)
        return rows

    def hotspot_temperatures_frame(self, hotspot_id: str | None = None) -> pd.DataFrame:
        """Hot-spot temperatures (one row per two-band pair), by hot spot and time."""
        t = sch.hotspot_temperatures
        stmt = sa.select(t).order_by(t.c.hotspot_id, t.c.time_utc, t.c.id)
        if hotspot_id is not None:
            stmt = stmt.where(t.c.hotspot_id == hotspot_id)
        return self._read(stmt, _float_names(t))

    @staticmethod
    def _table_rows(
        df: pd.DataFrame, table: sa.Table, required: Sequence[str], what: str
    ) -> list[dict[str, Any]]:
        missing = [c for c in required if c not in df.columns]
        if missing:
            raise CatalogError(f"{what}: missing columns {missing}")
        names = [c.name for c in table.columns if c.name != "id" and c.name in df.columns]
        rows = _records(df[names])
        for i, r in enumerate(rows):
            for c in required:
                if r.get(c) is None:
                    raise CatalogError(f"{what}: row {i} has no {c}")
        return rows

    def _replace(self, table: sa.Table, rows: list[dict[str, Any]], what: str) -> int:
        try:
            with self._write() as conn:
                conn.execute(sa.delete(table))
                if rows:
                    conn.execute(sa.insert(table), rows)
        except sa.exc.IntegrityError as exc:
            raise CatalogError(
                f"{what}: {_first_line(exc)} (unknown hot-spot ID or duplicate row?)"
            ) from None
        return len(rows)

    # -- reference catalogues
    def replace_reference_catalog(
        self,
        name: str,
        *,
        citation: str,
        doi: str | None,
        entries: pd.DataFrame,
        description: str | None = None,
    ) -> int:
        """Store (replacing any previous copy) one published catalogue; returns the number of entries.

        ``entries`` has ``ref_id``, ``name``, ``lat_deg``, ``lon_w_deg``, ``lat_convention``, optional
        ``power_gw``, ``spectral_power_gw_um``, ``temperature_k``, ``area_km2``; every other column goes to
        the JSON ``extra`` object.
        """
        r = sch.reference_hotspots
        columns = {c.name for c in r.columns} - {"id", "catalog", "extra"}
        rows = []
        for rec in _records(entries):
            row = {k: rec.get(k) for k in columns}
            row["ref_id"] = str(row["ref_id"])
            row["catalog"] = name
            extra = {k: v for k, v in rec.items() if k not in columns and k != "catalog"}
            row["extra"] = _json_safe(extra) or None
            rows.append(row)
        with self._write() as conn:
            conn.execute(sa.delete(r).where(r.c.catalog == name))
            conn.execute(sa.delete(sch.reference_catalogs).where(sch.reference_catalogs.c.name == name))
            conn.execute(
                sa.insert(sch.reference_catalogs).values(
                    name=name, citation=citation, doi=doi, n_entries=len(rows), description=description
                )
            )
            if rows:
                conn.execute(sa.insert(r), rows)
        return len(rows)

    def reference_catalogs_frame(self) -> pd.DataFrame:
        """The stored reference catalogues (name, citation, DOI, number of entries)."""
        return self._read(sa.select(sch.reference_catalogs).order_by(sch.reference_catalogs.c.name))

    def reference_frame(self, catalog: str | None = None) -> pd.DataFrame:
        """Stored reference hot spots (all catalogues, or one)."""
        r = sch.reference_hotspots
        stmt = sa.select(r).order_by(r.c.catalog, r.c.id)
        if catalog is not None:
            stmt = stmt.where(r.c.catalog == catalog)
        return self._read(stmt, _float_names(r))


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
