"""ClickHouse, through clickhouse-connect (``pip install 'qualevents[clickhouse]'``).
Imports ``errors``, ``sql`` and ``warehouse.base``; the driver only when first used.

URL: ``clickhouse://user:password@host:8443/database?secure=true``. Every query runs with
``readonly = 2`` (no writes, settings still allowed) and ``max_execution_time``; rows are
capped on the server (``max_result_rows`` with ``result_overflow_mode = 'break'``). The
guard refuses table functions (``url()``, ``s3()``, ``remote()``...) and ``SETTINGS``
clauses, which ``readonly = 2`` would let through. URL options are typed (``OPTIONS``);
an unknown one is refused by name. ``interface=chdb&path=DIR`` runs an embedded ClickHouse
(chDB, ``pip install 'qualevents[chdb]'``) on the data in ``DIR``: what the tests use.

Errors are classified by the server's error code (``Code: 47``: the driver's ``code``),
each query's ``log_comment`` is its label (``system.query_log`` shows it), and the driver
gives up connecting after ``connect_timeout`` and waiting for an answer after the statement
timeout and a margin (``send_receive_timeout``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote

from qualevents.warehouse.base import Warehouse, import_driver
from qualevents.warehouse.classify import Kind, class_name_kind
from qualevents.warehouse.options import BOOL, FLOAT, INT, STR, url_parts
from qualevents.warehouse.pool import Shared

# ClickHouse server error codes (src/Common/ErrorCodes.cpp) and what they mean for the user.
TIMEOUT_CODES = {159, 160, 394}  # TIMEOUT_EXCEEDED, TOO_SLOW, QUERY_WAS_CANCELLED
UNAVAILABLE_CODES = {
    3,  # UNEXPECTED_END_OF_FILE
    192,  # UNKNOWN_USER
    194,  # REQUIRED_PASSWORD
    195,  # IP_ADDRESS_NOT_ALLOWED
    202,  # TOO_MANY_SIMULTANEOUS_QUERIES
    209,  # SOCKET_TIMEOUT
    210,  # NETWORK_ERROR
    516,  # AUTHENTICATION_FAILED
}
# The server's own trouble (memory, internal errors); every other code is the query's fault
# (unknown identifier 47, table 60, database 81, syntax 62, types 43/53/386, access 497...).
FAILED_CODES = {1, 49, 173, 241, 999, 1000, 1001, 1002}
_CODE_RE = re.compile(r"\bCode:\s*(\d+)")
_EXCEPTION_RE = re.compile(
    r"Code:\s*(\d+)\.\s*(?:DB::Exception:\s*)?(?P<text>.*?)(?:\.\s*In scope .*?)?"
    r"(?:\s*\((?P<name>[A-Z_]+)\))?(?:\s*\(version [^)]*\))?\s*$",
    re.S,
)


class ClickHouseWarehouse(Warehouse):
    NAME = "clickhouse"
    DIALECT = "clickhouse"
    EXTRA = "clickhouse"
    SUPPORTS_READ_ONLY_TRANSACTION = True  # the readonly setting
    SUPPORTS_STATEMENT_TIMEOUT = True
    # clickhouse_connect.get_client keyword arguments a URL may set.
    OPTIONS = {
        "secure": BOOL,
        "verify": BOOL,
        "ca_cert": STR,
        "client_cert": STR,
        "client_cert_key": STR,
        "interface": STR,
        "compress": BOOL,
        "connect_timeout": FLOAT,
        "send_receive_timeout": FLOAT,
        "query_limit": INT,
        "client_name": STR,
        "server_host_name": STR,
        "tls_mode": STR,
        "path": STR,  # chDB's data directory (interface=chdb)
    }

    def __init__(
        self,
        *,
        timeout_s: float = 30.0,
        row_cap: int = 10_000,
        client: Any = None,
        **params: Any,
    ) -> None:
        super().__init__(timeout_s=timeout_s, row_cap=row_cap)
        self.params = {k: v for k, v in params.items() if v not in (None, "")}
        self.add_secret(self.params.get("password"))
        self._client: Shared[Any] = Shared(_close)
        if client is not None:  # for tests
            self._client.set(client)

    @classmethod
    def from_url(cls, url: str, *, timeout_s: float, row_cap: int) -> ClickHouseWarehouse:
        parts, options = url_parts(url, cls.NAME, cls.OPTIONS)
        secure = bool(options.pop("secure", False))
        warehouse = cls(
            timeout_s=timeout_s,
            row_cap=row_cap,
            host=parts.hostname or "localhost",
            port=parts.port or (8443 if secure else 8123),
            username=unquote(parts.username or "default"),
            password=unquote(parts.password or ""),
            database=parts.path.strip("/") or None,
            secure=secure,
            **options,
        )
        warehouse.add_secret(url)
        return warehouse

    @property
    def chdb(self) -> bool:
        return self.params.get("interface") == "chdb"

    def settings(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "readonly": 2,
            "max_execution_time": max(1, round(self.statement_timeout_s())),
        }
        label = self.label_text()
        if label:
            found["log_comment"] = label
        return found

    def _client_params(self) -> dict[str, Any]:
        if self.chdb:  # embedded: no server, no network, no credentials
            return {
                k: v for k, v in self.params.items() if k in ("interface", "path", "database")
            }
        params = dict(self.params)
        params.setdefault("connect_timeout", self.connect_timeout_s)
        params.setdefault("send_receive_timeout", self.client_timeout_s)
        params.setdefault("client_name", "qualevents")
        return params

    def _open_client(self) -> Any:
        driver = import_driver("clickhouse_connect", "clickhouse", "clickhouse-connect")
        with self.translate_errors():
            settings = {k: v for k, v in self.settings().items() if k != "log_comment"}
            return driver.get_client(**self._client_params(), settings=settings)

    def classify(self, error: Exception) -> Kind:
        code = _code(error)
        if code is None:
            return class_name_kind(error)
        if code in TIMEOUT_CODES:
            return "timeout"
        if code in UNAVAILABLE_CODES:
            return "unavailable"
        return "failed" if code in FAILED_CODES else "rejected"

    def driver_message(self, error: Exception) -> str:
        """``Unknown expression identifier `x` (UNKNOWN_IDENTIFIER, code 47)``: the
        server's message without the driver's wrapping (HTTP status, the query echoed in
        ``In scope``, the server version)."""
        text = str(error)
        found = _EXCEPTION_RE.search(text)
        if found is None:
            return self.scrub(text)
        name = found.group("name")
        code = found.group(1)
        detail = f"{name}, code {code}" if name else f"code {code}"
        return self.scrub(f"{found.group('text').strip()} ({detail})")

    def client(self) -> Any:
        return self._client.get(self._open_client)

    def _describe(self, sql: str) -> list[tuple[str, str]]:
        result = self.client().query(sql, settings=self.settings())
        return [
            (name, getattr(kind, "name", str(kind)))
            for name, kind in zip(result.column_names, result.column_types, strict=False)
        ]

    def _fetch(self, sql: str, limit: int) -> tuple[list[str], Sequence[Sequence[Any]]]:
        settings = dict(
            self.settings(), max_result_rows=max(1, limit), result_overflow_mode="break"
        )
        result = self.client().query(sql, settings=settings)
        return list(result.column_names), list(result.result_rows)[:limit]

    def close(self) -> None:
        self._client.close()


def _code(error: Exception) -> int | None:
    """The server's error code: the driver's ``code``, else ``Code: N`` in its text."""
    code = getattr(error, "code", None)
    if isinstance(code, int):
        return code
    found = _CODE_RE.search(str(error))
    return int(found.group(1)) if found else None


def _close(client: Any) -> None:
    if hasattr(client, "close"):
        client.close()


WAREHOUSE = ClickHouseWarehouse
