"""Initial catalogue schema (runs, observations, frames, detections, hot spots, references...).

Frozen copy of ioscan.catalog.schema at revision 0001: later schema changes go in new revisions.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "imports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("checksum_sha256", sa.String(length=64), nullable=False),
        sa.Column("n_rows", sa.Integer(), nullable=False),
        sa.Column("imported_utc", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imports")),
        sa.UniqueConstraint("source", "checksum_sha256", name=op.f("uq_imports_source_checksum_sha256")),
    )
    op.create_table(
        "reference_catalogs",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("citation", sa.Text(), nullable=False),
        sa.Column("doi", sa.String(length=128), nullable=True),
        sa.Column("n_entries", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_reference_catalogs")),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ioscan_version", sa.String(length=32), nullable=False),
        sa.Column("command", sa.String(length=200), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=True),
        sa.Column("started_utc", sa.String(length=32), nullable=False),
        sa.Column("finished_utc", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
    )
    op.create_table(
        "association_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("method", sa.String(length=64), nullable=True),
        sa.Column("parameters", sa.JSON(), nullable=True),
        sa.Column("created_utc", sa.String(length=32), nullable=False),
        sa.Column("n_hotspots", sa.Integer(), nullable=False),
        sa.Column("n_assigned", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_association_runs_run_id_runs"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_association_runs")),
    )
    op.create_table(
        "observations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("product_id", sa.String(length=128), nullable=False),
        sa.Column("instrument", sa.String(length=32), nullable=False),
        sa.Column("observer", sa.String(length=64), nullable=True),
        sa.Column("mode", sa.String(length=32), nullable=True),
        sa.Column("orbit", sa.Integer(), nullable=True),
        sa.Column("time_utc", sa.String(length=32), nullable=False),
        sa.Column("exposure_s", sa.Float(), nullable=True),
        sa.Column("file_path", sa.Text(), nullable=True),
        sa.Column("checksum_sha256", sa.String(length=64), nullable=True),
        sa.Column("sub_observer_lat_deg", sa.Float(), nullable=True),
        sa.Column("sub_observer_lon_w_deg", sa.Float(), nullable=True),
        sa.Column("range_km", sa.Float(), nullable=True),
        sa.Column("pixel_scale_km", sa.Float(), nullable=True),
        sa.Column("phase_deg", sa.Float(), nullable=True),
        sa.Column("geometry_source", sa.String(length=16), server_default="none", nullable=False),
        sa.Column("status", sa.String(length=16), server_default="ok", nullable=False),
        sa.Column("n_detections", sa.Integer(), server_default="0", nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "geometry_source IN ('spice', 'label', 'limbfit', 'none')",
            name=op.f("ck_observations_geometry_source"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_observations_run_id_runs"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observations")),
        sa.UniqueConstraint("checksum_sha256", name=op.f("uq_observations_checksum_sha256")),
        sa.UniqueConstraint("product_id", name=op.f("uq_observations_product_id")),
    )
    op.create_index(op.f("ix_observations_time_utc"), "observations", ["time_utc"], unique=False)

    op.create_table(
        "reference_hotspots",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("catalog", sa.String(length=64), nullable=False),
        sa.Column("ref_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=True),
        sa.Column("lat_deg", sa.Float(), nullable=False),
        sa.Column("lon_w_deg", sa.Float(), nullable=False),
        sa.Column("lat_convention", sa.String(length=16), nullable=False),
        sa.Column("power_gw", sa.Float(), nullable=True),
        sa.Column("spectral_power_gw_um", sa.Float(), nullable=True),
        sa.Column("temperature_k", sa.Float(), nullable=True),
        sa.Column("area_km2", sa.Float(), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["catalog"],
            ["reference_catalogs.name"],
            name=op.f("fk_reference_hotspots_catalog_reference_catalogs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reference_hotspots")),
        sa.UniqueConstraint("catalog", "ref_id", name=op.f("uq_reference_hotspots_catalog_ref_id")),
    )
    op.create_table(
        "frames",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("observation_id", sa.Integer(), nullable=False),
        sa.Column("band", sa.String(length=16), nullable=False),
        sa.Column("wavelength_um", sa.Float(), nullable=True),
        sa.Column("bandwidth_um", sa.Float(), nullable=True),
        sa.Column("unit", sa.String(length=32), nullable=True),
        sa.Column("saturation", sa.Float(), nullable=True),
        sa.Column("noise", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["observation_id"],
            ["observations.id"],
            name=op.f("fk_frames_observation_id_observations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_frames")),
        sa.UniqueConstraint("observation_id", "band", name=op.f("uq_frames_observation_id_band")),
    )
    op.create_table(
        "hotspots",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("lat_deg", sa.Float(), nullable=False),
        sa.Column("lon_w_deg", sa.Float(), nullable=False),
        sa.Column("lat_err_deg", sa.Float(), nullable=True),
        sa.Column("lon_err_deg", sa.Float(), nullable=True),
        sa.Column("n_detections", sa.Integer(), server_default="0", nullable=False),
        sa.Column("first_time_utc", sa.String(length=32), nullable=True),
        sa.Column("last_time_utc", sa.String(length=32), nullable=True),
        sa.Column("name", sa.String(length=128), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("association_run_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["association_run_id"],
            ["association_runs.id"],
            name=op.f("fk_hotspots_association_run_id_association_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hotspots")),
    )
    op.create_table(
        "cross_ids",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("hotspot_id", sa.String(length=16), nullable=False),
        sa.Column("catalog", sa.String(length=64), nullable=False),
        sa.Column("ref_id", sa.String(length=32), nullable=False),
        sa.Column("separation_km", sa.Float(), nullable=True),
        sa.Column("separation_sigma", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["hotspot_id"], ["hotspots.id"], name=op.f("fk_cross_ids_hotspot_id_hotspots"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cross_ids")),
        sa.UniqueConstraint(
            "hotspot_id", "catalog", "ref_id", name=op.f("uq_cross_ids_hotspot_id_catalog_ref_id")
        ),
    )
    op.create_table(
        "detections",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("observation_id", sa.Integer(), nullable=True),
        sa.Column("import_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=64), server_default="ioscan", nullable=False),
        sa.Column("detection_id", sa.String(length=64), nullable=True),
        sa.Column("time_utc", sa.String(length=32), nullable=False),
        sa.Column("site_name", sa.String(length=128), nullable=True),
        sa.Column("observer", sa.String(length=64), nullable=True),
        sa.Column("hotspot_id", sa.String(length=16), nullable=True),
        sa.Column("band", sa.String(length=16), nullable=False),
        sa.Column("sample", sa.Float(), nullable=True),
        sa.Column("line", sa.Float(), nullable=True),
        sa.Column("sample_err_px", sa.Float(), nullable=True),
        sa.Column("line_err_px", sa.Float(), nullable=True),
        sa.Column("snr", sa.Float(), nullable=True),
        sa.Column("net_radiance_sum", sa.Float(), nullable=True),
        sa.Column("net_radiance_sum_err", sa.Float(), nullable=True),
        sa.Column("background", sa.Float(), nullable=True),
        sa.Column("peak", sa.Float(), nullable=True),
        sa.Column("unit", sa.String(length=32), nullable=True),
        sa.Column("n_pixels", sa.Integer(), nullable=True),
        sa.Column("flags", sa.Integer(), server_default="0", nullable=False),
        sa.Column("wavelength_um", sa.Float(), nullable=True),
        sa.Column("lat_deg", sa.Float(), nullable=True),
        sa.Column("lon_w_deg", sa.Float(), nullable=True),
        sa.Column("lat_err_deg", sa.Float(), nullable=True),
        sa.Column("lon_err_deg", sa.Float(), nullable=True),
        sa.Column("position_err_km", sa.Float(), nullable=True),
        sa.Column("emission_deg", sa.Float(), nullable=True),
        sa.Column("incidence_deg", sa.Float(), nullable=True),
        sa.Column("phase_deg", sa.Float(), nullable=True),
        sa.Column("range_km", sa.Float(), nullable=True),
        sa.Column("pixel_scale_km", sa.Float(), nullable=True),
        sa.Column("spectral_radiance_sum_w_m2_sr_um", sa.Float(), nullable=True),
        sa.Column("spectral_intensity_gw_um_sr", sa.Float(), nullable=True),
        sa.Column("spectral_intensity_err_gw_um_sr", sa.Float(), nullable=True),
        sa.Column("spectral_power_gw_um", sa.Float(), nullable=True),
        sa.Column("spectral_power_err_gw_um", sa.Float(), nullable=True),
        sa.Column("color_temperature_k", sa.Float(), nullable=True),
        sa.Column("color_temperature_err_k", sa.Float(), nullable=True),
        sa.Column("area_km2", sa.Float(), nullable=True),
        sa.Column("area_err_km2", sa.Float(), nullable=True),
        sa.Column("total_power_gw", sa.Float(), nullable=True),
        sa.Column("total_power_err_gw", sa.Float(), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["hotspot_id"],
            ["hotspots.id"],
            name=op.f("fk_detections_hotspot_id_hotspots"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["import_id"], ["imports.id"], name=op.f("fk_detections_import_id_imports"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["observation_id"],
            ["observations.id"],
            name=op.f("fk_detections_observation_id_observations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_detections")),
        sa.UniqueConstraint("source", "detection_id", name=op.f("uq_detections_source_detection_id")),
    )
    op.create_index(
        "ix_detections_hotspot_band_time", "detections", ["hotspot_id", "band", "time_utc"], unique=False
    )
    op.create_index("ix_detections_lat_lon", "detections", ["lat_deg", "lon_w_deg"], unique=False)
    op.create_index("ix_detections_observation", "detections", ["observation_id"], unique=False)

    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("hotspot_id", sa.String(length=16), nullable=False),
        sa.Column("band", sa.String(length=16), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("time_utc", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("criterion", sa.Text(), nullable=True),
        sa.CheckConstraint("kind IN ('outburst', 'new', 'fading', 'quiescent')", name=op.f("ck_events_kind")),
        sa.ForeignKeyConstraint(
            ["hotspot_id"], ["hotspots.id"], name=op.f("fk_events_hotspot_id_hotspots"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    op.create_index(op.f("ix_events_hotspot_id_time_utc"), "events", ["hotspot_id", "time_utc"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_events_hotspot_id_time_utc"), table_name="events")

    op.drop_table("events")
    op.drop_index("ix_detections_observation", table_name="detections")
    op.drop_index("ix_detections_lat_lon", table_name="detections")
    op.drop_index("ix_detections_hotspot_band_time", table_name="detections")

    op.drop_table("detections")
    op.drop_table("cross_ids")
    op.drop_table("hotspots")
    op.drop_table("frames")
    op.drop_table("reference_hotspots")
    op.drop_index(op.f("ix_observations_time_utc"), table_name="observations")

    op.drop_table("observations")
    op.drop_table("association_runs")
    op.drop_table("runs")
    op.drop_table("reference_catalogs")
    op.drop_table("imports")
