"""The built-in DuckDB warehouse beyond the conformance suite: timeout, file safety and the
demo data set."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from qualevents.errors import ConfigurationError, SQLInvalid, WarehouseTimeout
from qualevents.sql import DateRange, parse_query
from qualevents.warehouse import open_warehouse
from qualevents.warehouse.demo import load_demo
from qualevents.warehouse.duckdb import DuckDBWarehouse
from qualevents.warehouse.postgres import PostgresWarehouse

WINDOW = DateRange(date(2024, 1, 1), date(2024, 1, 2))
SLOW = "SELECT SUM(a.range * b.range) AS s FROM range(1000000) a, range(1000000) b"


def test_a_slow_query_is_interrupted_by_the_timeout() -> None:
    warehouse = DuckDBWarehouse(timeout_s=0.2)
    with pytest.raises(WarehouseTimeout) as caught:
        warehouse.query(SLOW)
    assert "0.2 s timeout" in caught.value.errors[0].message
    # The connection is still usable afterwards.
    assert warehouse.query("SELECT 1 AS one") == [{"one": 1}]


def test_sql_cannot_read_files(tmp_path: Path) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_text("password\nhunter2\n")
    warehouse = DuckDBWarehouse()
    with pytest.raises(SQLInvalid) as caught:
        warehouse.query(f"SELECT * FROM read_csv('{secret}')")
    assert str(tmp_path) not in caught.value.errors[0].message
    assert "hunter2" not in str(caught.value)


def test_a_database_file_is_opened_read_only(tmp_path: Path) -> None:
    path = tmp_path / "wh.duckdb"
    warehouse = DuckDBWarehouse(str(path))
    assert warehouse.query("SELECT 1 AS one") == [{"one": 1}]
    # Bypass the guard: the engine itself refuses to write.
    with pytest.raises(SQLInvalid), warehouse.translate_errors():
        warehouse._fetch("CREATE TABLE t AS SELECT 1 AS x", 0)
    assert str(path) not in repr(warehouse)


def test_urls() -> None:
    memory = open_warehouse("duckdb:///:memory:")
    assert isinstance(memory, DuckDBWarehouse) and memory.in_memory
    relative = open_warehouse("duckdb:///./data/wh.duckdb", timeout_s=5, row_cap=7)
    assert isinstance(relative, DuckDBWarehouse)
    assert (relative.path, relative.timeout_s, relative.row_cap) == ("./data/wh.duckdb", 5, 7)
    absolute = open_warehouse("duckdb:////var/lib/wh.duckdb")
    assert isinstance(absolute, DuckDBWarehouse) and absolute.path == "/var/lib/wh.duckdb"


DEMO_COUNT = 'SELECT COUNT(*) AS n FROM "shoppy-sales".logging.events'


def test_demo_loads_idempotently_and_deterministically() -> None:
    today = date(2024, 6, 30)
    warehouse = DuckDBWarehouse()
    assert load_demo(warehouse, events=20_000, today=today) == 20_000
    first = warehouse.query(
        "SELECT MIN(ts) AS lo, MAX(ts) AS hi, COUNT(DISTINCT user_id) AS users, "
        'SUM(CAST(ROUND(price_usd * 100) AS BIGINT)) AS total FROM "shoppy-sales".logging.events'
    )
    load_demo(warehouse, events=20_000, today=today)
    assert warehouse.query(DEMO_COUNT) == [{"n": 20_000}]
    again = warehouse.query(
        "SELECT MIN(ts) AS lo, MAX(ts) AS hi, COUNT(DISTINCT user_id) AS users, "
        'SUM(CAST(ROUND(price_usd * 100) AS BIGINT)) AS total FROM "shoppy-sales".logging.events'
    )
    assert again == first
    assert first[0]["lo"].date() >= date(2024, 6, 1)
    assert first[0]["hi"].date() <= today


def test_demo_columns() -> None:
    warehouse = DuckDBWarehouse()
    load_demo(warehouse, events=1_000)
    columns = warehouse.describe('SELECT * FROM "shoppy-sales".logging.events')
    assert [(c.name, c.raw_type) for c in columns] == [
        ("ts", "TIMESTAMP"),
        ("user_id", "VARCHAR"),
        ("device_id", "VARCHAR"),
        ("event_name", "VARCHAR"),
        ("country", "VARCHAR"),
        ("platform", "VARCHAR"),
        ("price_usd", "DOUBLE"),
    ]


def test_demo_in_a_file_survives_reopening(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path}/wh.duckdb"
    warehouse = open_warehouse(url)
    assert warehouse is not None
    load_demo(warehouse, events=5_000)
    warehouse.close()
    reopened = open_warehouse(url)
    assert reopened is not None
    # Both of Statsig's spellings reach the table (through sql.references).
    for sql in (
        "SELECT COUNT(*) AS n FROM `shoppy-sales.logging.events`",
        "SELECT COUNT(*) AS n FROM shoppy-sales.logging.events",
    ):
        text = parse_query(sql, "duckdb", window=WINDOW).sql(dialect="duckdb")
        assert reopened.query(text) == [{"n": 5_000}]
    # Two processes' worth of read-only connections can share the file.
    second = open_warehouse(url)
    assert second is not None and second.query(DEMO_COUNT) == [{"n": 5_000}]


def test_demo_needs_duckdb() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_demo(PostgresWarehouse("postgresql://nobody@127.0.0.1:1/x"))
    assert "DuckDB" in caught.value.message
