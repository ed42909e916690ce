"""Statsig's Console API for assignment sources: another ``Kind`` given to the shared routes
(``api.routes.sources``), with Statsig's paths (list and create at ``/assignment_sources``,
each one at ``/assignment_source/{name}``, a read by name that is ours), its messages, its
bodies (``AssignmentSource*Dto``) and renames through the update body; plus the scan under
the reserved ``-`` segment (``-/experiments``). Imports ``api.*``, ``errors``, ``models``,
``wire``.

No ``from __future__ import annotations``: FastAPI reads the handler's parameter types.
"""

from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from qualevents.api.deps import CallingKey, Context, warehouse_call
from qualevents.api.params import Day
from qualevents.api.responses import json_response
from qualevents.api.routes.data import event_for_rows
from qualevents.api.routes.documented import errors_of
from qualevents.api.routes.sources import Kind, source_router
from qualevents.models import AssignmentSource
from qualevents.wire import (
    AssignmentSourceCreateBody,
    AssignmentSourceListResponse,
    AssignmentSourcePatchBody,
    AssignmentSourceResponse,
    AssignmentSourceUpdateBody,
    ExperimentScanResponse,
)

BASE = "/console/v1/experiments/assignment_source"
ASSIGNMENT_SOURCE_KIND = "assignment_source"

# The scan's route is declared below, on this router, which the kind carries.
scan_router = APIRouter(prefix=BASE, tags=["Warehouse (qualevents)"])

ASSIGNMENT_SOURCES = Kind(
    base=BASE,
    collection="/console/v1/experiments/assignment_sources",
    label="Assignment source",
    tag="Experiments (Warehouse Native)",
    create_body=AssignmentSourceCreateBody,
    update_body=AssignmentSourceUpdateBody,
    patch_body=AssignmentSourcePatchBody,
    one=AssignmentSourceResponse,
    page=AssignmentSourceListResponse,
    service=lambda context: context.assignment_sources,
    reviews=lambda context: context.assignment_source_reviews,
    model=AssignmentSource,
    # Statsig's own (its capitals, and no final period, on these three).
    messages={
        "created": "Assignment Source created successfully",
        "updated": "Assignment Source updated successfully",
        "read": "Assignment Source read successfully",
    },
    name=ASSIGNMENT_SOURCE_KIND,
    renames=True,
    with_daily=False,
    extra_routers=(scan_router,),
)
router = source_router(ASSIGNMENT_SOURCES)


@scan_router.get(
    "/{name}/-/experiments",
    summary="The experiments an assignment source holds, with groups and units (the scan)",
    response_model=ExperimentScanResponse,
    responses=errors_of(400, 401, 403, 404, 429, 502, 504),
)
async def experiments(
    name: Annotated[str, Path(description="The assignment source's name")],
    key: CallingKey,
    context: Context,
    start: Annotated[
        Day, Query(description="First UTC day of exposures, YYYY-MM-DD (default: all)")
    ] = None,
    end: Annotated[Day, Query(description="Last UTC day, YYYY-MM-DD (default: today)")] = None,
    unit_type: Annotated[
        str | None,
        Query(
            alias="unitType",
            description="The statsigUnitID whose units are counted (default: the first mapped)",
        ),
    ] = None,
) -> Response:
    source = await event_for_rows(context, ASSIGNMENT_SOURCES, key, name)
    result = await warehouse_call(
        context,
        context.validator.scan,
        source,
        start=start,
        end=end,
        unit_type=unit_type,
        key_id=key.id,
        lane="rows",
    )
    body = {
        "message": "Assignment source scanned successfully.",
        "data": [experiment.to_dict() for experiment in result.experiments],
    }
    if result.truncated:
        body["truncated"] = True
    return json_response(body)
