"""The warehouse adapter contract: :class:`Warehouse` (NAME, DIALECT, capability flags,
``OPTIONS``, ``describe``, ``sample``, ``query``, ``configure``, ``check_connection``,
``close``, ``translate_errors``) and the DB-API 2.0 plumbing most drivers share
(:class:`DBAPIWarehouse`: a connection pool, per-statement transactions, the role check).
Imports ``errors``, ``sql`` and ``warehouse.options``, ``warehouse.pool``.

An adapter connects lazily (opening one never touches the network), runs nothing but a
single read-only query (the guard in ``sql.parse`` and ``sql.guard`` runs before every
statement, whatever the warehouse itself enforces), applies a statement timeout and reads
at most ``row_cap`` rows. Driver exceptions never leave an adapter: ``translate_errors``
turns them into WarehouseTimeout, WarehouseUnavailable, SQLInvalid (the warehouse rejected
the query) or WarehouseError, with credentials, URLs and server paths scrubbed from the
message. Each adapter classifies its driver's exceptions by class and error code
(``classify``, ``warehouse.classify``), never by the words of a message, and reduces them
to the server's message (``driver_message``: no dicts, no server source files).

Result keys are the names the query asked for (``SELECT count(*) AS events`` reads
``events`` even where the warehouse upper-cases unquoted names, as Snowflake does), and
every statement carries a label naming qualevents, the operation and the key id where the
warehouse has a place for one (``warehouse.labels``).

Analysis jobs run their statements inside a :class:`StatementScope` (``statement_scope``):
its deadline replaces the adapter's timeout (``statement_timeout_s``) and its ``cancel()``
interrupts the statement running now, through the driver's own means (DuckDB's
``interrupt()``, psycopg's ``connection.cancel()``, a DB-API cursor's ``cancel()`` where the
driver has one: ``interrupt_statement``), from any thread.
"""

from __future__ import annotations

import importlib
import itertools
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import lru_cache
from typing import Any, ClassVar

from sqlglot import exp

from qualevents.errors import (
    Cancelled,
    ConfigurationError,
    ErrorItem,
    QualeventsError,
    SQLInvalid,
    WarehouseError,
    WarehouseTimeout,
    WarehouseUnavailable,
)
from qualevents.sql.parse import ensure_read_only, parse_query
from qualevents.sql.queries import schema_probe
from qualevents.sql.schema import Column, normalize_type
from qualevents.warehouse.classify import Kind, class_name_kind
from qualevents.warehouse.labels import QueryLabel, current_label
from qualevents.warehouse.options import Parser, url_parts
from qualevents.warehouse.pool import Pool

__all__ = [
    "DBAPIWarehouse",
    "Row",
    "StatementScope",
    "Warehouse",
    "current_scope",
    "import_driver",
    "missing_driver",
    "statement_scope",
    "url_parts",
]

Row = dict[str, Any]
_URL_RE = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"]+", re.IGNORECASE)
_PATH_RE = re.compile(r"(?<![\w.])(?:/[\w.@+-]+){2,}/?")
MAX_MESSAGE = 500
DEFAULT_POOL_SIZE = 8
# Seconds a driver may wait beyond the statement timeout (connecting, reading the answer)
# before the call gives up: the server's own timeout should fire first.
CLIENT_MARGIN_S = 5.0
# Seconds to connect at most, whatever the statement timeout.
CONNECT_TIMEOUT_S = 10.0


class StatementScope:
    """The limits of the statements one piece of work (an analysis job) runs: one deadline
    for all of them (``timeout_s`` from ``begin()``) and a switch, ``cancel()``, that any
    thread may throw. Either stops the work: the statement running now is interrupted (again
    and again until it ends: a driver may drop an interruption that arrives while the query
    is still being planned) and the next is refused."""

    RETRY_S = 0.05

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.deadline = time.monotonic() + timeout_s
        self.reason: str | None = None  # "cancelled" | "timeout"
        self._lock = threading.Lock()
        self._interrupts: dict[int, Callable[[], None]] = {}
        self._tokens = itertools.count()
        self._timer: threading.Timer | None = None
        self._interrupter: threading.Thread | None = None

    @property
    def cancelled(self) -> bool:
        return self.reason == "cancelled"

    @property
    def stopped(self) -> bool:
        return self.reason is not None

    def remaining_s(self) -> float:
        return max(0.001, self.deadline - time.monotonic())

    def begin(self) -> None:
        """Start the clock: the work stops ``timeout_s`` from now."""
        self.deadline = time.monotonic() + self.timeout_s
        self._timer = threading.Timer(self.timeout_s, self._stop, ("timeout",))
        self._timer.daemon = True
        self._timer.start()

    def end(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def cancel(self) -> None:
        """Interrupt the running statement (if any); later statements are refused."""
        self._stop("cancelled")

    def _stop(self, reason: str) -> None:
        with self._lock:
            if self.reason is None:
                self.reason = reason
            if self._interrupter is None:
                self._interrupter = threading.Thread(
                    target=self._interrupt_until_idle, name="qualevents-interrupt", daemon=True
                )
                self._interrupter.start()

    def _interrupt_until_idle(self) -> None:
        while True:
            with self._lock:
                interrupts = list(self._interrupts.values())
            if not interrupts:
                return
            for interrupt in interrupts:
                with suppress(Exception):  # the statement may have just finished
                    interrupt()
            time.sleep(self.RETRY_S)

    def check(self) -> None:
        """Cancelled (409) once cancelled, WarehouseTimeout (504) once past the deadline."""
        if self.reason == "cancelled":
            raise Cancelled("The job was cancelled", [ErrorItem((), "Cancelled on request")])
        if self.reason == "timeout":
            message = (
                f"The analysis ran longer than its {self.timeout_s:g} s timeout "
                "(QUALEVENTS_ANALYSIS_TIMEOUT_S)"
            )
            raise WarehouseTimeout(message, [ErrorItem((), message)])

    @contextmanager
    def running(self, interrupt: Callable[[], None]) -> Iterator[None]:
        """While the block runs a statement, stopping the work calls ``interrupt``."""
        self.check()
        with self._lock:
            token = next(self._tokens)
            self._interrupts[token] = interrupt
            stopped = self.reason is not None
        try:
            if stopped:  # stopped between the check and the registration
                self.check()
            yield
        finally:
            with self._lock:
                self._interrupts.pop(token, None)


_scope = threading.local()


def current_scope() -> StatementScope | None:
    """The scope the calling thread's statements run in (None: the adapter's own limits)."""
    return getattr(_scope, "value", None)


@contextmanager
def statement_scope(scope: StatementScope) -> Iterator[StatementScope]:
    """Run this thread's statements in ``scope`` for the block."""
    previous = current_scope()
    _scope.value = scope
    try:
        yield scope
    finally:
        _scope.value = previous


def missing_driver(extra: str, package: str) -> ConfigurationError:
    message = f"The {extra} warehouse needs {package}: pip install 'qualevents[{extra}]'"
    return ConfigurationError(message, [ErrorItem(("warehouse_url",), message)])


def import_driver(module: str, extra: str, package: str) -> Any:
    """The driver module, imported now (adapters import lazily); ConfigurationError naming
    the pip extra when it is not installed."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise missing_driver(extra, package) from None


class Warehouse(ABC):
    """One warehouse connection. Subclasses set the class attributes and implement
    ``_describe`` and ``_fetch``; ``translate_errors`` maps their driver's exceptions."""

    NAME: ClassVar[str]
    DIALECT: ClassVar[str]
    EXTRA: ClassVar[str | None] = None  # the pip extra that installs the driver
    SUPPORTS_READ_ONLY_TRANSACTION: ClassVar[bool] = False
    SUPPORTS_STATEMENT_TIMEOUT: ClassVar[bool] = False
    # Queries run on this machine (DuckDB): the API shares its CPU with them.
    EMBEDDED: ClassVar[bool] = False
    # The URL query options the adapter accepts, with their types (``warehouse.options``).
    OPTIONS: ClassVar[dict[str, Parser]] = {}

    def __init__(self, *, timeout_s: float = 30.0, row_cap: int = 10_000) -> None:
        self.timeout_s = timeout_s
        self.row_cap = row_cap
        self.pool_size = DEFAULT_POOL_SIZE
        self.allow_privileged_role = False
        # Label each statement (``warehouse.labels``); a per-query scan budget in bytes
        # where the warehouse offers one (BigQuery's maximum_bytes_billed).
        self.query_labels = True
        self.maximum_bytes_billed: int | None = None
        self._secrets: list[str] = []

    def configure(self, **tuning: Any) -> None:
        """Apply the operator's settings before the first connection: ``pool_size``,
        ``allow_privileged_role`` and adapter-specific ones (DuckDB's resource limits);
        None leaves a default."""
        for name, value in tuning.items():
            if value is not None and hasattr(self, name):
                setattr(self, name, value)

    def check_connection(self) -> None:  # noqa: B027 - adapters that check nothing at start
        """Connect now and check what connecting checks (the role); used at start."""

    @classmethod
    @abstractmethod
    def from_url(cls, url: str, *, timeout_s: float, row_cap: int) -> Warehouse:
        """The adapter for a warehouse URL (``scheme://...``); connects lazily."""

    # -- the contract -----------------------------------------------------------------

    def describe(self, sql: str | exp.Query) -> list[Column]:
        """The output columns of the query ``sql``, read from a zero-row query
        (``SELECT * FROM (sql) AS s LIMIT 0``: no data is scanned)."""
        query = parse_query(sql, self.DIALECT) if isinstance(sql, str) else sql
        probe = self.probe_sql(query)
        ensure_read_only(probe, self.DIALECT)
        with self.translate_errors():
            described = self._describe(probe)
        names = asked_names([name for name, _ in described], query)
        return [
            Column(name, self.normalize_type(raw), raw)
            for name, (_, raw) in zip(names, described, strict=True)
        ]

    def normalize_type(self, raw: str) -> str:
        """The vocabulary type of the warehouse's type name ``raw``."""
        return normalize_type(raw, self.DIALECT)

    def sample(self, sql: str, limit: int) -> list[Row]:
        """At most ``limit`` (and never more than ``row_cap``) rows of ``sql``."""
        return self._rows(sql, max(0, min(limit, self.row_cap)))

    def query(self, sql: str) -> list[Row]:
        """The rows of ``sql``, at most ``row_cap`` of them."""
        return self._rows(sql, self.row_cap)

    def close(self) -> None:  # noqa: B027 - adapters without a connection have nothing to do
        """Release the connection (the adapter reconnects if used again)."""

    def statement_timeout_s(self) -> float:
        """The timeout of the next statement: the adapter's, or what is left of the calling
        thread's scope (an analysis job's own timeout)."""
        scope = current_scope()
        return self.timeout_s if scope is None else scope.remaining_s()

    @contextmanager
    def interruptible(self, interrupt: Callable[[], None]) -> Iterator[None]:
        """Run a statement that the calling thread's scope may cancel with ``interrupt``
        (a no-op outside a scope)."""
        scope = current_scope()
        if scope is None:
            yield
            return
        with scope.running(interrupt):
            yield

    def interrupt_statement(self, connection: Any, cursor: Any) -> None:
        """Stop the statement ``cursor`` runs on ``connection``, from another thread: the
        DB-API cursor's ``cancel()`` where the driver has one (Trino, Databricks), else the
        connection's (psycopg: ``cancel_safe()``, or ``cancel()`` before 3.2)."""
        for target in (cursor, connection):
            for method in ("cancel_safe", "cancel"):
                cancel = getattr(target, method, None)
                if callable(cancel):
                    cancel()
                    return

    @contextmanager
    def translate_errors(self) -> Iterator[None]:
        """Driver exceptions in the block become qualevents errors (Cancelled when the
        calling thread's scope was cancelled: the driver's error is the interruption)."""
        try:
            yield
        except QualeventsError:
            scope = current_scope()
            if scope is not None:
                scope.check()
            raise
        except Exception as error:
            scope = current_scope()
            if scope is not None:
                scope.check()
            translated = self.translate(error)
            if isinstance(translated, WarehouseUnavailable):
                with suppress(Exception):  # reconnect on the next call
                    self.close()
            raise translated from None

    # -- for subclasses ---------------------------------------------------------------

    def probe_sql(self, query: exp.Query) -> str:
        """The zero-row query that reveals ``query``'s columns, in this dialect."""
        return schema_probe(query).sql(dialect=self.DIALECT)

    def _rows(self, sql: str, limit: int) -> list[Row]:
        ensure_read_only(sql, self.DIALECT)
        with self.translate_errors():
            names, rows = self._fetch(sql, limit)
        names = asked_names(names, _parsed(sql, self.DIALECT))
        return [dict(zip(names, row, strict=False)) for row in rows]

    def label(self) -> QueryLabel | None:
        """The label of the statement about to be sent (None when labels are off)."""
        return current_label() if self.query_labels else None

    def label_text(self, default_operation: str = "query") -> str:
        label = self.label()
        return label.text(default_operation) if label is not None else ""

    @property
    def client_timeout_s(self) -> float:
        """How long the driver may wait for an answer: the statement timeout and a margin."""
        return self.timeout_s + CLIENT_MARGIN_S

    @property
    def connect_timeout_s(self) -> float:
        return min(CONNECT_TIMEOUT_S, self.client_timeout_s)

    @abstractmethod
    def _describe(self, sql: str) -> list[tuple[str, str]]:
        """(name, the warehouse's type name) of each output column of ``sql``."""

    @abstractmethod
    def _fetch(self, sql: str, limit: int) -> tuple[list[str], Sequence[Sequence[Any]]]:
        """Column names and at most ``limit`` rows of ``sql``."""

    def classify(self, error: Exception) -> Kind:
        """What ``error`` means: by the driver's classes and codes (adapters override
        this); the default reads the DB-API class names, never the message."""
        return class_name_kind(error)

    def driver_message(self, error: Exception) -> str:
        """The server's message in ``error``, scrubbed (adapters whose driver packs more
        than a message into ``str(error)`` override this)."""
        return self.scrub(str(error))

    def translate(self, error: Exception) -> QualeventsError:
        """The qualevents error for a driver exception (``classify``, ``driver_message``)."""
        kind = self.classify(error)
        if kind == "timeout":
            return self.timeout_error()
        message = self.driver_message(error)
        if kind == "unavailable":
            return self.unavailable_error(message)
        if kind == "rejected":
            return self.rejected_error(message)
        return WarehouseError(
            f"The {self.NAME} warehouse failed: {message}", [ErrorItem((), message)]
        )

    def timeout_error(self) -> WarehouseTimeout:
        scope = current_scope()
        if scope is not None:
            message = (
                f"The {self.NAME} analysis ran longer than its {scope.timeout_s:g} s timeout "
                "(QUALEVENTS_ANALYSIS_TIMEOUT_S)"
            )
            return WarehouseTimeout(message, [ErrorItem((), message)])
        message = f"The {self.NAME} query ran longer than the {self.timeout_s:g} s timeout"
        return WarehouseTimeout(message, [ErrorItem((), message)])

    def unavailable_error(self, detail: str = "") -> WarehouseUnavailable:
        message = f"The {self.NAME} warehouse cannot be reached"
        if detail:
            message = f"{message}: {detail}"
        return WarehouseUnavailable(message, [ErrorItem((), message)])

    def rejected_error(self, detail: str) -> SQLInvalid:
        message = f"The {self.NAME} warehouse rejected the query: {detail}"
        return SQLInvalid(message, [ErrorItem(("sql",), message)])

    def add_secret(self, *values: str | None) -> None:
        """Values never to appear in a message (passwords, tokens, paths, the URL)."""
        self._secrets.extend(v for v in values if v and len(v) >= 3)

    def scrub(self, text: str) -> str:
        """``text`` without secrets, URLs or paths, and without the echo of the query (the
        ``LINE 1: ...`` part of PostgreSQL and DuckDB messages) or the ``CONTEXT:`` lines
        (function source); hints are kept."""
        kept = []
        for line in text.splitlines():
            if line.lstrip().startswith(("LINE ", "CONTEXT:")):
                break
            kept.append(line)
        kept += [line for line in text.splitlines() if line.lstrip().startswith("HINT")]
        text = "\n".join(kept) or text
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        text = _URL_RE.sub("<url>", text)
        text = _PATH_RE.sub("<path>", text)
        text = " ".join(text.split())
        return text[:MAX_MESSAGE]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.NAME}>"


class DBAPIWarehouse(Warehouse):
    """A warehouse reached through a DB-API 2.0 driver: a bounded pool of lazily opened
    connections (``warehouse.pool.Pool``), one checked out per statement, so statements run
    side by side. Subclasses implement ``_connect`` and may list ``_session_statements``
    (run once per connection, after ``check_role``) and ``_statement_begin`` /
    ``_statement_end`` (run around every statement: a read-only transaction with its own
    timeout, rolled back, where the warehouse has one).

    ``params`` are the driver's connection arguments (empty ones dropped); those named in
    ``SECRET_PARAMS`` are kept out of every message."""

    SECRET_PARAMS: tuple[str, ...] = ("password",)

    def __init__(
        self,
        *,
        timeout_s: float = 30.0,
        row_cap: int = 10_000,
        connection: Any = None,
        **params: Any,
    ) -> None:
        super().__init__(timeout_s=timeout_s, row_cap=row_cap)
        self.params = {k: v for k, v in params.items() if v not in (None, "")}
        for name in self.SECRET_PARAMS:
            self.add_secret(self.params.get(name))
        # ``connection`` is for tests: an object with the DB-API ``cursor()`` and ``close()``.
        self._given = connection
        self._pool = self._make_pool()

    def _make_pool(self) -> Pool[Any]:
        return Pool(_close, size=self.pool_size)

    def configure(self, **tuning: Any) -> None:
        pool_size = tuning.get("pool_size")
        super().configure(**tuning)
        if pool_size:
            self._pool.close()
            self._pool = self._make_pool()

    @abstractmethod
    def _connect(self) -> Any:
        """A new driver connection (the driver module is imported here, lazily)."""

    def _session_statements(self) -> list[str]:
        return []

    def _statement_begin(self) -> list[str]:
        return []

    def _statement_end(self) -> list[str]:
        return []

    def check_role(self, connection: Any) -> None:
        """Refuse a role that can do more than read (ConfigurationError naming the
        privilege and the fix), unless ``allow_privileged_role``."""

    def _healthy(self, connection: Any) -> bool:
        """Whether ``connection`` may serve the next statement."""
        return not getattr(connection, "closed", False)

    def _open_connection(self) -> Any:
        with self.translate_errors():
            connection = self._given if self._given is not None else self._connect()
            try:
                self.check_role(connection)
                cursor = connection.cursor()
                try:
                    for statement in self._session_statements():
                        cursor.execute(statement)
                finally:
                    cursor.close()
            except BaseException:
                if connection is not self._given:
                    _close(connection)
                raise
        return connection

    def check_connection(self) -> None:
        """Connect now (the role check runs); raises what a first query would."""
        with self._pool.connection(self._open_connection, self._healthy):
            pass

    @contextmanager
    def _statement(self) -> Iterator[tuple[Any, Any]]:
        """(connection, cursor) inside the per-statement transaction."""
        with self._pool.connection(self._open_connection, self._healthy) as connection:
            cursor = connection.cursor()
            try:
                for statement in self._statement_begin():
                    cursor.execute(statement)
                try:
                    with self.interruptible(lambda: self.interrupt_statement(connection, cursor)):
                        yield connection, cursor
                finally:
                    for statement in self._statement_end():
                        cursor.execute(statement)
            finally:
                cursor.close()

    def _execute(self, cursor: Any, sql: str) -> None:
        """Run the statement (adapters add per-statement options: a label, a timeout)."""
        cursor.execute(sql)

    def _describe(self, sql: str) -> list[tuple[str, str]]:
        with self._statement() as (connection, cursor):
            self._execute(cursor, sql)
            return [(d[0], self._type_name(d[1], connection)) for d in cursor.description or []]

    def _type_name(self, type_code: Any, connection: Any = None) -> str:
        return str(type_code) if type_code is not None else ""

    def _fetch(self, sql: str, limit: int) -> tuple[list[str], Sequence[Sequence[Any]]]:
        with self._statement() as (_connection, cursor):
            self._execute(cursor, sql)
            names = [d[0] for d in cursor.description or []]
            rows = cursor.fetchmany(limit) if limit > 0 else []
            return names, rows

    def close(self) -> None:
        self._pool.close()


def _close(connection: Any) -> None:
    connection.close()


@lru_cache(maxsize=1024)
def _parsed(sql: str, dialect: str) -> exp.Query | None:
    try:
        return parse_query(sql, dialect)
    except QualeventsError:
        return None


def asked_names(names: Sequence[str], query: exp.Query | None) -> list[str]:
    """``names`` (as the warehouse reported them) spelled as ``query`` asked for them: a
    name that differs from one of the query's output names only in case (Snowflake
    upper-cases unquoted aliases: ``day`` comes back ``DAY``) takes the query's spelling."""
    names = [str(name) for name in names]
    if query is None:
        return names
    asked = [name for name in query.named_selects if name and name != "*"]
    exact = set(asked)
    by_lower: dict[str, str | None] = {}
    for name in asked:
        key = name.lower()
        by_lower[key] = None if key in by_lower and by_lower[key] != name else name
    spelled = []
    for name in names:
        found = by_lower.get(name.lower()) if name not in exact else None
        spelled.append(found or name)
    return spelled
