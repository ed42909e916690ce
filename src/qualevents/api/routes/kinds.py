"""The registry of the kinds of source the API serves, in the order they are declared:
each a ``Kind`` record (``api.routes.sources``) from its own small module. ``create_app``
builds a service, the shared routes, the history, data and any extra routes for every kind
listed here; a fourth kind is one more module and one more entry. Imports ``api.routes``.
"""

from __future__ import annotations

from qualevents.api.routes.assignment_sources import ASSIGNMENT_SOURCES
from qualevents.api.routes.metric_sources import METRIC_SOURCES
from qualevents.api.routes.qualifying_events import QUALIFYING_EVENTS
from qualevents.api.routes.sources import Kind

KINDS: tuple[Kind, ...] = (QUALIFYING_EVENTS, METRIC_SOURCES, ASSIGNMENT_SOURCES)
KIND_BY_NAME: dict[str, Kind] = {kind.name: kind for kind in KINDS}
