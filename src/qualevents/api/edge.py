"""The HTTP edge: small ASGI middlewares that run before the router, outermost first.

- ``Guard``: anything unexpected becomes a logged 500 in the contract's shape; a request
  that outlives ``request_timeout_s`` is abandoned with a 503.
- ``Admission``: at most ``max_concurrent_requests`` at once (the excess gets a 503 with
  ``Retry-After``); ``HEAD`` is answered as ``GET`` without the body.
- ``KeyCheck``: on ``/console/``, the key before anything else (401), and the rate limit
  (429), so a caller without a valid key learns nothing about the rest of the request. A
  key the store's cache holds is checked on the event loop; anything else on a thread.
- ``RejectNul``: a NUL byte in a path or query is a 400.
- ``BodyReader``: reads a request body whole before the handler runs: 413 past
  ``max_body_bytes`` (declared or streamed), 408 when the client stops sending it.

Imports ``errors``, ``api.deps``, ``api.errors``.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qualevents.api.deps import KEY_SCOPE, AppContext
from qualevents.api.errors import error_response
from qualevents.errors import (
    ErrorItem,
    InvalidRequest,
    PayloadTooLarge,
    QualeventsError,
    RequestTimeout,
    StoreUnavailable,
)
from qualevents.wire import API_KEY_HEADER

log = logging.getLogger("qualevents.api")
_KEY_HEADER = API_KEY_HEADER.lower().encode()
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def _answer(error: QualeventsError, scope: Scope, receive: Receive, send: Send) -> None:
    await error_response(error)(scope, receive, send)


class Guard:
    def __init__(self, app: ASGIApp, timeout_s: float) -> None:
        self.app = app
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            deadline = asyncio.timeout(self.timeout_s)
            try:
                async with deadline:
                    await self.app(scope, receive, tracking_send)
            except TimeoutError:
                if not deadline.expired():
                    raise  # the handler's own TimeoutError: a bug, answered as a 500
            if deadline.expired() and not started:
                error = StoreUnavailable(
                    f"The request took longer than {self.timeout_s:g} s and was abandoned",
                    [ErrorItem((), "Request timed out; retry, or narrow the request")],
                )
                await _answer(error, scope, receive, send)
        except Exception:
            incident = uuid.uuid4().hex[:12]
            log.exception("unhandled error (incident %s)", incident)
            if started:
                raise
            error = QualeventsError(
                "Internal server error",
                [ErrorItem((), f"Unexpected error; the server logged incident {incident}")],
            )
            await _answer(error, scope, receive, send)


class Admission:
    def __init__(self, app: ASGIApp, max_concurrent: int) -> None:
        self.app = app
        self.max_concurrent = max_concurrent
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_concurrent:
            error = StoreUnavailable(
                f"The server is at its limit of {self.max_concurrent} concurrent requests",
                [ErrorItem((), "Busy; retry after a second")],
                headers={"Retry-After": "1"},
            )
            await _answer(error, scope, receive, send)
            return
        if scope["method"] == "HEAD":
            scope = {**scope, "method": "GET"}
            send = _without_body(send)
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


def _without_body(send: Send) -> Send:
    """A HEAD response: GET's status and headers (Content-Length included), no body."""

    async def head_send(message: Message) -> None:
        if message["type"] == "http.response.body":
            message = {**message, "body": b""}
        await send(message)

    return head_send


class KeyCheck:
    def __init__(self, app: ASGIApp, context: AppContext) -> None:
        self.app = app
        self.context = context

    def _check(self, secret: str | None, fresh: bool) -> object:
        key = self.context.keys.authenticate(secret, fresh=fresh)
        if self.context.rate_limiter.enabled:
            self.context.rate_limiter.check(key.id)
        return key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/console/"):
            await self.app(scope, receive, send)
            return
        secret = None
        for name, value in scope["headers"]:
            if name == _KEY_HEADER:
                secret = value.decode("latin-1")
                break
        fresh = scope["method"] not in ("GET", "HEAD")
        try:
            # A cached key is checked right here; the store (and the rate limit's buckets,
            # which live in it) only on a worker thread.
            key = None
            if not self.context.rate_limiter.enabled:
                key = self.context.keys.authenticate_from_memory(secret, fresh=fresh)
            if key is None:
                key = await self.context.blocking(self._check, secret, fresh)
        except QualeventsError as error:
            await _answer(error, scope, receive, send)
            return
        await self.app({**scope, KEY_SCOPE: key}, receive, send)


class RejectNul:
    """A NUL byte in a path or query is a 400: no database takes one in a string."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and ("\x00" in scope["path"] or b"%00" in scope["query_string"]):
            error = InvalidRequest(
                "NUL bytes are not allowed in a path or query",
                [ErrorItem((), "Remove the NUL character (%00)")],
            )
            await _answer(error, scope, receive, send)
            return
        await self.app(scope, receive, send)


class BodyReader:
    def __init__(self, app: ASGIApp, max_bytes: int, timeout_s: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        too_large = PayloadTooLarge(f"Request body exceeds {self.max_bytes} bytes")
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await _answer(too_large, scope, receive, send)
                return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            try:
                async with asyncio.timeout(self.timeout_s):
                    message = await receive()
            except TimeoutError:
                error = RequestTimeout(
                    f"The request body did not arrive within {self.timeout_s:g} s",
                    [ErrorItem((), "Send the whole body promptly")],
                    headers={"Connection": "close"},
                )
                await _answer(error, scope, receive, send)
                return
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _answer(too_large, scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
