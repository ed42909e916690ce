"""The commands take ``--kind``: the same preview and daily for a metric source as for a
qualifying event, and every verb (events list/show/apply/delete, validate, preview,
experiments) for an assignment source, locally against the demo warehouse (SQLite and
PostgreSQL stores) and through a real server (``--url``)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

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


def _write(tmp_path, body: dict) -> str:
    import json

    path = tmp_path / "source.json"
    path.write_text(json.dumps(body))
    return str(path)


def _assignment_verbs(tmp_path, common: tuple[str, ...]) -> None:
    """list, show, validate, preview, experiments and delete of the demo assignment source
    (created by ``ensure_demo_sources``), with ``common`` options (local or ``--url``)."""
    import json

    from qualevents.warehouse.demo import ASSIGNMENT_SOURCE_BODY

    kind = ("--kind", "assignment_source")
    name = str(ASSIGNMENT_SOURCE_BODY["name"])
    data_options = common
    listed = run("events", "list", *kind, "--json", *_store_only(common))
    assert listed.exit_code == 0, listed.stderr
    assert [item["name"] for item in json.loads(listed.stdout)] == [name]
    shown = run("events", "show", name, *kind, *_store_only(common))
    assert shown.exit_code == 0, shown.stderr
    assert json.loads(shown.stdout)["experimentIDColumn"] == "experiment_name"
    fine = _write(tmp_path, {**ASSIGNMENT_SOURCE_BODY, "name": "checked"})
    valid = run("validate", fine, *kind, "--json", *data_options)
    assert valid.exit_code == 0, valid.stdout + valid.stderr
    wrong = _write(tmp_path, {**ASSIGNMENT_SOURCE_BODY, "groupIDColumn": "grp"})
    invalid = run("validate", wrong, *kind, *data_options)
    assert invalid.exit_code == 1 and "groupIDColumn" in invalid.stdout
    preview = run("preview", name, *kind, "--limit", "2", "--days", "60", "--json", *data_options)
    assert preview.exit_code == 0, preview.stderr
    assert "experiment_name" in json.loads(preview.stdout)[0]
    scanned = run("experiments", name, "--json", *data_options)
    assert scanned.exit_code == 0, scanned.stderr
    experiments = json.loads(scanned.stdout)
    assert len(experiments) >= 3 and {"experimentID", "groups"} <= set(experiments[0])
    table = run("experiments", name, *data_options)
    assert table.exit_code == 0 and f"{name}: groups" in table.stdout
    unknown = run("experiments", name, "--unit-type", "stableID", *data_options)
    assert unknown.exit_code == 1 and "userID" in unknown.stderr
    deleted = run("events", "delete", name, *kind, "--yes", *_store_only(common))
    assert deleted.exit_code == 0, deleted.stderr
    gone = run("events", "show", name, *kind, *_store_only(common))
    assert gone.exit_code == 1 and "Assignment source not found" in gone.stderr


def _store_only(common: tuple[str, ...]) -> tuple[str, ...]:
    """The options of ``common`` that the events commands take (no --warehouse-url)."""
    if "--warehouse-url" not in common:
        return common
    at = common.index("--warehouse-url")
    return common[:at] + common[at + 2 :]


def test_every_verb_for_an_assignment_source_locally(
    tmp_path,
    store,
    database_url,
    demo_warehouse,  # noqa: F811
):
    from qualevents.warehouse.demo import ASSIGNMENT_SOURCE_BODY

    ensure_demo_sources(store)
    common = ("--database-url", database_url, "--warehouse-url", demo_warehouse)
    _assignment_verbs(tmp_path, common)
    # events apply takes the kind too (and a file of the kind's body)
    applied = run(
        "events",
        "apply",
        _write(tmp_path, ASSIGNMENT_SOURCE_BODY),
        "--kind",
        "assignment_source",
        *common,
    )
    assert applied.exit_code == 0, applied.stderr
    assert "created" in applied.stdout
    refused = run("events", "apply", _write(tmp_path, ASSIGNMENT_SOURCE_BODY), *common)
    assert refused.exit_code == 1 and "experimentIDColumn" in refused.stderr


@pytest.mark.slow
def test_every_verb_for_an_assignment_source_through_a_server(
    tmp_path,
    demo_warehouse,  # noqa: F811
):
    from qualevents.keys import KeyService
    from qualevents.store import open_store
    from tests.serving import running_server

    database_url = f"sqlite:///{tmp_path / 'remote.db'}"
    store = open_store(database_url)
    secret = KeyService(store).create("cli")[1]
    ensure_demo_sources(store)
    store.close()
    args = ("--database-url", database_url, "--warehouse-url", demo_warehouse)
    with running_server(tmp_path, *args) as base_url:
        _assignment_verbs(tmp_path, ("--url", base_url, "--api-key", secret))
