"""The ONE place error bodies are built: ``{"status", "message", "errors": [...]}``, and the
translation of FastAPI's and pydantic's validation errors into ours.
Imports ``errors`` and ``wire``.

Statsig's Terraform provider treats a response as failed only when its body has a non-null
``errors`` key, so every error body carries a non-empty ``errors`` list whose items have at
least ``property`` and ``errorMessage``. Nothing here ever includes a traceback, a driver
message or a server path.
"""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from pydantic import ValidationError
from pydantic_core import to_json
from starlette.responses import Response

from qualevents.errors import ErrorItem, InvalidRequest, Loc, QualeventsError, ValidationFailed
from qualevents.wire import EVENT_FIELDS, wire_name

# Where FastAPI says a request value came from; our ``property`` names the value itself.
_SOURCES = ("body", "query", "path", "header", "cookie")


def render_loc(loc: Loc) -> str:
    """A location as Statsig's ``property``: ``idTypeMapping[0].column``."""
    rendered = ""
    for part in loc:
        if isinstance(part, int):
            rendered += f"[{part}]"
        else:
            name = wire_name(part)
            rendered += f".{name}" if rendered else name
    return rendered


def render_item(item: ErrorItem) -> dict[str, Any]:
    return {"property": render_loc(item.loc), "errorMessage": item.message, **item.extra}


def error_body(error: QualeventsError) -> dict[str, Any]:
    items = [render_item(item) for item in error.errors] or [
        {"property": "", "errorMessage": error.message}
    ]
    return {"status": error.status, "message": error.message, "errors": items}


def error_response(error: QualeventsError) -> Response:
    return Response(
        to_json(error_body(error)),
        status_code=error.status,
        media_type="application/json",
        headers=dict(error.headers),
    )


def from_http_status(status: int, detail: str | None = None) -> QualeventsError:
    """Starlette's own 404/405/... as one of ours, same shape."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    error = QualeventsError(detail or phrase)
    error.status = status
    return error


def _message(problem: dict[str, Any], loc: Loc, fields: Sequence[str]) -> str:
    kind = problem["type"]
    if kind == "missing":
        return "Required"
    if kind == "extra_forbidden":
        if len(loc) == 1:
            return f"Unknown top-level field {loc[-1]!r}; expected one of: {', '.join(fields)}"
        return f"Unknown field {loc[-1]!r}"
    if kind == "json_invalid":
        ctx = problem.get("ctx") or {}
        return f"Malformed JSON: {ctx.get('error', 'could not parse the body')}"
    if kind in ("model_type", "model_attributes_type", "dict_type") and not loc:
        return "The body must be a JSON object"
    return str(problem["msg"])


def from_problems(
    problems: Sequence[dict[str, Any]], fields: Sequence[str] = EVENT_FIELDS
) -> ValidationFailed:
    """Every problem pydantic (or FastAPI, for a request) found, as Statsig-style items with
    wire field paths; where a value came from (body, query, ...) is left out. ``fields``:
    the body's top-level fields, named when an unknown one was sent."""
    items = []
    for problem in problems:
        loc = tuple(problem["loc"])
        if loc and loc[0] in _SOURCES:
            source, loc = loc[0], loc[1:]
            if source == "body" and problem["type"] == "json_invalid":
                loc = ()  # FastAPI puts the character offset here
        items.append(ErrorItem(loc, _message(problem, loc, fields)))
    return ValidationFailed(errors=items)


def body_fields(model: Any) -> Sequence[str]:
    """A body model's top-level wire fields, sorted (a qualifying event's for anything
    else)."""
    found = getattr(model, "model_fields", None)
    if not found:
        return EVENT_FIELDS
    return tuple(sorted(info.alias or name for name, info in found.items()))


def from_pydantic(exc: ValidationError) -> ValidationFailed:
    return from_problems(exc.errors(include_url=False))


def invalid(field: str, message: str) -> InvalidRequest:
    return InvalidRequest(errors=[ErrorItem((field,), message)])
