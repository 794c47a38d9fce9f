"""Product versions, scan claims and run summaries.

* observations: ``base_product_id``, ``product_version``, ``product_created_utc`` (record fields),
  ``product_key`` (unique: base ID | version | checksum) and ``superseded_by_id``; the unique constraints on
  ``product_id`` and ``checksum_sha256`` go (a new version, or a same-ID product whose data changed, is a new
  row). Existing rows are keyed from their product ID (``..._V02`` → base ``...``, version ``02``), and where
  a catalogue already holds several versions of one product the lower ones are marked superseded.
* scan_claims: the products running scans work on (lease per product), so scans share the work.
* runs.summary: what a run did (counts, failures with reasons).

Frozen: the version rules are copied here, not imported, so this revision keeps meaning what it meant.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_SUFFIX = re.compile(r"^(?P<base>.+?)_V(?P<version>\d+)$", re.IGNORECASE)


def _split(product_id: str) -> tuple[str, str | None]:
    m = _SUFFIX.match(product_id.strip())
    return (product_id.strip(), None) if m is None else (m.group("base"), m.group("version"))


def _version_key(version: str | None) -> tuple:
    if version is None or not str(version).strip():
        return ((-1, ""),)
    return tuple((0, int(f)) if f.isdigit() else (1, f.upper()) for f in re.split(r"[._-]", version.strip()))


def _backfill() -> None:
    conn = op.get_bind()
    obs = sa.table(
        "observations",
        sa.column("id", sa.Integer),
        sa.column("product_id", sa.String),
        sa.column("checksum_sha256", sa.String),
        sa.column("base_product_id", sa.String),
        sa.column("product_version", sa.String),
        sa.column("product_key", sa.String),
        sa.column("superseded_by_id", sa.Integer),
    )
    rows = conn.execute(sa.select(obs.c.id, obs.c.product_id, obs.c.checksum_sha256)).all()
    groups: dict[str, list[tuple[tuple, int]]] = {}
    updates = []
    for r in rows:
        base, version = _split(r.product_id)
        updates.append(
            {
                "rid": r.id,
                "base": base,
                "version": version,
                "key": f"{base}|{version or ''}|{r.checksum_sha256 or ''}",
            }
        )
        groups.setdefault(base, []).append((_version_key(version), r.id))
    if updates:
        conn.execute(
            sa.update(obs)
            .where(obs.c.id == sa.bindparam("rid"))
            .values(
                base_product_id=sa.bindparam("base"),
                product_version=sa.bindparam("version"),
                product_key=sa.bindparam("key"),
            ),
            updates,
        )
    superseded = []
    for members in groups.values():
        if len(members) > 1:
            winner = max(members)[1]
            superseded += [{"rid": i, "by": winner} for _, i in members if i != winner]
    if superseded:
        conn.execute(
            sa.update(obs).where(obs.c.id == sa.bindparam("rid")).values(superseded_by_id=sa.bindparam("by")),
            superseded,
        )


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("summary", sa.JSON(), nullable=True))
    with op.batch_alter_table("observations") as batch:
        batch.add_column(sa.Column("base_product_id", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("product_version", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("product_created_utc", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("product_key", sa.String(length=256), nullable=True))
        batch.add_column(sa.Column("superseded_by_id", sa.Integer(), nullable=True))
    _backfill()
    # SQLite rebuilds the table here (ioscan.catalog.store.upgrade_schema runs migrations with foreign keys
    # off, so the rebuild cannot cascade into frames and detections)
    with op.batch_alter_table("observations", recreate="always" if _sqlite() else "auto") as batch:
        batch.drop_constraint("uq_observations_product_id", type_="unique")
        batch.drop_constraint("uq_observations_checksum_sha256", type_="unique")
        batch.alter_column("product_key", existing_type=sa.String(length=256), nullable=False)
        batch.create_unique_constraint("uq_observations_product_key", ["product_key"])
        batch.create_foreign_key(
            "fk_observations_superseded_by_id_observations",
            "observations",
            ["superseded_by_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.create_index("ix_observations_base_product_id", "observations", ["base_product_id"], unique=False)
    op.create_index("ix_observations_checksum_sha256", "observations", ["checksum_sha256"], unique=False)
    op.create_table(
        "scan_claims",
        sa.Column("product_key", sa.String(length=256), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("claimed_utc", sa.String(length=32), nullable=False),
        sa.Column("lease_until_utc", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_scan_claims_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("product_key", name=op.f("pk_scan_claims")),
    )


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def downgrade() -> None:
    op.drop_table("scan_claims")
    op.drop_index("ix_observations_checksum_sha256", table_name="observations")
    op.drop_index("ix_observations_base_product_id", table_name="observations")
    with op.batch_alter_table("observations", recreate="always" if _sqlite() else "auto") as batch:
        batch.drop_constraint("fk_observations_superseded_by_id_observations", type_="foreignkey")
        batch.drop_constraint("uq_observations_product_key", type_="unique")
        batch.drop_column("superseded_by_id")
        batch.drop_column("product_key")
        batch.drop_column("product_created_utc")
        batch.drop_column("product_version")
        batch.drop_column("base_product_id")
        batch.create_unique_constraint("uq_observations_checksum_sha256", ["checksum_sha256"])
        batch.create_unique_constraint("uq_observations_product_id", ["product_id"])
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("summary")
