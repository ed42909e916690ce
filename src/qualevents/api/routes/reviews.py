"""Project settings and change requests (qualevents extensions under ``/console/v1/-/``).
Imports ``api.context``, ``api.schemas``, ``errors``, ``models``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from qualevents.api.context import (
    RowNumber,
    actor_of,
    authenticate,
    blocking,
    context_of,
    json_response,
    page_params,
    pagination,
    read_body,
    reading,
    validating,
)
from qualevents.api.schemas import RejectBody, SettingsBody, change_request_to_wire
from qualevents.errors import ErrorItem, InvalidRequest
from qualevents.models import ChangeRequestStatus

router = APIRouter(prefix="/console/v1/-", tags=["Reviews"])


def _settings_to_wire(values: dict[str, str]) -> dict[str, Any]:
    return {"requireReviews": values.get("require_reviews") == "true"}


@router.get("/settings", summary="Project settings")
async def read_settings(request: Request) -> Response:
    context = context_of(request)

    def run() -> dict[str, str]:
        authenticate(request)
        return context.reviews.settings()

    values = await reading(request, run)
    return json_response(
        {"message": "Settings read successfully.", "data": _settings_to_wire(values)}
    )


@router.post("/settings", summary="Change project settings (full-access key)")
async def update_settings(request: Request) -> Response:
    context = context_of(request)
    await reading(request, authenticate, request, write=True)
    body = await read_body(request, SettingsBody)

    def run() -> dict[str, str]:
        if body.require_reviews is not None:
            context.reviews.set_reviews_required(body.require_reviews)
        return context.reviews.settings()

    values = await blocking(run)
    return json_response(
        {"message": "Settings updated successfully.", "data": _settings_to_wire(values)}
    )


@router.get("/change_requests", summary="Change requests, oldest first")
async def list_change_requests(
    request: Request,
    status: str | None = Query(None, description="pending, approved, rejected or stale"),
    limit: str | None = Query(None),
    page: str | None = Query(None),
) -> Response:
    size, number = page_params(limit, page)
    try:
        wanted = ChangeRequestStatus(status) if status else None
    except ValueError:
        choices = ", ".join(s.value for s in ChangeRequestStatus)
        raise InvalidRequest(
            errors=[ErrorItem(("status",), f"Expected one of: {choices}; got {status!r}")]
        ) from None
    context = context_of(request)

    def run() -> dict[str, Any]:
        authenticate(request)
        found = context.reviews.list(number, size, wanted)
        return {
            "message": "Change requests listed successfully.",
            "data": [change_request_to_wire(item) for item in found.items],
            "pagination": pagination(
                request.url.path, number, size, found.total, dict(request.query_params)
            ),
        }

    return json_response(await reading(request, run))


@router.get("/change_requests/{request_id}", summary="One change request")
async def read_change_request(request: Request, request_id: RowNumber) -> Response:
    context = context_of(request)

    def run() -> Any:
        authenticate(request)
        return context.reviews.get(request_id)

    found = await reading(request, run)
    return json_response(
        {"message": "Change request read successfully.", "data": change_request_to_wire(found)}
    )


@router.post("/change_requests/{request_id}/approve", summary="Approve and apply atomically")
async def approve_change_request(request: Request, request_id: RowNumber) -> Response:
    context = context_of(request)

    def run() -> Any:
        key = authenticate(request, write=True)
        return context.reviews.approve(request_id, actor_of(key))

    decided = await validating(request, run)
    return json_response(
        {
            "message": "Change request approved and applied.",
            "data": change_request_to_wire(decided),
        }
    )


@router.post("/change_requests/{request_id}/reject", summary="Reject (nothing is applied)")
async def reject_change_request(request: Request, request_id: RowNumber) -> Response:
    context = context_of(request)
    key = await reading(request, authenticate, request, write=True)
    reason = None
    length = request.headers.get("content-length", "0")
    if not length.isdigit() or int(length) > 0:
        reason = (await read_body(request, RejectBody)).reason
    decided = await blocking(context.reviews.reject, request_id, actor_of(key), reason)
    return json_response(
        {"message": "Change request rejected.", "data": change_request_to_wire(decided)}
    )
