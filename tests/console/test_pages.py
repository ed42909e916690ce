"""The console's reading pages: the list (search, filters, pages, validation state), a
source's page (SQL with line numbers, checks with columns and types, preview, daily chart,
history), a revision's diff, the audit log; and that reading them needs no warehouse."""

from __future__ import annotations

import re
import socket
from typing import Any

from starlette.testclient import TestClient

from qualevents.api.app import create_app
from qualevents.config import Settings
from qualevents.console import install
from qualevents.models import QualifyingEvent
from qualevents.store.base import Actor
from qualevents.validation import Validator
from qualevents.warehouse import open_warehouse
from qualevents.warehouse.executor import WarehouseRunner
from tests.console.conftest import GOOD_SQL, Browser

ACTOR = Actor("key-test", "seeder")


def add(app: Any, name: str, kind: str = "events", **fields: Any) -> None:
    context = app.state.context
    service = context.events if kind == "events" else context.metric_sources
    document = {
        "name": name,
        "sql": GOOD_SQL,
        "timestamp_column": "ts",
        "id_type_mapping": [{"statsig_unit_id": "userID", "column": "user_id"}],
        **fields,
    }
    service.create(QualifyingEvent.model_validate(document), ACTOR)


def names_in(html: str) -> list[str]:
    return re.findall(r'<td><a href="/sources/[a-z_]+/[^"]+">([^<]+)</a>', html)


def test_the_list_shows_every_kind_with_its_validation_state(browser: Browser, console_app):
    add(console_app, "Checkout", tags=["growth"])
    add(console_app, "Revenue", kind="metrics")
    add(
        console_app,
        "Declared",
        skip_validation=True,
        all_columns=["user_id", "ts"],
        column_types=["string", "timestamp"],
    )
    add(console_app, "Old")
    # a source written before reports were kept: what is certain about it is shown
    console_app.state.context.events.store.save_validation_report("Old", 1, None)
    page = browser.get("/sources")
    assert page.status_code == 200
    assert names_in(page.text) == ["Checkout", "Declared", "Old", "Revenue"]
    assert "Qualifying event" in page.text and "Metric source" in page.text
    assert page.text.count("Checked against the warehouse</span>") == 2
    assert "Schema declared (not checked against the warehouse)" in page.text
    assert "Passed its checks when last written" in page.text
    assert "4 sources" in page.text


def test_the_state_is_the_report_of_the_last_write(browser: Browser, console_app):
    add(console_app, "Checkout")
    store = console_app.state.context.events.store
    assert store.validation_reports()["Checkout"]["mode"] == "warehouse"
    # a later write without a report (no validator) leaves no stale report behind
    console_app.state.context.events.validator, validator = (
        None,
        console_app.state.context.events.validator,
    )
    try:
        console_app.state.context.events.patch("Checkout", {"tags": ["x"]}, ACTOR)
    finally:
        console_app.state.context.events.validator = validator
    assert "Checkout" not in store.validation_reports()
    assert "Passed its checks when last written" in browser.get("/sources").text
    console_app.state.context.events.patch("Checkout", {"tags": ["y"]}, ACTOR)
    assert store.validation_reports()["Checkout"]["revision"] == 3


def test_search_and_filters(browser: Browser, console_app):
    add(console_app, "Checkout", tags=["growth"], owner={"owner_name": "Dana"})
    add(console_app, "Cart views", tags=["growth", "web"])
    add(console_app, "Signups", description="new checkout accounts")
    add(console_app, "Revenue", kind="metrics", tags=["web"])
    assert names_in(browser.get("/sources?q=check").text) == ["Checkout", "Signups"]
    assert names_in(browser.get("/sources?tag=growth").text) == ["Checkout", "Cart views"]
    assert names_in(browser.get("/sources?tag=web").text) == ["Cart views", "Revenue"]
    assert names_in(browser.get("/sources?owner=dana").text) == ["Checkout"]
    assert names_in(browser.get("/sources?kind=metric_source").text) == ["Revenue"]
    assert names_in(browser.get("/sources?kind=qualifying_event&tag=web").text) == ["Cart views"]
    assert "No source matches." in browser.get("/sources?q=zzz").text
    # the filter form offers the tags and owners there are, labelled
    page = browser.get("/sources")
    assert '<label for="tag">Tag</label>' in page.text
    assert "<option >growth</option>" in page.text or "<option>growth</option>" in page.text
    assert "Dana" in page.text


def test_the_list_is_paginated(browser: Browser, console_app):
    for i in range(55):
        add(console_app, f"Event {i:02d}")
    first = browser.get("/sources")
    assert len(names_in(first.text)) == 50
    assert "Page 1 of 2" in first.text
    assert 'href="?page=2"' in first.text
    second = browser.get("/sources?page=2")
    assert names_in(second.text) == [f"Event {i}" for i in range(50, 55)]
    filtered = browser.get("/sources?q=event&page=2")
    assert 'href="?q=event&amp;page=1"' in filtered.text


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_reading_pages_need_no_warehouse(store, database_url, keys):
    """A warehouse that is down: every page without its data renders; those with it say
    so in a page (and the form's check says it next to the form)."""
    warehouse = open_warehouse(f"postgresql://nobody@127.0.0.1:{_unused_port()}/x")
    runner = WarehouseRunner(threads=1, per_key=2)
    settings = Settings(database_url=database_url, warehouse_url="none", _env_file=None)
    app = install(
        create_app(
            settings,
            store=store,
            warehouse=warehouse,
            validator=Validator(warehouse, runner=runner),
        )
    )
    add(
        app,
        "Checkout",
        skip_validation=True,
        all_columns=["user_id", "ts"],
        column_types=["string", "timestamp"],
    )
    try:
        with TestClient(app) as http:
            browser = Browser(http)
            browser.sign_in(keys["full_secret"])
            assert browser.get("/sources").status_code == 200
            assert browser.get("/sources/qualifying_event/Checkout").status_code == 200
            assert browser.get("/audit").status_code == 200
            assert browser.get("/sources/qualifying_event/Checkout/revisions/1").status_code == 200
            for part in ("preview", "daily"):
                page = browser.get(f"/sources/qualifying_event/Checkout/{part}")
                assert page.status_code == 502
                assert "text/html" in page.headers["content-type"]
                assert "The warehouse did not answer" in page.text
                assert "nobody" not in page.text
                assert "try again in a moment" in page.text
            form = browser.post(
                "/sources/qualifying_event/-/new",
                {
                    "name": "New",
                    "sql": GOOD_SQL,
                    "timestamp_column": "ts",
                    "id_type_mapping": "userID = user_id",
                    "action": "check",
                },
            )
            assert form.status_code in (200, 502)
            assert "<form" in form.text
    finally:
        runner.close()


def test_a_sources_page(browser: Browser, console_app):
    add(
        console_app,
        "Checkout",
        sql="SELECT user_id,\n  ts\nFROM events",
        description="Reached checkout",
        tags=["growth"],
    )
    page = browser.get("/sources/qualifying_event/Checkout")
    assert page.status_code == 200
    text = page.text
    assert "<h1>Checkout</h1>" in text
    assert '<th scope="row" class="ln">3</th><td><code>FROM events</code>' in text
    assert "Reached checkout" in text
    assert "<dt>Unit id types</dt><dd><code>userID = user_id</code></dd>" in text
    # the warehouse parts load into the page, and are links without JavaScript
    for part in ("preview", "daily"):
        assert f'data-load="/sources/qualifying_event/Checkout/{part}"' in text
    for part in ("check", "preview", "daily"):
        assert f'<a href="/sources/qualifying_event/Checkout/{part}">' in text
    assert '<h2 id="history">History</h2>' in text
    assert "Edit</a>" in text and "Delete</a>" in text


def test_checks_show_the_output_columns_and_types(browser: Browser, console_app):
    add(console_app, "Checkout")
    part = browser.get("/sources/qualifying_event/Checkout/check?fragment=1")
    assert part.status_code == 200
    assert "<html" not in part.text
    assert "Every check passed against the warehouse." in part.text
    assert "<td><code>user_id</code></td><td>string</td>" in part.text
    assert "<td><code>ts</code></td><td>timestamp</td>" in part.text
    whole = browser.get("/sources/qualifying_event/Checkout/check")
    assert "<h1>Checks of Checkout</h1>" in whole.text


def test_preview_and_daily_chart(browser: Browser, console_app):
    add(console_app, "Checkout")
    preview = browser.get("/sources/qualifying_event/Checkout/preview?fragment=1")
    assert preview.status_code == 200
    assert "The latest 3 rows of the last 7 days" in preview.text
    assert preview.text.count("<td>u1</td>") == 2
    daily = browser.get("/sources/qualifying_event/Checkout/daily?fragment=1")
    assert daily.status_code == 200
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in daily.text
    assert 'role="img"' in daily.text
    assert "3 events from" in daily.text
    assert daily.text.count('class="bar"') == 30
    assert "<td>2</td><td>2</td>" in daily.text  # yesterday: 2 events, 2 users
    whole = browser.get("/sources/qualifying_event/Checkout/daily?start=2020-01-01&end=2020-01-07")
    assert "0 events from 2020-01-01 to 2020-01-07" in whole.text


def test_a_revision_shows_its_diff(browser: Browser, console_app):
    add(console_app, "Checkout")
    service = console_app.state.context.events
    service.patch("Checkout", {"sql": "SELECT user_id, ts\nFROM events", "tags": ["new"]}, ACTOR)
    page = browser.get("/sources/qualifying_event/Checkout/revisions/2")
    assert page.status_code == 200
    assert '<span class="del">-SELECT user_id, ts FROM events</span>' in page.text
    assert '<span class="add">+FROM events</span>' in page.text
    assert '<th scope="row">tags</th>' in page.text
    assert "Restore this revision" not in page.text  # it is the current one
    first = browser.get("/sources/qualifying_event/Checkout/revisions/1")
    assert "Restore this revision" in first.text
    assert browser.get("/sources/qualifying_event/Checkout/revisions/9").status_code == 404


def test_the_audit_log(browser: Browser, console_app):
    add(console_app, "Checkout")
    add(console_app, "Revenue", kind="metrics")
    console_app.state.context.events.delete("Checkout", ACTOR)
    page = browser.get("/audit")
    assert page.status_code == 200
    assert "3 changes, newest first" in page.text
    assert page.text.index("delete") < page.text.index("create")
    only = browser.get("/audit?kind=metric_source")
    assert "1 change," in only.text
    assert "Revenue" in only.text and "Checkout" not in only.text


def test_a_read_only_key_sees_no_edit_controls(reader: Browser, console_app):
    add(console_app, "Checkout")
    listing = reader.get("/sources")
    assert "New qualifying event" not in listing.text
    assert "(read-only)" in listing.text
    page = reader.get("/sources/qualifying_event/Checkout")
    assert "Edit</a>" not in page.text and "Delete</a>" not in page.text
    assert "Restore" not in reader.get("/sources/qualifying_event/Checkout/revisions/1").text


def test_pages_work_at_phone_width_and_without_script(anonymous: Browser):
    page = anonymous.get("/sign-in")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page.text
    assert '<script src="/static/console.js" defer></script>' in page.text
    assert "<script>" not in page.text  # no inline script (the CSP forbids it)
    assert "@media (max-width: 40rem)" in anonymous.get("/static/console.css").text
