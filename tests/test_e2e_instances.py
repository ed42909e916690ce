"""Several ``qualevents serve`` processes on one PostgreSQL behave as one service: a write
through one is read through the other, and concurrent creates of one name through both
produce exactly one 201 (no lost or duplicated writes)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from qualevents.keys import KeyService
from qualevents.store import open_store
from tests.serving import running_server

# Starts real servers (and clusters): deselect with -m "not slow".
pytestmark = pytest.mark.slow

BASE = "/console/v1/experiments/qualifying_events"


def event(name: str, **fields: object) -> dict[str, object]:
    return {
        "name": name,
        "sql": "SELECT user_id, ts FROM events",
        "timestampColumn": "ts",
        "idTypeMapping": [{"statsigUnitID": "userID", "column": "user_id"}],
        **fields,
    }


def test_two_instances_on_one_postgresql_are_one_service(
    postgres_database_url: str, tmp_path: Path
) -> None:
    store = open_store(postgres_database_url)
    secret = KeyService(store).create("e2e")[1]
    store.close()
    args = ("--database-url", postgres_database_url, "--warehouse-url", "none")
    headers = {"STATSIG-API-KEY": secret}
    with ExitStack() as stack:
        urls = [stack.enter_context(running_server(tmp_path, *args)) for _ in range(2)]
        clients = [
            stack.enter_context(httpx.Client(base_url=url, headers=headers, timeout=20))
            for url in urls
        ]
        first, second = clients

        assert first.post(BASE, json=event("Shared")).status_code == 201
        assert second.get(f"{BASE}/Shared").json()["data"]["name"] == "Shared"
        assert second.patch(f"{BASE}/Shared", json={"tags": ["b"]}).status_code == 200
        assert first.get(f"{BASE}/Shared").json()["data"]["tags"] == ["b"]

        for round_number in range(5):
            name = f"Race {round_number}"

            def create(index: int, name: str = name) -> int:
                return clients[index % 2].post(BASE, json=event(name)).status_code

            with ThreadPoolExecutor(max_workers=8) as pool:
                statuses = list(pool.map(create, range(8)))
            assert statuses.count(201) == 1, statuses
            assert statuses.count(400) == 7, statuses

        listed = first.get(BASE).json()
        assert listed["pagination"]["totalItems"] == 6
        history = second.get(f"{BASE}/Race%200/-/revisions").json()["data"]
        assert [r["action"] for r in history] == ["create"]
