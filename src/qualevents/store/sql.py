"""SQLStore: the Store on SQLAlchemy Core, for SQLite (default) and PostgreSQL.
Imports ``models``, ``errors``, ``store.base``, ``store.engine``, ``store.schema``,
``store.reviews``, ``store.ratelimits``, ``store.jobs``, ``store.sessions``, ``store.reports``,
``store.cached``, ``store.migrate``.

Every statement is a Core statement executed through a SQLAlchemy ``Connection``; a write is
one transaction (``BEGIN IMMEDIATE`` on SQLite, see store/engine.py). PostgreSQL relies on
the unique name constraint and row locks; several server processes on one database behave
as one service. Reads are not cached here: ``store/cached.py`` wraps a store for that.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine

from qualevents.errors import (
    ErrorItem,
    NameInUse,
    PreconditionFailed,
    QualifyingEventNotFound,
    name_in_use,
)
from qualevents.models import (
    ApiKey,
    KeyKind,
    QualifyingEvent,
    StoredQualifyingEvent,
    document_changes,
    source_model,
)
from qualevents.store.base import Actor, BatchChange, Page, Revision
from qualevents.store.cached import CachedStore
from qualevents.store.engine import (
    WRITE,
    as_utc,
    create_engine_for,
    json_text,
    translate_errors,
    utc_now,
)
from qualevents.store.jobs import JobsMixin
from qualevents.store.migrate import upgrade
from qualevents.store.ratelimits import RateLimitsMixin
from qualevents.store.reports import ReportsMixin
from qualevents.store.reviews import ReviewsMixin
from qualevents.store.schema import DEFAULT_KIND, api_keys, qualifying_events, revisions
from qualevents.store.sessions import SessionsMixin

# The hot statements are built once, with bound parameters, and executed with a dict of
# values: building a statement and its cache key costs more than SQLite running it.
_EVENT_BY_NAME = sa.select(qualifying_events).where(
    qualifying_events.c.kind == sa.bindparam("kind"),
    qualifying_events.c.name == sa.bindparam("name"),
)
_EVENT_BY_NAME_FOR_UPDATE = _EVENT_BY_NAME.with_for_update()
_KEY_BY_HASH = sa.select(api_keys).where(api_keys.c.key_hash == sa.bindparam("key_hash"))
_LAST_REVISION = sa.select(sa.func.max(revisions.c.revision)).where(
    revisions.c.kind == sa.bindparam("kind"), revisions.c.event_name == sa.bindparam("name")
)
_INSERT_EVENT = qualifying_events.insert()
_INSERT_REVISION = revisions.insert()
_UPDATE_EVENT = (
    qualifying_events.update()
    .where(qualifying_events.c.id == sa.bindparam("row_id"))
    .values(
        document=sa.bindparam("document"),
        revision=sa.bindparam("revision"),
        updated_at=sa.bindparam("updated_at"),
    )
)
_RENAME_EVENT = (
    qualifying_events.update()
    .where(qualifying_events.c.id == sa.bindparam("row_id"))
    .values(name=sa.bindparam("new_name"))
)
_RENAME_HISTORY = (
    revisions.update()
    .where(
        revisions.c.kind == sa.bindparam("of_kind"),
        revisions.c.event_name == sa.bindparam("old_name"),
    )
    .values(event_name=sa.bindparam("new_name"))
)
_DELETE_EVENT = qualifying_events.delete().where(qualifying_events.c.id == sa.bindparam("row_id"))
# PostgreSQL: a create as one statement, the event (numbered after any earlier history of
# its name) and its first revision together; atomic on its own, so it runs in autocommit:
# one round trip instead of five (BEGIN, the number, two inserts, COMMIT).
_PG_CREATE = sa.text(
    """
    WITH event AS (
        INSERT INTO qualifying_events (kind, name, document, revision, created_at, updated_at)
        VALUES (CAST(:kind AS VARCHAR), CAST(:name AS VARCHAR), :document, (
            SELECT coalesce(max(revision), 0) + 1 FROM revisions
            WHERE kind = CAST(:kind AS VARCHAR) AND event_name = CAST(:name AS VARCHAR)
        ), CAST(:now AS TIMESTAMPTZ), CAST(:now AS TIMESTAMPTZ))
        RETURNING kind, name, document, revision, created_at
    )
    INSERT INTO revisions
        (kind, event_name, revision, action, document, changes, key_id, key_name, created_at)
    SELECT kind, name, revision, :action, document, :changes, :key_id, :key_name, created_at
    FROM event
    RETURNING revision
    """
)


class SQLStore(ReviewsMixin, RateLimitsMixin, JobsMixin, SessionsMixin, ReportsMixin):
    """The Store protocol over one SQLAlchemy engine, for one kind of source
    (``for_kind`` gives the same store for another kind)."""

    def __init__(self, engine: Engine, kind: str = DEFAULT_KIND) -> None:
        self.engine = engine
        self.kind = kind
        # PostgreSQL reads run in autocommit: under READ COMMITTED every statement takes a
        # snapshot of its own anyway, so BEGIN and ROLLBACK would only add two round trips.
        # SQLite reads begin a transaction: a count and its page see one snapshot.
        self._reader = (
            engine.execution_options(isolation_level="AUTOCOMMIT")
            if engine.dialect.name == "postgresql"
            else engine
        )

    def for_kind(self, kind: str) -> SQLStore:
        """This store (same engine and connections) for sources of ``kind``."""
        if kind == self.kind:
            return self
        other = copy.copy(self)
        other.kind = kind
        return other

    @property
    def noun(self) -> str:
        """The kind in words, for messages: "metric source"."""
        return self.kind.replace("_", " ")

    # -- plumbing -----------------------------------------------------------------------

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with translate_errors(), self._reader.connect() as conn:
            yield conn

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with translate_errors(), self.engine.connect() as conn:
            conn.execution_options(**{WRITE: True})
            with conn.begin():
                yield conn

    def _stored(self, row: sa.Row[Any]) -> StoredQualifyingEvent:
        return StoredQualifyingEvent(
            event=source_model(self.kind).from_document(json.loads(row.document)),
            created_at=as_utc(row.created_at),
            updated_at=as_utc(row.updated_at),
            revision=row.revision,
        )

    @staticmethod
    def _revision(row: sa.Row[Any]) -> Revision:
        return Revision(
            event_name=row.event_name,
            revision=row.revision,
            action=row.action,
            document=json.loads(row.document) if row.document is not None else None,
            changes=json.loads(row.changes),
            key_id=row.key_id,
            key_name=row.key_name,
            created_at=as_utc(row.created_at),
            kind=row.kind,
        )

    def _next_revision(self, conn: Connection, name: str) -> int:
        last = conn.execute(_LAST_REVISION, {"kind": self.kind, "name": name}).scalar()
        return (last or 0) + 1

    def _append_revision(
        self,
        conn: Connection,
        name: str,
        number: int,
        action: str,
        old: dict[str, Any] | None,
        new: dict[str, Any] | None,
        actor: Actor,
        now: datetime,
    ) -> int:
        conn.execute(
            _INSERT_REVISION,
            {
                "kind": self.kind,
                "event_name": name,
                "revision": number,
                "action": action,
                "document": json_text(new) if new is not None else None,
                "changes": json_text(document_changes(old, new)),
                "key_id": actor.key_id,
                "key_name": actor.key_name,
                "created_at": now,
            },
        )
        return number

    # -- qualifying events --------------------------------------------------------------

    def create_event(
        self, event: QualifyingEvent, actor: Actor, *, action: str = "create"
    ) -> StoredQualifyingEvent:
        if self.engine.dialect.name == "postgresql":
            with self._read() as conn:  # autocommit: the create is one statement
                return self._insert_in(conn, event, actor, action)
        with self._write() as conn:
            return self._insert_in(conn, event, actor, action)

    def _insert_in(
        self, conn: Connection, event: QualifyingEvent, actor: Actor, action: str
    ) -> StoredQualifyingEvent:
        document = event.to_document()
        now = utc_now()
        if conn.dialect.name == "postgresql":
            values = {
                "kind": self.kind,
                "name": event.name,
                "document": json_text(document),
                "now": now,
                "action": action,
                "changes": json_text(document_changes(None, document)),
                "key_id": actor.key_id,
                "key_name": actor.key_name,
            }
            try:
                number = conn.execute(_PG_CREATE, values).scalar_one()
            except sa_exc.IntegrityError as exc:
                raise name_in_use(event.name, self.noun) from exc
            return StoredQualifyingEvent(
                event=event, created_at=now, updated_at=now, revision=number
            )
        # A re-created name continues its history's numbering.
        number = self._next_revision(conn, event.name)
        try:
            # On PostgreSQL the unique index arbitrates between concurrent creates of one
            # name (on SQLite, BEGIN IMMEDIATE already serialized them). A failure aborts
            # the whole transaction, which is what the caller wants: no savepoint needed.
            conn.execute(
                _INSERT_EVENT,
                {
                    "kind": self.kind,
                    "name": event.name,
                    "document": json_text(document),
                    "revision": number,
                    "created_at": now,
                    "updated_at": now,
                },
            )
        except sa_exc.IntegrityError as exc:
            raise name_in_use(event.name, self.noun) from exc
        self._append_revision(conn, event.name, number, action, None, document, actor, now)
        return StoredQualifyingEvent(event=event, created_at=now, updated_at=now, revision=number)

    def get_event(self, name: str, *, fresh: bool = False) -> StoredQualifyingEvent | None:
        """Always as of now (``fresh`` matters only to a cache in front of the store)."""
        with self._read() as conn:
            row = conn.execute(_EVENT_BY_NAME, {"kind": self.kind, "name": name}).first()
        return self._stored(row) if row else None

    def get_event_or_raise(self, name: str, *, fresh: bool = False) -> StoredQualifyingEvent:
        stored = self.get_event(name, fresh=fresh)
        if stored is None:
            raise QualifyingEventNotFound(name, self.noun)
        return stored

    def list_events(self, offset: int, limit: int) -> Page[StoredQualifyingEvent]:
        rows, total = self._event_rows(offset, limit, qualifying_events)
        return Page([self._stored(row) for row in rows], total)

    def list_event_documents(self, offset: int, limit: int) -> Page[dict[str, Any]]:
        """As ``list_events``, but each event's stored document (``to_document()`` as it
        was written) without re-validating it: a page of models costs more than the query."""
        rows, total = self._event_rows(offset, limit, qualifying_events.c.document)
        return Page([json.loads(row.document) for row in rows], total)

    def _event_rows(self, offset: int, limit: int, *columns: Any) -> tuple[list[Any], int]:
        with self._read() as conn:
            of_kind = qualifying_events.c.kind == self.kind
            total = conn.execute(
                sa.select(sa.func.count()).select_from(qualifying_events).where(of_kind)
            ).scalar_one()
            rows = conn.execute(
                sa.select(*columns)
                .where(of_kind)
                .order_by(qualifying_events.c.id)
                .offset(offset)
                .limit(limit)
            ).all()
        return rows, total

    def _lock_current(
        self, conn: Connection, name: str, expected_revision: int | None
    ) -> sa.Row[Any]:
        query = _EVENT_BY_NAME_FOR_UPDATE if conn.dialect.name == "postgresql" else _EVENT_BY_NAME
        row = conn.execute(query, {"kind": self.kind, "name": name}).first()
        if row is None:
            raise QualifyingEventNotFound(name, self.noun)
        if expected_revision is not None and row.revision != expected_revision:
            raise PreconditionFailed(
                f"{self.noun.capitalize()} {name!r} is at revision {row.revision}, "
                f"not {expected_revision}: it changed since you read it"
            )
        return row

    def replace_event(
        self,
        event: QualifyingEvent,
        actor: Actor,
        *,
        action: str = "update",
        expected_revision: int | None = None,
    ) -> StoredQualifyingEvent:
        with self._write() as conn:
            return self._replace_in(conn, event, actor, action, expected_revision)

    def _replace_in(
        self,
        conn: Connection,
        event: QualifyingEvent,
        actor: Actor,
        action: str,
        expected_revision: int | None,
    ) -> StoredQualifyingEvent:
        document = event.to_document()
        now = utc_now()
        row = self._lock_current(conn, event.name, expected_revision)
        # The row holds its history's latest revision: the next one follows it.
        number = self._append_revision(
            conn,
            event.name,
            row.revision + 1,
            action,
            json.loads(row.document),
            document,
            actor,
            now,
        )
        conn.execute(
            _UPDATE_EVENT,
            {
                "row_id": row.id,
                "document": json_text(document),
                "revision": number,
                "updated_at": now,
            },
        )
        return StoredQualifyingEvent(
            event=event, created_at=as_utc(row.created_at), updated_at=now, revision=number
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
        """Replace ``name``'s definition with ``event``, which names it anew: its history
        moves with it (the new revision records the name's change) and ``name`` is free.
        A name in use, or one with a history of its own (a deleted source's), is refused."""
        with self._write() as conn:
            return self._rename_in(conn, name, event, actor, action, expected_revision)

    def _rename_in(
        self,
        conn: Connection,
        name: str,
        event: QualifyingEvent,
        actor: Actor,
        action: str,
        expected_revision: int | None,
    ) -> StoredQualifyingEvent:
        row = self._lock_current(conn, name, expected_revision)
        if self._next_revision(conn, event.name) > 1:
            message = (
                f"{event.name!r} holds the history of a deleted {self.noun}; choose another "
                "name (or restore that one)"
            )
            raise NameInUse(message, [ErrorItem(("name",), message)])
        try:
            conn.execute(_RENAME_EVENT, {"row_id": row.id, "new_name": event.name})
        except sa_exc.IntegrityError as exc:
            raise name_in_use(event.name, self.noun) from exc
        conn.execute(
            _RENAME_HISTORY, {"of_kind": self.kind, "old_name": name, "new_name": event.name}
        )
        return self._replace_in(conn, event, actor, action, None)

    def delete_event(
        self, name: str, actor: Actor, *, expected_revision: int | None = None
    ) -> None:
        with self._write() as conn:
            self._delete_in(conn, name, actor, expected_revision)

    def _delete_in(
        self, conn: Connection, name: str, actor: Actor, expected_revision: int | None
    ) -> None:
        row = self._lock_current(conn, name, expected_revision)
        self._append_revision(
            conn,
            name,
            row.revision + 1,
            "delete",
            json.loads(row.document),
            None,
            actor,
            utc_now(),
        )
        conn.execute(_DELETE_EVENT, {"row_id": row.id})

    def apply_changes(
        self, changes: list[BatchChange], actor: Actor
    ) -> list[StoredQualifyingEvent | None]:
        """Every change, in order, in one transaction: an error in any rolls back all."""
        done: list[StoredQualifyingEvent | None] = []
        with self._write() as conn:
            for change in changes:
                store = self.for_kind(change.kind)
                if change.action == "create":
                    assert change.event is not None
                    done.append(store._insert_in(conn, change.event, actor, "create"))
                elif change.action == "update":
                    assert change.event is not None
                    done.append(
                        store._replace_in(
                            conn, change.event, actor, "update", change.expected_revision
                        )
                    )
                elif change.action == "delete":
                    store._delete_in(conn, change.name, actor, change.expected_revision)
                    done.append(None)
                else:
                    raise ValueError(change.action)
        return done

    # -- history ------------------------------------------------------------------------

    def list_revisions(self, name: str, offset: int, limit: int) -> Page[Revision]:
        return self.list_all_revisions(offset, limit, event_name=name, newest_first=False)

    def get_revision(self, name: str, revision: int) -> Revision | None:
        with self._read() as conn:
            row = conn.execute(
                sa.select(revisions).where(
                    revisions.c.kind == self.kind,
                    revisions.c.event_name == name,
                    revisions.c.revision == revision,
                )
            ).first()
        return self._revision(row) if row else None

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
        kind: str | None = "",
    ) -> Page[Revision]:
        """The history, newest first unless told otherwise; ``kind``: of this store's kind
        by default, of another kind when named, of every kind when None."""
        conditions = []
        kind = self.kind if kind == "" else kind
        if kind is not None:
            conditions.append(revisions.c.kind == kind)
        if since is not None:
            conditions.append(revisions.c.created_at >= since)
        if until is not None:
            conditions.append(revisions.c.created_at < until)
        if actions is not None:
            conditions.append(revisions.c.action.in_(actions))
        if event_name is not None:
            conditions.append(revisions.c.event_name == event_name)
        if key_id is not None:
            conditions.append(revisions.c.key_id == key_id)
        order = revisions.c.id.desc() if newest_first else revisions.c.id.asc()
        with self._read() as conn:
            total = conn.execute(
                sa.select(sa.func.count()).select_from(revisions).where(*conditions)
            ).scalar_one()
            rows = conn.execute(
                sa.select(revisions).where(*conditions).order_by(order).offset(offset).limit(limit)
            ).all()
        return Page([self._revision(row) for row in rows], total)

    # -- keys ---------------------------------------------------------------------------

    @staticmethod
    def _key(row: sa.Row[Any]) -> ApiKey:
        return ApiKey(
            id=row.id,
            name=row.name,
            kind=KeyKind(row.kind),
            created_at=as_utc(row.created_at),
            revoked_at=as_utc(row.revoked_at),
        )

    def create_key(self, key_id: str, name: str, kind: KeyKind, key_hash: str) -> ApiKey:
        now = utc_now()
        with self._write() as conn:
            conn.execute(
                api_keys.insert().values(
                    id=key_id, name=name, kind=kind.value, key_hash=key_hash, created_at=now
                )
            )
        return ApiKey(id=key_id, name=name, kind=kind, created_at=now)

    def get_key_by_hash(self, key_hash: str, *, fresh: bool = False) -> tuple[ApiKey, str] | None:
        """The key with this hash, as of now (``fresh`` matters only to a cache)."""
        with self._read() as conn:
            row = conn.execute(_KEY_BY_HASH, {"key_hash": key_hash}).first()
        return (self._key(row), row.key_hash) if row else None

    # Nothing is held in memory here (CachedStore answers these from its cache).
    def peek_event(self, name: str) -> StoredQualifyingEvent | None:
        return None

    def peek_event_documents(self, offset: int, limit: int) -> Page[dict[str, Any]] | None:
        return None

    def peek_key_by_hash(self, key_hash: str, *, fresh: bool = False) -> tuple[ApiKey, str] | None:
        return None

    def list_keys(self) -> list[ApiKey]:
        with self._read() as conn:
            rows = conn.execute(sa.select(api_keys).order_by(api_keys.c.created_at)).all()
        return [self._key(row) for row in rows]

    def revoke_key(self, key_id: str) -> ApiKey | None:
        with self._write() as conn:
            conn.execute(
                api_keys.update()
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=utc_now())
            )
            row = conn.execute(sa.select(api_keys).where(api_keys.c.id == key_id)).first()
        return self._key(row) if row else None

    # -- lifecycle ----------------------------------------------------------------------

    def ping(self) -> None:
        with self._read() as conn:
            conn.execute(sa.text("SELECT 1"))

    def close(self) -> None:
        self.engine.dispose()


def open_store(url: str, *, migrate: bool = True, cache: bool = True) -> SQLStore | CachedStore:
    """A store on ``url``, its schema brought up to date unless ``migrate`` is False; its
    hot reads cached (``CachedStore``, one wrapper around the ``SQLStore``) unless ``cache``
    is False."""
    engine = create_engine_for(url)
    if migrate:
        upgrade(engine)
    store = SQLStore(engine)
    return CachedStore(store, engine) if cache else store
