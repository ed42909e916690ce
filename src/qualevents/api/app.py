"""``create_app(settings)``: the FastAPI application, its error handling and middleware.
Imports ``config``, ``errors``, ``store``, ``keys``, ``service``, ``api.*``.

Error handling is layered so that every failure leaves in the contract's shape: our own
errors and Starlette's HTTP errors through exception handlers, and anything unexpected
through ``GuardMiddleware``, which logs it server-side and answers a bare 500.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qualevents import __version__
from qualevents.api.context import AppContext
from qualevents.api.errors import error_response, from_http_status
from qualevents.api.hot_reads import HotReads
from qualevents.api.openapi import install_openapi
from qualevents.api.routes import data, health, history, qualifying_events, reviews
from qualevents.config import Settings
from qualevents.errors import (
    ErrorItem,
    InvalidRequest,
    PayloadTooLarge,
    QualeventsError,
    StoreUnavailable,
)
from qualevents.keys import KeyService
from qualevents.ratelimit import RateLimiter
from qualevents.reviews import ReviewService
from qualevents.service import QualifyingEventService
from qualevents.store.base import Store

log = logging.getLogger("qualevents.api")


class GuardMiddleware:
    """Rejects oversized bodies by Content-Length before reading them, bounds how long a
    request may take (503 after ``timeout_s``), and turns any exception that escaped the
    handlers into a 500 in the contract's shape."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, timeout_s: float) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            error = PayloadTooLarge(f"Request body exceeds {self.max_body_bytes} bytes")
            await error_response(error)(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            # asyncio's own timeout: an anyio cancel scope per request cost about as much
            # as the rest of the middleware.
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
                await error_response(error)(scope, receive, send)
        except Exception:
            incident = uuid.uuid4().hex[:12]
            log.exception("unhandled error (incident %s)", incident)
            if started:
                raise
            error = QualeventsError(
                "Internal server error",
                [ErrorItem((), f"Unexpected error; the server logged incident {incident}")],
            )
            await error_response(error)(scope, receive, send)


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    warehouse: Any = None,
    validator: Any = None,
    hot_reads: bool = True,
) -> FastAPI:
    """The application on ``settings``; ``store``, ``warehouse`` and ``validator`` may be
    given (tests, the CLI), otherwise they are opened from the settings. ``hot_reads``:
    answer reads and list pages without the router (``api.hot_reads``; tests compare)."""
    if store is None:
        from qualevents.store import open_store

        store = open_store(settings.database_url)
    app = FastAPI(
        title="qualevents",
        version=__version__,
        description="Statsig-compatible Console API for warehouse-native qualifying events. "
        "Send a console key in the STATSIG-API-KEY header.",
    )
    events = QualifyingEventService(store, validator)
    app.state.context = AppContext(
        settings=settings,
        store=store,
        events=events,
        keys=KeyService(store),
        reviews=ReviewService(store, events),
        rate_limiter=RateLimiter(store, settings.rate_limit),
        warehouse=warehouse,
        validator=validator,
    )

    @app.exception_handler(QualeventsError)
    async def _ours(_request: Request, exc: QualeventsError) -> Response:
        return error_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else None
        if exc.status_code == 404:
            detail = "Not found: no such endpoint"
        elif exc.status_code == 405:
            detail = "Method not allowed on this endpoint"
        return error_response(from_http_status(exc.status_code, detail))

    @app.exception_handler(RequestValidationError)
    async def _params(_request: Request, exc: RequestValidationError) -> Response:
        items = [
            ErrorItem(tuple(str(p) for p in problem["loc"][1:]), problem["msg"])
            for problem in exc.errors()
        ]
        return error_response(InvalidRequest("Bad Request Exception", items))

    # Routes are matched in this order, one by one: the hot ones first. No two routers'
    # paths overlap ({name} never holds a "/"), so the order changes nothing else.
    app.include_router(qualifying_events.router)
    app.include_router(history.router)
    app.include_router(data.router)
    app.include_router(reviews.router)
    app.include_router(health.router)
    install_openapi(app)
    if hot_reads:
        app.add_middleware(HotReads)  # inside the guard: added first
    app.add_middleware(
        GuardMiddleware,
        max_body_bytes=settings.max_body_bytes,
        timeout_s=settings.request_timeout_s,
    )
    return app
