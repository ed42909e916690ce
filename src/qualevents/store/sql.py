"""SQLStore: the Store on SQLAlchemy Core, for SQLite (default) and PostgreSQL.
Imports ``models``, ``errors``, ``store.base``, ``store.schema``, ``store.migrate``.

SQLite runs in WAL mode with a busy timeout; write transactions start with BEGIN IMMEDIATE so
that concurrent writers queue instead of failing on a stale snapshot. PostgreSQL relies on
the unique name constraint and row locks; several server processes on one database behave
as one service.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from pydantic_core import to_json
from sqlalchemy import event as sa_event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine

from qualevents.errors import (
    ConfigurationError,
    PreconditionFailed,
    QualifyingEventNotFound,
    StoreUnavailable,
    name_in_use,
)
from qualevents.models import (
    ApiKey,
    KeyKind,
    QualifyingEvent,
    StoredQualifyingEvent,
    document_changes,
)
from qualevents.store.base import Actor, Page, Revision, WouldBlock
from qualevents.store.cache import ChangeWatchedCache
from qualevents.store.checkpoint import Checkpointer
from qualevents.store.notify import CHANNEL as NOTIFY_CHANNEL
from qualevents.store.notify import NotifiedCache
from qualevents.store.ratelimits import RateLimitsMixin
from qualevents.store.reviews import ReviewsMixin
from qualevents.store.schema import api_keys, cache_generations, qualifying_events, revisions

T = TypeVar("T")
_WRITE = "qualevents_write"
# A read of one statement needs no transaction: on SQLite no BEGIN (our listener), on
# PostgreSQL autocommit (no BEGIN/ROLLBACK round trips). That halves the cost of the key
# lookup every request makes.
_SINGLE_READ = "qualevents_single_read"


# Built once: constructing and cache-keying a statement costs more than SQLite running it.
_EVENT_BY_NAME = sa.select(qualifying_events).where(
    qualifying_events.c.name == sa.bindparam("name")
)
_KEY_BY_HASH = sa.select(api_keys).where(api_keys.c.key_hash == sa.bindparam("key_hash"))
_BUMP_KEYS_GENERATION = (
    cache_generations.update()
    .where(cache_generations.c.space == "key")
    .values(generation=cache_generations.c.generation + 1)
)
_INSERT_EVENT = qualifying_events.insert()
_INSERT_REVISION = revisions.insert()
_LAST_REVISION = sa.select(sa.func.max(revisions.c.revision)).where(
    revisions.c.event_name == sa.bindparam("name")
)
_UPDATE_EVENT = (
    qualifying_events.update()
    .where(qualifying_events.c.id == sa.bindparam("row_id"))
    .values(
        document=sa.bindparam("document"),
        revision=sa.bindparam("revision"),
        updated_at=sa.bindparam("updated_at"),
    )
)
_DELETE_EVENT = qualifying_events.delete().where(qualifying_events.c.id == sa.bindparam("row_id"))
_PREPARED_KEYS: list[tuple[Any, list[str]]] = [
    (_INSERT_EVENT, ["name", "document", "revision", "created_at", "updated_at"]),
    (
        _INSERT_REVISION,
        [
            "event_name",
            "revision",
            "action",
            "document",
            "changes",
            "key_id",
            "key_name",
            "created_at",
        ],
    ),
    (_LAST_REVISION, ["name"]),
    (_UPDATE_EVENT, ["row_id", "document", "revision", "updated_at"]),
    (_DELETE_EVENT, ["row_id"]),
]
_EVENT_BY_NAME_FOR_UPDATE = _EVENT_BY_NAME.with_for_update()

_BUSY = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
_NOTIFY = sa.select(sa.func.pg_notify(NOTIFY_CHANNEL, sa.bindparam("origin")))
# Set while a write runs on the event loop (``SQLStore.non_blocking``): it must not wait.
_NON_BLOCKING: ContextVar[bool] = ContextVar("qualevents_non_blocking", default=False)


class _Prepared:
    """A Core statement compiled once for SQLite and run on the DB-API cursor.

    SQLAlchemy's per-execution work (cache key, execution context, result wrapping) costs
    about 80 us a statement, five times what SQLite needs to run it; a create is three
    statements. The SQL and the parameters' conversions still come from SQLAlchemy (its
    compiler and the column types' bind processors), so nothing is written by hand twice.
    For statements without rows, or with one scalar (``scalar``)."""

    def __init__(self, statement: Any, dialect: Any, keys: list[str]) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=keys)
        assert compiled.positional and compiled.positiontup is not None
        self.sql = compiled.string
        self.order = list(compiled.positiontup)
        # Every parameter comes from the caller (a literal in the statement would be a bound
        # parameter of its own, which ``parameters`` does not fill).
        assert set(self.order) == set(keys), (self.order, keys)
        self.processors = {
            name: processor
            for name, bind in compiled.binds.items()
            if (processor := bind.type.dialect_impl(dialect).bind_processor(dialect))
        }

    def parameters(self, values: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(
            self.processors[name](values[name]) if name in self.processors else values[name]
            for name in self.order
        )

    def run(self, conn: Connection, values: dict[str, Any]) -> Any:
        """Execute on ``conn``'s own DB-API connection; the first column of the first row
        (None without one)."""
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(self.sql, self.parameters(values))
            row = cursor.fetchone() if cursor.description else None
        finally:
            cursor.close()
        return row[0] if row else None


def _cache_weight(value: Any) -> int:
    """A list page weighs its number of events: the page space holds at most 10,000 events
    whatever page sizes are asked for (each a copy, decoded and encoded)."""
    return len(value.items) if isinstance(value, Page) else 1


def _json_text(value: Any) -> str:
    """JSON for a text column (pydantic-core: several times faster than json.dumps)."""
    return to_json(value).decode()


def utc_now() -> datetime:
    return datetime.now(UTC)


def _as_utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything we store is UTC.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def create_engine_for(
    url: str | sa.URL, *, busy_timeout_s: float = 30.0, auto_checkpoint: bool = True
) -> Engine:
    """An engine for ``url`` with the per-backend settings the store relies on
    (SQLite: ``busy_timeout_s``, how long a writer waits for another process's lock;
    ``auto_checkpoint=False`` leaves WAL checkpoints to a ``Checkpointer``)."""
    try:
        parsed = sa.engine.make_url(url)
    except sa_exc.ArgumentError as exc:
        raise ConfigurationError(
            "Invalid database URL; expected sqlite:///path or postgresql+psycopg://user@host/db"
        ) from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        engine = sa.create_engine(
            parsed,
            connect_args={
                "timeout": busy_timeout_s,
                "check_same_thread": False,
                "isolation_level": None,
            },
            pool_size=8,
            max_overflow=8,
            poolclass=sa.pool.QueuePool if parsed.database not in (None, "", ":memory:") else None,
        )

        @sa_event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
            if not auto_checkpoint:
                cursor.execute("PRAGMA wal_autocheckpoint=0")
            cursor.close()

        @sa_event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            options = conn.get_execution_options()
            if options.get(_SINGLE_READ, False):
                return  # autocommit: the one statement is its own snapshot
            immediate = options.get(_WRITE, False)
            # On the DB-API connection: exec_driver_sql costs several times the statement.
            conn.connection.driver_connection.execute(  # type: ignore[union-attr]
                "BEGIN IMMEDIATE" if immediate else "BEGIN"
            )

        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return sa.create_engine(parsed, pool_size=10, max_overflow=10, pool_pre_ping=True)
    raise ConfigurationError(
        f"Unsupported database {backend!r}; expected sqlite:///path or postgresql+psycopg://..."
    )


@contextmanager
def translate_errors() -> Iterator[None]:
    """Turn driver failures into our errors; nothing above the store sees a driver error."""
    try:
        yield
    except (sa_exc.OperationalError, sqlite3.OperationalError) as exc:
        # (sqlite3's own errors come from statements run on the DB-API cursor: _Prepared.)
        driver_error = getattr(exc, "orig", exc)
        code = getattr(driver_error, "sqlite_errorcode", None) or 0
        if _NON_BLOCKING.get() and code & 0xFF in _BUSY:
            # Inside non_blocking() (busy timeout 0): another process holds the lock.
            raise WouldBlock() from exc
        raise StoreUnavailable() from exc
    except sa_exc.InterfaceError as exc:
        raise StoreUnavailable() from exc
    except sa_exc.DBAPIError as exc:
        if exc.connection_invalidated:
            raise StoreUnavailable() from exc
        raise


class SQLStore(ReviewsMixin, RateLimitsMixin):
    """The Store protocol over one SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._single_read_engine = engine.execution_options(
            **(
                {"isolation_level": "AUTOCOMMIT"}
                if engine.dialect.name == "postgresql"
                else {_SINGLE_READ: True}
            )
        )
        # SQLite has one writer at a time; its busy handler makes waiting writers sleep in
        # steps of up to 100 ms. Queueing this process's writers on a lock instead hands the
        # write lock over at once (other processes still wait in busy_timeout).
        self._write_lock = threading.RLock() if engine.dialect.name == "sqlite" else None
        # Reads of a local SQLite file take tens of microseconds and never wait on a lock
        # (WAL readers don't block), so callers may run them without a thread hop, which
        # costs more than the read itself. PostgreSQL reads cross a network: not inline.
        self.inline_reads = engine.dialect.name == "sqlite"
        sqlite_file = engine.dialect.name == "sqlite" and engine.url.database not in (
            None,
            "",
            ":memory:",
        )
        # Hot reads (keys, events, list pages) are cached. On SQLite files a change counter
        # keeps the cache exact across processes; on PostgreSQL, LISTEN/NOTIFY drops it
        # when any process commits a change (store/notify.py says how exact that is).
        self._cache: ChangeWatchedCache | NotifiedCache | None = None
        if sqlite_file:
            self._cache = ChangeWatchedCache(
                engine,
                generations="SELECT space, generation FROM cache_generations",
                weigh=_cache_weight,
            )
        elif engine.dialect.name == "postgresql":
            self._cache = NotifiedCache(
                engine.url.set(drivername="postgresql").render_as_string(hide_password=False),
                weigh=_cache_weight,
            )
        # The hot write statements, prepared for SQLite's cursor (see _Prepared).
        self._prepared: dict[int, _Prepared] = {}
        if engine.dialect.name == "sqlite":
            for statement, keys in _PREPARED_KEYS:
                self._prepared[id(statement)] = _Prepared(statement, engine.dialect, keys)
        # Callers may try reads inside non_blocking() first: a cache hit needs no thread.
        self.cached_reads = self._cache is not None
        # A write to a local SQLite file is a few hundred microseconds of CPU, less than
        # handing it to a thread (and far less than the GIL contention of many writer
        # threads). Callers may run it on the event loop inside ``non_blocking()``: there it
        # never waits; when another process holds the write lock it raises WouldBlock
        # at once (busy timeout 0) and the caller retries in a thread.
        self.inline_writes = sqlite_file
        self._inline_engine = (
            create_engine_for(engine.url, busy_timeout_s=0, auto_checkpoint=False)
            if sqlite_file
            else None
        )
        # ... and their WAL checkpoints run in a thread (see store/checkpoint.py).
        self._checkpointer = Checkpointer(engine.url.database) if sqlite_file else None

    # -- plumbing -----------------------------------------------------------------------

    def _cached(
        self, space: str, key: Any, load: Callable[[], T | None], *, fresh: bool = False
    ) -> T | None:
        """``load()`` through the cache. ``fresh``: the answer must reflect every commit
        made anywhere before the call; a cache that is not exact (PostgreSQL's) is skipped."""
        if self._cache is None or (fresh and not self._cache.exact):
            return load()
        return self._cache.get(space, key, load)

    def _refuse_to_wait(self) -> None:
        """Inside non_blocking(), a PostgreSQL round trip is a wait: refuse it."""
        if not self.inline_reads and _NON_BLOCKING.get():
            raise WouldBlock()

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        self._refuse_to_wait()
        with translate_errors(), self.engine.connect() as conn:
            yield conn

    @contextmanager
    def _single_read(self) -> Iterator[Connection]:
        """For a read of exactly one statement (no snapshot across statements needed)."""
        self._refuse_to_wait()
        with translate_errors(), self._single_read_engine.connect() as conn:
            yield conn

    @contextmanager
    def non_blocking(self) -> Iterator[None]:
        """Inside, no call waits: one that would (a SQLite write while another process
        holds the lock, a PostgreSQL round trip) raises ``WouldBlock`` having written
        nothing. Local SQLite reads and writes, and cache hits, run as usual."""
        token = _NON_BLOCKING.set(True)
        try:
            yield
        finally:
            _NON_BLOCKING.reset(token)

    @contextmanager
    def _write(self, *, changes_cached_data: bool = True) -> Iterator[Connection]:
        if self._write_lock is None:
            self._refuse_to_wait()
            with self._write_unlocked(self.engine) as conn:
                yield conn
                if isinstance(self._cache, NotifiedCache) and changes_cached_data:
                    # Delivered to every process's cache listener if this commits.
                    conn.execute(_NOTIFY, {"origin": self._cache.origin})
            if self._cache is not None and changes_cached_data:
                self._cache.clear()  # this process reads its own writes at once
        elif _NON_BLOCKING.get() and self._inline_engine is not None:
            if not self._write_lock.acquire(blocking=False):
                raise WouldBlock()
            try:
                with self._write_unlocked(self._inline_engine) as conn:
                    yield conn
            finally:
                self._write_lock.release()
            if self._checkpointer is not None:
                self._checkpointer.committed()
        else:
            with self._write_lock, self._write_unlocked(self.engine) as conn:
                yield conn

    @contextmanager
    def _write_unlocked(self, engine: Engine) -> Iterator[Connection]:
        with translate_errors(), engine.connect() as conn:
            conn.execution_options(**{_WRITE: True})
            with conn.begin():
                yield conn

    def _run(self, conn: Connection, statement: Any, values: dict[str, Any]) -> Any:
        """Execute a hot write statement: prepared on SQLite, through Core elsewhere. The
        first column of the first row, if any."""
        prepared = self._prepared.get(id(statement))
        if prepared is not None:
            return prepared.run(conn, values)
        result = conn.execute(statement, values)
        return result.scalar() if result.returns_rows else None

    @staticmethod
    def _stored(row: sa.Row[Any]) -> StoredQualifyingEvent:
        return StoredQualifyingEvent(
            event=QualifyingEvent.from_document(json.loads(row.document)),
            created_at=_as_utc(row.created_at),
            updated_at=_as_utc(row.updated_at),
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
            created_at=_as_utc(row.created_at),
        )

    def _next_revision(self, conn: Connection, name: str) -> int:
        last = self._run(conn, _LAST_REVISION, {"name": name})
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
        self._run(
            conn,
            _INSERT_REVISION,
            {
                "event_name": name,
                "revision": number,
                "action": action,
                "document": _json_text(new) if new is not None else None,
                "changes": _json_text(document_changes(old, new)),
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
        with self._write() as conn:
            return self._insert_in(conn, event, actor, action)

    def _insert_in(
        self, conn: Connection, event: QualifyingEvent, actor: Actor, action: str
    ) -> StoredQualifyingEvent:
        document = event.to_document()
        now = utc_now()
        # A re-created name continues its history's numbering.
        number = self._next_revision(conn, event.name)
        try:
            # On PostgreSQL the unique index arbitrates between concurrent creates of one
            # name (on SQLite, BEGIN IMMEDIATE already serialized them). A failure aborts
            # the whole transaction, which is what the caller wants: no savepoint needed.
            self._run(
                conn,
                _INSERT_EVENT,
                {
                    "name": event.name,
                    "document": _json_text(document),
                    "revision": number,
                    "created_at": now,
                    "updated_at": now,
                },
            )
        except (sa_exc.IntegrityError, sqlite3.IntegrityError) as exc:
            raise name_in_use(event.name) from exc
        self._append_revision(conn, event.name, number, action, None, document, actor, now)
        return StoredQualifyingEvent(event=event, created_at=now, updated_at=now, revision=number)

    def get_event(self, name: str, *, fresh: bool = False) -> StoredQualifyingEvent | None:
        """``fresh``: as of now, after every commit made anywhere (what a mutation must
        start from); the SQLite cache always is, the PostgreSQL one may be a notification
        behind."""
        return self._cached("event", name, lambda: self._load_event(name), fresh=fresh)

    def _load_event(self, name: str) -> StoredQualifyingEvent | None:
        with self._single_read() as conn:
            row = conn.execute(_EVENT_BY_NAME, {"name": name}).first()
        return self._stored(row) if row else None

    def get_event_or_raise(self, name: str, *, fresh: bool = False) -> StoredQualifyingEvent:
        stored = self.get_event(name, fresh=fresh)
        if stored is None:
            raise QualifyingEventNotFound(name)
        return stored

    def list_events(self, offset: int, limit: int) -> Page[StoredQualifyingEvent]:
        rows, total = self._event_rows(offset, limit, qualifying_events)
        return Page([self._stored(row) for row in rows], total)

    def list_event_documents(self, offset: int, limit: int) -> Page[dict[str, Any]]:
        """As ``list_events``, but each event's stored document (``to_document()`` as it
        was written) without re-validating it: a page of 100 models costs more than the
        query."""
        return self._cached("page", (offset, limit), lambda: self._load_documents(offset, limit))

    def _load_documents(self, offset: int, limit: int) -> Page[dict[str, Any]]:
        rows, total = self._event_rows(offset, limit, qualifying_events.c.document)
        return Page([json.loads(row.document) for row in rows], total)

    def _event_rows(self, offset: int, limit: int, *columns: Any) -> tuple[list[Any], int]:
        with self._read() as conn:
            total = conn.execute(
                sa.select(sa.func.count()).select_from(qualifying_events)
            ).scalar_one()
            rows = conn.execute(
                sa.select(*columns).order_by(qualifying_events.c.id).offset(offset).limit(limit)
            ).all()
        return rows, total

    def _lock_current(
        self, conn: Connection, name: str, expected_revision: int | None
    ) -> sa.Row[Any]:
        query = _EVENT_BY_NAME_FOR_UPDATE if conn.dialect.name == "postgresql" else _EVENT_BY_NAME
        row = conn.execute(query, {"name": name}).first()
        if row is None:
            raise QualifyingEventNotFound(name)
        if expected_revision is not None and row.revision != expected_revision:
            raise PreconditionFailed(
                f"Qualifying event {name!r} is at revision {row.revision}, "
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
        self._run(
            conn,
            _UPDATE_EVENT,
            {
                "row_id": row.id,
                "document": _json_text(document),
                "revision": number,
                "updated_at": now,
            },
        )
        return StoredQualifyingEvent(
            event=event, created_at=_as_utc(row.created_at), updated_at=now, revision=number
        )

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
        self._run(conn, _DELETE_EVENT, {"row_id": row.id})

    # -- history ------------------------------------------------------------------------

    def list_revisions(self, name: str, offset: int, limit: int) -> Page[Revision]:
        return self.list_all_revisions(offset, limit, event_name=name, newest_first=False)

    def get_revision(self, name: str, revision: int) -> Revision | None:
        with self._read() as conn:
            row = conn.execute(
                sa.select(revisions).where(
                    revisions.c.event_name == name, revisions.c.revision == revision
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
    ) -> Page[Revision]:
        conditions = []
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
            created_at=_as_utc(row.created_at),
            revoked_at=_as_utc(row.revoked_at),
        )

    def create_key(self, key_id: str, name: str, kind: KeyKind, key_hash: str) -> ApiKey:
        now = utc_now()
        with self._write() as conn:
            conn.execute(
                api_keys.insert().values(
                    id=key_id, name=name, kind=kind.value, key_hash=key_hash, created_at=now
                )
            )
            conn.execute(_BUMP_KEYS_GENERATION)
        return ApiKey(id=key_id, name=name, kind=kind, created_at=now)

    def get_key_by_hash(self, key_hash: str, *, fresh: bool = False) -> tuple[ApiKey, str] | None:
        """The key with this hash. ``fresh``: as of now, after every commit made anywhere
        (the SQLite cache always is; the PostgreSQL one may be a notification behind)."""
        return self._cached("key", key_hash, lambda: self._load_key(key_hash), fresh=fresh)

    def _load_key(self, key_hash: str) -> tuple[ApiKey, str] | None:
        with self._single_read() as conn:
            row = conn.execute(_KEY_BY_HASH, {"key_hash": key_hash}).first()
        return (self._key(row), row.key_hash) if row else None

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
            conn.execute(_BUMP_KEYS_GENERATION)
            row = conn.execute(sa.select(api_keys).where(api_keys.c.id == key_id)).first()
        return self._key(row) if row else None

    # -- lifecycle ----------------------------------------------------------------------

    def ping(self) -> None:
        with self._read() as conn:
            conn.execute(sa.text("SELECT 1"))

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
        if self._inline_engine is not None:
            self._inline_engine.dispose()
        if self._checkpointer is not None:
            self._checkpointer.close()
        self.engine.dispose()


def open_store(url: str, *, migrate: bool = True) -> SQLStore:
    """A store on ``url``, its schema brought up to date unless ``migrate`` is False."""
    from qualevents.store.migrate import upgrade

    engine = create_engine_for(url)
    if migrate:
        upgrade(engine)
    return SQLStore(engine)
