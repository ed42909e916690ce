"""What a warehouse statement is labelled with: qualevents, the operation (``preview``,
``daily``, ``create``...) and the API key id, so a warehouse admin reading the query log
(Snowflake's ``QUERY_TAG``, BigQuery's job labels, PostgreSQL's ``application_name``,
ClickHouse's ``log_comment``, Spark's job tags) sees who ran what. Imports nothing from the
package.

The label travels in a context variable: ``warehouse.executor`` sets it on the warehouse
thread around each call (it knows the key id and the function), and each adapter reads
``current_label()`` when it sends a statement. Without one (the CLI) the operation is the
adapter method's (``describe``, ``query``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

__all__ = ["QueryLabel", "current_label", "labelled"]

TOOL = "qualevents"
_UNSAFE = re.compile(r"[^a-z0-9_-]+")


@dataclass(frozen=True)
class QueryLabel:
    operation: str = ""
    key_id: str | None = None

    def text(self, default_operation: str = "query") -> str:
        """``qualevents op=preview key=k_abc``: for a tag or comment (quote it yourself)."""
        parts = [TOOL, f"op={_safe(self.operation or default_operation)}"]
        if self.key_id:
            parts.append(f"key={_safe(self.key_id)}")
        return " ".join(parts)

    def pairs(self, default_operation: str = "query") -> dict[str, str]:
        """The label as key/value pairs in the most restrictive alphabet (BigQuery labels:
        lower-case letters, digits, ``_`` and ``-``, at most 63 characters)."""
        found = {"tool": TOOL, "operation": _safe(self.operation or default_operation)}
        if self.key_id:
            found["key_id"] = _safe(self.key_id)
        return found


def _safe(text: str) -> str:
    return _UNSAFE.sub("_", text.lower())[:63] or "_"


_NONE = QueryLabel()
_current: ContextVar[QueryLabel | None] = ContextVar("qualevents_query_label", default=None)


def current_label() -> QueryLabel:
    return _current.get() or _NONE


@contextmanager
def labelled(operation: str, key_id: str | None = None) -> Iterator[QueryLabel]:
    """Statements sent inside the block carry this label."""
    label = QueryLabel(operation, key_id)
    token = _current.set(label)
    try:
        yield label
    finally:
        _current.reset(token)
