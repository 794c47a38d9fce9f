"""Navigation outcome and coverage: observations.registered, pointing offsets, coverage_grid;
frames.detection_limit_gw_um_sr (used to tell "new" and "fading" hot spots from unobserved ones).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

OBSERVATION_COLUMNS = (
    ("registered", sa.Boolean()),
    ("pointing_offset_sample_px", sa.Float()),
    ("pointing_offset_line_px", sa.Float()),
    ("pointing_offset_err_px", sa.Float()),
    ("coverage_grid", sa.Text()),
)


def upgrade() -> None:
    with op.batch_alter_table("observations") as batch:
        for name, kind in OBSERVATION_COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))
    with op.batch_alter_table("frames") as batch:
        batch.add_column(sa.Column("detection_limit_gw_um_sr", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("frames") as batch:
        batch.drop_column("detection_limit_gw_um_sr")
    with op.batch_alter_table("observations") as batch:
        for name, _ in reversed(OBSERVATION_COLUMNS):
            batch.drop_column(name)
