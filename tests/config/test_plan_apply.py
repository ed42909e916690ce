"""``pull``, ``plan`` and ``apply`` against a local database (SQLite and PostgreSQL) and the
demo warehouse: round trips, each kind of change, conflicts between plan and apply, all or
nothing, prune, read-only marks, reviews and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

from qualevents.errors import NameInUse, PreconditionFailed
from qualevents.store.base import BatchChange
from tests.config.conftest import ACTOR, event_file
from tests.factories import event

DEMO_EVENT = "added_to_cart"
DEMO_METRIC_SOURCE = "purchases"
DEMO_ASSIGNMENT_SOURCE = "shoppy_exposures"


def plan_json(local, folder, *args):
    result = local("plan", str(folder), "--json", *args)
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def test_pull_then_plan_shows_nothing(local, pulled, tmp_path):
    assert (pulled / "qualifying_events" / f"{DEMO_EVENT}.yaml").exists()
    assert (pulled / "metric_sources" / f"{DEMO_METRIC_SOURCE}.yaml").exists()
    assert (pulled / "assignment_sources" / f"{DEMO_ASSIGNMENT_SOURCE}.yaml").exists()
    result = local("plan", str(pulled), "--detailed-exitcode")
    assert result.exit_code == 0, result.output
    assert "No changes. 3 source(s) match the folder." in result.stdout
    again = local.pull(pulled, "--json")
    assert json.loads(again.stdout)["written"] == []


def test_pull_by_kind_and_tag(local, tmp_path):
    local.create({**json.loads(json.dumps(_body("Tagged"))), "tags": ["core"]})
    result = local.pull(tmp_path / "t", "--tag", "core")
    assert result.exit_code == 0, result.output
    assert [p.name for p in (tmp_path / "t" / "qualifying_events").iterdir()] == ["tagged.yaml"]
    assert not (tmp_path / "t" / "metric_sources").exists()
    only = local.pull(tmp_path / "m", "--kind", "metric_source")
    assert only.exit_code == 0
    assert not (tmp_path / "m" / "qualifying_events").exists()
    assert (tmp_path / "m" / "metric_sources" / "purchases.yaml").exists()


def _body(name: str) -> dict:
    return {
        "name": name,
        "sql": "SELECT ts, user_id FROM shoppy-sales.logging.events",
        "timestampColumn": "ts",
        "idTypeMapping": [{"statsigUnitID": "userID", "column": "user_id"}],
    }


def test_create_update_and_delete(local, pulled, tmp_path):
    new = pulled / "metric_sources" / "orders.yaml"
    new.write_text(event_file("Orders"))
    demo = pulled / "qualifying_events" / f"{DEMO_EVENT}.yaml"
    demo.write_text(demo.read_text().replace("'add_to_cart'", "'add_to_cart' AND price_usd > 1"))
    plan_file = tmp_path / "plan.json"
    result = local("plan", str(pulled), "--out", str(plan_file), "--detailed-exitcode")
    assert result.exit_code == 2, result.output
    out = result.stdout
    assert "+ create metric source 'Orders'" in out
    assert f"~ update qualifying event '{DEMO_EVENT}' (revision 1)" in out
    assert "      +SELECT" in out and "AND price_usd > 1" in out  # a unified diff of the SQL
    assert out.count("valid (warehouse)") == 2
    assert "Plan: 1 to create, 1 to update, 0 to delete; 2 unchanged." in out
    assert local.get("Orders", "metric_source") is None  # plan writes nothing

    applied = local("apply", str(plan_file))
    assert applied.exit_code == 0, applied.output
    assert "Applied 2 change(s)." in applied.stdout
    orders = local.get("Orders", "metric_source")
    assert orders.revision == 1
    assert orders.event.managed_by == "analytics" and orders.event.is_read_only is True
    updated = local.get(DEMO_EVENT)
    assert "price_usd > 1" in updated.event.sql and updated.revision == 2
    assert local("plan", str(pulled), "--detailed-exitcode").exit_code == 0

    # delete: only with --prune, only what this folder manages
    new.unlink()
    assert local("plan", str(pulled), "--detailed-exitcode").exit_code == 0
    pruned = plan_json(local, pulled, "--prune")
    assert [(c["action"], c["name"]) for c in pruned["changes"]] == [("delete", "Orders")]
    refused = local("apply", str(pulled), "--prune")
    assert refused.exit_code == 2 and "Refusing without --yes" in refused.output
    assert local.get("Orders", "metric_source") is not None
    done = local("apply", str(pulled), "--prune", "--yes")
    assert done.exit_code == 0, done.output
    assert local.get("Orders", "metric_source") is None
    assert local.service("metric_source").revision("Orders", 2).action == "delete"


def test_prune_leaves_sources_it_does_not_manage(local, pulled):
    local.create(_body("Made by hand"))
    (pulled / "qualifying_events" / f"{DEMO_EVENT}.yaml").unlink()
    plan = plan_json(local, pulled, "--prune")
    assert plan["changes"] == []
    assert {(s["kind"], s["name"]) for s in plan["leftAlone"]} == {
        ("qualifying_event", DEMO_EVENT),
        ("qualifying_event", "Made by hand"),
    }
    result = local("apply", str(pulled), "--prune", "--yes")
    assert result.exit_code == 0 and "No changes to apply." in result.stdout
    assert local.get(DEMO_EVENT) is not None and local.get("Made by hand") is not None


def test_a_change_made_between_plan_and_apply_fails_loudly(local, pulled, tmp_path):
    demo = pulled / "qualifying_events" / f"{DEMO_EVENT}.yaml"
    demo.write_text(demo.read_text().replace("description: ", "description: From git. "))
    plan_file = tmp_path / "plan.json"
    assert local("plan", str(pulled), "--out", str(plan_file)).exit_code == 0
    stored = local.get(DEMO_EVENT)
    local.service().update(
        DEMO_EVENT, stored.event.model_copy(update={"description": "edited in the UI"}), ACTOR
    )
    result = local("apply", str(plan_file))
    assert result.exit_code == 1
    assert "is at revision 2, the plan was made on revision 1" in result.stderr
    assert "nothing was applied" in result.stderr
    assert local.get(DEMO_EVENT).event.description == "edited in the UI"


def test_a_conflict_on_the_third_change_leaves_the_first_two_unapplied(local, pulled, tmp_path):
    (pulled / "qualifying_events" / "a.yaml").write_text(event_file("A"))
    (pulled / "qualifying_events" / "b.yaml").write_text(event_file("B"))
    demo = pulled / "metric_sources" / f"{DEMO_METRIC_SOURCE}.yaml"
    demo.write_text(demo.read_text().replace("description: ", "description: New. "))
    plan_file = tmp_path / "plan.json"
    assert local("plan", str(pulled), "--out", str(plan_file)).exit_code == 0
    saved = json.loads(plan_file.read_text())["plan"]
    assert [c["name"] for c in saved["changes"]][-1] == DEMO_METRIC_SOURCE
    local.service("metric_source").patch(DEMO_METRIC_SOURCE, {"tags": ["moved"]}, ACTOR)
    result = local("apply", str(plan_file))
    assert result.exit_code == 1, result.output
    assert local.get("A") is None and local.get("B") is None
    assert local.get(DEMO_METRIC_SOURCE, "metric_source").event.tags == ["moved"]


def test_the_store_applies_a_batch_in_one_transaction(store):
    store.create_event(event("Third"), ACTOR)
    batch = [
        BatchChange("qualifying_event", "create", "First", event("First")),
        BatchChange("metric_source", "create", "Second", event("Second")),
        BatchChange("qualifying_event", "update", "Third", event("Third", "x"), 7),
    ]
    try:
        store.apply_changes(batch, ACTOR)
    except PreconditionFailed as exc:
        assert "not 7" in exc.message
    else:
        raise AssertionError("the stale revision was accepted")
    assert store.get_event("First", fresh=True) is None
    assert store.for_kind("metric_source").get_event("Second", fresh=True) is None
    store.create_event(event("First"), ACTOR)
    batch[2] = BatchChange("qualifying_event", "update", "Third", event("Third", "x"), 1)
    try:
        store.apply_changes(batch, ACTOR)
    except NameInUse:
        pass
    else:
        raise AssertionError("a create of an existing name was accepted")
    assert store.get_event("Third", fresh=True).revision == 1
    batch[0] = BatchChange("qualifying_event", "delete", "First", None, 1)
    written = store.apply_changes(batch, ACTOR)
    assert [w.revision if w else None for w in written] == [None, 1, 2]
    assert store.get_event("First", fresh=True) is None


def test_bad_sql_is_reported_at_its_file_line_and_column(local, pulled):
    bad = pulled / "qualifying_events" / "bad.yaml"
    bad.write_text(
        event_file("Bad", "SELECT ts, user_id\nFROM shoppy-sales.logging.events\nWHERE (")
    )
    result = local("plan", str(pulled), "--detailed-exitcode")
    assert result.exit_code == 1
    assert "error qualifying_events/bad.yaml:5:9: sql: Syntax error near '('" in result.stdout
    plan = plan_json(local, pulled)
    (item,) = (
        plan["changes"][0]["validation"]["errors"]
        if plan["changes"][0]["validation"]
        else (plan["changes"][0]["errors"])
    )
    assert (item["file"], item["fileLine"], item["fileColumn"]) == (
        "qualifying_events/bad.yaml",
        5,
        9,
    )
    assert local("apply", str(pulled), "--yes").exit_code == 1
    assert local.get("Bad") is None


def test_a_warehouse_problem_points_at_the_field(local, pulled):
    bad = pulled / "qualifying_events" / "cols.yaml"
    bad.write_text(event_file("Cols").replace("timestampColumn: ts", "timestampColumn: tss"))
    result = local("plan", str(pulled))
    assert result.exit_code == 1
    assert "qualifying_events/cols.yaml:4:18: timestampColumn:" in result.stdout


def test_bad_yaml_stops_the_plan_with_its_position(local, pulled):
    (pulled / "qualifying_events" / "broken.yaml").write_text("name: [Broken\n")
    result = local("plan", str(pulled), "--detailed-exitcode")
    assert result.exit_code == 1
    assert "qualifying_events/broken.yaml:2:1: Invalid YAML" in result.stderr
    as_json = local("plan", str(pulled), "--json")
    assert as_json.exit_code == 1
    (item,) = json.loads(as_json.stdout)["errors"]
    assert (item["file"], item["line"], item["column"]) == ("qualifying_events/broken.yaml", 2, 1)


def test_read_only_marks_and_owner(local, pulled):
    (pulled / "qualifying_events" / "a.yaml").write_text(event_file("A"))
    (pulled / "qualifying_events" / "b.yaml").write_text(event_file("B") + "isReadOnly: false\n")
    assert local("apply", str(pulled), "--yes").exit_code == 0
    assert local.get("A").event.is_read_only is True
    assert local.get("B").event.is_read_only is False
    (pulled / "qualifying_events" / "c.yaml").write_text(event_file("C"))
    assert local("apply", str(pulled), "--yes", "--no-read-only").exit_code == 0
    assert local.get("C").event.is_read_only is None
    # apply manages what it owns whatever isReadOnly says
    (pulled / "qualifying_events" / "a.yaml").write_text(event_file("A") + "description: v2\n")
    assert local("apply", str(pulled), "--yes").exit_code == 0
    assert local.get("A").event.description == "v2"
    # a full update through the service keeps the folder's mark
    stored = local.get("A")
    local.service().update("A", stored.event.model_copy(update={"managed_by": None}), ACTOR)
    assert local.get("A").event.managed_by == "analytics"


def test_a_source_another_folder_manages_is_refused(local, pulled, tmp_path):
    (pulled / "qualifying_events" / "a.yaml").write_text(event_file("A"))
    assert local("apply", str(pulled), "--yes").exit_code == 0
    other = tmp_path / "other"
    (other / "qualifying_events").mkdir(parents=True)
    (other / "qualevents.yaml").write_text("syncId: billing\n")
    (other / "qualifying_events" / "a.yaml").write_text(event_file("A") + "description: mine\n")
    result = local("plan", str(other))
    assert result.exit_code == 1
    assert "Managed by the folder with syncId 'analytics'" in result.stdout
    assert local("apply", str(other), "--yes").exit_code == 1
    assert local.get("A").event.description == ""


def test_a_read_only_source_managed_elsewhere_is_refused(local, pulled):
    body = _body("Terraformed")
    local.create({**body, "sql": body["sql"] + "\n", "isReadOnly": True})
    (pulled / "qualifying_events" / "t.yaml").write_text(
        event_file("Terraformed") + "isReadOnly: true\ndescription: ours\n"
    )
    result = local("plan", str(pulled))
    assert result.exit_code == 1
    assert "Marked isReadOnly and not managed by this folder" in result.stdout
    assert local("apply", str(pulled), "--yes").exit_code == 1
    assert local.get("Terraformed").event.description == ""
    # stating it unchanged is no change, so no error
    (pulled / "qualifying_events" / "t.yaml").write_text(
        event_file("Terraformed") + "isReadOnly: true\n"
    )
    assert local("plan", str(pulled), "--detailed-exitcode").exit_code == 0


def test_reviews_open_change_requests(local, pulled):
    assert local("settings", "set", "--require-reviews", warehouse=False).exit_code == 0
    (pulled / "qualifying_events" / "a.yaml").write_text(event_file("A"))
    result = local("apply", str(pulled), "--yes")
    assert result.exit_code == 0, result.output
    assert "Opened 1 change request(s); nothing applied yet." in result.stdout
    assert local.get("A") is None
    (request,) = local.store.list_change_requests(0, 10).items
    assert (request.action, request.event_name, request.payload["managed_by"]) == (
        "create",
        "A",
        "analytics",
    )


def test_apply_refuses_a_plan_made_elsewhere_and_other_files(local, pulled, tmp_path):
    plan_file = tmp_path / "plan.json"
    assert local("plan", str(pulled), "--out", str(plan_file)).exit_code == 0
    saved = json.loads(plan_file.read_text())
    plan_file.write_text(json.dumps({**saved, "target": "sqlite:///elsewhere.db"}))
    result = local("apply", str(plan_file))
    assert result.exit_code == 1 and "was planned against sqlite:///elsewhere.db" in result.stderr
    (tmp_path / "junk.json").write_text("{}")
    assert local("apply", str(tmp_path / "junk.json")).exit_code == 1
    assert local("plan", str(tmp_path / "nowhere")).exit_code == 1


def test_detailed_exit_codes_make_usage_errors_1(tmp_path):
    env = {"QUALEVENTS_DATABASE_URL": f"sqlite:///{tmp_path / 'q.db'}", "PATH": ""}
    command = [sys.executable, "-m", "qualevents", "plan", str(tmp_path), "--detailed-exitcode"]
    usage = subprocess.run([*command, "--no-such-option"], env=env, capture_output=True)
    assert usage.returncode == 1, usage.stderr
    plain = subprocess.run([*command[:-1], "--no-such-option"], env=env, capture_output=True)
    assert plain.returncode == 2
    (tmp_path / "qualevents.yaml").write_text("syncId: x\n")
    empty = subprocess.run(
        [*command, "--warehouse-url", "none"], env=env, capture_output=True, text=True
    )
    assert empty.returncode == 0, empty.stderr
    assert "No changes" in empty.stdout


def test_a_name_the_kind_reserves(local, pulled):
    (pulled / "metric_sources" / "list.yaml").write_text(event_file("list"))
    result = local("plan", str(pulled))
    assert result.exit_code == 1 and "'list' is reserved" in result.stdout


def test_assignment_sources_are_planned_and_applied(local, pulled, tmp_path):
    folder = pulled / "assignment_sources"
    demo = folder / f"{DEMO_ASSIGNMENT_SOURCE}.yaml"
    demo.write_text(demo.read_text().replace("groupNameColumn: group_name\n", ""))
    (folder / "second.yaml").write_text(
        demo.read_text().replace(f"name: {DEMO_ASSIGNMENT_SOURCE}", "name: Second")
    )
    (folder / "broken.yaml").write_text(
        demo.read_text()
        .replace(f"name: {DEMO_ASSIGNMENT_SOURCE}", "name: Broken")
        .replace("groupIDColumn: group_id", "groupIDColumn: nope")
    )
    result = local("plan", str(pulled))
    assert result.exit_code == 1
    out = result.stdout
    assert f"~ update assignment source '{DEMO_ASSIGNMENT_SOURCE}' (revision 1)" in out
    assert '    groupNameColumn: "group_name" -> (unset)' in out
    assert "+ create assignment source 'Second'" in out
    assert "error assignment_sources/broken.yaml:" in out and "groupIDColumn" in out
    (folder / "broken.yaml").unlink()
    assert local("apply", str(pulled), "--yes").exit_code == 0
    second = local.get("Second", "assignment_source")
    assert second.event.managed_by == "analytics" and second.event.experiment_id_column
    assert local.get(DEMO_ASSIGNMENT_SOURCE, "assignment_source").event.group_name_column is None
    assert local("plan", str(pulled), "--detailed-exitcode").exit_code == 0
    (folder / "second.yaml").unlink()
    pruned = plan_json(local, pulled, "--prune")
    assert [(c["kind"], c["action"], c["name"]) for c in pruned["changes"]] == [
        ("assignment_source", "delete", "Second")
    ]
