"""From SQL text to one read-only query: macros, reference leniency, parsing in the
warehouse's dialect and the read-only guard (statement types here; functions, relations
and nesting in ``sql.guard``). Imports ``sqlglot``, ``errors`` and ``sql.guard``,
``sql.macros``, ``sql.references``.

Every problem is an :class:`~qualevents.errors.SQLInvalid` whose items sit at ``loc``
(``("sql",)`` by default) and carry ``line``, ``column`` and ``highlight`` when sqlglot
knows them.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, SqlglotError, TokenError

from qualevents.errors import ErrorItem, Loc, SQLInvalid
from qualevents.sql import guard
from qualevents.sql.macros import DateRange, substitute_macros
from qualevents.sql.references import normalize_references

# Nodes that write, change the catalog or run something other than a query.
_FORBIDDEN = (
    exp.Insert,
    exp.Update,
    exp.Delete,
    exp.Merge,
    exp.Create,
    exp.Drop,
    exp.Alter,
    exp.Command,
    exp.Copy,
    exp.TruncateTable,
    exp.Into,
    exp.Set,
    exp.Pragma,
    exp.Use,
    exp.Transaction,
    exp.Commit,
    exp.Rollback,
    exp.Grant,
    exp.Attach,
    exp.Detach,
    exp.Describe,
    exp.Show,
    exp.Cache,
    exp.Uncache,
    exp.Refresh,
    exp.LoadData,
    exp.Lock,
)
# sqlglot reports at most this many problems of one text; we pass on the first few.
MAX_SYNTAX_ITEMS = 5


def _statement_name(node: exp.Expression) -> str:
    if isinstance(node, exp.Command):
        return str(node.this).upper()
    if isinstance(node, exp.Drop | exp.Create) and node.args.get("kind"):
        return f"{node.key.upper()} {str(node.args['kind']).upper()}"
    if isinstance(node, exp.Lock):
        return "SELECT ... FOR UPDATE"
    if isinstance(node, exp.Into):
        return "SELECT ... INTO"
    if isinstance(node, exp.TruncateTable):
        return "TRUNCATE"
    if isinstance(node, exp.Select):
        return "SELECT"
    return node.key.upper()


def _syntax_item(detail: dict[str, Any], loc: Loc) -> ErrorItem:
    """One of ``ParseError.errors`` as an item, from its structured fields only: where
    (``line``, ``col``), the offending text (``highlight``) and what follows it
    (``end_context``). sqlglot's ``description`` is left out: it names parser internals
    (``<class 'sqlglot.expressions.core.Paren'>``, token reprs) that mean nothing to a user."""
    line, column = detail.get("line"), detail.get("col")
    highlight = str(detail.get("highlight") or "")
    extra = {
        key: value
        for key, value in (("line", line), ("column", column), ("highlight", highlight))
        if value not in (None, "")
    }
    message = f"Syntax error near {highlight!r}" if highlight else "Syntax error"
    if not str(detail.get("end_context") or "").strip():
        message += ", at the end of the SQL"
    if line is not None:
        message += f" (line {line}, column {column if column is not None else '?'})"
    return ErrorItem(loc, message, extra)


def parse_error_items(error: SqlglotError, loc: Loc = ("sql",)) -> list[ErrorItem]:
    """sqlglot's parse errors as items with line, column and the offending text."""
    if isinstance(error, ParseError) and error.errors:
        return [_syntax_item(detail, loc) for detail in error.errors[:MAX_SYNTAX_ITEMS]]
    if isinstance(error, TokenError):
        return [ErrorItem(loc, f"Cannot read the SQL: {error}")]
    return [ErrorItem(loc, f"Invalid SQL: {error}")]


def parse_statements(sql: str, dialect: str | None, loc: Loc = ("sql",)) -> list[exp.Expression]:
    """The statements of ``sql``, after the guard's text checks (nesting, denied calls)."""
    found = guard.check_text(sql, dialect, loc)
    try:
        statements = Dialect.get_or_raise(dialect).parser().parse(found, sql)
    except SqlglotError as error:
        raise SQLInvalid("The SQL could not be parsed", parse_error_items(error, loc)) from None
    except RecursionError:  # a shape the nesting count does not see
        raise guard.nesting_too_deep("SQL", loc) from None
    return [s for s in statements if s is not None and not isinstance(s, exp.Semicolon)]


def read_only_query(statements: list[exp.Expression], loc: Loc = ("sql",)) -> exp.Query:
    """The one SELECT (or WITH ... SELECT, or set operation of SELECTs) in ``statements``;
    SQLInvalid naming what was found otherwise."""

    def fail(message: str) -> SQLInvalid:
        return SQLInvalid(message, [ErrorItem(loc, message)])

    if not statements:
        raise fail("The SQL is empty: expected a single SELECT")
    if len(statements) > 1:
        names = ", ".join(_statement_name(s) for s in statements)
        raise fail(f"Only a single SELECT is allowed; found {len(statements)} statements ({names})")
    statement = statements[0]
    while isinstance(statement, exp.Subquery) and isinstance(statement.this, exp.Query):
        statement = statement.this
    if not isinstance(statement, exp.Query):
        raise fail(f"Only a single SELECT is allowed; found {_statement_name(statement)}")
    for node in statement.walk():
        if isinstance(node, _FORBIDDEN):
            where = "inside the SELECT" if node is not statement else ""
            raise fail(
                f"Only a single SELECT is allowed; found {_statement_name(node)} {where}".strip()
            )
    return statement


def prepare_text(sql: str, dialect: str | None, window: DateRange) -> str:
    """Macros substituted, then BigQuery-style references quoted for ``dialect``."""
    return normalize_references(substitute_macros(sql, window, dialect), dialect)


def parse_query(
    sql: str, dialect: str | None, window: DateRange | None = None, loc: Loc = ("sql",)
) -> exp.Query:
    """The read-only query ``sql`` stands for (macros substituted for ``window``)."""
    text = prepare_text(sql, dialect, window) if window is not None else sql
    query = read_only_query(parse_statements(text, dialect, loc), loc)
    guard.check_tree(query, dialect, loc)
    return query


@lru_cache(maxsize=1024)
def _checked(sql: str, dialect: str | None) -> None:
    guard.check_tree(read_only_query(parse_statements(sql, dialect)), dialect)


def ensure_read_only(sql: str, dialect: str | None) -> None:
    """Raise SQLInvalid unless ``sql`` is a single read-only query (results are cached, so
    adapters can call this before every statement they run)."""
    _checked(sql, dialect)
