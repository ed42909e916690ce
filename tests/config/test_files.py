"""The folder format: what pull writes reads back to the same documents; every problem in a
file is reported with its file, line and column; the shipped JSON Schemas are current and
accept what pull writes."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema_rs
import pytest

from qualevents.errors import FolderInvalid
from qualevents.sync import schema
from qualevents.sync.files import read_folder, render_source, slug, write_folder
from qualevents.sync.kinds import BY_NAME, KINDS
from qualevents.wire import EXAMPLE_ASSIGNMENT_SOURCE

EVENT = {
    "name": "Purchases",
    "description": "Units that bought\nsomething",
    "tags": ["checkout", "core"],
    "sql": "SELECT ts, user_id\nFROM events\nWHERE event_name = 'purchase'\n",
    "timestampColumn": "ts",
    "idTypeMapping": [{"statsigUnitID": "userID", "column": "user_id"}],
    "customFieldMapping": [{"key": "country", "formula": "upper(country)"}],
    "owner": {"ownerID": "k1", "ownerType": "SDK_KEY", "ownerName": "ci"},
    "isReadOnly": True,
}


def folder_with(tmp_path: Path, files: dict[str, str], sync_id: str = "team") -> Path:
    root = tmp_path / "defs"
    (root).mkdir()
    (root / "qualevents.yaml").write_text(f"syncId: {sync_id}\n")
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def problems_of(root: Path) -> list[tuple[str, int, int, str]]:
    with pytest.raises(FolderInvalid) as caught:
        read_folder(root)
    return [
        (e.extra["file"], e.extra["line"], e.extra["column"], e.message)
        for e in caught.value.errors
    ]


def test_written_files_read_back_to_the_documents(tmp_path):
    odd = {
        **EVENT,
        "name": "Odd: name/with [marks] ü",
        "sql": "SELECT 1 AS ts, 'x' AS user_id  \n\t-- trailing spaces and a tab",
    }
    documents = {
        "qualifying_event": [EVENT, odd],
        "metric_source": [{**EVENT, "tags": []}],
        "assignment_source": [EXAMPLE_ASSIGNMENT_SOURCE],
    }
    summary = write_folder(tmp_path / "f", documents, default_sync_id="team")
    assert "qualevents.yaml" in summary.written
    folder = read_folder(tmp_path / "f")
    assert folder.sync_id == "team"
    read = {(s.kind.name, s.name): s.data for s in folder.sources}
    assert read[("qualifying_event", "Purchases")] == EVENT
    assert read[("qualifying_event", odd["name"])] == odd
    assert read[("metric_source", "Purchases")] == {**EVENT, "tags": []}
    assert read[("assignment_source", "exposures")] == EXAMPLE_ASSIGNMENT_SOURCE
    text = (tmp_path / "f" / "qualifying_events" / "purchases.yaml").read_text()
    assert "sql: |\n  SELECT ts, user_id\n  FROM events\n" in text  # a block scalar


def files_of(root: Path) -> dict[Path, tuple[bytes, int]]:
    """Every file's content and modification time."""
    return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def test_writing_twice_changes_no_file(tmp_path):
    documents = {"qualifying_event": [EVENT]}
    write_folder(tmp_path / "f", documents, default_sync_id="team")
    before = files_of(tmp_path / "f")
    again = write_folder(tmp_path / "f", documents, default_sync_id="other")
    assert again.written == []
    assert files_of(tmp_path / "f") == before


def test_a_source_keeps_its_file_and_its_sql_file(tmp_path):
    root = folder_with(
        tmp_path,
        {
            "qualifying_events/my_own_name.yaml": "name: Purchases\ntimestampColumn: ts\n"
            "idTypeMapping: [{statsigUnitID: userID, column: user_id}]\n",
            "qualifying_events/my_own_name.sql": "SELECT 1\n",
        },
    )
    write_folder(root, {"qualifying_event": [EVENT]}, default_sync_id="x")
    assert sorted(p.name for p in (root / "qualifying_events").iterdir()) == [
        "my_own_name.sql",
        "my_own_name.yaml",
    ]
    assert (root / "qualifying_events" / "my_own_name.sql").read_text() == EVENT["sql"]
    (source,) = read_folder(root).sources
    assert source.data == EVENT
    assert source.sql_start is not None and source.sql_start.file.endswith("my_own_name.sql")


def test_slugs_of_names():
    assert slug("Log Events / EU") == "log_events_eu"
    assert slug("???") == "source"


def test_invalid_yaml_is_reported_at_its_line_and_column(tmp_path):
    root = folder_with(
        tmp_path,
        {"qualifying_events/bad.yaml": "name: Bad\nsql: SELECT 1\ntags: [a, b\nteam: x\n"},
    )
    ((file, line, column, message),) = problems_of(root)
    assert file == "qualifying_events/bad.yaml"
    assert (line, column) == (4, 5)  # where "team: x" made the list impossible
    assert "Invalid YAML" in message


def test_a_key_given_twice_is_an_error_at_the_second(tmp_path):
    root = folder_with(
        tmp_path,
        {"metric_sources/twice.yaml": "name: A\nsql: SELECT 1\nname: B\n"},
    )
    problems = problems_of(root)
    assert ("metric_sources/twice.yaml", 3, 1, "'name' is given twice") in problems


def test_fields_that_do_not_fit_are_reported_where_they_are(tmp_path):
    text = (
        "name: Purchases\n"
        "sql: SELECT 1\n"
        "timestampColumn: ts\n"
        "idTypeMapping:\n"
        "  - statsigUnitID: userID\n"
        "    colum: user_id\n"
        "tags: checkout\n"
        "timestampAsDay: maybe\n"
        "managedBy: someone\n"
    )
    root = folder_with(tmp_path, {"qualifying_events/p.yaml": text})
    found = {(line, column): message for _file, line, column, message in problems_of(root)}
    assert "Unknown field 'idTypeMapping.0.colum'" in found[(6, 5)]
    assert "idTypeMapping.0.column: required" in found[(5, 5)]
    assert "tags" in found[(7, 7)]
    assert "timestampAsDay" in found[(8, 17)]
    assert "set by `qualevents apply`" in found[(9, 1)]


def test_two_files_naming_one_source(tmp_path):
    body = "name: Same\nsql: SELECT 1\ntimestampColumn: ts\nidTypeMapping: []\n"
    root = folder_with(
        tmp_path, {"qualifying_events/a.yaml": body, "qualifying_events/b.yaml": body}
    )
    ((file, line, column, message),) = problems_of(root)
    assert (file, line, column) == ("qualifying_events/b.yaml", 1, 7)
    assert "also named by qualifying_events/a.yaml:1" in message
    # one name in two kinds is two sources
    (root / "qualifying_events" / "b.yaml").rename(root / "b.yaml")
    (root / "metric_sources").mkdir()
    (root / "b.yaml").rename(root / "metric_sources" / "b.yaml")
    assert len(read_folder(root).sources) == 2


def test_sql_in_both_places_and_a_lonely_sql_file(tmp_path):
    root = folder_with(
        tmp_path,
        {
            "qualifying_events/a.yaml": "name: A\nsql: SELECT 1\n",
            "qualifying_events/a.sql": "SELECT 2",
            "qualifying_events/b.sql": "SELECT 3",
        },
    )
    found = {(f, line, c): m for f, line, c, m in problems_of(root)}
    assert "given twice" in found[("qualifying_events/a.yaml", 2, 1)]
    assert "No b.yaml beside it" in found[("qualifying_events/b.sql", 1, 1)]


def test_a_folder_without_a_sync_id(tmp_path):
    (tmp_path / "f").mkdir()
    ((file, line, column, message),) = problems_of(tmp_path / "f")
    assert (file, line, column) == ("qualevents.yaml", 1, 1)
    assert "syncId" in message
    (tmp_path / "f" / "qualevents.yaml").write_text("syncId: ''\nextra: 1\n")
    ((_, line, column, message),) = problems_of(tmp_path / "f")
    assert (line, column, "Unknown field 'extra'") == (2, 1, message.split(";")[0])


REST = "timestampColumn: ts\nidTypeMapping: [{statsigUnitID: userID, column: user_id}]\n"


def test_sql_positions_map_to_the_file(tmp_path):
    root = folder_with(
        tmp_path,
        {
            "qualifying_events/block.yaml": "name: A\nsql: |\n    SELECT 1\n    FROM x (\n" + REST,
            "qualifying_events/inline.yaml": "name: B\nsql: 'SELECT ('\n" + REST,
        },
    )
    folder = read_folder(root)
    block, inline = folder.find("qualifying_event", "A"), folder.find("qualifying_event", "B")
    assert block and inline
    assert str(block.sql_position(2, 8)) == "qualifying_events/block.yaml:4:12"
    assert str(inline.sql_position(1, 8)) == "qualifying_events/inline.yaml:2:14"
    assert str(block.position_of_property("idTypeMapping[0].column")) == (
        "qualifying_events/block.yaml:6:49"
    )


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_the_shipped_schema_is_current(kind):
    shipped = (schema.SHIPPED / f"{kind.name}.schema.json").read_text()
    assert shipped == schema.shipped_text(kind), "run: python -m qualevents.sync.schema"


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_the_schema_accepts_what_pull_writes_and_refuses_what_read_refuses(kind):
    import yaml

    validator = jsonschema_rs.validator_for(json.loads(schema.shipped_text(kind)))
    sample = EXAMPLE_ASSIGNMENT_SOURCE if kind.name == "assignment_source" else EVENT
    written = yaml.safe_load(render_source(BY_NAME[kind.name], sample))
    assert written == sample
    assert validator.is_valid(written)
    assert not validator.is_valid({**written, "managedBy": "x"})
    assert not validator.is_valid({**written, "colum": "x"})
    without_sql = {k: v for k, v in written.items() if k != "sql"}
    assert validator.is_valid(without_sql)  # the SQL may be in a .sql file


def test_a_file_that_is_not_utf8(tmp_path):
    root = folder_with(tmp_path, {})
    (root / "metric_sources").mkdir()
    (root / "metric_sources" / "latin.yaml").write_bytes(b"sql: x\nname: caf\xe9\n")
    assert problems_of(root) == [("metric_sources/latin.yaml", 2, 10, "Not UTF-8 text")]


def test_aliases_are_refused(tmp_path):
    lol = "a: &a [x, x, x]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\n"
    root = folder_with(tmp_path, {"qualifying_events/lol.yaml": lol})
    found = problems_of(root)
    assert found[0][:3] == ("qualifying_events/lol.yaml", 1, 4)  # the anchor used again
    assert all(message == "YAML aliases (*name) are not supported" for *_, message in found)
