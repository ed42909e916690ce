"""Analyses of qualifying events and their jobs (qualevents extensions under ``-``):
``POST .../qualifying_events/{name}/-/filter_exposures`` (issue 12), ``GET
.../{name}/-/analyses`` (the event's past analyses, newest first), ``GET /console/v1/-/jobs/{id}``
and ``POST /console/v1/-/jobs/{id}/cancel``. Imports ``api.*``, ``analysis``, ``errors``,
``store``, ``wire``.

Any valid key may read a job by its id (an unguessable capability handed out by the POST)
and list an event's analyses, as it may read the event; a full-access key may cancel any
job, a read-only key only those it started.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request
from starlette.responses import Response

from qualevents.analysis import FilterExposuresRequest, run_filter_exposures
from qualevents.analysis.inputs import resolve_unit_type
from qualevents.api.analyses import (
    JOBS_PATH,
    analysis_warehouse,
    answer,
    job_to_wire,
    jobs_of,
    source_named,
    source_ref,
    start_analysis,
)
from qualevents.api.deps import CallingKey, Context, JsonBody
from qualevents.api.params import PagingParams
from qualevents.api.responses import json_response, pagination
from qualevents.api.routes import power as power_routes
from qualevents.api.routes.assignment_sources import ASSIGNMENT_SOURCE_KIND
from qualevents.api.routes.documented import errors_of
from qualevents.api.routes.qualifying_events import BASE
from qualevents.errors import ErrorItem, ValidationFailed
from qualevents.wire import FilterExposuresResponse, JobAccepted, JobListResponse, JobResponse

ANALYSES = ("filter_exposures", "power")

router = APIRouter(tags=["Analyses (qualevents)"])
EventName = Annotated[str, Path(description="The qualifying event's name")]
JobID = Annotated[str, Path(description="The job's id, from the analysis response", max_length=64)]

ACCEPTED = {
    202: {
        "model": JobAccepted,
        "description": "Still running after `wait` seconds: poll the job at `Location`",
    }
}


@router.post(
    BASE + "/{name}/-/filter_exposures",
    summary="Filter an experiment's exposures by the qualifying event (a warehouse job)",
    response_model=FilterExposuresResponse,
    responses={**ACCEPTED, **errors_of(400, 401, 403, 404, 409, 429, 502, 504)},
    dependencies=[JsonBody],
)
async def filter_exposures(
    name: EventName,
    body: Annotated[FilterExposuresRequest, Body()],
    key: CallingKey,
    context: Context,
) -> Response:
    problems = body.problems()
    if problems:
        raise ValidationFailed(errors=problems)
    warehouse = analysis_warehouse(context, key)
    stored = await context.blocking(context.events.get, name)
    assigned = await context.blocking(
        source_named,
        context.assignment_sources,
        body.assignment_source,
        "Assignment source",
        "assignmentSource",
    )
    assignment, assignment_revision = assigned.event, assigned.revision
    event = stored.event
    problems = body.problems_with(event)
    if problems:
        raise ValidationFailed(errors=problems)
    # The unit type needs no warehouse: a 400 now rather than a failed job.
    resolve_unit_type(
        body.unit_type,
        (f"assignment source {assignment.name!r}", assignment.id_type_mapping),
        (f"qualifying event {event.name!r}", event.id_type_mapping),
    )
    started = await start_analysis(
        context,
        key,
        analysis="filter_exposures",
        name=event.name,
        request=body,
        sources=[
            source_ref("qualifying_event", event.name, stored.revision),
            source_ref(ASSIGNMENT_SOURCE_KIND, assignment.name, assignment_revision),
        ],
        work=functools.partial(run_filter_exposures, warehouse, event, assignment, body),
    )
    return await answer(
        context, started, wait=body.wait, message="Exposures filtered successfully."
    )


@router.get(
    BASE + "/{name}/-/analyses",
    summary="The qualifying event's analyses (jobs), newest first",
    response_model=JobListResponse,
    responses=errors_of(400, 401, 404),
)
async def list_analyses(
    name: EventName,
    key: CallingKey,
    context: Context,
    paging: PagingParams,
    analysis: Annotated[
        str | None, Query(description=f"Only this analysis: {', '.join(ANALYSES)}")
    ] = None,
) -> Response:
    if analysis is not None and analysis not in ANALYSES:
        message = f"Unknown analysis {analysis!r}; expected one of: {', '.join(ANALYSES)}"
        raise ValidationFailed(errors=[ErrorItem(("analysis",), message)])
    jobs = jobs_of(context)
    offset = (paging.page - 1) * paging.limit

    def read() -> Any:
        page = jobs.list("qualifying_event", name, offset, paging.limit, analysis=analysis)
        if page.total == 0:
            context.events.get(name)  # 404 for a name that has neither jobs nor an event
        return page

    page = await context.blocking(read)
    path = f"{BASE}/{name}/-/analyses"
    filters = {"analysis": analysis} if analysis else None
    return json_response(
        {
            "message": "Analyses listed successfully.",
            "data": [job_to_wire(job) for job in page.items],
            "pagination": pagination(path, paging, page.total, filters),
        }
    )


@router.get(
    JOBS_PATH + "/{job_id}",
    summary="An analysis job: its status, and its result or error once finished",
    response_model=JobResponse,
    responses={
        200: {"content": power_routes.PNG_CONTENT, "description": power_routes.JOB_PNG},
        **errors_of(400, 401, 404),
    },
)
async def read_job(job_id: JobID, key: CallingKey, context: Context, request: Request) -> Response:
    job = await context.blocking(jobs_of(context).get_or_raise, job_id)
    if power_routes.is_png_job(job) and power_routes.wants_png(request):
        return await power_routes.png_response(context, job)
    return json_response({"message": "Job read successfully.", "data": job_to_wire(job)})


@router.post(
    JOBS_PATH + "/{job_id}/cancel",
    summary="Cancel a queued or running job and its warehouse query",
    response_model=JobResponse,
    responses=errors_of(400, 401, 403, 404, 409),
)
async def cancel_job(job_id: JobID, key: CallingKey, context: Context) -> Response:
    job = await context.blocking(jobs_of(context).cancel, job_id, key)
    return json_response({"message": "Job cancelled.", "data": job_to_wire(job)})
