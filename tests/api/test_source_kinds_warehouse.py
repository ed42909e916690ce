"""The kinds of a qualifying event's shape against a real warehouse (DuckDB): warehouse-aware
validation on create, ``/-/preview`` and ``/-/daily`` under the reserved segment, counted in
the warehouse (assignment sources: ``test_assignment_sources_warehouse.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from starlette.testclient import TestClient

from qualevents.api.app import create_app
from qualevents.config import Settings
from qualevents.keys import KeyService
from qualevents.store.sql import open_store
from qualevents.validation import Validator
from qualevents.warehouse import open_warehouse
from qualevents.warehouse.executor import WarehouseRunner
from tests.api.test_source_kinds import METRIC_SOURCES, QUALIFYING_EVENTS, body


@pytest.fixture
def served(tmp_path: Path) -> Iterator[TestClient]:
    path = tmp_path / "warehouse.duckdb"
    today = date.today()
    with duckdb.connect(str(path)) as conn:
        conn.execute("CREATE TABLE events (user_id VARCHAR, ts TIMESTAMP)")
        conn.execute(
            "INSERT INTO events VALUES ('u1', ?), ('u2', ?), ('u1', ?)",
            [today - timedelta(days=1), today - timedelta(days=1), today - timedelta(days=2)],
        )
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    warehouse = open_warehouse(f"duckdb:///{path}", timeout_s=20)
    runner = WarehouseRunner(threads=2, per_key=2)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'store.db'}",
        warehouse_url=f"duckdb:///{path}",
        _env_file=None,
    )
    app = create_app(
        settings, store=store, warehouse=warehouse, validator=Validator(warehouse, runner=runner)
    )
    secret = KeyService(store).create("full")[1]
    try:
        with TestClient(app, headers={"STATSIG-API-KEY": secret}) as http:
            yield http
    finally:
        runner.close()
        warehouse.close()
        store.close()


@pytest.mark.parametrize(
    "kind", [QUALIFYING_EVENTS, METRIC_SOURCES], ids=["qualifying_event", "metric_source"]
)
def test_warehouse_checks_preview_and_daily(served, kind):
    wrong = served.post(kind.base, json=body(timestampColumn="created_at"))
    assert wrong.status_code == 400
    assert wrong.json()["errors"][0]["property"] == "timestampColumn"
    assert "user_id, ts" in wrong.json()["errors"][0]["errorMessage"]

    assert served.post(kind.base, json=body()).status_code == 201
    preview = served.get(kind.url("Purchases") + "/-/preview")
    assert preview.status_code == 200, preview.text
    assert preview.json()["message"] == f"{kind.label} previewed successfully."
    assert sorted(row["user_id"] for row in preview.json()["data"]) == ["u1", "u1", "u2"]

    today = date.today()
    daily = served.get(
        kind.url("Purchases") + "/-/daily",
        params={"start": str(today - timedelta(days=2)), "end": str(today)},
    )
    assert daily.status_code == 200, daily.text
    counted = {row["date"]: (row["events"], row["units"]) for row in daily.json()["data"]}
    assert counted[str(today - timedelta(days=2))] == (1, {"userID": 1})
    assert counted[str(today - timedelta(days=1))] == (2, {"userID": 2})
    assert served.get(kind.url("Nothing") + "/-/preview").status_code == 404
