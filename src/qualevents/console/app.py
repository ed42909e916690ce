"""``install(app)``: the web console on the API's application, at ``/``. Its pages, the
sign-in and sign-out forms, its static files (``/static/``), and the error pages of its own
paths: a path under ``/console/`` or ``/-/`` (the API) and the API's documents keep their
JSON answers; every other path answers HTML.
Imports ``errors``, ``keys``, ``api.*``, ``console.*``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from qualevents.api.deps import context_of
from qualevents.console import analyses, data, forms, pages
from qualevents.console.auth import (
    CSRF_FIELD,
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    checked_form,
    clear_cookie,
    current_session,
    end_session,
    new_token,
    require_session,
    same,
    set_cookie,
    start_session,
)
from qualevents.console.render import LeavePage, error_page, page, redirect
from qualevents.errors import NotFound, QualeventsError, Unauthorized, WarehouseError

STATIC = Path(__file__).parent / "static"
API_PREFIXES = ("/console/", "/-/")
API_DOCUMENTS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})

router = APIRouter(include_in_schema=False)


def is_console_path(path: str) -> bool:
    return not path.startswith(API_PREFIXES) and path not in API_DOCUMENTS


def _next(value: object) -> str:
    """Where to go after signing in: one of the console's own paths, else the list."""
    text = value if isinstance(value, str) else ""
    if text.startswith("/") and not text.startswith("//") and is_console_path(text):
        return text
    return "/sources"


def _sign_in_page(request: Request, status: int = 200, error: str = "") -> Response:
    token = new_token()
    response = page(
        request,
        "sign_in.html",
        status,
        sign_in_token=token,
        next=_next(request.query_params.get("next")),
        error=error,
    )
    set_cookie(response, request, SIGN_IN_COOKIE, token, path="/sign-in")
    return response


@router.get("/")
async def home(request: Request) -> Response:
    session = await current_session(context_of(request), request)
    return redirect("/sources" if session else "/sign-in")


@router.get("/sign-in")
async def sign_in_form(request: Request) -> Response:
    if await current_session(context_of(request), request):
        return redirect(_next(request.query_params.get("next")))
    return _sign_in_page(request)


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    context = context_of(request)
    form = await request.form()
    if not same(request.cookies.get(SIGN_IN_COOKIE), form.get(CSRF_FIELD)):
        return _sign_in_page(
            request, 403, "This form expired or did not come from this page; try again."
        )
    secret = form.get("key")
    try:
        key = await context.blocking(
            context.keys.authenticate, secret if isinstance(secret, str) else None, fresh=True
        )
    except Unauthorized:
        return _sign_in_page(request, 401, "That is not an active console key.")
    token = await context.blocking(start_session, context, key.id)
    response = redirect(_next(form.get("next")))
    set_cookie(response, request, SESSION_COOKIE, token)
    clear_cookie(response, request, SIGN_IN_COOKIE, path="/sign-in")
    return response


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    session = await require_session(request)
    await checked_form(request, session)
    context = context_of(request)
    await context.blocking(end_session, context, request)
    response = redirect("/sign-in?signed_out=1")
    clear_cookie(response, request, SESSION_COOKIE)
    return response


def _error_page(request: Request, error: QualeventsError) -> Response:
    if isinstance(error, NotFound):
        return error_page(request, 404, "Not found", error.message)
    if isinstance(error, WarehouseError):
        return error_page(
            request,
            error.status,
            "The warehouse is not answering",
            f"{error.message}. Nothing was lost; try again in a moment.",
        )
    return error_page(request, error.status, "Something went wrong", error.message)


def install(app: FastAPI) -> FastAPI:
    """Add the console to ``app`` (made by ``api.app.create_app``)."""
    app.include_router(router)
    app.include_router(pages.router)
    app.include_router(forms.router)
    app.include_router(data.router)
    app.include_router(analyses.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="console-static")
    api_http = app.exception_handlers[StarletteHTTPException]
    api_ours = app.exception_handlers[QualeventsError]
    api_invalid = app.exception_handlers[RequestValidationError]

    async def http_error(request: Request, exc: Any) -> Response:
        if not is_console_path(request.url.path):
            return await api_http(request, exc)
        if exc.status_code == 404:
            return error_page(request, 404, "Not found", "There is no page at this address.")
        return error_page(request, exc.status_code, "Not allowed", str(exc.detail))

    async def ours(request: Request, exc: Any) -> Response:
        if isinstance(exc, LeavePage):
            return exc.response
        if not is_console_path(request.url.path):
            return await api_ours(request, exc)
        return _error_page(request, exc)

    async def invalid(request: Request, exc: Any) -> Response:
        if not is_console_path(request.url.path):
            return await api_invalid(request, exc)
        return error_page(request, 400, "Bad request", "This address's parameters are wrong.")

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(QualeventsError, ours)
    app.add_exception_handler(LeavePage, ours)
    app.add_exception_handler(RequestValidationError, invalid)
    return app
