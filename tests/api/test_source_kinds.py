"""One conformance suite for every kind of source (qualifying events, metric sources,
assignment sources), parametrized by kind, on SQLite and PostgreSQL (the ``client``
fixture's stores): Statsig's paths, messages and status codes, pagination, names unique per
kind, ETag / If-Match, PATCH, owner defaulting, dry runs, revisions, the audit log, reviews;
renames (assignment sources only); and the Terraform provider's ``statsig_metric_source``
sequence (an empty plan)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from qualevents.keys import KeyService
from tests.api.test_terraform_sequence import PROVIDER_HEADERS, QUERY_EVENT, TABLE_EVENT, plan


@dataclass(frozen=True)
class KindCase:
    kind: str  # the audit log's name for it
    base: str  # each source at base/{name}
    list_path: str  # the list at collection + list_path
    label: str  # as in the messages: "Metric source"
    collection: str | None = None  # list and create, when not at base
    messages: dict[str, str] = field(default_factory=dict)  # Statsig's, where they differ
    sql: str = "SELECT user_id, ts FROM events"
    extra: dict[str, Any] = field(default_factory=dict)  # fields the kind requires
    renames: bool = False

    def url(self, name: str) -> str:
        return f"{self.base}/{quote(name, safe='')}"

    @property
    def create(self) -> str:
        return self.collection or self.base

    @property
    def listing(self) -> str:
        return self.create + self.list_path

    def message(self, verb: str) -> str:
        plural = "s" if verb == "listed" else ""
        return self.messages.get(verb, f"{self.label}{plural} {verb} successfully.")

    def body(self, name: str = "Purchases", **fields: Any) -> dict[str, Any]:
        return {
            "name": name,
            "sql": self.sql,
            "timestampColumn": "ts",
            "idTypeMapping": [{"statsigUnitID": "userID", "column": "user_id"}],
            **self.extra,
            **fields,
        }


QUALIFYING_EVENTS = KindCase(
    "qualifying_event", "/console/v1/experiments/qualifying_events", "", "Qualifying event"
)
METRIC_SOURCES = KindCase(
    "metric_source", "/console/v1/metrics/metric_source", "/list", "Metric source"
)
ASSIGNMENT_SOURCES = KindCase(
    "assignment_source",
    "/console/v1/experiments/assignment_source",
    "",
    "Assignment source",
    collection="/console/v1/experiments/assignment_sources",
    messages={
        "created": "Assignment Source created successfully",
        "updated": "Assignment Source updated successfully",
        "read": "Assignment Source read successfully",
    },
    sql="SELECT user_id, ts, experiment, grp FROM exposures",
    extra={"experimentIDColumn": "experiment", "groupIDColumn": "grp"},
    renames=True,
)
KINDS = [QUALIFYING_EVENTS, METRIC_SOURCES, ASSIGNMENT_SOURCES]
REVIEW = {"x-respect-review-settings": "true"}


def body(name: str = "Purchases", **fields: Any) -> dict[str, Any]:
    """A qualifying event's (and a metric source's) body."""
    return QUALIFYING_EVENTS.body(name, **fields)


def other_than(kind: KindCase) -> KindCase:
    return METRIC_SOURCES if kind is QUALIFYING_EVENTS else QUALIFYING_EVENTS


@pytest.fixture(params=KINDS, ids=[k.kind for k in KINDS])
def kind(request: pytest.FixtureRequest) -> KindCase:
    return request.param


def test_lifecycle_with_statsig_messages(client, kind):
    created = client.post(kind.create, json=kind.body())
    assert created.status_code == 201, created.text
    assert created.json()["message"] == kind.message("created")
    assert created.json()["data"]["owner"]["ownerType"] == "SDK_KEY"

    read = client.get(kind.url("Purchases"))
    assert read.status_code == 200
    assert read.json()["message"] == kind.message("read")
    etag = read.headers["ETag"]

    updated = client.post(
        kind.url("Purchases"),
        json=kind.body(description="all purchases"),
        headers={"If-Match": etag},
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["message"] == kind.message("updated")
    stale = client.patch(kind.url("Purchases"), json={"tags": ["x"]}, headers={"If-Match": etag})
    assert stale.status_code == 412

    patched = client.patch(kind.url("Purchases"), json={"tags": ["sales"]})
    assert patched.status_code == 200
    assert patched.json()["data"]["description"] == "all purchases"
    assert patched.json()["data"]["tags"] == ["sales"]

    deleted = client.delete(kind.url("Purchases"))
    assert deleted.status_code == 200
    assert deleted.json() == {"message": kind.message("deleted")}
    gone = client.get(kind.url("Purchases"))
    assert gone.status_code == 404
    assert gone.json()["message"] == f"{kind.label} not found: 'Purchases'"
    assert gone.json()["errors"][0]["property"] == "name"


def test_list_paginates_with_links_that_work(client, kind):
    for n in range(3):
        assert client.post(kind.create, json=kind.body(f"source {n}")).status_code == 201
    first = client.get(kind.listing, params={"limit": "2", "page": "1"})
    assert first.status_code == 200
    page = first.json()
    assert page["message"] == kind.message("listed")
    assert [item["name"] for item in page["data"]] == ["source 0", "source 1"]
    assert page["pagination"]["totalItems"] == 3
    following = client.get(page["pagination"]["nextPage"]).json()
    assert [item["name"] for item in following["data"]] == ["source 2"]
    assert following["pagination"]["nextPage"] is None


def test_names_are_unique_per_kind_not_across_kinds(client, kind):
    assert client.post(kind.create, json=kind.body()).status_code == 201
    again = client.post(kind.create, json=kind.body())
    assert again.status_code == 400
    assert again.json()["message"] == "Name is already in use"
    assert kind.label.lower() in again.json()["errors"][0]["errorMessage"]
    other = other_than(kind)
    assert client.post(other.create, json=other.body(description="other kind")).status_code == 201
    # each kind reads, lists, updates and deletes only its own
    assert client.get(kind.url("Purchases")).json()["data"]["description"] == ""
    assert client.get(other.url("Purchases")).json()["data"]["description"] == "other kind"
    assert client.get(kind.listing).json()["pagination"]["totalItems"] == 1
    assert client.delete(kind.url("Purchases")).status_code == 200
    assert client.get(other.url("Purchases")).status_code == 200


def test_history_is_per_kind(client, kind):
    other = other_than(kind)
    client.post(kind.create, json=kind.body())
    client.post(other.create, json=other.body())
    client.patch(other.url("Purchases"), json={"description": "changed"})
    # the other kind's second revision does not move this kind's numbering
    updated = client.post(kind.url("Purchases"), json=kind.body(description="mine"))
    assert updated.headers["ETag"] == client.get(kind.url("Purchases")).headers["ETag"]
    assert (
        client.get(kind.url("Purchases")).headers["ETag"]
        == (client.get(other.url("Purchases")).headers["ETag"])
    )


def test_a_name_in_the_update_body_renames_only_the_kinds_that_rename(client, kind):
    """Assignment sources rename (history and the rest: test_assignment_sources.py); the
    other kinds refuse a new name with a 400 on ``name``."""
    client.post(kind.create, json=kind.body())
    renamed = client.post(kind.url("Purchases"), json=kind.body("Sales"))
    if kind.renames:
        assert renamed.status_code == 200, renamed.text
        assert client.get(kind.url("Sales")).status_code == 200
        assert client.get(kind.url("Purchases")).status_code == 404
    else:
        assert renamed.status_code == 400
        assert renamed.json()["errors"][0]["property"] == "name"
        assert client.get(kind.url("Purchases")).status_code == 200


def test_dry_run_stores_nothing(client, kind):
    dry = client.post(kind.create, json=kind.body(dryRun=True))
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
    held = client.post(kind.create, json=kind.body(), headers=REVIEW)
    assert held.status_code == 202, held.text
    assert client.get(kind.url("Purchases")).status_code == 404
    approved = reviewer.post(f"/console/v1/-/change_requests/{held.json()['data']['id']}/approve")
    assert approved.status_code == 200, approved.text
    assert client.get(kind.url("Purchases")).status_code == 200
    other = other_than(kind)
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
    client.post(kind.create, json=kind.body())
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
    other = other_than(kind)
    client.post(kind.create, json=kind.body())
    client.post(other.create, json=other.body())
    client.post(other.create, json=other.body("Refunds"))
    kind_name = kind.kind
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
