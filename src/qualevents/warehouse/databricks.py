"""Databricks SQL, through databricks-sql-connector (``pip install 'qualevents[databricks]'``).
Imports ``errors``, ``sql`` and ``warehouse.base``; the driver only when connecting.

URL: ``databricks://token:<access-token>@<server-hostname>/<http-path>?catalog=..&schema=..``
(the http path of a SQL warehouse, e.g. ``/sql/1.0/warehouses/abc123``). Grant the token's
principal read-only access; the guard runs before every statement, and
``STATEMENT_TIMEOUT`` bounds each one. URL options are typed (``_tls_no_verify=false``
reaches the driver as ``False``); an unknown one is refused.

Errors are classified by the SQLSTATE and error class in the server's message
(``[TABLE_OR_VIEW_NOT_FOUND] ... SQLSTATE: 42P01``; ``57KD0`` is the statement timeout);
the driver's socket timeout and retry budget are the statement timeout and a margin, and
each statement carries query tags naming qualevents, the operation and the key id.
"""

from __future__ import annotations

import inspect
from typing import Any
from urllib.parse import unquote

from qualevents.warehouse.base import DBAPIWarehouse, import_driver
from qualevents.warehouse.classify import Kind, class_name_kind, error_code_kind
from qualevents.warehouse.options import BOOL, FLOAT, INT, STR, url_parts


class DatabricksWarehouse(DBAPIWarehouse):
    NAME = "databricks"
    DIALECT = "databricks"
    EXTRA = "databricks"
    SUPPORTS_READ_ONLY_TRANSACTION = False
    SUPPORTS_STATEMENT_TIMEOUT = True

    SECRET_PARAMS = ("access_token",)
    # databricks.sql.connect keyword arguments a URL may set.
    OPTIONS = {
        "catalog": STR,
        "schema": STR,
        "_tls_no_verify": BOOL,
        "_tls_verify_hostname": BOOL,
        "_tls_trusted_ca_file": STR,
        "_tls_client_cert_file": STR,
        "_socket_timeout": FLOAT,
        "_retry_stop_after_attempts_count": INT,
        "_user_agent_entry": STR,
        "use_cloud_fetch": BOOL,
        "use_inline_params": BOOL,
    }

    @classmethod
    def from_url(cls, url: str, *, timeout_s: float, row_cap: int) -> DatabricksWarehouse:
        parts, options = url_parts(url, cls.NAME, cls.OPTIONS)
        warehouse = cls(
            timeout_s=timeout_s,
            row_cap=row_cap,
            server_hostname=parts.hostname or "",
            http_path=parts.path,
            access_token=unquote(parts.password or ""),
            **options,
        )
        warehouse.add_secret(url)
        return warehouse

    def _session_statements(self) -> list[str]:
        return [f"SET STATEMENT_TIMEOUT = {max(1, round(self.timeout_s))}"]

    def _connect(self) -> Any:
        sql = import_driver("databricks.sql", "databricks", "databricks-sql-connector")
        params = {
            "_socket_timeout": self.client_timeout_s,
            "_retry_stop_after_attempts_duration": self.client_timeout_s,
            "user_agent_entry": "qualevents",
            **self.params,
        }
        return sql.connect(**params)

    def _execute(self, cursor: Any, sql: str) -> None:
        label = self.label()
        if label is not None and "query_tags" in inspect.signature(cursor.execute).parameters:
            cursor.execute(sql, query_tags=label.pairs())
            return
        cursor.execute(sql)

    def classify(self, error: Exception) -> Kind:
        kind = error_code_kind(str(getattr(error, "message", None) or error))
        if kind is not None:
            return kind
        if type(error).__name__ == "ServerOperationError":
            return "failed"  # the server answered with an error it did not classify
        return class_name_kind(error)

    def driver_message(self, error: Exception) -> str:
        """The server's message, without the query it echoes (``== SQL ==``) or the
        driver's context (the Spark stack trace)."""
        text = str(getattr(error, "message", None) or error)
        return self.scrub(text.split("== SQL", 1)[0])


WAREHOUSE = DatabricksWarehouse
