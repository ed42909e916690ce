"""The ONE place error bodies are built: ``{"status", "message", "errors": [...]}``.
Imports ``errors`` and ``api.schemas``.

Statsig's Terraform provider treats a response as failed only when its body has a non-null
``errors`` key, so every error body carries a non-empty ``errors`` list whose items have at
least ``property`` and ``errorMessage``. Nothing here ever includes a traceback, a driver
message or a server path.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from pydantic import ValidationError
from starlette.responses import Response

from qualevents.api.schemas import WIRE_NAMES, render_loc
from qualevents.errors import ErrorItem, QualeventsError, ValidationFailed

log = logging.getLogger("qualevents.api")

_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    412: "Precondition Failed",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def render_item(item: ErrorItem) -> dict[str, Any]:
    return {"property": render_loc(item.loc), "errorMessage": item.message, **item.extra}


def error_body(error: QualeventsError) -> dict[str, Any]:
    items = [render_item(item) for item in error.errors] or [
        {"property": "", "errorMessage": error.message}
    ]
    return {"status": error.status, "message": error.message, "errors": items}


def error_response(error: QualeventsError) -> Response:
    headers = dict(error.headers)
    return Response(
        json.dumps(error_body(error)),
        status_code=error.status,
        media_type="application/json",
        headers=headers,
    )


def from_http_status(status: int, detail: str | None = None) -> QualeventsError:
    """Starlette's own 404/405/... as one of ours, same shape."""
    error = QualeventsError(detail or _REASONS.get(status, "Error"))
    error.status = status
    return error


_KNOWN_FIELDS = sorted(
    {alias for alias in WIRE_NAMES.values()}
    - {"statsigUnitID", "column", "key", "formula"}
    - {"ownerID", "ownerType", "ownerName", "ownerEmail"}
)


def from_pydantic(exc: ValidationError) -> ValidationFailed:
    """Every problem pydantic found, as Statsig-style items with wire field paths."""
    items = []
    for problem in exc.errors(include_url=False):
        loc = tuple(problem["loc"])
        kind = problem["type"]
        if kind == "missing":
            message = "Required"
        elif kind == "extra_forbidden":
            where = "top-level field" if len(loc) == 1 else "field"
            message = f"Unknown {where} {loc[-1]!r}"
            if len(loc) == 1:
                message += f"; expected one of: {', '.join(_KNOWN_FIELDS)}"
        elif kind == "json_invalid":
            ctx = problem.get("ctx") or {}
            message = f"Malformed JSON: {ctx.get('error', 'could not parse the body')}"
        elif kind == "model_type" and not loc:
            message = "The body must be a JSON object"
        else:
            message = problem["msg"]
        items.append(ErrorItem(loc, message))
    return ValidationFailed(errors=items)
