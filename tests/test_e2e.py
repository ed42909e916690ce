"""End to end: the real ``qualevents serve`` on a free loopback port, driven over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from qualevents.keys import KeyService
from qualevents.store import open_store
from tests.serving import running_server

# Starts real servers (and clusters): deselect with -m "not slow".
pytestmark = pytest.mark.slow

BASE = "/console/v1/experiments/qualifying_events"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    database_url = f"sqlite:///{tmp_path / 'e2e.db'}"
    store = open_store(database_url)
    _, secret = KeyService(store).create("e2e")
    store.close()
    args = ("--database-url", database_url, "--warehouse-url", "none", "--log-level", "warning")
    with running_server(tmp_path, *args) as base_url:
        yield base_url, secret


def test_create_read_list_delete_over_http(server):
    base_url, secret = server
    event = {
        "name": "Log Events",
        "description": "",
        "sql": "SELECT user_id, ts FROM events",
        "tags": [],
        "timestampColumn": "ts",
        "idTypeMapping": [{"statsigUnitID": "userID", "column": "user_id"}],
    }
    headers = {"STATSIG-API-KEY": secret, "STATSIG-API-VERSION": "20240601"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=10) as http:
        health = http.get("/-/health").json()
        assert health["status"] == "ok" and health["warehouse"] == "none"

        created = http.post(BASE, json=event)
        assert created.status_code == 201, created.text
        assert created.json()["message"] == "Qualifying event created successfully."

        read = http.get(f"{BASE}/Log%20Events")
        assert read.status_code == 200
        data = read.json()["data"]
        assert {k: data[k] for k in event} == event
        assert data["owner"]["ownerType"] == "SDK_KEY"

        listed = http.get(BASE, params={"limit": "10"}).json()
        assert [item["name"] for item in listed["data"]] == ["Log Events"]
        assert listed["pagination"]["totalItems"] == 1

        assert http.post(BASE, json=event).json()["message"] == "Name is already in use"
        assert http.get(BASE, headers={"STATSIG-API-KEY": "console-x"}).status_code == 401

        deleted = http.delete(f"{BASE}/Log%20Events")
        assert deleted.json() == {"message": "Qualifying event deleted successfully."}
        gone = http.get(f"{BASE}/Log%20Events")
        assert gone.status_code == 404
        assert gone.json()["errors"]
