"""Against real servers on free loopback ports: ``plan`` and ``apply`` with ``--url`` print
what they print locally, and ``import --from-statsig`` copies every kind from a second
qualevents server standing in for Statsig (paging through more than one page, waiting out
its 429s) into a folder and into a qualevents server, saying what it could not carry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qualevents.cli import app
from qualevents.keys import KeyService
from qualevents.runtime import ensure_demo_sources
from qualevents.store import open_store
from qualevents.sync.files import read_folder
from qualevents.wire import EXAMPLE_ASSIGNMENT_SOURCE
from tests.config.conftest import ACTOR, Local, event_file
from tests.serving import running_server
from tests.test_cli_admin import demo_warehouse  # noqa: F401 (a fixture)

# Starts real servers: deselect with -m "not slow".
pytestmark = pytest.mark.slow
runner = CliRunner()
ENV = {"QUALEVENTS_DATABASE_URL": "sqlite:///unused", "QUALEVENTS_WAREHOUSE_URL": "none"}


def cli(*args: str):
    return runner.invoke(app, list(args), env=ENV)


def database_with_key(path: Path) -> tuple[str, str, object]:
    url = f"sqlite:///{path}"
    store = open_store(url, cache=False)
    return url, KeyService(store).create("e2e")[1], store


def test_remote_plan_and_apply_print_what_local_ones_do(tmp_path):
    url, key, store = database_with_key(tmp_path / "q.db")
    ensure_demo_sources(store)
    local = Local(url, "none", store)
    folder = tmp_path / "defs"
    assert local.pull(folder).exit_code == 0
    (folder / "qualifying_events" / "a.yaml").write_text(event_file("A"))
    demo = folder / "metric_sources" / "purchases.yaml"
    demo.write_text(demo.read_text().replace("description: ", "description: New. "))
    with running_server(tmp_path, "--database-url", url, "--warehouse-url", "none") as server:
        remote = ("--url", server, "--api-key", key)
        here = local("plan", str(folder))
        there = cli("plan", str(folder), *remote)
        assert here.exit_code == there.exit_code == 0, there.output
        assert there.stdout == here.stdout
        assert "valid (static)" in there.stdout
        pulled = cli("pull", str(tmp_path / "remote"), *remote)
        assert pulled.exit_code == 0, pulled.output
        assert sorted(p.name for p in (tmp_path / "remote").rglob("*.yaml")) == sorted(
            p.name for p in folder.rglob("*.yaml") if p.name != "a.yaml"
        )
        plan_file = tmp_path / "plan.json"
        assert cli("plan", str(folder), "--out", str(plan_file), *remote).exit_code == 0
        local_apply = local("apply", str(plan_file))
        assert local_apply.exit_code == 1 and "was planned against" in local_apply.stderr
        # someone edits the metric source meanwhile: the remote apply refuses, applies nothing
        source = local.service("metric_source")
        source.patch("purchases", {"tags": ["edited"]}, ACTOR)
        stale = cli("apply", str(plan_file), *remote)
        assert stale.exit_code == 1
        assert "the plan was made on revision 1: it changed since" in stale.stderr
        assert local.get("A") is None
        assert cli("plan", str(folder), "--out", str(plan_file), *remote).exit_code == 0
        done = cli("apply", str(plan_file), *remote, "--json")
        assert done.exit_code == 0, done.output
        applied = json.loads(done.stdout)["applied"]
        assert {(c["action"], c["name"]) for c in applied} == {
            ("create", "A"),
            ("update", "purchases"),
        }
        assert local.get("A").event.managed_by == read_folder(folder).sync_id
        again = cli("plan", str(folder), *remote, "--detailed-exitcode")
        assert again.exit_code == 0, again.output
        no_key = runner.invoke(app, ["plan", str(folder), "--url", server], env=ENV)
        assert no_key.exit_code == 2


def seed_statsig(store) -> None:
    local = Local("", "none", store)
    for n in range(5):
        local.create(
            {
                "name": f"Event {n}",
                "sql": "SELECT ts, user_id FROM shoppy-sales.logging.events",
                "timestampColumn": "ts",
                "idTypeMapping": [{"statsigUnitID": "userID", "column": "user_id"}],
                "tags": ["imported"],
            }
        )
    for n in range(3):
        local.create(
            {
                "name": f"Source {n}",
                "sql": "SELECT ts, user_id FROM shoppy-sales.logging.events",
                "timestampColumn": "ts",
                "idTypeMapping": [{"statsigUnitID": "userID", "column": "user_id"}],
            },
            "metric_source",
        )
    # a table the target's warehouse does not have: the target refuses it
    local.create(
        {
            "name": "Elsewhere",
            "sql": "SELECT ts, user_id FROM nowhere.at_all",
            "timestampColumn": "ts",
            "idTypeMapping": [{"statsigUnitID": "userID", "column": "user_id"}],
        },
        "metric_source",
    )
    for n in range(2):
        local.create({**EXAMPLE_ASSIGNMENT_SOURCE, "name": f"Exposures {n}"}, "assignment_source")


def test_import_from_statsig(tmp_path, demo_warehouse):  # noqa: F811
    statsig_db, statsig_key, statsig_store = database_with_key(tmp_path / "statsig.db")
    seed_statsig(statsig_store)
    target_db, target_key, target_store = database_with_key(tmp_path / "target.db")
    statsig_args = ("--database-url", statsig_db, "--warehouse-url", "none")
    # Statsig's limit, tightened: 3 requests a second, so paging at 2 a page is refused
    with running_server(tmp_path, *statsig_args, "--rate-limit", "3/1") as statsig:
        source = (
            "--from-statsig",
            "--statsig-url",
            statsig,
            "--statsig-api-key",
            statsig_key,
            "--page-size",
            "2",
            "--statsig-rate-limit",
            "1000/1",  # do not pace: meet the 429s
        )
        into_folder = cli("import", str(tmp_path / "imported"), *source, "--json")
        assert into_folder.exit_code == 0, into_folder.output
        report = json.loads(into_folder.stdout)
        assert report["copied"] == {
            "qualifying_event": 5,
            "metric_source": 4,
            "assignment_source": 2,
        }
        assert report["rateLimited"] >= 1 and report["rateLimitWaitSeconds"] >= 1
        assert report["notCarried"] == [] and report["droppedFields"] == {}
        folder = read_folder(tmp_path / "imported")
        assert len(folder.sources) == 11
        event = folder.find("qualifying_event", "Event 3")
        assert event is not None and event.data["tags"] == ["imported"]
        assert event.data["owner"]["ownerName"] == "test"

        target_args = ("--database-url", target_db, "--warehouse-url", demo_warehouse)
        with running_server(tmp_path, *target_args) as target:
            into_server = cli("import", *source, "--url", target, "--api-key", target_key)
            assert into_server.exit_code == 1, into_server.output
            out = into_server.stdout
            assert "Read 5 qualifying event(s), 4 metric source(s), 2 assignment source(s)" in out
            assert "Not carried:" in out and "metric source 'Elsewhere'" in out
            assert "answered 429" in out
            stored = target_store.for_kind("assignment_source").get_event("Exposures 1")
            assert stored is not None and stored.event.group_id_column == "group_id"
            assert target_store.get_event("Event 4") is not None
            again = cli("import", *source, "--url", target, "--api-key", target_key, "--json")
            assert json.loads(again.stdout)["written"] == {
                "qualifying_event": 0,
                "metric_source": 0,
                "assignment_source": 0,
            }


def test_import_needs_its_options(tmp_path):
    assert cli("import", str(tmp_path)).exit_code == 2
    assert cli("import", "--from-statsig", "--statsig-api-key", "k").exit_code == 2
    both = cli(
        "import", str(tmp_path), "--from-statsig", "--statsig-api-key", "k", "--url", "http://x"
    )
    assert both.exit_code == 2
