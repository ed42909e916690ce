"""One conformance suite for every kind of source that shares the qualifying event's shape
(qualifying events and metric sources), parametrized by kind, on SQLite and PostgreSQL
(the ``client`` fixture's stores): Statsig's paths, messages and status codes, pagination,
names unique per kind, ETag / If-Match, PATCH, owner defaulting, reviews; and the Terraform
provider's ``statsig_metric_source`` sequence (an empty plan)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from qualevents.keys import KeyService
from tests.api.test_terraform_sequence import PROVIDER_HEADERS, QUERY_EVENT, TABLE_EVENT, plan


@dataclass(frozen=True)
class KindCase:
    base: str
    list_path: str
    label: str  # as in the messages: "Metric source"

    def url(self, name: str) -> str:
        return f"{self.base}/{quote(name, safe='')}"


QUALIFYING_EVENTS = KindCase("/console/v1/experiments/qualifying_events", "", "Qualifying event")
METRIC_SOURCES = KindCase("/console/v1/metrics/metric_source", "/list", "Metric source")
KINDS = [QUALIFYING_EVENTS, METRIC_SOURCES]
REVIEW = {"x-respect-review-settings": "true"}


def body(name: str = "Purchases", **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "sql": "SELECT user_id, ts FROM events",
        "timestampColumn": "ts",
        "idTypeMapping": [{"statsigUnitID": "userID", "column": "user_id"}],
        **fields,
    }


@pytest.fixture(params=KINDS, ids=["qualifying_event", "metric_source"])
def kind(request: pytest.FixtureRequest) -> KindCase:
    return request.param


def test_lifecycle_with_statsig_messages(client, kind):
    created = client.post(kind.base, json=body())
    assert created.status_code == 201, created.text
    assert created.json()["message"] == f"{kind.label} created successfully."
    assert created.json()["data"]["owner"]["ownerType"] == "SDK_KEY"

    read = client.get(kind.url("Purchases"))
    assert read.status_code == 200
    assert read.json()["message"] == f"{kind.label} read successfully."
    etag = read.headers["ETag"]

    updated = client.post(
        kind.url("Purchases"), json=body(description="all purchases"), headers={"If-Match": etag}
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["message"] == f"{kind.label} updated successfully."
    stale = client.patch(kind.url("Purchases"), json={"tags": ["x"]}, headers={"If-Match": etag})
    assert stale.status_code == 412

    patched = client.patch(kind.url("Purchases"), json={"tags": ["sales"]})
    assert patched.status_code == 200
    assert patched.json()["data"]["description"] == "all purchases"
    assert patched.json()["data"]["tags"] == ["sales"]

    deleted = client.delete(kind.url("Purchases"))
    assert deleted.status_code == 200
    assert deleted.json() == {"message": f"{kind.label} deleted successfully."}
    gone = client.get(kind.url("Purchases"))
    assert gone.status_code == 404
    assert gone.json()["message"] == f"{kind.label} not found: 'Purchases'"
    assert gone.json()["errors"][0]["property"] == "name"


def test_list_paginates_with_links_that_work(client, kind):
    for n in range(3):
        assert client.post(kind.base, json=body(f"source {n}")).status_code == 201
    first = client.get(kind.base + kind.list_path, params={"limit": "2", "page": "1"})
    assert first.status_code == 200
    page = first.json()
    assert page["message"] == f"{kind.label}s listed successfully."
    assert [item["name"] for item in page["data"]] == ["source 0", "source 1"]
    assert page["pagination"]["totalItems"] == 3
    following = client.get(page["pagination"]["nextPage"]).json()
    assert [item["name"] for item in following["data"]] == ["source 2"]
    assert following["pagination"]["nextPage"] is None


def test_names_are_unique_per_kind_not_across_kinds(client, kind):
    assert client.post(kind.base, json=body()).status_code == 201
    again = client.post(kind.base, json=body())
    assert again.status_code == 400
    assert again.json()["message"] == "Name is already in use"
    assert kind.label.lower() in again.json()["errors"][0]["errorMessage"]
    other = METRIC_SOURCES if kind is QUALIFYING_EVENTS else QUALIFYING_EVENTS
    assert client.post(other.base, json=body(description="other kind")).status_code == 201
    # each kind reads, lists, updates and deletes only its own
    assert client.get(kind.url("Purchases")).json()["data"]["description"] == ""
    assert client.get(other.url("Purchases")).json()["data"]["description"] == "other kind"
    assert client.get(kind.base + kind.list_path).json()["pagination"]["totalItems"] == 1
    assert client.delete(kind.url("Purchases")).status_code == 200
    assert client.get(other.url("Purchases")).status_code == 200


def test_history_is_per_kind(client, kind):
    other = METRIC_SOURCES if kind is QUALIFYING_EVENTS else QUALIFYING_EVENTS
    client.post(kind.base, json=body())
    client.post(other.base, json=body())
    client.patch(other.url("Purchases"), json={"description": "changed"})
    # the other kind's second revision does not move this kind's numbering
    updated = client.post(kind.url("Purchases"), json=body(description="mine"))
    assert updated.headers["ETag"] == client.get(kind.url("Purchases")).headers["ETag"]
    assert (
        client.get(kind.url("Purchases")).headers["ETag"]
        == (client.get(other.url("Purchases")).headers["ETag"])
    )


def test_renaming_through_the_update_body_is_refused(client, kind):
    client.post(kind.base, json=body())
    renamed = client.post(kind.url("Purchases"), json=body("Sales"))
    assert renamed.status_code == 400
    assert renamed.json()["errors"][0]["property"] == "name"


def test_dry_run_stores_nothing(client, kind):
    dry = client.post(kind.base, json=body(dryRun=True))
    assert dry.status_code == 200
    assert dry.json()["dryRun"] is True
    assert client.get(kind.url("Purchases")).status_code == 404


def test_a_metric_source_named_list_is_refused(client):
    refused = client.post(METRIC_SOURCES.base, json=body("list"))
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["property"] == "name"
    assert "reserved" in refused.json()["errors"][0]["errorMessage"]
    # a qualifying event may be called so: its list has no /list path
    assert client.post(QUALIFYING_EVENTS.base, json=body("list")).status_code == 201


@pytest.fixture
def reviewer(app, store):
    secret = KeyService(store).create("reviewer")[1]
    with TestClient(app, headers={"STATSIG-API-KEY": secret}) as http:
        yield http


def test_a_held_change_is_applied_to_its_own_kind(client, reviewer, kind):
    assert client.post("/console/v1/-/settings", json={"requireReviews": True}).status_code == 200
    held = client.post(kind.base, json=body(), headers=REVIEW)
    assert held.status_code == 202, held.text
    assert client.get(kind.url("Purchases")).status_code == 404
    approved = reviewer.post(f"/console/v1/-/change_requests/{held.json()['data']['id']}/approve")
    assert approved.status_code == 200, approved.text
    assert client.get(kind.url("Purchases")).status_code == 200
    other = METRIC_SOURCES if kind is QUALIFYING_EVENTS else QUALIFYING_EVENTS
    assert client.get(other.url("Purchases")).status_code == 404

    patch = client.patch(kind.url("Purchases"), json={"description": "held"}, headers=REVIEW)
    assert patch.status_code == 202
    reviewer.post(f"/console/v1/-/change_requests/{patch.json()['data']['id']}/approve")
    assert client.get(kind.url("Purchases")).json()["data"]["description"] == "held"


@pytest.mark.parametrize("sent", [QUERY_EVENT, TABLE_EVENT], ids=["query", "table"])
def test_terraform_metric_source_sequence_has_an_empty_plan(client, sent):
    """``statsig_metric_source``'s examples send its qualifying-event examples' bodies."""
    path = METRIC_SOURCES.url(sent["name"])
    created = client.post(METRIC_SOURCES.base, json=sent, headers=PROVIDER_HEADERS)
    assert created.status_code == 201, created.text
    assert plan(sent, created.json()["data"]) == {}
    read = client.get(path, headers=PROVIDER_HEADERS).json()["data"]
    assert plan(sent, read) == {}
    assert read["owner"]["ownerType"] == "SDK_KEY"
    changed = {**sent, "description": "changed by terraform", "tags": ["a", "b"]}
    assert client.post(path, json=changed, headers=PROVIDER_HEADERS).status_code == 200
    assert plan(changed, client.get(path, headers=PROVIDER_HEADERS).json()["data"]) == {}
    assert client.delete(path, headers=PROVIDER_HEADERS).status_code == 200
    gone = client.get(path, headers=PROVIDER_HEADERS)
    assert gone.status_code == 404 and gone.json()["errors"] is not None


def test_revisions_and_restore_under_the_reserved_segment(client, kind):
    client.post(kind.base, json=body())
    client.patch(kind.url("Purchases"), json={"description": "second"})
    revisions = client.get(kind.url("Purchases") + "/-/revisions")
    assert revisions.status_code == 200
    assert [item["revision"] for item in revisions.json()["data"]] == [1, 2]
    assert client.get(kind.url("Purchases") + "/-/revisions/2").status_code == 200
    restored = client.post(kind.url("Purchases") + "/-/revisions/1/restore")
    assert restored.status_code == 200, restored.text
    assert restored.json()["message"] == f"{kind.label} restored from revision 1."
    assert client.get(kind.url("Purchases")).json()["data"]["description"] == ""
    missing = client.get(kind.url("Nothing") + "/-/revisions")
    assert missing.status_code == 404
    assert kind.label.lower() in missing.json()["message"]


def test_the_audit_log_filters_by_kind_and_by_name_within_a_kind(client, kind):
    other = METRIC_SOURCES if kind is QUALIFYING_EVENTS else QUALIFYING_EVENTS
    client.post(kind.base, json=body())
    client.post(other.base, json=body())
    client.post(other.base, json=body("Refunds"))
    kind_name = "qualifying_event" if kind is QUALIFYING_EVENTS else "metric_source"
    everything = client.get("/console/v1/audit_logs").json()["data"]
    assert len(everything) == 3
    mine = client.get("/console/v1/audit_logs", params={"kind": kind_name}).json()["data"]
    assert [(item["kind"], item["name"]) for item in mine] == [(kind_name, "Purchases")]
    assert mine[0]["changeLog"] == f"Created {kind.label.lower()} Purchases"
    assert mine[0]["actionType"] == f"{kind_name}_created"
    named = client.get("/console/v1/audit_logs", params={"kind": kind_name, "name": "Refunds"})
    assert named.json()["data"] == []
    assert (
        len(client.get("/console/v1/audit_logs", params={"name": "Purchases"}).json()["data"]) == 2
    )
    bad = client.get("/console/v1/audit_logs", params={"kind": "gate"})
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["property"] == "kind"
