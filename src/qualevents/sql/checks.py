"""Checks of a source against its query's output schema: the timestamp column, the unit-id
columns, the columns a kind names beyond those (an assignment source's experiment and group
columns), the partition column and each custom field formula. Imports
``sqlglot``, ``models``, ``errors`` and ``sql.queries``, ``sql.schema``.

Messages use the wire's names (``timestampColumn``) since a user reads them; ``loc`` uses
the domain's. A schema that is not ``complete`` (static inference of ``SELECT *``) turns
"not among the columns" into a warning that the check could not be made.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect, NormalizationStrategy

from qualevents.errors import ErrorItem, Loc, SQLInvalid, did_you_mean
from qualevents.models import QualifyingEvent, SourceType
from qualevents.sql.queries import custom_fields, formula_expression
from qualevents.sql.schema import STRING, TEMPORAL, UNKNOWN, Column


@dataclass
class Findings:
    errors: list[ErrorItem] = field(default_factory=list)
    warnings: list[ErrorItem] = field(default_factory=list)

    def error(self, loc: Loc, message: str, **extra: object) -> None:
        self.errors.append(ErrorItem(loc, message, dict(extra)))

    def warn(self, loc: Loc, message: str, **extra: object) -> None:
        self.warnings.append(ErrorItem(loc, message, dict(extra)))


class ColumnIndex:
    """Finds a column by the name a definition uses, folding case the way the dialect folds
    unquoted identifiers (everywhere but case-sensitive ClickHouse)."""

    def __init__(self, columns: list[Column], dialect: str | None) -> None:
        self.columns = columns
        strategy = Dialect.get_or_raise(dialect).normalization_strategy
        self.fold = strategy is not NormalizationStrategy.CASE_SENSITIVE
        self._exact = {c.name: c for c in columns}
        self._folded: dict[str, Column] = {}
        for c in columns:
            self._folded.setdefault(c.name.lower(), c)

    def find(self, name: str) -> Column | None:
        name = name.strip()
        found = self._exact.get(name)
        if found is None and self.fold:
            found = self._folded.get(name.lower())
        return found

    def listing(self) -> str:
        return ", ".join(c.name for c in self.columns) or "(none)"

    def missing(self, subject: str, name: str) -> str:
        hint = did_you_mean(name, [c.name for c in self.columns])
        text = f"{subject} is not among the query's columns: {self.listing()}"
        return f"{text}.{hint}" if hint else text


def _lookup(
    index: ColumnIndex, complete: bool, found: Findings, loc: Loc, subject: str, name: str
) -> Column | None:
    """The column ``name``; an error (or, for an incomplete schema, a warning) when absent.
    ``subject`` names it for the message: "timestampColumn 'ts'"."""
    column = index.find(name)
    if column is None:
        if complete:
            found.error(loc, index.missing(subject, name))
        else:
            known = f" (known: {index.listing()})" if index.columns else ""
            found.warn(
                loc,
                f"{subject} could not be checked: the query selects *, so its columns are "
                f"not known without a warehouse{known}",
            )
    return column


def _check_temporal(
    column: Column, found: Findings, loc: Loc, what: str, *, allow_string: bool = True
) -> None:
    if column.type in TEMPORAL or column.type == UNKNOWN:
        return
    shown = column.raw_type or column.type
    if column.type == STRING and allow_string:
        found.warn(
            loc,
            f"{what} {column.name!r} is a string column ({shown}); every value must be "
            "castable to a timestamp",
        )
        return
    found.error(loc, f"{what} {column.name!r} has type {shown}; expected a timestamp or a date")


def row_expression_problem(
    expression: exp.Expression, subject: str = "a custom field"
) -> str | None:
    """Why ``expression`` is not a per-row scalar expression (None when it is one).
    ``subject`` names what it is for in the message ("a custom field", "a filter")."""
    if isinstance(expression, exp.Query) or not isinstance(expression, exp.Expression):
        return "Must be a single scalar expression, not a query or a statement"
    for node in expression.walk():
        if isinstance(node, exp.Query | exp.Subquery):
            return f"Must not contain a subquery: {subject} is computed from one row"
        if isinstance(node, exp.Window):
            return f"Must not use a window function (OVER): {subject} is computed per row"
        if isinstance(node, exp.AggFunc):
            return (
                f"Must not use the aggregate {node.sql_name()}(): {subject} is computed "
                "from each row of the source, and aggregation happens later, in each metric"
            )
        if isinstance(node, exp.Star):
            return f"Must not use *: name the columns {subject} is computed from"
        if isinstance(node, exp.Command | exp.DDL | exp.DML):
            return "Must be a single scalar expression, not a statement"
    return None


_formula_problem = row_expression_problem


def referenced_columns(expression: exp.Expression) -> list[str]:
    """The column names ``expression`` reads (lambda parameters left out)."""
    return _referenced_columns(expression)


def _referenced_columns(expression: exp.Expression) -> list[str]:
    lambda_params = {
        p.name
        for node in expression.find_all(exp.Lambda)
        for p in node.expressions
        if isinstance(p, exp.Identifier | exp.Column)
    }
    names: dict[str, None] = {}
    for node in expression.find_all(exp.Column):
        if node.name and node.name not in lambda_params:
            names.setdefault(node.name, None)
    return list(names)


def check_formulas(
    event: QualifyingEvent,
    dialect: str | None,
    index: ColumnIndex | None,
    complete: bool,
    found: Findings,
) -> None:
    for i, key, formula in custom_fields(event):
        loc: Loc = ("custom_field_mapping", i, "formula")
        try:
            expression = formula_expression(formula, dialect, loc)
        except SQLInvalid as error:
            for item in error.errors:
                message = f"customFieldMapping {key!r}: formula is not valid SQL: {item.message}"
                found.error(item.loc, message, **item.extra)
            continue
        problem = _formula_problem(expression)
        if problem:
            found.error(loc, f"customFieldMapping {key!r}: {problem}")
            continue
        if index is None:
            continue
        for name in _referenced_columns(expression):
            subject = f"Column {name!r} (in the formula of customFieldMapping {key!r})"
            _lookup(index, complete, found, loc, subject, name)


def check_event(
    event: QualifyingEvent,
    columns: list[Column],
    dialect: str | None,
    *,
    complete: bool = True,
) -> Findings:
    """Every problem of ``event`` against the output schema ``columns``."""
    found = Findings()
    index = ColumnIndex(columns, dialect)
    if event.timestamp_column and event.timestamp_column.strip():
        loc: Loc = ("timestamp_column",)
        name = event.timestamp_column.strip()
        ts = _lookup(index, complete, found, loc, f"timestampColumn {name!r}", name)
        if ts is not None:
            _check_temporal(ts, found, loc, "timestampColumn")
    for i, mapping in enumerate(event.id_type_mapping or []):
        if mapping.column.strip():
            _lookup(
                index,
                complete,
                found,
                ("id_type_mapping", i, "column"),
                f"idTypeMapping column {mapping.column.strip()!r} "
                f"(for {mapping.statsig_unit_id!r})",
                mapping.column.strip(),
            )
    named_columns = getattr(event, "named_columns", None)
    for field_name, wire in named_columns() if named_columns else []:
        name = getattr(event, field_name).strip()
        _lookup(index, complete, found, (field_name,), f"{wire} {name!r}", name)
    partition = event.date_partition_column
    if partition and partition.strip() and event.effective_source_type is SourceType.TABLE:
        loc = ("date_partition_column",)
        partition = partition.strip()
        subject = f"datePartitionColumn {partition!r}"
        column = _lookup(index, complete, found, loc, subject, partition)
        if column is not None:
            _check_temporal(column, found, loc, "datePartitionColumn")
    check_formulas(event, dialect, index, complete, found)
    return found
