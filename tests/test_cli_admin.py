"""CLI: project settings, local event edits (refusing isReadOnly events without --force),
and validate/preview/daily against a local DuckDB warehouse with the demo data."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qualevents.cli import app
from qualevents.reviews import ReviewService
from qualevents.service import QualifyingEventService
from qualevents.warehouse import open_warehouse
from qualevents.warehouse.demo import load_demo
from tests.conftest import seen_by

runner = CliRunner()


def run(*args: str):
    # No warehouse unless a test names one (the default is a DuckDB file in the cwd).
    env = {"QUALEVENTS_DATABASE_URL": "sqlite:///unused", "QUALEVENTS_WAREHOUSE_URL": "none"}
    return runner.invoke(app, list(args), env=env)


def write_event(tmp_path: Path, **fields: object) -> str:
    body = {
        "name": "Log Events",
        "sql": "SELECT * FROM `shoppy-sales.logging.events`",
        "timestampColumn": "ts",
        "idTypeMapping": [{"statsigUnitID": "userID", "column": "user_id"}],
        **fields,
    }
    path = tmp_path / "event.json"
    path.write_text(json.dumps(body))
    return str(path)


def test_settings_set_and_show(store, database_url):
    assert (
        run("settings", "set", "--require-reviews", "--database-url", database_url).exit_code == 0
    )
    assert ReviewService(store, QualifyingEventService(store)).reviews_required()
    shown = run("settings", "show", "--database-url", database_url)
    assert "require-reviews = true" in shown.stdout
    bad = run("settings", "set", "--require-review", "--database-url", database_url)
    assert bad.exit_code == 2 and "No such option" in bad.stderr
    free_text = run("settings", "set", "require-reviews", "yes", "--database-url", database_url)
    assert free_text.exit_code == 2
    off = run("settings", "set", "--no-require-reviews", "--json", "--database-url", database_url)
    assert off.exit_code == 0 and json.loads(off.stdout) == {"requireReviews": False}
    shown = run("settings", "show", "--json", "--database-url", database_url)
    assert json.loads(shown.stdout) == {"requireReviews": False}


def test_events_apply_creates_then_updates_and_records_history(store, database_url, tmp_path):
    path = write_event(tmp_path)
    assert "created" in run("events", "apply", path, "--database-url", database_url).stdout
    path = write_event(tmp_path, description="second")
    assert "updated" in run("events", "apply", path, "--database-url", database_url).stdout
    stored = store.get_event("Log Events")
    assert stored.event.description == "second" and stored.revision == 2
    history = store.list_revisions("Log Events", 0, 10).items
    assert [r.key_name.startswith("cli:") for r in history] == [True, True]


def test_read_only_events_are_refused_locally_without_force(store, database_url, tmp_path):
    run("events", "apply", write_event(tmp_path, isReadOnly=True), "--database-url", database_url)
    changed = write_event(tmp_path, isReadOnly=True, description="local edit")
    refused = run("events", "apply", changed, "--database-url", database_url)
    assert refused.exit_code == 1 and "--force" in refused.stderr
    assert store.get_event("Log Events").event.description == ""
    refused = run("events", "delete", "Log Events", "--yes", "--database-url", database_url)
    assert refused.exit_code == 1 and store.get_event("Log Events") is not None
    with seen_by(store):
        forced = run("events", "apply", changed, "--force", "--database-url", database_url)
    assert forced.exit_code == 0
    assert store.get_event("Log Events").event.description == "local edit"
    with seen_by(store):
        deleted = run(
            "events", "delete", "Log Events", "--force", "--yes", "--database-url", database_url
        )
    assert deleted.exit_code == 0
    assert store.get_event("Log Events") is None


def test_events_apply_reports_invalid_files(store, database_url, tmp_path):
    path = write_event(tmp_path, idTypeMapping=[], bogus=1)
    result = run("events", "apply", path, "--database-url", database_url)
    assert result.exit_code == 1
    assert "bogus" in result.stderr
    assert store.get_event("Log Events") is None


@pytest.fixture
def demo_warehouse(tmp_path: Path) -> str:
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    warehouse = open_warehouse(url)
    assert warehouse is not None
    try:
        load_demo(warehouse, events=5_000)
    finally:
        warehouse.close()
    return url


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"sql": "SELECT * FROM logging.no_such_table"}, "no_such_table"),
        ({"timestampColumn": "tss"}, "Did you mean 'ts'"),
        ({"idTypeMapping": [{"statsigUnitID": "userID", "column": "user_idd"}]}, "user_idd"),
    ],
    ids=["missing table", "missing timestamp column", "missing unit column"],
)
def test_events_apply_validates_against_the_warehouse_like_the_api(
    store, database_url, tmp_path, demo_warehouse, fields, said
):
    common = ("--database-url", database_url, "--warehouse-url", demo_warehouse)
    refused = run("events", "apply", write_event(tmp_path, **fields), *common)
    assert refused.exit_code != 0
    assert said in " ".join(refused.stderr.split())  # rich wraps lines
    assert store.get_event("Log Events", fresh=True) is None
    assert store.list_revisions("Log Events", 0, 10).total == 0
    # The same definition, fixed, goes in.
    applied = run("events", "apply", write_event(tmp_path), *common)
    assert applied.exit_code == 0, applied.stderr
    assert store.get_event("Log Events", fresh=True) is not None


def test_events_apply_without_a_warehouse_still_checks_the_sql(store, database_url, tmp_path):
    refused = run(
        "events",
        "apply",
        write_event(tmp_path, sql="DELETE FROM t"),
        "--database-url",
        database_url,
    )
    assert refused.exit_code != 0 and "Only a single SELECT" in refused.stderr
    assert store.get_event("Log Events", fresh=True) is None


def test_validate_preview_and_daily_locally(store, database_url, tmp_path, demo_warehouse):
    common = ("--database-url", database_url, "--warehouse-url", demo_warehouse)
    good = run("validate", write_event(tmp_path), *common)
    assert good.exit_code == 0, good.stdout
    assert "valid: yes" in good.stdout and "mode: warehouse" in good.stdout
    bad = run("validate", write_event(tmp_path, timestampColumn="tss"), *common)
    assert bad.exit_code == 1
    assert "Did you mean 'ts'" in " ".join(bad.stdout.split())  # rich wraps lines

    run("events", "apply", write_event(tmp_path), "--database-url", database_url)
    preview = run("preview", "Log Events", "--limit", "3", *common)
    assert preview.exit_code == 0 and "user_id" in preview.stdout
    today = date.today()
    daily = run(
        "daily",
        "Log Events",
        "--start",
        (today - timedelta(days=2)).isoformat(),
        "--end",
        today.isoformat(),
        *common,
    )
    assert daily.exit_code == 0
    assert today.isoformat() in daily.stdout and "userID" in daily.stdout
    missing = run("preview", "Nope", *common)
    assert missing.exit_code == 1 and "Nope" in missing.stderr
    rows = json.loads(run("preview", "Log Events", "--limit", "2", "--json", *common).stdout)
    assert len(rows) == 2 and "user_id" in rows[0]
    report = json.loads(run("validate", write_event(tmp_path), "--json", *common).stdout)
    assert report["valid"] is True


@pytest.mark.slow
def test_validate_preview_and_daily_through_a_server(tmp_path, demo_warehouse):
    from qualevents.keys import KeyService
    from qualevents.store import open_store
    from tests.serving import running_server

    database_url = f"sqlite:///{tmp_path / 'remote.db'}"
    store = open_store(database_url)
    secret = KeyService(store).create("cli")[1]
    store.close()
    args = ("--database-url", database_url, "--warehouse-url", demo_warehouse)
    with running_server(tmp_path, *args) as base_url:
        remote = ("--url", base_url, "--api-key", secret)
        good = run("validate", write_event(tmp_path), *remote)
        assert good.exit_code == 0, good.stdout
        assert "valid: yes" in good.stdout and "mode: warehouse" in good.stdout
        bad = run("validate", write_event(tmp_path, timestampColumn="tss"), *remote)
        assert bad.exit_code == 1 and "tss" in bad.stdout

        from qualevents.client import Client

        with Client(base_url, secret) as client:
            client.create_qualifying_event(json.loads(Path(write_event(tmp_path)).read_text()))
        preview = run("preview", "Log Events", "--limit", "2", *remote)
        assert preview.exit_code == 0 and "user_id" in preview.stdout
        today = date.today().isoformat()
        daily = run("daily", "Log Events", "--start", today, "--end", today, *remote)
        assert daily.exit_code == 0 and today in daily.stdout
        unknown = run("preview", "Nope", *remote)
        assert unknown.exit_code == 1
        days = run("daily", "Log Events", "--start", today, "--end", today, "--json", *remote)
        assert json.loads(days.stdout)[0]["date"] == today
        from_env = runner.invoke(
            app,
            ["preview", "Log Events", "--limit", "1", "--json", "--api-key", secret],
            env={"QUALEVENTS_URL": base_url, "QUALEVENTS_DATABASE_URL": "sqlite:///unused"},
        )
        assert from_env.exit_code == 0, from_env.stderr
        assert len(json.loads(from_env.stdout)) == 1
        no_key = runner.invoke(app, ["preview", "Log Events", "--url", base_url], env={})
        assert no_key.exit_code == 2
