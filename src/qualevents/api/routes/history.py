"""History: an event's revisions (qualevents extension, under the reserved ``-`` segment)
and Statsig's ``/console/v1/audit_logs`` across all events.
Imports ``api.context``, ``api.schemas``, ``errors``, ``service``, ``store``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from qualevents.api.context import (
    RowNumber,
    actor_of,
    authenticate,
    context_of,
    etag,
    expected_revision,
    json_response,
    page_params,
    pagination,
    reading,
    validating,
)
from qualevents.api.routes.qualifying_events import BASE
from qualevents.api.schemas import changes_to_wire, event_to_wire, to_wire, wire_name
from qualevents.errors import ErrorItem, InvalidRequest
from qualevents.store.base import Revision

router = APIRouter(tags=["History"])

ACTION_TYPES = {
    "create": "qualifying_event_created",
    "update": "qualifying_event_updated",
    "patch": "qualifying_event_updated",
    "restore": "qualifying_event_restored",
    "delete": "qualifying_event_deleted",
}
_ACTIONS_BY_TYPE: dict[str, list[str]] = {}
for _action, _type in ACTION_TYPES.items():
    _ACTIONS_BY_TYPE.setdefault(_type, []).append(_action)


def revision_to_wire(revision: Revision) -> dict[str, Any]:
    return {
        "revision": revision.revision,
        "action": revision.action,
        "data": to_wire(revision.document) if revision.document is not None else None,
        "changes": changes_to_wire(revision.changes),
        "updatedBy": revision.key_name,
        "updatedByKeyID": revision.key_id,
        "createdAt": revision.created_at.isoformat(),
    }


def audit_item(revision: Revision) -> dict[str, Any]:
    """One entry in the shape of Statsig's audit log."""
    fields = [wire_name(field) for field in revision.changes]
    verb = {"create": "Created", "delete": "Deleted", "restore": "Restored"}.get(
        revision.action, "Updated"
    )
    change_log = f"{verb} qualifying event {revision.event_name}"
    if revision.action in ("update", "patch", "restore") and fields:
        change_log += f" ({', '.join(fields)})"
    stamp = revision.created_at.astimezone(UTC)
    tags = (revision.document or {}).get("tags") or []
    return {
        "id": f"{revision.event_name}@{revision.revision}",
        "name": revision.event_name,
        "changeLog": change_log,
        "actionType": ACTION_TYPES.get(revision.action, revision.action),
        "date": stamp.date().isoformat(),
        "time": stamp.isoformat(),
        "updatedBy": revision.key_name,
        "updatedByUserID": revision.key_id,
        "modifierEmail": None,
        "changes": changes_to_wire(revision.changes),
        "tags": tags,
        "revision": revision.revision,
    }


@router.get(BASE + "/{name}/-/revisions", summary="An event's history, oldest first")
async def list_revisions(
    request: Request,
    name: str,
    limit: str | None = Query(None),
    page: str | None = Query(None),
) -> Response:
    size, number = page_params(limit, page)
    context = context_of(request)

    def run() -> dict[str, Any]:
        authenticate(request)
        found = context.events.revisions(name, number, size)
        return {
            "message": "Revisions listed successfully.",
            "data": [revision_to_wire(item) for item in found.items],
            "pagination": pagination(
                quote(request.url.path), number, size, found.total, dict(request.query_params)
            ),
        }

    return json_response(await reading(request, run))


@router.get(BASE + "/{name}/-/revisions/{number}", summary="One revision of an event")
async def read_revision(request: Request, name: str, number: RowNumber) -> Response:
    context = context_of(request)

    def run() -> Revision:
        authenticate(request)
        return context.events.revision(name, number)

    revision = await reading(request, run)
    return json_response(
        {"message": "Revision read successfully.", "data": revision_to_wire(revision)}
    )


@router.post(
    BASE + "/{name}/-/revisions/{number}/restore",
    summary="Write a new revision equal to an earlier one",
)
async def restore_revision(request: Request, name: str, number: RowNumber) -> Response:
    context = context_of(request)
    revision = expected_revision(request)

    def run() -> Any:
        key = authenticate(request, write=True)
        return context.events.restore(name, number, actor_of(key), expected_revision=revision)

    result = await validating(request, run)
    return json_response(
        {
            "message": f"Qualifying event restored from revision {number}.",
            "data": event_to_wire(result.event),
        },
        headers={"ETag": etag(result.revision or 0)},
    )


def _day(value: str | None, field: str, *, end: bool = False) -> datetime | None:
    if not value:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime.combine(day, time.min, tzinfo=UTC)
            return moment + timedelta(days=1) if end else moment
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest(
            errors=[ErrorItem((field,), f"Expected YYYY-MM-DD or an ISO timestamp; got {value!r}")]
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@router.get("/console/v1/audit_logs", summary="Audit logs (Statsig's endpoint and shape)")
async def audit_logs(
    request: Request,
    limit: str | None = Query(None),
    page: str | None = Query(None),
    start_date: str | None = Query(None, alias="startDate"),
    end_date: str | None = Query(None, alias="endDate"),
    sort_key: str | None = Query(None, alias="sortKey", description="'date' (the only key)"),
    sort_order: str | None = Query(None, alias="sortOrder", description="'asc' or 'desc'"),
    action_type: str | None = Query(None, alias="actionType"),
    name: str | None = Query(None, description="Only this qualifying event"),
    key_id: str | None = Query(None, alias="keyID", description="Only changes by this key"),
) -> Response:
    size, number = page_params(limit, page)
    problems = []
    if sort_key not in (None, "", "date", "time"):
        problems.append(ErrorItem(("sortKey",), "Supported: 'date'"))
    if (sort_order or "desc").lower() not in ("asc", "desc"):
        problems.append(ErrorItem(("sortOrder",), "Expected 'asc' or 'desc'"))
    actions: list[str] | None = None
    if action_type:
        actions = _ACTIONS_BY_TYPE.get(action_type) or (
            [action_type] if action_type in ACTION_TYPES else None
        )
        if actions is None:
            problems.append(
                ErrorItem(
                    ("actionType",),
                    f"Unknown action type; expected one of: {', '.join(sorted(_ACTIONS_BY_TYPE))}",
                )
            )
    if problems:
        raise InvalidRequest(errors=problems)
    since = _day(start_date, "startDate")
    until = _day(end_date, "endDate", end=True)
    context = context_of(request)

    def run() -> dict[str, Any]:
        authenticate(request)
        found = context.events.audit_log(
            number,
            size,
            since=since,
            until=until,
            actions=actions,
            event_name=name,
            key_id=key_id,
            newest_first=(sort_order or "desc").lower() == "desc",
        )
        return {
            "message": "Audit logs listed successfully.",
            "data": [audit_item(item) for item in found.items],
            "pagination": pagination(
                quote(request.url.path), number, size, found.total, dict(request.query_params)
            ),
        }

    return json_response(await reading(request, run))
