"""Amazon Redshift, through redshift_connector (``pip install 'qualevents[redshift]'``).
Imports ``errors``, ``sql`` and ``warehouse.base``; the driver only when connecting.

URL: ``redshift://user:password@cluster.region.redshift.amazonaws.com:5439/database``.
Every statement runs in its own ``BEGIN READ ONLY`` transaction with ``SET LOCAL
statement_timeout``, rolled back after; grant the user only SELECT (docs/warehouses.md), and
the read-only guard runs before every statement. URL options are typed (``?ssl=true``
reaches the driver as ``True``: it checks ``ssl is True``); an unknown one is refused.

The driver raises the server's error fields as a dict (``{'S': 'ERROR', 'C': '42P01',
'M': ..., 'F': 'parse_relation.c', 'L': '1384'}``); errors are classified by its SQLSTATE
(``C``) and carry only its message and hint. The driver's socket ``timeout`` is the
statement timeout and a margin, and each statement's ``application_name`` is its label.
Tested against PostgreSQL through pgbouncer (tests/warehouse/engines.py).
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import unquote

from qualevents.warehouse.base import DBAPIWarehouse, import_driver
from qualevents.warehouse.classify import Kind, class_name_kind, sqlstate_kind
from qualevents.warehouse.options import BOOL, INT, STR, url_parts

# redshift_connector reports PostgreSQL type OIDs.
PG_TYPE_NAMES = {
    16: "boolean",
    20: "bigint",
    21: "smallint",
    23: "integer",
    25: "text",
    700: "real",
    701: "double precision",
    1042: "char",
    1043: "varchar",
    1082: "date",
    1083: "time",
    1114: "timestamp",
    1184: "timestamptz",
    1700: "numeric",
}


class RedshiftWarehouse(DBAPIWarehouse):
    NAME = "redshift"
    DIALECT = "redshift"
    EXTRA = "redshift"
    SUPPORTS_READ_ONLY_TRANSACTION = True
    SUPPORTS_STATEMENT_TIMEOUT = True
    SECRET_PARAMS = ("password", "secret_access_key", "session_token")
    # redshift_connector.connect keyword arguments a URL may set.
    OPTIONS = {
        "ssl": BOOL,
        "sslmode": STR,
        "timeout": INT,
        "iam": BOOL,
        "region": STR,
        "cluster_identifier": STR,
        "db_user": STR,
        "db_groups": STR,
        "auto_create": BOOL,
        "profile": STR,
        "access_key_id": STR,
        "secret_access_key": STR,
        "session_token": STR,
        "serverless_acct_id": STR,
        "serverless_work_group": STR,
        "is_serverless": BOOL,
        "application_name": STR,
        "tcp_keepalive": BOOL,
        "max_prepared_statements": INT,
    }

    @classmethod
    def from_url(cls, url: str, *, timeout_s: float, row_cap: int) -> RedshiftWarehouse:
        parts, options = url_parts(url, cls.NAME, cls.OPTIONS)
        warehouse = cls(
            timeout_s=timeout_s,
            row_cap=row_cap,
            host=parts.hostname or "",
            port=parts.port or 5439,
            database=parts.path.strip("/"),
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            **options,
        )
        warehouse.add_secret(url)
        return warehouse

    def _session_statements(self) -> list[str]:
        return [f"SET statement_timeout TO {self._timeout_ms()}"]

    def _timeout_ms(self) -> int:
        return max(1, int(self.statement_timeout_s() * 1000))

    def _statement_begin(self) -> list[str]:
        begin = ["BEGIN READ ONLY", f"SET LOCAL statement_timeout TO {self._timeout_ms()}"]
        label = self.label_text()
        if label:
            begin.append(f"SET LOCAL application_name TO '{label}'")
        return begin

    def _statement_end(self) -> list[str]:
        return ["ROLLBACK"]

    def _connect(self) -> Any:
        driver = import_driver("redshift_connector", "redshift", "redshift_connector")
        params = {
            "timeout": math.ceil(self.client_timeout_s),  # connect and every socket read
            "application_name": "qualevents",
            **self.params,
        }
        connection = driver.connect(**params)
        connection.autocommit = True
        return connection

    def _type_name(self, type_code: Any, connection: Any = None) -> str:
        return PG_TYPE_NAMES.get(type_code, str(type_code)) if type_code is not None else ""


    def classify(self, error: Exception) -> Kind:
        fields = _fields(error)
        kind = sqlstate_kind(fields.get("C")) if fields else None
        return kind or class_name_kind(error)

    def driver_message(self, error: Exception) -> str:
        """The server's message and hint, never the dict with its source file and line."""
        fields = _fields(error)
        if not fields:
            return self.scrub(str(error))
        message = fields.get("M", "") or "error"
        hint = fields.get("H")
        return self.scrub(f"{message} HINT: {hint}" if hint else message)


def _fields(error: Exception) -> dict[str, str]:
    """The server's error fields the driver raised (a dict as its first argument)."""
    first = error.args[0] if error.args else None
    return first if isinstance(first, dict) else {}


WAREHOUSE = RedshiftWarehouse
