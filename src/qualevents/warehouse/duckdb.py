"""The built-in warehouse: an embedded DuckDB database file (or memory). Imports ``errors``,
``sql`` and ``warehouse.base``.

URL: ``duckdb:///relative/path.duckdb``, ``duckdb:////absolute/path.duckdb`` or
``duckdb:///:memory:``. Safety, beyond the read-only guard every adapter applies:

- a database file is opened ``read_only`` (several server processes can share it); writes
  (the demo loader) go through :meth:`DuckDBWarehouse.writable`;
- file system access from SQL is switched off (``enable_external_access = false``):
  a query cannot ``read_csv('/etc/passwd')``;
- each statement runs in its own cursor, interrupted by a watchdog after ``timeout_s``.

Other DuckDB files can be attached as catalogs (the demo's ``shoppy-sales``); they are
recorded in ``main.qualevents_catalogs`` and attached again on every connection, since
DuckDB does not remember attachments.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import duckdb

from qualevents.errors import QualeventsError
from qualevents.warehouse.base import Warehouse

MEMORY = ":memory:"
CATALOGS_TABLE = "main.qualevents_catalogs"

_REJECTED = (
    duckdb.CatalogException,
    duckdb.BinderException,
    duckdb.ParserException,
    duckdb.ConversionException,
    duckdb.InvalidInputException,
    duckdb.PermissionException,
    duckdb.OutOfRangeException,
    duckdb.NotImplementedException,
    duckdb.TypeMismatchException,
)
_UNAVAILABLE = (duckdb.IOException, duckdb.ConnectionException)


class _Watchdog:
    """Interrupts cursors that run past their deadline: one thread per warehouse, started on
    first use, instead of a timer thread per statement (which costs more than a probe)."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._deadlines: dict[int, tuple[float, duckdb.DuckDBPyConnection]] = {}
        self._tokens = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, cursor: duckdb.DuckDBPyConnection, seconds: float) -> int:
        with self._condition:
            token = next(self._tokens)
            self._deadlines[token] = (time.monotonic() + seconds, cursor)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="qualevents-duckdb-timeout", daemon=True
                )
                self._thread.start()
            self._condition.notify()
            return token

    def release(self, token: int) -> None:
        with self._condition:
            self._deadlines.pop(token, None)

    def _run(self) -> None:
        with self._condition:
            while True:
                if not self._deadlines:
                    self._condition.wait()
                    continue
                now = time.monotonic()
                for token, (deadline, cursor) in list(self._deadlines.items()):
                    if deadline <= now:
                        del self._deadlines[token]
                        cursor.interrupt()
                if self._deadlines:
                    nearest = min(deadline for deadline, _ in self._deadlines.values())
                    self._condition.wait(max(0.0, nearest - now))


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class DuckDBWarehouse(Warehouse):
    NAME = "duckdb"
    DIALECT = "duckdb"
    EXTRA = None
    SUPPORTS_READ_ONLY_TRANSACTION = False  # the file is opened read-only instead
    SUPPORTS_STATEMENT_TIMEOUT = True  # by interrupting the cursor from a timer

    def __init__(
        self,
        path: str = MEMORY,
        *,
        timeout_s: float = 30.0,
        row_cap: int = 10_000,
        read_only: bool | None = None,
    ) -> None:
        super().__init__(timeout_s=timeout_s, row_cap=row_cap)
        self.path = path or MEMORY
        self.in_memory = self.path == MEMORY
        # An in-memory database can only ever be written through its one connection.
        self.read_only = (not self.in_memory) if read_only is None else read_only
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._watchdog = _Watchdog()
        if not self.in_memory:
            self.add_secret(str(Path(self.path).resolve()), self.path)

    @classmethod
    def from_url(cls, url: str, *, timeout_s: float, row_cap: int) -> DuckDBWarehouse:
        parts = urlsplit(url)
        path = (parts.netloc + parts.path) if parts.netloc else parts.path
        if path.startswith("/"):
            path = path[1:]
        options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        read_only = None
        if "read_only" in options:
            read_only = options["read_only"].lower() in ("1", "true", "yes")
        if path in ("", MEMORY):
            path = MEMORY
        return cls(path, timeout_s=timeout_s, row_cap=row_cap, read_only=read_only)

    # -- connections ----------------------------------------------------------------

    def _open(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        if read_only and not os.path.exists(self.path):
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            duckdb.connect(self.path).close()  # a read-only open needs an existing file
        connection = duckdb.connect(self.path, read_only=read_only)
        try:
            connection.execute("SET enable_progress_bar = false")
            self._attach_catalogs(connection, read_only)
            connection.execute("SET enable_external_access = false")
        except Exception:
            connection.close()
            raise
        return connection

    def _attach_catalogs(self, connection: duckdb.DuckDBPyConnection, read_only: bool) -> None:
        exists = connection.execute(
            "SELECT count(*) FROM duckdb_tables() "
            "WHERE database_name = current_database() AND schema_name = 'main' "
            "AND table_name = 'qualevents_catalogs'"
        ).fetchone()
        if not exists or not exists[0]:
            return
        attached = {
            row[0]
            for row in connection.execute("SELECT database_name FROM duckdb_databases()").fetchall()
        }
        for alias, path in connection.execute(
            f"SELECT alias, path FROM {CATALOGS_TABLE}"
        ).fetchall():
            if alias in attached:
                continue
            mode = " (READ_ONLY)" if read_only and path != MEMORY else ""
            if path == MEMORY or os.path.exists(path):
                connection.execute(f"ATTACH {_literal(path)} AS {_quote(alias)}{mode}")

    def _conn(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            if self._connection is None:
                try:
                    self._connection = self._open(self.read_only)
                except duckdb.Error as error:
                    raise self.unavailable_error(self.scrub(str(error))) from None
            return self._connection

    @contextmanager
    def writable(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection for loading data (the demo, test fixtures). Queries of
        this adapter do not run while it is open."""
        with self._lock:
            if self.in_memory or not self.read_only:
                yield self._conn()
                return
            self.close()
            try:
                connection = duckdb.connect(self.path)
                connection.execute("SET enable_progress_bar = false")
                self._attach_catalogs(connection, read_only=False)
            except duckdb.Error as error:
                raise self.unavailable_error(self.scrub(str(error))) from None
            try:
                yield connection
            finally:
                connection.close()

    def attach_catalog(
        self, connection: duckdb.DuckDBPyConnection, alias: str, path: str = MEMORY
    ) -> None:
        """Attach ``path`` as catalog ``alias`` now and on every later connection."""
        connection.execute(
            f"CREATE TABLE IF NOT EXISTS {CATALOGS_TABLE} (alias VARCHAR PRIMARY KEY, path VARCHAR)"
        )
        connection.execute(f"INSERT OR REPLACE INTO {CATALOGS_TABLE} VALUES (?, ?)", [alias, path])
        attached = {
            row[0]
            for row in connection.execute("SELECT database_name FROM duckdb_databases()").fetchall()
        }
        if alias not in attached:
            connection.execute(f"ATTACH {_literal(path)} AS {_quote(alias)}")

    def close(self) -> None:
        with self._lock:
            connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    # -- statements -----------------------------------------------------------------

    @contextmanager
    def _cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        cursor = self._conn().cursor()
        token = self._watchdog.watch(cursor, self.timeout_s)
        try:
            yield cursor
        finally:
            self._watchdog.release(token)
            cursor.close()

    def _describe(self, sql: str) -> list[tuple[str, str]]:
        with self._cursor() as cursor:
            cursor.execute(sql)
            return [(d[0], str(d[1])) for d in cursor.description or []]

    def _fetch(self, sql: str, limit: int) -> tuple[list[str], Sequence[Sequence[Any]]]:
        with self._cursor() as cursor:
            cursor.execute(sql)
            names = [d[0] for d in cursor.description or []]
            return names, (cursor.fetchmany(limit) if limit > 0 else [])

    def translate(self, error: Exception) -> QualeventsError:
        message = self.scrub(str(error))
        if isinstance(error, duckdb.InterruptException):
            return self.timeout_error()
        if isinstance(error, _REJECTED):
            return self.rejected_error(message)
        if isinstance(error, _UNAVAILABLE):
            return self.unavailable_error(message)
        return super().translate(error)


WAREHOUSE = DuckDBWarehouse
