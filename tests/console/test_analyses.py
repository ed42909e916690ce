"""A qualifying event's analyses in the console: the exposure-filter and power forms start
the API's jobs (same checks), then the job's page shows the results as tables and charts
(per-group qualified share with the bias verdict; MDE and units against weeks)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from qualevents.api.app import create_app
from qualevents.config import Settings
from qualevents.console import install
from qualevents.validation import Validator
from qualevents.warehouse.executor import WarehouseRunner
from tests.api.analysis_app import add_sources, analysis_client, duckdb_warehouse
from tests.api.test_power import add_power_sources
from tests.console.conftest import Browser

EVENT = "/sources/qualifying_event/clicks"
PATIENCE_S = 120.0


@pytest.fixture(scope="module")
def duck() -> Iterator[Any]:
    opened = duckdb_warehouse()
    yield opened
    opened.close()


@pytest.fixture
def browser(store, duck) -> Iterator[Browser]:
    with analysis_client(store, duck) as api:  # the sources, through the API
        add_sources(api, big=False)
        add_power_sources(api)
        secret = api.headers["STATSIG-API-KEY"]
    runner = WarehouseRunner(threads=2, per_key=4)
    settings = Settings(
        database_url="sqlite://", warehouse_url="duckdb:///:memory:", _env_file=None
    )
    app = install(
        create_app(settings, store=store, warehouse=duck, validator=Validator(duck, runner=runner))
    )
    try:
        with TestClient(app) as http:
            signed = Browser(http)
            assert signed.sign_in(secret).status_code == 303
            yield signed
    finally:
        runner.close()


def job_of(answer: Any) -> str:
    assert answer.status_code == 303, answer.text
    found = re.fullmatch(rf"{EVENT}/jobs/(job_[\w-]+)", answer.headers["location"])
    assert found, answer.headers["location"]
    return answer.headers["location"]


def finished(browser: Browser, url: str) -> str:
    deadline = time.monotonic() + PATIENCE_S
    while time.monotonic() < deadline:  # the job page refreshes itself; so do we, bounded
        page = browser.get(url)
        assert page.status_code == 200
        if 'http-equiv="refresh"' not in page.text:
            return page.text
        assert "Working in the warehouse" in page.text
        time.sleep(0.1)
    raise AssertionError("the job did not finish")


def test_the_source_page_offers_the_analyses(browser: Browser):
    page = browser.get(EVENT)
    assert f'href="{EVENT}/filter_exposures"' in page.text
    assert f'href="{EVENT}/power"' in page.text
    form = browser.get(EVENT + "/filter_exposures")
    assert form.status_code == 200
    assert '<label for="a-experimentID">Experiment id</label>' in form.text
    assert "<option selected>assignments</option>" in form.text
    assert browser.get("/sources/metric_source/orders/power").status_code == 404
    assert browser.get(EVENT + "/nonsense").status_code == 404


def test_filter_exposures_shows_groups_and_the_bias_verdict(browser: Browser):
    url = job_of(
        browser.post(
            EVENT + "/filter_exposures",
            {
                "assignmentSource": "assignments",
                "experimentID": "timing",
                "start": "2024-01-01",
                "end": "2024-01-01",
                "mode": "include",
            },
            EVENT + "/filter_exposures",
        )
    )
    text = finished(browser, url)
    assert "Bias check: <strong>" in text
    assert '<table class="groups">' in text
    assert "Qualified share per group (%)" in text
    assert "Sample ratio, before filtering" in text
    listed = browser.get(EVENT + "/analyses")
    assert url.rsplit("/", 1)[1] in listed.text


def test_a_bad_analysis_request_is_shown_at_its_field(browser: Browser):
    answer = browser.post(
        EVENT + "/filter_exposures",
        {"assignmentSource": "assignments"},
        EVENT + "/filter_exposures",
    )
    assert answer.status_code == 400
    assert 'id="experimentID-error"' in answer.text
    missing = browser.post(
        EVENT + "/filter_exposures",
        {"assignmentSource": "nope", "experimentID": "x"},
        EVENT + "/filter_exposures",
    )
    assert missing.status_code == 404
    assert 'id="assignmentSource-error"' in missing.text
    forged = browser.http.post(EVENT + "/filter_exposures", data={"csrf_token": "x"})
    assert forged.status_code == 403


def test_power_shows_mde_and_units_against_weeks(browser: Browser):
    page = "/sources/qualifying_event/sessions"
    url = browser.post(
        page + "/power",
        {
            "metricSource": "orders",
            "metricType": "sum",
            "valueColumn": "amount",
            "weeks": "3",
            "end": "2024-03-28",
        },
        page + "/power",
    )
    assert url.status_code == 303, url.text
    text = finished(browser, url.headers["location"])
    assert "Relative MDE (%) against weeks" in text
    assert "Units against weeks" in text
    assert text.count("<tr><td>") >= 3
    assert '<table class="durations">' in text
