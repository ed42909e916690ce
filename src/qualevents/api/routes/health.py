"""``/-/health`` for load balancers: no key needed; 503 when the store is unreachable.
Imports ``api.deps``, ``api.responses``, ``wire``."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from qualevents import __version__
from qualevents.api.deps import Context
from qualevents.api.responses import json_response
from qualevents.api.routes.documented import errors_of
from qualevents.wire import Health

router = APIRouter(tags=["qualevents"])


@router.get(
    "/-/health",
    summary="Liveness and store reachability (no key needed)",
    response_model=Health,
    responses=errors_of(),
)
async def health(context: Context) -> Response:
    await context.blocking(context.store.ping)
    warehouse = getattr(context.warehouse, "NAME", None) if context.warehouse else "none"
    return json_response({"status": "ok", "version": __version__, "warehouse": warehouse})
