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


JOB_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
ACTIVE_JOB_STATUSES = ("queued", "running")


@dataclass(frozen=True)
class Job:
    """One analysis request as the store keeps it (``store.jobs``). ``request``, ``sources``
    (``[{"kind", "name", "revision"}]``), ``result``, ``error`` (the contract's error body)
    and ``timings`` are JSON values; ``owner`` is the server instance that runs it."""

    id: str
    analysis: str  # "filter_exposures", "power"
    source_kind: str
    source_name: str
    status: str  # JOB_STATUSES
    request: dict[str, Any]
    sources: list[dict[str, Any]]
    owner: str
    created_at: datetime
    heartbeat_at: datetime
    key_id: str | None = None
    key_name: str | None = None
    compiled_sql: str | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    timings: dict[str, Any] | None = None
    cancel_requested: bool = False

    @property
    def done(self) -> bool:
        return self.status not in ACTIVE_JOB_STATUSES


@dataclass(frozen=True)
class BatchChange:
    """One change of a batch the store applies in one transaction (``apply_changes``):
    ``create``/``update`` write ``event``; ``update``/``delete`` need the source at
    ``expected_revision``."""

    kind: str
    action: str  # create | update | delete
    name: str
    event: QualifyingEvent | None = None
    expected_revision: int | None = None


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

    def rename_event(
        self,
        name: str,
        event: QualifyingEvent,
        actor: Actor,
        *,
        action: str = "update",
        expected_revision: int | None = None,
    ) -> StoredQualifyingEvent:
        """Overwrite ``name`` with ``event``, which names it anew; its history moves to the
        new name. NameInUse when the new name is taken or has a history of its own."""
        ...

    def delete_event(
        self, name: str, actor: Actor, *, expected_revision: int | None = None
    ) -> None: ...

    def apply_changes(
        self, changes: list[BatchChange], actor: Actor
    ) -> list[StoredQualifyingEvent | None]:
        """All of ``changes`` (of any kinds) in one transaction, or none: the first that
        fails (PreconditionFailed, NameInUse, not found) rolls back those before it."""
        ...

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
