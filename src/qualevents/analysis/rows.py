"""The rows an analysis reads from one source, as a sqlglot SELECT: the unit id, the UTC
timestamp and any extra columns, with NULL unit ids dropped, a user filter applied over the
source's columns and custom-field keys, and a time range. Imports ``sqlglot``, ``models``
and ``sql``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp

from qualevents.analysis.timestamps import utc_timestamp
from qualevents.models import QualifyingEvent
from qualevents.sql.queries import column, custom_fields, formula_expression
from qualevents.sql.schema import Column

SOURCE = "s"
FIELDS = "f"


@dataclass(frozen=True)
class SourceRows:
    """One source as an analysis reads it.

    ``query`` is the source's effective query (macros already substituted); ``unit`` the
    unit-id column; ``ts`` the timestamp column as described by the warehouse (None when not
    described); ``unit_as_string`` casts the unit id to a string (when two sources' id
    columns differ in type); ``condition`` is an already-checked user filter."""

    definition: QualifyingEvent
    query: exp.Query
    unit: str
    ts: Column | None = None
    unit_as_string: bool = False
    condition: exp.Expression | None = None
    extra: dict[str, exp.Expression] = field(default_factory=dict)

    def _from(self, dialect: str) -> exp.Select:
        fields = custom_fields(self.definition)
        source = self.query.subquery(SOURCE, copy=True)
        if not fields:
            return exp.Select().from_(source, copy=False)
        inner = exp.Select().select(exp.column(exp.Star(), table=SOURCE), copy=False)
        for i, key, formula in fields:
            expression = formula_expression(formula, dialect, ("customFieldMapping", i, "formula"))
            inner = inner.select(exp.alias_(expression, exp.to_identifier(key)), copy=False)
        inner = inner.from_(source, copy=False)
        return exp.Select().from_(inner.subquery(FIELDS, copy=False), copy=False)

    def timestamp(self, dialect: str) -> exp.Expression:
        name = self.definition.timestamp_column or ""
        return utc_timestamp(column(name), self.ts, dialect)

    def select(
        self,
        dialect: str,
        *,
        since: exp.Expression | None = None,
        before: exp.Expression | None = None,
        until: exp.Expression | None = None,
        where: exp.Expression | None = None,
        drop_null_units: bool = True,
    ) -> exp.Select:
        """``unit_id``, ``ts`` and the extra columns of the rows with ``since <= ts``,
        ``ts < before`` and ``ts <= until`` (each bound when given); rows with a NULL unit id
        are dropped unless ``drop_null_units`` is false (they are counted somewhere)."""
        unit: exp.Expression = column(self.unit)
        if self.unit_as_string:
            unit = exp.cast(unit, exp.DataType.Type.VARCHAR)
        ts = self.timestamp(dialect)
        select = self._from(dialect).select(
            exp.alias_(unit, "unit_id"), exp.alias_(ts, "ts"), copy=False
        )
        for name, value in self.extra.items():
            select = select.select(exp.alias_(value, name), copy=False)
        conditions: list[exp.Expression] = []
        if drop_null_units:
            conditions.append(column(self.unit).is_(exp.null()).not_())
        if where is not None:
            conditions.append(where)
        if self.condition is not None:
            conditions.append(exp.paren(self.condition.copy(), copy=False))
        if since is not None:
            conditions.append(exp.GTE(this=ts.copy(), expression=since))
        if before is not None:
            conditions.append(exp.LT(this=ts.copy(), expression=before))
        if until is not None:
            conditions.append(exp.LTE(this=ts.copy(), expression=until))
        return select.where(exp.and_(*conditions, copy=False), copy=False) if conditions else select
