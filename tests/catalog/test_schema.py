"""The alembic migrations build exactly the schema declared in ioscan.catalog.schema, on both back ends."""

from __future__ import annotations

import dataclasses

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from ioscan.catalog import schema
from ioscan.catalog.store import MIGRATIONS_DIR, open_store
from ioscan.records import Detection


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


def test_tables_are_generated_from_the_records():
    """Every field of Observation, BandSummary and Detection is a column of the same name, and nothing else
    but keys and bookkeeping."""
    from ioscan.records import BandSummary, Observation

    for record, table, extra in (
        (Observation, schema.observations, {"id", "run_id", "product_key", "superseded_by_id"}),
        (BandSummary, schema.frames, {"id", "observation_id"}),
        (
            Detection,
            schema.detections,
            {
                "id",
                "observation_id",
                "import_id",
                "source",
                "detection_id",
                "time_utc",
                "site_name",
                "observer",
                "hotspot_id",
            },
        ),
    ):
        fields = {f.name for f in dataclasses.fields(record)}
        assert {c.name for c in table.columns} == fields | extra
    assert not schema.observations.c.product_id.nullable
    # a product is one row per (ID without version, version, data checksum): versions share product IDs
    assert schema.observations.c.product_key.unique and not schema.observations.c.product_id.unique
    assert isinstance(schema.detections.c.extra.type, sa.JSON)


def test_upgrade_from_0002_keeps_existing_data(tmp_path):
    """A catalogue made at revision 0002 is upgraded in place on open, its rows kept."""
    from alembic import command
    from alembic.config import Config

    from ioscan.catalog.store import _make_engine, engine_url

    url = engine_url(tmp_path / "old.db")
    engine = _make_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
        conn.execute(
            sa.text(
                "INSERT INTO runs (ioscan_version, command, parameters, started_utc, status) "
                "VALUES ('0.1.0', 'scan', '{}', '2026-11-25T00:00:00.000000Z', 'ok')"
            )
        )
    engine.dispose()
    with open_store(tmp_path / "old.db") as store:
        runs = store.runs_frame()
        assert runs["command"].tolist() == ["scan"] and runs["settings"].isna().all()
        run = store.start_run("scan", {}, settings={"detect": {"threshold_snr": 5.0}})
        assert store.runs_frame().set_index("id").at[run, "settings"] == {"detect": {"threshold_snr": 5.0}}
