"""The SQL splitter (sql/lexing.py) cuts text where the dialect's own tokens start and end:
strings, quoted identifiers and comments are never code, whatever they contain."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qualevents.sql.lexing import backtick_is_native, split

DIALECTS = ["duckdb", "postgres", "bigquery", "snowflake", "databricks", "trino", "clickhouse"]


def kinds(sql: str, dialect: str) -> list[tuple[str, str]]:
    return [(segment.kind, segment.text) for segment in split(sql, dialect)]


@pytest.mark.parametrize(
    ("dialect", "sql", "expected"),
    [
        (
            "postgres",
            "SELECT 'a -- b' -- c 'd'\nFROM t",
            [
                ("code", "SELECT "),
                ("string", "'a -- b'"),
                ("comment", " -- c 'd'\n"),
                ("code", "FROM t"),
            ],
        ),
        (
            "duckdb",
            "SELECT /* {statsig_start_date} */ x",
            [("code", "SELECT"), ("comment", " /* {statsig_start_date} */ "), ("code", "x")],
        ),
        (
            "postgres",
            'SELECT \'it\'\'s\', "a ""b""", $$c\'d$$',
            [
                ("code", "SELECT "),
                ("string", "'it''s'"),
                ("code", ", "),
                ("identifier", '"a ""b"""'),
                ("code", ", "),
                ("string", "$$c'd$$"),
            ],
        ),
        # A backtick is no quote of PostgreSQL's: a span of its own (a BigQuery reference).
        (
            "postgres",
            "SELECT * FROM `shoppy-sales.logging.events` WHERE x",
            [
                ("code", "SELECT * FROM "),
                ("backtick", "`shoppy-sales.logging.events`"),
                ("code", " WHERE x"),
            ],
        ),
        (
            "bigquery",
            'SELECT * FROM `shoppy-sales.logging.events` WHERE s = "x"',
            [
                ("code", "SELECT * FROM "),
                ("identifier", "`shoppy-sales.logging.events`"),
                ("code", " WHERE s = "),
                ("string", '"x"'),
            ],
        ),
        # Unterminated backtick: to the end of the text.
        ("duckdb", "SELECT `a.b", [("code", "SELECT "), ("backtick", "`a.b")]),
        # Unreadable text (an unterminated string) is code: parsing reports it.
        ("duckdb", "SELECT 'abc FROM t", [("code", "SELECT 'abc FROM t")]),
        ("duckdb", "", []),
        (
            "duckdb",
            "SELECT { statsig_start_date } AS a",
            [("code", "SELECT { statsig_start_date } AS a")],
        ),
    ],
)
def test_segments(dialect: str, sql: str, expected: list[tuple[str, str]]) -> None:
    assert kinds(sql, dialect) == expected


@pytest.mark.parametrize("dialect", DIALECTS)
def test_backticks_are_native_where_the_dialect_quotes_with_them(dialect: str) -> None:
    assert backtick_is_native(dialect) == (dialect in ("bigquery", "databricks", "clickhouse"))


@settings(max_examples=200, deadline=None, database=None, derandomize=True)
@given(
    sql=st.text(alphabet="SELECT abc'\"`$-/*\n{}_.;,()0123 ", max_size=60),
    dialect=st.sampled_from(DIALECTS),
)
def test_the_segments_join_back_to_the_text(sql: str, dialect: str) -> None:
    segments = split(sql, dialect)
    assert "".join(segment.text for segment in segments) == sql
    assert all(segment.text for segment in segments)
