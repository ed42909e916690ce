"""The embedded DuckDB warehouse is bounded: a memory limit, a temp-space limit and a thread
cap on every connection (defaults: a quarter of RAM, twice that, cores - 1), locked so a
statement cannot lift them; a query beyond the memory limit is a clear error, not the
machine's memory; errors classified by DuckDB's exception classes."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from qualevents.errors import SQLInvalid, WarehouseError, WarehouseTimeout
from qualevents.warehouse import open_warehouse
from qualevents.warehouse.duckdb import DuckDBWarehouse, default_memory_limit, default_threads


def _settings(warehouse: DuckDBWarehouse) -> tuple[str, int, str]:
    # Straight to the adapter: the guard refuses current_setting from users.
    _, rows = warehouse._fetch(
        "SELECT current_setting('memory_limit'), current_setting('threads'), "
        "current_setting('max_temp_directory_size')",
        1,
    )
    return rows[0]


def test_limits_are_applied_by_default() -> None:
    warehouse = DuckDBWarehouse(":memory:")
    try:
        memory, threads, temp = _settings(warehouse)
    finally:
        warehouse.close()
    assert threads == default_threads() == max(1, (os.cpu_count() or 2) - 1)
    quarter_mib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 4 / 2**20
    assert default_memory_limit() == f"{int(quarter_mib)}MB"
    assert memory.endswith(("MiB", "GiB")) and temp.endswith(("MiB", "GiB"))


def test_limits_come_from_the_settings() -> None:
    warehouse = open_warehouse(
        "duckdb:///:memory:", memory_limit="100MB", temp_directory_limit="50MB", threads=1
    )
    assert isinstance(warehouse, DuckDBWarehouse)
    try:
        memory, threads, temp = _settings(warehouse)
    finally:
        warehouse.close()
    assert (memory, threads, temp) == ("95.3 MiB", 1, "47.6 MiB")


def test_a_query_beyond_the_memory_limit_is_a_clear_error() -> None:
    warehouse = open_warehouse(
        "duckdb:///:memory:", memory_limit="64MB", temp_directory_limit="0MB", threads=1
    )
    assert warehouse is not None
    try:
        with pytest.raises(WarehouseError) as caught:
            warehouse.query(
                "SELECT max(s) AS m FROM (SELECT i::VARCHAR || repeat('x', 100) AS s "
                "FROM range(5000000) AS t(i) ORDER BY s) AS sorted"
            )
        # The warehouse still answers afterwards.
        assert warehouse.query("SELECT 1 AS one") == [{"one": 1}]
    finally:
        warehouse.close()
    assert caught.value.status == 502
    assert "memory than the warehouse's limit (64MB, QUALEVENTS_WAREHOUSE_MEMORY_LIMIT)" in (
        caught.value.message
    )


def test_a_statement_cannot_lift_the_limits(tmp_path: Path) -> None:
    path = tmp_path / "wh.duckdb"
    duckdb.connect(str(path)).close()
    warehouse = open_warehouse(f"duckdb:///{path}", memory_limit="100MB")
    assert isinstance(warehouse, DuckDBWarehouse)
    try:
        for statement in (
            "SET memory_limit = '100GB'",
            "SET enable_external_access = true",
            "SET threads = 64",
        ):
            with pytest.raises(SQLInvalid, match="locked"), warehouse.translate_errors():
                warehouse._fetch(statement, 0)  # past the guard, which refuses SET anyway
        assert _settings(warehouse)[0] == "95.3 MiB"
    finally:
        warehouse.close()


def test_errors_are_classified_by_exception_class() -> None:
    warehouse = DuckDBWarehouse(":memory:", timeout_s=0.2)
    try:
        with pytest.raises(SQLInvalid) as missing:
            warehouse.query("SELECT user_timeout FROM (SELECT 1 AS x) AS s")
        assert "user_timeout" in missing.value.errors[0].message
        with pytest.raises(WarehouseTimeout):
            warehouse.query("SELECT count(*) AS n FROM range(10000000000) AS a")
    finally:
        warehouse.close()
