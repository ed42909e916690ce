"""The built-in warehouse: an embedded DuckDB database file (or memory). Imports ``errors``,
``sql`` and ``warehouse.base``.

URL: ``duckdb:///relative/path.duckdb``, ``duckdb:////absolute/path.duckdb`` or
``duckdb:///:memory:``. Safety, beyond the read-only guard every adapter applies:

- a database file is opened ``read_only`` (several server processes can share it); writes
  (the demo loader) go through :meth:`DuckDBWarehouse.writable`;
- file system access from SQL is switched off (``enable_external_access = false``):
  a query cannot ``read_csv('/etc/passwd')``;
- each statement runs in its own cursor, interrupted by a watchdog after ``timeout_s``;
- the database gets resource limits on every connection, so the embedded warehouse cannot
  take the API's memory or CPU: ``memory_limit`` (default a quarter of RAM),
  ``max_temp_directory_size`` (default twice the memory limit) and ``threads`` (default one
  fewer than the cores, at least one); then ``lock_configuration`` so nothing can change
  them (or ``enable_external_access``) afterwards;
- errors are classified by DuckDB's exception classes, never by message text.

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

import duckdb

from qualevents.errors import ErrorItem, QualeventsError, WarehouseError
from qualevents.warehouse.base import Warehouse
from qualevents.warehouse.options import BOOL, url_parts
from qualevents.warehouse.pool import Shared

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
_RESOURCES = (duckdb.OutOfMemoryException,)


def default_memory_limit() -> str:
    """A quarter of the machine's RAM, as DuckDB reads it (``"2048MB"``)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return "1GB"
    return f"{max(64, total // 4 // 2**20)}MB"


def default_threads() -> int:
    """One fewer than the cores (the API keeps one), at least one."""
    return max(1, (os.cpu_count() or 2) - 1)


def _megabytes(limit: str) -> int | None:
    text = limit.strip().upper().replace(" ", "").removesuffix("B")
    units = {"K": 2**-10, "M": 1, "G": 2**10, "T": 2**20, "KI": 2**-10, "MI": 1, "GI": 2**10}
    for suffix, factor in sorted(units.items(), key=lambda item: -len(item[0])):
        if text.endswith(suffix):
            try:
                return int(float(text[: -len(suffix)]) * factor)
            except ValueError:
                return None
    return None


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
    EMBEDDED = True
    OPTIONS = {"read_only": BOOL}

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
        self.memory_limit = default_memory_limit()
        self.temp_directory_limit: str | None = None  # twice the memory limit
        self.threads = default_threads()
        self._database: Shared[duckdb.DuckDBPyConnection] = Shared(_close)
        self._watchdog = _Watchdog()
        if not self.in_memory:
            self.add_secret(str(Path(self.path).resolve()), self.path)

    @classmethod
    def from_url(cls, url: str, *, timeout_s: float, row_cap: int) -> DuckDBWarehouse:
        parts, options = url_parts(url, cls.NAME, cls.OPTIONS)
        path = (parts.netloc + parts.path) if parts.netloc else parts.path
        if path.startswith("/"):
            path = path[1:]
        read_only = options.get("read_only")
        if path in ("", MEMORY):
            path = MEMORY
        return cls(path, timeout_s=timeout_s, row_cap=row_cap, read_only=read_only)

    # -- connections ----------------------------------------------------------------

    def _open(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        if read_only and not os.path.exists(self.path):
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            duckdb.connect(self.path).close()  # a read-only open needs an existing file
        connection = duckdb.connect(self.path, read_only=read_only)
        locked = connection.execute("SELECT current_setting('lock_configuration')").fetchone()
        if locked and locked[0]:
            # Another adapter in this process opened the same file and set (and locked) it.
            return connection
        try:
            connection.execute("SET enable_progress_bar = false")
            self._limit_resources(connection)
            self._attach_catalogs(connection, read_only)
            connection.execute("SET enable_external_access = false")
            if read_only:
                # An in-memory database shares this connection with its loader (writable()).
                connection.execute("SET lock_configuration = true")
        except Exception:
            connection.close()
            raise
        return connection

    def resource_settings(self) -> dict[str, str | int]:
        """The DuckDB settings that bound one database's memory, spill space and threads."""
        temp = self.temp_directory_limit
        if temp is None:
            megabytes = _megabytes(self.memory_limit)
            temp = f"{megabytes * 2}MB" if megabytes else "2GB"
        return {
            "memory_limit": self.memory_limit,
            "max_temp_directory_size": temp,
            "threads": max(1, int(self.threads)),
        }

    def _limit_resources(self, connection: duckdb.DuckDBPyConnection) -> None:
        for name, value in self.resource_settings().items():
            literal = str(value) if isinstance(value, int) else _literal(str(value))
            connection.execute(f"SET {name} = {literal}")

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

    def _open_database(self) -> duckdb.DuckDBPyConnection:
        try:
            return self._open(self.read_only)
        except duckdb.Error as error:
            raise self.unavailable_error(self.scrub(str(error))) from None

    def _conn(self) -> duckdb.DuckDBPyConnection:
        return self._database.get(self._open_database)

    @contextmanager
    def writable(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection for loading data (the demo, test fixtures). Queries of
        this adapter do not run while it is open."""
        with self._database.lock:
            if self.in_memory or not self.read_only:
                yield self._conn()
                return
            self.close()
            try:
                connection = duckdb.connect(self.path)
                connection.execute("SET enable_progress_bar = false")
                self._limit_resources(connection)
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
        self._database.close()

    # -- statements -----------------------------------------------------------------

    @contextmanager
    def _cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        cursor = self._conn().cursor()
        token = self._watchdog.watch(cursor, self.statement_timeout_s())
        try:
            with self.interruptible(cursor.interrupt):
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
        if isinstance(error, _RESOURCES):
            text = (
                f"The duckdb query needed more memory than the warehouse's limit "
                f"({self.memory_limit}, QUALEVENTS_WAREHOUSE_MEMORY_LIMIT): {message}"
            )
        else:
            text = f"The duckdb warehouse failed ({type(error).__name__}): {message}"
        return WarehouseError(text, [ErrorItem((), text)])


def _close(connection: duckdb.DuckDBPyConnection) -> None:
    connection.close()


WAREHOUSE = DuckDBWarehouse
