"""The routes every kind of source has (Statsig's list, create, read, update, delete, plus
PATCH), written once: ``source_router(kind)`` declares them for one ``Kind``, a small record
of data (its paths, messages, body and response models, and where its use cases live).
Thin handlers: FastAPI parses and checks, the service does the work, the response is
encoded once. Imports ``api.*``, ``errors``, ``service``, ``wire``.

No ``from __future__ import annotations`` here: the handlers' parameter types come from the
kind (``kind.create_body``), which FastAPI must see as objects, not strings.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel
from starlette.responses import Response

from qualevents.api.convert import (
    change_request_to_wire,
    event_from_body,
    event_to_wire,
    report_to_wire,
)
from qualevents.api.deps import (
    AppContext,
    CallingKey,
    Context,
    ExpectedRevision,
    JsonBody,
    WantsReview,
    WritingKey,
    _writing_key,
    actor_of,
    warehouse_call,
)
from qualevents.api.params import PagingParams
from qualevents.api.responses import etag, json_response, pagination
from qualevents.api.routes.documented import errors_of
from qualevents.models import ApiKey, QualifyingEvent, Source
from qualevents.reviews import ReviewService
from qualevents.service import QualifyingEventService, WriteResult
from qualevents.wire import ChangeRequestResponse, Message, body_encoder

HELD_MESSAGE = "Change request created; the change waits for review."


@dataclass(frozen=True)
class Kind:
    """One kind of source: what differs between kinds is data, not code."""

    base: str  # e.g. /console/v1/experiments/qualifying_events
    label: str  # "Qualifying event", as in Statsig's messages
    tag: str  # the OpenAPI tag
    create_body: type[BaseModel]
    update_body: type[BaseModel]
    patch_body: type[BaseModel]
    one: type[BaseModel]  # the response with one source
    page: type[BaseModel]  # a list page
    service: Callable[[AppContext], QualifyingEventService]
    list_path: str = ""  # relative to collection; Statsig's metric sources list at "/list"
    # The review queue as seen by this kind (submits changes to it).
    reviews: Callable[[AppContext], ReviewService] = lambda context: context.reviews
    # Where the list and create live when not at ``base`` (Statsig's assignment sources:
    # /assignment_sources, each one at /assignment_source/{name}).
    collection: str | None = None
    model: type[Source] = QualifyingEvent  # the domain class a body becomes
    # Messages where Statsig's differ from "<label> <verb> successfully.", by verb:
    # listed, created, read, updated, deleted.
    messages: dict[str, str] = field(default_factory=dict)
    name: str = "qualifying_event"  # the store's kind
    reserved_names: dict[str, str] = field(default_factory=dict)  # refused, with why
    renames: bool = False  # an update body may name the source anew
    with_daily: bool = True  # has -/daily (events per day)
    # Routers of this kind's own beyond the shared ones (assignment sources: the scan).
    extra_routers: tuple[APIRouter, ...] = ()

    @property
    def collection_path(self) -> str:
        return self.collection or self.base

    def message(self, verb: str) -> str:
        """Statsig's success message for ``verb`` ("created") on this kind."""
        default = f"{self.label}s {verb} successfully." if verb == "listed" else None
        return self.messages.get(verb) or default or f"{self.label} {verb} successfully."


def _write_response(result: WriteResult, message: str, status: int, noun: str) -> Response:
    body: dict[str, Any] = {"message": message, "data": event_to_wire(result.event)}
    validation = report_to_wire(result.report)
    if validation is not None:
        body["validation"] = validation
    headers = {}
    if result.dry_run:
        body["dryRun"] = True
        body["message"] = f"Dry run: the {noun} is valid; nothing was saved."
        status = 200
    else:
        headers["ETag"] = etag(result.revision or 0)
    return json_response(body, status, headers)


async def _held_for_review(
    context: AppContext,
    reviews: ReviewService,
    wanted: bool,
    action: str,
    name: str,
    key: ApiKey,
    *,
    dry_run: bool = False,
    **change: Any,
) -> Response | None:
    """A 202 with the pending change request when the project requires reviews and the
    request asks to respect them; None when the change should be applied now."""
    if dry_run or not wanted:
        return None

    def run() -> Any:
        if not reviews.reviews_required():
            return None
        return reviews.submit(action, name, actor_of(key), **change)

    held = await context.blocking(run)
    if held is None:
        return None
    return json_response({"message": HELD_MESSAGE, "data": change_request_to_wire(held)}, 202)


def source_router(kind: Kind) -> APIRouter:
    """Statsig's five operations on ``kind`` and PATCH, declared."""
    router = APIRouter(tags=[kind.tag])
    one = kind.base + "/{name}"
    noun = kind.label.lower()
    Name = Annotated[str, Path(description=f"The {noun}'s name (URL-encoded; may contain spaces)")]
    write_deps = [Depends(_writing_key), JsonBody]
    # Reads and list pages are encoded straight from the stored documents (the declared
    # response_model documents them; FastAPI's own pattern for pre-encoded responses).
    encode_one = body_encoder(kind.create_body, many=False)
    encode_page = body_encoder(kind.create_body, many=True)
    written = {
        200: {"description": "Dry run: every check passed, nothing was stored"},
        202: {"model": ChangeRequestResponse, "description": "Held for review"},
    }

    async def change(
        context: AppContext,
        action: str,
        name: str,
        key: ApiKey,
        review: bool,
        revision: int | None,
        dry_run: bool,
        **value: Any,
    ) -> Response:
        """An update ("update": ``event=``) or a partial one ("patch": ``changes=``): held
        for review when asked and required, else applied through the service's method of
        that name."""
        held = await _held_for_review(
            context,
            kind.reviews(context),
            review,
            action,
            name,
            key,
            dry_run=dry_run,
            expected_revision=revision,
            **value,
        )
        if held is not None:
            return held
        (argument,) = value.values()
        result = await warehouse_call(
            context,
            getattr(kind.service(context), action),
            name,
            argument,
            actor_of(key),
            dry_run=dry_run,
            expected_revision=revision,
            key_id=key.id,
        )
        return _write_response(result, kind.message("updated"), 200, noun)

    @router.get(
        kind.collection_path + kind.list_path,
        summary=f"List {noun}s",
        response_model=kind.page,
        responses=errors_of(400, 401, 429),
    )
    async def list_sources(_key: CallingKey, context: Context, paging: PagingParams) -> Response:
        service = kind.service(context)
        found = service.peek_documents(paging.page, paging.limit) or await context.blocking(
            service.list_documents, paging.page, paging.limit
        )
        encoded = encode_page(
            {
                "message": kind.message("listed"),
                "data": found.items,
                "pagination": pagination(
                    kind.collection_path + kind.list_path, paging, found.total
                ),
            }
        )
        return Response(encoded, media_type="application/json")

    @router.post(
        kind.collection_path,
        summary=f"Create a {noun}",
        status_code=201,
        response_model=kind.one,
        responses={**written, **errors_of(400, 401, 403, 413, 415, 429, 502)},
        dependencies=write_deps,
    )
    async def create_source(
        body: kind.create_body,  # type: ignore[name-defined]
        key: WritingKey,
        context: Context,
        review: WantsReview,
    ) -> Response:
        event = event_from_body(body, body.name, kind.model)
        dry_run = bool(body.dry_run)
        held = await _held_for_review(
            context,
            kind.reviews(context),
            review,
            "create",
            event.name,
            key,
            dry_run=dry_run,
            event=event,
        )
        if held is not None:
            return held
        service = kind.service(context)
        result = await warehouse_call(
            context, service.create, event, actor_of(key), dry_run=dry_run, key_id=key.id
        )
        return _write_response(result, kind.message("created"), 201, noun)

    @router.get(
        one,
        summary=f"Read a {noun}",
        response_model=kind.one,
        responses=errors_of(400, 401, 404, 429),
    )
    async def read_source(name: Name, _key: CallingKey, context: Context) -> Response:
        service = kind.service(context)
        stored = service.peek(name) or await context.blocking(service.get, name)
        encoded = encode_one({"message": kind.message("read"), "data": stored.event.to_document()})
        return Response(
            encoded, media_type="application/json", headers={"ETag": etag(stored.revision)}
        )

    @router.post(
        one,
        summary=f"Update a {noun} (replaces the definition)",
        response_model=kind.one,
        responses={**written, **errors_of(400, 401, 403, 404, 412, 413, 415, 429, 502)},
        dependencies=write_deps,
    )
    async def update_source(
        name: Name,
        body: kind.update_body,  # type: ignore[name-defined]
        key: WritingKey,
        context: Context,
        review: WantsReview,
        revision: ExpectedRevision,
    ) -> Response:
        event = event_from_body(body, body.name if body.name is not None else name, kind.model)
        return await change(
            context, "update", name, key, review, revision, bool(body.dry_run), event=event
        )

    @router.patch(
        one,
        summary="Change only the fields sent (qualevents extension)",
        response_model=kind.one,
        responses={**written, **errors_of(400, 401, 403, 404, 412, 413, 415, 429, 502)},
        dependencies=write_deps,
    )
    async def patch_source(
        name: Name,
        body: kind.patch_body,  # type: ignore[name-defined]
        key: WritingKey,
        context: Context,
        review: WantsReview,
        revision: ExpectedRevision,
    ) -> Response:
        changes = body.to_domain_changes()
        return await change(
            context, "patch", name, key, review, revision, bool(body.dry_run), changes=changes
        )

    @router.delete(
        one,
        summary=f"Delete a {noun}",
        response_model=Message,
        responses={
            202: written[202],
            **errors_of(400, 401, 403, 404, 412, 429),
        },
    )
    async def delete_source(
        name: Name,
        key: WritingKey,
        context: Context,
        review: WantsReview,
        revision: ExpectedRevision,
    ) -> Response:
        held = await _held_for_review(
            context, kind.reviews(context), review, "delete", name, key, expected_revision=revision
        )
        if held is not None:
            return held
        service = kind.service(context)
        await context.blocking(service.delete, name, actor_of(key), expected_revision=revision)
        return json_response({"message": kind.message("deleted")})

    return router
