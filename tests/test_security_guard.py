"""The guard on user SQL, per dialect (``sql.guard``, data in ``sql.denied``): one test per
denied function, relation and set-returning function, each a 400 naming what was refused;
ClickHouse table functions and SETTINGS; the nesting limit (64 levels validate, 65 are a
400 naming the limit and the position), through the validator as a user meets it."""

from __future__ import annotations

from datetime import date

import pytest

from qualevents.errors import SQLInvalid
from qualevents.models import QualifyingEvent
from qualevents.sql import denied
from qualevents.sql.guard import MAX_NESTING
from qualevents.sql.parse import ensure_read_only, parse_query
from qualevents.sql.queries import formula_expression
from qualevents.validation import Validator
from qualevents.warehouse.duckdb import DuckDBWarehouse


def _example(pattern: str) -> str:
    """A name the pattern matches (``lo_*`` -> ``lo_x``)."""
    return pattern.replace("*", "x")


FUNCTION_CASES = [
    pytest.param(dialect, entry, id=f"{dialect}-{entry.pattern}")
    for dialect in denied.FUNCTIONS
    for entry in denied.denied_functions(dialect)
]
RELATION_CASES = [
    pytest.param(dialect, entry, id=f"{dialect}-{entry.pattern}")
    for dialect in denied.RELATIONS
    for entry in denied.denied_relations(dialect)
]
PART_CASES = [
    pytest.param(dialect, entry, id=f"{dialect}-{entry.pattern}")
    for dialect in denied.TABLE_PARTS
    for entry in denied.denied_table_parts(dialect)
]
SRF_CASES = [pytest.param(entry, id=entry.pattern) for entry in denied.SET_RETURNING_FUNCTIONS]


@pytest.mark.parametrize(("dialect", "entry"), FUNCTION_CASES)
def test_each_denied_function_is_a_400_naming_it(dialect: str, entry: denied.Denied) -> None:
    name = _example(entry.pattern)
    for sql in (f"SELECT {name}(1) AS v", f"SELECT v FROM (SELECT {name}(1) AS v) AS t"):
        with pytest.raises(SQLInvalid) as caught:
            parse_query(sql, dialect)
        assert caught.value.status == 400
        message = caught.value.errors[0].message
        assert f"{name}()" in message.lower()
        assert entry.reason in message
        assert caught.value.errors[0].extra["line"] == 1


@pytest.mark.parametrize(("dialect", "entry"), RELATION_CASES)
def test_each_denied_relation_is_a_400_naming_it(dialect: str, entry: denied.Denied) -> None:
    name = _example(entry.pattern)
    with pytest.raises(SQLInvalid) as caught:
        parse_query(f"SELECT * FROM {name} AS r", dialect)
    assert caught.value.status == 400
    assert f"Reading {name}" in caught.value.errors[0].message
    assert caught.value.errors[0].extra == {"line": 1, "column": 15}
    # The same check runs on every statement an adapter sends.
    with pytest.raises(SQLInvalid):
        ensure_read_only(f"SELECT * FROM {name} AS r", dialect)


@pytest.mark.parametrize(("dialect", "entry"), PART_CASES)
def test_each_file_like_table_name_is_refused(dialect: str, entry: denied.Denied) -> None:
    name = entry.pattern.replace("*", "x")
    quoted = f"@{name[1:]}" if name.startswith("@") else f'"{name}"'
    if dialect in ("spark", "clickhouse"):
        quoted = f"`{name}`"
    with pytest.raises(SQLInvalid) as caught:
        parse_query(f"SELECT * FROM {quoted} AS r", dialect)
    assert entry.reason in caught.value.errors[0].message


def test_duckdb_reads_no_file_named_as_a_table() -> None:
    for sql in ("SELECT * FROM '/etc/passwd'", "SELECT * FROM 'https://host/x.parquet'"):
        with pytest.raises(SQLInvalid, match="files"):
            parse_query(sql, "duckdb")
    parse_query("SELECT * FROM data.csv_exports AS t", "duckdb")  # a schema and a table


@pytest.mark.parametrize("entry", SRF_CASES)
def test_each_set_returning_function_is_refused_in_a_formula(entry: denied.Denied) -> None:
    name = _example(entry.pattern)
    with pytest.raises(SQLInvalid) as caught:
        formula_expression(f"{name}(x)", "postgres", ("custom_field_mapping", 0, "formula"))
    assert f"{name}()" in caught.value.errors[0].message
    assert caught.value.errors[0].loc == ("custom_field_mapping", 0, "formula")


def test_qualified_and_quoted_calls_are_found() -> None:
    with pytest.raises(SQLInvalid, match=r"pg_read_file\(\)"):
        parse_query("""SELECT pg_catalog."pg_read_file"('/etc/passwd') AS x""", "postgres")
    with pytest.raises(SQLInvalid, match=r"PG_SLEEP\(\)"):
        parse_query("SELECT PG_SLEEP(10) AS x", "postgres")


def test_names_that_only_look_like_denied_functions_pass() -> None:
    parse_query("SELECT 'pg_read_file(1)' AS pg_sleep, nextval_x FROM t", "postgres")
    parse_query("SELECT settings, url FROM t", "clickhouse")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM url('http://169.254.169.254/latest/meta-data', CSV)",
        "SELECT * FROM postgresql('db:5432', 'd', 't', 'u', 'p')",
        "SELECT * FROM file('/etc/passwd', 'LineAsString')",
        "SELECT * FROM remote('other:9000', system.users)",
        "SELECT * FROM s3('https://bucket.s3.amazonaws.com/x.csv')",
        "SELECT * FROM numbers(10)",
    ],
)
def test_clickhouse_table_functions_are_refused(sql: str) -> None:
    with pytest.raises(SQLInvalid) as caught:
        parse_query(sql, "clickhouse")
    assert "not allowed" in caught.value.errors[0].message


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1 AS x SETTINGS max_execution_time = 0",
        "SELECT * FROM (SELECT 1 AS x) AS s SETTINGS readonly = 0",
        "SELECT x FROM (SELECT 1 AS x SETTINGS max_execution_time = 0) AS s",
    ],
)
def test_clickhouse_settings_clauses_are_refused(sql: str) -> None:
    with pytest.raises(SQLInvalid, match="SETTINGS clause is not allowed"):
        parse_query(sql, "clickhouse")


def _nested(kind: str, depth: int) -> str:
    if kind == "parentheses":
        return "(" * depth + "1" + ")" * depth
    if kind == "case":
        return "CASE WHEN TRUE THEN " * depth + "1" + " END" * depth
    if kind == "functions":
        return "abs(" * depth + "1" + ")" * depth
    return "NOT " * depth + "TRUE"


KINDS = ["parentheses", "case", "functions", "not"]


def _event(sql: str, formula: str | None = None) -> QualifyingEvent:
    fields = [{"key": "f", "formula": formula}] if formula else []
    return QualifyingEvent.model_validate(
        {
            "name": "nested",
            "sql": sql,
            "timestamp_column": "ts",
            "id_type_mapping": [{"statsig_unit_id": "userID", "column": "user_id"}],
            "custom_field_mapping": fields,
        }
    )


@pytest.fixture(scope="module")
def duckdb_validator() -> Validator:
    return Validator(DuckDBWarehouse(":memory:"))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dialect", ["duckdb", "postgres", "bigquery", "snowflake", "clickhouse"])
def test_sql_nested_to_the_limit_validates(kind: str, dialect: str) -> None:
    # The outer SELECT's own parentheses count too: the expression takes the rest.
    sql = f"SELECT 'u' AS user_id, now() AS ts, {_nested(kind, MAX_NESTING)} AS v"
    report = Validator(None, dialect).validate(_event(sql), today=date(2024, 3, 1))
    assert report.valid, report.errors


@pytest.mark.parametrize("kind", KINDS)
def test_nested_to_the_limit_runs_on_duckdb(kind: str, duckdb_validator: Validator) -> None:
    sql = f"SELECT 'u' AS user_id, now() AS ts, {_nested(kind, MAX_NESTING - 2)} AS v"
    event = _event(sql, formula=_nested(kind, MAX_NESTING - 2))
    report = duckdb_validator.validate(event, today=date(2024, 3, 1))
    assert report.valid and report.mode == "warehouse", report.errors
    assert len(duckdb_validator.preview(event, limit=1)) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_sql_nested_past_the_limit_is_a_400_with_limit_and_position(kind: str) -> None:
    sql = f"SELECT 'u' AS user_id, now() AS ts,\n  {_nested(kind, 200)} AS v"
    report = Validator(None, "duckdb").validate(_event(sql), today=date(2024, 3, 1))
    assert not report.valid
    item = report.errors[0]
    assert f"the limit is {MAX_NESTING}" in item.message
    assert item.loc == ("sql",)
    assert item.extra["line"] == 2 and item.extra["column"] > 2


@pytest.mark.parametrize("kind", KINDS)
def test_formula_nested_past_the_limit_is_a_400(kind: str) -> None:
    event = _event("SELECT 'u' AS user_id, now() AS ts, 1 AS v", formula=_nested(kind, 200))
    report = Validator(None, "duckdb").validate(event, today=date(2024, 3, 1))
    assert not report.valid
    assert f"the limit is {MAX_NESTING}" in report.errors[0].message
    assert report.errors[0].loc == ("custom_field_mapping", 0, "formula")


def test_the_issue_examples_validate() -> None:
    """42 parentheses and 50 nested CASE were a 500 (RecursionError) before the guard."""
    for sql in (
        f"SELECT 'u' AS user_id, now() AS ts, {_nested('parentheses', 42)} AS v",
        f"SELECT 'u' AS user_id, now() AS ts, {_nested('case', 50)} AS v",
        f"SELECT 'u' AS user_id, now() AS ts, {_nested('functions', 50)} AS v",
    ):
        assert Validator(None, "postgres").validate(_event(sql)).valid
