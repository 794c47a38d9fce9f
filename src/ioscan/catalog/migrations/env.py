"""Alembic environment of the ioscan catalogue.

Run programmatically by :func:`ioscan.catalog.store.open_store` (no alembic.ini): the caller puts an open
SQLAlchemy ``Connection`` in ``config.attributes["connection"]``. With the alembic CLI, ``sqlalchemy.url``
from the ini file is used instead.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from ioscan.catalog.schema import metadata

config = context.config
target_metadata = metadata


def _configure_and_run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite ALTERs go through batch mode
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    engine = sa.create_engine(config.get_main_option("sqlalchemy.url"), poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        _configure_and_run(conn)
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
