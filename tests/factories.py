"""Test data shared by the suites: a minimal valid event and an actor."""

from __future__ import annotations

from typing import Any

from qualevents.models import IdTypeMapping, QualifyingEvent
from qualevents.store.base import Actor

ACTOR = Actor("k", "test")


def event(name: str, description: str = "", **fields: Any) -> QualifyingEvent:
    """A valid query event selecting ``user_id`` and ``ts`` (``fields`` override)."""
    return QualifyingEvent(
        **{
            "name": name,
            "description": description,
            "sql": "SELECT user_id, ts FROM t",
            "timestamp_column": "ts",
            "id_type_mapping": [IdTypeMapping(statsig_unit_id="userID", column="user_id")],
            **fields,
        }
    )
