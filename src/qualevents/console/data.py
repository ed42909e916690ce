"""The console's pages that wait on the warehouse: a source's checks (its output columns and
types, the validation report), a preview of its rows and its daily counts as a chart. Each
is a whole page, or with ``?fragment=1`` the part the source page loads into itself; all of
them reach the warehouse through ``api.deps.warehouse_call`` as the API does.
Imports ``errors``, ``service``, ``api.deps``, ``console.*``.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from qualevents.api.deps import context_of, warehouse_call
from qualevents.console.auth import require_session
from qualevents.console.charts import bar_chart, daily_chart
from qualevents.console.pages import kind_of
from qualevents.console.render import page
from qualevents.errors import QualeventsError, WarehouseUnavailable
from qualevents.service import ensure_may_read_rows

router = APIRouter(include_in_schema=False)
PREVIEW_ROWS = 20
DAILY_DAYS = 30


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


async def _load(request: Request, slug: str, name: str) -> tuple[Any, Any, Any]:
    session = await require_session(request)
    kind = kind_of(request, slug)
    context = context_of(request)
    stored = await context.blocking(kind.service(context).get, name)
    return session, kind, (context, stored.event)


def _answer(request: Request, template: str, status: int = 200, **values: Any) -> Response:
    return page(
        request,
        template,
        status,
        fragment="fragment" in request.query_params,
        **values,
    )


def _problem(error: QualeventsError) -> tuple[int, str]:
    if isinstance(error, WarehouseUnavailable):
        return error.status, (
            f"The warehouse did not answer: {error.message}. The definitions are safe; "
            "try again in a moment."
        )
    return error.status, error.message


@router.get("/sources/{slug}/{name}/check")
async def check(request: Request, slug: str, name: str) -> Response:
    _session, kind, (context, event) = await _load(request, slug, name)
    if context.validator is None:
        return _answer(
            request, "check.html", kind=kind, name=name, report=None, problem="No validator."
        )
    try:
        report = await warehouse_call(context, context.validator.validate, event, lane="checks")
    except QualeventsError as error:
        status, message = _problem(error)
        return _answer(request, "check.html", status, kind=kind, name=name, problem=message)
    return _answer(request, "check.html", kind=kind, name=name, report=report, problem="")


async def _rows(
    request: Request, slug: str, name: str, template: str, run: Any, **extra: Any
) -> Response:
    session, kind, (context, event) = await _load(request, slug, name)
    values: dict[str, Any] = {"kind": kind, "name": name, "event": event, **extra}
    try:
        ensure_may_read_rows(
            session.key, refuse_read_only=context.settings.refuse_rows_to_read_only_keys
        )
        if not context.has_warehouse:
            raise WarehouseUnavailable(
                "no warehouse is configured on this server (QUALEVENTS_WAREHOUSE_URL=none)"
            )
        values.update(await run(context, event, session.key.id))
    except QualeventsError as error:
        status, message = _problem(error)
        return _answer(request, template, status, problem=message, **values)
    return _answer(request, template, problem="", **values)


@router.get("/sources/{slug}/{name}/preview")
async def preview(request: Request, slug: str, name: str) -> Response:
    async def run(context: Any, event: Any, key_id: str) -> dict[str, Any]:
        rows = await warehouse_call(
            context,
            context.validator.preview,
            event,
            limit=PREVIEW_ROWS,
            days=7,
            key_id=key_id,
            lane="rows",
        )
        columns = list(rows[0]) if rows else []
        return {"rows": rows, "columns": columns}

    return await _rows(request, slug, name, "preview.html", run)


def _not_here(request: Request, what: str) -> Response:
    return page(request, "error.html", 404, title="Not found", message=f"This kind has no {what}.")


@router.get("/sources/{slug}/{name}/daily")
async def daily(request: Request, slug: str, name: str) -> Response:
    if not kind_of(request, slug).daily:
        return _not_here(request, "daily counts")
    end = _day(request.query_params.get("end")) or date.today()
    start = _day(request.query_params.get("start")) or end - timedelta(days=DAILY_DAYS - 1)
    if start > end or (end - start).days > 3660:
        start = end - timedelta(days=DAILY_DAYS - 1)

    async def run(context: Any, event: Any, key_id: str) -> dict[str, Any]:
        rows = await warehouse_call(
            context, context.validator.daily, event, start, end, key_id=key_id, lane="rows"
        )
        units = [m.statsig_unit_id for m in event.id_type_mapping or []]
        return {
            "rows": rows,
            "units": units,
            "chart": Markup(daily_chart(rows, start, end, event.name)),
            "total": sum(row["events"] for row in rows),
        }

    return await _rows(request, slug, name, "daily.html", run, start=start, end=end)


@router.get("/sources/{slug}/{name}/experiments")
async def experiments(request: Request, slug: str, name: str) -> Response:
    """An assignment source's experiments scan: per experiment its groups and units."""
    if not kind_of(request, slug).scan:
        return _not_here(request, "experiments scan")
    start = _day(request.query_params.get("start"))
    end = _day(request.query_params.get("end"))

    async def run(context: Any, source: Any, key_id: str) -> dict[str, Any]:
        result = await warehouse_call(
            context,
            context.validator.scan,
            source,
            start=start,
            end=end,
            key_id=key_id,
            lane="rows",
        )
        charts = {
            found.experiment_id: Markup(
                bar_chart(
                    [
                        (group.group_name or group.group_id, float(group.units))
                        for group in found.groups
                    ],
                    f"Units per group of experiment {found.experiment_id}",
                    unit="units",
                    label_from=0,
                )
            )
            for found in result.experiments
        }
        return {"result": result, "charts": charts}

    return await _rows(request, slug, name, "experiments.html", run, start=start, end=end)
