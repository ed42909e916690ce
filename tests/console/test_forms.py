"""The console's forms: create and edit with a "check" (a dry run: the write's validation,
nothing saved), errors next to their fields, delete and restore after a confirmation, and
every POST refused without the session's CSRF token or from a read-only key."""

from __future__ import annotations

import re

import pytest

from qualevents.models import QualifyingEvent
from qualevents.store.base import Actor
from tests.console.conftest import GOOD_SQL, Browser, source_form

NEW = "/sources/qualifying_event/-/new"
PAGE = "/sources/qualifying_event/Checkout"


def field_errors(html: str, field: str) -> str:
    found = re.search(rf'<ul class="field-errors" id="{field}-error">(.*?)</ul>', html, re.S)
    return found.group(1) if found else ""


def test_the_new_form_is_labelled(browser: Browser):
    page = browser.get(NEW)
    assert page.status_code == 200
    for field in ("name", "sql", "timestamp_column", "id_type_mapping", "tags"):
        assert f'<label for="f-{field}">' in page.text
    assert 'value="check"' in page.text and 'value="save"' in page.text


def test_check_fails_next_to_the_field_and_saves_nothing(browser: Browser, console_app):
    page = browser.post(NEW, source_form(timestamp_column="created_at", action="check"), NEW)
    assert page.status_code == 400
    errors = field_errors(page.text, "timestamp_column")
    assert "created_at" in errors and "user_id, ts" in errors
    assert 'aria-invalid="true"' in page.text
    assert browser.get(PAGE).status_code == 404


def test_sql_errors_carry_their_line_and_column(browser: Browser):
    page = browser.post(
        NEW, source_form(sql="SELECT user_id,\n  ts\nFROM events WHERE (", action="check"), NEW
    )
    assert page.status_code == 400
    assert "line 3, column" in field_errors(page.text, "sql")


def test_a_form_that_cannot_be_read_says_where(browser: Browser):
    page = browser.post(NEW, source_form(id_type_mapping="userID"), NEW)
    assert page.status_code == 400
    assert "Line 1: expected" in field_errors(page.text, "id_type_mapping")


def test_check_passes_shows_the_columns_and_saves_nothing(browser: Browser):
    page = browser.post(NEW, source_form(action="check"), NEW)
    assert page.status_code == 200
    assert "Check (nothing was saved)" in page.text
    assert "Every check passed against the warehouse." in page.text
    assert "<td><code>ts</code></td><td>timestamp</td>" in page.text
    assert 'value="Checkout"' in page.text  # the form keeps what was typed
    assert browser.get(PAGE).status_code == 404


def test_create_saves_and_shows_the_source(browser: Browser, console_app):
    answer = browser.post(NEW, source_form(), NEW)
    assert answer.status_code == 303
    assert answer.headers["location"] == PAGE + "?done=created"
    page = browser.get(answer.headers["location"])
    assert "Created." in page.text
    stored = console_app.state.context.events.get("Checkout")
    assert stored.event.tags == ["growth", "checkout"]
    assert stored.event.owner.owner_name == "alice"
    again = browser.post(NEW, source_form(), NEW)
    assert again.status_code == 400
    assert "already" in field_errors(again.text, "name") + again.text


def test_every_kind_has_the_forms(browser: Browser, console_app):
    answer = browser.post("/sources/metric_source/-/new", source_form(name="Revenue"), NEW)
    assert answer.status_code == 303
    assert console_app.state.context.metric_sources.get("Revenue").revision == 1
    reserved = browser.post("/sources/metric_source/-/new", source_form(name="list"), NEW)
    assert "reserved" in field_errors(reserved.text, "name")


def test_posts_without_the_sessions_token_are_refused(browser: Browser, console_app):
    forged = browser.http.post(NEW, data={**source_form(), "csrf_token": "x"})
    assert forged.status_code == 403
    assert "Form expired" in forged.text
    missing = browser.http.post(NEW, data=source_form())
    assert missing.status_code == 403
    assert browser.get(PAGE).status_code == 404
    browser.post(NEW, source_form(), NEW)
    for url in (PAGE + "/edit", PAGE + "/delete", PAGE + "/revisions/1/restore", "/sign-out"):
        assert browser.http.post(url, data={"csrf_token": "x"}).status_code == 403, url
    assert console_app.state.context.events.get("Checkout").revision == 1


def test_a_read_only_key_is_refused_every_edit(reader: Browser, browser: Browser, console_app):
    browser.post(NEW, source_form(), NEW)
    token = reader.token("/sources")
    for url in (NEW, PAGE + "/edit", PAGE + "/delete", PAGE + "/revisions/1/restore"):
        answer = reader.http.post(url, data={**source_form(), "csrf_token": token})
        assert answer.status_code == 403, url
        assert "read-only" in answer.text
        assert reader.get(url).status_code == 403, url
    assert console_app.state.context.events.get("Checkout").revision == 1


def test_edit_changes_only_what_the_form_changed(browser: Browser, console_app):
    service = console_app.state.context.events
    event = QualifyingEvent.model_validate(
        {
            "name": "Checkout",
            "sql": GOOD_SQL,
            "timestamp_column": "ts",
            "id_type_mapping": [{"statsig_unit_id": "userID", "column": "user_id"}],
            "team": "Growth",  # not on the form
            "tags": [],
        }
    )
    service.create(event, Actor("key-x", "api"))
    form = browser.get(PAGE + "/edit")
    assert 'name="revision" value="1"' in form.text
    answer = browser.post(
        PAGE + "/edit",
        source_form(sql="SELECT user_id, ts\nFROM events", tags="", revision="1"),
        PAGE + "/edit",
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == PAGE + "?done=saved"
    stored = service.get("Checkout")
    assert stored.revision == 2
    assert stored.event.sql == "SELECT user_id, ts\nFROM events"
    assert stored.event.team == "Growth"
    assert stored.event.tags == []
    assert stored.event.description == "Users who reached checkout"


def test_edit_check_and_a_stale_form(browser: Browser, console_app):
    browser.post(NEW, source_form(), NEW)
    checked = browser.post(
        PAGE + "/edit", source_form(timestamp_column="nope", action="check", revision="1"), NEW
    )
    assert checked.status_code == 400
    assert "nope" in field_errors(checked.text, "timestamp_column")
    console_app.state.context.events.patch("Checkout", {"tags": ["x"]}, Actor(None, "other"))
    stale = browser.post(PAGE + "/edit", source_form(description="mine", revision="1"), NEW)
    assert stale.status_code == 409
    assert "Someone changed this source since you opened the form" in stale.text
    assert console_app.state.context.events.get("Checkout").event.description != "mine"


def test_delete_after_confirmation(browser: Browser, console_app):
    browser.post(NEW, source_form(), NEW)
    confirm = browser.get(PAGE + "/delete")
    assert confirm.status_code == 200
    assert "<h1>Delete Checkout?</h1>" in confirm.text
    answer = browser.post(PAGE + "/delete", {"revision": "1"}, PAGE + "/delete")
    assert answer.status_code == 303
    assert browser.get(PAGE).status_code == 404
    assert "Deleted." in browser.get(answer.headers["location"]).text


@pytest.mark.parametrize("deleted", [False, True], ids=["changed", "deleted"])
def test_restore_after_confirmation(browser: Browser, console_app, deleted: bool):
    browser.post(NEW, source_form(), NEW)
    browser.post(
        PAGE + "/edit",
        source_form(sql="SELECT user_id, ts FROM events WHERE 1 = 1", revision="1"),
        NEW,
    )
    if deleted:
        browser.post(PAGE + "/delete", {}, PAGE + "/delete")
    confirm = browser.get(PAGE + "/revisions/1/restore")
    assert confirm.status_code == 200
    assert "Restore revision 1 of Checkout?" in confirm.text
    answer = browser.post(PAGE + "/revisions/1/restore", {}, PAGE + "/revisions/1/restore")
    assert answer.status_code == 303
    assert "Restored from revision 1." in browser.get(answer.headers["location"]).text
    stored = console_app.state.context.events.get("Checkout")
    assert stored.event.sql == GOOD_SQL
    assert stored.revision == (4 if deleted else 3)
