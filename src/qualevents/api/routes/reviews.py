"""Project settings and change requests (qualevents extensions under ``/console/v1/-/``).
Imports ``api.*``, ``models``, ``wire``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from qualevents.api.convert import change_request_to_wire
from qualevents.api.deps import (
    CallingKey,
    Context,
    JsonBody,
    OptionalJsonBody,
    WritingKey,
    _writing_key,
    actor_of,
    warehouse_call,
)
from qualevents.api.params import Blank, PagingParams, RowNumber
from qualevents.api.responses import json_response, pagination
from qualevents.api.routes.documented import errors_of
from qualevents.models import ChangeRequestStatus
from qualevents.wire import (
    ChangeRequestListResponse,
    ChangeRequestResponse,
    RejectBody,
    SettingsBody,
    SettingsResponse,
)

router = APIRouter(prefix="/console/v1/-", tags=["Reviews"])


def _settings_to_wire(values: dict[str, str]) -> dict[str, Any]:
    return {"requireReviews": values.get("require_reviews") == "true"}


@router.get(
    "/settings",
    summary="Project settings",
    response_model=SettingsResponse,
    responses=errors_of(400, 401, 429),
)
async def read_settings(_key: CallingKey, context: Context) -> Response:
    values = await context.blocking(context.reviews.settings)
    return json_response(
        {"message": "Settings read successfully.", "data": _settings_to_wire(values)}
    )


@router.post(
    "/settings",
    summary="Change project settings (full-access key)",
    response_model=SettingsResponse,
    responses=errors_of(400, 401, 403, 413, 415, 429),
    dependencies=[Depends(_writing_key), JsonBody],
)
async def update_settings(body: SettingsBody, context: Context) -> Response:
    def run() -> dict[str, str]:
        if body.require_reviews is not None:
            context.reviews.set_reviews_required(body.require_reviews)
        return context.reviews.settings()

    values = await context.blocking(run)
    return json_response(
        {"message": "Settings updated successfully.", "data": _settings_to_wire(values)}
    )


@router.get(
    "/change_requests",
    summary="Change requests, oldest first",
    response_model=ChangeRequestListResponse,
    responses=errors_of(400, 401, 429),
)
async def list_change_requests(
    request: Request,
    _key: CallingKey,
    context: Context,
    paging: PagingParams,
    status: Annotated[ChangeRequestStatus | None, Blank, Query()] = None,
) -> Response:
    found = await context.blocking(context.reviews.list, paging.page, paging.limit, status)
    return json_response(
        {
            "message": "Change requests listed successfully.",
            "data": [change_request_to_wire(item) for item in found.items],
            "pagination": pagination(
                request.url.path, paging, found.total, dict(request.query_params)
            ),
        }
    )


@router.get(
    "/change_requests/{request_id}",
    summary="One change request",
    response_model=ChangeRequestResponse,
    responses=errors_of(400, 401, 404, 429),
)
async def read_change_request(
    request_id: RowNumber, _key: CallingKey, context: Context
) -> Response:
    found = await context.blocking(context.reviews.get, request_id)
    return json_response(
        {"message": "Change request read successfully.", "data": change_request_to_wire(found)}
    )


@router.post(
    "/change_requests/{request_id}/approve",
    summary="Approve and apply atomically",
    response_model=ChangeRequestResponse,
    responses=errors_of(400, 401, 403, 404, 412, 429, 502),
)
async def approve_change_request(
    request_id: RowNumber, key: WritingKey, context: Context
) -> Response:
    decided = await warehouse_call(context, context.reviews.approve, request_id, actor_of(key))
    return json_response(
        {
            "message": "Change request approved and applied.",
            "data": change_request_to_wire(decided),
        }
    )


@router.post(
    "/change_requests/{request_id}/reject",
    summary="Reject (nothing is applied)",
    response_model=ChangeRequestResponse,
    responses=errors_of(400, 401, 403, 404, 412, 413, 415, 429),
    dependencies=[Depends(_writing_key), OptionalJsonBody],
)
async def reject_change_request(
    request_id: RowNumber,
    key: WritingKey,
    context: Context,
    body: RejectBody | None = None,
) -> Response:
    reason = body.reason if body is not None else None
    decided = await context.blocking(context.reviews.reject, request_id, actor_of(key), reason)
    return json_response(
        {"message": "Change request rejected.", "data": change_request_to_wire(decided)}
    )
