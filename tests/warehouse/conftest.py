"""Real warehouses for the adapter tests: DuckDB in memory and in a file (always) and
PostgreSQL (whenever QUALEVENTS_TEST_POSTGRES_URL is set), each holding the same small
conformance table. PostgreSQL tests use a schema created for this session and dropped after.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

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


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[tuple[str, str]]:
    """(url, schema) of a schema holding the conformance table, for this session."""
    if not POSTGRES_URL:
        pytest.skip("QUALEVENTS_TEST_POSTGRES_URL is not set")
    url = _admin_url(POSTGRES_URL)
    schema = f"qualevents_wh_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        table = f"{schema}.events"
        conn.execute(CREATE_SQL.format(table=table))
        conn.execute(ROWS_SQL.format(table=table))
    yield url, schema
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


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
