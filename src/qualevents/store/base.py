"""The Store protocol and the plain records it returns. Imports ``models`` and ``errors``.

Every backend (SQLite, PostgreSQL, through ``SQLStore``) passes the same conformance suite in
``tests/store/``. Store methods translate their driver's exceptions into ``qualevents.errors``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from qualevents.models import ApiKey, KeyKind, QualifyingEvent, StoredQualifyingEvent

T = TypeVar("T")


@dataclass(frozen=True)
class Actor:
    """Who makes a change: the calling key (or the CLI acting locally)."""

    key_id: str | None
    key_name: str | None


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    # What callers derive from the page (its encoded response), kept with it: a store
    # cache hands out the same Page until a write replaces it, so the derivation is done
    # once per change, and dropped with the page.
    memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class Revision:
    """One immutable entry of an event's history."""

    event_name: str
    revision: int
    action: str  # create | update | patch | delete | restore
    document: dict[str, Any] | None
    changes: dict[str, dict[str, Any]]
    key_id: str | None
    key_name: str | None
    created_at: datetime
    kind: str = "qualifying_event"  # the source's kind (store.schema.DEFAULT_KIND)


class Store(Protocol):
    kind: str  # the kind of source this store reads and writes

    def for_kind(self, kind: str) -> Store:
        """The same store for sources of another kind."""
        ...

    def create_event(
        self, event: QualifyingEvent, actor: Actor, *, action: str = "create"
    ) -> StoredQualifyingEvent:
        """Insert; raises NameInUse when the name exists."""
        ...

    def get_event(self, name: str, *, fresh: bool = False) -> StoredQualifyingEvent | None:
        """``fresh``: reflecting every commit made anywhere before the call (mutations)."""
        ...

    def get_event_or_raise(self, name: str, *, fresh: bool = False) -> StoredQualifyingEvent: ...

    def list_events(self, offset: int, limit: int) -> Page[StoredQualifyingEvent]:
        """In creation order."""
        ...

    def list_event_documents(self, offset: int, limit: int) -> Page[dict[str, Any]]:
        """As ``list_events``, each event as its stored document (``to_document()``)."""
        ...

    def replace_event(
        self,
        event: QualifyingEvent,
        actor: Actor,
        *,
        action: str = "update",
        expected_revision: int | None = None,
    ) -> StoredQualifyingEvent:
        """Overwrite the event named ``event.name``; PreconditionFailed when
        ``expected_revision`` is given and is not the current one."""
        ...

    def delete_event(
        self, name: str, actor: Actor, *, expected_revision: int | None = None
    ) -> None: ...

    def list_revisions(self, name: str, offset: int, limit: int) -> Page[Revision]: ...

    def get_revision(self, name: str, revision: int) -> Revision | None: ...

    def list_all_revisions(
        self,
        offset: int,
        limit: int,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        actions: list[str] | None = None,
        event_name: str | None = None,
        key_id: str | None = None,
        newest_first: bool = True,
    ) -> Page[Revision]: ...

    def create_key(self, key_id: str, name: str, kind: KeyKind, key_hash: str) -> ApiKey: ...

    def get_key_by_hash(self, key_hash: str, *, fresh: bool = False) -> tuple[ApiKey, str] | None:
        """The key and its stored hash (for a constant-time comparison by the caller);
        ``fresh``: reflecting every commit made anywhere before the call."""
        ...

    def list_keys(self) -> list[ApiKey]: ...

    # Answers from memory alone, for the event loop: what the matching read would return
    # if it can be told without I/O or waiting (a cache's current entry), else None, which
    # means "ask the read" (never "not found").
    def peek_event(self, name: str) -> StoredQualifyingEvent | None: ...

    def peek_event_documents(self, offset: int, limit: int) -> Page[dict[str, Any]] | None: ...

    def peek_key_by_hash(
        self, key_hash: str, *, fresh: bool = False
    ) -> tuple[ApiKey, str] | None: ...

    def revoke_key(self, key_id: str) -> ApiKey | None: ...

    def ping(self) -> None:
        """Raise StoreUnavailable when the database cannot be reached."""
        ...

    def close(self) -> None: ...
