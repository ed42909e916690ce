"""``serve --demo`` creates the demo's qualifying event, metric source and assignment source
once (SQLite and
PostgreSQL): read back through the API they are the package's demo bodies; a second start
creates nothing and keeps what a user changed."""

from __future__ import annotations

from qualevents.runtime import ensure_demo_sources
from qualevents.warehouse.demo import (
    ASSIGNMENT_SOURCE_BODY,
    METRIC_SOURCE_BODY,
    QUALIFYING_EVENT_BODY,
)
from tests.api.test_source_kinds import ASSIGNMENT_SOURCES, METRIC_SOURCES, QUALIFYING_EVENTS


def test_the_demo_sources_are_created_once(store, client):
    assert ensure_demo_sources(store) == [
        f"qualifying_event/{QUALIFYING_EVENT_BODY['name']}",
        f"metric_source/{METRIC_SOURCE_BODY['name']}",
        f"assignment_source/{ASSIGNMENT_SOURCE_BODY['name']}",
    ]
    for kind, body in (
        (QUALIFYING_EVENTS, QUALIFYING_EVENT_BODY),
        (METRIC_SOURCES, METRIC_SOURCE_BODY),
        (ASSIGNMENT_SOURCES, ASSIGNMENT_SOURCE_BODY),
    ):
        read = client.get(kind.url(str(body["name"])))
        assert read.status_code == 200, read.text
        data = read.json()["data"]
        assert {key: data[key] for key in body} == body

    changed = client.patch(METRIC_SOURCES.url("purchases"), json={"description": "mine"})
    assert changed.status_code == 200
    assert ensure_demo_sources(store) == []
    assert client.get(METRIC_SOURCES.url("purchases")).json()["data"]["description"] == "mine"
