"""Incremental tracking: each association result says whether it re-tracked the whole catalogue or added
new detections to the hot spots in force (``mode``), the last observation it had seen (so the next run knows
which observations are new: their coverage can change the events of hot spots they saw without a detection),
and how many hot spots it changed (whose events and temperatures it recomputed).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("association_runs") as batch:
        batch.add_column(sa.Column("mode", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("last_observation_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("n_changed", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("association_runs") as batch:
        batch.drop_column("n_changed")
        batch.drop_column("last_observation_id")
        batch.drop_column("mode")
