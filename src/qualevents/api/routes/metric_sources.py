"""Statsig's Console API for metric sources: the same body as a qualifying event (Statsig's
``MetricSourceCreationContractDto``), another ``Kind`` given to the shared routes
(``api.routes.sources``), listed at ``/list``. Imports ``api.routes.sources``, ``wire``.
"""

from __future__ import annotations

from qualevents.api.routes.sources import Kind, source_router
from qualevents.wire import CreateBody, EventListResponse, EventResponse, PatchBody, UpdateBody

BASE = "/console/v1/metrics/metric_source"
METRIC_SOURCE_KIND = "metric_source"
# GET /metrics/metric_source/list is the list, so a source named "list" could never be read.
METRIC_SOURCE_RESERVED = {
    "list": "'list' is reserved: GET /metrics/metric_source/list lists metric sources, "
    "so a metric source of that name could never be read; choose another name",
}

METRIC_SOURCES = Kind(
    base=BASE,
    label="Metric source",
    tag="Metrics (Warehouse Native)",
    create_body=CreateBody,
    update_body=UpdateBody,
    patch_body=PatchBody,
    one=EventResponse,
    page=EventListResponse,
    service=lambda context: context.metric_sources,
    list_path="/list",
    reviews=lambda context: context.metric_source_reviews,
    name=METRIC_SOURCE_KIND,
    reserved_names=METRIC_SOURCE_RESERVED,
)

router = source_router(METRIC_SOURCES)
