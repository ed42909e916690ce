"""The data commands take ``--kind``: the same preview and daily for a metric source as for
a qualifying event, locally against the demo warehouse (SQLite and PostgreSQL stores)."""

from __future__ import annotations

from datetime import date, timedelta

from qualevents.runtime import ensure_demo_sources
from tests.test_cli_admin import demo_warehouse, run  # noqa: F401 (a fixture)


def test_preview_and_daily_of_a_metric_source(store, database_url, demo_warehouse):  # noqa: F811
    ensure_demo_sources(store)
    common = ("--database-url", database_url, "--warehouse-url", demo_warehouse)
    preview = run("preview", "purchases", "--kind", "metric_source", "--limit", "3", *common)
    assert preview.exit_code == 0, preview.stderr
    assert "purchases: preview" in preview.stdout and "user_id" in preview.stdout
    # the name is a metric source's, not a qualifying event's
    wrong = run("preview", "purchases", *common)
    assert wrong.exit_code == 1 and "Qualifying event not found" in wrong.stderr
    today = date.today()
    daily = run(
        "daily",
        "purchases",
        "--kind",
        "metric_source",
        "--start",
        (today - timedelta(days=2)).isoformat(),
        "--end",
        today.isoformat(),
        *common,
    )
    assert daily.exit_code == 0, daily.stderr
    assert "userID" in daily.stdout
    bad = run("preview", "purchases", "--kind", "gate", *common)
    assert bad.exit_code == 2
