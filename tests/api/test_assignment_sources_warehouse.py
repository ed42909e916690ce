"""Assignment sources against a real warehouse (DuckDB holding the demo data): the demo
assignment source ``serve --demo`` creates; warehouse-aware validation of its timestamp,
unit-id, experiment, group and group-name columns (all problems at once); ``/-/preview``;
and the scan, ``/-/experiments``, compared with the same aggregates written by hand in SQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from qualevents.api.app import create_app
from qualevents.config import Settings
from qualevents.keys import KeyService
from qualevents.runtime import ensure_demo_sources
from qualevents.store.sql import open_store
from qualevents.validation import Validator
from qualevents.warehouse import open_warehouse
from qualevents.warehouse.base import Warehouse
from qualevents.warehouse.demo import ASSIGNMENT_SOURCE_BODY, load_demo
from qualevents.warehouse.executor import WarehouseRunner
from tests.api.test_source_kinds import ASSIGNMENT_SOURCES

NOW = datetime(2024, 6, 30, 15, 30)
EXPOSURES = '"shoppy-sales".experiment_data.exposures'
DEMO = ASSIGNMENT_SOURCES.url(str(ASSIGNMENT_SOURCE_BODY["name"]))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Warehouse]]:
    tmp_path: Path = tmp_path_factory.mktemp("assignment")
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    warehouse = open_warehouse(f"duckdb:///{tmp_path / 'demo.duckdb'}", timeout_s=60)
    assert warehouse is not None
    load_demo(warehouse, events=12_000, exposures=20_000, now=NOW)
    runner = WarehouseRunner(threads=2, per_key=2)
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'store.db'}", _env_file=None)
    app = create_app(
        settings, store=store, warehouse=warehouse, validator=Validator(warehouse, runner=runner)
    )
    assert f"assignment_source/{ASSIGNMENT_SOURCE_BODY['name']}" in ensure_demo_sources(store)
    secret = KeyService(store).create("full")[1]
    try:
        with TestClient(app, headers={"STATSIG-API-KEY": secret}) as http:
            yield http, warehouse
    finally:
        runner.close()
        warehouse.close()
        store.close()


def by_hand(warehouse: Warehouse, where: str = "TRUE") -> list[dict[str, Any]]:
    """The scan's output for the demo source, each aggregate written out in plain SQL."""
    rows = f"""
        SELECT experiment_name AS x, group_id AS g, group_name AS n, user_id AS u, ts
        FROM {EXPOSURES}
        WHERE experiment_name IS NOT NULL AND group_id IS NOT NULL AND {where}"""
    groups = warehouse.query(
        f"SELECT x, g, n, COUNT(DISTINCT u) AS units FROM ({rows}) GROUP BY x, g, n ORDER BY x, g"
    )
    experiments = warehouse.query(
        f"SELECT x, COUNT(DISTINCT u) AS units, MIN(ts) AS first, MAX(ts) AS last "
        f"FROM ({rows}) GROUP BY x ORDER BY x"
    )
    crossovers = {
        row["x"]: row["n"]
        for row in warehouse.query(
            f"SELECT x, COUNT(*) AS n FROM (SELECT x, u FROM ({rows}) WHERE u IS NOT NULL "
            "GROUP BY x, u HAVING COUNT(DISTINCT g) > 1) GROUP BY x"
        )
    }
    return [
        {
            "experimentID": e["x"],
            "groups": [
                {"groupID": g["g"], "groupName": g["n"], "units": g["units"]}
                for g in groups
                if g["x"] == e["x"]
            ],
            "units": e["units"],
            "crossoverUnits": crossovers.get(e["x"], 0),
            "firstExposure": e["first"].isoformat(),
            "lastExposure": e["last"].isoformat(),
            "unitTypes": {"userID": e["units"]},
        }
        for e in experiments
    ]


def test_the_scan_matches_hand_written_sql(demo):
    http, warehouse = demo
    scanned = http.get(DEMO + "/-/experiments")
    assert scanned.status_code == 200, scanned.text
    assert scanned.json()["message"] == "Assignment source scanned successfully."
    expected = by_hand(warehouse)
    assert len(expected) >= 3
    assert scanned.json()["data"] == expected

    start, end = date(2024, 6, 10), date(2024, 6, 20)
    window = http.get(DEMO + "/-/experiments", params={"start": str(start), "end": str(end)})
    assert window.status_code == 200, window.text
    after = end + timedelta(days=1)
    assert window.json()["data"] == by_hand(
        warehouse, f"ts >= TIMESTAMP '{start}' AND ts < TIMESTAMP '{after}'"
    )


def test_scan_parameters_are_checked(demo):
    http, _ = demo
    assert http.get(DEMO + "/-/experiments", params={"unitType": "userID"}).status_code == 200
    unknown = http.get(DEMO + "/-/experiments", params={"unitType": "stableID"})
    assert unknown.status_code == 400
    assert "userID" in unknown.json()["errors"][0]["errorMessage"]
    backwards = http.get(
        DEMO + "/-/experiments", params={"start": "2024-06-20", "end": "2024-06-01"}
    )
    assert backwards.status_code == 400
    missing = http.get(ASSIGNMENT_SOURCES.url("nothing") + "/-/experiments")
    assert missing.status_code == 404


def test_columns_are_checked_against_the_warehouse_all_at_once(demo):
    http, _ = demo
    wrong = {
        **ASSIGNMENT_SOURCE_BODY,
        "name": "wrong",
        "experimentIDColumn": "experiment",
        "groupIDColumn": "group",
        "groupNameColumn": "name",
    }
    refused = http.post(ASSIGNMENT_SOURCES.create, json=wrong)
    assert refused.status_code == 400
    errors = {item["property"]: item["errorMessage"] for item in refused.json()["errors"]}
    assert set(errors) == {"experimentIDColumn", "groupIDColumn", "groupNameColumn"}
    assert (
        "experimentIDColumn 'experiment' is not among the query's columns"
        in (errors["experimentIDColumn"])
    )
    assert "experiment_name" in errors["experimentIDColumn"]  # the columns there are
    dry = http.post(ASSIGNMENT_SOURCES.create, json={**ASSIGNMENT_SOURCE_BODY, "dryRun": True})
    assert dry.status_code == 400  # the demo source exists: its name is taken
    fine = {**ASSIGNMENT_SOURCE_BODY, "name": "fine", "dryRun": True}
    checked = http.post(ASSIGNMENT_SOURCES.create, json=fine)
    assert checked.status_code == 200, checked.text
    assert checked.json()["validation"]["mode"] == "warehouse"


def test_preview_shows_the_exposure_columns(demo):
    http, _ = demo
    preview = http.get(DEMO + "/-/preview", params={"days": 3650, "limit": 5})
    assert preview.status_code == 200, preview.text
    assert preview.json()["message"] == "Assignment source previewed successfully."
    rows = preview.json()["data"]
    assert len(rows) == 5
    assert set(rows[0]) == {"user_id", "ts", "experiment_name", "group_id", "group_name"}
    assert http.get(DEMO + "/-/daily").status_code == 404  # no daily counts for this kind
