"""A qualifying event's analyses in the console: the exposure-filter and power-analysis forms,
and a job's page (working while it runs, refreshing itself; then its results as tables and
charts: per-group qualified share with the bias verdict; MDE and units against weeks). The
forms start the API's own analysis (``api.routes.analyses``, ``api.routes.power``: the same
checks, job, warehouse lane and limits), then send the browser to the job's page.
Imports ``analysis``, ``errors``, ``api.*``, ``console.*``.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter
from markupsafe import Markup
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from qualevents.analysis import FilterExposuresRequest, PowerRequest
from qualevents.api.analyses import jobs_of
from qualevents.api.deps import context_of
from qualevents.api.errors import from_pydantic
from qualevents.api.routes import analyses as analysis_routes
from qualevents.api.routes import power as power_routes
from qualevents.console.auth import checked_form, require_session
from qualevents.console.charts import bar_chart
from qualevents.console.pages import kind_of
from qualevents.console.render import LeavePage, error_page, page, redirect, source_url
from qualevents.errors import ErrorItem, QualeventsError

router = APIRouter(include_in_schema=False)
# How long the POST waits for a quick analysis before sending the browser to the job's
# page, which then refreshes itself until the job is done.
WAIT_S = 2.0
REFRESH_S = 2


def _analysed_kind(request: Request, slug: str) -> Any:
    kind = kind_of(request, slug)
    if not kind.analyses:
        raise LeavePage(error_page(request, 404, "Not found", "This kind has no analyses."))
    return kind


def _names(context: Any, service: Any) -> list[str]:
    return [doc["name"] for doc in service.list_documents(1, 10_000).items]


def _text(form: Any, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _filter_body(form: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"wait": WAIT_S}
    for field in ("assignmentSource", "experimentID", "unitType", "start", "end", "eventFilter"):
        if _text(form, field):
            body[field] = _text(form, field)
    body["mode"] = _text(form, "mode") or "include"
    body["matchAgainst"] = _text(form, "matchAgainst") or "firstExposure"
    if _text(form, "windowAmount"):
        body["window"] = {"amount": _text(form, "windowAmount"), "unit": _text(form, "windowUnit")}
    split = _text(form, "expectedSplit")
    if split:
        body["expectedSplit"] = dict(
            (part.partition("=")[0].strip(), part.partition("=")[2].strip() or "x")
            for part in split.split(",")
            if part.strip()
        )
    return body


def _power_body(form: Any) -> dict[str, Any]:
    metric = {"type": _text(form, "metricType") or "sum"}
    for field in ("valueColumn", "numeratorColumn", "denominatorColumn"):
        if _text(form, field):
            metric[field] = _text(form, field)
    body: dict[str, Any] = {"metric": metric, "wait": WAIT_S}
    for field in ("metricSource", "unitType", "end", "eventFilter", "metricFilter"):
        if _text(form, field):
            body[field] = _text(form, field)
    for field in ("weeks", "metricWindowDays", "groups", "alpha", "power"):
        if _text(form, field):
            body[field] = _text(form, field)
    if _text(form, "cupedPreDays"):
        body["cuped"] = {"preDays": _text(form, "cupedPreDays")}
    return body


ANALYSES: dict[str, dict[str, Any]] = {
    "filter_exposures": {
        "title": "Filter exposures",
        "body": _filter_body,
        "model": FilterExposuresRequest,
        "start": analysis_routes.filter_exposures,
    },
    "power": {
        "title": "Power analysis",
        "body": _power_body,
        "model": PowerRequest,
        "start": power_routes.power,
    },
}


def _form(request: Request, kind: Any, name: str, analysis: str, **values: Any) -> Response:
    context = context_of(request)
    errors: list[ErrorItem] = values.pop("errors", [])
    by_field: dict[str, list[ErrorItem]] = {}
    for item in errors:
        by_field.setdefault(str(item.loc[0]) if item.loc else "", []).append(item)
    return page(
        request,
        f"{analysis}.html",
        values.pop("status", 200),
        kind=kind,
        name=name,
        analysis=analysis,
        title=ANALYSES[analysis]["title"],
        assignment_sources=_names(context, context.assignment_sources),
        metric_sources=_names(context, context.metric_sources),
        values=values.pop("values", {}),
        errors=errors,
        by_field=by_field,
        message=values.pop("message", ""),
    )


async def analysis_form(request: Request, slug: str, name: str, analysis: str) -> Response:
    await require_session(request)
    kind = _analysed_kind(request, slug)
    context = context_of(request)
    await context.blocking(context.events.get, name)  # 404 for an unknown event
    return _form(request, kind, name, analysis)


async def start(request: Request, slug: str, name: str, analysis: str) -> Response:
    session = await require_session(request)
    kind = _analysed_kind(request, slug)
    form = await checked_form(request, session)
    values = {key: value for key, value in form.items() if isinstance(value, str)}
    spec = ANALYSES[analysis]
    try:
        body = spec["model"].model_validate(spec["body"](form))
    except ValidationError as error:
        failed = from_pydantic(error)
        return _form(request, kind, name, analysis, values=values, errors=failed.errors, status=400)
    context = context_of(request)
    try:
        if analysis == "power":
            answer = await spec["start"](name, body, session.key, context, request)
        else:
            answer = await spec["start"](name, body, session.key, context)
    except QualeventsError as error:
        errors = list(error.errors) or [ErrorItem((), error.message)]
        return _form(
            request,
            kind,
            name,
            analysis,
            values=values,
            errors=errors,
            message=error.message,
            status=error.status,
        )
    job = json.loads(answer.body).get("job") or {}
    if not job.get("id"):  # a finished job's error body
        problem = json.loads(answer.body)
        items = [
            ErrorItem((p.get("property", ""),), p.get("errorMessage", ""))
            for p in problem.get("errors", [])
        ]
        return _form(
            request,
            kind,
            name,
            analysis,
            values=values,
            errors=items,
            message=problem.get("message", ""),
            status=answer.status_code,
        )
    return redirect(source_url(kind.slug, name, f"/jobs/{job['id']}"))


def _filter_charts(result: dict[str, Any]) -> Markup:
    groups = result.get("groups") or []
    points = [
        (str(g.get("groupName") or g["groupID"]), 100.0 * (g.get("qualificationRate") or 0.0))
        for g in groups
    ]
    return Markup(
        bar_chart(points, "Qualified share per group (%)", unit="% qualified", label_from=0)
    )


def _power_charts(result: dict[str, Any]) -> tuple[Markup, Markup]:
    durations = result.get("durations") or []
    mde = [(f"{d['weeks']} wk", 100.0 * (d.get("mdeRelative") or 0.0)) for d in durations]
    units = [(f"{d['weeks']} wk", float(d.get("units") or 0)) for d in durations]
    return (
        Markup(bar_chart(mde, "Relative MDE (%) against weeks", unit="% MDE", label_from=0)),
        Markup(bar_chart(units, "Units against weeks", unit="units", label_from=0)),
    )


@router.get("/sources/{slug}/{name}/jobs/{job_id}")
async def job_page(request: Request, slug: str, name: str, job_id: str) -> Response:
    await require_session(request)
    kind = _analysed_kind(request, slug)
    context = context_of(request)
    job = await context.blocking(jobs_of(context).get_or_raise, job_id)
    if job.source_name != name:
        raise LeavePage(error_page(request, 404, "Not found", f"No such analysis of {name!r}."))
    charts: Any = None
    if job.status == "succeeded" and job.result:
        charts = (
            _filter_charts(job.result)
            if job.analysis == "filter_exposures"
            else (_power_charts(job.result))
        )
    working = job.status in ("queued", "running")
    return page(
        request,
        "job.html",
        kind=kind,
        name=name,
        job=job,
        result=job.result or {},
        charts=charts,
        working=working,
        refresh=REFRESH_S if working else None,
        title=ANALYSES.get(job.analysis, {}).get("title", job.analysis),
    )


@router.get("/sources/{slug}/{name}/analyses")
async def analyses_list(request: Request, slug: str, name: str) -> Response:
    await require_session(request)
    kind = _analysed_kind(request, slug)
    context = context_of(request)
    found = await context.blocking(jobs_of(context).list, "qualifying_event", name, 0, 100)
    return page(request, "analyses.html", kind=kind, name=name, jobs=found.items)


@router.get("/sources/{slug}/{name}/filter_exposures")
async def filter_exposures_form(request: Request, slug: str, name: str) -> Response:
    return await analysis_form(request, slug, name, "filter_exposures")


@router.post("/sources/{slug}/{name}/filter_exposures")
async def filter_exposures(request: Request, slug: str, name: str) -> Response:
    return await start(request, slug, name, "filter_exposures")


@router.get("/sources/{slug}/{name}/power")
async def power_form(request: Request, slug: str, name: str) -> Response:
    return await analysis_form(request, slug, name, "power")


@router.post("/sources/{slug}/{name}/power")
async def power(request: Request, slug: str, name: str) -> Response:
    return await start(request, slug, name, "power")
