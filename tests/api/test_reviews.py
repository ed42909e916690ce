"""Reviews: with reviews required, a mutation sent with x-respect-review-settings becomes a
pending change request that another key approves (applied atomically) or rejects."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from qualevents.keys import KeyService

BASE = "/console/v1/experiments/qualifying_events"
SETTINGS = "/console/v1/-/settings"
REQUESTS = "/console/v1/-/change_requests"
REVIEW = {"x-respect-review-settings": "true"}


def event(name: str = "Log Events", **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "sql": "SELECT user_id, ts FROM events",
        "timestampColumn": "ts",
        "idTypeMapping": [{"statsigUnitID": "userID", "column": "user_id"}],
        **fields,
    }


def url(name: str) -> str:
    return f"{BASE}/{quote(name, safe='')}"


@pytest.fixture
def reviewer(app, store):
    secret = KeyService(store).create("reviewer")[1]
    with TestClient(app, headers={"STATSIG-API-KEY": secret}) as http:
        yield http


@pytest.fixture
def reviews_on(client):
    response = client.post(SETTINGS, json={"requireReviews": True})
    assert response.status_code == 200
    assert response.json()["data"] == {"requireReviews": True}


def test_settings_default_to_no_reviews_and_reject_unknown_fields(client):
    assert client.get(SETTINGS).json()["data"] == {"requireReviews": False}
    bad = client.post(SETTINGS, json={"requireReview": True})
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["property"] == "requireReview"


def test_without_the_header_mutations_apply_even_when_reviews_are_required(client, reviews_on):
    assert client.post(BASE, json=event()).status_code == 201


def test_with_reviews_off_the_header_changes_nothing(client):
    assert client.post(BASE, json=event(), headers=REVIEW).status_code == 201


def test_create_is_held_then_approved_by_another_key(client, reviewer, reviews_on):
    held = client.post(BASE, json=event(), headers=REVIEW)
    assert held.status_code == 202, held.text
    request = held.json()["data"]
    assert request["status"] == "pending" and request["action"] == "create"
    assert client.get(url("Log Events")).status_code == 404  # not applied yet

    own = client.post(f"{REQUESTS}/{request['id']}/approve")
    assert own.status_code == 403  # the author's key cannot approve
    approved = reviewer.post(f"{REQUESTS}/{request['id']}/approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["data"]["status"] == "approved"
    assert approved.json()["data"]["reviewedBy"] == "reviewer"
    read = client.get(url("Log Events")).json()["data"]
    assert read["owner"]["ownerName"] == "ci"  # applied as its author
    again = reviewer.post(f"{REQUESTS}/{request['id']}/approve")
    assert again.status_code == 400


def test_update_patch_and_delete_are_held_too(client, reviewer, reviews_on):
    client.post(BASE, json=event())
    update = client.post(url("Log Events"), json=event(description="new"), headers=REVIEW)
    assert update.status_code == 202
    assert client.get(url("Log Events")).json()["data"]["description"] == ""
    reviewer.post(f"{REQUESTS}/{update.json()['data']['id']}/approve")
    assert client.get(url("Log Events")).json()["data"]["description"] == "new"

    patch = client.patch(url("Log Events"), json={"tags": ["x"]}, headers=REVIEW)
    assert patch.status_code == 202
    reviewer.post(f"{REQUESTS}/{patch.json()['data']['id']}/approve")
    assert client.get(url("Log Events")).json()["data"]["tags"] == ["x"]

    delete = client.delete(url("Log Events"), headers=REVIEW)
    assert delete.status_code == 202
    assert client.get(url("Log Events")).status_code == 200
    reviewer.post(f"{REQUESTS}/{delete.json()['data']['id']}/approve")
    assert client.get(url("Log Events")).status_code == 404


def test_an_invalid_change_is_refused_at_submission_not_held(client, reviews_on):
    bad = client.post(BASE, json=event(idTypeMapping=[]), headers=REVIEW)
    assert bad.status_code == 400
    assert client.get(REQUESTS).json()["data"] == []


def test_approval_fails_cleanly_when_the_event_changed_since_the_request(
    client, reviewer, reviews_on
):
    client.post(BASE, json=event())
    held = client.patch(url("Log Events"), json={"description": "reviewed"}, headers=REVIEW)
    client.patch(url("Log Events"), json={"description": "meanwhile"})  # applied directly
    response = reviewer.post(f"{REQUESTS}/{held.json()['data']['id']}/approve")
    assert response.status_code == 412
    assert client.get(url("Log Events")).json()["data"]["description"] == "meanwhile"
    status = client.get(f"{REQUESTS}/{held.json()['data']['id']}").json()["data"]["status"]
    assert status == "stale"


def test_reject_applies_nothing_and_records_the_reason(client, reviewer, reviews_on):
    held = client.post(BASE, json=event(), headers=REVIEW).json()["data"]
    rejected = reviewer.post(f"{REQUESTS}/{held['id']}/reject", json={"reason": "not needed"})
    assert rejected.status_code == 200
    assert rejected.json()["data"]["status"] == "rejected"
    assert rejected.json()["data"]["reason"] == "not needed"
    assert client.get(url("Log Events")).status_code == 404
    pending = client.get(REQUESTS, params={"status": "pending"}).json()
    assert pending["data"] == [] and pending["pagination"]["totalItems"] == 0


def test_read_only_keys_cannot_change_settings_or_decide(client, app, store, reviews_on):
    held = client.post(BASE, json=event(), headers=REVIEW).json()["data"]
    secret = KeyService(store).create("reader", read_only=True)[1]
    with TestClient(app, headers={"STATSIG-API-KEY": secret}) as reader:
        assert reader.get(REQUESTS).status_code == 200
        assert reader.post(f"{REQUESTS}/{held['id']}/approve").status_code == 403
        assert reader.post(SETTINGS, json={"requireReviews": False}).status_code == 403


def test_unknown_request_and_bad_status_filter(client):
    assert client.post(f"{REQUESTS}/999/approve").status_code == 404
    response = client.get(REQUESTS, params={"status": "open"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["property"] == "status"
