"""Fuzzing: schemathesis over OUR OpenAPI document (every operation), and hypothesis over
the domain model.

For every operation in ``create_app(...).openapi()``, a bounded, derandomized set of
generated requests (valid and invalid inputs, a valid full-access console key injected) is
sent in process to an app on a real SQLite store with a few events and a pending change
request in it. Every answer must be:

- never a 5xx (except 502 from the warehouse endpoints, which is the documented answer of
  a server started without a warehouse, as this one is);
- a 2xx/3xx whose body conforms to the response schema our OpenAPI document declares;
- a 4xx whose body is exactly the contract's error shape: ``status`` equal to the HTTP
  status, a string ``message``, a non-empty ``errors`` list of objects with string
  ``property`` and ``errorMessage``.
"""

from __future__ import annotations

import json
import string
import tempfile
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pydantic
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from qualevents.api.app import create_app
from qualevents.config import Settings
from qualevents.errors import ValidationFailed
from qualevents.keys import KeyService
from qualevents.models import QualifyingEvent
from qualevents.store import open_store

BASE = "/console/v1/experiments/qualifying_events"
MAX_EXAMPLES = 40
# the warehouse-reading paths of every kind (daily: qualifying events and metric sources;
# experiments: assignment sources; analyses: qualifying events)
WAREHOUSE_PATHS = (
    "/{name}/-/preview",
    "/{name}/-/daily",
    "/{name}/-/filter_exposures",
    "/{name}/-/power",
    "/{name}/-/experiments",  # an assignment source's scan
)
SEEDED = {
    "name": "Log Events",
    "sql": "SELECT user_id, ts FROM events",
    "timestampColumn": "ts",
    "idTypeMapping": [{"statsigUnitID": "userID", "column": "user_id"}],
}


def _our_openapi() -> dict[str, Any]:
    # The document depends only on the routes; the app needs a store for its kinds.
    store = open_store(f"sqlite:///{tempfile.mkdtemp()}/document.db")
    try:
        return create_app(Settings(warehouse_url="none", _env_file=None), store=store).openapi()
    finally:
        store.close()


SCHEMA = schemathesis.openapi.from_dict(_our_openapi())
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]


def test_every_operation_is_fuzzed() -> None:
    # The parametrization below covers the whole document; a new route joins by itself.
    assert len(OPERATIONS) == sum(
        1
        for methods in _our_openapi()["paths"].values()
        for method in methods
        if method in ("get", "post", "patch", "put", "delete")
    )
    assert len(OPERATIONS) >= 19


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory):
    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'fuzz.db'}"
    store = open_store(url)
    key = KeyService(store).create("fuzz")[1]
    app = create_app(Settings(database_url=url, warehouse_url="none", _env_file=None), store=store)
    with TestClient(app, headers={"STATSIG-API-KEY": key}) as http:
        for name in ("Log Events", "0", "a b"):
            assert http.post(BASE, json={**SEEDED, "name": name}).status_code == 201
        assert http.post("/console/v1/-/settings", json={"requireReviews": True}).is_success
        held = http.post(
            BASE,
            json={**SEEDED, "name": "held"},
            headers={"x-respect-review-settings": "true"},
        )
        assert held.status_code == 202, held.text
    yield app, key
    store.close()


def assert_error_shape(status: int, body: Any) -> None:
    assert isinstance(body, dict), body
    assert set(body) == {"status", "message", "errors"}, body
    assert body["status"] == status, body
    assert isinstance(body["message"], str) and body["message"], body
    assert isinstance(body["errors"], list) and body["errors"], body
    for item in body["errors"]:
        assert isinstance(item, dict), body
        assert isinstance(item.get("property"), str), body
        assert isinstance(item.get("errorMessage"), str), body


def _request_of(op, case, key: str) -> dict[str, Any]:
    path = op.path.format(
        **{name: quote(str(value), safe="") for name, value in (case.path_parameters or {}).items()}
    )
    headers = {str(k): str(v) for k, v in (case.headers or {}).items()}
    headers["STATSIG-API-KEY"] = key
    request: dict[str, Any] = {"method": op.method.upper(), "url": path, "headers": headers}
    if case.query:
        request["params"] = case.query
    if op.body and not isinstance(case.body, schemathesis.core.NotSet):
        request["content"] = json.dumps(case.body).encode()
        headers["Content-Type"] = "application/json"
    return request


def check_response(op, response) -> None:
    status = response.status_code
    label = f"{op.method.upper()} {op.path} -> {status}: {response.text[:500]}"
    if status == 502 and op.path.endswith(WAREHOUSE_PATHS):
        assert_error_shape(status, response.json())
        assert "No warehouse is configured" in response.json()["message"], label
        return
    assert status < 500, label
    if status >= 400:
        assert_error_shape(status, response.json())
        return
    # Schemathesis reads the elapsed time; the in-process bridge has none.
    if not hasattr(response, "_elapsed"):
        response._elapsed = timedelta(0)
    op.validate_response(response)


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: f"{op.method.upper()} {op.path}")
def test_generated_requests_never_500_and_bodies_match_our_schema(fuzz_app, op) -> None:
    app, key = fuzz_app

    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=op.as_strategy())
    def check(case) -> None:
        with TestClient(app) as http:
            response = http.request(**_request_of(op, case, key))
        check_response(op, response)

    check()


# -- regressions found by the fuzzer -----------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", BASE + "/Log%20Events/-/revisions/{n}"),
        ("POST", BASE + "/Log%20Events/-/revisions/{n}/restore"),
        ("GET", "/console/v1/-/change_requests/{n}"),
        ("POST", "/console/v1/-/change_requests/{n}/approve"),
        ("POST", "/console/v1/-/change_requests/{n}/reject"),
    ],
)
@pytest.mark.parametrize("number", [2**31, 10**20, -(10**20), 0])
def test_out_of_range_numbers_in_paths_are_a_400_not_a_500(fuzz_app, method, path, number):
    # A revision number or change request id beyond the 64-bit range overflowed SQLite's
    # integer conversion (OverflowError, a 500); beyond 32 bits PostgreSQL's integer column.
    app, key = fuzz_app
    with TestClient(app, headers={"STATSIG-API-KEY": key}) as http:
        response = http.request(method, path.format(n=number))
    assert response.status_code == 400, response.text
    assert_error_shape(400, response.json())
    assert response.json()["errors"][0]["property"] in ("number", "request_id")


# -- the domain model ----------------------------------------------------------------------

FIELDS = sorted(QualifyingEvent.model_fields)
json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(string.ascii_letters + "_", max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
mapping = (
    st.fixed_dictionaries({"statsig_unit_id": st.text(max_size=8), "column": st.text(max_size=8)})
    | json_values
)
custom = st.fixed_dictionaries({"key": st.text(max_size=8), "formula": st.text(max_size=8)})
field_values = {
    "name": st.text(max_size=30) | json_values,
    "id_type_mapping": st.lists(mapping, max_size=3) | json_values,
    "custom_field_mapping": st.lists(custom | json_values, max_size=3) | json_values,
    "source_type": st.sampled_from(["table", "query", "TABLE", ""]) | json_values,
    "owner": st.fixed_dictionaries({}, optional={"owner_id": st.text(max_size=5)}) | json_values,
}
documents = st.dictionaries(
    st.sampled_from(FIELDS) | st.text(max_size=10),
    json_values,
    max_size=8,
).flatmap(
    lambda base: st.fixed_dictionaries(
        {},
        optional={f: field_values.get(f, json_values) for f in FIELDS},
    ).map(lambda chosen: {**base, **chosen})
)


@settings(max_examples=300, derandomize=True, deadline=None, database=None)
@given(document=documents | json_values)
def test_arbitrary_input_fails_only_with_validation_errors(document: Any) -> None:
    try:
        event = QualifyingEvent.model_validate(document)
    except pydantic.ValidationError:
        return
    first = event.problems()
    assert event.problems() == first  # stable: same problems, same order, every time
    again = QualifyingEvent.from_document(event.to_document())
    assert again == event and again.problems() == first
    if first:
        with pytest.raises(ValidationFailed) as raised:
            event.check()
        assert raised.value.errors == first
    else:
        assert event.check() is event
    json.dumps(event.to_document())  # the stored form is always JSON


def test_documented_limits_are_enforced() -> None:
    """The limits of docs/reliability.md hold (a sample: one per kind)."""
    base = {
        "name": "n",
        "sql": "SELECT 1",
        "timestamp_column": "ts",
        "id_type_mapping": [{"statsig_unit_id": "userID", "column": "u"}],
    }
    assert QualifyingEvent.model_validate(base).problems() == []
    for changes, where in (
        ({"name": "x" * 201}, ("name",)),
        ({"sql": "S" * 200_001}, ("sql",)),
        ({"tags": ["t"] * 101}, ("tags",)),
        ({"tags": ["t" * 201]}, ("tags", 0)),
    ):
        problems = QualifyingEvent.model_validate({**base, **changes}).problems()
        assert [p.loc for p in problems] == [where], changes
