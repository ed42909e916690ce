"""Engines and the store's small helpers: the per-backend engine settings, the translation
of driver failures into ``qualevents.errors``, and UTC times. Imports ``errors`` only.

SQLite runs in WAL mode with a busy timeout; write transactions start with BEGIN IMMEDIATE
(SQLAlchemy's documented recipe for pysqlite: the driver's own transaction handling off, a
``begin`` listener emitting BEGIN) so that concurrent writers queue in the busy handler
instead of failing on a stale snapshot. PostgreSQL connections carry a per-engine
``application_name``: the change notifications its writes send (store/notify.py) name it.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from pydantic_core import to_json
from sqlalchemy import event as sa_event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine

from qualevents.errors import ConfigurationError, StoreUnavailable

# Execution option of the connections that write: their transaction begins IMMEDIATE.
WRITE = "qualevents_write"
# PostgreSQL: a pooled connection idle for longer than this is pinged before it is used.
PING_AFTER_IDLE_S = 1.0
_IDLE_SINCE = "qualevents_idle_since"
URL_HELP = "expected sqlite:///path or postgresql+psycopg://user@host/db"


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything we store is UTC.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def json_text(value: Any) -> str:
    """JSON for a text column (pydantic-core's encoder: faster than json.dumps)."""
    return to_json(value).decode()


def create_engine_for(url: str | sa.URL, *, busy_timeout_s: float = 30.0) -> Engine:
    """An engine for ``url`` with the per-backend settings the store relies on
    (SQLite: ``busy_timeout_s``, how long a writer waits for another connection's lock)."""
    try:
        parsed = sa.engine.make_url(url)
    except sa_exc.ArgumentError as exc:
        raise ConfigurationError(f"Invalid database URL; {URL_HELP}") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed, busy_timeout_s)
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        # Unique per engine: a process knows its own change notifications by it.
        parsed = parsed.update_query_dict({"application_name": f"qualevents-{uuid.uuid4().hex}"})
        return _postgres_engine(parsed)
    raise ConfigurationError(f"Unsupported database {backend!r}; {URL_HELP}")


def _postgres_engine(parsed: sa.URL) -> Engine:
    """A connection is pinged before use only when it sat idle in the pool for more than
    ``PING_AFTER_IDLE_S`` (``pool_pre_ping`` pings every checkout: a round trip per store
    call, about a third of a create's time). A connection that breaks while in use is a
    503 for that request, and SQLAlchemy then discards every connection pooled before it."""
    engine = sa.create_engine(parsed, pool_size=10, max_overflow=10)

    @sa_event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @sa_event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.pop(_IDLE_SINCE, None)
        if idle_since is None or time.monotonic() - idle_since <= PING_AFTER_IDLE_S:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # The pool drops this connection and checks out another (SQLAlchemy's recipe).
            raise sa_exc.DisconnectionError() from exc

    return engine


def _sqlite_engine(parsed: sa.URL, busy_timeout_s: float) -> Engine:
    engine = sa.create_engine(
        parsed,
        connect_args={"timeout": busy_timeout_s, "check_same_thread": False},
        pool_size=8,
        max_overflow=8,
        poolclass=sa.pool.QueuePool if parsed.database not in (None, "", ":memory:") else None,
    )

    @sa_event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # transactions are begun below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        cursor.close()

    @sa_event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


@contextmanager
def translate_errors() -> Iterator[None]:
    """Turn driver failures into our errors; nothing above the store sees a driver error."""
    try:
        yield
    except (sa_exc.OperationalError, sa_exc.InterfaceError) as exc:
        raise StoreUnavailable() from exc
    except sa_exc.DBAPIError as exc:
        if exc.connection_invalidated:
            raise StoreUnavailable() from exc
        raise
