"""``POST .../qualifying_events/{name}/-/filter_exposures`` (issue 12) through the API: the
result equals the analysis core's on real DuckDB and PostgreSQL warehouses, every bad
request is a 4xx in the contract's shape (before the job, or as the job's stored error), and
the demo data shows each verdict."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from starlette.testclient import TestClient

from qualevents.analysis import FilterExposuresRequest, run_filter_exposures
from qualevents.api.app import create_app
from qualevents.config import Settings
from qualevents.keys import KeyService
from qualevents.runtime import ensure_demo_sources
from qualevents.validation import Validator
from qualevents.warehouse.demo import load_demo
from qualevents.warehouse.duckdb import DuckDBWarehouse
from qualevents.warehouse.executor import WarehouseRunner
from qualevents.warehouse.postgres import PostgresWarehouse
from tests.api.analysis_app import (
    EVENTS,
    JOBS,
    add_assignment_source,
    add_sources,
    analysis_client,
    assignment_body,
    duckdb_warehouse,
)
from tests.api.test_error_shape import assert_error_shape

FILTER = EVENTS + "/{}/-/filter_exposures"
TIMING = {
    "assignmentSource": "assignments",
    "experimentID": "timing",
    "start": "2024-01-01",
    "end": "2024-01-01",
    # The most a POST waits: these expect the result, even on a busy machine.
    "wait": 60,
}


@pytest.fixture(scope="module")
def duck() -> Iterator[DuckDBWarehouse]:
    opened = duckdb_warehouse()
    yield opened
    opened.close()


@pytest.fixture
def http(store, duck) -> Iterator[TestClient]:
    with analysis_client(store, duck) as client:
        add_sources(client)
        yield client


def _direct(warehouse, client: TestClient, event: str, body: dict) -> dict:
    """The analysis core's answer for ``body`` (with the API's stored definitions)."""
    context = client.app.state.context  # type: ignore[attr-defined]
    stored = context.events.get(event).event
    assignment = context.assignment_sources.get(body["assignmentSource"]).event
    request = FilterExposuresRequest.parse(body)
    return run_filter_exposures(warehouse, stored, assignment, request)


def _without_sql(data: dict) -> dict:
    """The result less its compiled SQL, which holds the moment it was made (the end of the
    qualifying range without a window is "now")."""
    return {key: value for key, value in data.items() if key != "compiledSql"}


CASES = [
    {},
    {"mode": "exclude"},
    {"window": {"amount": 1, "unit": "hours"}, "replaceExposureTimestamp": True},
    {"matchAgainst": "anyExposure", "window": {"amount": 90, "unit": "minutes"}},
    {"eventFilter": "kind = 'buy' AND amount < 10", "expectedSplit": {"control": 1, "test": 2}},
]


@pytest.mark.parametrize("case", CASES, ids=["default", "exclude", "replace", "any", "filter"])
def test_the_endpoint_answers_what_the_core_computes_on_duckdb(http, duck, case):
    body = {**TIMING, **case}
    response = http.post(FILTER.format("clicks"), json=body)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert _without_sql(data) == _without_sql(_direct(duck, http, "clicks", body))
    # the compiled SQL runs in the warehouse and keeps exactly the kept units
    assert len(duck.query(data["compiledSql"])) == data["totals"]["keptUnits"]


def test_exclude_keeps_exactly_the_units_include_leaves_out(http, duck):
    include = http.post(FILTER.format("clicks"), json=TIMING).json()["data"]
    exclude = http.post(FILTER.format("clicks"), json={**TIMING, "mode": "exclude"}).json()["data"]
    kept = {row["unit_id"] for row in duck.query(include["compiledSql"])}
    left = {row["unit_id"] for row in duck.query(exclude["compiledSql"])}
    assert not kept & left
    assert len(kept | left) == include["totals"]["exposedUnits"]
    for a, b in zip(include["groups"], exclude["groups"], strict=True):
        assert a["qualifiedUnits"] == b["qualifiedUnits"]
        assert a["keptUnits"] + b["keptUnits"] == a["exposedUnits"]


@pytest.fixture
def postgres_client(store, postgres_analysis) -> Iterator[TestClient]:
    warehouse = PostgresWarehouse(postgres_analysis)
    try:
        with analysis_client(store, warehouse) as client:
            for name, sql, extra in (
                ("clicks", "SELECT * FROM analysis.clicks", {}),
                ("visits", "SELECT * FROM analysis.visits", {"timestampAsDay": True}),
            ):
                created = client.post(
                    EVENTS,
                    json={
                        "name": name,
                        "sql": sql,
                        "timestampColumn": "day" if name == "visits" else "ts",
                        "idTypeMapping": [{"statsigUnitID": "userID", "column": "uid"}],
                        **extra,
                    },
                )
                assert created.status_code == 201, created.text
            add_assignment_source(
                client,
                assignment_body(
                    "assignments",
                    "SELECT * FROM analysis.exposures",
                    groupNameColumn="group_name",
                ),
            )
            client.warehouse = warehouse  # type: ignore[attr-defined]
            yield client
    finally:
        warehouse.close()


@pytest.mark.parametrize("case", CASES, ids=["default", "exclude", "replace", "any", "filter"])
def test_the_endpoint_on_a_postgresql_warehouse(postgres_client, case):
    body = {**TIMING, **case}
    response = postgres_client.post(FILTER.format("clicks"), json=body)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    direct = _direct(postgres_client.warehouse, postgres_client, "clicks", body)
    assert _without_sql(data) == _without_sql(direct)
    rows = postgres_client.warehouse.query(data["compiledSql"])
    assert len(rows) == data["totals"]["keptUnits"]


def test_timestamp_as_day_through_the_endpoint(http):
    body = {**TIMING, "experimentID": "days", "start": "2024-01-10", "end": "2024-01-10"}
    one_day = http.post(
        FILTER.format("visits"), json={**body, "window": {"amount": 1, "unit": "days"}}
    )
    assert one_day.status_code == 200, one_day.text
    qualified = {g["groupID"]: g["qualifiedUnits"] for g in one_day.json()["data"]["groups"]}
    # d1 the same day, d3 after midnight (within a day); d2 the day before, d4 two days on
    assert qualified == {"control": 1, "test": 1}


ERRORS = [
    # (event, body changes, status, property)
    ("nothing", {}, 404, "name"),
    ("clicks", {"assignmentSource": "nope"}, 404, "assignmentSource"),
    ("clicks", {"unitType": "stableID"}, 400, "unitType"),
    (
        "clicks",
        {"mode": "exclude", "replaceExposureTimestamp": True},
        400,
        "replaceExposureTimestamp",
    ),
    ("clicks", {"wait": 61}, 400, "wait"),
    ("clicks", {"wait": -1}, 400, "wait"),
    ("clicks", {"experimentID": None}, 400, "experimentID"),
    ("clicks", {"surprise": 1}, 400, "surprise"),
    ("clicks", {"start": "2024-01-02", "end": "2024-01-01"}, 400, "start"),
    ("clicks", {"window": {"amount": 0, "unit": "hours"}}, 400, "window.amount"),
    ("clicks", {"window": {"amount": 1, "unit": "weeks"}}, 400, "window.unit"),
    ("visits", {"window": {"amount": 3, "unit": "hours"}}, 400, "window.unit"),
    ("clicks", {"matchAgainst": "lastExposure"}, 400, "matchAgainst"),
    ("clicks", {"expectedSplit": {}}, 400, "expectedSplit"),
    ("clicks", {"expectedSplit": {"control": -1}}, 400, "expectedSplit.control"),
]


@pytest.mark.parametrize(
    ("event", "changes", "status", "prop"), ERRORS, ids=[f"{e[0]}-{e[3]}" for e in ERRORS]
)
def test_bad_requests_are_answered_before_any_job(http, event, changes, status, prop):
    body = {k: v for k, v in {**TIMING, **changes}.items() if v is not None}
    response = http.post(FILTER.format(event), json=body)
    assert response.status_code == status, response.text
    assert_error_shape(response, status)
    assert prop in [item["property"] for item in response.json()["errors"]], response.text
    assert "Location" not in response.headers  # no job was started
    assert http.get(EVENTS + "/clicks/-/analyses").json()["data"] == []


WAREHOUSE_ERRORS = [
    # found by the warehouse, inside the job: the job fails with the error
    ({"eventFilter": "missing_column = 1"}, 400, "eventFilter"),
    ({"eventFilter": "amount > 1; DROP TABLE analysis.clicks"}, 400, "eventFilter"),
    ({"expectedSplit": {"control": 1}}, 400, "expectedSplit"),
    ({"experimentID": "none-such"}, 200, None),
]


@pytest.mark.parametrize(("changes", "status", "prop"), WAREHOUSE_ERRORS)
def test_problems_found_in_the_warehouse_fail_the_job_with_the_error(http, changes, status, prop):
    response = http.post(FILTER.format("clicks"), json={**TIMING, **changes})
    assert response.status_code == status, response.text
    job_id = response.headers["Location"].rsplit("/", 1)[1]
    job = http.get(f"{JOBS}/{job_id}").json()["data"]
    if status == 200:
        assert job["status"] == "succeeded"
        assert response.json()["data"]["totals"]["exposedUnits"] == 0
        return
    assert_error_shape(response, status)
    assert prop in [item["property"] for item in response.json()["errors"]]
    assert job["status"] == "failed" and job["error"] == response.json()


def test_a_server_without_a_warehouse_says_so(store):
    settings = Settings(database_url="sqlite://", warehouse_url="none", _env_file=None)
    secret = KeyService(store).create("k")[1]
    with TestClient(create_app(settings, store=store), headers={"STATSIG-API-KEY": secret}) as h:
        response = h.post(FILTER.format("clicks"), json=TIMING)
        assert response.status_code == 502
        assert "No warehouse is configured" in response.json()["message"]
        assert (
            h.post(
                FILTER.format("clicks"), content=b"x=1", headers={"Content-Type": "text/plain"}
            ).status_code
            == 415
        )


# -- the demo data shows each verdict ------------------------------------------------------

DEMO_NOW = datetime(2024, 6, 30, 15, 30, 0)


@pytest.fixture(scope="module")
def demo_warehouse() -> Iterator[DuckDBWarehouse]:
    warehouse = DuckDBWarehouse(":memory:", timeout_s=60)
    load_demo(warehouse, events=120_000, exposures=150_000, now=DEMO_NOW)
    yield warehouse
    warehouse.close()


@pytest.fixture
def demo_client(store, demo_warehouse) -> Iterator[TestClient]:
    ensure_demo_sources(store)
    runner = WarehouseRunner(threads=2)
    settings = Settings(database_url="sqlite://", warehouse_url="none", _env_file=None)
    app = create_app(
        settings,
        store=store,
        warehouse=demo_warehouse,
        validator=Validator(demo_warehouse, runner=runner),
    )
    secret = KeyService(store).create("demo")[1]
    try:
        with TestClient(app, headers={"STATSIG-API-KEY": secret}) as client:
            yield client
    finally:
        runner.close()


@pytest.mark.parametrize(
    ("experiment", "before", "balance"),
    [
        ("one_click_checkout", "ok", "ok"),
        ("recommendations_v2", "alert", "ok"),
        ("free_shipping_banner", "ok", "alert"),
    ],
)
def test_the_demo_shows_each_verdict(demo_client, experiment, before, balance):
    response = demo_client.post(
        FILTER.format("added_to_cart"),
        json={"assignmentSource": "shoppy_exposures", "experimentID": experiment, "wait": 60},
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["srm"]["before"]["verdict"] == before
    assert data["qualificationBalance"]["verdict"] == balance
    assert data["totals"]["crossoverUnits"] > 0 and data["totals"]["nullUnitIDRows"] >= 0
    assert {g["groupName"] for g in data["groups"]} >= {"Control"}


HOSTILE_FILTERS = [
    "read_csv_auto('/etc/passwd') IS NOT NULL",  # a server file
    "getenv('HOME') = 'x'",  # the server's environment
    "amount > 1) OR (1 = 1",  # breaking out of the parentheses around the filter
    "amount > 1; SET memory_limit = '1TB'",  # changing the session
]


@pytest.mark.parametrize("event_filter", HOSTILE_FILTERS)
def test_a_hostile_event_filter_is_a_400_that_reads_nothing(http, event_filter):
    response = http.post(FILTER.format("clicks"), json={**TIMING, "eventFilter": event_filter})
    assert response.status_code == 400, response.text
    assert_error_shape(response, 400)
    assert "eventFilter" in [item["property"] for item in response.json()["errors"]]
    assert "root:" not in response.text and "/root" not in response.text
    # the fixtures are still there and still answer the same
    again = http.post(FILTER.format("clicks"), json=TIMING)
    assert again.status_code == 200, again.text
