"""Encoded responses are kept with the cached values they encode (SQLite), so they must
change the moment the data does, whoever wrote it: this process or another."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from qualevents.api.app import create_app
from qualevents.config import Settings
from qualevents.keys import KeyService
from qualevents.store import open_store
from qualevents.store.base import Actor
from tests.factories import event

BASE = "/console/v1/experiments/qualifying_events"
OTHER = Actor("other", "another process")


@pytest.fixture
def served(tmp_path: Path):
    """A client on an app over a SQLite file, and a second store on the same file."""
    url = f"sqlite:///{tmp_path / 'cached.db'}"
    store, other = open_store(url), open_store(url)
    secret = KeyService(store).create("ci")[1]
    app = create_app(Settings(database_url=url, warehouse_url="none", _env_file=None), store=store)
    with TestClient(app, headers={"STATSIG-API-KEY": secret}) as http:
        yield http, other
    other.close()
    store.close()


def test_a_read_changes_with_a_write_from_another_process(served):
    http, other = served
    other.create_event(event("E", "one"), OTHER)
    first = http.get(f"{BASE}/E")
    assert http.get(f"{BASE}/E").content == first.content  # served again, unchanged
    assert first.json()["data"]["description"] == "one"
    other.replace_event(event("E", "two"), OTHER)
    second = http.get(f"{BASE}/E")
    assert second.json()["data"]["description"] == "two"
    assert second.headers["ETag"] != first.headers["ETag"]
    other.delete_event("E", OTHER)
    assert http.get(f"{BASE}/E").status_code == 404


def test_a_list_page_changes_with_a_write_from_another_process(served):
    http, other = served
    other.create_event(event("A"), OTHER)
    first = http.get(BASE, params={"limit": 1})
    assert http.get(BASE, params={"limit": 1}).content == first.content
    assert first.json()["pagination"]["totalItems"] == 1
    other.create_event(event("B"), OTHER)
    second = http.get(BASE, params={"limit": 1}).json()
    assert second["pagination"]["totalItems"] == 2
    assert second["pagination"]["nextPage"] is not None
    other.replace_event(event("A", "changed"), OTHER)
    assert http.get(BASE, params={"limit": 1}).json()["data"][0]["description"] == "changed"


def test_a_list_page_changes_with_a_write_through_the_api(served):
    http, _ = served
    assert http.get(BASE).json()["data"] == []
    created = http.post(
        BASE,
        json={
            "name": "A",
            "sql": "SELECT user_id, ts FROM t",
            "timestampColumn": "ts",
            "idTypeMapping": [{"statsigUnitID": "userID", "column": "user_id"}],
        },
    )
    assert created.status_code == 201, created.text
    assert [e["name"] for e in http.get(BASE).json()["data"]] == ["A"]


def test_a_key_revoked_by_another_process_is_refused_on_the_next_read(served):
    """Cached keys are checked on the event loop; a revocation elsewhere (the CLI) still
    refuses the very next request, a read as much as a write."""
    http, other = served
    other.create_event(event("E"), OTHER)
    assert http.get(f"{BASE}/E").status_code == 200
    assert http.get(f"{BASE}/E").status_code == 200  # key and event from memory now
    (key,) = [k for k in KeyService(other).list() if k.name == "ci"]
    KeyService(other).revoke(key.id)
    assert http.get(f"{BASE}/E").status_code == 401
    assert http.get(BASE).status_code == 401


def test_cached_reads_keep_their_etag_and_body(served):
    http, other = served
    other.create_event(event("E", "one"), OTHER)
    first = http.get(f"{BASE}/E")
    again = http.get(f"{BASE}/E")  # from memory
    assert again.headers["ETag"] == first.headers["ETag"] == '"1"'
    assert again.content == first.content
    assert again.headers["content-type"] == "application/json"
    other.replace_event(event("E", "two"), OTHER)
    assert http.get(f"{BASE}/E").headers["ETag"] == '"2"'
