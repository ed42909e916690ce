"""Run an analysis through a warehouse adapter: resolve the request against the sources,
build the SQL, execute it with ``Warehouse.query`` (aggregates only come back) and assemble
the response ``data``. Imports ``errors``, ``models``, ``sql``, ``warehouse.base`` (types)
and the rest of ``analysis``.

The job machinery (issue 12's "Analyses are jobs") calls these from above; they are plain
blocking functions that raise qualevents errors only.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlglot import exp

from qualevents.analysis.exposures import (
    ExposureFilter,
    aggregate_query,
    filtered_query,
    range_query,
)
from qualevents.analysis.fragments import filter_expression
from qualevents.analysis.inputs import (
    AssignmentSource,
    MetricSource,
    resolve_unit_type,
    unit_column,
)
from qualevents.analysis.power import Design, duration
from qualevents.analysis.power_sql import (
    PowerQuery,
    metric_columns,
    metric_first_day,
    power_query,
    window_start,
)
from qualevents.analysis.requests import FilterExposuresRequest, PowerRequest
from qualevents.analysis.rows import SourceRows
from qualevents.analysis.statistics import qualification_balance, sample_ratio
from qualevents.errors import ErrorItem, InvalidRequest, SQLInvalid, ValidationFailed
from qualevents.models import QualifyingEvent
from qualevents.sql.checks import ColumnIndex
from qualevents.sql.macros import DateRange
from qualevents.sql.queries import column, custom_fields, effective_query
from qualevents.sql.schema import BOOLEAN, DECIMAL, FLOAT, INTEGER, UNKNOWN, Column
from qualevents.warehouse.base import Warehouse

ALL_EXPOSURES_FROM = date(1970, 1, 1)
_NUMERIC = frozenset({INTEGER, FLOAT, DECIMAL, BOOLEAN, UNKNOWN})


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _as_date(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


class _Described:
    """A source's output columns, read from the warehouse (a zero-row query), for checks."""

    def __init__(
        self,
        warehouse: Warehouse,
        query: exp.Query,
        definition: QualifyingEvent,
        what: str,
        loc: tuple[str, ...],
    ) -> None:
        self.columns = warehouse.describe(query)
        self.index = ColumnIndex(self.columns, warehouse.DIALECT)
        self.definition, self.what, self.loc = definition, what, loc

    def get(self, name: str, role: str, loc: tuple[str, ...] | None = None) -> Column:
        found = self.index.find(name)
        if found is None:
            message = self.index.missing(f"The {role} {name.strip()!r} of the {self.what}", name)
            raise SQLInvalid(message, [ErrorItem(loc or self.loc, message)])
        return found

    def names(self) -> list[str]:
        """Columns and custom-field keys a filter or a metric may name."""
        return [c.name for c in self.columns] + [
            key for _, key, _ in custom_fields(self.definition)
        ]

    def value(self, name: str, loc: tuple[str, ...]) -> None:
        """``name`` is a numeric column or a custom-field key (its type is the warehouse's
        to judge)."""
        if name.strip() in [key for _, key, _ in custom_fields(self.definition)]:
            return
        found = self.get(name, "column", loc)
        if found.type not in _NUMERIC:
            shown = found.raw_type or found.type
            message = (
                f"Column {found.name!r} of the {self.what} has type {shown}; expected a number"
            )
            raise SQLInvalid(message, [ErrorItem(loc, message)])


def _checked_filter(
    text: str | None, dialect: str, prop: str, described: _Described
) -> exp.Expression | None:
    return None if text is None else filter_expression(text, dialect, prop, described.names())


def _mixed_unit_types(first: Column, second: Column) -> bool:
    return first.type != second.type


# -- exposure filtering -------------------------------------------------------------------


def run_filter_exposures(
    warehouse: Warehouse,
    event: QualifyingEvent,
    assignment: AssignmentSource,
    request: FilterExposuresRequest,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Issue 12's response ``data`` for ``request``, computed in ``warehouse``."""
    problems = request.problems_with(event)
    if problems:
        raise ValidationFailed(errors=problems)
    now = now or utc_now()
    dialect = warehouse.DIALECT
    unit_type = resolve_unit_type(
        request.unit_type,
        (f"assignment source {assignment.name!r}", assignment.id_type_mapping),
        (f"qualifying event {event.name!r}", event.id_type_mapping),
    )
    warnings: list[str] = []
    source = assignment.as_event()
    a_what = f"assignment source {assignment.name!r}"
    q_what = f"qualifying event {event.name!r}"

    def assignment_rows(start: date, end: date) -> tuple[SourceRows, _Described]:
        query = effective_query(source, dialect, DateRange(start, end))
        described = _Described(warehouse, query, source, a_what, ("assignmentSource",))
        extra = {
            "group_id": column(described.get(assignment.group_id_column, "groupIDColumn").name)
        }
        if assignment.group_name_column:
            name = described.get(assignment.group_name_column, "groupNameColumn").name
            extra["group_name"] = column(name)
        unit = described.get(unit_column(assignment.id_type_mapping, unit_type), "unit-id column")
        ts = described.get(assignment.timestamp_column, "timestampColumn")
        return SourceRows(source, query, unit.name, ts, extra=extra), described

    probe_start = request.start or ALL_EXPOSURES_FROM
    probe_end = request.end or now.date()
    exposures, a_desc = assignment_rows(probe_start, probe_end)
    options: dict[str, Any] = dict(
        experiment_column=assignment.experiment_id_column,
        experiment_column_type=a_desc.get(assignment.experiment_id_column, "experimentIDColumn"),
        experiment_id=request.experiment_id,
        include=request.mode == "include",
        window_amount=request.window.amount if request.window else None,
        window_unit=request.window.unit if request.window else None,
        any_exposure=request.match_against == "anyExposure",
        timestamp_as_day=bool(event.timestamp_as_day),
        replace_exposure_timestamp=request.replace_exposure_timestamp,
        has_group_name=assignment.group_name_column is not None,
    )
    start, end = probe_start, probe_end
    if request.start is None or request.end is None:
        probe = ExposureFilter(exposures, exposures, start=start, end=end, now=now, **options)
        found = warehouse.query(range_query(probe, dialect).sql(dialect=dialect))
        first = _as_date(found[0]["first_ts"]) if found else None
        last = _as_date(found[0]["last_ts"]) if found else None
        if first is None or last is None:
            warnings.append(
                f"The assignment source has no exposure rows of experiment "
                f"{request.experiment_id!r} from {start} to {end}"
            )
            start = request.start or end
        else:
            start, end = request.start or first, request.end or last
        exposures, a_desc = assignment_rows(start, end)
    draft = ExposureFilter(exposures, exposures, start=start, end=end, now=now, **options)
    q_query = effective_query(event, dialect, DateRange(start, draft.qualifying_macro_end()))
    q_desc = _Described(warehouse, q_query, event, q_what, ())
    q_unit = q_desc.get(unit_column(event.id_type_mapping, unit_type), "unit-id column")
    a_unit = a_desc.get(exposures.unit, "unit-id column")
    as_string = _mixed_unit_types(a_unit, q_unit)
    qualifying = SourceRows(
        event,
        q_query,
        q_unit.name,
        q_desc.get(event.timestamp_column or "", "timestampColumn"),
        unit_as_string=as_string,
        condition=_checked_filter(request.event_filter, dialect, "eventFilter", q_desc),
    )
    exposures = replace(exposures, unit_as_string=as_string)
    spec = replace(draft, exposures=exposures, qualifying=qualifying)
    rows = warehouse.query(aggregate_query(spec, dialect).sql(dialect=dialect))
    data = exposure_data(rows, request, warnings)
    data["compiledSql"] = filtered_query(spec, dialect).sql(dialect=dialect, pretty=True)
    return data


def exposure_data(
    rows: list[dict[str, Any]], request: FilterExposuresRequest, warnings: list[str]
) -> dict[str, Any]:
    """The statistics and the response ``data`` (without ``compiledSql``) from the rows of
    ``exposures.aggregate_query``."""
    first = rows[0] if rows else {}
    include = request.mode == "include"
    groups: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row.get("group_id") is None:
            continue
        exposed, qualified = int(row["exposed_units"]), int(row["qualified_units"])
        entry: dict[str, Any] = {"groupID": str(row["group_id"])}
        if row.get("group_name") is not None:
            entry["groupName"] = str(row["group_name"])
        entry.update(exposedUnits=exposed, qualifiedUnits=qualified)
        groups[entry["groupID"]] = entry
    split = request.expected_split
    if split is None:
        weights = {g: 1.0 for g in groups}
        warnings.append(
            "No expectedSplit given: the groups found are tested for an equal split, so a "
            "group missing from the data cannot be seen"
        )
    else:
        unknown = [g for g in groups if g not in split]
        if unknown:
            message = (
                f"The data has groups that expectedSplit does not name: {', '.join(unknown)} "
                f"(expectedSplit names: {', '.join(split)})"
            )
            raise InvalidRequest(message, [ErrorItem(("expectedSplit",), message)])
        weights = dict(split)
        for g in split:
            if g not in groups:
                groups[g] = {"groupID": g, "exposedUnits": 0, "qualifiedUnits": 0}
                warnings.append(f"Group {g!r} of expectedSplit has no exposed units")
    for entry in groups.values():
        exposed, qualified = entry["exposedUnits"], entry["qualifiedUnits"]
        entry["keptUnits"] = qualified if include else exposed - qualified
        entry["qualificationRate"] = qualified / exposed if exposed else None
    ordered = sorted(groups.values(), key=lambda g: g["groupID"])
    before = sample_ratio(
        {g["groupID"]: g["exposedUnits"] for g in ordered}, weights, "exposed units"
    )
    after = sample_ratio({g["groupID"]: g["keptUnits"] for g in ordered}, weights, "kept units")
    balance = qualification_balance(
        [g["qualifiedUnits"] for g in ordered], [g["exposedUnits"] for g in ordered]
    )
    for test in (before, after, balance):
        warnings += test.warnings
    null_groups = int(first.get("null_group_rows") or 0)
    if null_groups:
        warnings.append(f"{null_groups} exposure row(s) with a NULL group were dropped")
    totals = {
        "exposureRows": int(first.get("exposure_rows") or 0),
        "nullUnitIDRows": int(first.get("null_unit_rows") or 0),
        "crossoverUnits": int(first.get("crossover_units") or 0),
        "exposedUnits": sum(g["exposedUnits"] for g in ordered),
        "qualifiedUnits": sum(g["qualifiedUnits"] for g in ordered),
        "keptUnits": sum(g["keptUnits"] for g in ordered),
    }
    return {
        "groups": ordered,
        "totals": totals,
        "srm": {"before": before.to_data(), "after": after.to_data()},
        "qualificationBalance": balance.to_data(),
        "warnings": warnings,
    }


# -- power ----------------------------------------------------------------------------------


def run_power(
    warehouse: Warehouse,
    event: QualifyingEvent,
    metric_source: MetricSource,
    request: PowerRequest,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Issue 13's response ``data`` for ``request``, computed in ``warehouse``."""
    now = now or utc_now()
    dialect = warehouse.DIALECT
    unit_type = resolve_unit_type(
        request.unit_type,
        (f"qualifying event {event.name!r}", event.id_type_mapping),
        (f"metric source {metric_source.name!r}", metric_source.id_type_mapping),
    )
    end = request.end or (now.date() - timedelta(days=1))
    pre_days = request.cuped.pre_days if request.cuped else None
    first_day = window_start(end, request.weeks)
    metric_from = metric_first_day(end, request.weeks, pre_days)
    q_query = effective_query(event, dialect, DateRange(first_day, end))
    m_query = effective_query(metric_source, dialect, DateRange(metric_from, end))
    q_desc = _Described(warehouse, q_query, event, f"qualifying event {event.name!r}", ())
    m_desc = _Described(
        warehouse,
        m_query,
        metric_source,
        f"metric source {metric_source.name!r}",
        ("metricSource",),
    )
    q_unit = q_desc.get(unit_column(event.id_type_mapping, unit_type), "unit-id column")
    m_unit = m_desc.get(unit_column(metric_source.id_type_mapping, unit_type), "unit-id column")
    metric = request.metric
    for prop in ("value_column", "numerator_column", "denominator_column"):
        name = getattr(metric, prop)
        if name is not None:
            alias = type(metric).model_fields[prop].alias or prop
            m_desc.value(name, ("metric", alias))
    as_string = _mixed_unit_types(q_unit, m_unit)
    spec = PowerQuery(
        qualifying=SourceRows(
            event,
            q_query,
            q_unit.name,
            q_desc.get(event.timestamp_column or "", "timestampColumn"),
            unit_as_string=as_string,
            condition=_checked_filter(request.event_filter, dialect, "eventFilter", q_desc),
        ),
        metric=SourceRows(
            metric_source,
            m_query,
            m_unit.name,
            m_desc.get(metric_source.timestamp_column or "", "timestampColumn"),
            unit_as_string=as_string,
            condition=_checked_filter(request.metric_filter, dialect, "metricFilter", m_desc),
            extra=metric_columns(
                metric.type, metric.value_column, metric.numerator_column, metric.denominator_column
            ),
        ),
        metric_type=metric.type,
        weeks=request.weeks,
        end=end,
        metric_window_days=request.metric_window_days,
        metric_as_day=bool(metric_source.timestamp_as_day),
        cuped_pre_days=pre_days,
    )
    query = power_query(spec, dialect)
    rows = warehouse.query(query.sql(dialect=dialect))
    data = power_data(rows, spec, request, unit_type, query.sql(dialect=dialect, pretty=True))
    data["inputs"] = {"qualifyingEvent": event.name, **data["inputs"]}
    if end >= now.date():
        data["warnings"].insert(
            0,
            f"end {end} is not over yet (UTC): its windows miss the rest of the day's events "
            "and metric rows, so units and means read low",
        )
    return data


def power_data(
    rows: list[dict[str, Any]],
    spec: PowerQuery,
    request: PowerRequest,
    unit_type: str,
    compiled_sql: str,
) -> dict[str, Any]:
    design = Design(
        alpha=request.alpha,
        power=request.power,
        two_sided=request.alternative == "two-sided",
        groups=request.groups,
        control_share=request.resolved_control_share,
        allocation=request.allocation,
        bonferroni=request.bonferroni,
    )
    warnings: list[str] = []
    by_k = {int(row["k"]): row for row in rows}
    durations = []
    for k in range(1, spec.weeks + 1):
        entry = {
            "weeks": k,
            "start": spec.window_start(k).isoformat(),
            "end": spec.end.isoformat(),
        }
        entry.update(
            duration(
                by_k.get(k, {}),
                design,
                spec.metric_type,
                spec.cuped_pre_days is not None,
                warnings,
                f"{k} week(s)",
            )
        )
        durations.append(entry)
    inputs = {
        "metricSource": request.metric_source,
        "metric": request.metric.model_dump(by_alias=True, exclude_none=True),
        "metricFilter": request.metric_filter,
        "eventFilter": request.event_filter,
        "unitType": unit_type,
        "weeks": request.weeks,
        "start": spec.first_day.isoformat(),
        "end": spec.end.isoformat(),
        # The days each source's date macros got: the range actually read.
        "readRanges": {
            "qualifyingEvent": {"start": spec.first_day.isoformat(), "end": spec.end.isoformat()},
            "metricSource": {
                "start": spec.metric_first_day.isoformat(),
                "end": spec.end.isoformat(),
            },
        },
        "metricWindowDays": request.metric_window_days,
        "metricTimestampAsDay": spec.metric_as_day,
        "alpha": request.alpha,
        "effectiveAlpha": design.effective_alpha,
        "power": request.power,
        "alternative": request.alternative,
        "sides": 2 if design.two_sided else 1,
        "groups": request.groups,
        "controlShare": design.control_share,
        "allocation": request.allocation,
        "bonferroni": request.bonferroni,
        "cuped": {"preDays": spec.cuped_pre_days} if spec.cuped_pre_days is not None else None,
        "z": design.z,
    }
    return {
        "durations": durations,
        "inputs": inputs,
        "compiledSql": compiled_sql,
        "warnings": warnings,
    }
