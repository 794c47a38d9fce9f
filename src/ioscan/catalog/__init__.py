"""The catalogue: database schema and store (SQLAlchemy Core + alembic), published reference catalogues,
import of published detections and export to CSV / Parquet / GeoJSON.

Modules (imported on demand; nothing heavy is imported here): :mod:`~ioscan.catalog.schema`,
:mod:`~ioscan.catalog.store` (``open_store``), :mod:`~ioscan.catalog.reference`,
:mod:`~ioscan.catalog.io_import`, :mod:`~ioscan.catalog.export`, :mod:`~ioscan.catalog.times`.
"""
