"""How a driver's exception is classified: by its class and its error code, never by the
words of its message (a missing column named ``user_timeout`` is the query's fault, not a
timeout). Imports nothing from the package.

``Kind`` is what an adapter's ``classify`` answers; ``sqlstate_kind`` reads the SQLSTATE
classes PostgreSQL, Redshift, Databricks and Spark share; ``class_name_kind`` reads the
DB-API 2.0 exception names (and google-api-core's) for a driver an adapter does not know
better; ``error_code_kind`` reads the SQLSTATE and ``[ERROR_CLASS]`` that Databricks and
Spark put in their messages (codes, not words).
"""

from __future__ import annotations

import re
from typing import Literal

Kind = Literal["timeout", "unavailable", "rejected", "failed"]

# query_canceled (the statement timeout: PostgreSQL, Redshift, Snowflake), Databricks'
# QUERY_EXECUTION_TIMEOUT_EXCEEDED, ODBC's "operation canceled" (Spark's OPERATION_CANCELED).
TIMEOUT_STATES = {"57014", "57KD0", "HY008"}
# SQLSTATE classes that mean the query is at fault (syntax, names, types, data, limits).
REJECTED_CLASSES = {
    "0A",
    "21",
    "22",
    "23",
    "25",
    "26",
    "2B",
    "38",
    "39",
    "3F",
    "42",
    "44",
    "54",
    "P0",
}
UNAVAILABLE_CLASSES = {"08", "28", "3D", "57"}
UNAVAILABLE_STATES = {"53300"}  # too many connections

_TIMEOUT_NAMES = ("timeout", "deadline", "cancel", "interrupt")
_UNAVAILABLE_NAMES = (
    "operational",
    "connect",
    "interface",
    "forbidden",
    "unauthorized",
    "unauthenticated",
    "permissiondenied",
    "serviceunavailable",
    "badgateway",
    "gatewaytimeout",
    "auth",
)
_REJECTED_NAMES = ("programming", "syntax", "badrequest", "notfound", "dataerror", "analysis")


def sqlstate_kind(state: str | None) -> Kind | None:
    """What a five-character SQLSTATE means for the user; None when it says nothing."""
    if not state or len(state) != 5:
        return None
    state = state.upper()
    if state in TIMEOUT_STATES:
        return "timeout"
    if state[:2] in REJECTED_CLASSES:
        return "rejected"
    if state[:2] in UNAVAILABLE_CLASSES or state in UNAVAILABLE_STATES:
        return "unavailable"
    return "failed"


def class_name_kind(error: BaseException) -> Kind:
    """The kind an exception's class names (each class of its MRO, most specific first):
    ``TimeoutError``, ``OperationalError``, ``ProgrammingError``... Python's own
    ``TimeoutError`` (a socket read that waited too long) is a timeout, other ``OSError``\\ s
    an unreachable warehouse."""
    if isinstance(error, TimeoutError):
        return "timeout"
    for cls in type(error).__mro__:
        name = cls.__name__.lower()
        if any(word in name for word in _TIMEOUT_NAMES):
            return "timeout"
        if any(word in name for word in _UNAVAILABLE_NAMES):
            return "unavailable"
        if any(word in name for word in _REJECTED_NAMES):
            return "rejected"
    if isinstance(error, OSError):
        return "unavailable"
    return "failed"


_SQLSTATE_RE = re.compile(r"SQLSTATE:\s*([0-9A-Z]{5})\b")
_ERROR_CLASS_RE = re.compile(r"^\s*\[([A-Z_]+)(?:\.[A-Z_]+)?\]")
# Error classes of Databricks and Spark whose message lacks a SQLSTATE on older runtimes.
REJECTED_ERROR_CLASSES = {
    "TABLE_OR_VIEW_NOT_FOUND",
    "UNRESOLVED_COLUMN",
    "UNRESOLVED_ROUTINE",
    "PARSE_SYNTAX_ERROR",
    "SCHEMA_NOT_FOUND",
    "DATATYPE_MISMATCH",
    "INSUFFICIENT_PERMISSIONS",
}
TIMEOUT_ERROR_CLASSES = {"QUERY_EXECUTION_TIMEOUT_EXCEEDED", "OPERATION_CANCELED"}


def error_code_kind(text: str) -> Kind | None:
    """What a Spark-style error message's SQLSTATE or ``[ERROR_CLASS]`` says (Databricks,
    Spark); None when it has neither."""
    found = _ERROR_CLASS_RE.search(text)
    name = found.group(1) if found else None
    if name in TIMEOUT_ERROR_CLASSES:
        return "timeout"
    state = _SQLSTATE_RE.search(text)
    kind = sqlstate_kind(state.group(1)) if state else None
    if kind is not None:
        return kind
    return "rejected" if name in REJECTED_ERROR_CLASSES else None
