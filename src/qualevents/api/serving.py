"""How uvicorn serves the app: its settings (``uvicorn_options``), an access log that never
holds a query string (a key sent as ``?STATSIG-API-KEY=...`` must not reach a log file), and
an HTTP protocol that ends a connection whose request headers do not arrive in time.
Imports ``config``, ``errors``, ``api.errors``.

uvicorn bounds idle keep-alive connections (``timeout_keep_alive``) but not a client that
opens a connection and sends its headers slowly, so ``HeaderTimeoutProtocol`` (uvicorn's
own httptools protocol plus one timer) answers it with a 408 and closes. A slow *body* is
ended by ``api.edge.BodyReader``. Behind a reverse proxy, set the proxy's own limits too
(docs/api.md).
"""

from __future__ import annotations

import asyncio
import copy
import functools
import logging
from typing import Any

from uvicorn.config import LOGGING_CONFIG
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from qualevents.api.errors import error_body
from qualevents.config import Settings
from qualevents.errors import ErrorItem, RequestTimeout


class DropQueryString(logging.Filter):
    """uvicorn's access log line without the query string: ``GET /path?k=v`` -> ``GET
    /path?…``."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path, mark, _query = args[2].partition("?")
            if mark:
                record.args = (*args[:2], f"{path}?…", *args[3:])
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's logging configuration, its access log filtered by ``DropQueryString``."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["drop_query_string"] = {"()": f"{__name__}.DropQueryString"}
    config["handlers"]["access"]["filters"] = ["drop_query_string"]
    return config


def _timeout_response() -> bytes:
    import json

    error = RequestTimeout(
        "The request headers did not arrive in time",
        [ErrorItem((), "Send the request's headers promptly")],
    )
    body = json.dumps(error_body(error)).encode()
    return (
        b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
        b"connection: close\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol; a request's headers must be complete within
    ``header_timeout_s`` of its first byte (or of the connection opening)."""

    def __init__(self, *args: Any, header_timeout_s: float = 10.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout_s = header_timeout_s
        self._header_timer: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.write(_timeout_response())
            self.transport.close()

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The keyword arguments ``qualevents serve`` gives ``uvicorn.run``, from the settings."""
    return {
        "http": functools.partial(
            HeaderTimeoutProtocol, header_timeout_s=settings.header_timeout_s
        ),
        "timeout_keep_alive": settings.keep_alive_s,
        "log_config": log_config(),
        "proxy_headers": False,
    }
