"""Looking at the data a definition selects (qualevents extensions under the reserved ``-``
segment): ``/-/preview`` (sample rows) and ``/-/daily`` (events and units per day, counted
in the warehouse). Imports ``api.context``, ``errors``.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from qualevents.api.context import (
    authenticate,
    context_of,
    json_response,
    on_warehouse,
    reading,
)
from qualevents.api.routes.qualifying_events import BASE
from qualevents.errors import ErrorItem, InvalidRequest, WarehouseUnavailable
from qualevents.service import ensure_may_read_rows

router = APIRouter(prefix=BASE, tags=["Warehouse (qualevents)"])

MAX_PREVIEW_ROWS = 1000
MAX_DAILY_DAYS = 3660


def _validator(request: Request) -> Any:
    validator = context_of(request).validator
    if validator is None or getattr(validator, "warehouse", None) is None:
        raise WarehouseUnavailable(
            "No warehouse is configured (QUALEVENTS_WAREHOUSE_URL=none); "
            "preview and daily need one",
            [ErrorItem((), "This server runs without a warehouse")],
        )
    return validator


async def _event_for_rows(request: Request, name: str) -> Any:
    """The event whose rows the caller asks for, after the key may see rows."""
    context = context_of(request)

    def run() -> Any:
        key = authenticate(request)
        refuse = context.settings.refuse_rows_to_read_only_keys
        ensure_may_read_rows(key, refuse_read_only=refuse)
        _validator(request)
        return context.events.get(name).event

    return await reading(request, run)


def _whole(raw: str | None, name: str, default: int, low: int, high: int) -> int:
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise InvalidRequest(
            errors=[ErrorItem((name,), f"Must be a whole number from {low} to {high}; got {raw!r}")]
        )
    return value


def _date(raw: str | None, name: str, default: date) -> date:
    if raw in (None, ""):
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidRequest(
            errors=[ErrorItem((name,), f"Expected a date as YYYY-MM-DD; got {raw!r}")]
        ) from None


@router.get("/{name}/-/preview", summary="Sample rows the definition selects")
async def preview(
    request: Request,
    name: str,
    limit: str | None = Query(None, description="Rows (default 20, max 1000)"),
    days: str | None = Query(None, description="Look back this many days (default 7)"),
) -> Response:
    rows = _whole(limit, "limit", 20, 1, MAX_PREVIEW_ROWS)
    lookback = _whole(days, "days", 7, 1, MAX_DAILY_DAYS)
    event = await _event_for_rows(request, name)
    validator = _validator(request)
    data = await on_warehouse(request, validator.preview, event, limit=rows, days=lookback)
    return json_response({"message": "Qualifying event previewed successfully.", "data": data})


@router.get("/{name}/-/daily", summary="Events and distinct units per day (in the warehouse)")
async def daily(
    request: Request,
    name: str,
    start: str | None = Query(None, description="First day, YYYY-MM-DD (default: 29 days ago)"),
    end: str | None = Query(None, description="Last day, YYYY-MM-DD (default: today)"),
) -> Response:
    last = _date(end, "end", date.today())
    first = _date(start, "start", last - timedelta(days=29))
    if first > last:
        raise InvalidRequest(errors=[ErrorItem(("start",), "Must not be after end")])
    if (last - first).days >= MAX_DAILY_DAYS:
        raise InvalidRequest(
            errors=[ErrorItem(("start",), f"At most {MAX_DAILY_DAYS} days per request")]
        )
    event = await _event_for_rows(request, name)
    data = await on_warehouse(request, _validator(request).daily, event, first, last)
    return json_response({"message": "Daily counts computed successfully.", "data": data})
