"""A read cache for the PostgreSQL store, dropped by ``LISTEN``/``NOTIFY``. Imports
``store.cache`` only.

Every statement that changes cached data (events, keys) sends ``NOTIFY`` on ``CHANNEL``
from a trigger (migration 0004), with the writing connection's ``application_name`` as
payload; PostgreSQL delivers it to every listening connection when, and only if, the
transaction commits. A qualevents server's own connections keep the trigger silent and
``announce`` each change right after it commits instead (migration 0010: a ``NOTIFY``
inside the transaction serializes every writer's commit). Each cache keeps one listening
connection in a thread and drops its whole content on each notification from another
process (``origin``: this process's ``application_name``; its own writes drop its cache as
they return, see store/cached.py).

What this does not give, unlike the SQLite cache: a commit in *another* process is seen once
its notification arrives (about a millisecond on one network, more across a slow one), not
at the instant of commit. Callers that must see every commit (a mutation checking its key)
ask the store for a fresh read. While the listening connection is down nothing is cached and
every read goes to the database; the cache comes back, empty, when the connection does.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from qualevents.store.cache import MAX_ENTRIES, Spaces, weigh_one

log = logging.getLogger("qualevents.store")
T = TypeVar("T")
CHANNEL = "qualevents_changes"
# Waits between reconnection attempts of the listening connection (seconds).
RECONNECT_DELAYS = (0.05, 0.2, 1.0, 2.0)
# How long the listener waits for a notification before looking whether it should stop.
POLL_S = 1.0


class NotifiedCache:
    # Another process's commit is seen when its notification arrives, not at commit.
    exact = False

    def __init__(
        self,
        conninfo: str,
        *,
        origin: str,
        max_entries: int = MAX_ENTRIES,
        weigh: Callable[[Any], int] = weigh_one,
    ) -> None:
        self._conninfo = conninfo
        self._lock = threading.Lock()
        self._spaces = Spaces(max_entries, weigh)
        # Bumped on every drop; a value read across a bump is not kept.
        self._version = 0
        self._listening = False
        self._stopping = threading.Event()
        self._stop_channel = f"qualevents_stop_{uuid.uuid4().hex}"
        # The payload of this process's own notifications: it has dropped its cache already.
        self.origin = origin
        # Counts other processes' notifications (tests wait on it to see one arrive).
        self.notifications = 0
        self.notified = threading.Condition()
        # The connection that announces this process's changes (``announce``).
        self._announcer: Any = None
        self._announce_lock = threading.Lock()
        # Announcements asked for and covered so far (``announce`` shares them).
        self._tickets = threading.Lock()
        self._requested = 0
        self._announced = 0
        # Counts the listener's (re)connections.
        self.connections = 0
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="qualevents-notify", daemon=True)
        self._thread.start()
        # Start with the cache on when the database answers quickly; otherwise reads go to
        # the database until the listener is up.
        self._ready.wait(timeout=5)

    @property
    def listening(self) -> bool:
        return self._listening

    def get(self, space: str, key: Hashable, load: Callable[[], T | None]) -> T | None:
        with self._lock:
            if not self._listening:
                version = None
            else:
                version = self._version
                found = self._spaces.get(space, key)
                if found is not None:
                    return found
        value = load()
        if value is not None and version is not None:
            with self._lock:
                if self._listening and self._version == version:
                    self._spaces.put(space, key, value)
        return value

    def peek(self, space: str, key: Hashable) -> Any:
        """The cached value, or None (not cached, not listening, or the lock busy): never
        loads and never waits, so it may run on the event loop."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            return self._spaces.get(space, key) if self._listening else None
        finally:
            self._lock.release()

    def clear(self, spaces: tuple[str, ...] | None = None) -> None:
        """Forget the values of ``spaces`` (all when None), and any load in flight."""
        with self._lock:
            self._drop(spaces)

    def _drop(self, spaces: tuple[str, ...] | None = None) -> None:
        """Forget the values of ``spaces`` (every one when None), and any load in flight
        (the caller holds the lock)."""
        if spaces is None:
            self._spaces.clear()
        else:
            for space in spaces:
                self._spaces.drop(space)
        self._version += 1

    def announce(self) -> None:
        """Tell every other process that this one committed a change to cached data: a
        ``NOTIFY`` in a transaction of its own, committed without waiting for the disk
        (a lost notification costs nothing to durability), on a connection kept for it.
        Called after the change committed; see migration 0010 for why not inside it. A
        failure is logged, not raised: the change itself is committed.

        Concurrent writers share announcements: one sent after a writer's call began
        covers that writer's change too (it was committed by then), so under load one
        ``NOTIFY`` goes out per round trip, not one per write."""
        import psycopg

        with self._tickets:
            self._requested += 1
            ticket = self._requested
        with self._announce_lock:
            if self._announced >= ticket:
                return  # a notification sent after this change committed covers it
            with self._tickets:
                covered = self._requested
            self._announced = covered  # even if the send fails: it is not retried later
            for attempt in range(2):
                try:
                    if self._announcer is None or self._announcer.closed:
                        self._announcer = psycopg.connect(
                            self._conninfo, autocommit=True, connect_timeout=5
                        )
                        self._announcer.execute("SET synchronous_commit = off")
                    self._announcer.execute("SELECT pg_notify(%s, %s)", (CHANNEL, self.origin))
                    return
                except psycopg.Error:
                    if self._announcer is not None:
                        self._announcer.close()
                    self._announcer = None
                    if attempt:
                        log.warning("could not announce a change to other processes' caches")

    def _notified(self) -> None:
        """Another process committed a change."""
        self.clear()
        with self.notified:
            self.notifications += 1
            self.notified.notify_all()

    # -- the listening thread ------------------------------------------------------------

    def _listen(self) -> None:
        import psycopg  # here: a SQLite deployment never loads the driver (its RSS: benchmarks.md)

        failures = 0
        while not self._stopping.is_set():
            try:
                with psycopg.connect(
                    self._conninfo, autocommit=True, connect_timeout=5
                ) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    connection.execute(f"LISTEN {self._stop_channel}")
                    # Anything committed before LISTEN took effect was never notified.
                    with self._lock:
                        self._drop()
                        self._listening = True
                    with self.notified:
                        self.connections += 1
                        self.notified.notify_all()
                    self._ready.set()
                    if failures:
                        log.warning("cache listener reconnected; caching again")
                    failures = 0
                    while not self._stopping.is_set():
                        # The timeout only bounds how long close() waits for this thread.
                        for notification in connection.notifies(timeout=POLL_S):
                            if notification.channel == self._stop_channel:
                                break
                            if notification.payload != self.origin:
                                self._notified()
            except psycopg.Error:
                # Said once per outage, not at every attempt to reconnect.
                if not self._stopping.is_set() and failures == 0:
                    log.warning("cache listener lost its connection; reads go to the database")
            finally:
                with self._lock:
                    self._listening = False
                    self._drop()
                self._ready.set()
            delay = RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)]
            failures += 1
            self._stopping.wait(delay)

    def close(self) -> None:
        import psycopg

        self._stopping.set()
        if self._listening:
            # Wake the thread out of its wait at once, on a channel only it listens to.
            try:
                with psycopg.connect(self._conninfo, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"NOTIFY {self._stop_channel}")
            except psycopg.Error:
                pass
        self._thread.join(timeout=10)
        with self._announce_lock:
            if self._announcer is not None:
                self._announcer.close()
                self._announcer = None
