"""Power analysis with the qualifying event as the population (issue 13), a job like
exposure filtering: ``POST .../qualifying_events/{name}/-/power``, and its PNG
(``Accept: image/png`` on that POST, and on the job's GET once a power job succeeded).
Imports ``api.*``, ``analysis``, ``errors``, ``store`` (the Job type), ``wire``.
"""

from __future__ import annotations

import functools
from typing import Annotated

from fastapi import APIRouter, Body, Path, Request
from starlette.responses import Response

from qualevents.analysis import PowerRequest, run_power
from qualevents.analysis.inputs import resolve_unit_type
from qualevents.api.analyses import (
    analysis_warehouse,
    answer,
    job_location,
    jobs_of,
    source_named,
    source_ref,
    start_analysis,
)
from qualevents.api.deps import AppContext, CallingKey, Context, JsonBody
from qualevents.api.routes.documented import errors_of
from qualevents.api.routes.metric_sources import METRIC_SOURCE_KIND
from qualevents.api.routes.qualifying_events import BASE
from qualevents.errors import ValidationFailed
from qualevents.store.base import Job
from qualevents.wire import JobAccepted, PowerResponse

POWER = "power"
MESSAGE = "Power analysis computed successfully."
PNG = "image/png"

router = APIRouter(tags=["Analyses (qualevents)"])
EventName = Annotated[str, Path(description="The qualifying event's name (the population)")]

PNG_CONTENT = {PNG: {"schema": {"type": "string", "format": "binary"}}}
JOB_PNG = (
    "With `Accept: image/png`, for a succeeded power job: its result as a PNG (any other job, "
    "or one not finished, answers JSON)"
)
PNG_DESCRIPTION = (
    "With `Accept: image/png`: the same numbers as a PNG, relative MDE (with and without "
    "CUPED) and units against weeks"
)


def wants_png(request: Request) -> bool:
    """Whether the caller asked for the picture: ``image/png`` in ``Accept`` ranked above
    JSON (``image/*`` counts; ``*/*`` alone does not)."""
    best_png, best_json = 0.0, 0.0
    for part in request.headers.get("accept", "").split(","):
        media, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media = media.strip().lower()
        if media in (PNG, "image/*"):
            best_png = max(best_png, quality)
        elif media in ("application/json", "application/*"):
            best_json = max(best_json, quality)
    return best_png > 0 and best_png >= best_json


def png_of(job: Job) -> bytes:
    """A succeeded power job's result as a PNG (matplotlib: CPU work, call off the loop)."""
    from qualevents.analysis.plot import power_png

    return power_png(job.result or {}, job.source_name)


def is_png_job(job: Job | None) -> bool:
    return job is not None and job.analysis == POWER and job.status == "succeeded"


async def png_response(context: AppContext, job: Job) -> Response:
    png = await context.blocking(png_of, job)
    return Response(png, media_type=PNG, headers={"Location": job_location(job.id)})


@router.post(
    BASE + "/{name}/-/power",
    summary="Power analysis with the qualifying event as the population (a warehouse job)",
    response_model=PowerResponse,
    responses={
        200: {"content": PNG_CONTENT, "description": PNG_DESCRIPTION},
        202: {
            "model": JobAccepted,
            "description": "Still running after `wait` seconds: poll the job at `Location` "
            "(with `Accept: image/png` for the picture once it succeeded)",
        },
        **errors_of(400, 401, 403, 404, 409, 429, 502, 504),
    },
    dependencies=[JsonBody],
)
async def power(
    name: EventName,
    body: Annotated[PowerRequest, Body()],
    key: CallingKey,
    context: Context,
    request: Request,
) -> Response:
    problems = body.problems()
    if problems:
        raise ValidationFailed(errors=problems)
    warehouse = analysis_warehouse(context, key)
    stored = await context.blocking(context.events.get, name)
    metric = await context.blocking(
        source_named, context.metric_sources, body.metric_source, "Metric source", "metricSource"
    )
    event, source = stored.event, metric.event
    # The unit type needs no warehouse: a 400 now rather than a failed job.
    resolve_unit_type(
        body.unit_type,
        (f"qualifying event {event.name!r}", event.id_type_mapping),
        (f"metric source {source.name!r}", source.id_type_mapping),
    )
    started = await start_analysis(
        context,
        key,
        analysis=POWER,
        name=event.name,
        request=body,
        sources=[
            source_ref("qualifying_event", event.name, stored.revision),
            source_ref(METRIC_SOURCE_KIND, source.name, metric.revision),
        ],
        work=functools.partial(run_power, warehouse, event, source, body),
    )
    response = await answer(context, started, wait=body.wait, message=MESSAGE)
    if response.status_code == 200 and wants_png(request):
        future = started.future
        job = future.result() if future.done() else None
        if job is None:  # finished, as the store says, on another thread than this future's
            job = await context.blocking(jobs_of(context).get, started.job.id)
        if is_png_job(job):
            return await png_response(context, job)
    return response
