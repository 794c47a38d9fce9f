"""Registration without a limb: how each observation was registered and the covariance of its remaining
pointing error (observations), and the anisotropic position covariance and the geometry errors of each
detection (detections.lat_lon_err_corr, emission_err_deg, range_err_km).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

OBSERVATION_COLUMNS = (
    ("registration_method", sa.String(16)),
    ("pointing_offset_sample_err_px", sa.Float()),
    ("pointing_offset_line_err_px", sa.Float()),
    ("pointing_offset_corr", sa.Float()),
    ("false_match_prob", sa.Float()),
    ("n_anchor_matches", sa.Integer()),
)
DETECTION_COLUMNS = (
    ("lat_lon_err_corr", sa.Float()),
    ("emission_err_deg", sa.Float()),
    ("range_err_km", sa.Float()),
)


def upgrade() -> None:
    with op.batch_alter_table("observations") as batch:
        for name, kind in OBSERVATION_COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))
    with op.batch_alter_table("detections") as batch:
        for name, kind in DETECTION_COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("detections") as batch:
        for name, _ in reversed(DETECTION_COLUMNS):
            batch.drop_column(name)
    with op.batch_alter_table("observations") as batch:
        for name, _ in reversed(OBSERVATION_COLUMNS):
            batch.drop_column(name)
