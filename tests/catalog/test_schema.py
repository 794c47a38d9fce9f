"""The alembic migrations build exactly the schema declared in ioscan.catalog.schema, on both back ends."""

from __future__ import annotations

import dataclasses

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from ioscan.catalog import schema
from ioscan.catalog.store import MIGRATIONS_DIR, open_store
from ioscan.detect.types import Detection


def test_migrated_database_matches_metadata(db_url):
    store = open_store(db_url)
    try:
        with store.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diffs = compare_metadata(ctx, schema.metadata)
            current = ctx.get_current_revision()
        assert diffs == []
        head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
        assert current == head == schema.SCHEMA_REVISION
        names = set(sa.inspect(store.engine).get_table_names())
        assert set(schema.metadata.tables) <= names
        indexes = {
            ix["name"]: ix["column_names"] for ix in sa.inspect(store.engine).get_indexes("detections")
        }
        assert indexes["ix_detections_hotspot_band_time"] == ["hotspot_id", "band", "time_utc"]
        assert indexes["ix_detections_observation"] == ["observation_id"]
        assert indexes["ix_detections_lat_lon"] == ["lat_deg", "lon_w_deg"]
    finally:
        store.close()


def test_reopening_is_idempotent_and_keeps_data(db_url):
    with open_store(db_url) as store:
        run = store.start_run("first", None)
    with open_store(db_url) as store:
        assert store.runs_frame()["id"].tolist() == [run]


def test_every_detection_field_has_a_column():
    columns = {c.name for c in schema.detections.columns}
    for f in dataclasses.fields(Detection):
        assert f.name in columns, f.name
    assert isinstance(schema.detections.c.flags.type, sa.Integer)
