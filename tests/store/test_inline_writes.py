"""Writes on the event loop (SQLite): inside ``non_blocking()`` a write never waits. When
another process holds SQLite's write lock it stops with WouldBlock having written
nothing, and the API runs the use case again in a thread, where it waits its turn."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from qualevents.store.base import Actor, WouldBlock
from qualevents.store.sql import open_store
from tests.factories import event

ACTOR = Actor("k", "test")
BASE = "/console/v1/experiments/qualifying_events"


def body(name: str) -> dict[str, object]:
    return {
        "name": name,
        "sql": "SELECT user_id, ts FROM t",
        "timestampColumn": "ts",
        "idTypeMapping": [{"statsigUnitID": "userID", "column": "user_id"}],
    }


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    return tmp_path / "inline.db"


@pytest.fixture
def other_process_lock(sqlite_path: Path):
    """Another connection (as another process would) that can take the write lock."""
    holder = sqlite3.connect(sqlite_path, isolation_level=None, check_same_thread=False)
    yield holder
    if holder.in_transaction:
        holder.execute("ROLLBACK")
    holder.close()


def test_only_sqlite_files_write_inline(sqlite_path, store):
    local = open_store(f"sqlite:///{sqlite_path}")
    try:
        assert local.inline_writes
    finally:
        local.close()
    if store.engine.dialect.name == "postgresql":
        assert not store.inline_writes


@pytest.fixture
def postgres_store(postgres_database_url):
    opened = open_store(postgres_database_url)
    yield opened
    opened.close()


def test_postgres_refuses_every_round_trip_inside_non_blocking(postgres_store):
    store = postgres_store
    store.delete_event("E", ACTOR) if store.get_event("E") else None
    with pytest.raises(WouldBlock), store.non_blocking():
        store.create_event(event("E"), ACTOR)
    assert store.get_event("E") is None  # nothing was written; now it is cached (a miss)
    with pytest.raises(WouldBlock), store.non_blocking():
        store.list_revisions("E", 0, 10)
    store.create_event(event("E"), ACTOR)
    with pytest.raises(WouldBlock), store.non_blocking():
        store.get_event("E")  # not cached yet: a round trip
    assert store.get_event("E") is not None  # cached now
    with store.non_blocking():
        assert store.get_event("E").event.name == "E"  # a hit needs no round trip


def test_a_non_blocking_write_commits_when_the_lock_is_free(sqlite_path):
    store = open_store(f"sqlite:///{sqlite_path}")
    try:
        with store.non_blocking():
            store.create_event(event("E"), ACTOR)
        assert store.get_event("E") is not None
        assert [r.action for r in store.list_revisions("E", 0, 10).items] == ["create"]
    finally:
        store.close()


def test_a_non_blocking_write_stops_at_once_and_writes_nothing(sqlite_path, other_process_lock):
    store = open_store(f"sqlite:///{sqlite_path}")
    try:
        other_process_lock.execute("BEGIN IMMEDIATE")
        with pytest.raises(WouldBlock), store.non_blocking():
            store.create_event(event("E"), ACTOR)
        other_process_lock.execute("ROLLBACK")
        assert store.get_event("E") is None
        assert store.list_revisions("E", 0, 10).total == 0
        # Outside non_blocking() the same write waits for the lock as before.
        store.create_event(event("E"), ACTOR)
        assert store.get_event("E") is not None
    finally:
        store.close()


def test_a_non_blocking_write_stops_while_this_process_writes_in_a_thread(sqlite_path):
    store = open_store(f"sqlite:///{sqlite_path}")
    in_write, release = threading.Event(), threading.Event()

    def slow_writer() -> None:
        with store._write():
            in_write.set()
            release.wait(10)

    writer = threading.Thread(target=slow_writer)
    writer.start()
    try:
        assert in_write.wait(10)
        with pytest.raises(WouldBlock), store.non_blocking():
            store.create_event(event("E"), ACTOR)
    finally:
        release.set()
        writer.join()
    assert store.get_event("E") is None
    store.close()
