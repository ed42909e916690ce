"""Real warehouses for the adapter tests: DuckDB in memory and in a file (always) and
PostgreSQL (whenever QUALEVENTS_TEST_POSTGRES_URL is set), each holding the same small
conformance table. PostgreSQL tests use a schema created for this session and dropped after,
and connect as a least-privileged role made for the session (the adapter refuses the
superuser the suite administers with).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from qualevents.warehouse.base import Warehouse
from qualevents.warehouse.duckdb import DuckDBWarehouse
from qualevents.warehouse.postgres import PostgresWarehouse

POSTGRES_URL = os.environ.get("QUALEVENTS_TEST_POSTGRES_URL")

# Five rows; every backend holds exactly these.
ROWS_SQL = """
INSERT INTO {table} VALUES
  (TIMESTAMP '2024-03-01 10:00:00', 'u1', 1, 1.50, DATE '2024-03-01', TRUE),
  (TIMESTAMP '2024-03-01 11:00:00', 'u2', 2, 2.50, DATE '2024-03-01', FALSE),
  (TIMESTAMP '2024-03-02 09:30:00', 'u1', 3, 3.50, DATE '2024-03-02', TRUE),
  (TIMESTAMP '2024-03-03 08:00:00', 'u3', 4, 4.50, DATE '2024-03-03', NULL),
  (TIMESTAMP '2024-03-03 23:59:59', 'u2', 5, 5.50, DATE '2024-03-03', TRUE)
"""
CREATE_SQL = (
    "CREATE TABLE {table} (ts TIMESTAMP, user_id VARCHAR(20), n INTEGER, "
    "price DECIMAL(10, 2), d DATE, flag BOOLEAN)"
)

MakeWarehouse = Callable[..., Warehouse]


def _admin_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _as_role(url: str, role: str) -> str:
    """``url`` with ``role`` as the user (the test server trusts local connections)."""
    parts = urlsplit(url)
    netloc = f"{role}@{parts.hostname or '127.0.0.1'}:{parts.port or 5432}"
    return urlunsplit(parts._replace(netloc=netloc))


@contextmanager
def reader_role(admin_url: str, schema: str = "public") -> Iterator[str]:
    """A URL connecting as a new least-privileged role of the database ``admin_url`` names:
    CONNECT on it, USAGE on ``schema`` and SELECT on its tables (what docs/warehouses.md
    tells operators to grant); the role is dropped afterwards."""
    role = f"qualevents_reader_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        database = conn.execute("SELECT current_database()").fetchone()[0]
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
        conn.execute(f'GRANT CONNECT ON DATABASE "{database}" TO "{role}"')
        conn.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"')
        conn.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO "{role}"')
    try:
        yield _as_role(admin_url, role)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                [role],
            )
            conn.execute(f'DROP OWNED BY "{role}"')
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')


@dataclass(frozen=True)
class PostgresRoles:
    """The session's PostgreSQL warehouse: a schema with the conformance table, and URLs
    connecting as a least-privileged reader (CONNECT, USAGE, SELECT only), as a role
    holding ``pg_read_server_files``, and as the superuser the tests administer with."""

    schema: str
    reader_url: str
    file_reader_url: str
    admin_url: str
    database: str


@pytest.fixture(scope="session")
def postgres_roles() -> Iterator[PostgresRoles]:
    if not POSTGRES_URL:
        pytest.skip("QUALEVENTS_TEST_POSTGRES_URL is not set")
    url = _admin_url(POSTGRES_URL)
    suffix = uuid.uuid4().hex[:10]
    schema, reader, file_reader = (
        f"qualevents_wh_{suffix}",
        f"qualevents_reader_{suffix}",
        f"qualevents_files_{suffix}",
    )
    with psycopg.connect(url, autocommit=True) as conn:
        database = conn.execute("SELECT current_database()").fetchone()[0]
        conn.execute(f'CREATE SCHEMA "{schema}"')
        table = f"{schema}.events"
        conn.execute(CREATE_SQL.format(table=table))
        conn.execute(ROWS_SQL.format(table=table))
        for role in (reader, file_reader):
            conn.execute(f'CREATE ROLE "{role}" LOGIN')
            conn.execute(f'GRANT CONNECT ON DATABASE "{database}" TO "{role}"')
            conn.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"')
            conn.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO "{role}"')
        conn.execute(f'GRANT pg_read_server_files TO "{file_reader}"')
    yield PostgresRoles(schema, _as_role(url, reader), _as_role(url, file_reader), url, database)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        for role in (reader, file_reader):
            conn.execute(f'DROP OWNED BY "{role}"')
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')


@pytest.fixture(scope="session")
def postgres_schema(postgres_roles: PostgresRoles) -> tuple[str, str]:
    """(url, schema): the least-privileged reader's URL and the conformance schema."""
    return postgres_roles.reader_url, postgres_roles.schema


def fill_duckdb(warehouse: DuckDBWarehouse, schema: str = "conformance") -> None:
    with warehouse.writable() as connection:
        connection.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        connection.execute(f"DROP TABLE IF EXISTS {schema}.events")
        connection.execute(CREATE_SQL.format(table=f"{schema}.events"))
        connection.execute(ROWS_SQL.format(table=f"{schema}.events"))


@pytest.fixture
def duckdb_memory() -> Iterator[MakeWarehouse]:
    opened: list[Warehouse] = []

    def make(**options: object) -> Warehouse:
        warehouse = DuckDBWarehouse(":memory:", **options)  # type: ignore[arg-type]
        fill_duckdb(warehouse)
        opened.append(warehouse)
        return warehouse

    yield make
    for warehouse in opened:
        warehouse.close()


@pytest.fixture
def duckdb_file(tmp_path: Path) -> Iterator[MakeWarehouse]:
    path = str(tmp_path / "warehouse.duckdb")
    fill_duckdb(DuckDBWarehouse(path, read_only=False))
    opened: list[Warehouse] = []

    def make(**options: object) -> Warehouse:
        warehouse = DuckDBWarehouse(path, **options)  # type: ignore[arg-type]
        opened.append(warehouse)
        return warehouse

    yield make
    for warehouse in opened:
        warehouse.close()


@pytest.fixture
def postgres(postgres_schema: tuple[str, str]) -> Iterator[MakeWarehouse]:
    url, _schema = postgres_schema
    opened: list[Warehouse] = []

    def make(**options: object) -> Warehouse:
        warehouse = PostgresWarehouse(url, **options)  # type: ignore[arg-type]
        opened.append(warehouse)
        return warehouse

    yield make
    for warehouse in opened:
        warehouse.close()


# -- real engines beyond DuckDB and PostgreSQL (tests/warehouse/engines.py) ---------------


def _factory(url: str) -> Iterator[MakeWarehouse]:
    from qualevents.warehouse import open_warehouse

    opened: list[Warehouse] = []

    def make(**options: object) -> Warehouse:
        timeout_s = float(options.pop("timeout_s", 30.0))  # type: ignore[arg-type]
        row_cap = int(options.pop("row_cap", 10_000))  # type: ignore[call-overload]
        warehouse = open_warehouse(url, timeout_s=timeout_s, row_cap=row_cap, **options)
        assert warehouse is not None
        opened.append(warehouse)
        return warehouse

    yield make
    for warehouse in opened:
        warehouse.close()


@pytest.fixture(scope="session")
def chdb_url() -> Iterator[str]:
    from tests.warehouse import engines

    with engines.chdb_database(ROWS_SQL) as url:
        yield url


@pytest.fixture
def chdb(chdb_url: str) -> Iterator[MakeWarehouse]:
    yield from _factory(chdb_url)


@pytest.fixture(scope="session")
def fakesnow_url() -> Iterator[str]:
    from tests.warehouse import engines

    with engines.fakesnow_server(CREATE_SQL, ROWS_SQL) as url:
        yield url


@pytest.fixture
def fakesnow(fakesnow_url: str) -> Iterator[MakeWarehouse]:
    yield from _factory(fakesnow_url)


@pytest.fixture(scope="session")
def redshift_url(postgres_roles: PostgresRoles) -> Iterator[str]:
    """The Redshift driver's URL of the least-privileged reader, through pgbouncer."""
    from tests.warehouse import engines

    reader = urlsplit(postgres_roles.reader_url)
    with engines.pgbouncer(reader.port or 5432, [reader.username or ""]) as port:
        yield (
            f"redshift://{reader.username}@127.0.0.1:{port}/{postgres_roles.database}"
            "?ssl=false"
        )


@pytest.fixture
def redshift(redshift_url: str) -> Iterator[MakeWarehouse]:
    yield from _factory(redshift_url)


@pytest.fixture(scope="session")
def spark_url(spark_server: str) -> str:
    """The session's Spark Connect server (tests/conftest.py) with the conformance table."""
    from tests.warehouse import engines

    engines.spark_load(
        spark_server,
        [
            "CREATE DATABASE IF NOT EXISTS conformance",
            "DROP TABLE IF EXISTS conformance.events",
            engines.SPARK_CREATE.format(table="conformance.events"),
            ROWS_SQL.format(table="conformance.events"),
        ],
    )
    return spark_server


@pytest.fixture
def spark(spark_url: str) -> Iterator[MakeWarehouse]:
    yield from _factory(spark_url)
