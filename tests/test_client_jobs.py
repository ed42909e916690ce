"""Analyses from the Python clients and the CLI, against the app in process with a real
DuckDB warehouse: ``filter_exposures`` polls a job that outlives ``wait`` to its result,
``job``/``cancel_job``/``analyses``; the CLI's ``filter-exposures`` (tables, ``--json``) and
``jobs show|cancel|list``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from qualevents import AsyncClient, Client
from qualevents.cli import analyses as cli_analyses
from qualevents.cli import app as cli_app
from qualevents.cli.analyses import parse_split, parse_window
from qualevents.errors import Conflict, InvalidRequest, NotFound, WarehouseTimeout
from qualevents.warehouse.duckdb import DuckDBWarehouse
from tests.api.analysis_app import add_sources, analysis_client, duckdb_warehouse, slow_body

runner = CliRunner()


@pytest.fixture(scope="module")
def warehouse() -> Iterator[DuckDBWarehouse]:
    opened = duckdb_warehouse()
    yield opened
    opened.close()


@pytest.fixture
def http(store, warehouse):
    with analysis_client(store, warehouse) as client:
        add_sources(client)
        yield client


@pytest.fixture
def api(http) -> Iterator[Client]:
    secret = http.headers["STATSIG-API-KEY"]
    client = Client("http://testserver", secret, http=http, sleep=lambda _s: None)
    yield client


def test_filter_exposures_polls_a_job_that_outlives_wait_to_its_result(api):
    progress = []
    answer = api.filter_exposures(
        "medium_clicks",
        assignment_source="medium",
        experiment_id="medium",
        start="2024-01-01",
        end="2024-01-01",
        match_against="anyExposure",
        window={"amount": 1, "unit": "days"},
        wait=0,
        poll_interval_s=0.05,
        on_progress=lambda job: progress.append(job.status),
    )
    assert answer.data["totals"]["exposedUnits"] == 10
    assert answer.job.status == "succeeded" and answer.job.analysis == "filter_exposures"
    assert progress[0] in ("queued", "running") and progress[-1] == "succeeded"
    job = api.job(answer.job.id).data
    assert job.result == answer.data and job.compiled_sql == answer.data["compiledSql"]
    listed = api.analyses("medium_clicks")
    assert [j.id for j in listed.data] == [job.id] and listed.pagination.total_items == 1


def test_a_result_within_wait_needs_no_poll_and_errors_raise(api):
    answer = api.filter_exposures(
        "clicks",
        assignment_source="assignments",
        experiment_id="timing",
        start="2024-01-01",
        end="2024-01-01",
        mode="exclude",
    )
    assert answer.status == 200 and answer.job.status == "succeeded"
    assert answer.job.request["mode"] == "exclude"
    with pytest.raises(NotFound, match="Assignment source nope not found"):
        api.filter_exposures("clicks", assignment_source="nope", experiment_id="timing")
    with pytest.raises(InvalidRequest) as raised:
        api.filter_exposures(
            "clicks",
            assignment_source="assignments",
            experiment_id="timing",
            mode="exclude",
            replace_exposure_timestamp=True,
        )
    assert raised.value.errors[0].loc == ("replaceExposureTimestamp",)
    # a job that fails after the POST answered raises its stored error when polled
    with pytest.raises(InvalidRequest, match="nope"):
        api.filter_exposures(
            "clicks",
            assignment_source="assignments",
            experiment_id="timing",
            event_filter="nope = 1",
            wait=0,
            poll_interval_s=0.05,
        )


def test_cancel_job_and_polling_a_cancelled_job(api):
    started = api.start_filter_exposures("slow_clicks", slow_body(wait=0))
    assert started.status == 202 and started.job.status in ("queued", "running")
    with pytest.raises(WarehouseTimeout, match="still"):
        api.wait_for(started, timeout_s=0, poll_interval_s=0.05)
    cancelled = api.cancel_job(started.job.id)
    assert cancelled.data.status == "cancelled"
    with pytest.raises(Conflict):
        api.wait_for(started, poll_interval_s=0.05)
    with pytest.raises(Conflict):
        api.cancel_job(started.job.id)


def test_the_async_client_polls_too(http):
    secret = http.headers["STATSIG-API-KEY"]

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=http.app)

        async def no_sleep(_seconds: float) -> None:
            await asyncio.sleep(0.05)

        async with AsyncClient(
            "http://testserver", secret, transport=transport, sleep=no_sleep
        ) as api:
            answer = await api.filter_exposures(
                "medium_clicks",
                assignment_source="medium",
                experiment_id="medium",
                start="2024-01-01",
                end="2024-01-01",
                match_against="anyExposure",
                window={"amount": 1, "unit": "days"},
                wait=0,
                poll_interval_s=0.05,
            )
            assert answer.data["totals"]["qualifiedUnits"] == 10
            job = (await api.job(answer.job.id)).data
            assert job.status == "succeeded"
            listed = await api.analyses("medium_clicks", analysis="filter_exposures")
            assert [j.id for j in listed.data] == [job.id]
            started = await api.start_filter_exposures("slow_clicks", slow_body(wait=0))
            assert (await api.cancel_job(started.job.id)).data.status == "cancelled"

    asyncio.run(scenario())


# -- the CLI ------------------------------------------------------------------------------


@pytest.fixture
def remote(http, monkeypatch):
    """The CLI's ``--url`` client, talking to the app in process."""
    secret = http.headers["STATSIG-API-KEY"]

    def client(_url: str, _api_key: str | None) -> Client:
        # a client of its own per command (the command closes it); the app is already up
        return Client("http://testserver", secret, http=TestClient(http.app), sleep=lambda _s: None)

    monkeypatch.setattr(cli_analyses, "_client", client)
    return ("--url", "http://testserver", "--api-key", secret)


def test_cli_filter_exposures_tables_and_json(remote):
    common = ("clicks", "--assignment-source", "assignments", "--experiment", "timing")
    dates = ("--start", "2024-01-01", "--end", "2024-01-01")
    shown = runner.invoke(cli_app, ["filter-exposures", *common, *dates, "--window", "1h", *remote])
    assert shown.exit_code == 0, shown.stdout + shown.stderr
    assert "groups" in shown.stdout and "control" in shown.stdout
    assert "qualification balance" in shown.stdout and "job: job_" in shown.stdout
    scripted = runner.invoke(
        cli_app,
        [
            "filter-exposures",
            *common,
            *dates,
            "--expected-split",
            "control=1,test=1",
            "--json",
            *remote,
        ],
    )
    assert scripted.exit_code == 0, scripted.stderr
    body = json.loads(scripted.stdout)
    assert body["data"]["totals"]["exposedUnits"] == 6
    assert body["job"]["request"]["expectedSplit"] == {"control": 1.0, "test": 1.0}
    job_id = body["job"]["id"]

    show = runner.invoke(cli_app, ["jobs", "show", job_id, "--json", *remote])
    assert show.exit_code == 0 and json.loads(show.stdout)["status"] == "succeeded"
    table = runner.invoke(cli_app, ["jobs", "show", job_id, *remote])
    assert table.exit_code == 0 and "succeeded" in table.stdout
    listed = runner.invoke(cli_app, ["jobs", "list", "clicks", "--json", *remote])
    assert next(job["id"] for job in json.loads(listed.stdout)) == job_id  # newest first
    done = runner.invoke(cli_app, ["jobs", "cancel", job_id, *remote])
    assert done.exit_code == 1 and "succeeded" in done.stderr

    unknown = runner.invoke(
        cli_app,
        ["filter-exposures", "clicks", "--assignment-source", "nope", "--experiment", "x", *remote],
    )
    assert unknown.exit_code == 1 and "Assignment source nope not found" in unknown.stderr


def test_cli_filter_exposures_polls_with_progress(remote):
    args = [
        "filter-exposures",
        "medium_clicks",
        "--assignment-source",
        "medium",
        "--experiment",
        "medium",
        "--start",
        "2024-01-01",
        "--end",
        "2024-01-01",
        "--match-against",
        "anyExposure",
        "--window",
        "1d",
        "--wait",
        "0",
        "--json",
    ]
    polled = runner.invoke(cli_app, [*args, *remote])
    assert polled.exit_code == 0, polled.stderr
    assert json.loads(polled.stdout)["data"]["totals"]["exposedUnits"] == 10


def test_cli_option_parsing():
    assert parse_window("30m") == {"amount": 30, "unit": "minutes"}
    assert parse_window("2 hours") == {"amount": 2, "unit": "hours"}
    assert parse_window("1d") == {"amount": 1, "unit": "days"}
    assert parse_split(["control=1", "test=2,other=0.5"]) == {
        "control": 1.0,
        "test": 2.0,
        "other": 0.5,
    }
    bad = runner.invoke(
        cli_app,
        [
            *("filter-exposures", "x", "--assignment-source", "a", "--experiment", "e"),
            *("--window", "soon", "--url", "http://x", "--api-key", "k"),
        ],
    )
    assert bad.exit_code == 2 and "--window" in bad.stderr
    no_url = runner.invoke(cli_app, ["jobs", "show", "job_x"], env={"QUALEVENTS_URL": ""})
    assert no_url.exit_code == 2


def test_cli_filter_exposures_locally_without_a_server(tmp_path):
    """No --url: the CLI runs the analysis itself, on the settings' store and warehouse."""
    from qualevents.store import open_store
    from tests.analysis.conftest import fixture_sql

    path = tmp_path / "warehouse.duckdb"
    warehouse = DuckDBWarehouse(str(path))
    with warehouse.writable() as connection:
        connection.execute("CREATE SCHEMA analysis")
        connection.execute(fixture_sql())
    database_url = f"sqlite:///{tmp_path / 'store.db'}"
    store = open_store(database_url)
    try:
        with analysis_client(store, warehouse) as http:
            add_sources(http, big=False)
    finally:
        store.close()
        warehouse.close()
    local = ("--database-url", database_url, "--warehouse-url", f"duckdb:///{path}")
    common = ("clicks", "--assignment-source", "assignments", "--experiment", "timing")
    dates = ("--start", "2024-01-01", "--end", "2024-01-01")
    answer = runner.invoke(cli_app, ["filter-exposures", *common, *dates, "--json", *local])
    assert answer.exit_code == 0, answer.stdout + answer.stderr
    body = json.loads(answer.stdout)
    assert body["data"]["totals"]["exposedUnits"] == 6 and "job" not in body
    unknown = runner.invoke(
        cli_app,
        ["filter-exposures", "clicks", "--assignment-source", "x", "--experiment", "t", *local],
    )
    assert unknown.exit_code == 1 and "Assignment source x not found" in unknown.stderr
    missing = runner.invoke(cli_app, ["filter-exposures", "nope", *common[1:], *local])
    assert missing.exit_code == 1 and "nope" in missing.stderr
