"""Analyses as jobs (issue 12), on SQLite and PostgreSQL stores with a real DuckDB
warehouse: 200 within ``wait``, 202 and polling, cancelling (the warehouse query stops, also
when the cancel reaches another instance), a job whose server stopped marked failed, the
per-key warehouse limit, the analysis timeout, read-only keys, and the event's analyses."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from starlette.testclient import TestClient

from qualevents.store.base import Job
from qualevents.warehouse.duckdb import DuckDBWarehouse
from tests.api.analysis_app import (
    EVENTS,
    JOBS,
    add_sources,
    analysis_client,
    duckdb_warehouse,
    slow_body,
)

FILTER = EVENTS + "/{}/-/filter_exposures"
TIMING = {
    "assignmentSource": "assignments",
    "experimentID": "timing",
    "start": "2024-01-01",
    "end": "2024-01-01",
}
# Long enough for any machine to get there; the tests never wait this long when they pass.
PATIENCE_S = 120.0


@pytest.fixture(scope="module")
def warehouse() -> Iterator[DuckDBWarehouse]:
    opened = duckdb_warehouse()
    yield opened
    opened.close()


@pytest.fixture
def http(store, warehouse) -> Iterator[TestClient]:
    with analysis_client(store, warehouse) as client:
        add_sources(client)
        yield client


def until(condition: Callable[[], object], what: str) -> object:
    """Poll ``condition`` until it holds (a bound, not a timing: it fails only past it)."""
    deadline = time.monotonic() + PATIENCE_S
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"Gave up waiting for {what}")


def runner_of(http: TestClient):
    return http.app.state.context.validator.runner  # type: ignore[attr-defined]


def job_of(http: TestClient, job_id: str) -> dict:
    response = http.get(f"{JOBS}/{job_id}")
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_done_within_wait_answers_200_with_the_result_and_the_job(http):
    response = http.post(FILTER.format("clicks"), json=TIMING)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["message"] == "Exposures filtered successfully."
    assert body["data"]["totals"]["exposedUnits"] == 6
    assert body["data"]["compiledSql"].lstrip().upper().startswith(("WITH", "SELECT"))
    job = body["job"]
    assert job["status"] == "succeeded" and job["analysis"] == "filter_exposures"
    assert job["name"] == "clicks" and job["kind"] == "qualifying_event"
    assert response.headers["Location"] == f"{JOBS}/{job['id']}" == job["location"]
    assert job["request"]["experimentID"] == "timing" and job["request"]["mode"] == "include"
    assert "wait" not in job["request"]
    assert job["sources"] == [
        {"kind": "qualifying_event", "name": "clicks", "revision": 1},
        {"kind": "assignment_source", "name": "assignments", "revision": 1},
    ]
    assert job["compiledSql"] == body["data"]["compiledSql"]
    assert job["createdByKeyID"] and job["createdBy"] == "analyst"
    assert set(job["timings"]) == {"queuedMs", "runMs"}
    # the stored job answers any later poll with the same result
    stored = job_of(http, job["id"])
    assert stored["status"] == "succeeded" and stored["result"] == body["data"]
    assert stored["error"] is None and stored["finishedAt"].endswith("Z")


def test_a_job_that_outlives_wait_answers_202_and_is_polled_to_its_result(http):
    response = http.post(FILTER.format("medium_clicks"), json=slow_body("medium", wait=0))
    assert response.status_code == 202, response.text
    job = response.json()["job"]
    assert response.json()["message"].startswith("The analysis is still running")
    assert response.headers["Location"] == f"{JOBS}/{job['id']}"
    assert response.headers["Retry-After"] == "1"
    assert job["status"] in ("queued", "running") and job["result"] is None
    done = until(
        lambda: (found := job_of(http, job["id"]))["status"] == "succeeded" and found,
        "the job to succeed",
    )
    assert done["result"]["totals"]["exposedUnits"] == 10
    assert done["result"]["totals"]["qualifiedUnits"] == 10
    assert done["startedAt"] and done["finishedAt"]


def test_cancel_stops_the_job_and_its_warehouse_query(http):
    response = http.post(FILTER.format("slow_clicks"), json=slow_body(wait=0))
    assert response.status_code == 202, response.text
    job_id = response.json()["job"]["id"]
    runner = runner_of(http)
    until(lambda: job_of(http, job_id)["status"] == "running", "the job to run")
    assert runner.in_flight() == 1
    cancelled = http.post(f"{JOBS}/{job_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["data"]["status"] == "cancelled"
    # The warehouse thread is free again long before the query could have finished: the
    # query was interrupted, not left running.
    until(lambda: runner.in_flight() == 0, "the warehouse query to stop")
    job = job_of(http, job_id)
    assert job["status"] == "cancelled" and job["result"] is None
    assert job["error"]["status"] == 409 and job["error"]["errors"]
    again = http.post(f"{JOBS}/{job_id}/cancel")
    assert again.status_code == 409
    assert again.json()["errors"][0]["property"] == "status"
    # the warehouse still answers
    assert http.post(FILTER.format("clicks"), json=TIMING).status_code == 200


def test_a_cancel_sent_to_another_instance_stops_the_query_where_it_runs(store, warehouse):
    with analysis_client(store, warehouse) as first, analysis_client(store, warehouse) as other:
        add_sources(first)
        response = first.post(FILTER.format("slow_clicks"), json=slow_body(wait=0))
        assert response.status_code == 202, response.text
        job_id = response.json()["job"]["id"]
        until(lambda: job_of(other, job_id)["status"] == "running", "the job to run")
        cancelled = other.post(f"{JOBS}/{job_id}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        # the instance running it notices at its next heartbeat and interrupts the query
        until(lambda: runner_of(first).in_flight() == 0, "the query on the first instance")
        assert job_of(first, job_id)["status"] == "cancelled"


def _orphan(store, *, heartbeat: datetime, owner: str = "a-server-that-stopped") -> Job:
    now = datetime.now(UTC)
    job = Job(
        id=f"job_orphan_{owner}_{heartbeat.timestamp():.0f}",
        analysis="filter_exposures",
        source_kind="qualifying_event",
        source_name="clicks",
        status="running",
        request=dict(TIMING),
        sources=[],
        owner=owner,
        created_at=now - timedelta(minutes=5),
        started_at=now - timedelta(minutes=5),
        heartbeat_at=heartbeat,
    )
    return store.create_job(job)


def test_a_job_whose_server_stopped_is_marked_failed_when_read(http, store):
    stale = _orphan(store, heartbeat=datetime.now(UTC) - timedelta(minutes=4))
    alive = _orphan(store, heartbeat=datetime.now(UTC), owner="a-live-server")
    job = job_of(http, stale.id)
    assert job["status"] == "failed" and job["finishedAt"]
    assert job["error"]["status"] == 502
    assert "stopped before it finished" in job["error"]["message"]
    assert store.get_job(stale.id).status == "failed"  # for every instance, not just this one
    assert job_of(http, alive.id)["status"] == "running"
    listed = http.get(EVENTS + "/clicks/-/analyses").json()["data"]
    assert {j["id"]: j["status"] for j in listed} == {stale.id: "failed", alive.id: "running"}
    assert http.post(f"{JOBS}/{stale.id}/cancel").status_code == 409


def test_stopping_the_server_fails_its_running_jobs(store, warehouse):
    with analysis_client(store, warehouse) as http:
        add_sources(http)
        response = http.post(FILTER.format("slow_clicks"), json=slow_body(wait=0))
        job_id = response.json()["job"]["id"]
        until(lambda: job_of(http, job_id)["status"] == "running", "the job to run")
        runner = runner_of(http)
    job = store.get_job(job_id)
    assert job.status == "failed"
    assert "server stopped" in job.error["message"]
    until(lambda: runner.in_flight() == 0, "the query to stop")


def test_analyses_count_against_the_per_key_warehouse_limit(store, warehouse):
    with analysis_client(store, warehouse, per_key=1) as http:
        add_sources(http)
        first = http.post(FILTER.format("slow_clicks"), json=slow_body(wait=0))
        assert first.status_code == 202
        second = http.post(FILTER.format("clicks"), json=TIMING)
        assert second.status_code == 429, second.text
        assert second.headers["Retry-After"] == "1"
        assert "QUALEVENTS_WAREHOUSE_REQUESTS_PER_KEY" in second.json()["message"]
        # another key is not held up by this one's analysis
        other = http.post(FILTER.format("clicks"), json=TIMING, headers=http.reader_headers)
        assert other.status_code == 200, other.text
        assert http.post(f"{JOBS}/{first.json()['job']['id']}/cancel").status_code == 200
        until(lambda: runner_of(http).in_flight() == 0, "the query to stop")
        assert http.post(FILTER.format("clicks"), json=TIMING).status_code == 200


def test_an_analysis_has_its_own_timeout(store, warehouse):
    with analysis_client(store, warehouse, analysis_timeout_s=0.5) as http:
        add_sources(http)
        response = http.post(FILTER.format("slow_clicks"), json=slow_body(wait=60))
        assert response.status_code == 504, response.text
        assert "QUALEVENTS_ANALYSIS_TIMEOUT_S" in response.json()["message"]
        job = job_of(http, response.headers["Location"].rsplit("/", 1)[1])
        assert job["status"] == "failed" and job["error"]["status"] == 504
        # a preview keeps the warehouse's own timeout (30 s here): it is not cut at 0.5 s
        assert http.get(EVENTS + "/clicks/-/preview").status_code == 200


def test_read_only_keys_may_run_analyses_unless_refused_rows(store, warehouse):
    with analysis_client(store, warehouse) as http:
        add_sources(http)
        allowed = http.post(FILTER.format("clicks"), json=TIMING, headers=http.reader_headers)
        assert allowed.status_code == 200, allowed.text
        job_id = allowed.json()["job"]["id"]
    with analysis_client(store, warehouse, refuse_rows_to_read_only_keys=True) as http:
        add_sources(http, events=False)
        refused = http.post(FILTER.format("clicks"), json=TIMING, headers=http.reader_headers)
        assert refused.status_code == 403
        assert refused.json()["errors"][0]["property"] == "STATSIG-API-KEY"
        assert http.post(FILTER.format("clicks"), json=TIMING).status_code == 200
        # any valid key reads a job by its id
        assert http.get(f"{JOBS}/{job_id}", headers=http.reader_headers).status_code == 200


def test_a_read_only_key_cancels_only_its_own_jobs(http):
    started = http.post(FILTER.format("slow_clicks"), json=slow_body(wait=0))
    job_id = started.json()["job"]["id"]
    refused = http.post(f"{JOBS}/{job_id}/cancel", headers=http.reader_headers)
    assert refused.status_code == 403
    assert http.post(f"{JOBS}/{job_id}/cancel").status_code == 200
    mine = http.post(
        FILTER.format("slow_clicks"), json=slow_body(wait=0), headers=http.reader_headers
    )
    assert mine.status_code == 202
    own = http.post(f"{JOBS}/{mine.json()['job']['id']}/cancel", headers=http.reader_headers)
    assert own.status_code == 200
    until(lambda: runner_of(http).in_flight() == 0, "the queries to stop")


def test_an_events_analyses_newest_first_paginated(http):
    ids = []
    for mode in ("include", "exclude", "include"):
        response = http.post(FILTER.format("clicks"), json={**TIMING, "mode": mode})
        assert response.status_code == 200
        ids.append(response.json()["job"]["id"])
    page = http.get(EVENTS + "/clicks/-/analyses", params={"limit": 2})
    assert page.status_code == 200, page.text
    body = page.json()
    assert [job["id"] for job in body["data"]] == [ids[2], ids[1]]
    assert body["data"][0]["result"]["totals"]["exposedUnits"] == 6
    assert body["pagination"]["totalItems"] == 3
    assert body["pagination"]["nextPage"] == (EVENTS + "/clicks/-/analyses?page=2&limit=2")
    second = http.get(body["pagination"]["nextPage"]).json()
    assert [job["id"] for job in second["data"]] == [ids[0]]
    only = http.get(EVENTS + "/clicks/-/analyses", params={"analysis": "power"})
    assert only.json()["data"] == [] and only.json()["pagination"]["totalItems"] == 0
    assert http.get(EVENTS + "/visits/-/analyses").json()["data"] == []
    unknown = http.get(EVENTS + "/nothing/-/analyses")
    assert unknown.status_code == 404
    bad = http.get(EVENTS + "/clicks/-/analyses", params={"analysis": "nope"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["property"] == "analysis"


def test_unknown_jobs_are_404_in_the_contract_shape(http):
    for response in (http.get(f"{JOBS}/job_nope"), http.post(f"{JOBS}/job_nope/cancel")):
        assert response.status_code == 404
        body = response.json()
        assert body["status"] == 404 and body["errors"][0]["property"] == "id"
        assert "job_nope" in body["message"]


def test_the_openapi_document_describes_the_analysis_and_the_job_resources(http):
    document = http.get("/openapi.json").json()
    paths = document["paths"]
    operation = paths[EVENTS + "/{name}/-/filter_exposures"]["post"]
    responses = operation["responses"]
    assert responses["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/FilterExposuresResponse"
    )
    assert responses["202"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/JobAccepted"
    )
    assert {"400", "404", "409", "429", "502", "504"} <= set(responses)
    body_ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = document["components"]["schemas"][body_ref.rsplit("/", 1)[1]]
    assert {"assignmentSource", "experimentID", "window", "expectedSplit", "wait"} <= set(
        body["properties"]
    )
    assert set(body["required"]) == {"assignmentSource", "experimentID"}
    assert paths[JOBS + "/{job_id}"]["get"]["responses"]["200"]["content"]
    assert "409" in paths[JOBS + "/{job_id}/cancel"]["post"]["responses"]
    assert "get" in paths[EVENTS + "/{name}/-/analyses"]
    job = document["components"]["schemas"]["Job"]
    assert set(job["properties"]["status"]["enum"]) == {
        "queued",
        "running",
        "succeeded",
        "failed",
        "cancelled",
    }
