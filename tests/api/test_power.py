"""``POST .../qualifying_events/{name}/-/power`` (issue 13) as a job, on SQLite and PostgreSQL
stores with real DuckDB and PostgreSQL warehouses holding ``tests/analysis/fixtures/power.sql``
(end 2024-03-28; its comments give each unit's weeks): 200 within ``wait``, 202 and polling,
the PNG on the POST and on the job, stored results with the sources' revisions, the
event's analyses, and the 400s and 404s a user meets."""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import psycopg
import pytest
import sqlalchemy as sa
from matplotlib import image
from starlette.testclient import TestClient

from qualevents.warehouse.duckdb import DuckDBWarehouse
from qualevents.warehouse.postgres import PostgresWarehouse
from tests.analysis.conftest import fixture_sql
from tests.api.analysis_app import EVENTS, JOBS, analysis_client, duckdb_warehouse
from tests.conftest import POSTGRES_URL

POWER = EVENTS + "/{}/-/power"
METRICS = "/console/v1/metrics/metric_source"
USER_ID = [{"statsigUnitID": "userID", "column": "uid"}]
SUM = {"type": "sum", "valueColumn": "amount"}
# Per unit in window 3 (p1, p2, p3, p4, p6): the amount from each one's first session on.
SUM_3 = [30.0, 8.0, 4.0, 8.0, 0.0]
BODY = {"metricSource": "orders", "metric": SUM, "weeks": 3, "end": "2024-03-28"}
# Big enough that its power analysis is still running when ``wait`` is 0: many rows, not
# a sleep.
BIG_ROWS = 2_000_000
PATIENCE_S = 120.0


def load_big_orders(warehouse: DuckDBWarehouse) -> None:
    with warehouse.writable() as connection:
        connection.execute("CREATE SCHEMA IF NOT EXISTS bigpower")
        connection.execute(
            "CREATE TABLE bigpower.orders AS SELECT TIMESTAMP '2024-03-01' + "
            "INTERVAL (i % 2419200) SECOND AS ts, 'p' || (i % 20000) AS uid, "
            f"(i % 97)::DOUBLE AS amount FROM range({BIG_ROWS}) t(i)"
        )


@pytest.fixture(scope="module")
def duckdb_power() -> Iterator[DuckDBWarehouse]:
    opened = duckdb_warehouse()
    load_big_orders(opened)
    yield opened
    opened.close()


def add_power_sources(http: TestClient, big: bool = False) -> None:
    sources: list[tuple[str, str, str, dict[str, Any]]] = [
        (EVENTS, "sessions", "SELECT * FROM analysis.sessions", {}),
        (
            METRICS,
            "orders",
            "SELECT * FROM analysis.orders",
            {"customFieldMapping": [{"key": "cents", "formula": "amount * 100"}]},
        ),
    ]
    if big:
        sources.append((METRICS, "big_orders", "SELECT * FROM bigpower.orders", {}))
        sources.append((EVENTS, "big_sessions", "SELECT * FROM bigpower.orders", {}))
    for path, name, sql, extra in sources:
        body = {"name": name, "sql": sql, "timestampColumn": "ts", "idTypeMapping": USER_ID}
        created = http.post(path, json={**body, **extra})
        assert created.status_code == 201, created.text


@pytest.fixture
def http(store, duckdb_power) -> Iterator[TestClient]:
    with analysis_client(store, duckdb_power) as client:
        add_power_sources(client, big=True)
        yield client


def until_done(http: TestClient, job_id: str) -> dict[str, Any]:
    """Poll the job until it finished (a bound, not a timing: it fails only past it)."""
    deadline = time.monotonic() + PATIENCE_S
    while time.monotonic() < deadline:
        job = http.get(f"{JOBS}/{job_id}").json()["data"]
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


def check_sum(data: dict[str, Any]) -> None:
    assert [d["units"] for d in data["durations"]] == [3, 4, 5]
    third = data["durations"][2]
    assert third["mean"] == pytest.approx(np.mean(SUM_3))
    assert third["variance"] == pytest.approx(np.var(SUM_3, ddof=1))


def decoded(png: bytes) -> np.ndarray:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    return image.imread(io.BytesIO(png), format="png")


def test_done_within_wait_answers_200_and_the_job_keeps_it(http):
    response = http.post(POWER.format("sessions"), json={**BODY, "cuped": {"preDays": 7}})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["message"] == "Power analysis computed successfully."
    check_sum(body["data"])
    assert body["data"]["durations"][2]["rho"] is not None
    assert body["data"]["inputs"]["qualifyingEvent"] == "sessions"
    job = body["job"]
    assert (job["status"], job["analysis"], job["name"]) == ("succeeded", "power", "sessions")
    assert job["sources"] == [
        {"kind": "qualifying_event", "name": "sessions", "revision": 1},
        {"kind": "metric_source", "name": "orders", "revision": 1},
    ]
    assert job["request"]["metricSource"] == "orders" and "wait" not in job["request"]
    assert response.headers["location"] == job["location"]
    stored = http.get(job["location"]).json()["data"]
    assert stored["result"] == body["data"]
    assert stored["compiledSql"] == body["data"]["compiledSql"]
    listed = http.get(EVENTS + "/sessions/-/analyses", params={"analysis": "power"}).json()
    assert [j["id"] for j in listed["data"]] == [job["id"]]


def test_a_png_on_the_post_and_on_the_job(http):
    accept = {"Accept": "image/png"}
    response = http.post(POWER.format("sessions"), json=BODY, headers=accept)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert decoded(response.content).shape[0] > 100
    location = response.headers["location"]
    again = http.get(location, headers=accept)
    assert again.headers["content-type"] == "image/png"
    assert decoded(again.content).shape == decoded(response.content).shape
    # JSON when JSON is preferred, and for a job that has no picture (a failed one)
    json_first = {"Accept": "application/json, image/png;q=0.5"}
    assert http.get(location, headers=json_first).json()["data"]["status"] == "succeeded"
    failed = http.post(
        POWER.format("sessions"),
        json={**BODY, "metric": {"type": "sum", "valueColumn": "price"}},
        headers=accept,
    )
    assert failed.status_code == 400
    assert failed.headers["content-type"] == "application/json"
    assert failed.json()["errors"][0]["property"] == "metric.valueColumn"


def test_a_job_that_outlives_wait_is_polled_then_drawn(http):
    body = {
        "metricSource": "big_orders",
        "metric": SUM,
        "weeks": 4,
        "end": "2024-03-28",
        "cuped": {"preDays": 7},
        "wait": 0,
    }
    response = http.post(POWER.format("big_sessions"), json=body)
    assert response.status_code == 202, response.text
    job = response.json()["job"]
    assert job["status"] in ("queued", "running")
    assert response.headers["location"] == job["location"]
    done = until_done(http, job["id"])
    assert done["status"] == "succeeded", done["error"]
    assert [d["units"] for d in done["result"]["durations"]][-1] == 20_000
    png = http.get(job["location"], headers={"Accept": "image/png"})
    assert png.headers["content-type"] == "image/png"
    decoded(png.content)


@pytest.mark.parametrize(
    ("body", "status", "prop"),
    [
        (
            {"cuped": {"preDays": 7}, "metric": {"type": "mean", "valueColumn": "amount"}},
            400,
            "cuped",
        ),
        ({"weeks": 13}, 400, "weeks"),
        ({"metric": {"type": "sum"}}, 400, "metric.valueColumn"),
        ({"metric": {"type": "count", "valueColumn": "amount"}}, 400, "metric.valueColumn"),
        ({"alternative": "less"}, 400, "alternative"),
        ({"controlShare": 1.5}, 400, "controlShare"),
        ({"unitType": "deviceID"}, 400, "unitType"),
        ({"metricSource": "nope"}, 404, "metricSource"),
        ({"metricFilter": "amount > (SELECT 1)"}, 400, "metricFilter"),
        ({"eventFilter": "no_such_column = 1"}, 400, "eventFilter"),
    ],
    ids=lambda value: str(value) if not isinstance(value, dict) else None,
)
def test_what_a_user_gets_wrong(http, body, status, prop):
    response = http.post(POWER.format("sessions"), json={**BODY, **body})
    assert response.status_code == status, response.text
    errors = response.json()["errors"]
    assert errors and errors[0]["property"] == prop, errors


def test_an_unknown_event_is_a_404(http):
    response = http.post(POWER.format("nope"), json=BODY)
    assert response.status_code == 404
    assert "nope" in response.json()["message"]


def test_the_openapi_document_describes_the_operation(http):
    document = http.get("/openapi.json").json()
    operation = document["paths"][POWER.format("{name}")]["post"]
    assert "image/png" in operation["responses"]["200"]["content"]
    assert "application/json" in operation["responses"]["200"]["content"]
    assert "202" in operation["responses"]
    assert "404" in operation["responses"]


@pytest.fixture(scope="module")
def postgres_power() -> Iterator[str]:
    """A database of its own holding the fixtures, read through a role that may only SELECT
    them (the warehouse adapter refuses a superuser), whose session zone is not UTC."""
    if not POSTGRES_URL:
        pytest.skip("QUALEVENTS_TEST_POSTGRES_URL is not set")
    admin = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://", 1)
    suffix = uuid.uuid4().hex[:10]
    database, role = f"qualevents_power_{suffix}", f"qualevents_power_{suffix}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
        conn.execute(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE')
        conn.execute(f"ALTER ROLE \"{role}\" SET timezone = 'Asia/Tokyo'")
    own = admin.rsplit("/", 1)[0] + f"/{database}"
    with psycopg.connect(own, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA analysis")
        conn.execute(fixture_sql())
        conn.execute(f'GRANT USAGE ON SCHEMA analysis TO "{role}"')
        conn.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA analysis TO "{role}"')
    reader = sa.engine.make_url(own).set(drivername="postgresql", username=role, password=None)
    yield reader.render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        conn.execute(f'DROP ROLE IF EXISTS "{role}"')


def test_a_postgresql_warehouse(store, postgres_power):
    warehouse = PostgresWarehouse(postgres_power)
    try:
        with analysis_client(store, warehouse) as http:
            add_power_sources(http)
            response = http.post(POWER.format("sessions"), json={**BODY, "cuped": {"preDays": 7}})
            assert response.status_code == 200, response.text
            check_sum(response.json()["data"])
            cents = {**BODY, "metric": {"type": "sum", "valueColumn": "cents"}}
            third = http.post(POWER.format("sessions"), json=cents).json()["data"]["durations"][2]
            assert third["mean"] == pytest.approx(100 * np.mean(SUM_3))
    finally:
        warehouse.close()
