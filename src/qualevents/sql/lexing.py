"""A small scanner that splits SQL text into code, string literals, comments and quoted
identifiers, driven by the dialect's own tokenizer settings (sqlglot). Text rewrites
(``macros``, ``references``) use it so that they never touch a string or a comment.
Imports ``sqlglot`` only.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from sqlglot.dialects.dialect import Dialect

Kind = Literal["code", "string", "comment", "identifier", "backtick"]


@dataclass(frozen=True)
class Segment:
    kind: Kind
    text: str


@dataclass(frozen=True)
class _Rules:
    strings: tuple[tuple[str, str], ...]  # (open, close), longest first
    identifiers: tuple[str, ...]
    escapes: tuple[str, ...]
    line_comments: tuple[str, ...]
    backtick_native: bool


@lru_cache(maxsize=64)
def _rules(dialect: str | None) -> _Rules:
    tokenizer = Dialect.get_or_raise(dialect).tokenizer_class
    strings: list[tuple[str, str]] = []
    for quote in tokenizer.QUOTES:
        pair = quote if isinstance(quote, tuple) else (quote, quote)
        strings.append(pair)
    strings.append(("$$", "$$"))  # dollar quoting (PostgreSQL, DuckDB, Snowflake)
    strings.sort(key=lambda pair: -len(pair[0]))
    identifiers = tuple(
        ident[0] if isinstance(ident, tuple) else ident for ident in tokenizer.IDENTIFIERS
    )
    line_comments = tuple(c for c in tokenizer.COMMENTS if isinstance(c, str))
    return _Rules(
        strings=tuple(strings),
        identifiers=identifiers,
        escapes=tuple(tokenizer.STRING_ESCAPES),
        line_comments=line_comments,
        backtick_native="`" in identifiers,
    )


def _close_of_string(sql: str, start: int, close: str, escapes: tuple[str, ...]) -> int:
    """Index just past the closing quote of a string that opens before ``start``."""
    i = start
    while i < len(sql):
        if sql.startswith(close, i):
            # A doubled quote ('it''s') is an escaped quote when the dialect allows it.
            if len(close) == 1 and close in escapes and sql.startswith(close * 2, i):
                i += 2
                continue
            return i + len(close)
        if sql[i] in escapes and sql[i] != close and i + 1 < len(sql):
            i += 2
            continue
        i += 1
    return len(sql)


def split(sql: str, dialect: str | None = None) -> list[Segment]:
    """Segments whose texts, joined, give back ``sql`` exactly."""
    rules = _rules(dialect)
    segments: list[Segment] = []
    code_start = 0
    i = 0
    n = len(sql)

    def flush(until: int) -> None:
        if until > code_start:
            segments.append(Segment("code", sql[code_start:until]))

    while i < n:
        ch = sql[i]
        end = -1
        kind: Kind = "code"
        if sql.startswith("/*", i):
            close = sql.find("*/", i + 2)
            end, kind = (n if close < 0 else close + 2), "comment"
        elif any(sql.startswith(c, i) for c in rules.line_comments):
            close = sql.find("\n", i)
            end, kind = (n if close < 0 else close), "comment"
        elif ch == "`" or ch in rules.identifiers:
            close = sql.find(ch, i + 1)
            while close >= 0 and sql.startswith(ch * 2, close):  # doubled quote escapes
                close = sql.find(ch, close + 2)
            end = n if close < 0 else close + 1
            kind = "identifier" if ch != "`" or rules.backtick_native else "backtick"
        else:
            for open_, close_ in rules.strings:
                if sql.startswith(open_, i):
                    end = _close_of_string(sql, i + len(open_), close_, rules.escapes)
                    kind = "string"
                    break
        if end < 0:
            i += 1
            continue
        flush(i)
        segments.append(Segment(kind, sql[i:end]))
        code_start = i = end
    flush(n)
    return segments


def backtick_is_native(dialect: str | None) -> bool:
    """Whether the dialect itself quotes identifiers with backticks (BigQuery, Databricks)."""
    return _rules(dialect).backtick_native
