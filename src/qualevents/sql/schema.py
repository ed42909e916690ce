"""Output schemas: :class:`Column` (name, normalized type, raw type), the small type vocabulary
every warehouse's types are mapped onto, and static inference of a query's columns when no
warehouse can be asked. Imports ``sqlglot`` only.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from sqlglot import exp
from sqlglot.errors import SqlglotError

DType = exp.DataType.Type

# The vocabulary checks reason about. A warehouse's own type name is kept in ``raw_type``.
STRING, INTEGER, FLOAT, DECIMAL, BOOLEAN = "string", "integer", "float", "decimal", "boolean"
DATE, TIMESTAMP, TIME, BINARY, JSON = "date", "timestamp", "time", "binary", "json"
ARRAY, STRUCT, OTHER, UNKNOWN = "array", "struct", "other", "unknown"
TEMPORAL = frozenset({DATE, TIMESTAMP})

_BY_TYPE: dict[frozenset[DType] | set[DType], str] = {
    frozenset(exp.DataType.TEXT_TYPES) | {DType.UUID, DType.ENUM}: STRING,
    frozenset(exp.DataType.INTEGER_TYPES) | {DType.BIT}: INTEGER,
    frozenset(exp.DataType.REAL_TYPES) - {DType.DECIMAL, DType.BIGDECIMAL}: FLOAT,
    frozenset({DType.DECIMAL, DType.BIGDECIMAL, DType.UDECIMAL, DType.MONEY}): DECIMAL,
    frozenset({DType.BOOLEAN}): BOOLEAN,
    frozenset({DType.DATE, DType.DATE32}): DATE,
    frozenset({DType.TIME, DType.TIMETZ}): TIME,
    frozenset(exp.DataType.TEMPORAL_TYPES) - {DType.DATE, DType.DATE32, DType.TIME, DType.TIMETZ}: (
        TIMESTAMP
    ),
    frozenset({DType.BINARY, DType.VARBINARY, DType.BLOB}): BINARY,
    frozenset({DType.JSON, DType.JSONB, DType.VARIANT, DType.SUPER}): JSON,
    frozenset(exp.DataType.ARRAY_TYPES) | {DType.LIST}: ARRAY,
    frozenset(exp.DataType.NESTED_TYPES) - {DType.ARRAY, DType.LIST}: STRUCT,
}
_WRAPPERS = {DType.LOWCARDINALITY}


@dataclass(frozen=True)
class Column:
    """One output column: its name as the warehouse reports it, a type from the vocabulary
    above (``timestamp``, ``string``, ...) and the warehouse's own type name."""

    name: str
    type: str
    raw_type: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "type": self.type}


def vocabulary_type(data_type: exp.DataType) -> str:
    """The vocabulary name of a parsed sqlglot type (``Nullable(...)`` and the like unwrapped)."""
    while data_type.this in _WRAPPERS and data_type.expressions:
        inner = data_type.expressions[0]
        if not isinstance(inner, exp.DataType):
            break
        data_type = inner
    if data_type.this == DType.UNKNOWN:
        return UNKNOWN
    for members, name in _BY_TYPE.items():
        if data_type.this in members:
            return name
    return OTHER


@lru_cache(maxsize=4096)
def normalize_type(raw_type: str, dialect: str | None = None) -> str:
    """Map a warehouse's type name (``TIMESTAMP WITH TIME ZONE``, ``INT64``,
    ``Nullable(DateTime64(3))``) onto the vocabulary; ``other`` when sqlglot cannot read it."""
    text = (raw_type or "").strip()
    if not text:
        return UNKNOWN
    try:
        return vocabulary_type(exp.DataType.build(text, dialect=dialect))
    except (SqlglotError, ValueError, TypeError):
        return OTHER


@dataclass(frozen=True)
class InferredSchema:
    """Columns read from a query's text. ``complete`` is False when a ``*`` hides some."""

    columns: list[Column]
    complete: bool


def _projection_type(projection: exp.Expression, dialect: str | None) -> tuple[str, str]:
    node = projection.this if isinstance(projection, exp.Alias) else projection
    if isinstance(node, exp.Cast | exp.TryCast) and isinstance(node.to, exp.DataType):
        return vocabulary_type(node.to), node.to.sql(dialect=dialect)
    if isinstance(node, exp.Literal):
        return (STRING, "") if node.is_string else (INTEGER if node.is_int else FLOAT, "")
    if isinstance(node, exp.Boolean):
        return BOOLEAN, ""
    if isinstance(node, exp.Count):
        return INTEGER, ""
    if isinstance(node, exp.CurrentDate):
        return DATE, ""
    if isinstance(node, exp.CurrentTimestamp):
        return TIMESTAMP, ""
    return UNKNOWN, ""


def infer_schema(query: exp.Query, dialect: str | None = None) -> InferredSchema:
    """The columns a query's outermost SELECT names, with types where the text shows them
    (casts, literals). For a set operation the first branch names the columns."""
    select: exp.Expression = query
    while isinstance(select, exp.SetOperation | exp.Subquery):
        select = select.this
    if not isinstance(select, exp.Select):
        return InferredSchema([], complete=False)
    columns: list[Column] = []
    complete = True
    for projection in select.expressions:
        if isinstance(projection, exp.Star) or (
            isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star)
        ):
            complete = False
            continue
        name = projection.alias_or_name
        if not name:
            complete = False
            continue
        kind, raw = _projection_type(projection, dialect)
        columns.append(Column(name, kind, raw))
    return InferredSchema(columns, complete)
