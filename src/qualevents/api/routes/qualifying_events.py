"""Statsig's Console API for qualifying events: one ``Kind`` (data) given to the routes every
kind of source shares (``api.routes.sources``). Imports ``api.routes.sources``, ``wire``.
"""

from __future__ import annotations

from qualevents.api.routes.sources import Kind, source_router
from qualevents.wire import CreateBody, EventListResponse, EventResponse, PatchBody, UpdateBody

BASE = "/console/v1/experiments/qualifying_events"

QUALIFYING_EVENTS = Kind(
    base=BASE,
    label="Qualifying event",
    tag="Experiments (Warehouse Native)",
    create_body=CreateBody,
    update_body=UpdateBody,
    patch_body=PatchBody,
    one=EventResponse,
    page=EventListResponse,
    service=lambda context: context.events,
)

router = source_router(QUALIFYING_EVENTS)
