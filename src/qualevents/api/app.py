"""``create_app(settings)``: the FastAPI application: one router of declared operations, its
error handlers, the edge middlewares (``api.edge``), offline docs and a lifespan that closes
the store and the warehouse. Imports ``config``, ``errors``, ``store``, ``keys``,
``ratelimit``, ``reviews``, ``service``, ``jobs``, ``wire``, ``api.*``.

Every failure leaves in the contract's shape: our own errors, Starlette's HTTP errors and
FastAPI's request validation errors through exception handlers (validation problems are
400s, as Statsig answers them, never 422s), and anything unexpected through ``edge.Guard``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from qualevents import __version__
from qualevents.api.deps import AppContext
from qualevents.api.edge import Admission, BodyReader, Guard, KeyCheck, RejectNul
from qualevents.api.errors import (
    body_fields,
    error_body,
    error_response,
    from_http_status,
    from_problems,
)
from qualevents.api.routes import analyses, data, health, history, power, reviews, sync
from qualevents.api.routes.assignment_sources import ASSIGNMENT_SOURCES
from qualevents.api.routes.kinds import KINDS
from qualevents.api.routes.metric_sources import METRIC_SOURCES
from qualevents.api.routes.qualifying_events import QUALIFYING_EVENTS
from qualevents.api.routes.sources import source_router
from qualevents.config import Settings
from qualevents.errors import QualeventsError
from qualevents.jobs import JobService
from qualevents.keys import KeyService
from qualevents.ratelimit import RateLimiter
from qualevents.reviews import ReviewService
from qualevents.service import QualifyingEventService
from qualevents.store.base import Store
from qualevents.wire import API_KEY_HEADER

DESCRIPTION = (
    "Statsig-compatible Console API for warehouse-native qualifying events. "
    f"Send a console key in the {API_KEY_HEADER} header. Errors are "
    '`{"status", "message", "errors": [{"property", "errorMessage"}]}`.'
)


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    warehouse: Any = None,
    validator: Any = None,
    close_on_shutdown: bool | None = None,
) -> FastAPI:
    """The application on ``settings``. ``store``, ``warehouse`` and ``validator`` may be
    given (tests, the CLI), otherwise the store is opened from the settings. At shutdown the
    lifespan closes the store and the warehouse when ``close_on_shutdown`` (by default: when
    this function opened the store)."""
    if close_on_shutdown is None:
        close_on_shutdown = store is None
    if store is None:
        from qualevents.store import open_store

        store = open_store(settings.database_url)
    services = {
        kind.name: QualifyingEventService(
            store.for_kind(kind.name),
            validator,
            reserved_names=kind.reserved_names,
            renames=kind.renames,
        )
        for kind in KINDS
    }
    events = services[QUALIFYING_EVENTS.name]
    review_queue = ReviewService(store, events)
    queues = {name: review_queue.for_kind(service) for name, service in services.items()}
    context = AppContext(
        settings=settings,
        store=store,
        events=events,
        keys=KeyService(store),
        reviews=review_queue,
        metric_sources=services[METRIC_SOURCES.name],
        metric_source_reviews=queues[METRIC_SOURCES.name],
        assignment_sources=services[ASSIGNMENT_SOURCES.name],
        assignment_source_reviews=queues[ASSIGNMENT_SOURCES.name],
        rate_limiter=RateLimiter(store, settings.rate_limit),
        warehouse=warehouse,
        validator=validator,
        jobs=JobService(
            store,
            getattr(validator, "runner", None),
            timeout_s=settings.analysis_timeout_s,
            render_error=error_body,
        ),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        context.jobs.close()
        context.stop_threads()
        if close_on_shutdown:
            context.store.close()
            if context.warehouse is not None:
                with suppress(Exception):  # closing a broken connection is best-effort
                    context.warehouse.close()

    app = FastAPIOffline(
        title="qualevents",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        redirect_slashes=False,
        static_url="/-/docs-assets",
    )
    app.state.context = context

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
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        # An unknown field's message names the fields of this route's body (each kind's own).
        body = getattr(request.scope.get("route"), "body_field", None)
        model = getattr(getattr(body, "field_info", None), "annotation", None)
        return error_response(from_problems(exc.errors(), body_fields(model)))

    for kind in KINDS:
        app.include_router(source_router(kind))
    for kind in KINDS:
        app.include_router(history.revisions_router(kind))
    app.include_router(history.router)
    for kind in KINDS:
        app.include_router(data.data_router(kind, with_daily=kind.with_daily))
        for extra in kind.extra_routers:
            app.include_router(extra)
    app.include_router(reviews.router)
    app.include_router(analyses.router)
    app.include_router(power.router)
    app.include_router(sync.router)
    app.include_router(health.router)
    # Added innermost first: Guard sees everything, BodyReader runs just before the router.
    app.add_middleware(
        BodyReader, max_bytes=settings.max_body_bytes, timeout_s=settings.body_timeout_s
    )
    app.add_middleware(RejectNul)
    app.add_middleware(KeyCheck, context=context)
    app.add_middleware(Admission, max_concurrent=settings.max_concurrent_requests)
    app.add_middleware(Guard, timeout_s=settings.request_timeout_s)
    return app
