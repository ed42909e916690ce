"""History: a source's revisions (qualevents extension, under the reserved ``-`` segment;
``revisions_router(kind)`` for each kind) and Statsig's ``/console/v1/audit_logs`` across
every kind.
Imports ``api.*``, ``errors``, ``wire``.

No ``from __future__ import annotations``: the revision handlers' ``Name`` is made per kind,
inside ``revisions_router``, where FastAPI could not resolve it from a string.
"""

from typing import Annotated, Any, Literal, get_args
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response

from qualevents.api.convert import ACTION_TYPES, audit_item, event_to_wire, revision_to_wire
from qualevents.api.deps import (
    CallingKey,
    Context,
    ExpectedRevision,
    WritingKey,
    actor_of,
    warehouse_call,
)
from qualevents.api.errors import invalid
from qualevents.api.params import Blank, PagingParams, RowNumber, Since, SortOrder, Until
from qualevents.api.responses import etag, json_response, pagination
from qualevents.api.routes.documented import errors_of
from qualevents.api.routes.sources import Kind
from qualevents.wire import (
    AuditLogResponse,
    EventResponse,
    RevisionListResponse,
    RevisionResponse,
    SourceKind,
)

router = APIRouter(tags=["History"])

# Statsig's action types name the kind (qualifying_event_created, metric_source_created,
# assignment_source_created, ...): each type is (its kind, the store's actions).
_ACTIONS_BY_TYPE: dict[str, tuple[str, list[str]]] = {}
for _kind in get_args(SourceKind):
    for _action, _type in ACTION_TYPES.items():
        _kind_type = _type.replace("qualifying_event", _kind, 1)
        _ACTIONS_BY_TYPE.setdefault(_kind_type, (_kind, []))[1].append(_action)


def revisions_router(kind: Kind) -> APIRouter:
    """A kind's history under its reserved ``-`` segment: revisions, one revision, restore."""
    router = APIRouter(tags=["History"])
    noun = kind.label.lower()
    Name = Annotated[str, Path(description=f"The {noun}'s name")]

    @router.get(
        kind.base + "/{name}/-/revisions",
        summary=f"A {noun}'s history, oldest first",
        response_model=RevisionListResponse,
        responses=errors_of(400, 401, 404, 429),
    )
    async def list_revisions(
        request: Request, name: Name, _key: CallingKey, context: Context, paging: PagingParams
    ) -> Response:
        found = await context.blocking(
            kind.service(context).revisions, name, paging.page, paging.limit
        )
        return json_response(
            {
                "message": "Revisions listed successfully.",
                "data": [revision_to_wire(item) for item in found.items],
                "pagination": pagination(
                    quote(request.url.path), paging, found.total, dict(request.query_params)
                ),
            }
        )

    @router.get(
        kind.base + "/{name}/-/revisions/{number}",
        summary=f"One revision of a {noun}",
        response_model=RevisionResponse,
        responses=errors_of(400, 401, 404, 429),
    )
    async def read_revision(
        name: Name, number: RowNumber, _key: CallingKey, context: Context
    ) -> Response:
        revision = await context.blocking(kind.service(context).revision, name, number)
        return json_response(
            {"message": "Revision read successfully.", "data": revision_to_wire(revision)}
        )

    @router.post(
        kind.base + "/{name}/-/revisions/{number}/restore",
        summary="Write a new revision equal to an earlier one",
        response_model=EventResponse,
        responses=errors_of(400, 401, 403, 404, 412, 429, 502),
    )
    async def restore_revision(
        name: Name,
        number: RowNumber,
        key: WritingKey,
        context: Context,
        revision: ExpectedRevision,
    ) -> Response:
        result = await warehouse_call(
            context,
            kind.service(context).restore,
            name,
            number,
            actor_of(key),
            expected_revision=revision,
        )
        return json_response(
            {
                "message": f"{kind.label} restored from revision {number}.",
                "data": event_to_wire(result.event),
            },
            headers={"ETag": etag(result.revision or 0)},
        )

    return router


async def _actions(
    action_type: Annotated[
        str | None,
        Blank,
        Query(
            alias="actionType",
            description=f"One of: {', '.join(sorted(_ACTIONS_BY_TYPE))}",
        ),
    ] = None,
) -> tuple[str | None, list[str]] | None:
    """(the kind the action type names, or None for a bare action; the store's actions)."""
    if action_type is None:
        return None
    if action_type in _ACTIONS_BY_TYPE:
        return _ACTIONS_BY_TYPE[action_type]
    if action_type in ACTION_TYPES:
        return None, [action_type]
    raise invalid(
        "actionType",
        f"Unknown action type; expected one of: {', '.join(sorted(_ACTIONS_BY_TYPE))}",
    )


@router.get(
    "/console/v1/audit_logs",
    summary="Audit logs (Statsig's endpoint and shape)",
    response_model=AuditLogResponse,
    responses=errors_of(400, 401, 429),
)
async def audit_logs(
    request: Request,
    _key: CallingKey,
    context: Context,
    paging: PagingParams,
    action: Annotated[tuple[str | None, list[str]] | None, Depends(_actions)],
    since: Annotated[
        Since, Query(alias="startDate", description="YYYY-MM-DD or an ISO timestamp")
    ] = None,
    until: Annotated[
        Until, Query(alias="endDate", description="YYYY-MM-DD (the whole day) or a timestamp")
    ] = None,
    sort_key: Annotated[
        Literal["date", "time"] | None, Blank, Query(alias="sortKey", description="'date'")
    ] = None,
    sort_order: Annotated[SortOrder, Query(alias="sortOrder")] = None,
    kind: Annotated[
        SourceKind | None,
        Query(description="Only this kind of source (default: every kind)"),
    ] = None,
    name: Annotated[
        str | None, Query(description="Only sources of this name (of ``kind`` when given)")
    ] = None,
    key_id: Annotated[str | None, Query(alias="keyID", description="Only this key's")] = None,
) -> Response:
    action_kind, actions = action if action is not None else (None, None)
    if action_kind is not None:
        if kind is not None and kind != action_kind:
            raise invalid("actionType", f"Names a {action_kind}, but kind is {kind!r}")
        kind = action_kind  # type: ignore[assignment]
    found = await context.blocking(
        context.events.audit_log,
        paging.page,
        paging.limit,
        since=since,
        until=until,
        actions=actions,
        event_name=name,
        key_id=key_id,
        newest_first=(sort_order or "desc") == "desc",
        kind=kind,
    )
    body: dict[str, Any] = {
        "message": "Audit logs listed successfully.",
        "data": [audit_item(item) for item in found.items],
        "pagination": pagination(
            quote(request.url.path), paging, found.total, dict(request.query_params)
        ),
    }
    return json_response(body)
