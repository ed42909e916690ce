"""The assignment-source scan Statsig runs to find an assignment source's experiments: one
query, built as sqlglot expressions in the warehouse's dialect, and the shaping of its rows
into one :class:`ExperimentScan` per experiment id. No I/O (``warehouse.scan`` runs it).
Imports ``sqlglot``, ``errors``, ``models`` (the source is ``models.AssignmentSource``) and
``sql.macros``, ``sql.queries`` (its rows are the shared ``effective_query``).

Per experiment id the scan reports its groups (``groupID``, ``groupName`` when the source
maps a group-name column, distinct ``units``), distinct ``units``, ``crossoverUnits`` (units
seen in more than one group; such a unit counts in every group it was seen in),
``firstExposure``, ``lastExposure`` and ``unitTypes`` (distinct units per mapped
``statsigUnitID``). Units are the values of the first unit-id mapping, or of the mapping of
``unit_type`` when one is given. Rows whose experiment id or group id is NULL belong to no
experiment and are left out; rows whose unit id is NULL count in no ``units`` but do count
for the first and last exposure.

The query returns one row per (experiment, group), experiment-level columns repeated, so it
needs neither arrays nor structs and reads the same in every dialect; the per-experiment
objects are assembled in Python from at most (experiments x groups) rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

import sqlglot
from sqlglot import exp

from qualevents.errors import ErrorItem, ValidationFailed
from qualevents.models import AssignmentSource
from qualevents.sql.macros import DateRange
from qualevents.sql.queries import effective_query, in_days

# The start the date macros stand for when a scan reads all exposures.
ALL_EXPOSURES_START = date(1970, 1, 1)
SOURCE_ALIAS = "s"
ROWS, UNIT_GROUPS, GROUPS, UNITS, TYPES = (
    "scan_rows",
    "scan_unit_groups",
    "scan_groups",
    "scan_units",
    "scan_unit_types",
)
# Output columns of the scan query (read back case-insensitively: Snowflake upper-cases).
EXPERIMENT_ID, GROUP_ID, GROUP_NAME, GROUP_UNITS = (
    "experiment_id",
    "group_id",
    "group_name",
    "group_units",
)
UNITS_COLUMN, CROSSOVER_UNITS, FIRST_EXPOSURE, LAST_EXPOSURE = (
    "units",
    "crossover_units",
    "first_exposure",
    "last_exposure",
)
_UNIT_ID, _TS, _FIRST, _LAST, _GROUPS_SEEN = "unit_id", "ts", "first_ts", "last_ts", "seen_in"


@dataclass(frozen=True)
class GroupUnits:
    group_id: str
    units: int
    group_name: str | None = None

    def to_dict(self, *, with_name: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"groupID": self.group_id}
        if with_name:
            body["groupName"] = self.group_name
        body["units"] = self.units
        return body


@dataclass(frozen=True)
class ExperimentScan:
    """One experiment id found by the scan."""

    experiment_id: str
    groups: tuple[GroupUnits, ...]
    units: int
    crossover_units: int
    first_exposure: datetime | date | str | None
    last_exposure: datetime | date | str | None
    unit_types: dict[str, int] = field(default_factory=dict)
    group_names_mapped: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The wire form (camelCase keys, ISO timestamps)."""
        return {
            "experimentID": self.experiment_id,
            "groups": [g.to_dict(with_name=self.group_names_mapped) for g in self.groups],
            "units": self.units,
            "crossoverUnits": self.crossover_units,
            "firstExposure": _iso(self.first_exposure),
            "lastExposure": _iso(self.last_exposure),
            "unitTypes": dict(self.unit_types),
        }


@dataclass(frozen=True)
class ScanResult:
    experiments: tuple[ExperimentScan, ...]
    compiled_sql: str
    # As many rows as the warehouse's row cap came back, so more may exist: experiments
    # after those listed may be missing (the one that may have been cut is left out).
    truncated: bool = False


def _iso(value: datetime | date | str | None) -> str | None:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _fail(loc: tuple[str, ...], message: str) -> ValidationFailed:
    return ValidationFailed(errors=[ErrorItem(loc, message)])


def unit_mapping_index(source: AssignmentSource, unit_type: str | None) -> int:
    """The index of the mapping whose units the scan counts; ValidationFailed when there is
    none, or ``unit_type`` is not one of them (naming the ones there are)."""
    mappings = source.id_type_mapping
    if not mappings:
        raise _fail(("id_type_mapping",), "idTypeMapping must map at least one unit type")
    if unit_type is None:
        return 0
    for index, mapping in enumerate(mappings):
        if mapping.statsig_unit_id == unit_type:
            return index
    known = ", ".join(m.statsig_unit_id for m in mappings)
    raise _fail(
        ("unit_type",), f"unitType {unit_type!r} is not mapped by the assignment source: {known}"
    )


def macro_window(start: date | None, end: date | None, today: date | None = None) -> DateRange:
    """The days the date macros stand for: the range read (all exposures: 1970-01-01 to
    today, UTC)."""
    first, last = start or ALL_EXPOSURES_START, end or today or datetime.now(UTC).date()
    if first > last:
        loc = ("start",) if start is not None else ("end",)
        raise _fail(loc, f"start ({first.isoformat()}) is after end ({last.isoformat()})")
    return DateRange(first, last)


@lru_cache(maxsize=1024)
def _identifier(name: str, dialect: str | None) -> exp.Identifier:
    """``name`` quoted only when it has to be: when it is not a plain name, or when the
    dialect reads it as a keyword (``select``, ``group``) after a qualifier."""
    identifier = exp.to_identifier(name.strip())
    if not identifier.quoted:
        probe = f"SELECT {SOURCE_ALIAS}.{identifier.sql(dialect=dialect)} FROM t AS {SOURCE_ALIAS}"
        try:
            column = sqlglot.parse_one(probe, read=dialect).selects[0]
            plain = isinstance(column, exp.Column) and column.name == identifier.name
        except sqlglot.errors.SqlglotError:
            plain = False
        if not plain:
            identifier.set("quoted", True)
    return identifier


def _source_column(name: str, dialect: str | None) -> exp.Column:
    """A column of the source's rows, as the definition names it, qualified so that no
    alias of the scan's own can shadow it."""
    return exp.column(_identifier(name, dialect).copy(), table=exp.to_identifier(SOURCE_ALIAS))


def _alias(expression: exp.Expression, name: str) -> exp.Alias:
    return exp.alias_(expression, exp.to_identifier(name))


def _col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table)


def _count_distinct(expression: exp.Expression) -> exp.Count:
    return exp.Count(this=exp.Distinct(expressions=[expression]))


def unit_type_alias(index: int) -> str:
    return f"unit_type_{index}"


def _not_null(expression: exp.Expression) -> exp.Expression:
    return exp.Not(this=exp.Is(this=expression, expression=exp.Null()))


def _zero_if_null(name: str, table: str) -> exp.Alias:
    zero = exp.Literal.number(0)
    return _alias(exp.Coalesce(this=_col(name, table), expressions=[zero]), name)


def _join_on_experiment(query: exp.Select, cte: str, alias: str) -> exp.Select:
    return query.join(
        exp.alias_(exp.to_table(cte), alias, table=True),
        on=exp.EQ(this=_col(EXPERIMENT_ID, alias), expression=_col(EXPERIMENT_ID, "g")),
        join_type="left",
    )


def _rows(
    source: AssignmentSource,
    dialect: str | None,
    inner: exp.Query,
    counted: int,
    days: tuple[DateRange, str | None] | None,
) -> exp.Select:
    """``scan_rows``: the source's rows of an experiment and a group, its columns renamed
    to the scan's own (``unit_id`` is the counted mapping's column), in ``days`` if given
    (the window and the timestamp column's type)."""
    experiment = _source_column(source.experiment_id_column, dialect)
    group = _source_column(source.group_id_column, dialect)
    ts = _source_column(source.timestamp_column, dialect)
    picked = [
        _alias(experiment, EXPERIMENT_ID),
        _alias(group, GROUP_ID),
        _alias(_source_column(source.id_type_mapping[counted].column, dialect), _UNIT_ID),
        _alias(ts, _TS),
    ]
    if _names_groups(source):
        picked.append(_alias(_source_column(source.group_name_column or "", dialect), GROUP_NAME))
    picked += [
        _alias(_source_column(m.column, dialect), unit_type_alias(i))
        for i, m in enumerate(source.id_type_mapping)
        if i != counted
    ]
    rows = (
        exp.select(*picked)
        .from_(inner.subquery(SOURCE_ALIAS))
        .where(_not_null(experiment.copy()))
        .where(_not_null(group.copy()))
    )
    if days is not None:
        window, ts_type = days
        rows = rows.where(in_days(ts.copy(), ts_type, window.start, window.end, dialect))
    return rows


def _unit_groups(named: bool) -> exp.Select:
    """``scan_unit_groups``: one row per (experiment, group, unit), the one pass over the
    rows that groups, units and crossovers are all counted from."""
    keys = [_col(EXPERIMENT_ID), _col(GROUP_ID), _col(_UNIT_ID)]
    query = exp.select(
        *keys,
        _alias(exp.Min(this=_col(_TS)), _FIRST),
        _alias(exp.Max(this=_col(_TS)), _LAST),
    )
    if named:
        query = query.select(_alias(exp.Max(this=_col(GROUP_NAME)), GROUP_NAME))
    return query.from_(ROWS).group_by(*(k.copy() for k in keys))


def _groups(named: bool) -> exp.Select:
    """``scan_groups``: units (NULL ones not counted) and first and last exposure per group."""
    query = exp.select(
        _col(EXPERIMENT_ID),
        _col(GROUP_ID),
        _alias(exp.Count(this=_col(_UNIT_ID)), GROUP_UNITS),
        _alias(exp.Min(this=_col(_FIRST)), FIRST_EXPOSURE),
        _alias(exp.Max(this=_col(_LAST)), LAST_EXPOSURE),
    )
    if named:
        query = query.select(_alias(exp.Max(this=_col(GROUP_NAME)), GROUP_NAME))
    return query.from_(UNIT_GROUPS).group_by(_col(EXPERIMENT_ID), _col(GROUP_ID))


def _units() -> exp.Select:
    """``scan_units``: distinct units per experiment, and those seen in more than one group."""
    per_unit = (
        exp.select(
            _col(EXPERIMENT_ID), _col(_UNIT_ID), _alias(exp.Count(this=exp.Star()), _GROUPS_SEEN)
        )
        .from_(UNIT_GROUPS)
        .where(_not_null(_col(_UNIT_ID)))
        .group_by(_col(EXPERIMENT_ID), _col(_UNIT_ID))
    )
    several = exp.GT(this=_col(_GROUPS_SEEN), expression=exp.Literal.number(1))
    crossed = exp.Case(
        ifs=[exp.If(this=several, true=exp.Literal.number(1))], default=exp.Literal.number(0)
    )
    return (
        exp.select(
            _col(EXPERIMENT_ID),
            _alias(exp.Count(this=exp.Star()), UNITS_COLUMN),
            _alias(exp.Sum(this=crossed), CROSSOVER_UNITS),
        )
        .from_(per_unit.subquery("per_unit"))
        .group_by(_col(EXPERIMENT_ID))
    )


def _unit_types(others: list[int]) -> exp.Select:
    """``scan_unit_types``: distinct values of each other mapping per experiment."""
    counts = (_alias(_count_distinct(_col(unit_type_alias(i))), unit_type_alias(i)) for i in others)
    return exp.select(_col(EXPERIMENT_ID), *counts).from_(ROWS).group_by(_col(EXPERIMENT_ID))


def _names_groups(source: AssignmentSource) -> bool:
    return bool(source.group_name_column and source.group_name_column.strip())


def scan_query(
    source: AssignmentSource,
    dialect: str | None,
    *,
    start: date | None = None,
    end: date | None = None,
    unit_type: str | None = None,
    ts_type: str | None = None,
    today: date | None = None,
) -> exp.Select:
    """The scan as one query in ``dialect``: one row per (experiment, group) with
    ``experiment_id``, ``group_id``, ``group_name`` (when mapped), ``group_units``,
    ``units``, ``crossover_units``, ``first_exposure``, ``last_exposure`` (of the group)
    and ``unit_type_<i>`` (distinct values of the i-th mapping other than the counted one),
    ordered by experiment and group. With ``start`` or ``end`` only exposures on those UTC
    days (inclusive) are read; a missing start is the first day there is, a missing end
    today. ``ts_type`` is the timestamp column's type when known (``sql.schema``)."""
    counted = unit_mapping_index(source, unit_type)
    window = macro_window(start, end, today)
    inner = effective_query(source, dialect, window)
    named = _names_groups(source)
    others = [i for i in range(len(source.id_type_mapping)) if i != counted]
    days = (window, ts_type) if start is not None or end is not None else None

    final = exp.select(
        _col(EXPERIMENT_ID, "g"),
        _col(GROUP_ID, "g"),
        *([_col(GROUP_NAME, "g")] if named else []),
        _col(GROUP_UNITS, "g"),
        _zero_if_null(UNITS_COLUMN, "u"),
        _zero_if_null(CROSSOVER_UNITS, "u"),
        _col(FIRST_EXPOSURE, "g"),
        _col(LAST_EXPOSURE, "g"),
        *(_zero_if_null(unit_type_alias(i), "t") for i in others),
    ).from_(exp.alias_(exp.to_table(GROUPS), "g", table=True))
    final = _join_on_experiment(final, UNITS, "u")
    ctes = [
        (ROWS, _rows(source, dialect, inner, counted, days)),
        (UNIT_GROUPS, _unit_groups(named)),
        (GROUPS, _groups(named)),
        (UNITS, _units()),
    ]
    if others:
        final = _join_on_experiment(final, TYPES, "t")
        ctes.append((TYPES, _unit_types(others)))
    for name, cte in ctes:
        final = final.with_(name, as_=cte)
    return final.order_by(_col(EXPERIMENT_ID, "g"), _col(GROUP_ID, "g"))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def shape_rows(
    rows: Iterable[Mapping[str, Any]],
    source: AssignmentSource,
    unit_type: str | None = None,
) -> list[ExperimentScan]:
    """The scan query's rows as one :class:`ExperimentScan` per experiment, in order."""
    primary = unit_mapping_index(source, unit_type)
    mappings = source.id_type_mapping
    named = _names_groups(source)
    found: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        lowered = {key.lower(): value for key, value in row.items()}
        found.setdefault(_text(lowered[EXPERIMENT_ID]), []).append(lowered)
    experiments = []
    for experiment_id, group_rows in found.items():
        head = group_rows[0]
        unit_types = {
            m.statsig_unit_id: int(
                head[UNITS_COLUMN] if i == primary else head[unit_type_alias(i)] or 0
            )
            for i, m in enumerate(mappings)
        }
        firsts = [r[FIRST_EXPOSURE] for r in group_rows if r[FIRST_EXPOSURE] is not None]
        lasts = [r[LAST_EXPOSURE] for r in group_rows if r[LAST_EXPOSURE] is not None]
        experiments.append(
            ExperimentScan(
                experiment_id=experiment_id,
                groups=tuple(
                    GroupUnits(
                        group_id=_text(r[GROUP_ID]),
                        units=int(r[GROUP_UNITS] or 0),
                        group_name=(
                            None if not named or r[GROUP_NAME] is None else _text(r[GROUP_NAME])
                        ),
                    )
                    for r in group_rows
                ),
                units=int(head[UNITS_COLUMN] or 0),
                crossover_units=int(head[CROSSOVER_UNITS] or 0),
                first_exposure=min(firsts) if firsts else None,
                last_exposure=max(lasts) if lasts else None,
                unit_types=unit_types,
                group_names_mapped=named,
            )
        )
    return experiments
