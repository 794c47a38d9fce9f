"""Honest errors and hot-spot temperatures: detections gain the calibration (correlated) parts of their
intensity and power errors (``spectral_*_err_*`` now hold the random part) and lose the same-frame two-band
columns (JIRAM's L and M strips never see one spot at once); colour temperature, area and total power move to
the hot-spot level in a new ``hotspot_temperatures`` table, filled by ``ioscan track``.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

NEW_DETECTION_COLUMNS = ("spectral_intensity_sys_err_gw_um_sr", "spectral_power_sys_err_gw_um")
OLD_DETECTION_COLUMNS = (
    "color_temperature_k",
    "color_temperature_err_k",
    "area_km2",
    "area_err_km2",
    "total_power_gw",
    "total_power_err_gw",
)


def upgrade() -> None:
    with op.batch_alter_table("detections") as batch:
        for name in NEW_DETECTION_COLUMNS:
            batch.add_column(sa.Column(name, sa.Float(), nullable=True))
        for name in OLD_DETECTION_COLUMNS:
            batch.drop_column(name)
    op.create_table(
        "hotspot_temperatures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("hotspot_id", sa.String(length=16), nullable=False),
        sa.Column("detection_short", sa.Integer(), nullable=True),
        sa.Column("detection_long", sa.Integer(), nullable=True),
        sa.Column("instrument", sa.String(length=32), nullable=False),
        sa.Column("band_short", sa.String(length=16), nullable=False),
        sa.Column("band_long", sa.String(length=16), nullable=False),
        sa.Column("time_utc", sa.String(length=32), nullable=False),
        sa.Column("dt_s", sa.Float(), nullable=True),
        sa.Column("intensity_short_gw_um_sr", sa.Float(), nullable=True),
        sa.Column("intensity_short_err_gw_um_sr", sa.Float(), nullable=True),
        sa.Column("intensity_long_gw_um_sr", sa.Float(), nullable=True),
        sa.Column("intensity_long_err_gw_um_sr", sa.Float(), nullable=True),
        sa.Column("variability_err_fraction", sa.Float(), nullable=True),
        sa.Column("temperature_k", sa.Float(), nullable=True),
        sa.Column("temperature_err_k", sa.Float(), nullable=True),
        sa.Column("temperature_sys_err_k", sa.Float(), nullable=True),
        sa.Column("area_km2", sa.Float(), nullable=True),
        sa.Column("area_err_km2", sa.Float(), nullable=True),
        sa.Column("area_sys_err_km2", sa.Float(), nullable=True),
        sa.Column("total_power_gw", sa.Float(), nullable=True),
        sa.Column("total_power_err_gw", sa.Float(), nullable=True),
        sa.Column("total_power_sys_err_gw", sa.Float(), nullable=True),
        sa.Column("t_area_correlation", sa.Float(), nullable=True),
        sa.Column("flags", sa.Integer(), server_default="0", nullable=False),
        sa.Column("usable", sa.Boolean(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["hotspot_id"],
            ["hotspots.id"],
            name=op.f("fk_hotspot_temperatures_hotspot_id_hotspots"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["detection_short"],
            ["detections.id"],
            name=op.f("fk_hotspot_temperatures_detection_short_detections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["detection_long"],
            ["detections.id"],
            name=op.f("fk_hotspot_temperatures_detection_long_detections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hotspot_temperatures")),
    )
    op.create_index(
        op.f("ix_hotspot_temperatures_hotspot_id_time_utc"),
        "hotspot_temperatures",
        ["hotspot_id", "time_utc"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_hotspot_temperatures_hotspot_id_time_utc"), table_name="hotspot_temperatures")
    op.drop_table("hotspot_temperatures")
    with op.batch_alter_table("detections") as batch:
        for name in OLD_DETECTION_COLUMNS:
            batch.add_column(sa.Column(name, sa.Float(), nullable=True))
        for name in reversed(NEW_DETECTION_COLUMNS):
            batch.drop_column(name)
