"""Cloud adapters without their clouds: (a) what they would send parses in their dialect,
and (b) a fake connection that records calls (the one place a fake is allowed) shows the
session settings, the statements, row caps and error translation."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest
import sqlglot

from qualevents.errors import SQLInvalid, WarehouseUnavailable
from qualevents.models import IdTypeMapping, QualifyingEvent
from qualevents.sql import DateRange
from qualevents.sql.queries import daily_query, effective_query, preview_query, schema_probe
from qualevents.warehouse import get_or_raise, open_warehouse
from qualevents.warehouse.base import Warehouse
from qualevents.warehouse.bigquery import BigQueryWarehouse
from qualevents.warehouse.clickhouse import ClickHouseWarehouse

COLUMNS = [("ts", "TIMESTAMP"), ("user_id", "VARCHAR")]
ROWS = [(f"2024-03-0{i}", f"u{i}") for i in range(1, 6)]
LIST_EXAMPLE = QualifyingEvent(
    name="list",
    sql="SELECT *\nFROM shoppy-sales.logging.events\n"
    "where DATE(ts) between {statsig_start_date} and {statsig_end_date}\n",
    timestamp_column="ts",
    id_type_mapping=[IdTypeMapping(statsig_unit_id="userID", column="user_id")],
)
WINDOW = DateRange(date(2024, 3, 1), date(2024, 3, 7))


class ProgrammingError(Exception):
    pass


class OperationalError(Exception):
    pass


class FakeCursor:
    def __init__(self, connection: FakeConnection) -> None:
        self.connection = connection
        self.description: list[tuple[Any, ...]] | None = None

    def execute(self, sql: str, **_options: Any) -> None:
        self.connection.executed.append(sql)
        if self.connection.fail is not None:
            raise self.connection.fail
        self.description = [(name, kind, None, None, None, None, None) for name, kind in COLUMNS]

    def fetchmany(self, size: int) -> list[tuple[Any, ...]]:
        self.connection.fetched.append(size)
        return ROWS[:size]

    def close(self) -> None:
        pass


class FakeConnection:
    def __init__(self) -> None:
        self.executed: list[str] = []
        self.fetched: list[int] = []
        self.fail: Exception | None = None
        self.closed = False

    def cursor(self) -> FakeCursor:
        return FakeCursor(self)

    def close(self) -> None:
        self.closed = True


DBAPI_URLS = {
    "snowflake": "snowflake://me:Pw-Secret-1@acct/db/public?warehouse=WH",
    "databricks": "databricks://token:dapiSecret123@host.cloud/sql/1.0/warehouses/x",
    "redshift": "redshift://me:Pw-Secret-1@cluster.aws:5439/dev",
    "trino": "trino://me:Pw-Secret-1@host:8443/hive/default",
}
SESSION_MARKERS = {
    "snowflake": None,  # session parameters given to connect(), not statements
    "databricks": "STATEMENT_TIMEOUT = 12",
    "redshift": "statement_timeout TO 12000",
    "trino": None,  # a session property given to connect(), not a statement
}


# Statements an adapter runs around each query (Redshift: a read-only transaction).
WRAPPERS = ("BEGIN READ ONLY", "SET LOCAL ", "ROLLBACK")


def queries(fake: FakeConnection) -> list[str]:
    """What ``fake`` executed, without the per-statement transaction statements."""
    return [s for s in fake.executed if not s.startswith(WRAPPERS)]


def dbapi(name: str, **options: Any) -> tuple[Warehouse, FakeConnection]:
    warehouse = open_warehouse(DBAPI_URLS[name], timeout_s=12, row_cap=3, **options)
    assert warehouse is not None
    fake = FakeConnection()
    warehouse._connect = lambda: fake  # type: ignore[method-assign]
    return warehouse, fake


@pytest.mark.parametrize("name", sorted(DBAPI_URLS))
def test_dbapi_adapter_sends_session_settings_then_the_probe(name: str) -> None:
    warehouse, fake = dbapi(name)
    columns = warehouse.describe(effective_query(LIST_EXAMPLE, warehouse.DIALECT, WINDOW))
    assert [(c.name, c.type) for c in columns] == [("ts", "timestamp"), ("user_id", "string")]
    marker = SESSION_MARKERS[name]
    if marker:
        assert any(marker in statement for statement in queries(fake)[:-1])
    probe = queries(fake)[-1]
    assert probe.endswith("LIMIT 0")
    sqlglot.parse_one(probe, read=warehouse.DIALECT)


@pytest.mark.parametrize("name", sorted(DBAPI_URLS))
def test_dbapi_adapter_caps_rows_and_runs_once_per_connection(name: str) -> None:
    warehouse, fake = dbapi(name)
    assert len(warehouse.query("SELECT ts, user_id FROM t")) == 3
    assert len(warehouse.sample("SELECT ts, user_id FROM t", 2)) == 2
    assert fake.fetched == [3, 2]
    session = len(queries(fake)) - 2
    warehouse.query("SELECT ts FROM t")
    assert len(queries(fake)) == session + 3  # session statements ran only once
    warehouse.close()
    assert fake.closed


@pytest.mark.parametrize("name", sorted(DBAPI_URLS))
def test_dbapi_errors_are_translated_without_secrets(name: str) -> None:
    warehouse, fake = dbapi(name)
    warehouse.query("SELECT 1 AS x")
    fake.fail = ProgrammingError(
        f"SQL compilation error: Object 'T' does not exist {DBAPI_URLS[name]}"
    )
    with pytest.raises(SQLInvalid) as rejected:
        warehouse.query("SELECT * FROM t")
    assert "does not exist" in rejected.value.errors[0].message
    assert "Secret" not in str(rejected.value)
    secret = "dapiSecret123" if name == "databricks" else "Pw-Secret-1"
    fake.fail = OperationalError(f"could not connect: password {secret} rejected")
    with pytest.raises(WarehouseUnavailable) as down:
        warehouse.query("SELECT * FROM t")
    assert "Secret" not in str(down.value)
    # A message that mentions a timeout is not a timeout (the column is user_timeout):
    # only the driver's classes and codes say so (tests/warehouse/test_driver_errors.py).
    fake.fail = ProgrammingError("invalid identifier 'USER_TIMEOUT'")
    warehouse._connect = lambda: fake  # type: ignore[method-assign]
    with pytest.raises(SQLInvalid):
        warehouse.query("SELECT * FROM t")


@pytest.mark.parametrize(
    "name", ["bigquery", "snowflake", "databricks", "redshift", "trino", "clickhouse"]
)
def test_every_query_a_cloud_adapter_gets_parses_in_its_dialect(name: str) -> None:
    dialect = get_or_raise(name).DIALECT
    query = effective_query(LIST_EXAMPLE, dialect, WINDOW)
    for expression in (
        schema_probe(query),
        preview_query(
            LIST_EXAMPLE,
            query,
            dialect,
            limit=5,
            since=WINDOW.start,
            until=WINDOW.end,
            ts_type="timestamp",
        ),
        daily_query(
            LIST_EXAMPLE, query, dialect, start=WINDOW.start, end=WINDOW.end, ts_type="timestamp"
        ),
    ):
        sqlglot.parse_one(expression.sql(dialect=dialect), read=dialect)


class FakeBigQuery:
    """Stands in for the google.cloud.bigquery module and its client."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def QueryJobConfig(self, **options: Any) -> dict[str, Any]:
        return options

    def query(self, sql: str, job_config: dict[str, Any], timeout: float) -> Any:
        self.calls.append((sql, job_config))
        schema = [SimpleNamespace(name=n, field_type=t) for n, t in COLUMNS]

        def result(max_results: int, timeout: float) -> Any:
            rows = [SimpleNamespace(values=lambda r=r: r) for r in ROWS[:max_results]]
            return SimpleNamespace(schema=schema, __iter__=None, rows=rows)

        return SimpleNamespace(schema=schema, result=result)


def test_bigquery_describes_with_a_dry_run_and_sets_a_job_timeout() -> None:
    fake = FakeBigQuery()
    warehouse = BigQueryWarehouse(
        project="shoppy-sales", timeout_s=12, row_cap=3, client=fake, driver=fake
    )
    columns = warehouse.describe("SELECT * FROM `shoppy-sales.logging.events`")
    assert [(c.name, c.type) for c in columns] == [("ts", "timestamp"), ("user_id", "string")]
    sql, config = fake.calls[-1]
    assert config["dry_run"] is True
    sqlglot.parse_one(sql, read="bigquery")
    assert sql == "SELECT * FROM (SELECT * FROM `shoppy-sales.logging.events`) AS s LIMIT 0"

    original = fake.query

    def query(sql: str, job_config: dict[str, Any], timeout: float) -> Any:
        job = original(sql, job_config, timeout)
        inner = job.result

        def result(max_results: int, timeout: float) -> Any:
            page = inner(max_results, timeout)
            return _Rows(page.schema, page.rows)

        return SimpleNamespace(schema=job.schema, result=result)

    fake.query = query  # type: ignore[method-assign]
    rows = warehouse.query("SELECT ts, user_id FROM `shoppy-sales.logging.events`")
    assert len(rows) == 3 and rows[0] == {"ts": "2024-03-01", "user_id": "u1"}
    assert fake.calls[-1][1]["job_timeout_ms"] == 12_000


class _Rows(list):
    def __init__(self, schema: list[Any], rows: list[Any]) -> None:
        super().__init__(rows)
        self.schema = schema


class FakeClickHouse:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def query(self, sql: str, settings: dict[str, Any]) -> Any:
        self.calls.append((sql, settings))
        return SimpleNamespace(
            column_names=[n for n, _ in COLUMNS],
            column_types=[SimpleNamespace(name="DateTime64(3)"), SimpleNamespace(name="String")],
            result_rows=ROWS,
        )


def test_clickhouse_runs_read_only_with_a_time_limit_and_a_server_row_cap() -> None:
    fake = FakeClickHouse()
    warehouse = ClickHouseWarehouse(client=fake, timeout_s=12, row_cap=3)
    columns = warehouse.describe("SELECT * FROM logging.events")
    assert [(c.name, c.type) for c in columns] == [("ts", "timestamp"), ("user_id", "string")]
    rows = warehouse.query("SELECT ts, user_id FROM logging.events")
    assert len(rows) == 3
    sql, settings = fake.calls[-1]
    assert settings["readonly"] == 2 and settings["max_execution_time"] == 12
    assert settings["max_result_rows"] == 3 and settings["result_overflow_mode"] == "break"
    sqlglot.parse_one(sql, read="clickhouse")
