"""Looking at the data a definition selects (qualevents extensions under the reserved ``-``
segment): ``/-/preview`` (sample rows) and ``/-/daily`` (events and units per day, counted
in the warehouse). Both reach the warehouse through ``api.deps.warehouse_call``.
``data_router(kind)`` declares them for one kind. Imports ``api.*``, ``errors``, ``wire``.

No ``from __future__ import annotations``: ``Name`` is made per kind (see history.py).
"""

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from qualevents.api.deps import AppContext, CallingKey, Context, warehouse_call
from qualevents.api.errors import invalid
from qualevents.api.params import Day, Whole
from qualevents.api.responses import json_response
from qualevents.api.routes.documented import errors_of
from qualevents.api.routes.sources import Kind
from qualevents.errors import ErrorItem, WarehouseUnavailable
from qualevents.models import ApiKey
from qualevents.service import ensure_may_read_rows
from qualevents.wire import RowsResponse

MAX_PREVIEW_ROWS = 1000
MAX_DAILY_DAYS = 3660


def _validator(context: AppContext) -> Any:
    if not context.has_warehouse:
        raise WarehouseUnavailable(
            "No warehouse is configured (QUALEVENTS_WAREHOUSE_URL=none); "
            "preview and daily need one",
            [ErrorItem((), "This server runs without a warehouse")],
        )
    return context.validator


async def event_for_rows(context: AppContext, kind: Kind, key: ApiKey, name: str) -> Any:
    """The source whose rows ``key`` asks for, once it may see rows (403 for a read-only
    key where the operator refuses them rows) and a warehouse is configured."""
    ensure_may_read_rows(key, refuse_read_only=context.settings.refuse_rows_to_read_only_keys)
    _validator(context)
    stored = await context.blocking(kind.service(context).get, name)
    return stored.event


def data_router(kind: Kind, *, with_daily: bool = True) -> APIRouter:
    """``/-/preview`` for ``kind``, and ``/-/daily`` unless ``with_daily`` is False."""
    router = APIRouter(prefix=kind.base, tags=["Warehouse (qualevents)"])
    Name = Annotated[str, Path(description=f"The {kind.label.lower()}'s name")]

    @router.get(
        "/{name}/-/preview",
        summary="Sample rows the definition selects",
        response_model=RowsResponse,
        responses=errors_of(400, 401, 403, 404, 429, 502, 504),
    )
    async def preview(
        name: Name,
        key: CallingKey,
        context: Context,
        limit: Annotated[
            Whole, Query(ge=1, le=MAX_PREVIEW_ROWS, description="Rows (default 20)")
        ] = None,
        days: Annotated[
            Whole,
            Query(ge=1, le=MAX_DAILY_DAYS, description="Look back this many days (default 7)"),
        ] = None,
    ) -> Response:
        event = await event_for_rows(context, kind, key, name)
        data = await warehouse_call(
            context,
            context.validator.preview,
            event,
            limit=limit or 20,
            days=days or 7,
            key_id=key.id,
            lane="rows",
        )
        return json_response({"message": f"{kind.label} previewed successfully.", "data": data})

    if with_daily:

        @router.get(
            "/{name}/-/daily",
            summary="Events and distinct units per day (in the warehouse)",
            response_model=RowsResponse,
            responses=errors_of(400, 401, 403, 404, 429, 502, 504),
        )
        async def daily(
            name: Name,
            key: CallingKey,
            context: Context,
            start: Annotated[
                Day, Query(description="First day, YYYY-MM-DD (default: 29 days ago)")
            ] = None,
            end: Annotated[Day, Query(description="Last day, YYYY-MM-DD (default: today)")] = None,
        ) -> Response:
            last = end or date.today()
            first = start or max(last - timedelta(days=29), date.min)
            if first > last:
                raise invalid("start", "Must not be after end")
            if (last - first).days >= MAX_DAILY_DAYS:
                raise invalid("start", f"At most {MAX_DAILY_DAYS} days per request")

            event = await event_for_rows(context, kind, key, name)
            data = await warehouse_call(
                context, context.validator.daily, event, first, last, key_id=key.id, lane="rows"
            )
            return json_response({"message": "Daily counts computed successfully.", "data": data})

    return router
