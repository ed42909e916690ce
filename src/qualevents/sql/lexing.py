"""A small scanner that splits SQL text into code, string literals, comments and quoted
identifiers, driven by the dialect's own tokenizer settings (sqlglot). Text rewrites
(``macros``, ``references``) use it so that they never touch a string or a comment.
Imports ``sqlglot`` only.
"""

from __future__ import annotations

import re
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
    pattern: re.Pattern[str]  # one alternative per kind of non-code span
    backtick_native: bool


def _quoted(open_: str, close: str, escapes: tuple[str, ...]) -> str:
    """A regex for a quoted span, unterminated spans running to the end of the text."""
    o, c = re.escape(open_), re.escape(close)
    if len(close) > 1:
        return rf"{o}.*?(?:{c}|\Z)"
    parts = [rf"[^{c}\\]"] if "\\" in escapes else [rf"[^{c}]"]
    if "\\" in escapes:
        parts.append(r"\\.")
    if close in escapes or close in ('"', "`"):
        parts.append(rf"{c}{c}")
    return rf"{o}(?:{'|'.join(parts)})*(?:{c}|\Z)"


@lru_cache(maxsize=64)
def _rules(dialect: str | None) -> _Rules:
    tokenizer = Dialect.get_or_raise(dialect).tokenizer_class
    escapes = tuple(tokenizer.STRING_ESCAPES)
    identifiers = [i[0] if isinstance(i, tuple) else i for i in tokenizer.IDENTIFIERS]
    strings: list[tuple[str, str]] = [
        q if isinstance(q, tuple) else (q, q) for q in tokenizer.QUOTES
    ]
    strings.append(("$$", "$$"))  # dollar quoting (PostgreSQL, DuckDB, Snowflake)
    strings.sort(key=lambda pair: -len(pair[0]))
    line_comments = sorted(
        (c for c in tokenizer.COMMENTS if isinstance(c, str)), key=len, reverse=True
    )
    alternatives = [
        r"(?P<comment>/\*.*?(?:\*/|\Z)"
        + "".join(f"|{re.escape(c)}[^\n]*" for c in line_comments)
        + ")",
        "(?P<identifier>"
        + "|".join(_quoted(q, q, ()) for q in identifiers if q != "`")
        + ("|" if any(q != "`" for q in identifiers) else "")
        + ("`(?:[^`]|``)*(?:`|\\Z)" if "`" in identifiers else "(?!)")
        + ")",
        "(?P<backtick>" + ("(?!)" if "`" in identifiers else "`(?:[^`]|``)*(?:`|\\Z)") + ")",
        "(?P<string>"
        + "|".join(_quoted(o, c, escapes) for o, c in strings if o not in identifiers)
        + ")",
    ]
    return _Rules(
        pattern=re.compile("|".join(alternatives), re.DOTALL),
        backtick_native="`" in identifiers,
    )


def split(sql: str, dialect: str | None = None) -> list[Segment]:
    """Segments whose texts, joined, give back ``sql`` exactly."""
    segments: list[Segment] = []
    position = 0
    for match in _rules(dialect).pattern.finditer(sql):
        if match.start() > position:
            segments.append(Segment("code", sql[position : match.start()]))
        kind = match.lastgroup
        segments.append(Segment(kind, match.group()))  # type: ignore[arg-type]
        position = match.end()
    if position < len(sql):
        segments.append(Segment("code", sql[position:]))
    return segments


def backtick_is_native(dialect: str | None) -> bool:
    """Whether the dialect itself quotes identifiers with backticks (BigQuery, Databricks)."""
    return _rules(dialect).backtick_native
