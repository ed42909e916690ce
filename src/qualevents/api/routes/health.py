"""``/-/health`` for load balancers: no key needed; 503 when the store is unreachable."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from qualevents import __version__
from qualevents.api.context import context_of, json_response, reading

router = APIRouter(tags=["qualevents"])


@router.get("/-/health", summary="Liveness and store reachability (no key needed)")
async def health(request: Request) -> Response:
    context = context_of(request)
    await reading(request, context.store.ping)
    warehouse = getattr(context.warehouse, "NAME", None) if context.warehouse else "none"
    return json_response({"status": "ok", "version": __version__, "warehouse": warehouse})
