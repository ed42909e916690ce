"""History through the API: revisions per change, restore, and Statsig-shaped audit logs."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.testclient import TestClient

from qualevents.keys import KeyService

BASE = "/console/v1/experiments/qualifying_events"
AUDIT = "/console/v1/audit_logs"


def event(name: str = "Log Events", **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "sql": "SELECT user_id, ts FROM events",
        "timestampColumn": "ts",
        "idTypeMapping": [{"statsigUnitID": "userID", "column": "user_id"}],
        **fields,
    }


def url(name: str, *rest: str) -> str:
    return "/".join([BASE, quote(name, safe=""), *rest])


def test_every_change_writes_a_revision_with_who_and_what(client):
    assert client.post(BASE, json=event()).status_code == 201
    assert client.patch(url("Log Events"), json={"tags": ["core"]}).status_code == 200
    assert (
        client.post(url("Log Events"), json=event(sql="SELECT 1 AS ts, 2 AS user_id")).status_code
        == 200
    )
    assert client.delete(url("Log Events")).status_code == 200

    body = client.get(url("Log Events", "-", "revisions")).json()
    revisions = body["data"]
    assert [r["action"] for r in revisions] == ["create", "patch", "update", "delete"]
    assert [r["revision"] for r in revisions] == [1, 2, 3, 4]
    assert revisions[1]["changes"] == {"tags": {"old": None, "new": ["core"]}}
    assert revisions[2]["changes"]["sql"] == {
        "old": "SELECT user_id, ts FROM events",
        "new": "SELECT 1 AS ts, 2 AS user_id",
    }
    assert revisions[3]["data"] is None  # a deletion leaves no definition
    assert all(r["updatedBy"] == "ci" and r["updatedByKeyID"] for r in revisions)
    assert body["pagination"]["totalItems"] == 4


def test_history_of_a_deleted_event_stays_readable_and_recreation_continues_it(client):
    client.post(BASE, json=event())
    client.delete(url("Log Events"))
    assert client.get(url("Log Events")).status_code == 404
    assert client.get(url("Log Events", "-", "revisions", "1")).json()["data"]["action"] == "create"
    assert client.post(BASE, json=event(description="again")).status_code == 201
    numbers = [
        r["revision"] for r in client.get(url("Log Events", "-", "revisions")).json()["data"]
    ]
    assert numbers == [1, 2, 3]
    assert client.get(url("Log Events")).headers["ETag"] == '"3"'


def test_restore_writes_a_new_revision_equal_to_the_old_one(client):
    client.post(BASE, json=event(description="first"))
    client.patch(url("Log Events"), json={"description": "second"})
    restored = client.post(url("Log Events", "-", "revisions", "1", "restore"))
    assert restored.status_code == 200, restored.text
    assert restored.headers["ETag"] == '"3"'
    assert client.get(url("Log Events")).json()["data"]["description"] == "first"
    last = client.get(url("Log Events", "-", "revisions", "3")).json()["data"]
    assert last["action"] == "restore"
    assert last["changes"] == {"description": {"old": "second", "new": "first"}}


def test_restoring_a_deleted_event_brings_it_back(client):
    client.post(BASE, json=event(description="kept"))
    client.delete(url("Log Events"))
    assert client.post(url("Log Events", "-", "revisions", "1", "restore")).status_code == 200
    assert client.get(url("Log Events")).json()["data"]["description"] == "kept"
    last = client.get(url("Log Events", "-", "revisions", "3")).json()["data"]
    assert last["action"] == "restore"


def test_restoring_a_deletion_or_a_missing_revision_is_refused(client):
    client.post(BASE, json=event())
    client.delete(url("Log Events"))
    refused = client.post(url("Log Events", "-", "revisions", "2", "restore"))
    assert refused.status_code == 400
    assert client.get(url("Log Events", "-", "revisions", "9")).status_code == 404
    assert client.get(url("Never", "-", "revisions")).status_code == 404


def test_read_only_key_reads_history_but_cannot_restore(client, app, store):
    client.post(BASE, json=event())
    secret = KeyService(store).create("reader", read_only=True)[1]
    with TestClient(app, headers={"STATSIG-API-KEY": secret}) as reader:
        assert reader.get(url("Log Events", "-", "revisions")).status_code == 200
        assert reader.post(url("Log Events", "-", "revisions", "1", "restore")).status_code == 403


def test_audit_logs_have_statsigs_shape_and_filters(client, app, store):
    client.post(BASE, json=event("A", tags=["t"]))
    client.post(BASE, json=event("B"))
    client.patch(url("A"), json={"description": "changed"})
    client.delete(url("B"))
    other = KeyService(store).create("other")[1]
    with TestClient(app, headers={"STATSIG-API-KEY": other}) as second:
        second.patch(url("A"), json={"description": "by other"})

    body = client.get(AUDIT).json()
    assert body["message"] == "Audit logs listed successfully."
    items = body["data"]
    assert len(items) == 5
    expected_keys = {
        "id",
        "name",
        "changeLog",
        "actionType",
        "date",
        "time",
        "updatedBy",
        "updatedByUserID",
        "modifierEmail",
        "changes",
        "tags",
    }
    assert all(expected_keys <= set(item) for item in items)
    assert items[0]["updatedBy"] == "other"  # newest first by default
    assert items[0]["changes"] == {"description": {"old": "changed", "new": "by other"}}

    oldest_first = client.get(AUDIT, params={"sortOrder": "asc"}).json()["data"]
    assert [i["name"] for i in oldest_first] == ["A", "B", "A", "B", "A"]
    deletes = client.get(AUDIT, params={"actionType": "qualifying_event_deleted"}).json()["data"]
    assert [(i["name"], i["actionType"]) for i in deletes] == [("B", "qualifying_event_deleted")]
    only_a = client.get(AUDIT, params={"name": "A"}).json()["data"]
    assert {i["name"] for i in only_a} == {"A"} and len(only_a) == 3
    key_id = items[0]["updatedByUserID"]
    by_key = client.get(AUDIT, params={"keyID": key_id}).json()["data"]
    assert len(by_key) == 1 and by_key[0]["updatedBy"] == "other"


def test_audit_logs_date_range_and_paging_links_keep_filters(client):
    for name in ("A", "B", "C"):
        client.post(BASE, json=event(name))
    today = client.get(AUDIT).json()["data"][0]["date"]
    in_range = client.get(AUDIT, params={"startDate": today, "endDate": today}).json()
    assert in_range["pagination"]["totalItems"] == 3
    assert client.get(AUDIT, params={"endDate": "2000-01-01"}).json()["data"] == []

    first = client.get(AUDIT, params={"limit": 2, "actionType": "qualifying_event_created"}).json()
    follow = client.get(first["pagination"]["nextPage"]).json()
    assert len(first["data"]) == 2 and len(follow["data"]) == 1
    assert follow["pagination"]["totalItems"] == 3


def test_audit_log_bad_parameters_are_400s_naming_the_parameter(client):
    for params, prop in (
        ({"startDate": "yesterday"}, "startDate"),
        ({"sortOrder": "sideways"}, "sortOrder"),
        ({"actionType": "gate_created"}, "actionType"),
        ({"sortKey": "name"}, "sortKey"),
    ):
        response = client.get(AUDIT, params=params)
        assert response.status_code == 400, params
        assert [e["property"] for e in response.json()["errors"]] == [prop]
