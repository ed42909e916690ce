"""The kinds of source the console shows, as data: each is the API's ``Kind`` (its label and
where its use cases live) plus the slug in the console's paths and the store's kind name.
A new kind of source appears in the console by adding one line to ``KINDS``.
Imports ``api.routes``, ``console.definition``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qualevents.api.routes.assignment_sources import ASSIGNMENT_SOURCES
from qualevents.api.routes.metric_sources import METRIC_SOURCES
from qualevents.api.routes.qualifying_events import QUALIFYING_EVENTS
from qualevents.api.routes.sources import Kind
from qualevents.console.definition import ASSIGNMENT_FIELDS, FIELDS, Field


@dataclass(frozen=True)
class ConsoleKind:
    slug: str  # in the console's paths: /sources/qualifying_event/...
    api: Kind
    fields: tuple[Field, ...] = FIELDS  # its form's fields
    daily: bool = True  # has daily counts
    scan: bool = False  # has the experiments scan
    analyses: bool = False  # has the exposure-filter and power analyses

    @property
    def label(self) -> str:
        return self.api.label

    @property
    def plural(self) -> str:
        return self.api.label + "s"

    def service(self, context: Any) -> Any:
        return self.api.service(context)

    @property
    def model(self) -> Any:
        """The domain class of its definitions."""
        return self.api.model


KINDS: tuple[ConsoleKind, ...] = (
    ConsoleKind("qualifying_event", QUALIFYING_EVENTS, analyses=True),
    ConsoleKind("metric_source", METRIC_SOURCES),
    ConsoleKind("assignment_source", ASSIGNMENT_SOURCES, ASSIGNMENT_FIELDS, daily=False, scan=True),
)
BY_SLUG = {kind.slug: kind for kind in KINDS}


def kind_or_none(slug: str) -> ConsoleKind | None:
    return BY_SLUG.get(slug)
