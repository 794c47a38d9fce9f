"""The catalogue schema: one SQLAlchemy Core ``MetaData`` for SQLite and PostgreSQL.

Decisions (also in the module docs of :mod:`ioscan.catalog.store`):

* **Times** are text, ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (see :mod:`ioscan.catalog.times`): identical on both
  back ends and sortable, so time ranges and the light-curve index use plain comparisons.
* **Positions**: ``lat_deg`` planetographic °N, ``lon_w_deg`` west 0–360, as everywhere in ioscan.
* **Observations and frames**: an ``observations`` row per product (instrument product ID, unique
  checksum) and a ``frames`` row per band of that product.
* **Detections** carry every field of :class:`ioscan.detect.types.Detection` as a column of the same name
  (``flags`` is the integer bitmask, ``extra`` a JSON object). Rows produced by ioscan have
  ``source='ioscan'`` and an ``observation_id``; imported published detections have
  ``source=<import name>``, no observation (``observation_id`` NULL), their published ``detection_id`` if
  any, and an ``import_id`` naming the file.
* **Associations** are the ``hotspot_id`` column of ``detections`` (NULL = unassociated). Each association
  result replaces the previous one in a single transaction and is recorded in ``association_runs`` (method,
  parameters, counts). ``cross_ids`` and ``events`` refer to hot-spot IDs and are cleared with them.
* **Reference catalogues** (published tables) live in ``reference_catalogs`` (citation, DOI) and
  ``reference_hotspots`` (one row per published source; common values as columns, the rest in ``extra``).

The schema is created by the alembic migrations in ``catalog/migrations``; a test checks that the migrations
and this ``MetaData`` agree.
"""

from __future__ import annotations

import sqlalchemy as sa

#: Version stamp of this schema (matches the alembic head revision).
SCHEMA_REVISION = "0002"

GEOMETRY_SOURCES = ("spice", "label", "limbfit", "none")
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
)

observations = sa.Table(
    "observations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("product_id", sa.String(128), nullable=False, unique=True),
    sa.Column("instrument", sa.String(32), nullable=False),
    sa.Column("observer", sa.String(64), nullable=True),  # spacecraft or telescope ("Juno", "Keck II")
    sa.Column("mode", sa.String(32), nullable=True),
    sa.Column("orbit", sa.Integer, nullable=True),
    sa.Column("time_utc", TIME, nullable=False),
    sa.Column("exposure_s", sa.Float, nullable=True),
    sa.Column("file_path", sa.Text, nullable=True),
    sa.Column("checksum_sha256", sa.String(64), nullable=True, unique=True),
    _float("sub_observer_lat_deg"),
    _float("sub_observer_lon_w_deg"),
    _float("range_km"),
    _float("pixel_scale_km"),
    _float("phase_deg"),
    sa.Column("geometry_source", sa.String(16), nullable=False, server_default="none"),
    sa.Column("status", sa.String(16), nullable=False, server_default="ok"),  # ok | no_io | all_nan | ...
    sa.Column("n_detections", sa.Integer, nullable=False, server_default="0"),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="SET NULL"), nullable=True),
    # revision 0002: navigation outcome and coverage
    sa.Column("registered", sa.Boolean, nullable=True),  # pointing corrected by a limb fit
    _float("pointing_offset_sample_px"),  # applied correction (scene shift), pixels
    _float("pointing_offset_line_px"),
    _float("pointing_offset_err_px"),  # 1σ of the correction, pixels
    sa.Column("coverage_grid", sa.Text, nullable=True),  # 2°×2° cells seen (ioscan.geometry.coverage)
    sa.CheckConstraint("geometry_source IN ('spice', 'label', 'limbfit', 'none')", name="geometry_source"),
)
sa.Index(None, observations.c.time_utc)

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
    sa.Column("band", sa.String(16), nullable=False),
    _float("wavelength_um"),
    _float("bandwidth_um"),
    sa.Column("unit", sa.String(32), nullable=True),
    _float("saturation"),  # detector saturation level, in ``unit``
    _float("noise"),  # robust noise estimate (1 sigma) of the sky/background, in ``unit``
    _float("detection_limit_gw_um_sr"),  # revision 0002: 5σ point-source limit at the nearest disk pixel
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
)

hotspots = sa.Table(
    "hotspots",
    metadata,
    sa.Column("id", sa.String(16), primary_key=True),  # stable ioscan ID, e.g. "IOS0001"
    sa.Column("lat_deg", sa.Float, nullable=False),
    sa.Column("lon_w_deg", sa.Float, nullable=False),
    _float("lat_err_deg"),
    _float("lon_err_deg"),
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

#: Detection dataclass fields stored as float columns (same names as ``Detection``).
DETECTION_FLOAT_FIELDS = (
    "sample",
    "line",
    "sample_err_px",
    "line_err_px",
    "snr",
    "net_radiance_sum",
    "net_radiance_sum_err",
    "background",
    "peak",
    "wavelength_um",
    "lat_deg",
    "lon_w_deg",
    "lat_err_deg",
    "lon_err_deg",
    "position_err_km",
    "emission_deg",
    "incidence_deg",
    "phase_deg",
    "range_km",
    "pixel_scale_km",
    "spectral_radiance_sum_w_m2_sr_um",
    "spectral_intensity_gw_um_sr",
    "spectral_intensity_err_gw_um_sr",
    "spectral_power_gw_um",
    "spectral_power_err_gw_um",
    "color_temperature_k",
    "color_temperature_err_k",
    "area_km2",
    "area_err_km2",
    "total_power_gw",
    "total_power_err_gw",
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
    # --- Detection dataclass fields ---
    sa.Column("band", sa.String(16), nullable=False),
    *[_float(name) for name in DETECTION_FLOAT_FIELDS[:9]],
    sa.Column("unit", sa.String(32), nullable=True),
    sa.Column("n_pixels", sa.Integer, nullable=True),
    sa.Column("flags", sa.Integer, nullable=False, server_default="0"),
    *[_float(name) for name in DETECTION_FLOAT_FIELDS[9:]],
    sa.Column("extra", sa.JSON, nullable=True),
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
