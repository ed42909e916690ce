"""Rendering the console's pages: the Jinja2 environment over the package's templates
(autoescaped), the security headers every page carries, and the few exceptions a handler
raises to leave early (sign in first, refused, not found), which ``console.app`` turns
into pages. Imports ``console.kinds``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from qualevents.console.kinds import KINDS

HEADERS = {
    # Only the console's own files: no inline script, nothing from elsewhere.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

env = Environment(
    loader=PackageLoader("qualevents.console", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
env.globals["KINDS"] = KINDS
env.filters["q"] = lambda value: quote(str(value), safe="")


def where(item: Any) -> str:
    """An error's place in words: "line 3, column 7" for SQL problems, else ''."""
    extra = getattr(item, "extra", {}) or {}
    if "line" in extra and "column" in extra:
        return f"line {extra['line']}, column {extra['column']}"
    return ""


env.filters["where"] = where


def field_of(item: Any) -> str:
    loc = getattr(item, "loc", ())
    return str(loc[0]) if loc else ""


env.filters["field_of"] = field_of


class LeavePage(Exception):
    """Raised by a handler to answer with ``response`` instead."""

    def __init__(self, response: Response) -> None:
        self.response = response


def page(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    session = getattr(request.state, "console_session", None)
    body = env.get_template(template).render(
        request=request,
        session=session,
        can_write=bool(session and session.key.can_write),
        csrf=session.csrf_token if session else "",
        fragment=values.pop("fragment", False),
        **values,
    )
    return HTMLResponse(body, status_code=status, headers=HEADERS)


def error_page(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    return page(request, "error.html", status, title=title, message=message)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})


def source_url(kind_slug: str, name: str, suffix: str = "") -> str:
    return f"/sources/{kind_slug}/{quote(name, safe='')}{suffix}"


env.globals["source_url"] = source_url
