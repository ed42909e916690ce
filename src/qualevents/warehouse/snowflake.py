"""Snowflake, through snowflake-connector-python (``pip install 'qualevents[snowflake]'``).
Imports ``errors``, ``sql`` and ``warehouse.base``; the driver only when connecting.

URL: ``snowflake://user:password@account/database/schema?warehouse=WH&role=ROLE``.
Snowflake has no read-only session, so grant the user a read-only role; the read-only
guard runs before every statement and ``STATEMENT_TIMEOUT_IN_SECONDS`` bounds each one.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from qualevents.warehouse.base import DBAPIWarehouse, import_driver
from qualevents.warehouse.options import BOOL, INT, STR, url_parts


class SnowflakeWarehouse(DBAPIWarehouse):
    NAME = "snowflake"
    DIALECT = "snowflake"
    EXTRA = "snowflake"
    SUPPORTS_READ_ONLY_TRANSACTION = False
    SUPPORTS_STATEMENT_TIMEOUT = True
    SECRET_PARAMS = ("password", "token", "private_key_file_pwd")
    # snowflake.connector.connect keyword arguments a URL may set.
    OPTIONS = {
        "warehouse": STR,
        "role": STR,
        "authenticator": STR,
        "token": STR,
        "private_key_file": STR,
        "private_key_file_pwd": STR,
        "region": STR,
        "host": STR,
        "port": INT,
        "protocol": STR,
        "network_timeout": INT,
        "socket_timeout": INT,
        "client_session_keep_alive": BOOL,
        "ocsp_fail_open": BOOL,
        "insecure_mode": BOOL,
        "application": STR,
        "timezone": STR,
    }

    @classmethod
    def from_url(cls, url: str, *, timeout_s: float, row_cap: int) -> SnowflakeWarehouse:
        parts, options = url_parts(url, cls.NAME, cls.OPTIONS)
        path = [unquote(p) for p in parts.path.split("/") if p]
        warehouse = cls(
            timeout_s=timeout_s,
            row_cap=row_cap,
            account=parts.hostname or "",
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            database=path[0] if path else "",
            schema=path[1] if len(path) > 1 else "",
            **options,
        )
        warehouse.add_secret(url)
        return warehouse

    def _session_statements(self) -> list[str]:
        return [
            f"ALTER SESSION SET STATEMENT_TIMEOUT_IN_SECONDS = {max(1, round(self.timeout_s))}",
            "ALTER SESSION SET QUERY_TAG = 'qualevents'",
        ]

    def _connect(self) -> Any:
        connector = import_driver("snowflake.connector", "snowflake", "snowflake-connector-python")
        return connector.connect(**self.params, login_timeout=10)

    def _type_name(self, type_code: Any, connection: Any = None) -> str:
        if isinstance(type_code, int):
            try:
                constants = import_driver(
                    "snowflake.connector.constants", "snowflake", "snowflake-connector-python"
                )
                return constants.FIELD_ID_TO_NAME[type_code]
            except (KeyError, AttributeError):
                return str(type_code)
        return str(type_code)


WAREHOUSE = SnowflakeWarehouse
