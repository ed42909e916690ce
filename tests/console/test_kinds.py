"""Every kind of source in the console from its data alone: an assignment source has its own
form fields, no daily counts, and the experiments scan (groups and units, with a chart)."""

from __future__ import annotations

from qualevents.console.kinds import KINDS
from tests.console.conftest import Browser

NEW = "/sources/assignment_source/-/new"
PAGE = "/sources/assignment_source/Exposures"


def assignment_form(**fields: str) -> dict[str, str]:
    values = {
        "name": "Exposures",
        "sql": "SELECT user_id, ts, experiment, grp FROM exposures",
        "timestamp_column": "ts",
        "experiment_id_column": "experiment",
        "group_id_column": "grp",
        "id_type_mapping": "userID = user_id",
        "action": "save",
    }
    values.update(fields)
    return values


def test_three_kinds_are_listed_and_offered(browser: Browser):
    assert [kind.slug for kind in KINDS] == [
        "qualifying_event",
        "metric_source",
        "assignment_source",
    ]
    page = browser.get("/sources")
    for label in ("New qualifying event", "New metric source", "New assignment source"):
        assert label in page.text
    assert '<option value="assignment_source" >Assignment sources</option>' in page.text


def test_an_assignment_source_through_its_form(browser: Browser, console_app):
    form = browser.get(NEW)
    assert '<label for="f-experiment_id_column">Experiment id column</label>' in form.text
    assert "f-custom_field_mapping" not in form.text
    wrong = browser.post(NEW, assignment_form(group_id_column="nope", action="check"), NEW)
    assert wrong.status_code == 400
    assert 'id="group_id_column-error"' in wrong.text
    hour = browser.post(NEW, assignment_form(scheduled_reload_hour="25"), NEW)
    assert hour.status_code == 400
    assert 'id="scheduled_reload_hour-error"' in hour.text
    saved = browser.post(NEW, assignment_form(scheduled_reload_hour="3"), NEW)
    assert saved.status_code == 303, saved.text
    stored = console_app.state.context.assignment_sources.get("Exposures")
    assert stored.event.experiment_id_column == "experiment"
    assert stored.event.scheduled_reload_hour == 3
    page = browser.get(PAGE)
    assert "<dt>Experiment id column</dt><dd><code>experiment</code></dd>" in page.text
    assert 'data-load="/sources/assignment_source/Exposures/experiments"' in page.text
    assert "/daily" not in page.text
    assert browser.get(PAGE + "/daily").status_code == 404
    edited = browser.post(
        PAGE + "/edit", assignment_form(group_name_column="grp", revision="1"), PAGE + "/edit"
    )
    assert edited.status_code == 303
    assert (
        console_app.state.context.assignment_sources.get("Exposures").event.group_name_column
        == "grp"
    )


def test_the_experiments_scan(browser: Browser):
    browser.post(NEW, assignment_form(), NEW)
    part = browser.get(PAGE + "/experiments?fragment=1")
    assert part.status_code == 200, part.text
    assert "2 experiments" in part.text
    assert ">checkout_v2</h3>" in part.text
    assert "3 units · 0 in more than one group" in part.text
    assert "<td><code>test</code></td><td>2</td>" in part.text
    assert 'aria-labelledby="chart-title"' in part.text
    whole = browser.get(PAGE + "/experiments?start=2000-01-01&end=2000-01-02")
    assert "<h1>Experiments in Exposures</h1>" in whole.text
    assert "No exposures in these days." in whole.text
    assert browser.get("/sources/qualifying_event/x/experiments").status_code == 404
