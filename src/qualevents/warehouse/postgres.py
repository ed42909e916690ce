"""PostgreSQL as a warehouse, through psycopg 3 (a core dependency). Imports ``errors``,
``sql`` and ``warehouse.base``, ``warehouse.options``.

URL: ``postgresql://user:password@host:5432/database[?sslmode=require&...]``.

- Every statement runs in its own transaction: ``BEGIN READ ONLY``, ``SET LOCAL
  statement_timeout``, the query, ``ROLLBACK``; so whatever a query does to its session
  (``set_config``, a ``SET`` inside a function) is undone before the next one. The session
  defaults (``default_transaction_read_only = on``, ``statement_timeout``) are set too.
- On connecting, the role is checked (``check_role``): a superuser, a member of
  ``pg_read_server_files``, ``pg_write_server_files`` or ``pg_execute_server_program``, or
  a role with ``CREATE`` on the database is refused, naming the privilege and the fix,
  unless the operator sets ``QUALEVENTS_WAREHOUSE_ALLOW_PRIVILEGED_ROLE=true``.
- Each statement sets ``application_name`` to its label (``qualevents op=preview
  key=...``), shown in ``pg_stat_activity`` and the server log.
- Errors are classified by SQLSTATE (the driver's ``diag``), never by message text, and
  carry the server's primary message and hint only (no ``CONTEXT:`` with function source).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import psycopg
from psycopg import errors as pg_errors
from psycopg.pq import TransactionStatus

from qualevents.errors import (
    ErrorItem,
    PrivilegedWarehouseRole,
    QualeventsError,
    WarehouseError,
)
from qualevents.warehouse.base import DBAPIWarehouse
from qualevents.warehouse.classify import sqlstate_kind
from qualevents.warehouse.options import INT, STR, typed_options, url_parts

CONNECT_TIMEOUT_S = 5
DOCS = "docs/warehouses.md#postgresql"
# libpq connection options a warehouse URL may carry (the rest are refused by name).
OPTIONS = {
    "sslmode": STR,
    "sslrootcert": STR,
    "sslcert": STR,
    "sslkey": STR,
    "sslcrl": STR,
    "connect_timeout": INT,
    "application_name": STR,
    "target_session_attrs": STR,
    "keepalives": INT,
    "keepalives_idle": INT,
    "gssencmode": STR,
    "channel_binding": STR,
    "options": STR,
}
# What the role check reads: one row, a flag per privilege that lets a query do more
# than read.
ROLE_CHECK = """
SELECT r.rolsuper,
       pg_has_role(current_user, 'pg_read_server_files', 'MEMBER'),
       pg_has_role(current_user, 'pg_write_server_files', 'MEMBER'),
       pg_has_role(current_user, 'pg_execute_server_program', 'MEMBER'),
       has_database_privilege(current_database(), 'CREATE'),
       current_user, current_database()
FROM pg_roles AS r WHERE r.rolname = current_user
"""
PRIVILEGES = (
    "superuser",
    "membership of pg_read_server_files",
    "membership of pg_write_server_files",
    "membership of pg_execute_server_program",
    "CREATE on the database",
)
class PostgresWarehouse(DBAPIWarehouse):
    NAME = "postgres"
    DIALECT = "postgres"
    EXTRA = None
    SUPPORTS_READ_ONLY_TRANSACTION = True
    SUPPORTS_STATEMENT_TIMEOUT = True
    OPTIONS = OPTIONS

    def __init__(
        self,
        conninfo: str,
        *,
        timeout_s: float = 30.0,
        row_cap: int = 10_000,
        connection: Any = None,
    ) -> None:
        super().__init__(timeout_s=timeout_s, row_cap=row_cap, connection=connection)
        parts, raw = url_parts(conninfo)
        typed_options(self.NAME, raw, self.OPTIONS)
        self.conninfo = conninfo
        self.add_secret(conninfo, parts.password, unquote(parts.password or "") or None)
        self.location = f"{parts.hostname or 'localhost'}:{parts.port or 5432}"

    @classmethod
    def from_url(cls, url: str, *, timeout_s: float, row_cap: int) -> PostgresWarehouse:
        rest = url.split("://", 1)[1]
        return cls("postgresql://" + rest, timeout_s=timeout_s, row_cap=row_cap)

    @property
    def timeout_ms(self) -> int:
        return max(1, int(self.statement_timeout_s() * 1000))

    def _connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(
            self.conninfo,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_S,
            options=(
                f"-c default_transaction_read_only=on -c statement_timeout={self.timeout_ms} "
                f"-c idle_in_transaction_session_timeout={self.timeout_ms + 5000}"
            ),
            application_name="qualevents",
        )

    def _statement_begin(self) -> list[str]:
        begin = ["BEGIN READ ONLY", f"SET LOCAL statement_timeout = {self.timeout_ms}"]
        label = self.label_text()
        if label:  # pg_stat_activity and the server log show who runs the statement
            begin.append(f"SET LOCAL application_name = '{label}'")
        return begin

    def _statement_end(self) -> list[str]:
        return ["ROLLBACK"]

    def _healthy(self, connection: Any) -> bool:
        info = getattr(connection, "info", None)
        if info is None:
            return super()._healthy(connection)
        return (
            not connection.closed
            and not connection.broken
            and info.transaction_status == TransactionStatus.IDLE
        )

    def check_role(self, connection: Any) -> None:
        cursor = connection.cursor()
        try:
            cursor.execute(ROLE_CHECK)
            row = cursor.fetchone()
        finally:
            cursor.close()
        if row is None:
            return
        *flags, user, database = row
        held = [name for name, flag in zip(PRIVILEGES, flags, strict=True) if flag]
        if not held or self.allow_privileged_role:
            return
        message = (
            f"The PostgreSQL warehouse role {user!r} has {', '.join(held)}: a definition's "
            "SQL could read or write the server's files or run programs with it. Connect as "
            "a role that can only read, e.g. CREATE ROLE qualevents_reader LOGIN PASSWORD "
            f"'...'; GRANT CONNECT ON DATABASE {database} TO qualevents_reader; GRANT USAGE ON "
            "SCHEMA analytics TO qualevents_reader; GRANT SELECT ON ALL TABLES IN SCHEMA "
            f"analytics TO qualevents_reader (see {DOCS}); or, knowing the risk, set "
            "QUALEVENTS_WAREHOUSE_ALLOW_PRIVILEGED_ROLE=true"
        )
        raise PrivilegedWarehouseRole(message, [ErrorItem(("warehouse_url",), message)])

    def _type_name(self, type_code: Any, connection: Any = None) -> str:
        adapters = getattr(connection, "adapters", None)
        info = adapters.types.get(type_code) if adapters is not None else None
        return info.name if info is not None else str(type_code)

    def server_message(self, error: Exception) -> str:
        """The server's primary message and hint, scrubbed: never ``CONTEXT:`` (function
        source) or the echo of the query."""
        diag = getattr(error, "diag", None)
        primary = getattr(diag, "message_primary", None) if diag is not None else None
        if not primary:
            return self.scrub(str(error).split("\nCONTEXT:", 1)[0])
        hint = getattr(diag, "message_hint", None)
        return self.scrub(f"{primary} HINT: {hint}" if hint else primary)

    def translate(self, error: Exception) -> QualeventsError:
        sqlstate = getattr(error, "sqlstate", None) or ""
        kind = sqlstate_kind(sqlstate)
        if isinstance(error, pg_errors.QueryCanceled) or kind == "timeout":
            return self.timeout_error()
        message = self.server_message(error)
        if kind == "rejected" or (not sqlstate and isinstance(error, psycopg.DataError)):
            # (a DataError without SQLSTATE: a value the driver cannot convert, e.g. a
            # date beyond Python's range)
            return self.rejected_error(message)
        if kind == "unavailable" or (
            not sqlstate and isinstance(error, psycopg.OperationalError | psycopg.InterfaceError)
        ):
            # The driver's text names the host and user; say where, without credentials.
            return self.unavailable_error(f"cannot connect to {self.location}")
        detail = f" (SQLSTATE {sqlstate})" if sqlstate else ""
        text = f"The postgres warehouse failed{detail}: {message}"
        return WarehouseError(text, [ErrorItem((), text)])


WAREHOUSE = PostgresWarehouse
