"""Two ``qualevents serve`` processes on one PostgreSQL, creating one name in one kind at
once (metric sources, assignment sources): exactly one wins, and the same name stays free
in the other kind."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from qualevents.keys import KeyService
from qualevents.store import open_store
from tests.api.test_source_kinds import (
    ASSIGNMENT_SOURCES,
    METRIC_SOURCES,
    QUALIFYING_EVENTS,
    KindCase,
    body,
)
from tests.serving import running_server

# Starts real servers: deselect with -m "not slow".
pytestmark = pytest.mark.slow


@pytest.mark.parametrize("kind", [METRIC_SOURCES, ASSIGNMENT_SOURCES], ids=lambda k: k.kind)
def test_two_processes_creating_one_name_one_wins(
    postgres_database_url: str, tmp_path: Path, kind: KindCase
) -> None:
    store = open_store(postgres_database_url)
    secret = KeyService(store).create("e2e")[1]
    store.close()
    args = ("--database-url", postgres_database_url, "--warehouse-url", "none")
    with ExitStack() as stack:
        urls = [stack.enter_context(running_server(tmp_path, *args)) for _ in range(2)]
        clients = [
            stack.enter_context(
                httpx.Client(base_url=url, headers={"STATSIG-API-KEY": secret}, timeout=20)
            )
            for url in urls
        ]
        for round_number in range(3):
            # unique in the session: the slow e2e tests share one database
            name = f"Kinds race {kind.kind} {round_number}"

            def create(index: int, name: str = name) -> int:
                return clients[index % 2].post(kind.create, json=kind.body(name)).status_code

            with ThreadPoolExecutor(max_workers=8) as pool:
                statuses = list(pool.map(create, range(8)))
            assert statuses.count(201) == 1, statuses
            assert statuses.count(400) == 7, statuses
            assert clients[1].post(QUALIFYING_EVENTS.base, json=body(name)).status_code == 201
        listed = clients[0].get(kind.listing).json()
        assert [s["name"] for s in listed["data"]] == [
            f"Kinds race {kind.kind} {n}" for n in range(3)
        ]
        history = clients[1].get(kind.url(f"Kinds race {kind.kind} 0") + "/-/revisions")
        history = history.json()["data"]
        assert [r["action"] for r in history] == ["create"]
