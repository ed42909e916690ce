"""Config as code (qualevents extensions under ``/console/v1/-/``): ``POST /-/plan`` says
what applying a folder's sources would change, with each change's validation report;
``POST /-/apply`` applies a saved plan's changes in one transaction (or opens change
requests when reviews are required and respected). Imports ``api.*``, ``sync``, ``wire``.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.responses import Response

from qualevents.api.deps import (
    AppContext,
    CallingKey,
    Context,
    JsonBody,
    WantsReview,
    WritingKey,
    _writing_key,
    actor_of,
    warehouse_call,
)
from qualevents.api.plans import (
    applied_message,
    applied_to_wire,
    changes_of,
    desired_of,
    plan_to_wire,
)
from qualevents.api.responses import json_response
from qualevents.api.routes.documented import errors_of
from qualevents.api.routes.kinds import KINDS
from qualevents.sync.plan import SyncService
from qualevents.wire import ApplyBody, ApplyResponse, PlanBody, PlanResponse

router = APIRouter(prefix="/console/v1/-", tags=["Config as code"])


def sync_service(context: AppContext) -> SyncService:
    """Every kind's service of the app (``api.routes.kinds``), and the review queue."""
    return SyncService({kind.name: kind.service(context) for kind in KINDS}, context.reviews)


@router.post(
    "/plan",
    summary="What applying a folder of sources would change (nothing is written)",
    response_model=PlanResponse,
    responses=errors_of(400, 401, 413, 415, 429, 502),
    dependencies=[JsonBody],
)
async def plan(body: PlanBody, _key: CallingKey, context: Context) -> Response:
    made = await warehouse_call(
        context, sync_service(context).plan, body.sync_id, desired_of(body), prune=body.prune
    )
    return json_response({"message": "Plan made.", "data": plan_to_wire(made)})


@router.post(
    "/apply",
    summary="Apply a plan's changes, all or none",
    response_model=ApplyResponse,
    responses={
        202: {"model": ApplyResponse, "description": "Held for review: one change request each"},
        **errors_of(400, 401, 403, 412, 413, 415, 429, 502),
    },
    dependencies=[Depends(_writing_key), JsonBody],
)
async def apply(
    body: ApplyBody, key: WritingKey, context: Context, review: WantsReview
) -> Response:
    applied = await warehouse_call(
        context,
        sync_service(context).apply,
        body.sync_id,
        changes_of(body),
        actor_of(key),
        read_only=body.read_only,
        review=review,
    )
    return json_response(
        {"message": applied_message(applied), "data": applied_to_wire(applied)},
        202 if applied.held else 200,
    )
