"""What every warehouse adapter does, run for real against each engine that runs here: one
conformance class, one subclass per engine (dbt's adapter tests): DuckDB, PostgreSQL,
ClickHouse (chDB), Snowflake (fakesnow's server, through the real connector), Redshift's
driver (PostgreSQL through pgbouncer) and Spark (a local Spark Connect server). A new
backend is done when its subclass passes. Describe, sample, row cap, validate, preview,
daily, parse errors, missing columns and tables, the guard and the timeout."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import ClassVar

import pytest

from qualevents.errors import SQLInvalid, WarehouseTimeout
from qualevents.models import IdTypeMapping, QualifyingEvent
from qualevents.sql import parse_query
from qualevents.validation import Validator
from tests.warehouse.conftest import MakeWarehouse

# What a message from a warehouse must never carry: a driver's dict, a server source file,
# a JVM stack trace, a query plan.
UNCLEAN = re.compile(r"\{'|\.(?:c|cpp|scala|java)\b|JVM stacktrace|\bat org\.|\+- ")


class WarehouseConformance:
    """Subclasses provide ``make`` (a warehouse factory) and ``table`` (a qualified name),
    and ``slow_sql`` (a query that runs for minutes) where the engine enforces a timeout."""

    table = "conformance.events"
    slow_sql: ClassVar[str | None] = None
    # How the engine spells the unquoted names of ``SELECT *`` (Snowflake: upper case).
    star_case: ClassVar[str] = "as created"

    def star(self, name: str) -> str:
        return name.upper() if self.star_case == "upper" else name

    @pytest.fixture
    def make(self) -> MakeWarehouse:
        raise NotImplementedError

    def test_describe_normalizes_types(self, make: MakeWarehouse) -> None:
        columns = make().describe(f"SELECT * FROM {self.table}")
        assert [(c.name, c.type) for c in columns] == [
            (self.star("ts"), "timestamp"),
            (self.star("user_id"), "string"),
            (self.star("n"), "integer"),
            (self.star("price"), "decimal"),
            (self.star("d"), "date"),
            (self.star("flag"), "boolean"),
        ]
        assert all(c.raw_type for c in columns)

    def test_describe_takes_a_parsed_query(self, make: MakeWarehouse) -> None:
        warehouse = make()
        query = parse_query(f"SELECT user_id, n * 2 AS twice FROM {self.table}", warehouse.DIALECT)
        assert [(c.name, c.type) for c in warehouse.describe(query)] == [
            ("user_id", "string"),
            ("twice", "integer"),
        ]

    def test_sample_returns_dicts_and_respects_the_limit(self, make: MakeWarehouse) -> None:
        rows = make().sample(
            f"SELECT ts, user_id, n, price, d, flag FROM {self.table} ORDER BY n", 2
        )
        assert rows == [
            {
                "ts": datetime(2024, 3, 1, 10),
                "user_id": "u1",
                "n": 1,
                "price": Decimal("1.50"),
                "d": date(2024, 3, 1),
                "flag": True,
            },
            {
                "ts": datetime(2024, 3, 1, 11),
                "user_id": "u2",
                "n": 2,
                "price": Decimal("2.50"),
                "d": date(2024, 3, 1),
                "flag": False,
            },
        ]

    def test_query_is_capped_at_row_cap(self, make: MakeWarehouse) -> None:
        assert len(make().query(f"SELECT * FROM {self.table}")) == 5
        assert len(make(row_cap=3).query(f"SELECT * FROM {self.table}")) == 3
        assert len(make(row_cap=3).sample(f"SELECT * FROM {self.table}", 100)) == 3

    def test_aggregates(self, make: MakeWarehouse) -> None:
        rows = make().query(
            f"SELECT d, COUNT(*) AS events, COUNT(DISTINCT user_id) AS users "
            f"FROM {self.table} GROUP BY d ORDER BY d"
        )
        assert [(r["d"], r["events"], r["users"]) for r in rows] == [
            (date(2024, 3, 1), 2, 2),
            (date(2024, 3, 2), 1, 1),
            (date(2024, 3, 3), 2, 2),
        ]

    @pytest.mark.parametrize(
        "statement",
        [
            "DELETE FROM {table}",
            "DROP TABLE {table}",
            "SELECT 1; DROP TABLE {table}",
            "UPDATE {table} SET n = 0",
        ],
    )
    def test_writes_are_refused_before_they_run(self, make: MakeWarehouse, statement: str) -> None:
        warehouse = make()
        with pytest.raises(SQLInvalid) as caught:
            warehouse.query(statement.format(table=self.table))
        assert "Only a single SELECT is allowed" in caught.value.errors[0].message
        assert len(warehouse.query(f"SELECT * FROM {self.table}")) == 5

    def test_unknown_table_is_the_querys_fault(self, make: MakeWarehouse) -> None:
        with pytest.raises(SQLInvalid) as caught:
            make().describe("SELECT * FROM no_such_table_anywhere")
        (item,) = caught.value.errors
        assert item.loc == ("sql",)
        assert "no_such_table_anywhere" in item.message.lower()

    def test_unknown_column_is_the_querys_fault(self, make: MakeWarehouse) -> None:
        with pytest.raises(SQLInvalid) as caught:
            make().query(f"SELECT no_such_column FROM {self.table}")
        assert "no_such_column" in caught.value.errors[0].message.lower()

    def test_close_then_reuse_reconnects(self, make: MakeWarehouse) -> None:
        warehouse = make()
        assert warehouse.query("SELECT 1 AS one") == [{"one": 1}]
        warehouse.close()
        assert warehouse.query("SELECT 2 AS two") == [{"two": 2}]

    def test_result_keys_are_the_names_the_query_asked_for(self, make: MakeWarehouse) -> None:
        rows = make().query(
            f"SELECT d AS day, COUNT(*) AS events, MAX(user_id) AS lastUser FROM {self.table} "
            "GROUP BY d ORDER BY d"
        )
        assert [set(row) for row in rows] == [{"day", "events", "lastUser"}] * 3

    def test_parse_error_is_the_querys_fault_with_its_place(self, make: MakeWarehouse) -> None:
        with pytest.raises(SQLInvalid) as caught:
            make().query(f"SELECT user_id FROM {self.table} WHERE")
        assert caught.value.errors[0].loc == ("sql",)

    def test_missing_column_message_is_clean(self, make: MakeWarehouse) -> None:
        """A column named like a timeout is the query's fault (400), and the message is the
        server's, without dicts, source files, stack traces or plans."""
        with pytest.raises(SQLInvalid) as caught:
            make().query(f"SELECT user_timeout FROM {self.table}")
        message = caught.value.errors[0].message
        assert "user_timeout" in message.lower()
        assert not UNCLEAN.search(message), message

    def event(self, sql: str | None = None, column: str = "user_id") -> QualifyingEvent:
        return QualifyingEvent(
            name="conformance",
            sql=sql or f"SELECT * FROM {self.table}",
            timestamp_column="ts",
            id_type_mapping=[IdTypeMapping(statsig_unit_id="userID", column=column)],
        )

    def test_validate_against_the_engine(self, make: MakeWarehouse) -> None:
        report = Validator(make()).validate(self.event())
        assert report.valid and report.mode == "warehouse", report.errors

    def test_validate_fails_for_a_missing_column(self, make: MakeWarehouse) -> None:
        """The warehouse answered: never a static pass (the bug on ClickHouse, Databricks
        and Trino was ``valid: true``)."""
        sql = f"SELECT ts, user_id, no_such_column FROM {self.table}"
        report = Validator(make()).validate(self.event(sql))
        assert not report.valid and report.mode == "warehouse"
        assert "no_such_column" in " ".join(e.message for e in report.errors).lower()

    def test_validate_fails_for_a_missing_table(self, make: MakeWarehouse) -> None:
        report = Validator(make()).validate(self.event("SELECT * FROM no_such_table_anywhere"))
        assert not report.valid and report.mode == "warehouse"

    def test_preview_reads_the_latest_rows(self, make: MakeWarehouse) -> None:
        rows = Validator(make()).preview(self.event(), limit=2, days=3, today=date(2024, 3, 3))
        assert [(r["user_id"], r["ts"]) for r in rows] == [
            ("u2", "2024-03-03T23:59:59"),
            ("u3", "2024-03-03T08:00:00"),
        ]

    def test_daily_counts_events_and_units(self, make: MakeWarehouse) -> None:
        days = Validator(make()).daily(self.event(), date(2024, 3, 1), date(2024, 3, 3))
        assert days == [
            {"date": "2024-03-01", "events": 2, "units": {"userID": 2}},
            {"date": "2024-03-02", "events": 1, "units": {"userID": 1}},
            {"date": "2024-03-03", "events": 2, "units": {"userID": 2}},
        ]

    def test_a_slow_query_hits_the_timeout(self, make: MakeWarehouse) -> None:
        if self.slow_sql is None:
            pytest.skip(f"{type(self).__name__}: the engine enforces no statement timeout")
        warehouse = make(timeout_s=1)
        with pytest.raises(WarehouseTimeout):
            warehouse.query(self.slow_sql.format(table=self.table))
        assert warehouse.query("SELECT 1 AS one") == [{"one": 1}]


DUCKDB_SLOW = (
    "SELECT COUNT(*) AS n FROM range(100000000) a, range(100000) b "
    "WHERE (a.range + b.range) % 7 = 3"
)
POSTGRES_SLOW = "SELECT COUNT(*) AS n FROM generate_series(1, 1000000000) g"


class TestDuckDBMemory(WarehouseConformance):
    slow_sql = DUCKDB_SLOW

    @pytest.fixture
    def make(self, duckdb_memory: MakeWarehouse) -> MakeWarehouse:
        return duckdb_memory


class TestDuckDBFile(WarehouseConformance):
    slow_sql = DUCKDB_SLOW

    @pytest.fixture
    def make(self, duckdb_file: MakeWarehouse) -> MakeWarehouse:
        return duckdb_file


class TestPostgres(WarehouseConformance):
    slow_sql = POSTGRES_SLOW

    @pytest.fixture
    def make(self, postgres: MakeWarehouse, postgres_schema: tuple[str, str]) -> MakeWarehouse:
        self.table = f"{postgres_schema[1]}.events"
        return postgres


class TestClickHouseChDB(WarehouseConformance):
    # Every row of a cross join of numbers the guard allows (no table functions).
    slow_sql = (
        "SELECT count() AS n FROM (SELECT arrayJoin(range(100000)) AS a) AS x "
        "CROSS JOIN (SELECT arrayJoin(range(100000)) AS b) AS y WHERE (a + b) % 7 = 3"
    )

    @pytest.fixture
    def make(self, chdb: MakeWarehouse) -> MakeWarehouse:
        return chdb


class TestSnowflakeFakesnow(WarehouseConformance):
    star_case = "upper"
    # fakesnow runs on DuckDB and ignores STATEMENT_TIMEOUT_IN_SECONDS: no timeout here.
    slow_sql = None

    @pytest.fixture
    def make(self, fakesnow: MakeWarehouse) -> MakeWarehouse:
        return fakesnow


class TestRedshiftDriverThroughPgbouncer(WarehouseConformance):
    slow_sql = POSTGRES_SLOW

    @pytest.fixture
    def make(
        self, redshift: MakeWarehouse, postgres_schema: tuple[str, str]
    ) -> MakeWarehouse:
        self.table = f"{postgres_schema[1]}.events"
        return redshift


@pytest.mark.slow
class TestSparkConnect(WarehouseConformance):
    slow_sql = "SELECT COUNT(*) AS n FROM range(0, 100000000000)"

    @pytest.fixture
    def make(self, spark: MakeWarehouse) -> MakeWarehouse:
        return spark
