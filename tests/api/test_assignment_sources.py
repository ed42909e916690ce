"""What assignment sources have beyond the kind conformance suite (``test_source_kinds.py``),
on SQLite and PostgreSQL: Statsig's bodies (required fields, all problems at once, no table
or custom fields), ``scheduledReloadHour``, an exact read back, renames through the update
body (POST and PATCH; history under the new name, the old name free), the audit log's
action types per kind, and the OpenAPI document."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from qualevents.keys import KeyService
from tests.api.test_source_kinds import ASSIGNMENT_SOURCES, QUALIFYING_EVENTS, REVIEW

KIND = ASSIGNMENT_SOURCES
STATSIG_EXAMPLE = {  # Statsig's create example, verbatim
    "name": "exposures4",
    "description": "",
    "tags": [],
    "sql": "SELECT * FROM shoppy-sales.experiment_data.exposures",
    "timestampColumn": "ts",
    "groupIDColumn": "group_id",
    "experimentIDColumn": "experiment_name",
    "idTypeMapping": [{"statsigUnitID": "stableID", "column": "user_id"}],
}


def test_statsig_example_round_trips_exactly(client):
    created = client.post(KIND.create, json=STATSIG_EXAMPLE)
    assert created.status_code == 201, created.text
    assert created.json()["message"] == "Assignment Source created successfully"
    read = client.get(KIND.url("exposures4"))
    assert read.status_code == 200
    data = read.json()["data"]
    assert {key: data[key] for key in STATSIG_EXAMPLE} == STATSIG_EXAMPLE
    assert data["owner"]["ownerType"] == "SDK_KEY"
    assert "groupNameColumn" not in data and "tableName" not in data
    listed = client.get(KIND.listing).json()
    assert listed["message"] == "Assignment sources listed successfully."
    assert listed["pagination"]["all"] == "/console/v1/experiments/assignment_sources"


def test_every_missing_field_is_reported_at_once(client):
    refused = client.post(KIND.create, json={"name": "x", "sql": "SELECT 1"})
    assert refused.status_code == 400
    properties = {item["property"] for item in refused.json()["errors"]}
    assert {"timestampColumn", "experimentIDColumn", "groupIDColumn", "idTypeMapping"} <= (
        properties
    )
    blank = client.post(
        KIND.create, json=KIND.body(experimentIDColumn=" ", groupIDColumn="", sql="  ")
    )
    assert blank.status_code == 400
    assert {item["property"] for item in blank.json()["errors"]} == {
        "sql",
        "experimentIDColumn",
        "groupIDColumn",
    }


@pytest.mark.parametrize(
    "field, value",
    [
        ("tableName", "shoppy.exposures"),
        ("sourceType", "table"),
        ("datePartitionColumn", "ds"),
        ("customFieldMapping", [{"key": "k", "formula": "1"}]),
    ],
)
def test_a_qualifying_event_field_is_refused_by_name(client, field, value):
    refused = client.post(KIND.create, json=KIND.body(**{field: value}))
    assert refused.status_code == 400
    item = refused.json()["errors"][0]
    assert item["property"] == field
    assert "experimentIDColumn" in item["errorMessage"]  # the fields it does take
    assert "tableName" not in item["errorMessage"].split("expected one of:")[1]


def test_scheduled_reload_hour_and_group_name_are_stored(client):
    sent = KIND.body(groupNameColumn="group_name", scheduledReloadHour=6)
    assert client.post(KIND.create, json=sent).status_code == 201
    data = client.get(KIND.url("Purchases")).json()["data"]
    assert (data["groupNameColumn"], data["scheduledReloadHour"]) == ("group_name", 6)
    late = client.patch(KIND.url("Purchases"), json={"scheduledReloadHour": 24})
    assert late.status_code == 400
    assert late.json()["errors"][0]["property"] == "scheduledReloadHour"
    unset = client.patch(KIND.url("Purchases"), json={"scheduledReloadHour": None})
    assert unset.status_code == 200
    assert "scheduledReloadHour" not in client.get(KIND.url("Purchases")).json()["data"]


@pytest.mark.parametrize("method", ["post", "patch"])
def test_a_rename_keeps_the_history_under_the_new_name(client, method):
    assert client.post(KIND.create, json=KIND.body("Old")).status_code == 201
    client.patch(KIND.url("Old"), json={"description": "second"})
    sent = KIND.body("New", description="third") if method == "post" else {"name": "New"}
    renamed = getattr(client, method)(KIND.url("Old"), json=sent)
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["message"] == "Assignment Source updated successfully"
    assert renamed.json()["data"]["name"] == "New"
    assert renamed.headers["ETag"] == client.get(KIND.url("New")).headers["ETag"]

    history = client.get(KIND.url("New") + "/-/revisions").json()["data"]
    assert [item["revision"] for item in history] == [1, 2, 3]
    assert history[2]["changes"]["name"] == {"old": "Old", "new": "New"}
    assert history[0]["data"]["name"] == "Old"  # what it was called then
    gone = client.get(KIND.url("Old"))
    assert gone.status_code == 404
    assert client.get(KIND.url("Old") + "/-/revisions").status_code == 404
    # an earlier revision restores under the name the source has now
    restored = client.post(KIND.url("New") + "/-/revisions/1/restore")
    assert restored.status_code == 200, restored.text
    assert restored.json()["data"]["name"] == "New"
    assert client.get(KIND.url("New")).json()["data"]["description"] == ""
    # the old name may be used again, with a history of its own
    assert client.post(KIND.create, json=KIND.body("Old")).status_code == 201
    assert len(client.get(KIND.url("Old") + "/-/revisions").json()["data"]) == 1
    audit = client.get(
        "/console/v1/audit_logs", params={"kind": KIND.kind, "name": "New", "sortOrder": "asc"}
    ).json()["data"]
    assert [item["actionType"] for item in audit] == [
        "assignment_source_created",
        "assignment_source_updated",
        "assignment_source_updated",
        "assignment_source_restored",
    ]


def test_a_rename_onto_a_taken_or_used_name_is_refused(client):
    for name in ("A", "B", "Deleted"):
        assert client.post(KIND.create, json=KIND.body(name)).status_code == 201
    taken = client.patch(KIND.url("A"), json={"name": "B"})
    assert taken.status_code == 400
    assert taken.json()["message"] == "Name is already in use"
    assert client.delete(KIND.url("Deleted")).status_code == 200
    used = client.post(KIND.url("A"), json=KIND.body("Deleted"))
    assert used.status_code == 400
    assert "history" in used.json()["errors"][0]["errorMessage"]
    dry = client.post(KIND.url("A"), json=KIND.body("C", dryRun=True))
    assert dry.status_code == 200 and dry.json()["dryRun"] is True
    assert client.get(KIND.url("C")).status_code == 404
    assert client.get(KIND.url("A")).status_code == 200
    missing = client.patch(KIND.url("Nobody"), json={"name": "D"})
    assert missing.status_code == 404


@pytest.fixture
def reviewer(app, store):
    secret = KeyService(store).create("reviewer")[1]
    with TestClient(app, headers={"STATSIG-API-KEY": secret}) as http:
        yield http


def test_a_rename_held_for_review_is_applied_on_approval(client, reviewer):
    assert client.post(KIND.create, json=KIND.body("Old")).status_code == 201
    assert client.post("/console/v1/-/settings", json={"requireReviews": True}).status_code == 200
    held = client.patch(KIND.url("Old"), json={"name": "New"}, headers=REVIEW)
    assert held.status_code == 202, held.text
    approved = reviewer.post(f"/console/v1/-/change_requests/{held.json()['data']['id']}/approve")
    assert approved.status_code == 200, approved.text
    assert client.get(KIND.url("New")).status_code == 200
    assert client.get(KIND.url("Old")).status_code == 404


def test_other_kinds_still_refuse_a_rename(client):
    client.post(QUALIFYING_EVENTS.create, json=QUALIFYING_EVENTS.body("Old"))
    refused = client.patch(QUALIFYING_EVENTS.url("Old"), json={"name": "New"})
    assert refused.status_code == 400
    assert "immutable" in refused.json()["errors"][0]["errorMessage"]


def test_action_types_name_each_kind(client):
    client.post(KIND.create, json=KIND.body())
    client.post(QUALIFYING_EVENTS.create, json=QUALIFYING_EVENTS.body())
    mine = client.get("/console/v1/audit_logs", params={"actionType": "assignment_source_created"})
    assert mine.status_code == 200, mine.text
    assert [(item["kind"], item["name"]) for item in mine.json()["data"]] == [
        ("assignment_source", "Purchases")
    ]
    theirs = client.get("/console/v1/audit_logs", params={"actionType": "qualifying_event_created"})
    assert [item["kind"] for item in theirs.json()["data"]] == ["qualifying_event"]
    unknown = client.get("/console/v1/audit_logs", params={"actionType": "gate_created"})
    assert unknown.status_code == 400
    assert "assignment_source_created" in unknown.json()["errors"][0]["errorMessage"]


# Every operation of Statsig's sources extract (statsig-sources.openapi.json), by path.
STATSIG_SOURCE_OPERATIONS = {
    "/console/v1/experiments/assignment_sources": {"get", "post"},
    "/console/v1/experiments/assignment_source/{name}": {"post", "patch", "delete"},
    "/console/v1/metrics/metric_source": {"post"},
    "/console/v1/metrics/metric_source/list": {"get"},
    "/console/v1/metrics/metric_source/{name}": {"get", "post", "delete"},
}


def test_the_openapi_document_declares_every_statsig_source_operation(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path, methods in STATSIG_SOURCE_OPERATIONS.items():
        assert methods <= set(paths[path]), path
        for method in methods:
            parameters = {p["name"] for p in paths[path][method].get("parameters", [])}
            if method != "get":
                assert "x-respect-review-settings" in parameters, (method, path)


def test_the_openapi_document_describes_every_assignment_source_operation(client):
    paths = client.get("/openapi.json").json()["paths"]
    collection = paths["/console/v1/experiments/assignment_sources"]
    assert {"get", "post"} <= set(collection)
    one = paths["/console/v1/experiments/assignment_source/{name}"]
    assert {"get", "post", "patch", "delete"} <= set(one)
    for extension in ("-/revisions", "-/revisions/{number}", "-/preview", "-/experiments"):
        assert f"/console/v1/experiments/assignment_source/{{name}}/{extension}" in paths
    assert "/console/v1/experiments/assignment_source/{name}/-/daily" not in paths
    scan = paths["/console/v1/experiments/assignment_source/{name}/-/experiments"]["get"]
    assert {p["name"] for p in scan["parameters"]} >= {"start", "end", "unitType"}
