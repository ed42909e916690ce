"""Databricks SQL, through databricks-sql-connector (``pip install 'qualevents[databricks]'``).
Imports ``errors``, ``sql`` and ``warehouse.base``; the driver only when connecting.

URL: ``databricks://token:<access-token>@<server-hostname>/<http-path>?catalog=..&schema=..``
(the http path of a SQL warehouse, e.g. ``/sql/1.0/warehouses/abc123``). Grant the token's
principal read-only access; the guard runs before every statement, and
``STATEMENT_TIMEOUT`` bounds each one. URL options are typed (``_tls_no_verify=false``
reaches the driver as ``False``); an unknown one is refused.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from qualevents.warehouse.base import DBAPIWarehouse, import_driver
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
        return sql.connect(**self.params)


WAREHOUSE = DatabricksWarehouse
