"""The fixture of Statsig's contract (tests/fixtures/statsig_contract.json) holds what the
suites rely on, for every kind of source, and says where it came from. A regenerated
fixture that lost a kind, an operation or a fact fails here, not in a later suite."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema_rs
import pytest

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "statsig_contract.json"
CONTRACT = json.loads(FIXTURE.read_text())
QE = "/console/v1/experiments/qualifying_events"
MS = "/console/v1/metrics/metric_source"
AS = "/console/v1/experiments/assignment_source"


def operations(kind: str) -> dict[tuple[str, str], dict]:
    return {(op["method"], op["path"]): op for op in CONTRACT["kinds"][kind]["operations"]}


def test_provenance_names_each_source_file_and_its_digest():
    sources = CONTRACT["provenance"]["sources"]
    assert {s["file"] for s in sources} == {
        "statsig-qualifying-events.openapi.json",
        "statsig-sources.openapi.json",
    }
    for source in sources:
        assert len(source["sha256"]) == 64
        assert "statsig-io/docs" in source["x-provenance"]
        assert source["apiVersion"].startswith("20240601")


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (
            "qualifying_events",
            {
                ("GET", QE),
                ("POST", QE),
                ("GET", QE + "/{name}"),
                ("POST", QE + "/{name}"),
                ("DELETE", QE + "/{name}"),
            },
        ),
        (
            "metric_sources",
            {
                ("GET", MS + "/list"),
                ("POST", MS),
                ("GET", MS + "/{name}"),
                ("POST", MS + "/{name}"),
                ("DELETE", MS + "/{name}"),
            },
        ),
        (
            "assignment_sources",
            {
                ("GET", AS + "s"),
                ("POST", AS + "s"),
                ("POST", AS + "/{name}"),
                ("PATCH", AS + "/{name}"),
                ("DELETE", AS + "/{name}"),
            },
        ),
    ],
)
def test_every_kind_has_its_operations_each_success_with_a_message(kind, expected):
    found = operations(kind)
    assert set(found) == expected
    for op in found.values():
        successes = [s for s in op["responses"] if s.startswith("2")]
        assert successes, op["path"]
        for status in successes:
            assert op["responses"][status]["message"], (op["method"], op["path"], status)


@pytest.mark.parametrize(
    ("kind", "method", "path", "required"),
    [
        ("qualifying_events", "POST", QE, {"name", "sql", "timestampColumn", "idTypeMapping"}),
        ("qualifying_events", "POST", QE + "/{name}", {"sql", "timestampColumn", "idTypeMapping"}),
        ("metric_sources", "POST", MS, {"name", "sql", "timestampColumn", "idTypeMapping"}),
        (
            "assignment_sources",
            "POST",
            AS + "s",
            {
                "name",
                "sql",
                "timestampColumn",
                "experimentIDColumn",
                "groupIDColumn",
                "idTypeMapping",
            },
        ),
    ],
)
def test_request_bodies_keep_their_required_lists(kind, method, path, required):
    body = operations(kind)[(method, path)]["requestBody"]["schema"]
    assert set(body["required"]) == required
    assert required <= set(body["properties"])


def test_schemas_are_plain_json_schema():
    """Inlined (no $ref) and nullable turned into a null type: jsonschema alone reads them."""
    text = FIXTURE.read_text()
    assert "$ref" not in text and '"nullable"' not in text
    read = operations("qualifying_events")[("GET", QE + "/{name}")]["responses"]["200"]
    event = {
        "name": "Log Events",
        "description": "",
        "sql": "SELECT 1",
        "timestampColumn": "ts",
        "idTypeMapping": [{"statsigUnitID": "userID", "column": "user_id"}],
        "owner": None,
    }
    body = {"message": read["message"], "data": event}
    jsonschema_rs.validate(read["schema"], body)
    with pytest.raises(jsonschema_rs.ValidationError):
        jsonschema_rs.validate(read["schema"], {**body, "data": {**event, "sql": 1}})
