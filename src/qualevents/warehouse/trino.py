"""Trino (and Starburst), through the trino client (``pip install 'qualevents[trino]'``).
Imports ``errors``, ``sql`` and ``warehouse.base``; the driver only when connecting.

URL: ``trino://user[:password]@host:8080/catalog/schema`` (``?http_scheme=https``; with a
password, basic authentication over https). The session property
``query_max_execution_time`` bounds each statement; the read-only guard runs first. URL
options are typed (``verify=false`` reaches the driver as ``False``, ``verify=/ca.pem`` as
a path); an unknown one is refused.

Errors are classified by Trino's error name and type (``EXCEEDED_TIME_LIMIT`` is the
timeout, ``USER_ERROR`` the query's fault), and each HTTP request gives up after the
statement timeout and a margin (``request_timeout``). Queries carry ``source=qualevents``
and the client tag ``qualevents``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from qualevents.warehouse.base import DBAPIWarehouse, import_driver
from qualevents.warehouse.classify import Kind, class_name_kind
from qualevents.warehouse.options import BOOL, BOOL_OR_PATH, FLOAT, INT, STR, url_parts

TIMEOUT_NAMES = {"EXCEEDED_TIME_LIMIT", "EXCEEDED_CPU_LIMIT", "USER_CANCELED"}
UNAVAILABLE_NAMES = {"SERVER_SHUTTING_DOWN", "SERVER_STARTING_UP", "NO_NODES_AVAILABLE"}


class TrinoWarehouse(DBAPIWarehouse):
    NAME = "trino"
    DIALECT = "trino"
    EXTRA = "trino"
    SUPPORTS_READ_ONLY_TRANSACTION = False
    SUPPORTS_STATEMENT_TIMEOUT = True
    # trino.dbapi.connect keyword arguments a URL may set.
    OPTIONS = {
        "http_scheme": STR,
        "verify": BOOL_OR_PATH,
        "source": STR,
        "timezone": STR,
        "request_timeout": FLOAT,
        "max_attempts": INT,
        "legacy_primitive_types": BOOL,
        "legacy_prepared_statements": BOOL,
        "client_tags": STR,
        "roles": STR,
    }

    def __init__(
        self,
        *,
        timeout_s: float = 30.0,
        row_cap: int = 10_000,
        connection: Any = None,
        password: str = "",
        **params: Any,
    ) -> None:
        super().__init__(timeout_s=timeout_s, row_cap=row_cap, connection=connection)
        self.params = {k: v for k, v in params.items() if v not in (None, "")}
        self.password = password
        self.add_secret(password)

    @classmethod
    def from_url(cls, url: str, *, timeout_s: float, row_cap: int) -> TrinoWarehouse:
        parts, options = url_parts(url, cls.NAME, cls.OPTIONS)
        path = [unquote(p) for p in parts.path.split("/") if p]
        warehouse = cls(
            timeout_s=timeout_s,
            row_cap=row_cap,
            host=parts.hostname or "",
            port=parts.port or 8080,
            user=unquote(parts.username or "qualevents"),
            password=unquote(parts.password or ""),
            catalog=path[0] if path else "",
            schema=path[1] if len(path) > 1 else "",
            **options,
        )
        warehouse.add_secret(url)
        return warehouse

    def session_properties(self) -> dict[str, str]:
        return {"query_max_execution_time": f"{max(1, round(self.timeout_s))}s"}

    def _connect(self) -> Any:
        dbapi = import_driver("trino.dbapi", "trino", "trino")
        params = {
            "request_timeout": self.client_timeout_s,
            # One attempt: retries would multiply the wait past the timeout.
            "max_attempts": 1,
            "source": "qualevents",
            "client_tags": ["qualevents"],
            **self.params,
            "session_properties": self.session_properties(),
        }
        if isinstance(params["client_tags"], str):
            params["client_tags"] = [t for t in params["client_tags"].split(",") if t]
        if self.password:
            auth = import_driver("trino.auth", "trino", "trino")
            params["auth"] = auth.BasicAuthentication(params.get("user", ""), self.password)
            params.setdefault("http_scheme", "https")
        return dbapi.connect(**params)


    def classify(self, error: Exception) -> Kind:
        name = getattr(error, "error_name", None)
        kind = getattr(error, "error_type", None)
        if name in TIMEOUT_NAMES:
            return "timeout"
        if name in UNAVAILABLE_NAMES:
            return "unavailable"
        if kind == "USER_ERROR":
            return "rejected"
        if kind in ("INSUFFICIENT_RESOURCES", "INTERNAL_ERROR", "EXTERNAL"):
            return "failed"
        return class_name_kind(error)

    def driver_message(self, error: Exception) -> str:
        """Trino's message and error name (the driver's ``str`` is a repr with the type
        and query id)."""
        message = getattr(error, "message", None)
        name = getattr(error, "error_name", None)
        if not isinstance(message, str):
            return self.scrub(str(error))
        location = getattr(error, "error_location", None)
        where = f" at line {location[0]}, column {location[1]}" if location else ""
        return self.scrub(f"{message}{where} ({name})" if name else f"{message}{where}")


WAREHOUSE = TrinoWarehouse
