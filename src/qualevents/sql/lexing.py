"""Splits SQL text into code, string literals, comments and quoted identifiers, from the
offsets of the dialect's own tokens (sqlglot's tokenizer). Text rewrites (``macros``,
``references``) use it so that they never touch a string or a comment. Imports ``sqlglot``
only.

Every token carries its ``start`` and ``end`` offsets in the text; what lies between two
tokens is whitespace or comments. A backtick in a dialect that does not quote with
backticks (PostgreSQL, DuckDB, Snowflake, ...) is a token of its own, so the text from one
such backtick to the next is a ``backtick`` segment (BigQuery-style references that
``sql.references`` rewrites). Text the tokenizer cannot read (an unterminated string) is
one code segment: parsing it reports the error, with its position.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import TokenError
from sqlglot.tokens import Token, TokenType

Kind = Literal["code", "string", "comment", "identifier", "backtick"]

STRING_TOKENS = frozenset(
    {
        TokenType.STRING,
        TokenType.NATIONAL_STRING,
        TokenType.RAW_STRING,
        TokenType.BYTE_STRING,
        TokenType.BIT_STRING,
        TokenType.HEX_STRING,
        TokenType.HEREDOC_STRING,
        TokenType.UNICODE_STRING,
    }
)


@dataclass(frozen=True)
class Segment:
    kind: Kind
    text: str


@lru_cache(maxsize=64)
def _dialect(dialect: str | None) -> Dialect:
    return Dialect.get_or_raise(dialect)


def backtick_is_native(dialect: str | None) -> bool:
    """Whether the dialect itself quotes identifiers with backticks (BigQuery, Databricks)."""
    identifiers = _dialect(dialect).tokenizer_class.IDENTIFIERS
    return any((i[0] if isinstance(i, tuple) else i) == "`" for i in identifiers)


def _tokens(sql: str, dialect: str | None) -> list[Token] | None:
    try:
        return _dialect(dialect).tokenize(sql)
    except TokenError:
        return None


def split(sql: str, dialect: str | None = None) -> list[Segment]:
    """Segments whose texts, joined, give back ``sql`` exactly."""
    tokens = _tokens(sql, dialect)
    if tokens is None:
        return [Segment("code", sql)] if sql else []
    segments: list[Segment] = []

    def add(kind: Kind, text: str) -> None:
        if not text:
            return
        if kind == "code" and segments and segments[-1].kind == "code":
            segments[-1] = Segment("code", segments[-1].text + text)
        else:
            segments.append(Segment(kind, text))

    position = 0
    backtick_from: int | None = None  # offset of an open non-native backtick
    for token in tokens:
        start, end = token.start, token.end + 1
        if backtick_from is not None:
            if token.token_type is TokenType.UNKNOWN and token.text == "`":
                add("backtick", sql[backtick_from:end])
                backtick_from = None
                position = end
            continue
        gap = sql[position:start]
        add("code" if not gap.strip() else "comment", gap)
        if token.token_type is TokenType.UNKNOWN and token.text == "`":
            backtick_from = start
        elif token.token_type in STRING_TOKENS:
            add("string", sql[start:end])
        elif token.token_type is TokenType.IDENTIFIER:
            add("identifier", sql[start:end])
        else:
            add("code", sql[start:end])
        position = end
    if backtick_from is not None:  # unterminated: runs to the end of the text
        add("backtick", sql[backtick_from:])
        position = len(sql)
    tail = sql[position:]
    add("code" if not tail.strip() else "comment", tail)
    return segments
