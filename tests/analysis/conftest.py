"""Real warehouses holding the hand-built fixtures (``fixtures/*.sql``): DuckDB in memory
(always) and PostgreSQL (whenever QUALEVENTS_TEST_POSTGRES_URL is set), read through a
least-privileged role that may only SELECT the fixture tables, in the per-session database
(``postgres_analysis``, in ``tests/conftest.py``: one per session for every directory).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from qualevents.warehouse.base import Warehouse
from qualevents.warehouse.duckdb import DuckDBWarehouse
from qualevents.warehouse.postgres import PostgresWarehouse

FIXTURES = Path(__file__).parent / "fixtures"
FILES = ("exposures.sql", "power.sql")


def fixture_sql() -> str:
    return "\n".join((FIXTURES / name).read_text(encoding="utf-8") for name in FILES)


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
