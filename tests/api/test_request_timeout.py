"""A request that cannot finish is abandoned at the deadline with a 503 in the contract's
shape, instead of hanging the client."""

from __future__ import annotations

import threading

from starlette.testclient import TestClient

from qualevents.api.app import create_app
from qualevents.config import Settings
from qualevents.keys import KeyService
from qualevents.store.sql import SQLStore

BASE = "/console/v1/experiments/qualifying_events"


class StuckStore(SQLStore):
    """Reads of one event block until released (a database that stopped answering)."""

    def __init__(self, engine) -> None:
        super().__init__(engine)
        self.released = threading.Event()

    def get_event(self, name: str, *, fresh: bool = False):
        if name == "stuck":
            self.released.wait(timeout=30)
        return super().get_event(name, fresh=fresh)


def test_a_stuck_request_gets_503_at_the_deadline(database_url, store):
    stuck = StuckStore(store.engine)
    settings = Settings(
        database_url=database_url, warehouse_url="none", request_timeout_s=0.5, _env_file=None
    )
    app = create_app(settings, store=stuck)
    secret = KeyService(store).create("ci")[1]
    try:
        with TestClient(app, headers={"STATSIG-API-KEY": secret}) as http:
            response = http.get(f"{BASE}/stuck")
            assert response.status_code == 503
            body = response.json()
            assert body["status"] == 503
            assert "0.5 s" in body["message"]
            assert body["errors"][0]["errorMessage"].startswith("Request timed out")
            assert http.get(BASE).status_code == 200  # the server still serves
    finally:
        stuck.released.set()
