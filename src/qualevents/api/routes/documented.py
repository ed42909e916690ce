"""The error responses an operation declares, for the OpenAPI document: each status with its
description and the one error body (``wire.ErrorResponse``). Every operation also declares
``4XX`` (any other client error, same shape), which is also how FastAPI knows that a 422
never happens here: request validation errors are 400s. Imports ``wire``.
"""

from __future__ import annotations

from typing import Any

from qualevents.wire import ErrorResponse

DESCRIPTIONS = {
    400: "Invalid request: every problem listed in errors[]",
    401: "Missing or invalid console key",
    403: "The key may not do this (read-only key, read-only event)",
    404: "No such name",
    408: "The request body did not arrive in time",
    409: "The resource's state forbids it (a job already finished, or cancelled)",
    412: "If-Match is not the current ETag",
    413: "Request body too large",
    415: "Request body is not JSON",
    429: "Rate limited; see Retry-After",
    502: "The warehouse could not run the query",
    503: "Busy or the store is unreachable; retry (see Retry-After)",
    504: "The warehouse query timed out",
}


def errors_of(*statuses: int) -> dict[int | str, dict[str, Any]]:
    declared: dict[int | str, dict[str, Any]] = {
        status: {"model": ErrorResponse, "description": DESCRIPTIONS[status]} for status in statuses
    }
    declared["4XX"] = {"model": ErrorResponse, "description": "Any other client error"}
    declared[503] = {"model": ErrorResponse, "description": DESCRIPTIONS[503]}
    return declared
