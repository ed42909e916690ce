"""The one connection cache of the warehouse adapters. Imports nothing from the package.

- :class:`Pool`: a bounded pool of DB-API connections (PostgreSQL, Redshift, Snowflake,
  Databricks, Trino). Each statement checks one out, so statements run side by side
  instead of queueing behind one lock; a connection that is not healthy afterwards (closed,
  broken, left inside a transaction) is closed instead of being handed out again.
- :class:`Shared`: one lazily opened client that is safe to share between threads (a DuckDB
  database, whose cursors are independent connections; the BigQuery and ClickHouse
  clients), reopened after :meth:`Shared.close`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Generic, TypeVar

T = TypeVar("T")


def _close_quietly(close: Callable[[T], None], connection: T) -> None:
    with suppress(Exception):  # closing a broken connection is best-effort
        close(connection)


class Pool(Generic[T]):
    """At most ``size`` connections; a caller beyond that waits for one to come back.

    The owner passes its ``open`` and ``healthy`` callbacks on each checkout rather than
    the pool keeping them, so an adapter and its pool form no reference cycle: an adapter
    dropped without ``close()`` closes its connections at once."""

    def __init__(self, close: Callable[[T], None], *, size: int = 8) -> None:
        self._close = close
        self.size = max(1, size)
        self._slots = threading.BoundedSemaphore(self.size)
        self._idle: list[T] = []
        self._lock = threading.Lock()
        self._generation = 0
        self.opened = 0  # connections made so far (tests and the bench read it)

    @contextmanager
    def connection(
        self, open: Callable[[], T], healthy: Callable[[T], bool] | None = None
    ) -> Iterator[T]:
        """A connection for the block (an idle one, or a new one from ``open``); afterwards
        it is kept only if ``healthy(connection)`` (default: kept unless the block
        raised)."""
        self._slots.acquire()
        try:
            with self._lock:
                generation = self._generation
                connection = self._idle.pop() if self._idle else None
            if connection is None:
                connection = open()
                with self._lock:
                    self.opened += 1
            keep = False
            try:
                yield connection
                keep = True
            finally:
                keep = self._still_healthy(healthy, connection, keep)
                with self._lock:
                    keep = keep and generation == self._generation
                    if keep:
                        self._idle.append(connection)
                if not keep:
                    _close_quietly(self._close, connection)
        finally:
            self._slots.release()

    @staticmethod
    def _still_healthy(healthy: Callable[[T], bool] | None, connection: T, ok: bool) -> bool:
        if healthy is None:
            return ok
        try:
            return bool(healthy(connection))
        except Exception:
            return False

    @property
    def idle(self) -> int:
        with self._lock:
            return len(self._idle)

    def close(self) -> None:
        """Close the idle connections; those in use are closed when they come back."""
        with self._lock:
            idle, self._idle = self._idle, []
            self._generation += 1
        for connection in idle:
            _close_quietly(self._close, connection)


class Shared(Generic[T]):
    """One client made on first use and shared by every thread (``open`` is passed on each
    ``get``, for the same reason as :class:`Pool`'s)."""

    def __init__(self, close: Callable[[T], None]) -> None:
        self._close = close
        self._value: T | None = None
        self._lock = threading.RLock()

    def get(self, open: Callable[[], T]) -> T:
        with self._lock:
            if self._value is None:
                self._value = open()
            return self._value

    def set(self, value: T | None) -> None:
        """Use ``value`` (tests hand in a client made elsewhere)."""
        with self._lock:
            self._value = value

    @property
    def is_open(self) -> bool:
        return self._value is not None

    @property
    def lock(self) -> threading.RLock:
        """Held while the client is opened or closed (DuckDB's writer holds it too)."""
        return self._lock

    def close(self) -> None:
        with self._lock:
            value, self._value = self._value, None
        if value is not None:
            _close_quietly(self._close, value)
