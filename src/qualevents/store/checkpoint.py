"""Background WAL checkpoints for writes made on the event loop. Imports nothing from the
package.

SQLite copies its write-ahead log back into the database file (a checkpoint, with an fsync)
once the log passes 1,000 pages, in whichever commit crosses the line. When that commit runs
on the event loop, every request waits for the disk: tens of milliseconds on a slow one.
Connections that write on the loop therefore turn automatic checkpoints off, and this thread
runs a PASSIVE checkpoint (it never blocks readers or writers) on a connection of its own
after every ``every`` commits they report.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

log = logging.getLogger("qualevents.store")
CHECKPOINT_EVERY = 100


class Checkpointer:
    def __init__(self, path: str, every: int = CHECKPOINT_EVERY) -> None:
        self._path = path
        self._every = every
        self._commits = 0
        self._lock = threading.Lock()
        self._due = threading.Event()
        self._stopping = False
        self.checkpoints = 0
        self.checkpointed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="qualevents-checkpoint", daemon=True)
        self._thread.start()

    def committed(self) -> None:
        """One more commit by a connection without automatic checkpoints."""
        with self._lock:
            self._commits += 1
            if self._commits < self._every:
                return
            self._commits = 0
        self._due.set()

    def _checkpoint(self) -> None:
        try:
            with sqlite3.connect(self._path, timeout=30) as conn:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            conn.close()
            with self.checkpointed:
                self.checkpoints += 1
                self.checkpointed.notify_all()
        except sqlite3.Error:
            # Not fatal: the log just grows until the next checkpoint succeeds.
            log.warning("WAL checkpoint failed; will retry", exc_info=True)

    def _run(self) -> None:
        while True:
            self._due.wait()
            self._due.clear()
            if self._stopping:
                return
            self._checkpoint()

    def close(self) -> None:
        self._stopping = True
        self._due.set()
        self._thread.join(timeout=30)
        if self._commits:
            self._checkpoint()
