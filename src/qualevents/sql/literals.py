"""Typed literals per dialect, built once for everything that writes one: the date macros
(``sql.macros``) and the query builders (``sql.queries``). Imports ``sqlglot`` only.

sqlglot's ``TIMESTAMP`` is the zone-less type, which BigQuery calls ``DATETIME``; BigQuery's
own ``TIMESTAMP`` (an instant, what its event tables hold) is sqlglot's ``TIMESTAMPTZ``.
A literal compared with a BigQuery timestamp column must be that type, or BigQuery refuses
the comparison.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache

from sqlglot import exp

# Per dialect, the sqlglot type that renders as the dialect's usual event timestamp.
_TIMESTAMP_TYPE = {"bigquery": exp.DataType.Type.TIMESTAMPTZ}
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"


def timestamp_type(dialect: str | None) -> exp.DataType.Type:
    return _TIMESTAMP_TYPE.get((dialect or "").lower(), exp.DataType.Type.TIMESTAMP)


def date_value(day: date) -> exp.Expression:
    """``CAST('2024-01-30' AS DATE)``."""
    return exp.cast(exp.Literal.string(day.isoformat()), exp.DataType.Type.DATE)


def timestamp_value(moment: datetime, dialect: str | None = None) -> exp.Expression:
    """``CAST('2024-01-30 00:00:00' AS <the dialect's timestamp>)``."""
    return exp.cast(exp.Literal.string(moment.strftime(TIMESTAMP_FORMAT)), timestamp_type(dialect))


@lru_cache(maxsize=256)
def date_literal(day: date, dialect: str | None) -> str:
    """``date_value`` as SQL text of ``dialect``."""
    return date_value(day).sql(dialect=dialect)


@lru_cache(maxsize=256)
def timestamp_literal(moment: datetime, dialect: str | None) -> str:
    """``timestamp_value`` as SQL text of ``dialect``."""
    return timestamp_value(moment, dialect).sql(dialect=dialect)
