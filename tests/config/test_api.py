"""``POST /console/v1/-/plan`` and ``/-/apply``: declared in the OpenAPI document, read-only
keys may plan but not apply, every failure in the contract's error shape, a stale plan is a
412 that applies nothing, reviews open change requests (SQLite and PostgreSQL stores)."""

from __future__ import annotations

from starlette.testclient import TestClient

from qualevents.wire import EXAMPLE_ASSIGNMENT_SOURCE, EXAMPLE_EVENT

PLAN = "/console/v1/-/plan"
APPLY = "/console/v1/-/apply"
QE = "/console/v1/experiments/qualifying_events"


def sources(*names: str) -> list[dict]:
    return [{"kind": "qualifying_event", "data": {**EXAMPLE_EVENT, "name": n}} for n in names]


def plan(client, *names: str, prune: bool = False) -> dict:
    response = client.post(
        PLAN, json={"syncId": "team", "sources": sources(*names), "prune": prune}
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


def apply_body(made: dict, **extra) -> dict:
    keys = ("kind", "name", "action", "baseRevision", "data")
    return {
        "syncId": made["syncId"],
        "changes": [{k: c[k] for k in keys} for c in made["changes"]],
        **extra,
    }


def test_plan_then_apply(client):
    made = plan(client, "A", "B")
    assert [(c["action"], c["name"], c["valid"]) for c in made["changes"]] == [
        ("create", "A", True),
        ("create", "B", True),
    ]
    assert made["changes"][0]["validation"] is None  # this app has no validator
    done = client.post(APPLY, json=apply_body(made))
    assert done.status_code == 200, done.text
    assert [c["revision"] for c in done.json()["data"]["applied"]] == [1, 1]
    read = client.get(f"{QE}/A").json()["data"]
    assert read["managedBy"] == "team" and read["isReadOnly"] is True
    assert read["owner"]["ownerName"] == "ci"  # the key that applied it
    assert plan(client, "A", "B")["changes"] == []
    pruned = plan(client, "A", prune=True)
    assert [(c["action"], c["name"], c["baseRevision"]) for c in pruned["changes"]] == [
        ("delete", "B", 1)
    ]
    assert client.post(APPLY, json=apply_body(pruned)).status_code == 200
    assert client.get(f"{QE}/B").status_code == 404
    # released from the folder, A is left alone by the next prune
    assert client.patch(f"{QE}/A", json={"managedBy": None}).status_code == 200
    assert "managedBy" not in client.get(f"{QE}/A").json()["data"]
    released = plan(client, prune=True)
    assert (
        released["changes"] == []
        and {"kind": "qualifying_event", "name": "A"} in (released["leftAlone"])
    )


def test_a_stale_plan_is_a_412_that_applies_nothing(client):
    client.post(QE, json={**EXAMPLE_EVENT, "name": "C", "description": "before"})
    made = plan(client, "A", "B", "C")
    assert [c["action"] for c in made["changes"]] == ["create", "create", "update"]
    client.patch(f"{QE}/C", json={"description": "theirs"})
    response = client.post(APPLY, json=apply_body(made))
    assert response.status_code == 412
    body = response.json()
    assert body["status"] == 412 and body["errors"]
    assert "nothing was applied" in body["message"]
    assert body["errors"][0]["property"].startswith("changes[2]") or "changes" in str(body)
    assert client.get(f"{QE}/A").status_code == 404
    assert client.get(f"{QE}/C").json()["data"]["description"] == "theirs"


def test_invalid_changes_are_400s_listing_every_problem(client):
    made = plan(client, "A")
    body = apply_body(made)
    body["changes"][0]["data"] = {**body["changes"][0]["data"], "timestampColumn": ""}
    body["changes"].append({**body["changes"][0], "name": "B", "data": {"name": "B"}})
    response = client.post(APPLY, json=body)
    assert response.status_code == 400
    assert response.json()["errors"]
    assert (
        client.post(APPLY, json={"syncId": "team", "changes": [{"kind": "gate"}]}).status_code
        == 400
    )
    assert client.post(PLAN, json={"sources": []}).status_code == 400
    bad = client.post(
        PLAN, json={"syncId": "t", "sources": [{"kind": "qualifying_event", "data": {"name": 1}}]}
    )
    assert bad.status_code == 400 and bad.json()["errors"][0]["property"].startswith("sources")


def test_read_only_keys_plan_but_do_not_apply(app, read_only_key):
    with TestClient(app, headers={"STATSIG-API-KEY": read_only_key}) as reader:
        made = plan(reader, "A")
        assert reader.post(APPLY, json=apply_body(made)).status_code == 403


def test_reviews_open_one_change_request_per_change(client, app, store):
    from qualevents.keys import KeyService

    assert client.post("/console/v1/-/settings", json={"requireReviews": True}).status_code == 200
    made = plan(client, "A", "B")
    held = client.post(APPLY, json=apply_body(made), headers={"x-respect-review-settings": "true"})
    assert held.status_code == 202, held.text
    requests = held.json()["data"]["changeRequests"]
    assert [(r["action"], r["name"], r["status"]) for r in requests] == [
        ("create", "A", "pending"),
        ("create", "B", "pending"),
    ]
    assert client.get(f"{QE}/A").status_code == 404
    other = KeyService(store).create("reviewer")[1]
    with TestClient(app, headers={"STATSIG-API-KEY": other}) as reviewer:
        ok = reviewer.post(f"/console/v1/-/change_requests/{requests[0]['id']}/approve")
        assert ok.status_code == 200, ok.text
    assert client.get(f"{QE}/A").json()["data"]["managedBy"] == "team"
    # without the header, reviews are not asked for
    assert client.post(APPLY, json=apply_body(plan(client, "C"))).status_code == 200


def test_every_kind_plans(client):
    body = {
        "syncId": "team",
        "sources": [
            {"kind": "metric_source", "data": {**EXAMPLE_EVENT, "name": "M"}},
            {"kind": "assignment_source", "data": EXAMPLE_ASSIGNMENT_SOURCE},
        ],
    }
    made = client.post(PLAN, json=body).json()["data"]
    assert [(c["kind"], c["action"]) for c in made["changes"]] == [
        ("metric_source", "create"),
        ("assignment_source", "create"),
    ]
    assert client.post(APPLY, json=apply_body(made)).status_code == 200
    read = client.get("/console/v1/experiments/assignment_source/exposures").json()["data"]
    assert read["managedBy"] == "team"


def test_the_operations_are_declared(client):
    document = client.get("/openapi.json").json()
    for path in (PLAN, APPLY):
        operation = document["paths"][path]["post"]
        assert operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert "requestBody" in operation
