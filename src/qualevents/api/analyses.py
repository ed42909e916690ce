"""What every analysis route shares (issue 12's "Analyses are jobs"): start the analysis as
a job (``start_analysis``), answer the POST (``answer``: 200 with the result when the job is
done within ``wait`` seconds, else 202 with the job and a ``Location`` header), and a job as
on the wire (``job_to_wire``). Imports ``api.deps``, ``errors``, ``jobs``, ``service``,
``store``, ``wire``.

A new analysis type (power, next) is a route that resolves its sources, then calls
``start_analysis(context, key, analysis="power", ..., work=partial(run_power, ...))`` and
returns ``await answer(context, started, wait=body.wait, message=...)``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_json
from starlette.responses import Response

from qualevents.api.deps import AppContext
from qualevents.api.responses import json_response
from qualevents.errors import ErrorItem, NotFound, QualifyingEventNotFound, WarehouseUnavailable
from qualevents.jobs import JobService
from qualevents.models import ApiKey, StoredQualifyingEvent
from qualevents.service import QualifyingEventService, ensure_may_read_rows
from qualevents.store.base import Job

JOBS_PATH = "/console/v1/-/jobs"
RUNNING_MESSAGE = "The analysis is still running; poll the job at its Location."
# A POST must answer before the request's deadline (QUALEVENTS_REQUEST_TIMEOUT_S).
DEADLINE_MARGIN_S = 1.0


@dataclass(frozen=True)
class Started:
    job: Job
    future: Future[Job]


def jobs_of(context: AppContext) -> JobService:
    return context.jobs


def analysis_warehouse(context: AppContext, key: ApiKey) -> Any:
    """The warehouse an analysis runs in, once ``key`` may run one: a read-only key is
    refused (403) only where the operator refuses read-only keys warehouse rows."""
    ensure_may_read_rows(key, refuse_read_only=context.settings.refuse_rows_to_read_only_keys)
    if not context.has_warehouse or getattr(context.validator, "runner", None) is None:
        message = "No warehouse is configured (QUALEVENTS_WAREHOUSE_URL=none); analyses need one"
        raise WarehouseUnavailable(message, [ErrorItem((), message)])
    return context.validator.warehouse


def request_document(body: BaseModel) -> dict[str, Any]:
    """The request as stored with the job: camelCase, defaults filled in, without ``wait``."""
    return body.model_dump(mode="json", by_alias=True, exclude={"wait"})


def source_named(
    service: QualifyingEventService, name: str, label: str, field: str
) -> StoredQualifyingEvent:
    """The stored source ``name`` of an analysis body's ``field`` (e.g. the metric source
    of ``metricSource``); 404 "<label> <name> not found" naming that field otherwise."""
    try:
        return service.get(name)
    except QualifyingEventNotFound:
        message = f"No {label.lower()} is named {name!r}"
        raise NotFound(f"{label} {name} not found", [ErrorItem((field,), message)]) from None


def source_ref(kind: str, name: str, revision: int | None) -> dict[str, Any]:
    return {"kind": kind, "name": name, "revision": revision}


async def start_analysis(
    context: AppContext,
    key: ApiKey,
    *,
    analysis: str,
    name: str,
    request: BaseModel,
    sources: list[dict[str, Any]],
    work: Callable[[], dict[str, Any]],
    source_kind: str = "qualifying_event",
) -> Started:
    """Store the job and start ``work`` (blocking, returns the response ``data``) on the
    warehouse runner's rows lane, counted against ``key``'s limit (429 beyond it)."""
    job, future = await context.blocking(
        jobs_of(context).start,
        analysis=analysis,
        source_kind=source_kind,
        source_name=name,
        request=request_document(request),
        sources=sources,
        key=key,
        work=work,
    )
    return Started(job, future)


def job_location(job_id: str) -> str:
    return f"{JOBS_PATH}/{job_id}"


def _time(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def job_to_wire(job: Job, *, with_result: bool = True) -> dict[str, Any]:
    return {
        "id": job.id,
        "analysis": job.analysis,
        "status": job.status,
        "kind": job.source_kind,
        "name": job.source_name,
        "request": job.request,
        "sources": job.sources,
        "compiledSql": job.compiled_sql,
        "result": job.result if with_result else None,
        "error": job.error,
        "createdBy": job.key_name,
        "createdByKeyID": job.key_id,
        "createdAt": _time(job.created_at),
        "startedAt": _time(job.started_at),
        "finishedAt": _time(job.finished_at),
        "timings": job.timings,
        "location": job_location(job.id),
    }


def finished_response(job: Job, message: str) -> Response:
    """A finished job's answer to the POST that started it: 200 with the result, else the
    error body it failed (or was cancelled) with, and its status."""
    location = {"Location": job_location(job.id)}
    if job.status == "succeeded":
        body = {"message": message, "data": job.result, "job": job_to_wire(job, with_result=False)}
        return json_response(body, 200, location)
    error = job.error or {"status": 500, "message": "The analysis failed", "errors": []}
    return Response(
        to_json(error),
        status_code=int(error.get("status") or 500),
        media_type="application/json",
        headers=location,
    )


async def answer(context: AppContext, started: Started, *, wait: float, message: str) -> Response:
    """Wait up to ``wait`` seconds (less the request's deadline margin) for the job: its
    result (200), its error, or 202 with the job, ``Location`` and ``Retry-After``."""
    limit = max(0.0, min(wait, context.settings.request_timeout_s - DEADLINE_MARGIN_S))
    waiting = asyncio.wrap_future(started.future)
    waiting.add_done_callback(lambda f: f.cancelled() or f.exception())
    if limit > 0:
        await asyncio.wait({waiting}, timeout=limit)
    if started.future.done():
        return finished_response(started.future.result(), message)
    job = await context.blocking(jobs_of(context).get, started.job.id) or started.job
    if job.done:
        return finished_response(job, message)
    headers = {"Location": job_location(job.id), "Retry-After": "1"}
    return json_response({"message": RUNNING_MESSAGE, "job": job_to_wire(job)}, 202, headers)
