"""What every warehouse adapter does, run for real against each backend: one conformance
class, one subclass per backend. A new backend is done when its subclass passes."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from qualevents.errors import SQLInvalid
from qualevents.sql import parse_query
from tests.warehouse.conftest import MakeWarehouse


class WarehouseConformance:
    """Subclasses provide ``make`` (a warehouse factory) and ``table`` (a qualified name)."""

    table = "conformance.events"

    @pytest.fixture
    def make(self) -> MakeWarehouse:
        raise NotImplementedError

    def test_describe_normalizes_types(self, make: MakeWarehouse) -> None:
        columns = make().describe(f"SELECT * FROM {self.table}")
        assert [(c.name, c.type) for c in columns] == [
            ("ts", "timestamp"),
            ("user_id", "string"),
            ("n", "integer"),
            ("price", "decimal"),
            ("d", "date"),
            ("flag", "boolean"),
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
        rows = make().sample(f"SELECT * FROM {self.table} ORDER BY n", 2)
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
        assert "no_such_table_anywhere" in item.message

    def test_unknown_column_is_the_querys_fault(self, make: MakeWarehouse) -> None:
        with pytest.raises(SQLInvalid) as caught:
            make().query(f"SELECT no_such_column FROM {self.table}")
        assert "no_such_column" in caught.value.errors[0].message

    def test_close_then_reuse_reconnects(self, make: MakeWarehouse) -> None:
        warehouse = make()
        assert warehouse.query("SELECT 1 AS one") == [{"one": 1}]
        warehouse.close()
        assert warehouse.query("SELECT 2 AS two") == [{"two": 2}]


class TestDuckDBMemory(WarehouseConformance):
    @pytest.fixture
    def make(self, duckdb_memory: MakeWarehouse) -> MakeWarehouse:
        return duckdb_memory


class TestDuckDBFile(WarehouseConformance):
    @pytest.fixture
    def make(self, duckdb_file: MakeWarehouse) -> MakeWarehouse:
        return duckdb_file


class TestPostgres(WarehouseConformance):
    @pytest.fixture
    def make(self, postgres: MakeWarehouse, postgres_schema: tuple[str, str]) -> MakeWarehouse:
        self.table = f"{postgres_schema[1]}.events"
        return postgres
