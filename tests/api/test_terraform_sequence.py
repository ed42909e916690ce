"""What Statsig's Terraform provider (resource ``statsig_qualifying_event``) does, byte for
byte: create with exactly its fields, read back expecting an empty plan, update by POST with
the name in the body, delete, and read a 404."""

from __future__ import annotations

from typing import Any

import pytest

BASE = "/console/v1/experiments/qualifying_events"
PROVIDER_HEADERS = {
    "STATSIG-API-VERSION": "20240601",
    "STATSIG-SDK-TYPE": "terraform-provider-statsig",
    "STATSIG-SDK-VERSION": "0.3.0",
    "Content-Type": "application/json",
}

# Go omitempty: no customFieldMapping/timestampColumn/... when unset; never dryRun etc.
QUERY_EVENT = {
    "name": "Terraform Query Event",
    "description": "",
    "sql": "SELECT user_id, ts FROM `shoppy-sales.logging.events`",
    "tags": ["terraform"],
    "timestampColumn": "ts",
    "idTypeMapping": [{"statsigUnitID": "userID", "column": "user_id"}],
    "sourceType": "query",
    "isReadOnly": False,
}
TABLE_EVENT = {
    "name": "Terraform Table Event",
    "description": "created by terraform",
    "sql": "",
    "tags": [],
    "timestampColumn": "ts",
    "idTypeMapping": [
        {"statsigUnitID": "userID", "column": "user_id"},
        {"statsigUnitID": "stableID", "column": "stable_id"},
    ],
    "sourceType": "table",
    "tableName": "`shoppy-sales.kenny_dev.shoppy-events`",
    "customFieldMapping": [{"key": "amount", "formula": "price * quantity"}],
}
NEVER_SENT = ("datePartitionColumn", "isVerified", "team", "teamID", "dryRun")


def plan(sent: dict[str, Any], read: dict[str, Any]) -> dict[str, Any]:
    """What ``terraform plan`` would want to change: sent fields that differ, and fields the
    provider did not send that came back as something other than absent or null."""
    diff = {key: (value, read.get(key)) for key, value in sent.items() if read.get(key) != value}
    for key in ("customFieldMapping", "datePartitionColumn", "isVerified", "team", "teamID"):
        if key not in sent and read.get(key) is not None:
            diff[key] = (None, read[key])
    return diff


@pytest.mark.parametrize("sent", [QUERY_EVENT, TABLE_EVENT], ids=["query", "table"])
def test_provider_lifecycle(client, sent):
    path = f"{BASE}/{sent['name'].replace(' ', '%20')}"

    created = client.post(BASE, json=sent, headers=PROVIDER_HEADERS)
    assert created.status_code == 201, created.text
    assert created.json().get("errors") is None
    assert plan(sent, created.json()["data"]) == {}

    read = client.get(path, headers=PROVIDER_HEADERS)
    assert read.status_code == 200
    data = read.json()["data"]
    assert plan(sent, data) == {}
    assert data["owner"]["ownerType"] == "SDK_KEY"
    for key in NEVER_SENT:
        assert data.get(key) is None, key

    changed = {**sent, "description": "changed by terraform", "tags": ["a", "b"]}
    updated = client.post(path, json=changed, headers=PROVIDER_HEADERS)
    assert updated.status_code == 200, updated.text
    assert updated.json().get("errors") is None
    assert plan(changed, client.get(path, headers=PROVIDER_HEADERS).json()["data"]) == {}

    # a second apply with no change is a no-op that still succeeds
    again = client.post(path, json=changed, headers=PROVIDER_HEADERS)
    assert again.status_code == 200
    assert plan(changed, again.json()["data"]) == {}

    deleted = client.delete(path, headers=PROVIDER_HEADERS)
    assert deleted.status_code == 200
    assert deleted.json().get("errors") is None

    gone = client.get(path, headers=PROVIDER_HEADERS)
    assert gone.status_code == 404
    assert gone.json()["errors"] is not None  # how the provider tells it failed


def test_provider_removing_optional_fields_drops_them(client):
    path = f"{BASE}/Terraform%20Table%20Event"
    assert client.post(BASE, json=TABLE_EVENT, headers=PROVIDER_HEADERS).status_code == 201
    trimmed = {k: v for k, v in TABLE_EVENT.items() if k != "customFieldMapping"}
    assert client.post(path, json=trimmed, headers=PROVIDER_HEADERS).status_code == 200
    assert plan(trimmed, client.get(path).json()["data"]) == {}


def test_both_events_coexist_and_list_in_creation_order(client):
    for sent in (QUERY_EVENT, TABLE_EVENT):
        assert client.post(BASE, json=sent, headers=PROVIDER_HEADERS).status_code == 201
    listed = client.get(BASE, headers=PROVIDER_HEADERS).json()["data"]
    assert [item["name"] for item in listed] == [QUERY_EVENT["name"], TABLE_EVENT["name"]]
    for sent, item in zip((QUERY_EVENT, TABLE_EVENT), listed, strict=True):
        assert plan(sent, item) == {}
