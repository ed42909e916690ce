"""Real warehouses holding the hand-built fixtures (``fixtures/*.sql``): DuckDB in memory
(always) and PostgreSQL (whenever QUALEVENTS_TEST_POSTGRES_URL is set), read through a
least-privileged role that may only SELECT the fixture tables, in a database of their own
(``analysis_database``; the session fixture ``postgres_analysis`` is in ``tests/conftest.py``,
so every directory shares one).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from qualevents.warehouse.base import Warehouse
from qualevents.warehouse.duckdb import DuckDBWarehouse
from qualevents.warehouse.postgres import PostgresWarehouse

FIXTURES = Path(__file__).parent / "fixtures"
FILES = ("exposures.sql", "power.sql")


def fixture_sql() -> str:
    return "\n".join((FIXTURES / name).read_text(encoding="utf-8") for name in FILES)


@contextmanager
def analysis_database(postgres_database_url: str) -> Iterator[str]:
    """A database of its own holding the fixtures (schema ``analysis``), on the server of
    ``postgres_database_url``; yields the URL of a role that can only read them, whose
    session zone is not UTC. Its own database, so that every module importing the fixture
    (each import is another instance of it) gets one."""
    url = sa.engine.make_url(postgres_database_url).set(drivername="postgresql")
    admin = url.render_as_string(hide_password=False)
    suffix = uuid.uuid4().hex[:10]
    database, role = f"qualevents_analysis_{suffix}", f"qualevents_analyst_{suffix}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
        conn.execute(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE')
        # Not UTC, so that a zoned column compared without conversion would be read wrong.
        conn.execute(f"ALTER ROLE \"{role}\" SET timezone = 'Asia/Tokyo'")
    own = url.set(database=database)
    with psycopg.connect(own.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute("CREATE SCHEMA analysis")
        conn.execute(fixture_sql())
        conn.execute(f'GRANT USAGE ON SCHEMA analysis TO "{role}"')
        conn.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA analysis TO "{role}"')
    try:
        yield own.set(username=role, password=None).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')


@pytest.fixture(scope="module")
def duckdb_analysis() -> Iterator[Warehouse]:
    warehouse = DuckDBWarehouse(":memory:")
    with warehouse.writable() as connection:
        connection.execute("CREATE SCHEMA analysis")
        connection.execute(fixture_sql())
        connection.execute("SET TimeZone = 'Asia/Tokyo'")
    yield warehouse
    warehouse.close()


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request: pytest.FixtureRequest) -> Iterator[Warehouse]:
    if request.param == "duckdb":
        yield request.getfixturevalue("duckdb_analysis")
        return
    opened = PostgresWarehouse(request.getfixturevalue("postgres_analysis"))
    yield opened
    opened.close()
