"""ClickHouse, through clickhouse-connect (``pip install 'qualevents[clickhouse]'``).
Imports ``errors``, ``sql`` and ``warehouse.base``; the driver only when first used.

URL: ``clickhouse://user:password@host:8443/database?secure=true``. Every query runs with
``readonly = 2`` (no writes, settings still allowed) and ``max_execution_time``; rows are
capped on the server (``max_result_rows`` with ``result_overflow_mode = 'break'``). The
guard refuses table functions (``url()``, ``s3()``, ``remote()``...) and ``SETTINGS``
clauses, which ``readonly = 2`` would let through. URL options are typed (``OPTIONS``);
an unknown one is refused by name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote

from qualevents.warehouse.base import Warehouse, import_driver
from qualevents.warehouse.options import BOOL, FLOAT, INT, STR, url_parts
from qualevents.warehouse.pool import Shared


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

    def settings(self) -> dict[str, Any]:
        return {"readonly": 2, "max_execution_time": max(1, round(self.statement_timeout_s()))}

    def _open_client(self) -> Any:
        driver = import_driver("clickhouse_connect", "clickhouse", "clickhouse-connect")
        with self.translate_errors():
            return driver.get_client(**self.params, settings=self.settings())

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


def _close(client: Any) -> None:
    if hasattr(client, "close"):
        client.close()


WAREHOUSE = ClickHouseWarehouse
