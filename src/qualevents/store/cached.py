"""CachedStore: a store whose hot reads are answered from memory. Imports ``models``,
``errors``, ``store.base``, ``store.cache``, ``store.notify``.

One wrapper with one job: it caches three reads (an event by name, a key by hash, a page of
event documents) and passes every other call to the store it wraps, which knows nothing of
it. The database says when cached values went stale (migration 0004): on a SQLite file,
SQLite's change counter and the key generation keep the cache exact across processes
(store/cache.py); on PostgreSQL, triggers send ``NOTIFY`` on every committed change to
events or keys and the cache drops itself when one arrives (store/notify.py says how exact
that is; a server's own writes announce themselves right after they commit, see
``_written``). A process's own writes drop its cache as they return, so it reads its own
writes.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine

from qualevents.errors import QualifyingEventNotFound
from qualevents.models import (
    ApiKey,
    ChangeRequest,
    ChangeRequestStatus,
    KeyKind,
    QualifyingEvent,
    StoredQualifyingEvent,
)
from qualevents.store.base import Actor, BatchChange, Page, Store
from qualevents.store.cache import ChangeWatchedCache
from qualevents.store.notify import NotifiedCache

T = TypeVar("T")
EVENT_SPACES = ("event", "page")
KEY_SPACES = ("key",)


def _weight(value: Any) -> int:
    """A list page weighs its number of events: the page space holds at most 10,000 events
    whatever page sizes are asked for (each a copy, decoded and encoded)."""
    return len(value.items) if isinstance(value, Page) else 1


def _announce_after_commit(engine: Engine) -> None:
    """The engine's PostgreSQL connections leave change notifications to ``_written``
    (``NotifiedCache.announce``, after the commit); the trigger stays silent for them."""

    @sa_event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        dbapi_connection.execute("SET qualevents.notify = 'after_commit'")
        dbapi_connection.autocommit = autocommit

    engine.dispose()  # connections made before (the migration's) would notify twice


class CachedStore:
    """``store`` with its hot reads cached; every other attribute is the store's own.
    ``engine``: the store's, whose database tells the cache about changes."""

    def __init__(self, store: Store, engine: Engine) -> None:
        self.store: Any = store
        self.cache: ChangeWatchedCache | NotifiedCache | None = None
        if engine.dialect.name == "postgresql":
            self.cache = NotifiedCache(
                engine.url.set(drivername="postgresql").render_as_string(hide_password=False),
                origin=str(engine.url.query.get("application_name", "")),
                weigh=_weight,
            )
            _announce_after_commit(engine)
        elif engine.url.database not in (None, "", ":memory:"):
            self.cache = ChangeWatchedCache(
                engine,
                generations="SELECT space, generation FROM cache_generations",
                weigh=_weight,
            )

    def for_kind(self, kind: str) -> CachedStore:
        """This store for sources of ``kind``, sharing one cache (its keys name the kind)."""
        if kind == self.store.kind:
            return self
        other = object.__new__(CachedStore)
        other.store = self.store.for_kind(kind)
        other.cache = self.cache
        return other

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def _cached(
        self, space: str, key: Hashable, load: Callable[[], T | None], *, fresh: bool = False
    ) -> T | None:
        """``load()`` through the cache. ``fresh``: the answer must reflect every commit
        made anywhere before the call; a cache that is not exact (PostgreSQL's) is skipped."""
        if self.cache is None or (fresh and not self.cache.exact):
            return load()
        return self.cache.get(space, key, load)

    def _written(self, write: Callable[[], T], spaces: tuple[str, ...] = EVENT_SPACES) -> T:
        """Run a write of cached data in ``spaces``; afterwards this process no longer reads
        what it replaced (SQLite's change counter sees it anyway; PostgreSQL's own
        notification would come a moment later). Only those spaces are dropped: a create
        leaves the cached keys that every next request checks."""
        try:
            return write()
        finally:
            if isinstance(self.cache, NotifiedCache):
                self.cache.clear(spaces)
                # Even after a failure: a lost connection may have lost only the answer.
                self.cache.announce()

    # -- cached reads -------------------------------------------------------------------

    def get_event(self, name: str, *, fresh: bool = False) -> StoredQualifyingEvent | None:
        return self._cached(
            "event", (self.store.kind, name), lambda: self.store.get_event(name), fresh=fresh
        )

    def get_event_or_raise(self, name: str, *, fresh: bool = False) -> StoredQualifyingEvent:
        stored = self.get_event(name, fresh=fresh)
        if stored is None:
            raise QualifyingEventNotFound(name, self.store.noun)
        return stored

    def list_event_documents(self, offset: int, limit: int) -> Page[dict[str, Any]]:
        page = self._cached(
            "page",
            (self.store.kind, offset, limit),
            lambda: self.store.list_event_documents(offset, limit),
        )
        assert page is not None
        return page

    def get_key_by_hash(self, key_hash: str, *, fresh: bool = False) -> tuple[ApiKey, str] | None:
        return self._cached(
            "key", key_hash, lambda: self.store.get_key_by_hash(key_hash), fresh=fresh
        )

    # -- answers from memory alone (on the event loop) -----------------------------------

    def _peek(self, space: str, key: Hashable, *, fresh: bool = False) -> Any:
        """What ``_cached`` would return without loading: the cached value, or None when it
        is not in memory (or not certainly current). Never does I/O or waits on a lock."""
        if self.cache is None or (fresh and not self.cache.exact):
            return None
        return self.cache.peek(space, key)

    def peek_event(self, name: str) -> StoredQualifyingEvent | None:
        return self._peek("event", (self.store.kind, name))

    def peek_event_documents(self, offset: int, limit: int) -> Page[dict[str, Any]] | None:
        return self._peek("page", (self.store.kind, offset, limit))

    def peek_key_by_hash(self, key_hash: str, *, fresh: bool = False) -> tuple[ApiKey, str] | None:
        return self._peek("key", key_hash, fresh=fresh)

    # -- writes of cached data ----------------------------------------------------------

    def create_event(
        self, event: QualifyingEvent, actor: Actor, *, action: str = "create"
    ) -> StoredQualifyingEvent:
        return self._written(lambda: self.store.create_event(event, actor, action=action))

    def replace_event(
        self,
        event: QualifyingEvent,
        actor: Actor,
        *,
        action: str = "update",
        expected_revision: int | None = None,
    ) -> StoredQualifyingEvent:
        return self._written(
            lambda: self.store.replace_event(
                event, actor, action=action, expected_revision=expected_revision
            )
        )

    def rename_event(
        self,
        name: str,
        event: QualifyingEvent,
        actor: Actor,
        *,
        action: str = "update",
        expected_revision: int | None = None,
    ) -> StoredQualifyingEvent:
        return self._written(
            lambda: self.store.rename_event(
                name, event, actor, action=action, expected_revision=expected_revision
            )
        )

    def delete_event(
        self, name: str, actor: Actor, *, expected_revision: int | None = None
    ) -> None:
        self._written(
            lambda: self.store.delete_event(name, actor, expected_revision=expected_revision)
        )

    def apply_changes(
        self, changes: list[BatchChange], actor: Actor
    ) -> list[StoredQualifyingEvent | None]:
        return self._written(lambda: self.store.apply_changes(changes, actor))

    def create_key(self, key_id: str, name: str, kind: KeyKind, key_hash: str) -> ApiKey:
        return self._written(
            lambda: self.store.create_key(key_id, name, kind, key_hash), KEY_SPACES
        )

    def revoke_key(self, key_id: str) -> ApiKey | None:
        return self._written(lambda: self.store.revoke_key(key_id), KEY_SPACES)

    def decide_change_request(
        self,
        request_id: int,
        status: ChangeRequestStatus,
        reviewer: Actor,
        reason: str | None = None,
        apply: Callable[[Any], None] | None = None,
    ) -> ChangeRequest:
        return self._written(
            lambda: self.store.decide_change_request(request_id, status, reviewer, reason, apply)
        )

    def approve_change_request(
        self, request: ChangeRequest, reviewer: Actor, event: Any | None
    ) -> ChangeRequest:
        return self._written(lambda: self.store.approve_change_request(request, reviewer, event))

    # -- lifecycle ----------------------------------------------------------------------

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()
        self.store.close()
