"""A read cache for the SQLite store, kept exact by SQLite's change counter. Imports
nothing from the package.

``PRAGMA data_version`` on a connection of its own changes whenever any other connection,
in this process or another, commits to the database file. Every cached read first asks it
(a few microseconds, no disk access) and drops the cache when it moved, so a read never
returns what a committed write has replaced, and a revoked key is refused on the next
request, from any process. Spaces with a generation counter (keys) are dropped only when
their counter moved too: a commit that changed only events keeps the cached keys. Values
are only cached when no commit happened while they were being read. Misses are not cached
(unknown keys and names are attacker-chosen), and each space is bounded.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy.engine import Engine

T = TypeVar("T")
MAX_ENTRIES = 10_000


def weigh_one(_value: Any) -> int:
    return 1


class Spaces:
    """Cached values by space, each space holding at most ``max_weight``: a value weighs
    ``weigh(value)`` (1 by default; the store weighs a list page by its number of events, so
    no choice of page sizes can make the page space hold more than ``max_weight`` events).
    A new value makes room by dropping the space's oldest values (first in, first out), so
    one kind's pages filling the space cannot keep another kind's out; a value heavier than
    the whole space is not kept. Not thread-safe: callers hold a lock."""

    def __init__(self, max_weight: int, weigh: Callable[[Any], int] = weigh_one) -> None:
        self._max_weight = max_weight
        self._weigh = weigh
        self._entries: dict[str, dict[Hashable, Any]] = {}
        self._weights: dict[str, int] = {}

    def get(self, space: str, key: Hashable) -> Any:
        return self._entries.get(space, {}).get(key)

    def put(self, space: str, key: Hashable, value: Any) -> None:
        entries = self._entries.setdefault(space, {})
        if key in entries:
            return
        weight = self._weigh(value)
        if weight > self._max_weight:
            return
        total = self._weights.get(space, 0)
        while entries and total + weight > self._max_weight:
            total -= self._weigh(entries.pop(next(iter(entries))))
        entries[key] = value
        self._weights[space] = total + weight

    def names(self) -> list[str]:
        return list(self._entries)

    def drop(self, space: str) -> None:
        self._entries.pop(space, None)
        self._weights.pop(space, None)

    def clear(self) -> None:
        self._entries.clear()
        self._weights.clear()


class ChangeWatchedCache:
    """Exact: a value is never returned after a commit replaced it.

    ``generations``: a query returning ``(space, generation)`` rows for the spaces whose
    writers bump a counter in the same transaction; a commit that left a space's counter
    alone leaves that space cached. Every other space is dropped on any commit."""

    exact = True

    def __init__(
        self,
        engine: Engine,
        max_entries: int = MAX_ENTRIES,
        generations: str | None = None,
        weigh: Callable[[Any], int] = weigh_one,
    ) -> None:
        # A connection of our own, never used for anything else: data_version counts the
        # commits of *other* connections, which is every writer.
        self._watch = engine.raw_connection()
        self._watch_lock = threading.Lock()
        self._lock = threading.Lock()
        self._generations_query = generations
        self._version = self._data_version()
        self._generations = self._read_generations()
        self._spaces = Spaces(max_entries, weigh)

    def _data_version(self) -> int:
        with self._watch_lock:
            return self._version_now()

    def _version_now(self) -> int:
        """The change counter (the caller holds the watch lock)."""
        cursor = self._watch.cursor()
        try:
            cursor.execute("PRAGMA data_version")
            return int(cursor.fetchone()[0])
        finally:
            cursor.close()

    def _read_generations(self) -> dict[str, int]:
        if self._generations_query is None:
            return {}
        with self._watch_lock:
            cursor = self._watch.cursor()
            try:
                cursor.execute(self._generations_query)
                return {str(space): int(generation) for space, generation in cursor.fetchall()}
            except sqlite3.OperationalError:
                return {}  # not migrated yet: every space is dropped on every commit
            finally:
                cursor.close()

    def get(self, space: str, key: Hashable, load: Callable[[], T | None]) -> T | None:
        version = self._data_version()
        if version != self._version:
            # Read after the version: a commit in between moves the version again, and the
            # next get looks again.
            generations = self._read_generations()
            with self._lock:
                if version != self._version:
                    for name in self._spaces.names():
                        generation = generations.get(name)
                        if generation is None or generation != self._generations.get(name):
                            self._spaces.drop(name)
                    self._version = version
                    self._generations = generations
        with self._lock:
            found = self._spaces.get(space, key)
        if found is not None:
            return found
        value = load()
        # Keep it only if nothing was committed since the check above: the value may have
        # been read before that commit. (A commit after this second look is caught by the
        # next get's first look, before anything is returned.)
        if value is not None and self._data_version() == version:
            with self._lock:
                if self._version == version:
                    self._spaces.put(space, key, value)
        return value

    def peek(self, space: str, key: Hashable) -> Any:
        """The cached value if it is certainly current, else None (not cached, a commit
        since the last look, or another thread busy with the watch connection): never
        loads and never waits, so it may run on the event loop. ``get`` does the rest."""
        if not self._watch_lock.acquire(blocking=False):
            return None
        try:
            version = self._version_now()
        finally:
            self._watch_lock.release()
        if not self._lock.acquire(blocking=False):
            return None
        try:
            return self._spaces.get(space, key) if version == self._version else None
        finally:
            self._lock.release()

    def clear(self, spaces: tuple[str, ...] | None = None) -> None:
        """Forget the values of ``spaces`` (all when None)."""
        with self._lock:
            if spaces is None:
                self._spaces.clear()
                self._generations = {}
            else:
                for space in spaces:
                    self._spaces.drop(space)

    def close(self) -> None:
        with self._watch_lock:
            self._watch.close()
