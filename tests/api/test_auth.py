"""Console keys on every endpoint: missing, unknown and revoked keys get the same 401 (the key
masked, never echoed); a read-only key reads and gets 403 on every mutation."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from qualevents.keys import KeyService

BASE = "/console/v1/experiments/qualifying_events"
EVENT = {
    "name": "Purchases",
    "sql": "SELECT user_id, ts FROM events",
    "timestampColumn": "ts",
    "idTypeMapping": [{"statsigUnitID": "userID", "column": "user_id"}],
}

READS = [("GET", BASE, None), ("GET", f"{BASE}/Purchases", None)]
MUTATIONS = [
    ("POST", BASE, {**EVENT, "name": "Other"}),
    ("POST", BASE, {**EVENT, "name": "Other", "dryRun": True}),
    ("POST", f"{BASE}/Purchases", {**EVENT, "sql": "SELECT 2"}),
    ("PATCH", f"{BASE}/Purchases", {"description": "changed"}),
    ("DELETE", f"{BASE}/Purchases", None),
]
ALL = READS + MUTATIONS


@pytest.fixture
def existing(client) -> dict[str, Any]:
    response = client.post(BASE, json=EVENT)
    assert response.status_code == 201
    return response.json()["data"]


def call(http, method: str, path: str, body: Any, key: str | None) -> Any:
    headers = {"STATSIG-API-KEY": key} if key is not None else {}
    return http.request(method, path, json=body, headers=headers)


def assert_unauthorized(response, secret: str | None) -> None:
    assert response.status_code == 401
    body = response.json()
    assert body["status"] == 401
    assert body["message"].startswith("This endpoint only accepts an active CONSOLE key")
    assert body["errors"] and body["errors"][0]["property"] == "STATSIG-API-KEY"
    if secret and len(secret) > len("console-xyz"):
        assert secret not in response.text
        assert secret[:12] not in response.text


def test_missing_key_is_401_everywhere(anonymous, existing):
    for method, path, body in ALL:
        assert_unauthorized(call(anonymous, method, path, body, None), None)


def test_empty_key_is_401(anonymous, existing):
    assert_unauthorized(call(anonymous, "GET", BASE, None, ""), None)


@pytest.mark.parametrize(
    "secret",
    [
        "console-" + "A" * 40,
        "secret-" + "b" * 40,
        "console-",
        "not a key at all but quite long",
        "console-" + "x" * 300,
    ],
)
def test_unknown_key_is_401_with_the_key_masked(anonymous, existing, secret):
    for method, path, body in ALL:
        response = call(anonymous, method, path, body, secret)
        assert_unauthorized(response, secret)
    assert "Key: " in response.json()["message"]


def test_revoked_key_is_401_like_an_unknown_one(anonymous, store, existing):
    key, secret = KeyService(store).create("temporary")
    assert call(anonymous, "GET", BASE, None, secret).status_code == 200
    KeyService(store).revoke(key.id)
    unknown = "console-" + "Z" * 40
    for method, path, body in ALL:
        revoked = call(anonymous, method, path, body, secret)
        assert_unauthorized(revoked, secret)
        other = call(anonymous, method, path, body, unknown)
        assert revoked.json()["errors"] == other.json()["errors"]
        assert (
            revoked.json()["message"].split("Key:")[0] == other.json()["message"].split("Key:")[0]
        )


def test_unauthorized_calls_change_nothing(anonymous, client, existing):
    for method, path, body in MUTATIONS:
        call(anonymous, method, path, body, None)
        call(anonymous, method, path, body, "console-" + "Q" * 40)
    assert client.get(BASE).json()["data"] == [existing]


def test_read_only_key_reads(anonymous, existing, read_only_key):
    for method, path, body in READS:
        assert call(anonymous, method, path, body, read_only_key).status_code == 200


def test_read_only_key_gets_403_on_every_mutation(anonymous, client, existing, read_only_key):
    for method, path, body in MUTATIONS:
        response = call(anonymous, method, path, body, read_only_key)
        assert response.status_code == 403, (method, path)
        assert response.json()["status"] == 403
        assert response.json()["errors"][0]["property"] == "STATSIG-API-KEY"
        assert read_only_key not in response.text
    assert client.get(BASE).json()["data"] == [existing]


def test_read_only_key_is_403_even_with_an_invalid_body(anonymous, read_only_key):
    response = anonymous.post(
        BASE, content=b"{not json", headers={"STATSIG-API-KEY": read_only_key}
    )
    assert response.status_code == 403


def test_missing_key_is_401_even_with_an_invalid_body(anonymous):
    response = anonymous.post(BASE, content=b"{not json")
    assert response.status_code == 401


def test_keys_are_independent_and_owner_follows_the_caller(app, store, existing):
    _, second = KeyService(store).create("second key")
    with TestClient(app, headers={"STATSIG-API-KEY": second}) as http:
        response = http.post(BASE, json={**EVENT, "name": "Theirs"})
        assert response.status_code == 201
        assert response.json()["data"]["owner"]["ownerName"] == "second key"
    assert existing["owner"]["ownerName"] == "ci"


def test_the_key_is_checked_before_anything_else(anonymous, client):
    # Without a valid key, a wrong API version, bad paging or a bad If-Match still gets the
    # same 401: a caller without a key learns nothing about the request's other problems.
    for headers, params in (
        ({"STATSIG-API-VERSION": "19990101"}, {}),
        ({}, {"limit": "zero", "page": "-1"}),
        ({"If-Match": "nonsense", "STATSIG-API-KEY": "console-nope"}, {}),
    ):
        response = anonymous.get(BASE, headers=headers, params=params)
        assert response.status_code == 401, (headers, params, response.text)
    response = anonymous.delete(f"{BASE}/x", headers={"If-Match": "nonsense"})
    assert response.status_code == 401
    # With a key, the same version problem is a clear 400.
    versioned = client.get(BASE, headers={"STATSIG-API-VERSION": "19990101"})
    assert versioned.status_code == 400
    assert versioned.json()["errors"][0]["property"] == "STATSIG-API-VERSION"
