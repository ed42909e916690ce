"""The exposure-filtering SQL (issue 12), built as sqlglot expressions: one aggregate query
(per group: exposed and qualified units, with the totals) and the filtered exposures as one
runnable query (one row per kept unit). Imports ``sqlglot`` and ``sql``.

Both share one chain of CTEs, so the numbers and the rows a user takes away agree:

    exposure_rows   the experiment's rows whose UTC day is in range (NULL ids included)
    units           one row per non-NULL unit: its group(s) and first exposure
    exposed         units seen in exactly one group (crossovers left out)
    qualifying      the event's rows (NULL ids dropped, eventFilter applied, in range)
    matches         per exposed unit, its first qualifying timestamp that matches
    classified      exposed units with that timestamp (NULL: did not qualify)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlglot import exp

from qualevents.analysis.rows import SourceRows
from qualevents.analysis.timestamps import (
    after_day,
    day,
    days_after,
    plus,
    start_of,
    timestamp_type,
)
from qualevents.sql.queries import timestamp_value
from qualevents.sql.schema import STRING, UNKNOWN, Column


@dataclass(frozen=True)
class ExposureFilter:
    """Everything the SQL needs, resolved: the sources' rows, the range and the options."""

    exposures: SourceRows  # extra: group_id (and group_name)
    qualifying: SourceRows
    experiment_column: str
    experiment_column_type: Column | None
    experiment_id: str
    start: date
    end: date
    now: datetime
    include: bool = True
    window_amount: int | None = None
    window_unit: str | None = None  # minutes | hours | days
    any_exposure: bool = False
    timestamp_as_day: bool = False
    replace_exposure_timestamp: bool = False
    has_group_name: bool = False

    @property
    def window_minutes(self) -> int | None:
        if self.window_amount is None or self.window_unit is None:
            return None
        return self.window_amount * {"minutes": 1, "hours": 60, "days": 1440}[self.window_unit]

    def qualifying_until(self) -> datetime:
        """The last moment a qualifying row can matter: ``end`` plus the window, or now."""
        minutes = self.window_minutes
        if minutes is None:
            return self.now
        return datetime.combine(self.end + timedelta(days=1), datetime.min.time()) + timedelta(
            minutes=minutes
        )

    def qualifying_macro_end(self) -> date:
        """``{statsig_end_date}`` of the qualifying event: the last day read."""
        if self.window_minutes is None:
            return self.now.date()
        return (self.qualifying_until() - timedelta(microseconds=1)).date()


def _col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table)


def _count_if(condition: exp.Expression) -> exp.Expression:
    case = exp.Case(ifs=[exp.If(this=condition, true=exp.Literal.number(1))])
    return exp.Sum(this=case.else_(exp.Literal.number(0), copy=False))


def experiment_condition(spec: ExposureFilter) -> exp.Expression:
    value: exp.Expression = exp.column(exp.to_identifier(spec.experiment_column.strip()))
    kind = spec.experiment_column_type.type if spec.experiment_column_type else UNKNOWN
    if kind not in (STRING, UNKNOWN):
        value = exp.cast(value, exp.DataType.Type.VARCHAR)
    return exp.EQ(this=value, expression=exp.Literal.string(spec.experiment_id))


def _matches(
    spec: ExposureFilter, qualified: exp.Expression, exposed: exp.Expression
) -> exp.Expression:
    """The condition under which a qualifying timestamp matches an exposure timestamp."""
    if spec.timestamp_as_day:
        later = exp.GTE(this=day(qualified.copy()), expression=day(exposed.copy()))
        if spec.window_amount is None:
            return later
        last = days_after(day(exposed.copy()), spec.window_amount)
        return exp.and_(later, exp.LTE(this=day(qualified.copy()), expression=last))
    later = exp.GTE(this=qualified.copy(), expression=exposed.copy())
    if spec.window_amount is None or spec.window_unit is None:
        return later
    last = plus(exposed.copy(), spec.window_amount, spec.window_unit)
    return exp.and_(later, exp.LTE(this=qualified.copy(), expression=last))


def _chain(spec: ExposureFilter, dialect: str) -> exp.Select:
    """A SELECT carrying every CTE up to ``classified`` (its own projection is replaced)."""
    rows = spec.exposures.select(
        dialect,
        since=start_of(spec.start, dialect),
        before=after_day(spec.end, dialect),
        where=experiment_condition(spec),
        drop_null_units=False,  # they are counted
    )
    group_name = [_col("group_name")] if spec.has_group_name else []
    units = (
        exp.select(
            "unit_id",
            exp.alias_(exp.Min(this=_col("group_id")), "group_id"),
            *(exp.alias_(exp.Min(this=_col("group_name")), "group_name") for _ in group_name),
            exp.alias_(exp.Min(this=_col("ts")), "exposure_ts"),
            exp.alias_(exp.Count(this=exp.Distinct(expressions=[_col("group_id")])), "group_count"),
        )
        .from_("exposure_rows")
        .where("unit_id IS NOT NULL AND group_id IS NOT NULL")
        .group_by("unit_id")
    )
    exposed = (
        exp.select("unit_id", "group_id", *group_name, "exposure_ts")
        .from_("units")
        .where("group_count = 1")
    )
    qualifying = spec.qualifying.select(
        dialect,
        since=start_of(spec.start, dialect),
        until=timestamp_value(spec.qualifying_until(), dialect),
    )
    if spec.any_exposure:
        matches = (
            exp.select("x.unit_id", exp.alias_(exp.Min(this=_col("ts", "q")), "qualified_ts"))
            .from_(exp.alias_(exp.to_table("exposure_rows"), "x", table=True))
            .join(
                exp.alias_(exp.to_table("exposed"), "e", table=True),
                on="e.unit_id = x.unit_id AND x.group_id IS NOT NULL",
            )
            .join(
                exp.alias_(exp.to_table("qualifying"), "q", table=True),
                on=exp.and_(
                    exp.condition("q.unit_id = x.unit_id"),
                    _matches(spec, _col("ts", "q"), _col("ts", "x")),
                ),
            )
            .group_by("x.unit_id")
        )
    else:
        matches = (
            exp.select("e.unit_id", exp.alias_(exp.Min(this=_col("ts", "q")), "qualified_ts"))
            .from_(exp.alias_(exp.to_table("exposed"), "e", table=True))
            .join(
                exp.alias_(exp.to_table("qualifying"), "q", table=True),
                on=exp.and_(
                    exp.condition("q.unit_id = e.unit_id"),
                    _matches(spec, _col("ts", "q"), _col("exposure_ts", "e")),
                ),
            )
            .group_by("e.unit_id")
        )
    classified = (
        exp.select(
            "e.unit_id",
            "e.group_id",
            *(_col("group_name", "e") for _ in group_name),
            "e.exposure_ts",
            "m.qualified_ts",
        )
        .from_(exp.alias_(exp.to_table("exposed"), "e", table=True))
        .join(
            exp.alias_(exp.to_table("matches"), "m", table=True),
            on="m.unit_id = e.unit_id",
            join_type="left",
        )
    )
    chain = exp.select("*")
    for name, query in (
        ("exposure_rows", rows),
        ("units", units),
        ("exposed", exposed),
        ("qualifying", qualifying),
        ("matches", matches),
        ("classified", classified),
    ):
        chain = chain.with_(name, as_=query, copy=False)
    return chain


def range_query(spec: ExposureFilter, dialect: str) -> exp.Select:
    """``first_ts`` and ``last_ts``: the experiment's first and last exposure from
    ``spec.start`` to ``spec.end`` (for a request without a start or an end)."""
    rows = spec.exposures.select(
        dialect,
        since=start_of(spec.start, dialect),
        before=after_day(spec.end, dialect),
        where=experiment_condition(spec),
    )
    return exp.select(
        exp.alias_(exp.Min(this=_col("ts")), "first_ts"),
        exp.alias_(exp.Max(this=_col("ts")), "last_ts"),
    ).from_(rows.subquery("r", copy=False))


def aggregate_query(spec: ExposureFilter, dialect: str) -> exp.Select:
    """One row per group (``group_id``, ``group_name``, ``exposed_units``,
    ``qualified_units``), each carrying the totals (``exposure_rows``, ``null_unit_rows``,
    ``null_group_rows``, ``crossover_units``); one row of totals with NULL groups when no
    unit was exposed."""
    chain = _chain(spec, dialect)
    per_group = (
        exp.select(
            "group_id",
            exp.alias_(
                exp.Min(this=_col("group_name")) if spec.has_group_name else exp.Null(),
                "group_name",
            ),
            exp.alias_(exp.Count(this=exp.Star()), "exposed_units"),
            exp.alias_(exp.Count(this=_col("qualified_ts")), "qualified_units"),
        )
        .from_("classified")
        .group_by("group_id")
    )
    totals = exp.select(
        exp.alias_(exp.Count(this=exp.Star()), "exposure_rows"),
        exp.alias_(_count_if(exp.condition("unit_id IS NULL")), "null_unit_rows"),
        exp.alias_(
            _count_if(exp.condition("unit_id IS NOT NULL AND group_id IS NULL")),
            "null_group_rows",
        ),
    ).from_("exposure_rows")
    crossovers = (
        exp.select(exp.alias_(exp.Count(this=exp.Star()), "crossover_units"))
        .from_("units")
        .where("group_count > 1")
    )
    chain = chain.with_("per_group", as_=per_group, copy=False)
    chain = chain.with_("totals", as_=totals, copy=False)
    chain = chain.with_("crossovers", as_=crossovers, copy=False)
    return (
        chain.select(
            "t.exposure_rows",
            "t.null_unit_rows",
            "t.null_group_rows",
            "c.crossover_units",
            "g.group_id",
            "g.group_name",
            "g.exposed_units",
            "g.qualified_units",
            append=False,
        )
        .from_(exp.alias_(exp.to_table("totals"), "t", table=True))
        .join(exp.alias_(exp.to_table("crossovers"), "c", table=True), join_type="cross")
        .join(
            exp.alias_(exp.to_table("per_group"), "g", table=True),
            on=exp.EQ(this=exp.Literal.number(1), expression=exp.Literal.number(1)),
            join_type="left",
        )
        .order_by("g.group_id")
    )


def filtered_query(spec: ExposureFilter, dialect: str) -> exp.Select:
    """The kept units, one row each: ``unit_id``, ``group_id`` (``group_name``),
    ``exposure_timestamp`` (replaced when asked) and ``first_qualifying_timestamp``."""
    chain = _chain(spec, dialect)
    qualified = _col("qualified_ts")
    exposure: exp.Expression = _col("exposure_ts")
    if spec.replace_exposure_timestamp and spec.include:
        if spec.timestamp_as_day:
            day_start = exp.cast(day(qualified.copy()), timestamp_type(dialect))
            exposure = exp.Greatest(this=exposure, expressions=[day_start])
        else:
            exposure = qualified.copy()
    keep = exp.Is(this=qualified.copy(), expression=exp.Null())
    return (
        chain.select(
            "unit_id",
            "group_id",
            *(["group_name"] if spec.has_group_name else []),
            exp.alias_(exposure, "exposure_timestamp"),
            exp.alias_(qualified.copy(), "first_qualifying_timestamp"),
            append=False,
        )
        .from_("classified")
        .where(exp.Not(this=keep) if spec.include else keep)
        .order_by("unit_id")
    )
