"""Validation of a source against its warehouse, and looking at its data (preview, daily
counts, an assignment source's scan). Composes ``sql`` and ``warehouse``; imports
``models``, ``errors``, ``sql`` and ``warehouse`` only.

The pipeline of :meth:`Validator.validate`: macros -> parse in the warehouse's dialect ->
read-only guard -> the effective query -> the output schema -> checks. The schema comes from
the warehouse (a zero-row query: ``mode="warehouse"``), from the definition itself when it
says ``skip_validation`` with ``all_columns``/``column_types`` (``"declared"``), or from the
SQL text when there is no warehouse or it cannot be reached (``"static"``, always with a
warning saying so). A warehouse that answered with an error never falls back: the query's
fault is an invalid report, a timeout or a failure of the warehouse is raised (504, 502).
Errors block a write; warnings are returned beside it.
"""

from __future__ import annotations

import base64
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from pydantic_core import to_json
from sqlglot import exp

from qualevents.errors import (
    ErrorItem,
    SQLInvalid,
    WarehouseUnavailable,
)
from qualevents.models import AssignmentSource, QualifyingEvent
from qualevents.sql.checks import ColumnIndex, check_event
from qualevents.sql.macros import DateRange
from qualevents.sql.queries import daily_query, effective_query, preview_query, unit_alias
from qualevents.sql.scan import ScanResult, macro_window
from qualevents.sql.schema import Column, infer_schema, normalize_type
from qualevents.warehouse.base import Warehouse
from qualevents.warehouse.executor import WarehouseRunner
from qualevents.warehouse.scan import scan_experiments

Mode = Literal["warehouse", "static", "declared"]
DEFAULT_DIALECT = "duckdb"
# The days macros stand for while validating: any real range will do, since the schema
# probe reads no rows.
VALIDATION_DAYS = 7


def render_item_default(item: ErrorItem) -> dict[str, Any]:
    """A plain rendering of an item (the API supplies its own, Statsig-shaped one)."""
    return {"property": ".".join(map(str, item.loc)), "errorMessage": item.message, **item.extra}


@dataclass(frozen=True)
class ValidationReport:
    valid: bool
    errors: list[ErrorItem] = field(default_factory=list)
    warnings: list[ErrorItem] = field(default_factory=list)
    columns: list[Column] = field(default_factory=list)
    mode: Mode = "static"
    compiled_sql: str = ""

    def to_dict(
        self, render_item: Callable[[ErrorItem], dict[str, Any]] = render_item_default
    ) -> dict[str, Any]:
        """The wire form (camelCase keys); ``render_item`` renders each error and warning."""
        return {
            "valid": self.valid,
            "errors": [render_item(item) for item in self.errors],
            "warnings": [render_item(item) for item in self.warnings],
            "columns": [column.to_dict() for column in self.columns],
            "mode": self.mode,
            "compiledSql": self.compiled_sql,
        }


def jsonable(value: Any) -> Any:
    """``value`` as JSON can carry it: ISO dates and timestamps, floats for decimals."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return float(value) if value.is_finite() else None
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    return str(value)


# The fields of a definition that validation reads; nothing else can change its report.
# (tests/test_validation.py runs the validator on events exposing only these.)
SQL_FIELDS = (
    "source_type",
    "sql",
    "table_name",
    "date_partition_column",
    "timestamp_column",
    "id_type_mapping",
    "custom_field_mapping",
    "skip_validation",
    "all_columns",
    "column_types",
    # an assignment source's
    "experiment_id_column",
    "group_id_column",
    "group_name_column",
)
# Bytes of reports kept by a validator that asks no warehouse (see Validator.validate).
MEMO_BYTES = 64 * 2**20


def _weight(key: tuple[Any, ...], report: ValidationReport) -> int:
    """About the bytes a memo entry holds: its key (the SQL fields) and the report."""
    return len(key[1]) + len(to_json(report.to_dict())) + 2 * len(report.compiled_sql) + 512


class Validator:
    """Checks definitions against ``warehouse`` (None: statically) in its dialect.

    ``runner`` (a ``warehouse.executor.WarehouseRunner``) is where the API runs this
    validator's warehouse calls; one is made when a warehouse is given and none is."""

    def __init__(
        self,
        warehouse: Warehouse | None,
        dialect: str | None = None,
        *,
        runner: WarehouseRunner | None = None,
        memo_bytes: int = MEMO_BYTES,
    ) -> None:
        self.warehouse = warehouse
        self.dialect = dialect or (warehouse.DIALECT if warehouse else DEFAULT_DIALECT)
        if runner is None and warehouse is not None:
            runner = WarehouseRunner()
        self.runner = runner
        self.memo_bytes = memo_bytes
        self._memo: OrderedDict[tuple[Any, ...], tuple[ValidationReport, int]] = OrderedDict()
        self._memo_weight = 0
        self._memo_lock = threading.Lock()

    @property
    def memo_weight(self) -> int:
        """Bytes the memo holds now (at most ``memo_bytes``)."""
        return self._memo_weight

    # -- validate -----------------------------------------------------------------------

    def validate(self, event: QualifyingEvent, *, today: date | None = None) -> ValidationReport:
        """Every problem of ``event`` against its warehouse; never raises for a bad
        definition (the report lists the problems).

        Without a warehouse to ask (none configured, or the schema is declared) the report
        is a pure function of the SQL fields, the dialect and the day, so the latest
        reports, up to ``memo_bytes`` of them (keys and reports together), are kept and
        handed out again (they are not to be mutated): a dry run followed by the same
        create, or a re-applied definition, parses its SQL once. Reports from a warehouse
        are never kept: its tables change."""
        today = today or date.today()
        if self.warehouse is not None and event.declared_schema is None:
            return self._validate(event, today)
        key = (today, to_json([getattr(event, name, None) for name in SQL_FIELDS]))
        with self._memo_lock:
            found = self._memo.get(key)
            if found is not None:
                self._memo.move_to_end(key)
                return found[0]
        report = self._validate(event, today)
        weight = _weight(key, report)
        if weight > self.memo_bytes:
            return report
        with self._memo_lock:
            previous = self._memo.pop(key, None)
            if previous is not None:
                self._memo_weight -= previous[1]
            self._memo[key] = (report, weight)
            self._memo_weight += weight
            while self._memo_weight > self.memo_bytes:
                _, (_, dropped) = self._memo.popitem(last=False)
                self._memo_weight -= dropped
        return report

    def _validate(self, event: QualifyingEvent, today: date) -> ValidationReport:
        window = DateRange(today - timedelta(days=VALIDATION_DAYS - 1), today)
        try:
            query = effective_query(event, self.dialect, window)
        except SQLInvalid as error:
            return ValidationReport(False, list(error.errors), mode=self._mode_for(event))
        compiled = query.sql(dialect=self.dialect)
        warnings: list[ErrorItem] = []
        declared = event.declared_schema
        complete = True
        if declared is not None:
            mode: Mode = "declared"
            columns = [Column(n, normalize_type(t, self.dialect), t) for n, t in declared]
            warnings.append(
                ErrorItem(
                    (),
                    "skip_validation is set: the SQL was parsed and checked against the declared "
                    "all_columns/column_types, not run on the warehouse",
                )
            )
        else:
            try:
                mode, columns, complete, notes = self._schema(query)
            except SQLInvalid as error:
                return ValidationReport(
                    False, list(error.errors), mode="warehouse", compiled_sql=compiled
                )
            warnings += notes
        found = check_event(event, columns, self.dialect, complete=complete)
        return ValidationReport(
            valid=not found.errors,
            errors=found.errors,
            warnings=warnings + found.warnings,
            columns=columns,
            mode=mode,
            compiled_sql=compiled,
        )

    def _mode_for(self, event: QualifyingEvent) -> Mode:
        if event.declared_schema is not None:
            return "declared"
        return "warehouse" if self.warehouse is not None else "static"

    def _schema(self, query: exp.Query) -> tuple[Mode, list[Column], bool, list[ErrorItem]]:
        """(mode, columns, complete, warnings) from the warehouse, or from the SQL text."""
        notes: list[ErrorItem] = []
        if self.warehouse is not None:
            try:
                return "warehouse", self.warehouse.describe(query), True, notes
            except WarehouseUnavailable as error:
                # Only a warehouse that cannot be reached falls back to static checks; one
                # that answered with an error (SQLInvalid, a timeout, a failure) never turns
                # into a pass: its error is the answer.
                notes.append(
                    ErrorItem(
                        (),
                        f"The warehouse could not be asked ({error.message}); the SQL was "
                        "checked statically instead",
                    )
                )
        else:
            notes.append(
                ErrorItem(
                    (),
                    "No warehouse is configured: the SQL was checked statically (syntax, "
                    "read-only, the columns its SELECT names), not run",
                )
            )
        inferred = infer_schema(query, self.dialect)
        if not inferred.complete:
            notes.append(
                ErrorItem(
                    ("sql",),
                    "The query selects * (or a table source), so its columns are unknown "
                    "without a warehouse; column checks were skipped where they need them",
                )
            )
        return "static", inferred.columns, inferred.complete, notes

    # -- data ---------------------------------------------------------------------------

    def _require_warehouse(self) -> Warehouse:
        if self.warehouse is None:
            message = "No warehouse is configured; preview and daily need one"
            raise WarehouseUnavailable(message, [ErrorItem((), message)])
        return self.warehouse

    def _timestamp_type(
        self, warehouse: Warehouse, query: exp.Query, event: QualifyingEvent
    ) -> str:
        """The type of the event's timestamp column; SQLInvalid with the checks' own errors
        (the ones validation reports: sql/checks.py) when the definition does not fit the
        query's columns."""
        columns = warehouse.describe(query)
        found = check_event(event, columns, self.dialect)
        name = (event.timestamp_column or "").strip()
        index = ColumnIndex(columns, self.dialect)
        column = index.find(name)
        if column is None and not found.errors:
            # No timestamp column named at all: the query builders need one.
            found.error(("timestamp_column",), index.missing(f"timestampColumn {name!r}", name))
        if found.errors:
            raise SQLInvalid(found.errors[0].message, found.errors)
        assert column is not None
        return column.type

    def preview(
        self,
        event: QualifyingEvent,
        *,
        limit: int = 20,
        days: int = 7,
        today: date | None = None,
    ) -> list[dict[str, Any]]:
        """The latest ``limit`` rows of the last ``days`` days (today included): unit ids,
        timestamp and custom fields, JSON-safe."""
        warehouse = self._require_warehouse()
        today = today or date.today()
        since = today - timedelta(days=max(1, days) - 1)
        query = effective_query(event, self.dialect, DateRange(since, today))
        ts_type = self._timestamp_type(warehouse, query, event)
        sql = preview_query(
            event, query, self.dialect, limit=limit, since=since, until=today, ts_type=ts_type
        ).sql(dialect=self.dialect)
        return [jsonable(row) for row in warehouse.sample(sql, limit)]

    def daily(self, event: QualifyingEvent, start: date, end: date) -> list[dict[str, Any]]:
        """Per day with events from ``start`` to ``end``: ``{"date", "events", "units":
        {statsigUnitID: distinct units}}``, counted in the warehouse."""
        warehouse = self._require_warehouse()
        query = effective_query(event, self.dialect, DateRange(start, end))
        ts_type = self._timestamp_type(warehouse, query, event)
        sql = daily_query(event, query, self.dialect, start=start, end=end, ts_type=ts_type).sql(
            dialect=self.dialect
        )
        result = []
        for row in warehouse.query(sql):
            day = row["day"]
            result.append(
                {
                    "date": day.isoformat()[:10] if isinstance(day, date) else str(day)[:10],
                    "events": int(row["events"]),
                    "units": {
                        m.statsig_unit_id: int(row[unit_alias(i)])
                        for i, m in enumerate(event.id_type_mapping or [])
                    },
                }
            )
        return result

    def scan(
        self,
        source: AssignmentSource,
        *,
        start: date | None = None,
        end: date | None = None,
        unit_type: str | None = None,
    ) -> ScanResult:
        """The experiments an assignment source holds (``sql.scan``), counted in the
        warehouse in one query, once its columns fit the query's output (the checks a
        validation makes: SQLInvalid otherwise)."""
        warehouse = self._require_warehouse()
        query = effective_query(source, self.dialect, macro_window(start, end))
        ts_type = self._timestamp_type(warehouse, query, source)  # type: ignore[arg-type]
        return scan_experiments(
            warehouse, source, start=start, end=end, unit_type=unit_type, ts_type=ts_type
        )

    def compile(self, event: QualifyingEvent, start: date, end: date) -> str:
        """The effective query for the days ``start`` .. ``end``, in the dialect."""
        return effective_query(event, self.dialect, DateRange(start, end)).sql(dialect=self.dialect)
