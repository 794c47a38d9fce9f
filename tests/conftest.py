"""Shared database fixtures.

``db_url`` runs a test once on SQLite (a temporary file) and once on PostgreSQL. The PostgreSQL server comes
from ``IOSCAN_TEST_PG_URL`` (default ``postgresql:///ioscan_test?host=/var/run/postgresql``; start one with
``scripts/setup_postgres.sh``). Each PostgreSQL test gets a fresh schema (dropped afterwards) through the
connection's ``search_path``, so tests never see each other's tables. An unreachable server skips the
PostgreSQL variants, except under ``CI=true`` where it is a failure.
"""

from __future__ import annotations

import os
import uuid
from urllib.parse import quote

import pytest

DEFAULT_PG_URL = "postgresql:///ioscan_test?host=/var/run/postgresql"


def _pg_url() -> str:
    return os.environ.get("IOSCAN_TEST_PG_URL", DEFAULT_PG_URL)


def _psycopg_conninfo(url: str) -> str:
    # psycopg takes libpq URLs; drop a SQLAlchemy driver suffix if one was given
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    """A database URL for an empty catalogue: SQLite file or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ioscan_test.db'}"
        return
    import psycopg

    base = _pg_url()
    try:
        admin = psycopg.connect(_psycopg_conninfo(base), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL not reachable at {base}: {str(exc).strip().splitlines()[0]}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (CI=true: a missing service is a failure)")
        pytest.skip(message)
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
        sep = "&" if "?" in base else "?"
        try:
            yield f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
        finally:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def store(db_url):
    """An open :class:`ioscan.catalog.store.Store` on ``db_url``, closed afterwards."""
    from ioscan.catalog.store import open_store

    s = open_store(db_url)
    yield s
    s.close()


@pytest.fixture(scope="session")
def small_campaign(tmp_path_factory):
    """A small simulated campaign (2 orbits of JIRAM frames + 1 ground night of 256² frames), written once."""
    from ioscan.simulate.campaign import simulate_campaign

    out = tmp_path_factory.mktemp("campaign")
    return simulate_campaign(out, orbits=2, seed=11, frames_per_orbit=4, ground_nights=1, ground_pixels=256)
