"""Snowflake, through snowflake-connector-python (``pip install 'qualevents[snowflake]'``).
Imports ``errors``, ``sql`` and ``warehouse.base``; the driver only when connecting.

URL: ``snowflake://user:password@account/database/schema?warehouse=WH&role=ROLE``.
Snowflake has no read-only session, so grant the user a read-only role; the read-only
guard runs before every statement and ``STATEMENT_TIMEOUT_IN_SECONDS`` (a session
parameter given at login) bounds each one, with the driver's own ``timeout`` (it cancels
the query) and its login, network and socket timeouts behind it. Each statement's
``QUERY_TAG`` is its label (``qualevents op=preview key=...``: ``QUERY_HISTORY`` shows it).

Snowflake upper-cases unquoted names (``day`` comes back ``DAY``); ``Warehouse`` gives the
rows back under the names the query asked for. Errors are classified by the driver's
classes, ``errno`` and SQLSTATE (604/630, 57014: the statement timeout).
"""

from __future__ import annotations

import inspect
import math
import re
from typing import Any
from urllib.parse import unquote

from qualevents.warehouse.base import DBAPIWarehouse, import_driver
from qualevents.warehouse.classify import Kind, class_name_kind, sqlstate_kind
from qualevents.warehouse.options import BOOL, INT, STR, url_parts

# snowflake.connector errnos: 604 "SQL execution canceled", 630 "Statement reached its
# statement or warehouse timeout".
TIMEOUT_ERRNOS = {604, 630}


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

    def session_parameters(self) -> dict[str, Any]:
        return {
            "STATEMENT_TIMEOUT_IN_SECONDS": max(1, math.ceil(self.timeout_s)),
            "QUERY_TAG": "qualevents",
        }

    def _connect(self) -> Any:
        connector = import_driver("snowflake.connector", "snowflake", "snowflake-connector-python")
        params = {
            "login_timeout": math.ceil(self.connect_timeout_s),
            "network_timeout": math.ceil(self.client_timeout_s),
            "socket_timeout": math.ceil(self.client_timeout_s),
            "application": "qualevents",
            **self.params,
        }
        return connector.connect(**params, session_parameters=self.session_parameters())

    def _execute(self, cursor: Any, sql: str) -> None:
        options: dict[str, Any] = {}
        accepted = inspect.signature(cursor.execute).parameters
        if "timeout" in accepted:  # the driver cancels the query after this many seconds
            options["timeout"] = max(1, math.ceil(self.timeout_s))
        label = self.label_text()
        if label and "_statement_params" in accepted:
            options["_statement_params"] = {"QUERY_TAG": label}
        cursor.execute(sql, **options)

    def classify(self, error: Exception) -> Kind:
        errno = getattr(error, "errno", None)
        state = getattr(error, "sqlstate", None)
        if errno in TIMEOUT_ERRNOS or state == "57014":
            return "timeout"
        kind = sqlstate_kind(state)
        if kind in ("unavailable", "rejected"):
            return kind
        errors = _errors_module()
        if errors is not None and isinstance(error, errors.ProgrammingError):
            return "rejected"  # SQL compilation errors: names, syntax, types
        return class_name_kind(error)

    def driver_message(self, error: Exception) -> str:
        """The server's message, without the driver's ``000904 (42000): `` prefix and the
        echo of the query."""
        text = getattr(error, "raw_msg", None) or str(error)
        return self.scrub(_PREFIX_RE.sub("", str(text)))

    def _describe(self, sql: str) -> list[tuple[str, str]]:
        with self._statement() as (_connection, cursor):
            self._execute(cursor, sql)
            return [_type_of(d) for d in cursor.description or []]

    def normalize_type(self, raw: str) -> str:
        # Snowflake's integers are NUMBER(38,0): any NUMBER of scale 0 is one.
        if _INTEGER_RE.fullmatch(raw):
            return "integer"
        return super().normalize_type(raw)

    def _type_name(self, type_code: Any, connection: Any = None) -> str:
        return _type_code_name(type_code)


_INTEGER_RE = re.compile(r"NUMBER\(\d+,\s*0\)")
_PREFIX_RE = re.compile(r"^\d{6} \([0-9A-Z]{5}\): ")


def _type_of(description: Any) -> tuple[str, str]:
    """(name, type name) of a result column: ``NUMBER(38,0)`` for FIXED with its precision
    and scale, the driver's name of the type code otherwise."""
    name, code = description[0], description[1]
    kind = _type_code_name(code)
    precision, scale = getattr(description, "precision", None), getattr(description, "scale", None)
    if kind == "FIXED" and precision is not None:
        return name, f"NUMBER({precision},{scale or 0})"
    return name, kind


def _type_code_name(type_code: Any) -> str:
    if isinstance(type_code, int):
        try:
            constants = import_driver(
                "snowflake.connector.constants", "snowflake", "snowflake-connector-python"
            )
            return constants.FIELD_ID_TO_NAME[type_code]
        except (KeyError, AttributeError):
            return str(type_code)
    return str(type_code)


def _errors_module() -> Any:
    try:
        import snowflake.connector.errors as errors
    except ImportError:
        return None
    return errors


WAREHOUSE = SnowflakeWarehouse
