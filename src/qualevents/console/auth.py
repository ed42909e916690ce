"""Signing in to the console: sessions in the store behind an HttpOnly, SameSite=Strict cookie
(Secure over HTTPS, also behind a proxy that says ``X-Forwarded-Proto: https``), a CSRF token
per session carried by every form, idle expiry, and a key that is read with the session on
every request, so a revoked key's sessions stop at once.
Imports ``keys``, ``store``, ``api.deps``, ``console.render``.

Only the SHA-256 of the cookie's token is stored; the console key itself is read once, from
the sign-in form's body, and is never put in a URL, a page, a cookie or a log.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta
from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from qualevents.api.deps import AppContext, context_of
from qualevents.console.render import LeavePage, error_page, redirect
from qualevents.keys import hash_secret
from qualevents.store.engine import utc_now
from qualevents.store.sessions import ConsoleSession

SESSION_COOKIE = "qualevents_console"
SIGN_IN_COOKIE = "qualevents_console_sign_in"  # the sign-in form's CSRF token (double submit)
CSRF_FIELD = "csrf_token"
# A session's last-seen time is written at most this often (a write per page would drop the
# store's read cache for every process).
TOUCH_EVERY = timedelta(minutes=1)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def is_https(request: Request) -> bool:
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


def set_cookie(
    response: Response, request: Request, name: str, value: str, path: str = "/"
) -> None:
    response.set_cookie(
        name, value, path=path, httponly=True, samesite="strict", secure=is_https(request)
    )


def clear_cookie(response: Response, request: Request, name: str, path: str = "/") -> None:
    response.delete_cookie(
        name, path=path, httponly=True, samesite="strict", secure=is_https(request)
    )


def same(expected: str | None, got: object) -> bool:
    """A constant-time comparison of two tokens; False when either is missing."""
    if not expected or not isinstance(got, str) or not got:
        return False
    return hmac.compare_digest(expected.encode(), got.encode())


def _session_now(context: AppContext, token: str) -> ConsoleSession | None:
    store = context.store
    token_hash = hash_secret(token)
    session = store.get_console_session(token_hash)
    if session is None:
        return None
    now = utc_now()
    idle = timedelta(hours=context.settings.console_session_idle_hours)
    if not session.key.active or now - session.last_seen_at > idle:
        store.delete_console_session(token_hash)
        return None
    if now - session.last_seen_at > TOUCH_EVERY:
        store.touch_console_session(token_hash, now)
    return session


async def current_session(context: AppContext, request: Request) -> ConsoleSession | None:
    """The request's live session, or None (no cookie, unknown, idle too long, key revoked)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token or len(token) > 200:
        return None
    return await context.blocking(_session_now, context, token)


def start_session(context: AppContext, key_id: str) -> str:
    """A new session for ``key_id``; the cookie's token (shown to nobody but the browser)."""
    token = new_token()
    context.store.create_console_session(hash_secret(token), key_id, new_token())
    cutoff = utc_now() - timedelta(hours=context.settings.console_session_idle_hours)
    context.store.delete_idle_console_sessions(cutoff)
    return token


def end_session(context: AppContext, request: Request) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        context.store.delete_console_session(hash_secret(token))


# -- what a console handler asks for ----------------------------------------------------


async def require_session(request: Request, *, write: bool = False) -> ConsoleSession:
    """The live session, kept on ``request.state`` for the page; otherwise the browser is
    sent to sign in (a page read) or told its session ended. ``write``: a read-only key is
    refused (403), whatever its page showed."""
    session = await current_session(context_of(request), request)
    if session is None:
        if request.method == "GET" and "fragment" not in request.query_params:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise LeavePage(redirect("/sign-in?next=" + quote(target, safe="")))
        raise LeavePage(
            error_page(request, 401, "Signed out", "Your session has ended: sign in again.")
        )
    request.state.console_session = session
    if write and not session.key.can_write:
        raise LeavePage(
            error_page(
                request,
                403,
                "Read-only key",
                f"You are signed in with the read-only key {session.key.name!r}: it can look "
                "but not change anything. Sign in with a full-access key to make changes.",
            )
        )
    return session


async def checked_form(request: Request, session: ConsoleSession) -> FormData:
    """The posted form, once its CSRF token is this session's (403 otherwise)."""
    form = await request.form()
    if not same(session.csrf_token, form.get(CSRF_FIELD)):
        raise LeavePage(
            error_page(
                request,
                403,
                "Form expired",
                "This form was not issued to your session (or your session changed). "
                "Go back, reload the page and send it again.",
            )
        )
    return form
