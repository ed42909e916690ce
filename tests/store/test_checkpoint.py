"""WAL checkpoints of writes made on the event loop run in a background thread: the loop's
connections never checkpoint (that would block every request on the disk), and the
checkpointer keeps the log from growing without bound."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from qualevents.store.base import Actor
from qualevents.store.checkpoint import CHECKPOINT_EVERY, Checkpointer
from qualevents.store.sql import open_store
from tests.factories import event

ACTOR = Actor("k", "test")


def test_inline_connections_leave_checkpoints_to_the_thread(tmp_path: Path):
    store = open_store(f"sqlite:///{tmp_path / 'c.db'}")
    try:
        with store._inline_engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
    finally:
        store.close()


def test_the_thread_checkpoints_after_every_n_inline_commits(tmp_path: Path):
    path = tmp_path / "c.db"
    store = open_store(f"sqlite:///{path}")
    checkpointer = store._checkpointer
    every = CHECKPOINT_EVERY
    try:
        with checkpointer.checkpointed:
            before = checkpointer.checkpoints
        for i in range(every):
            with store.non_blocking():
                store.create_event(event(f"E{i}"), ACTOR)
        with checkpointer.checkpointed:
            assert checkpointer.checkpointed.wait_for(
                lambda: checkpointer.checkpoints > before, timeout=30
            )
        # Everything in the log made it into the database file.
        with sqlite3.connect(path) as conn:
            busy, log_frames, done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        assert busy == 0 and log_frames == done
    finally:
        store.close()


def test_closing_checkpoints_what_is_left(tmp_path: Path):
    path = tmp_path / "c.db"
    sqlite3.connect(path).execute("PRAGMA journal_mode=WAL").close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_autocheckpoint=0")
        conn.execute("CREATE TABLE t (x)")
        conn.execute("INSERT INTO t VALUES (1)")
    checkpointer = Checkpointer(str(path), every=1000)
    checkpointer.committed()
    checkpointer.close()
    assert checkpointer.checkpoints == 1
