"""Leniency for BigQuery-style table references on every warehouse. Imports ``sqlglot`` and
``sql.lexing``.

Statsig's examples write ``FROM `shoppy-sales.logging.events``` (one backticked dotted
path) and ``FROM shoppy-sales.logging.events`` (a dashed project, unquoted). Both are
BigQuery; on DuckDB, PostgreSQL or Snowflake they are rewritten into the dialect's own
quoting, part by part (``"shoppy-sales".logging.events``), before parsing. Only parts that
need quotes get them, so case folding of the others is unchanged. Strings and comments are
never touched.
"""

from __future__ import annotations

import re
from functools import lru_cache

from sqlglot import exp

from qualevents.sql.lexing import backtick_is_native, split

_PART = r"[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*"
# A dashed (dotted) name right after FROM or JOIN: ``a - b`` elsewhere is subtraction.
_DASHED_AFTER_FROM = re.compile(
    rf"(?P<head>\b(?:FROM|JOIN)\s+)(?P<name>{_PART}(?:\.{_PART})*)(?![A-Za-z0-9_`\"(])",
    re.IGNORECASE,
)


# Dialects whose parser reads ``my-project.dataset.table`` unquoted.
DASHED_NATIVE = frozenset({"bigquery"})


@lru_cache(maxsize=1024)
def quote_part(part: str, dialect: str | None) -> str:
    """One name part as the dialect writes it: quoted only when it has to be."""
    return exp.to_identifier(part).sql(dialect=dialect)


def quote_path(path: str, dialect: str | None) -> str:
    """``a-b.c.d`` (a dotted path without quotes) written for the dialect."""
    return ".".join(quote_part(part.strip(), dialect) for part in path.split("."))


def _rewrite_dashed(code: str, dialect: str | None) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group("name")
        if "-" not in name:
            return match.group(0)
        return match.group("head") + quote_path(name, dialect)

    return _DASHED_AFTER_FROM.sub(replace, code)


def normalize_references(sql: str, dialect: str | None = None) -> str:
    """``sql`` with backticked dotted paths and dashed unquoted names quoted for ``dialect``.

    Dialects that quote with backticks themselves (BigQuery, Databricks, ClickHouse) keep
    their backticks; BigQuery also reads dashed project names as written.
    """
    rewrite_dashed = (dialect or "").lower() not in DASHED_NATIVE
    if ("`" not in sql or backtick_is_native(dialect)) and ("-" not in sql or not rewrite_dashed):
        return sql
    out: list[str] = []
    for segment in split(sql, dialect):
        text = segment.text
        if segment.kind == "backtick":
            inner = text[1:-1] if text.endswith("`") and len(text) > 1 else text[1:]
            text = quote_path(inner.replace("``", "`"), dialect)
        elif segment.kind == "code" and rewrite_dashed and "-" in text:
            text = _rewrite_dashed(text, dialect)
        out.append(text)
    return "".join(out)


def table_reference(table_name: str, dialect: str | None = None) -> exp.Table:
    """A ``tableName`` (``shoppy-sales.logging.events``, backticked or not, or already quoted
    for the dialect) as a sqlglot table."""
    text = table_name.strip()
    if "`" in text and not backtick_is_native(dialect):
        text = normalize_references(text, dialect)
    elif (
        (dialect or "").lower() not in DASHED_NATIVE
        and "-" in text
        and not any(q in text for q in "\"'`")
    ):
        text = quote_path(text, dialect)
    return exp.to_table(text, dialect=dialect)
