"""Timestamps, dates and intervals of the analyses as sqlglot expressions, in every dialect.
Imports ``sqlglot`` and ``sql``.

Timestamps without a zone are UTC. A zoned column is converted to a zone-less UTC timestamp
where the dialect's zone-less type is the common currency (PostgreSQL, Redshift, DuckDB,
Snowflake); BigQuery's TIMESTAMP is an instant, compared as such. Dates and strings are cast.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlglot import exp

from qualevents.sql.queries import date_value, timestamp_value
from qualevents.sql.schema import DATE, STRING, Column

_ZONE_TO_UTC = frozenset({"postgres", "redshift", "duckdb", "snowflake"})
_TIMESTAMP_TYPE = {"bigquery": exp.DataType.Type.TIMESTAMPTZ}
UNITS = {"minutes": "MINUTE", "hours": "HOUR", "days": "DAY"}


def timestamp_type(dialect: str) -> exp.DataType.Type:
    return _TIMESTAMP_TYPE.get(dialect, exp.DataType.Type.TIMESTAMP)


def _zoned(column: Column | None) -> bool:
    raw = (column.raw_type if column else "").lower()
    return "time zone" in raw or "tz" in raw


def utc_timestamp(value: exp.Expression, column: Column | None, dialect: str) -> exp.Expression:
    """``value`` (a source's timestamp column, described as ``column``) as a UTC timestamp."""
    kind = column.type if column else None
    if kind in (DATE, STRING):
        return exp.cast(value, timestamp_type(dialect))
    if _zoned(column) and dialect in _ZONE_TO_UTC:
        return exp.AtTimeZone(this=value, zone=exp.Literal.string("UTC"))
    return value


def day(value: exp.Expression) -> exp.Expression:
    """The UTC date of a UTC timestamp."""
    return exp.cast(value, exp.DataType.Type.DATE)


def start_of(moment: datetime | date, dialect: str) -> exp.Expression:
    if not isinstance(moment, datetime):
        moment = datetime.combine(moment, datetime.min.time())
    return timestamp_value(moment, dialect)


def day_literal(value: date) -> exp.Expression:
    return date_value(value)


def after_day(value: date, dialect: str) -> exp.Expression:
    """The first moment after the day ``value``."""
    return start_of(value + timedelta(days=1), dialect)


def plus(value: exp.Expression, amount: int, unit: str) -> exp.Expression:
    """A timestamp ``amount`` ``unit`` (minutes, hours, days) later."""
    return exp.TimestampAdd(
        this=value, expression=exp.Literal.number(amount), unit=exp.var(UNITS[unit])
    )


def days_after(value: exp.Expression, days: int) -> exp.Expression:
    """A date ``days`` days later (negative: earlier)."""
    return exp.DateAdd(this=value, expression=exp.Literal.number(days), unit=exp.var("DAY"))
