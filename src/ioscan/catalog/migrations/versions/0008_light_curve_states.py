"""Incremental events: each light curve's running state (``light_curve_states``: first and last points, the
outburst baseline, the last outburst run, sums for the quiescence test), so that an incremental
``ioscan track`` continues the events of a light curve from its new points; and the hot spots' position
correlation (``hotspots.lat_lon_err_corr``), so that a stored hot spot is the full 2×2 prior an in-memory
one is; indexes on the detections a colour temperature is made of (an incremental run replaces the
temperatures of given detections). A catalogue tracked before this revision has no states: its next
``ioscan track`` is a full one.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hotspots") as batch:
        batch.add_column(sa.Column("lat_lon_err_corr", sa.Float(), nullable=True))
    op.create_table(
        "light_curve_states",
        sa.Column("hotspot_id", sa.String(length=16), nullable=False),
        sa.Column("band", sa.String(length=16), nullable=False),
        sa.Column("n_points", sa.Integer(), nullable=False),
        sa.Column("first_time_utc", sa.String(length=32), nullable=False),
        sa.Column("first_value", sa.Float(), nullable=True),
        sa.Column("last_time_utc", sa.String(length=32), nullable=False),
        sa.Column("last_detection_id", sa.Integer(), nullable=False),
        sa.Column("last_value", sa.Float(), nullable=True),
        sa.Column("peak_value", sa.Float(), nullable=True),
        sa.Column("recent_values", sa.Text(), nullable=False),
        sa.Column("baseline", sa.Text(), nullable=False),
        sa.Column("has_outburst", sa.Boolean(), nullable=False),
        sa.Column("last_outburst", sa.Boolean(), nullable=False),
        sa.Column("run_start_utc", sa.String(length=32), nullable=True),
        sa.Column("run_peak_value", sa.Float(), nullable=True),
        sa.Column("n_measured", sa.Integer(), nullable=False),
        sa.Column("mean", sa.Float(), nullable=True),
        sa.Column("m2", sa.Float(), nullable=True),
        sa.Column("sum_w", sa.Float(), nullable=True),
        sa.Column("w_mean", sa.Float(), nullable=True),
        sa.Column("w_m2", sa.Float(), nullable=True),
        sa.Column("sum_err2", sa.Float(), nullable=True),
        sa.Column("n_bad_err", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["hotspot_id"],
            ["hotspots.id"],
            name=op.f("fk_light_curve_states_hotspot_id_hotspots"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("hotspot_id", "band", name=op.f("pk_light_curve_states")),
    )
    for col in ("detection_short", "detection_long"):
        op.create_index(op.f(f"ix_hotspot_temperatures_{col}"), "hotspot_temperatures", [col], unique=False)


def downgrade() -> None:
    for col in ("detection_short", "detection_long"):
        op.drop_index(op.f(f"ix_hotspot_temperatures_{col}"), table_name="hotspot_temperatures")
    op.drop_table("light_curve_states")
    with op.batch_alter_table("hotspots") as batch:
        batch.drop_column("lat_lon_err_corr")
