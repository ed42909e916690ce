"""The table-driven cases of ``tests/sql/fixtures``: read-only guard, syntax errors,
BigQuery-style references and Statsig's macros, in several dialects."""

from __future__ import annotations

from datetime import date

import pytest

from qualevents.errors import SQLInvalid
from qualevents.sql import DateRange, normalize_references, parse_query, substitute_macros
from tests.sql.cases import Case, params

WINDOW = DateRange(date(2024, 3, 1), date(2024, 3, 7))


@pytest.mark.parametrize("case", params("read_only.sql"))
def test_read_only_guard(case: Case) -> None:
    dialect = case.meta["dialect"]
    if case.meta["expect"] == "ok":
        query = parse_query(case.sql, dialect, WINDOW)
        # What we accept renders back into SQL the same dialect parses again.
        parse_query(query.sql(dialect=dialect), dialect)
        return
    with pytest.raises(SQLInvalid) as caught:
        parse_query(case.sql, dialect, WINDOW)
    (item,) = caught.value.errors
    assert item.loc == ("sql",)
    assert case.meta["message"] in item.message


@pytest.mark.parametrize("case", params("syntax.sql"))
def test_syntax_errors_carry_line_and_column(case: Case) -> None:
    with pytest.raises(SQLInvalid) as caught:
        parse_query(case.sql, case.meta["dialect"], WINDOW)
    item = caught.value.errors[0]
    assert item.loc == ("sql",)
    assert item.message
    # Built from sqlglot's structured fields: no parser internals reach the user.
    for internal in ("<class", "<Token", "sqlglot", "TokenType"):
        assert internal not in item.message
    if "message" in case.meta:
        assert item.message == case.meta["message"]
    if "line" in case.meta:
        assert item.extra["line"] == int(case.meta["line"])
        assert item.extra["highlight"]
    if "column" in case.meta:
        assert item.extra["column"] == int(case.meta["column"])


@pytest.mark.parametrize("case", params("references.sql"))
def test_references(case: Case) -> None:
    dialect = case.meta["dialect"]
    normalized = normalize_references(case.sql, dialect)
    assert normalized == case.meta["output"]
    parse_query(normalized, dialect)


@pytest.mark.parametrize("case", params("macros.sql"))
def test_macros(case: Case) -> None:
    dialect = case.meta["dialect"]
    window = DateRange(date.fromisoformat(case.meta["start"]), date.fromisoformat(case.meta["end"]))
    substituted = substitute_macros(case.sql, window, dialect)
    assert substituted == case.meta["output"]
    parse_query(substituted, dialect)
