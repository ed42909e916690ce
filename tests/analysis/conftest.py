"""Real warehouses holding the hand-built fixtures (``fixtures/*.sql``): DuckDB in memory
(always) and PostgreSQL (whenever QUALEVENTS_TEST_POSTGRES_URL is set), read through a
least-privileged role that may only SELECT the fixture tables, in the per-session database.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
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


@pytest.fixture(scope="session")
def postgres_analysis(postgres_database_url: str) -> Iterator[str]:
    """A URL of a role that can only read schema ``analysis`` of the session database."""
    url = sa.engine.make_url(postgres_database_url)
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    role = f"qualevents_analyst_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA analysis")
        conn.execute(fixture_sql())
        conn.execute(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE')
        conn.execute(f'GRANT CONNECT ON DATABASE "{url.database}" TO "{role}"')
        conn.execute(f'GRANT USAGE ON SCHEMA analysis TO "{role}"')
        conn.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA analysis TO "{role}"')
        # Not UTC, so that a zoned column compared without conversion would be read wrong.
        conn.execute(f"ALTER ROLE \"{role}\" SET timezone = 'Asia/Tokyo'")
    yield url.set(drivername="postgresql", username=role, password=None).render_as_string(
        hide_password=False
    )
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP OWNED BY "{role}"')
    with psycopg.connect(admin.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", [role]
        )
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
