"""The queries qualevents runs for a qualifying event, built as sqlglot expressions and
rendered in the warehouse's dialect: the effective query, the zero-row schema probe, the
preview and the daily aggregate. Imports ``sqlglot``, ``models``, ``errors`` and
``sql.guard``, ``sql.literals``, ``sql.macros``, ``sql.parse``, ``sql.references``,
``sql.schema``.

Every builder wraps the effective query as a derived table ``s``, so ORDER BY, LIMIT or
CTEs inside it keep their meaning.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect

from qualevents.errors import ErrorItem, SQLInvalid
from qualevents.models import QualifyingEvent, SourceType
from qualevents.sql import guard
from qualevents.sql.literals import date_value, timestamp_type, timestamp_value
from qualevents.sql.macros import DateRange
from qualevents.sql.parse import parse_error_items, parse_query
from qualevents.sql.references import table_reference
from qualevents.sql.schema import DATE, TIMESTAMP

SUBQUERY_ALIAS = "s"


def column(name: str) -> exp.Column:
    """A column as the definition names it (quoted only when it has to be)."""
    return exp.column(exp.to_identifier(name.strip()))


def custom_fields(event: QualifyingEvent) -> list[tuple[int, str, str]]:
    """(index, key, formula) of each custom field, placeholders (both empty) left out."""
    return [
        (i, field.key, field.formula)
        for i, field in enumerate(event.custom_field_mapping or [])
        if field.key or field.formula
    ]


def effective_query(
    event: QualifyingEvent, dialect: str | None, window: DateRange | None = None
) -> exp.Query:
    """The rows the event stands for: its SQL with macros substituted, or, for a table
    source, ``SELECT * FROM <table>`` with the partition filter for ``window``."""
    if event.effective_source_type is SourceType.TABLE:
        try:
            table = table_reference(event.table_name or "", dialect)
        except sqlglot.errors.SqlglotError as error:
            items = parse_error_items(error, ("table_name",))
            raise SQLInvalid("tableName is not a valid table name", items) from None
        except ValueError:
            message = (
                f"tableName must be [catalog.]schema.table (at most three parts); "
                f"got {event.table_name!r}"
            )
            raise SQLInvalid(message, [ErrorItem(("table_name",), message)]) from None
        query = exp.select("*", copy=False).from_(table, copy=False)
        if event.date_partition_column and window is not None:
            query = query.where(
                exp.Between(
                    this=column(event.date_partition_column),
                    low=date_value(window.start),
                    high=date_value(window.end),
                )
            )
        return query
    window = window or DateRange(date.today() - timedelta(days=1), date.today())
    return parse_query(event.sql or "", dialect, window)


def _from(query: exp.Query) -> exp.Select:
    # The one copy of the effective query: every builder below extends its result in place.
    return exp.Select().from_(query.subquery(SUBQUERY_ALIAS, copy=True), copy=False)


def schema_probe(query: exp.Query) -> exp.Select:
    """``SELECT * FROM (q) AS s LIMIT 0``: the output schema, with no data scanned."""
    return _from(query).select("*", copy=False).limit(0, copy=False)


def _as_timestamp(ts: exp.Expression, ts_type: str | None, dialect: str | None) -> exp.Expression:
    if ts_type in (TIMESTAMP, DATE):
        return ts
    return exp.cast(ts, timestamp_type(dialect))


def day_of(ts_name: str, ts_type: str | None, dialect: str | None = None) -> exp.Expression:
    """The day of a timestamp column of ``ts_type`` (strings are cast first)."""
    ts = column(ts_name)
    if ts_type == DATE:
        return ts
    return exp.cast(_as_timestamp(ts, ts_type, dialect), exp.DataType.Type.DATE)


def in_days(
    ts: str | exp.Expression,
    ts_type: str | None,
    start: date,
    end: date,
    dialect: str | None = None,
) -> exp.Expression:
    """``ts`` (a column name or expression) falls on one of the UTC days ``start`` ..
    ``end``, written so that a timestamp column is compared as it is (an index, sort order
    or zone map on it still helps); anything else but a date is cast first."""
    ts = column(ts) if isinstance(ts, str) else ts
    if ts_type == DATE:
        return exp.Between(this=ts, low=date_value(start), high=date_value(end))
    moment = ts if ts_type == TIMESTAMP else exp.cast(ts, timestamp_type(dialect))
    first = datetime.combine(start, datetime.min.time())
    after = datetime.combine(end + timedelta(days=1), datetime.min.time())
    return exp.and_(
        exp.GTE(this=moment, expression=timestamp_value(first, dialect)),
        exp.LT(this=moment.copy(), expression=timestamp_value(after, dialect)),
    )


def formula_expression(formula: str, dialect: str | None, loc: tuple = ()) -> exp.Expression:
    """A custom field's formula as one expression; SQLInvalid when it is not one, or when
    the guard refuses it (denied or set-returning functions, nesting)."""
    found = guard.check_formula(formula, dialect, loc)
    try:
        statements = Dialect.get_or_raise(dialect).parser().parse(found, formula)
        parsed = [e for e in statements if e is not None]
    except sqlglot.errors.SqlglotError as error:
        raise SQLInvalid("The formula could not be parsed", parse_error_items(error, loc)) from None
    except RecursionError:  # a shape the nesting count does not see
        raise guard.nesting_too_deep("formula", loc) from None
    if len(parsed) != 1:
        message = f"Must be one expression; found {len(parsed)} statements"
        raise SQLInvalid(message, [ErrorItem(loc, message)])
    return parsed[0]


def _unique(names: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for name in names:
        seen.setdefault(name.strip(), None)
    return list(seen)


def preview_query(
    event: QualifyingEvent,
    query: exp.Query,
    dialect: str | None,
    *,
    limit: int,
    since: date,
    until: date,
    ts_type: str | None = None,
) -> exp.Select:
    """Unit-id columns, the timestamp and each custom field (as its key) of the latest
    ``limit`` rows whose timestamp is within ``since`` .. ``until``."""
    ts_name = event.timestamp_column or ""
    named = getattr(event, "named_columns", None)
    extra = [getattr(event, field) for field, _ in named()] if named else []
    names = _unique([m.column for m in event.id_type_mapping or []] + [ts_name] + extra)
    select = _from(query).select(*(column(name) for name in names), copy=False)
    for i, key, formula in custom_fields(event):
        expression = formula_expression(formula, dialect, ("custom_field_mapping", i, "formula"))
        select = select.select(exp.alias_(expression, exp.to_identifier(key)), copy=False)
    return (
        select.where(in_days(ts_name, ts_type, since, until, dialect), copy=False)
        .order_by(exp.Ordered(this=column(ts_name), desc=True), copy=False)
        .limit(limit, copy=False)
    )


def unit_alias(index: int) -> str:
    return f"units_{index}"


def daily_query(
    event: QualifyingEvent,
    query: exp.Query,
    dialect: str | None,
    *,
    start: date,
    end: date,
    ts_type: str | None = None,
) -> exp.Select:
    """Per day from ``start`` to ``end``: ``events`` (rows) and ``units_<i>`` (distinct
    values of the i-th unit-id column), only days with events, oldest first."""
    ts_name = event.timestamp_column or ""
    day = day_of(ts_name, ts_type, dialect)
    select = _from(query).select(
        exp.alias_(day, "day"), exp.alias_(exp.Count(this=exp.Star()), "events"), copy=False
    )
    for i, mapping in enumerate(event.id_type_mapping or []):
        distinct = exp.Count(this=exp.Distinct(expressions=[column(mapping.column)]))
        select = select.select(exp.alias_(distinct, unit_alias(i)), copy=False)
    return (
        select.where(in_days(ts_name, ts_type, start, end, dialect), copy=False)
        .group_by(day.copy(), copy=False)
        .order_by(day.copy(), copy=False)
    )
