"""Hot write statements run prepared on SQLite's cursor (_Prepared): they must write the
very bytes SQLAlchemy Core writes for the same statement and values, and fail the same."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from qualevents.errors import InvalidRequest
from qualevents.store.sql import _INSERT_EVENT, _INSERT_REVISION, _LAST_REVISION, open_store
from tests.factories import ACTOR, event

ROW = {
    "name": "E",
    "document": '{"name": "E"}',
    "revision": 3,
    "created_at": datetime(2026, 11, 28, 12, 30, 1, 123456, tzinfo=UTC),
    "updated_at": datetime(2026, 11, 28, 12, 30, 2, tzinfo=UTC),
}
REVISION = {
    "event_name": "E",
    "revision": 3,
    "action": "create",
    "document": None,
    "changes": "{}",
    "key_id": None,
    "key_name": "k",
    "created_at": datetime(2026, 11, 28, 12, 30, 1, tzinfo=UTC),
}


def raw_rows(path: Path, table: str) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()


def test_prepared_writes_the_bytes_core_writes(tmp_path: Path):
    through_core, prepared = tmp_path / "core.db", tmp_path / "prepared.db"
    core_store = open_store(f"sqlite:///{through_core}")
    store = open_store(f"sqlite:///{prepared}")
    try:
        with core_store._write() as conn:
            conn.execute(_INSERT_EVENT, ROW)
            conn.execute(_INSERT_REVISION, REVISION)
            assert conn.execute(_LAST_REVISION, {"name": "E"}).scalar() == 3
        with store._write() as conn:
            store._run(conn, _INSERT_EVENT, ROW)
            store._run(conn, _INSERT_REVISION, REVISION)
            assert store._run(conn, _LAST_REVISION, {"name": "E"}) == 3
            assert store._run(conn, _LAST_REVISION, {"name": "other"}) is None
        assert id(_INSERT_EVENT) in store._prepared  # the prepared path was taken
        for table in ("qualifying_events", "revisions"):
            assert raw_rows(prepared, table) == raw_rows(through_core, table)
        # ... and reads them back as Core does.
        assert store.get_event("E").created_at == ROW["created_at"]
    finally:
        core_store.close()
        store.close()


def test_a_duplicate_name_through_the_prepared_path_is_name_in_use(tmp_path: Path):
    store = open_store(f"sqlite:///{tmp_path / 'dup.db'}")
    try:
        store.create_event(event("E"), ACTOR)
        with pytest.raises(InvalidRequest) as raised:
            store.create_event(event("E"), ACTOR)
        assert raised.value.message == "Name is already in use"
        assert store.list_revisions("E", 0, 10).total == 1
    finally:
        store.close()
