"""Each check of a definition against an output schema, and what its message says."""

from __future__ import annotations

from qualevents.models import CustomFieldMapping, IdTypeMapping, QualifyingEvent, SourceType
from qualevents.sql import Column, check_event

COLUMNS = [
    Column("user_id", "string", "VARCHAR"),
    Column("event", "string", "VARCHAR"),
    Column("created_at", "timestamp", "TIMESTAMP"),
    Column("day", "date", "DATE"),
    Column("price", "float", "DOUBLE"),
    Column("ts_text", "string", "VARCHAR"),
    Column("n", "integer", "BIGINT"),
]


def event(**changes: object) -> QualifyingEvent:
    base: dict[str, object] = {
        "name": "purchases",
        "sql": "SELECT * FROM t",
        "timestamp_column": "created_at",
        "id_type_mapping": [IdTypeMapping(statsig_unit_id="userID", column="user_id")],
    }
    base.update(changes)
    return QualifyingEvent(**base)  # type: ignore[arg-type]


def messages(items: list) -> list[tuple[tuple, str]]:
    return [(item.loc, item.message) for item in items]


def test_a_good_definition_has_no_findings() -> None:
    found = check_event(event(), COLUMNS, "duckdb")
    assert found.errors == [] and found.warnings == []


def test_missing_timestamp_column_names_the_columns() -> None:
    found = check_event(event(timestamp_column="ts"), COLUMNS, "duckdb")
    assert messages(found.errors) == [
        (
            ("timestamp_column",),
            "timestampColumn 'ts' is not among the query's columns: user_id, event, "
            "created_at, day, price, ts_text, n",
        )
    ]


def test_missing_column_suggests_a_close_one() -> None:
    found = check_event(event(timestamp_column="created_a"), COLUMNS, "duckdb")
    assert found.errors[0].message.endswith("Did you mean 'created_at'?")


def test_timestamp_column_may_be_a_date() -> None:
    assert check_event(event(timestamp_column="day"), COLUMNS, "duckdb").errors == []


def test_string_timestamp_column_is_a_warning() -> None:
    found = check_event(event(timestamp_column="ts_text"), COLUMNS, "duckdb")
    assert found.errors == []
    assert found.warnings[0].loc == ("timestamp_column",)
    assert "string column" in found.warnings[0].message


def test_numeric_timestamp_column_is_an_error() -> None:
    found = check_event(event(timestamp_column="n"), COLUMNS, "duckdb")
    assert messages(found.errors) == [
        (
            ("timestamp_column",),
            "timestampColumn 'n' has type BIGINT; expected a timestamp or a date",
        )
    ]


def test_each_unit_id_column_must_exist() -> None:
    mappings = [
        IdTypeMapping(statsig_unit_id="userID", column="user_id"),
        IdTypeMapping(statsig_unit_id="stableID", column="device_id"),
    ]
    found = check_event(event(id_type_mapping=mappings), COLUMNS, "duckdb")
    assert [item.loc for item in found.errors] == [("id_type_mapping", 1, "column")]
    assert "'device_id' (for 'stableID') is not among" in found.errors[0].message


def test_case_folds_where_the_dialect_folds() -> None:
    upper = [Column("USER_ID", "string"), Column("CREATED_AT", "timestamp")]
    assert check_event(event(), upper, "snowflake").errors == []
    assert check_event(event(), upper, "postgres").errors == []
    # ClickHouse identifiers are case-sensitive.
    assert len(check_event(event(), upper, "clickhouse").errors) == 2


def test_partition_column_must_exist_and_be_a_date() -> None:
    table = {"source_type": SourceType.TABLE, "table_name": "db.events", "sql": ""}
    ok = check_event(event(**table, date_partition_column="day"), COLUMNS, "duckdb")
    assert ok.errors == []
    missing = check_event(event(**table, date_partition_column="ds"), COLUMNS, "duckdb")
    assert missing.errors[0].loc == ("date_partition_column",)
    assert "datePartitionColumn 'ds' is not among" in missing.errors[0].message
    numeric = check_event(event(**table, date_partition_column="n"), COLUMNS, "duckdb")
    assert "expected a timestamp or a date" in numeric.errors[0].message


def fields(*pairs: tuple[str, str]) -> list[CustomFieldMapping]:
    return [CustomFieldMapping(key=k, formula=f) for k, f in pairs]


def test_formulas_are_scalar_expressions_over_existing_columns() -> None:
    good = fields(("cents", "price * 100"), ("", ""), ("kind", "UPPER(event) || '_x'"))
    assert check_event(event(custom_field_mapping=good), COLUMNS, "duckdb").errors == []


def test_formula_problems_are_reported_at_their_index() -> None:
    bad = fields(
        ("total", "SUM(price)"),
        ("rank", "ROW_NUMBER() OVER (ORDER BY created_at)"),
        ("sub", "(SELECT MAX(price) FROM t)"),
        ("typo", "pricee * 2"),
        ("broken", "price +"),
        ("two", "price, n"),
        ("query", "SELECT 1"),
    )
    found = check_event(event(custom_field_mapping=bad), COLUMNS, "duckdb")
    by_index = {item.loc[1]: item.message for item in found.errors}
    assert all(
        item.loc[0] == "custom_field_mapping" and item.loc[2] == "formula" for item in found.errors
    )
    assert "aggregate SUM()" in by_index[0] and "computed from each row" in by_index[0]
    assert "window function" in by_index[1]
    assert "single scalar expression" in by_index[2] or "subquery" in by_index[2]
    assert "Column 'pricee'" in by_index[3] and "Did you mean 'price'?" in by_index[3]
    assert "not valid SQL" in by_index[4]
    assert "not valid SQL" in by_index[5]
    assert "not a query" in by_index[6]
    broken = next(item for item in found.errors if item.loc[1] == 4)
    assert broken.extra["line"] == 1


def test_incomplete_schema_turns_missing_columns_into_warnings() -> None:
    found = check_event(event(timestamp_column="ts"), [], "duckdb", complete=False)
    assert found.errors == []
    assert {item.loc for item in found.warnings} == {
        ("timestamp_column",),
        ("id_type_mapping", 0, "column"),
    }
    assert all("could not be checked" in item.message for item in found.warnings)
