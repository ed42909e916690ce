"""Our answers against the facts of Statsig's published contract, read from the fixture the
project writes (``tests/fixtures/statsig_contract.json``, provenance inside): every Statsig
operation is in our generated ``/openapi.json`` with Statsig's parameters, body fields and
required lists; every documented success and error answers with a body Statsig's schema
accepts and Statsig's message; and a bounded, deterministic schemathesis run over OUR
document's inputs for those operations never gets a 5xx or a body outside Statsig's schemas."""

from __future__ import annotations

import json
import tempfile
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jsonschema_rs
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from starlette.testclient import TestClient

from qualevents.api.app import create_app
from qualevents.config import Settings
from qualevents.store import open_store

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "statsig_contract.json"
BASE = "/console/v1/experiments/qualifying_events"
ITEM = BASE + "/{name}"
EVENT = {
    "name": "Log Events",
    "description": "all app events",
    "tags": [],
    "sql": "SELECT * FROM `shoppy-sales.logging.events`",
    "timestampColumn": "ts",
    "timestampAsDay": False,
    "idTypeMapping": [{"statsigUnitID": "userID", "column": "user_id"}],
    "customFieldMapping": [{"key": "", "formula": ""}],
}


@cache
def contract() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text())


def statsig_operation(path: str, method: str) -> dict[str, Any]:
    for op in contract()["kinds"]["qualifying_events"]["operations"]:
        if op["path"] == path and op["method"] == method:
            return op
    raise AssertionError(f"{method} {path} is not in the fixture")


STATSIG_OPERATIONS = [
    (op["path"], op["method"]) for op in contract()["kinds"]["qualifying_events"]["operations"]
]
UNDOCUMENTED_BUT_EXPECTED = set(contract()["errors"]["expectedUndocumentedStatuses"])


def assert_statsig_accepts(path: str, method: str, response) -> None:
    """The status is one Statsig documents for the operation, the body passes its schema,
    and a success carries Statsig's message."""
    documented = statsig_operation(path, method)["responses"]
    status = str(response.status_code)
    assert status in documented, (method, path, response.status_code, response.text)
    body = response.json()
    schema = documented[status]["schema"]
    if schema is not None:
        jsonschema_rs.validate(schema, body)
    if response.is_success:
        assert body["message"] == documented[status]["message"]
    else:
        assert body["status"] == response.status_code
        assert body["errors"] and all(
            set(contract()["errors"]["shape"]["errorItemRequired"]) <= set(item)
            for item in body["errors"]
        )


@pytest.fixture(scope="module")
def our_openapi() -> dict[str, Any]:
    store = open_store(f"sqlite:///{tempfile.mkdtemp()}/document.db")
    app = create_app(Settings(warehouse_url="none", _env_file=None), store=store)
    try:
        with TestClient(app) as http:
            return http.get("/openapi.json").json()
    finally:
        store.close()


def _resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = document["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


@pytest.mark.parametrize(("path", "method"), STATSIG_OPERATIONS)
def test_our_openapi_declares_every_statsig_operation(our_openapi, path, method):
    ours = our_openapi["paths"][path][method.lower()]
    theirs = statsig_operation(path, method)
    # Every status Statsig documents, we document too.
    assert set(theirs["responses"]) <= set(ours["responses"])
    # Statsig's path and query parameters, by name and place.
    our_parameters = {(p["name"], p["in"]) for p in ours.get("parameters", [])}
    for parameter in theirs["parameters"]:
        if parameter["in"] in ("path", "query"):
            assert (parameter["name"], parameter["in"]) in our_parameters
    if theirs["requestBody"] is not None:
        body = _resolve(our_openapi, ours["requestBody"]["content"]["application/json"]["schema"])
        statsig_body = theirs["requestBody"]["schema"]
        # Every field Statsig takes, we take; we require exactly what Statsig requires.
        assert set(statsig_body["properties"]) <= set(body["properties"])
        assert set(body.get("required", [])) == set(statsig_body["required"])


@pytest.fixture
def stocked(client):
    assert client.post(BASE, json=EVENT).status_code == 201
    return client


def test_every_documented_success_matches_statsig(stocked):
    client = stocked
    item = f"{BASE}/Log%20Events"
    other = {**EVENT, "name": "Table Event", "sourceType": "table", "tableName": "`a.b.c`"}
    cases = [
        (BASE, "GET", client.get(BASE, params={"limit": "1", "page": "1"})),
        (BASE, "POST", client.post(BASE, json=other)),
        (ITEM, "GET", client.get(item)),
        (ITEM, "POST", client.post(item, json={**EVENT, "description": "changed"})),
        (ITEM, "DELETE", client.delete(item)),
    ]
    for path, method, response in cases:
        assert response.status_code < 300, response.text
        assert_statsig_accepts(path, method, response)


def test_every_documented_error_matches_statsig(stocked, anonymous):
    client = stocked
    item = f"{BASE}/Log%20Events"
    cases = [
        (BASE, "GET", client.get(BASE, params={"limit": "none"})),
        (BASE, "GET", anonymous.get(BASE)),
        (BASE, "POST", client.post(BASE, json={**EVENT, "sql": ""})),
        (BASE, "POST", client.post(BASE, json=EVENT)),
        (BASE, "POST", anonymous.post(BASE, json=EVENT)),
        (ITEM, "GET", client.get(item, headers={"STATSIG-API-VERSION": "1"})),
        (ITEM, "GET", anonymous.get(item, headers={"STATSIG-API-KEY": "console-wrong"})),
        (ITEM, "POST", client.post(item, json={**EVENT, "name": "Renamed"})),
        (ITEM, "POST", anonymous.post(item, json=EVENT)),
        (ITEM, "DELETE", client.delete(item, headers={"STATSIG-API-VERSION": "2"})),
        (ITEM, "DELETE", anonymous.delete(item)),
    ]
    for path, method, response in cases:
        assert response.status_code in (400, 401), response.text
        assert_statsig_accepts(path, method, response)


def test_a_duplicate_name_and_a_bad_key_say_what_statsig_says(stocked, anonymous):
    duplicate = stocked.post(BASE, json=EVENT).json()
    assert any(
        contract()["errors"]["nameInUseMessage"] in text
        for text in [duplicate["message"], *(e["errorMessage"] for e in duplicate["errors"])]
    )
    wrong = anonymous.get(BASE, headers={"STATSIG-API-KEY": "console-wrongwrongwrong"}).json()
    assert wrong["message"].startswith(contract()["errors"]["invalidKeyMessagePrefix"])
    assert "wrongwrongwrong" not in wrong["message"]  # masked


def _request_of(op, case, key: str) -> dict[str, Any]:
    path = op.path.format(
        **{name: quote(str(value), safe="") for name, value in (case.path_parameters or {}).items()}
    )
    headers = {str(k): str(v) for k, v in (case.headers or {}).items()}
    headers["STATSIG-API-KEY"] = key
    request: dict[str, Any] = {"method": op.method.upper(), "url": path, "headers": headers}
    if case.query:
        request["params"] = case.query
    if op.method.upper() in ("POST", "PATCH"):
        request["json"] = case.body
    return request


@pytest.mark.parametrize(("path", "method"), STATSIG_OPERATIONS)
def test_generated_requests_get_answers_statsig_accepts(our_openapi, app, full_key, path, method):
    """Schemathesis-generated inputs from OUR document (valid and not): never a 5xx; a status
    Statsig documents has a body its schema accepts; anything else is one of the expected
    undocumented codes, in the contract's error shape."""
    op = schemathesis.openapi.from_dict(our_openapi)[path][method]
    documented = statsig_operation(path, method)["responses"]

    @settings(
        max_examples=40,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=op.as_strategy())
    def check(case) -> None:
        with TestClient(app) as http:
            response = http.request(**_request_of(op, case, full_key))
        assert response.status_code < 500, response.text
        status = str(response.status_code)
        if status in documented:
            schema = documented[status]["schema"]
            if schema is not None:
                jsonschema_rs.validate(schema, response.json())
        else:
            assert response.status_code in UNDOCUMENTED_BUT_EXPECTED, response.text
            body = response.json()
            assert body["status"] == response.status_code and body["errors"]

    check()
