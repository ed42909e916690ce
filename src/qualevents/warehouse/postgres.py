"""PostgreSQL as a warehouse, through psycopg 3 (a core dependency). Imports ``errors``,
``sql`` and ``warehouse.base``.

URL: ``postgresql://user:password@host:5432/database`` (also ``postgres://``). Every
session is ``default_transaction_read_only = on`` with ``statement_timeout`` set, so the
server itself refuses writes and stops long statements; the read-only guard runs first.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

import psycopg
from psycopg import errors as pg_errors

from qualevents.errors import QualeventsError
from qualevents.warehouse.base import DBAPIWarehouse

CONNECT_TIMEOUT_S = 5


class PostgresWarehouse(DBAPIWarehouse):
    NAME = "postgres"
    DIALECT = "postgres"
    EXTRA = None
    SUPPORTS_READ_ONLY_TRANSACTION = True
    SUPPORTS_STATEMENT_TIMEOUT = True

    def __init__(
        self,
        conninfo: str,
        *,
        timeout_s: float = 30.0,
        row_cap: int = 10_000,
        connection: Any = None,
    ) -> None:
        super().__init__(timeout_s=timeout_s, row_cap=row_cap, connection=connection)
        self.conninfo = conninfo
        parts = urlsplit(conninfo)
        self.add_secret(conninfo, parts.password, unquote(parts.password or "") or None)
        self.location = f"{parts.hostname or 'localhost'}:{parts.port or 5432}"

    @classmethod
    def from_url(cls, url: str, *, timeout_s: float, row_cap: int) -> PostgresWarehouse:
        rest = url.split("://", 1)[1]
        return cls("postgresql://" + rest, timeout_s=timeout_s, row_cap=row_cap)

    def _connect(self) -> psycopg.Connection[Any]:
        timeout_ms = max(1, int(self.timeout_s * 1000))
        return psycopg.connect(
            self.conninfo,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_S,
            options=f"-c default_transaction_read_only=on -c statement_timeout={timeout_ms}",
            application_name="qualevents",
        )

    def _type_name(self, type_code: Any) -> str:
        info = self._connection.adapters.types.get(type_code) if self._connection else None
        return info.name if info is not None else str(type_code)

    def translate(self, error: Exception) -> QualeventsError:
        message = self.scrub(str(error))
        if isinstance(error, pg_errors.QueryCanceled):
            return self.timeout_error()
        sqlstate = getattr(error, "sqlstate", None) or ""
        if sqlstate[:2] in ("42", "22", "25", "0A") or isinstance(error, psycopg.ProgrammingError):
            return self.rejected_error(message)
        if isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
            # The driver's text names the host and user; say where, without credentials.
            return self.unavailable_error(f"cannot connect to {self.location}")
        return super().translate(error)


WAREHOUSE = PostgresWarehouse
