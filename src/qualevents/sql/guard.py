"""The guard every SQL text a user sends passes, per dialect: what a query may call and read,
and how deeply it may nest. Imports ``sqlglot``, ``errors`` and ``sql.denied`` (the data).

The statement-type guard (one SELECT, nothing that writes) lives in ``sql.parse``; this
module adds what statement types cannot see:

- **Denied functions** (``sql.denied.DENIED_FUNCTIONS``): functions that touch the server
  (files, large objects, programs), the session (settings, advisory locks, sleeping),
  other connections (``dblink``, terminating backends) or run SQL given as a string. A
  call is found by its name as written (a token followed by ``(``), quoted or qualified,
  so ``pg_catalog."pg_read_file"(...)`` is found too.
- **Denied relations** (``sql.denied.DENIED_RELATIONS``): catalog views that show server
  settings, paths or other sessions' SQL (``pg_settings``, ``pg_stat_activity``,
  ClickHouse's ``system.*``).
- **ClickHouse**: table functions (``url()``, ``s3()``, ``remote()``, any function in
  ``FROM``) and ``SETTINGS`` clauses are refused: they would fetch URLs or switch the
  query's limits off.
- **Formulas**: set-returning functions (``unnest``, ``generate_series``, ``explode``...)
  are refused, since a custom field is one value per row.
- **Nesting**: at most ``MAX_NESTING`` levels of parentheses, brackets, ``CASE`` and
  ``NOT``; deeper is a 400 naming the limit and the position. sqlglot parses and renders
  recursively, so the interpreter's recursion limit is raised once, on import, to what that
  depth needs with a wide margin (``RECURSION_LIMIT``); it is never lowered.
"""

from __future__ import annotations

import fnmatch
import itertools
import sys
from collections.abc import Iterable

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import SqlglotError
from sqlglot.tokens import Token, TokenType

from qualevents.errors import ErrorItem, Loc, SQLInvalid
from qualevents.sql.denied import (
    CLICKHOUSE_SETTINGS_REASON,
    CLICKHOUSE_TABLE_FUNCTION_REASON,
    SET_RETURNING_FUNCTIONS,
    Denied,
    denied_functions,
    denied_relations,
    denied_table_parts,
)

MAX_NESTING = 64
# sqlglot needs about 25 interpreter frames per nesting level to parse, more to render and
# analyse; 64 levels fit easily in 10,000 (tests/test_security_guard.py proves 64 of each
# kind validate and render).
RECURSION_LIMIT = 10_000
_OPEN = {TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE, TokenType.CASE}
_CLOSE = {TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE, TokenType.END}
_NOT_NAMES = {TokenType.STRING, TokenType.NUMBER, TokenType.HEREDOC_STRING}


def _ensure_recursion_limit(limit: int) -> None:
    if sys.getrecursionlimit() < limit:
        sys.setrecursionlimit(limit)


_ensure_recursion_limit(RECURSION_LIMIT)


def position(sql: str, offset: int) -> dict[str, int]:
    """``{"line", "column"}`` (both from 1) of character ``offset`` of ``sql``."""
    line = sql.count("\n", 0, offset) + 1
    column = offset - (sql.rfind("\n", 0, offset) + 1) + 1
    return {"line": line, "column": column}


def _fail(message: str, loc: Loc, extra: dict[str, int] | None = None) -> SQLInvalid:
    extra = dict(extra or {})
    if extra:
        message = f"{message} (line {extra['line']}, column {extra['column']})"
    return SQLInvalid(message, [ErrorItem(loc, message, extra)])


def tokens(sql: str, dialect: str | None, loc: Loc = ("sql",)) -> list[Token]:
    """``sql``'s tokens in ``dialect``; SQLInvalid when it cannot be read."""
    try:
        return Dialect.get_or_raise(dialect).tokenize(sql)
    except SqlglotError as error:
        message = f"Cannot read the SQL: {error}"
        raise SQLInvalid("The SQL could not be parsed", [ErrorItem(loc, message)]) from None


def nesting_too_deep(where: str, loc: Loc, extra: dict[str, int] | None = None) -> SQLInvalid:
    return _fail(
        f"The {where} is nested more than {MAX_NESTING} levels deep (parentheses, CASE, "
        f"function calls and NOT count); the limit is {MAX_NESTING}",
        loc,
        extra,
    )


def check_nesting(sql: str, found: list[Token], loc: Loc = ("sql",), where: str = "SQL") -> None:
    """SQLInvalid at the first token past ``MAX_NESTING`` levels."""
    depth = 0
    nots = 0
    for token in found:
        kind = token.token_type
        if kind in _OPEN:
            depth += 1
        elif kind in _CLOSE:
            depth = max(0, depth - 1)
        nots = nots + 1 if kind == TokenType.NOT else 0
        if depth + nots > MAX_NESTING:
            raise nesting_too_deep(where, loc, position(sql, token.start))


def _calls(found: list[Token]) -> Iterable[tuple[str, Token]]:
    """(lower-cased name, token) of each function call: a name followed by ``(``."""
    for token, following in itertools.pairwise(found):
        if following.token_type == TokenType.L_PAREN and token.token_type not in _NOT_NAMES:
            yield token.text.lower(), token


def _match(name: str, entries: tuple[Denied, ...]) -> Denied | None:
    for entry in entries:
        if fnmatch.fnmatchcase(name, entry.pattern):
            return entry
    return None


def check_calls(
    sql: str,
    found: list[Token],
    dialect: str | None,
    loc: Loc = ("sql",),
    *,
    formula: bool = False,
) -> None:
    """SQLInvalid naming the first denied function ``sql`` calls (set-returning ones too
    when ``formula``)."""
    denied = denied_functions(dialect)
    if formula:
        denied = denied + SET_RETURNING_FUNCTIONS
    for name, token in _calls(found):
        entry = _match(name, denied)
        if entry is not None:
            raise _fail(
                f"The function {token.text}() is not allowed: {entry.reason}",
                loc,
                position(sql, token.start),
            )


def _relation_name(table: exp.Table) -> str:
    return ".".join(part.name.lower() for part in table.parts if part.name)


def _where(table: exp.Table) -> dict[str, int] | None:
    """Line and column where ``table`` is written, from the parser's token metadata."""
    first = next((part for part in table.parts if part.meta.get("line")), None)
    if first is None:
        return None
    meta = first.meta
    column = meta.get("col", 0) - (meta.get("end", 0) - meta.get("start", 0))
    return {"line": meta["line"], "column": max(1, column)}


def _match_relation(name: str, entries: tuple[Denied, ...]) -> Denied | None:
    """The entry matching ``name`` or one of its dotted tails (``db.schema.t``: also
    ``schema.t`` and ``t``)."""
    parts = name.split(".")
    for start in range(len(parts)):
        entry = _match(".".join(parts[start:]), entries)
        if entry is not None:
            return entry
    return None


def check_tree(tree: exp.Expression, dialect: str | None, loc: Loc = ("sql",)) -> None:
    """SQLInvalid for a denied relation, and on ClickHouse for a table function or a
    ``SETTINGS`` clause anywhere in ``tree``."""
    relations = denied_relations(dialect)
    parts = denied_table_parts(dialect)
    clickhouse = (dialect or "").lower() == "clickhouse"
    for node in tree.walk():
        if isinstance(node, exp.Table):
            if isinstance(node.this, exp.Func) and clickhouse:
                name = node.this.name if isinstance(node.this, exp.Anonymous) else node.this.key
                raise _fail(
                    f"The table function {name}() is not allowed: "
                    f"{CLICKHOUSE_TABLE_FUNCTION_REASON}",
                    loc,
                    _where(node),
                )
            for part in node.parts:
                entry = _match(part.name.lower(), parts) if part.name else None
                if entry is not None:
                    raise _fail(
                        f"Reading {part.name!r} is not allowed: {entry.reason}", loc, _where(node)
                    )
            name = _relation_name(node)
            entry = _match_relation(name, relations) if name else None
            if entry is not None:
                raise _fail(f"Reading {name} is not allowed: {entry.reason}", loc, _where(node))
        if clickhouse and node.args.get("settings"):
            raise _fail(f"A SETTINGS clause is not allowed: {CLICKHOUSE_SETTINGS_REASON}", loc)


def check_text(
    sql: str, dialect: str | None, loc: Loc = ("sql",), *, formula: bool = False
) -> list[Token]:
    """The checks that read the text (nesting, denied calls): run before parsing, so a
    query too deep for the parser is a 400 with a position. Returns the tokens, for the
    parser (``sql.parse`` tokenizes once)."""
    found = tokens(sql, dialect, loc)
    check_nesting(sql, found, loc, "formula" if formula else "SQL")
    check_calls(sql, found, dialect, loc, formula=formula)
    return found


def check_formula(formula: str, dialect: str | None, loc: Loc) -> list[Token]:
    """What a custom field's formula may not do, beyond what the query may not."""
    return check_text(formula, dialect, loc, formula=True)


__all__ = [
    "MAX_NESTING",
    "check_formula",
    "check_text",
    "check_tree",
    "nesting_too_deep",
    "position",
]
