"""Power analysis from the Python clients and the CLI, against the app in process with a
real DuckDB warehouse (SQLite and PostgreSQL stores): ``power`` polls a job that outlives
``wait`` to its result, the PNG of a job, the errors a user meets, and ``qualevents power
--url`` (table, ``--json``, ``--plot``) and ``jobs show`` of a power job."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from matplotlib import image
from starlette.testclient import TestClient
from typer.testing import CliRunner

from qualevents import AsyncClient, Client
from qualevents.cli import analyses as cli_analyses
from qualevents.cli import app as cli_app
from qualevents.errors import InvalidRequest, NotFound
from tests.api.analysis_app import analysis_client
from tests.api.test_power import SUM, SUM_3, add_power_sources, duckdb_power  # noqa: F401

runner = CliRunner()
BIG = {"metricSource": "big_orders", "weeks": 4, "end": "2024-03-28"}


@pytest.fixture
def http(store, duckdb_power) -> Iterator[TestClient]:  # noqa: F811
    with analysis_client(store, duckdb_power) as client:
        add_power_sources(client, big=True)
        yield client


@pytest.fixture
def api(http) -> Iterator[Client]:
    secret = http.headers["STATSIG-API-KEY"]
    yield Client("http://testserver", secret, http=http, sleep=lambda _s: None)


def is_png(content: bytes) -> bool:
    return image.imread(io.BytesIO(content), format="png").shape[0] > 100


def test_power_polls_a_job_that_outlives_wait_to_its_result(api):
    seen = []
    answer = api.power(
        "big_sessions",
        metric_source="big_orders",
        metric=SUM,
        weeks=4,
        end="2024-03-28",
        cuped={"preDays": 7},
        control_share=0.4,
        wait=0,
        poll_interval_s=0.05,
        on_progress=lambda job: seen.append(job.status),
    )
    assert seen[0] in ("queued", "running") and seen[-1] == "succeeded"
    assert answer.job.status == "succeeded" and answer.job.analysis == "power"
    assert answer.data["durations"][-1]["units"] == 20_000
    assert answer.data["inputs"]["controlShare"] == 0.4
    assert answer.job.request["controlShare"] == 0.4
    assert is_png(api.power_png(answer.job.id).data)
    listed = api.analyses("big_sessions", analysis="power")
    assert [job.id for job in listed.data] == [answer.job.id]


def test_done_within_wait_and_the_png_of_the_post(api):
    body = {"metricSource": "orders", "metric": SUM, "weeks": 3, "end": "2024-03-28"}
    answer = api.power("sessions", metric_source="orders", metric=SUM, weeks=3, end="2024-03-28")
    assert answer.status == 200
    assert answer.data["durations"][2]["mean"] == pytest.approx(np.mean(SUM_3))
    drawn = api.start_power("sessions", body, png=True)
    assert drawn.status == 200 and drawn.headers["content-type"] == "image/png"
    assert is_png(drawn.data)


def test_what_a_user_gets_wrong(api):
    with pytest.raises(InvalidRequest) as caught:
        api.power(
            "sessions",
            metric_source="orders",
            metric={"type": "ratio", "numeratorColumn": "num", "denominatorColumn": "den"},
            cuped={"preDays": 7},
        )
    assert caught.value.status == 400 and caught.value.errors[0].loc == ("cuped",)
    with pytest.raises(NotFound) as missing:
        api.power("sessions", metric_source="nope", metric={"type": "count"})
    assert missing.value.errors[0].loc == ("metricSource",)
    with pytest.raises(InvalidRequest) as hostile:  # found by the job, failed within wait
        api.power("sessions", metric_source="orders", metric=SUM, metric_filter="1 = (SELECT 1)")
    assert hostile.value.errors[0].loc == ("metricFilter",)


def test_the_async_client_polls_too(http):
    secret = http.headers["STATSIG-API-KEY"]

    async def scenario() -> None:
        async def short_sleep(_seconds: float) -> None:
            await asyncio.sleep(0.05)

        transport = httpx.ASGITransport(app=http.app)
        async with AsyncClient(
            "http://testserver", secret, transport=transport, sleep=short_sleep
        ) as api:
            answer = await api.power(
                "big_sessions",
                metric_source="big_orders",
                metric={"type": "conversion"},
                weeks=2,
                end="2024-03-28",
                wait=0,
                poll_interval_s=0.05,
            )
            assert [d["weeks"] for d in answer.data["durations"]] == [1, 2]
            assert answer.data["durations"][1]["mean"] == 1.0  # every unit has rows
            assert is_png((await api.power_png(answer.job.id)).data)

    asyncio.run(scenario())


# -- the CLI ------------------------------------------------------------------------------


@pytest.fixture
def remote(http, monkeypatch):
    """The CLI's ``--url`` client, talking to the app in process."""
    secret = http.headers["STATSIG-API-KEY"]

    def client(_url: str, _api_key: str | None) -> Client:
        return Client("http://testserver", secret, http=TestClient(http.app), sleep=lambda _s: None)

    monkeypatch.setattr(cli_analyses, "_client", client)
    return ("--url", "http://testserver", "--api-key", secret)


def test_cli_power_through_a_server(remote, tmp_path):
    common = ("sessions", "--metric-source", "orders", "--weeks", "3", "--end", "2024-03-28")
    plot = tmp_path / "power.png"
    shown = runner.invoke(
        cli_app,
        [
            "power",
            *common,
            *("--metric-type", "sum", "--value-column", "amount", "--cuped-pre-days", "7"),
            *("--plot", str(plot), *remote),
        ],
    )
    assert shown.exit_code == 0, shown.stdout + shown.stderr
    assert "sessions: power of sum of amount in orders" in shown.stdout
    assert "job: job_" in shown.stdout and "% CUPED" in shown.stdout
    assert is_png(plot.read_bytes())
    scripted = runner.invoke(
        cli_app,
        ["power", *common, "--metric-type", "count", "--groups", "3", "--json", *remote],
    )
    assert scripted.exit_code == 0, scripted.stderr
    body = json.loads(scripted.stdout)
    assert [d["units"] for d in body["data"]["durations"]] == [3, 4, 5]
    assert body["job"]["request"]["groups"] == 3
    shown_job = runner.invoke(cli_app, ["jobs", "show", body["job"]["id"], *remote])
    assert shown_job.exit_code == 0, shown_job.stderr
    assert "sessions: power of count in orders" in shown_job.stdout
    refused = runner.invoke(
        cli_app, ["power", *common, "--metric-type", "mean", "--cuped-pre-days", "7", *remote]
    )
    assert refused.exit_code == 1
    assert "metric.valueColumn" in refused.stderr and "cuped" in refused.stderr
