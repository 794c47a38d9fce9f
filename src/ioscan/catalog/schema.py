"""The catalogue schema: one SQLAlchemy Core ``MetaData`` for SQLite and PostgreSQL.

Decisions (also in the module docs of :mod:`ioscan.catalog.store`):

* **Times** are text, ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (see :mod:`ioscan.catalog.times`): identical on both
  back ends and sortable, so time ranges and the light-curve index use plain comparisons.
* **Positions**: ``lat_deg`` planetographic °N, ``lon_w_deg`` west 0–360, as everywhere in ioscan.
* **Observations and frames**: an ``observations`` row per product version and a ``frames`` row per band
  of it. A product is keyed (``product_key``, unique) by its ID without the version, its version and the
  checksum of its data; of the rows sharing a ``base_product_id`` the highest version is in force and the
  others point at it through ``superseded_by_id`` (kept, left out of tracking and exports by default).
* **Scan claims**: ``scan_claims`` holds the products a running scan is working on (one row per
  ``product_key``, with the run, host, process and a lease), so two scans on one catalogue share the work.
* **Records, not re-listed columns**: the ``observations``, ``frames`` and ``detections`` columns are
  generated from the fields of :class:`ioscan.records.Observation`, :class:`~ioscan.records.BandSummary` and
  :class:`~ioscan.records.Detection` (:func:`record_columns`; ``flags`` is the integer bitmask, ``extra`` a
  JSON object); only keys, foreign keys and catalogue bookkeeping are written here.
* **Detections** produced by ioscan have ``source='ioscan'`` and an ``observation_id``; imported published
  detections have ``source=<import name>``, no observation (``observation_id`` NULL), their published
  ``detection_id`` if any, and an ``import_id`` naming the file.
* **Associations** are the ``hotspot_id`` column of ``detections`` (NULL = unassociated). Each association
  result replaces the previous one in a single transaction and is recorded in ``association_runs`` (method,
  parameters, counts). ``cross_ids`` and ``events`` refer to hot-spot IDs and are cleared with them.
* **Hot-spot temperatures** (``hotspot_temperatures``, generated from
  :class:`~ioscan.records.HotspotTemperature`): one row per pair of detections of a hot spot in two bands
  close in time, written by ``ioscan track``; removed with their hot spot or either detection.
* **Light-curve states** (``light_curve_states``, :mod:`ioscan.track.event_state`): per hot spot and band,
  what the events of its light curve need to be continued by later points (first and last points, the
  outburst baseline, sums for quiescence), written with the events by ``ioscan track``.
* **Reference catalogues** (published tables) live in ``reference_catalogs`` (citation, DOI) and
  ``reference_hotspots`` (one row per published source; common values as columns, the rest in ``extra``).

The schema is created by the alembic migrations in ``catalog/migrations`` (frozen history: a migration lists
the columns of its own revision); a test checks that the migrations and this ``MetaData`` agree, so a field
added to a record without its migration fails the tests.
"""

from __future__ import annotations

import dataclasses
import typing

import sqlalchemy as sa

from ioscan.catalog.rows import (  # noqa: F401 (sch.PRODUCT_KEY_LENGTH as before)
    PRODUCT_KEY_LENGTH,
    annotation_base_type,
)
from ioscan.records import GEOMETRY_SOURCES, BandSummary, Detection, HotspotTemperature, Observation

#: Version stamp of this schema (matches the alembic head revision).
SCHEMA_REVISION = "0008"

EVENT_KINDS = ("outburst", "new", "fading", "quiescent")

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

TIME = sa.String(32)  # fixed-width ISO 8601 UTC text


def _float(name: str, **kw) -> sa.Column:
    return sa.Column(name, sa.Float, nullable=True, **kw)


_PLAIN_TYPES = {float: sa.Float, int: sa.Integer, bool: sa.Boolean}


def _sql_type(name: str, hint: object, meta: typing.Mapping) -> sa.types.TypeEngine:
    if meta.get("json"):
        return sa.JSON()
    if meta.get("time"):
        return TIME
    if meta.get("text"):
        return sa.Text()
    if meta.get("length"):
        return sa.String(int(meta["length"]))
    base = annotation_base_type(hint)
    if base not in _PLAIN_TYPES:
        raise TypeError(f"record field {name}: no column type for {hint!r} (add 'length', 'text' or 'json')")
    return _PLAIN_TYPES[base]()


def record_columns(record: type, *, skip: tuple[str, ...] = ()) -> list[sa.Column]:
    """One column per field of the dataclass ``record``, in field order, typed from its annotation and
    field metadata (``length`` → String, ``text`` → Text, ``time`` → ISO text, ``json`` → JSON, ``required``
    → NOT NULL, ``unique``, ``default`` → server default); every other column is nullable."""
    hints = typing.get_type_hints(record)
    columns = []
    for f in dataclasses.fields(record):
        if f.name in skip:
            continue
        meta = f.metadata
        kw: dict = {"nullable": not meta.get("required", False)}
        if meta.get("unique"):
            kw["unique"] = True
        if "default" in meta:
            kw["server_default"] = str(meta["default"])
        columns.append(sa.Column(f.name, _sql_type(f.name, hints[f.name], meta), **kw))
    return columns


runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ioscan_version", sa.String(32), nullable=False),
    sa.Column("command", sa.String(200), nullable=False),
    sa.Column("parameters", sa.JSON, nullable=True),
    sa.Column("started_utc", TIME, nullable=False),
    sa.Column("finished_utc", TIME, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),  # running | ok | failed | interrupted ...
    # revision 0003: the settings the run was made with (detect, measure, navigate, track), JSON
    sa.Column("settings", sa.JSON, nullable=True),
    # revision 0004: what the run did (counts, failures with their reasons), JSON
    sa.Column("summary", sa.JSON, nullable=True),
)

observations = sa.Table(
    "observations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    *record_columns(Observation),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="SET NULL"), nullable=True),
    # revision 0004: "<base_product_id>|<product_version>|<checksum_sha256>" (ioscan.catalog.products)
    sa.Column("product_key", sa.String(PRODUCT_KEY_LENGTH), nullable=False, unique=True),
    sa.Column(
        "superseded_by_id", sa.Integer, sa.ForeignKey("observations.id", ondelete="SET NULL"), nullable=True
    ),
    sa.CheckConstraint(f"geometry_source IN {GEOMETRY_SOURCES!r}", name="geometry_source"),
)
sa.Index(None, observations.c.time_utc)
sa.Index(None, observations.c.base_product_id)
sa.Index(None, observations.c.checksum_sha256)

scan_claims = sa.Table(
    "scan_claims",
    metadata,
    sa.Column("product_key", sa.String(PRODUCT_KEY_LENGTH), primary_key=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("claimed_utc", TIME, nullable=False),
    sa.Column("lease_until_utc", TIME, nullable=False),
)

frames = sa.Table(
    "frames",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "observation_id",
        sa.Integer,
        sa.ForeignKey("observations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    *record_columns(BandSummary),
    sa.UniqueConstraint("observation_id", "band"),
)

imports = sa.Table(
    "imports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("file_name", sa.Text, nullable=False),
    sa.Column("checksum_sha256", sa.String(64), nullable=False),
    sa.Column("n_rows", sa.Integer, nullable=False),
    sa.Column("imported_utc", TIME, nullable=False),
    sa.UniqueConstraint("source", "checksum_sha256"),
)

association_runs = sa.Table(
    "association_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="SET NULL"), nullable=True),
    sa.Column("method", sa.String(64), nullable=True),
    sa.Column("parameters", sa.JSON, nullable=True),
    sa.Column("created_utc", TIME, nullable=False),
    sa.Column("n_hotspots", sa.Integer, nullable=False),
    sa.Column("n_assigned", sa.Integer, nullable=False),
    sa.Column("mode", sa.String(16), nullable=True),  # full | incremental (NULL: before 0006)
    sa.Column("last_observation_id", sa.Integer, nullable=True),  # observations seen up to this id
    sa.Column("n_changed", sa.Integer, nullable=True),  # hot spots whose events and temperatures were redone
)

hotspots = sa.Table(
    "hotspots",
    metadata,
    sa.Column("id", sa.String(16), primary_key=True),  # stable ioscan ID, e.g. "IOS0001"
    sa.Column("lat_deg", sa.Float, nullable=False),
    sa.Column("lon_w_deg", sa.Float, nullable=False),
    _float("lat_err_deg"),
    _float("lon_err_deg"),
    _float("lat_lon_err_corr"),  # with the 1σ: the position's 2×2 covariance (as detections' columns)
    sa.Column("n_detections", sa.Integer, nullable=False, server_default="0"),
    sa.Column("first_time_utc", TIME, nullable=True),
    sa.Column("last_time_utc", TIME, nullable=True),
    sa.Column("name", sa.String(128), nullable=True),  # best cross-ID (e.g. "Loki Patera")
    sa.Column("status", sa.String(16), nullable=True),  # e.g. candidate | confirmed
    sa.Column(
        "association_run_id",
        sa.Integer,
        sa.ForeignKey("association_runs.id", ondelete="SET NULL"),
        nullable=True,
    ),
)

detections = sa.Table(
    "detections",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "observation_id",
        sa.Integer,
        sa.ForeignKey("observations.id", ondelete="CASCADE"),
        nullable=True,
    ),
    sa.Column("import_id", sa.Integer, sa.ForeignKey("imports.id", ondelete="CASCADE"), nullable=True),
    sa.Column("source", sa.String(64), nullable=False, server_default="ioscan"),
    sa.Column("detection_id", sa.String(64), nullable=True),  # the published ID of an imported detection
    sa.Column("time_utc", TIME, nullable=False),
    sa.Column("site_name", sa.String(128), nullable=True),
    sa.Column("observer", sa.String(64), nullable=True),
    sa.Column("hotspot_id", sa.String(16), sa.ForeignKey("hotspots.id", ondelete="SET NULL"), nullable=True),
    *record_columns(Detection),
    sa.UniqueConstraint("source", "detection_id"),
)
sa.Index("ix_detections_hotspot_band_time", detections.c.hotspot_id, detections.c.band, detections.c.time_utc)
sa.Index("ix_detections_observation", detections.c.observation_id)
sa.Index("ix_detections_lat_lon", detections.c.lat_deg, detections.c.lon_w_deg)

reference_catalogs = sa.Table(
    "reference_catalogs",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("citation", sa.Text, nullable=False),
    sa.Column("doi", sa.String(128), nullable=True),
    sa.Column("n_entries", sa.Integer, nullable=False),
    sa.Column("description", sa.Text, nullable=True),
)

reference_hotspots = sa.Table(
    "reference_hotspots",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "catalog",
        sa.String(64),
        sa.ForeignKey("reference_catalogs.name", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("ref_id", sa.String(32), nullable=False),
    sa.Column("name", sa.String(128), nullable=True),
    sa.Column("lat_deg", sa.Float, nullable=False),
    sa.Column("lon_w_deg", sa.Float, nullable=False),
    sa.Column("lat_convention", sa.String(16), nullable=False),  # as_published | unstated
    _float("power_gw"),
    _float("spectral_power_gw_um"),
    _float("temperature_k"),
    _float("area_km2"),
    sa.Column("extra", sa.JSON, nullable=True),
    sa.UniqueConstraint("catalog", "ref_id"),
)

cross_ids = sa.Table(
    "cross_ids",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("hotspot_id", sa.String(16), sa.ForeignKey("hotspots.id", ondelete="CASCADE"), nullable=False),
    sa.Column("catalog", sa.String(64), nullable=False),
    sa.Column("ref_id", sa.String(32), nullable=False),
    _float("separation_km"),
    _float("separation_sigma"),
    sa.UniqueConstraint("hotspot_id", "catalog", "ref_id"),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("hotspot_id", sa.String(16), sa.ForeignKey("hotspots.id", ondelete="CASCADE"), nullable=False),
    sa.Column("band", sa.String(16), nullable=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("time_utc", TIME, nullable=False),
    _float("value"),
    sa.Column("criterion", sa.Text, nullable=True),
    sa.CheckConstraint("kind IN ('outburst', 'new', 'fading', 'quiescent')", name="kind"),
)
sa.Index(None, events.c.hotspot_id, events.c.time_utc)

light_curve_states = sa.Table(
    "light_curve_states",
    metadata,
    sa.Column("hotspot_id", sa.String(16), sa.ForeignKey("hotspots.id", ondelete="CASCADE"), nullable=False),
    sa.Column("band", sa.String(16), nullable=False),
    sa.Column("n_points", sa.Integer, nullable=False),
    sa.Column("first_time_utc", TIME, nullable=False),
    _float("first_value"),  # values in the light curve's unit (ioscan's spectral intensity, GW µm-1 sr-1)
    sa.Column("last_time_utc", TIME, nullable=False),
    sa.Column("last_detection_id", sa.Integer, nullable=False),
    _float("last_value"),
    _float("peak_value"),
    sa.Column("recent_values", sa.Text, nullable=False),  # JSON list of the last values
    sa.Column("baseline", sa.Text, nullable=False),  # JSON list of [value, err]: the outburst baseline
    sa.Column("has_outburst", sa.Boolean, nullable=False),
    sa.Column("last_outburst", sa.Boolean, nullable=False),
    sa.Column("run_start_utc", TIME, nullable=True),
    _float("run_peak_value"),
    sa.Column("n_measured", sa.Integer, nullable=False),
    _float("mean"),
    _float("m2"),
    _float("sum_w"),
    _float("w_mean"),
    _float("w_m2"),
    _float("sum_err2"),
    sa.Column("n_bad_err", sa.Integer, nullable=False),
    sa.PrimaryKeyConstraint("hotspot_id", "band"),
)

hotspot_temperatures = sa.Table(
    "hotspot_temperatures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("hotspot_id", sa.String(16), sa.ForeignKey("hotspots.id", ondelete="CASCADE"), nullable=False),
    sa.Column(
        "detection_short", sa.Integer, sa.ForeignKey("detections.id", ondelete="CASCADE"), nullable=True
    ),
    sa.Column(
        "detection_long", sa.Integer, sa.ForeignKey("detections.id", ondelete="CASCADE"), nullable=True
    ),
    *record_columns(HotspotTemperature, skip=("hotspot_id", "detection_short", "detection_long")),
)
sa.Index(None, hotspot_temperatures.c.hotspot_id, hotspot_temperatures.c.time_utc)
# an incremental run replaces the temperatures made from given detections (and detections cascade to them)
sa.Index(None, hotspot_temperatures.c.detection_short)
sa.Index(None, hotspot_temperatures.c.detection_long)
