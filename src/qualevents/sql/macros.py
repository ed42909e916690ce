"""Statsig's date macros, replaced by literals of the target dialect before SQL is parsed.
Imports ``sql.lexing`` and ``sql.literals``.

Documented macros (Statsig Warehouse Native, "Query tools"):

- ``{statsig_start_date}``, ``{statsig_end_date}``: a DATE, e.g. ``DATE('2023-09-01')``.
  Statsig's own example wraps them in backticks (```{statsig_start_date}```); that form is
  the same DATE.
- ``{statsig_start_date_int}``, ``{statsig_end_date_int}``: the day as a number, 20230901,
  for integer date partitions.
- ``{statsig_experiment_start_timestamp}``: a TIMESTAMP (the dialect's usual event
  timestamp, the type the query builders compare with: BigQuery's TIMESTAMP, not its
  DATETIME); outside an experiment (which is always the case for a qualifying event on its
  own) ``TIMESTAMP('1970-01-01')``.

Inside a string literal a macro becomes the bare text (``'{statsig_start_date}'`` ->
``'2023-09-01'``), so a string partition such as ``dt = '{statsig_start_date}'`` works.
Comments are left alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from qualevents.sql.lexing import split
from qualevents.sql.literals import TIMESTAMP_FORMAT, date_literal, timestamp_literal

MACRO_RE = re.compile(
    r"\{\s*statsig_(start_date|end_date|start_date_int|end_date_int|"
    r"experiment_start_timestamp)\s*\}",
    re.IGNORECASE,
)
MACRO_NAMES = (
    "statsig_start_date",
    "statsig_end_date",
    "statsig_start_date_int",
    "statsig_end_date_int",
    "statsig_experiment_start_timestamp",
)
EPOCH = datetime(1970, 1, 1)


@dataclass(frozen=True)
class DateRange:
    """The days a query is run for (both ends included)."""

    start: date
    end: date
    experiment_start: datetime = EPOCH


def _values(kind: str, window: DateRange, dialect: str | None) -> tuple[str, str]:
    """(the typed SQL literal, the bare text) a macro stands for."""
    kind = kind.lower()
    if kind == "experiment_start_timestamp":
        moment = window.experiment_start
        return timestamp_literal(moment, dialect), moment.strftime(TIMESTAMP_FORMAT)
    day = window.start if kind.startswith("start") else window.end
    if kind.endswith("_int"):
        number = day.strftime("%Y%m%d")
        return number, number
    return date_literal(day, dialect), day.isoformat()


def has_macros(sql: str) -> bool:
    return MACRO_RE.search(sql) is not None


def substitute_macros(sql: str, window: DateRange, dialect: str | None = None) -> str:
    """``sql`` with every Statsig macro replaced for ``window``, in ``dialect``."""
    if not has_macros(sql):
        return sql
    out: list[str] = []
    for segment in split(sql, dialect):
        text = segment.text
        if segment.kind == "code":
            text = MACRO_RE.sub(lambda m: _values(m.group(1), window, dialect)[0], text)
        elif segment.kind in ("backtick", "identifier") and text[0] == "`":
            # Statsig's documented form: `{statsig_start_date}` is the DATE itself.
            inner = MACRO_RE.fullmatch(text[1:-1].strip())
            if inner:
                text = _values(inner.group(1), window, dialect)[0]
        elif segment.kind == "string":
            text = MACRO_RE.sub(lambda m: _values(m.group(1), window, dialect)[1], text)
        out.append(text)
    return "".join(out)
