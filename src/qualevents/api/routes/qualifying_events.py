"""Statsig's Console API for qualifying events (list, create, read, update, delete) plus
PATCH. Thin handlers: parse, authenticate, call the service, shape the response.
Imports ``api.context``, ``api.schemas``, ``service``, ``store``.

Store and warehouse calls block, so each request makes one trip to the thread pool with
authentication and the use case together.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from qualevents.api.context import (
    actor_of,
    authenticate,
    blocking,
    context_of,
    encode_json,
    encoded_json_response,
    etag,
    expected_revision,
    json_response,
    page_params,
    pagination,
    read_body,
    reading,
    wants_review,
    writing,
)
from qualevents.api.errors import render_item
from qualevents.api.schemas import (
    CreateBody,
    PatchBody,
    UpdateBody,
    change_request_to_wire,
    event_to_wire,
    to_wire,
)
from qualevents.models import ApiKey
from qualevents.service import WriteResult

BASE = "/console/v1/experiments/qualifying_events"

router = APIRouter(
    prefix=BASE,
    tags=["Experiments (Warehouse Native)"],
)

# The key under which a response body is kept with the value it encodes (``memo``).
WIRE = "wire-json"


def encoded_once(memo: dict[Any, Any], body: Callable[[], dict[str, Any]]) -> bytes:
    """``body()`` encoded, kept in ``memo`` (``Page.memo``, ``StoredQualifyingEvent.memo``):
    a cached value is encoded once per change of the store."""
    encoded = memo.get(WIRE)
    if encoded is None:
        encoded = memo[WIRE] = encode_json(body())
    return encoded


NAME_DOC = "The qualifying event's name (URL-encoded; may contain spaces)"


def _report_to_wire(report: Any) -> dict[str, Any] | None:
    if report is None or not hasattr(report, "to_dict"):
        return None
    return report.to_dict(render_item)


def _write_response(result: WriteResult, message: str, status: int) -> Response:
    body: dict[str, Any] = {"message": message, "data": event_to_wire(result.event)}
    validation = _report_to_wire(result.report)
    if validation is not None:
        body["validation"] = validation
    headers = {}
    if result.dry_run:
        body["dryRun"] = True
        body["message"] = "Dry run: the qualifying event is valid; nothing was saved."
        status = 200
    else:
        headers["ETag"] = etag(result.revision or 0)
    return json_response(body, status, headers)


HELD_MESSAGE = "Change request created; the change waits for review."


async def _held_for_review(
    request: Request,
    action: str,
    name: str,
    key: ApiKey,
    *,
    dry_run: bool = False,
    **change: Any,
) -> Response | None:
    """A 202 with the pending change request when the project requires reviews and the
    request asks to respect them; None when the change should be applied now."""
    if dry_run or not wants_review(request):
        return None
    reviews = context_of(request).reviews

    def run() -> Any:
        if not reviews.reviews_required():
            return None
        return reviews.submit(action, name, actor_of(key), **change)

    held = await blocking(run)
    if held is None:
        return None
    return json_response({"message": HELD_MESSAGE, "data": change_request_to_wire(held)}, 202)


@router.get("", summary="List qualifying events")
async def list_qualifying_events(
    request: Request,
    limit: str | None = Query(None, description="Results per page (default 100, max 1000)"),
    page: str | None = Query(None, description="Page number, from 1"),
) -> Response:
    return await list_page(request, limit, page)


async def list_page(request: Request, limit: str | None, page: str | None) -> Response:
    """The list endpoint (also answered by ``api.hot_reads`` without the router)."""
    context = context_of(request)

    def run() -> bytes:
        authenticate(request)
        size, number = page_params(limit, page)
        found = context.events.list_documents(number, size)
        return encoded_once(
            found.memo,
            lambda: {
                "message": "Qualifying events listed successfully.",
                "data": [to_wire(document) for document in found.items],
                "pagination": pagination(BASE, number, size, found.total),
            },
        )

    return encoded_json_response(await reading(request, run))


@router.post("", summary="Create a qualifying event", status_code=201)
async def create_qualifying_event(request: Request) -> Response:
    context = context_of(request)
    key = await reading(request, authenticate, request, write=True)
    body = await read_body(request, CreateBody)
    event = body.to_event(body.name)
    held = await _held_for_review(
        request, "create", event.name, key, dry_run=bool(body.dry_run), event=event
    )
    if held is not None:
        return held
    result = await writing(
        request, context.events.create, event, actor_of(key), dry_run=bool(body.dry_run)
    )
    return _write_response(result, "Qualifying event created successfully.", 201)


@router.get("/{name}", summary="Read a qualifying event")
async def read_qualifying_event(request: Request, name: str) -> Response:
    return await read_one(request, name)


async def read_one(request: Request, name: str) -> Response:
    """The read endpoint (also answered by ``api.hot_reads`` without the router)."""
    context = context_of(request)

    def run() -> Any:
        authenticate(request)
        return context.events.get(name)

    stored = await reading(request, run)
    encoded = encoded_once(
        stored.memo,
        lambda: {
            "message": "Qualifying event read successfully.",
            "data": event_to_wire(stored.event),
        },
    )
    return encoded_json_response(encoded, headers={"ETag": etag(stored.revision)})


@router.post("/{name}", summary="Update a qualifying event (replaces the definition)")
async def update_qualifying_event(request: Request, name: str) -> Response:
    context = context_of(request)
    key = await reading(request, authenticate, request, write=True)
    body = await read_body(request, UpdateBody)
    event = body.to_event(body.name if body.name is not None else name)
    held = await _held_for_review(
        request,
        "update",
        name,
        key,
        dry_run=bool(body.dry_run),
        event=event,
        expected_revision=expected_revision(request),
    )
    if held is not None:
        return held
    result = await writing(
        request,
        context.events.update,
        name,
        event,
        actor_of(key),
        dry_run=bool(body.dry_run),
        expected_revision=expected_revision(request),
    )
    return _write_response(result, "Qualifying event updated successfully.", 200)


@router.patch("/{name}", summary="Change only the fields sent (qualevents extension)")
async def patch_qualifying_event(request: Request, name: str) -> Response:
    context = context_of(request)
    key = await reading(request, authenticate, request, write=True)
    body = await read_body(request, PatchBody)
    held = await _held_for_review(
        request,
        "patch",
        name,
        key,
        dry_run=bool(body.dry_run),
        changes=body.to_domain_changes(),
        expected_revision=expected_revision(request),
    )
    if held is not None:
        return held
    result = await writing(
        request,
        context.events.patch,
        name,
        body.to_domain_changes(),
        actor_of(key),
        dry_run=bool(body.dry_run),
        expected_revision=expected_revision(request),
    )
    return _write_response(result, "Qualifying event updated successfully.", 200)


@router.delete("/{name}", summary="Delete a qualifying event")
async def delete_qualifying_event(request: Request, name: str) -> Response:
    context = context_of(request)
    key = await reading(request, authenticate, request, write=True)
    revision = expected_revision(request)
    held = await _held_for_review(request, "delete", name, key, expected_revision=revision)
    if held is not None:
        return held
    await writing(request, context.events.delete, name, actor_of(key), expected_revision=revision)
    return json_response({"message": "Qualifying event deleted successfully."})
