"""The power-analysis SQL (issue 13), built as sqlglot expressions: for every duration
k = 1..weeks, the distinct units with a qualifying row in the k*7 days ending on ``end``, each
unit's metric from its first qualifying row there, and only per-k aggregates (means,
variances, covariances) come back. Imports ``sqlglot`` and ``sql``.

    windows         k and the first moment of its window
    qualifying      the event's rows in the longest window (NULL ids dropped, eventFilter)
    buckets         per unit and week counted back from ``end``, the first qualifying ts
    population      per k and unit, the first qualifying ts in window k (its exposure)
    exposures       the distinct (unit, exposure) pairs: the metric is computed once each
    metric_rows     the metric source's rows (metricFilter), from the CUPED pre-period on
    unit_metrics    per (unit, exposure): the metric after exposure (and the covariate)
    per_k           the aggregates per k

Windows are nested and all end on ``end``, so a unit's exposure in window k is the first
qualifying ts of its oldest week within k; units are counted once per window, never a weekly
count times k.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlglot import exp

from qualevents.analysis.rows import SourceRows
from qualevents.analysis.timestamps import after_day, day, days_after, plus, start_of
from qualevents.sql.queries import column

DOUBLE = exp.DataType.Type.DOUBLE
RATIO_TYPES = frozenset({"mean", "ratio"})


def window_start(end: date, k: int) -> date:
    """The first day of the k-week window ending on ``end``."""
    return end - timedelta(days=7 * k - 1)


def metric_first_day(end: date, weeks: int, pre_days: int | None) -> date:
    """The first day of metric rows read: the longest window, less the CUPED pre-period."""
    return window_start(end, weeks) - timedelta(days=pre_days or 0)


@dataclass(frozen=True)
class PowerQuery:
    """Everything the SQL needs, resolved. ``metric`` rows carry the extra columns
    ``value`` (sum, mean), ``numerator`` and ``denominator`` (ratio)."""

    qualifying: SourceRows
    metric: SourceRows
    metric_type: str
    weeks: int
    end: date
    metric_window_days: int | None = None
    metric_as_day: bool = False
    cuped_pre_days: int | None = None

    def window_start(self, k: int) -> date:
        return window_start(self.end, k)

    @property
    def first_day(self) -> date:
        return window_start(self.end, self.weeks)

    @property
    def metric_first_day(self) -> date:
        return metric_first_day(self.end, self.weeks, self.cuped_pre_days)


def _col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table)


def _when(
    condition: exp.Expression, then: exp.Expression, otherwise: exp.Expression | None
) -> exp.Expression:
    case = exp.Case(ifs=[exp.If(this=condition, true=then)])
    return case.else_(otherwise, copy=False) if otherwise is not None else case


def _zero() -> exp.Expression:
    return exp.Literal.number(0)


def _one() -> exp.Expression:
    return exp.Literal.number(1)


def _double(value: exp.Expression) -> exp.Expression:
    return exp.cast(value, DOUBLE)


def _periods(spec: PowerQuery, dialect: str) -> tuple[exp.Expression, exp.Expression | None]:
    """The conditions on a metric row ``m`` joined to an exposure ``x``: after exposure
    (``e <= ts``, to ``metricWindowDays`` or the window's end) and, with CUPED, before it
    (``e - preDays <= ts < e``); by date on a ``timestampAsDay`` metric source."""
    ts, exposure = _col("ts", "m"), _col("exposure_ts", "x")
    d, pre = spec.metric_window_days, spec.cuped_pre_days
    if spec.metric_as_day:
        mday, eday = day(ts), day(exposure)
        after: exp.Expression = exp.GTE(this=mday, expression=eday)
        if d is not None:
            after = exp.and_(after, exp.LT(this=mday.copy(), expression=days_after(eday.copy(), d)))
        before = None
        if pre is not None:
            before = exp.and_(
                exp.GTE(this=mday.copy(), expression=days_after(eday.copy(), -pre)),
                exp.LT(this=mday.copy(), expression=eday.copy()),
            )
        return after, before
    after = exp.GTE(this=ts, expression=exposure)
    if d is not None:
        after = exp.and_(after, exp.LT(this=ts.copy(), expression=plus(exposure.copy(), d, "days")))
    before = None
    if pre is not None:
        before = exp.and_(
            exp.GTE(this=ts.copy(), expression=plus(exposure.copy(), -pre, "days")),
            exp.LT(this=ts.copy(), expression=exposure.copy()),
        )
    return after, before


def _unit_values(spec: PowerQuery, period: exp.Expression, prefix: str) -> list[exp.Expression]:
    """The per-unit metric over the rows satisfying ``period``: ``<prefix>y`` for sum, count
    and conversion, ``<prefix>num`` and ``<prefix>den`` for mean and ratio."""

    def total(value: str) -> exp.Expression:
        summed = exp.Sum(this=_when(period.copy(), _col(value, "m"), None))
        return _double(exp.func("COALESCE", summed, _zero()))

    rows = exp.Sum(this=_when(period.copy(), _one(), _zero()))
    kind = spec.metric_type
    if kind == "mean":  # rows with a value: a NULL value neither adds to the sum nor counts
        has_value = exp.and_(period.copy(), _col("value", "m").is_(exp.null()).not_())
        rows = exp.Sum(this=_when(has_value, _one(), _zero()))
    if kind == "sum":
        return [exp.alias_(total("value"), f"{prefix}y")]
    if kind == "count":
        return [exp.alias_(_double(rows), f"{prefix}y")]
    if kind == "conversion":
        return [
            exp.alias_(_double(exp.Max(this=_when(period.copy(), _one(), _zero()))), f"{prefix}y")
        ]
    if kind == "mean":
        return [
            exp.alias_(total("value"), f"{prefix}num"),
            exp.alias_(_double(rows), f"{prefix}den"),
        ]
    return [
        exp.alias_(total("numerator"), f"{prefix}num"),
        exp.alias_(total("denominator"), f"{prefix}den"),
    ]


def _aggregates(spec: PowerQuery) -> list[exp.Expression]:
    if spec.metric_type in RATIO_TYPES:
        has = exp.NEQ(this=_col("den"), expression=_zero())

        def only(name: str) -> exp.Expression:
            return _when(has.copy(), _col(name), None)

        return [
            exp.alias_(exp.Count(this=only("den")), "units"),
            exp.alias_(
                exp.Sum(this=_when(has.copy(), _zero(), _one())), "units_without_denominator"
            ),
            exp.alias_(exp.Avg(this=only("num")), "mean_num"),
            exp.alias_(exp.Avg(this=only("den")), "mean_den"),
            exp.alias_(exp.Variance(this=only("num")), "var_num"),
            exp.alias_(exp.Variance(this=only("den")), "var_den"),
            exp.alias_(exp.CovarSamp(this=only("num"), expression=only("den")), "cov_num_den"),
        ]
    found = [
        exp.alias_(exp.Count(this=exp.Star()), "units"),
        exp.alias_(exp.Avg(this=_col("y")), "mean_y"),
        exp.alias_(exp.Variance(this=_col("y")), "var_y"),
    ]
    if spec.cuped_pre_days is not None:
        found += [
            exp.alias_(exp.Avg(this=_col("pre_y")), "mean_x"),
            exp.alias_(exp.Variance(this=_col("pre_y")), "var_x"),
            exp.alias_(exp.CovarSamp(this=_col("y"), expression=_col("pre_y")), "cov_xy"),
        ]
    return found


def _bucket(spec: PowerQuery, dialect: str) -> exp.Expression:
    ts = _col("ts")
    ifs = [
        exp.If(
            this=exp.GTE(this=ts.copy(), expression=start_of(spec.window_start(k), dialect)),
            true=exp.Literal.number(k),
        )
        for k in range(1, spec.weeks)
    ]
    if not ifs:
        return exp.Literal.number(1)
    return exp.Case(ifs=ifs).else_(exp.Literal.number(spec.weeks), copy=False)


def power_query(spec: PowerQuery, dialect: str) -> exp.Select:
    """One row per k (oldest first): ``k``, ``units`` and the aggregates ``_aggregates``
    names (NULL where no unit was found)."""
    windows: exp.Query | None = None
    for k in range(1, spec.weeks + 1):
        row = exp.select(exp.alias_(exp.Literal.number(k), "k"))
        windows = row if windows is None else exp.union(windows, row, distinct=False)
    assert windows is not None
    qualifying = spec.qualifying.select(
        dialect, since=start_of(spec.first_day, dialect), before=after_day(spec.end, dialect)
    )
    bucket = _bucket(spec, dialect)
    buckets = (
        exp.select(
            "unit_id",
            exp.alias_(bucket, "bucket"),
            exp.alias_(exp.Min(this=_col("ts")), "first_ts"),
        )
        .from_("qualifying")
        .group_by("unit_id", bucket.copy())  # the expression: not every dialect groups by alias
    )
    population = (
        exp.select(
            "w.k", "b.unit_id", exp.alias_(exp.Min(this=_col("first_ts", "b")), "exposure_ts")
        )
        .from_(exp.alias_(exp.to_table("buckets"), "b", table=True))
        .join(exp.alias_(exp.to_table("windows"), "w", table=True), on="b.bucket <= w.k")
        .group_by("w.k", "b.unit_id")
    )
    exposures = exp.select("unit_id", "exposure_ts").from_("population").distinct()
    metric_rows = spec.metric.select(
        dialect, since=start_of(spec.metric_first_day, dialect), before=after_day(spec.end, dialect)
    )
    after, before = _periods(spec, dialect)
    period = after if before is None else exp.or_(exp.paren(after), exp.paren(before))
    values = _unit_values(spec, after, "")
    if before is not None:
        values += _unit_values(spec, before, "pre_")
    unit_metrics = (
        exp.select("x.unit_id", "x.exposure_ts", *values)
        .from_(exp.alias_(exp.to_table("exposures"), "x", table=True))
        .join(
            exp.alias_(exp.to_table("metric_rows"), "m", table=True),
            on=exp.and_(exp.condition("m.unit_id = x.unit_id"), period),
            join_type="left",
        )
        .group_by("x.unit_id", "x.exposure_ts")
    )
    per_unit = (
        exp.select("p.k", "u.*")
        .from_(exp.alias_(exp.to_table("population"), "p", table=True))
        .join(
            exp.alias_(exp.to_table("unit_metrics"), "u", table=True),
            on="u.unit_id = p.unit_id AND u.exposure_ts = p.exposure_ts",
        )
    )
    per_k = exp.select("k", *_aggregates(spec)).from_("per_unit").group_by("k")
    chain = exp.select("*")
    for name, query in (
        ("windows", windows),
        ("qualifying", qualifying),
        ("buckets", buckets),
        ("population", population),
        ("exposures", exposures),
        ("metric_rows", metric_rows),
        ("unit_metrics", unit_metrics),
        ("per_unit", per_unit),
        ("per_k", per_k),
    ):
        chain = chain.with_(name, as_=query, copy=False)
    names = [a.alias for a in _aggregates(spec)]
    return (
        chain.select("w.k", *(f"r.{n}" for n in names), append=False)
        .from_(exp.alias_(exp.to_table("windows"), "w", table=True))
        .join(exp.alias_(exp.to_table("per_k"), "r", table=True), on="r.k = w.k", join_type="left")
        .order_by("w.k")
    )


def metric_columns(
    metric_type: str, value: str | None, numerator: str | None, denominator: str | None
) -> dict[str, exp.Expression]:
    """The extra columns the metric rows carry for ``metric_type``."""
    if metric_type in ("sum", "mean"):
        return {"value": column(value or "")}
    if metric_type == "ratio":
        return {"numerator": column(numerator or ""), "denominator": column(denominator or "")}
    return {}
