"""Every failing path answers in one shape: ``{"status", "message", "errors": [...]}``, the
status equal to the HTTP status, a non-empty ``errors`` list of ``{"property",
"errorMessage"}``, and nothing internal (traceback, server path, driver message, secret)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

import qualevents
from qualevents.api.app import create_app
from qualevents.store.sql import SQLStore

BASE = "/console/v1/experiments/qualifying_events"
EVENT = {
    "name": "Purchases",
    "sql": "SELECT user_id, ts FROM events",
    "timestampColumn": "ts",
    "idTypeMapping": [{"statsigUnitID": "userID", "column": "user_id"}],
}
# The checkout's own path, wherever it was cloned (a server path must never be echoed).
SOURCE_ROOT = str(Path(qualevents.__file__).resolve().parents[2])
LEAK_MARKERS = ("Traceback", 'File "', SOURCE_ROOT, "site-packages", "RuntimeError", "sqlalchemy")
SECRET_IN_FAILURE = "s3cr3t-from-the-database-driver"


class BrokenStore(SQLStore):
    """A store whose every event method fails unexpectedly (what a bug would look like)."""

    def _boom(self, *_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError(f"boom at /srv/qualevents/store.py password={SECRET_IN_FAILURE}")

    get_event = list_events = list_event_documents = _boom
    create_event = replace_event = delete_event = _boom


def assert_error_shape(response, status: int, *, secrets: tuple[str, ...] = ()) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"status", "message", "errors"}, body
    assert type(body["status"]) is int and body["status"] == status
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["errors"], list) and body["errors"]
    for item in body["errors"]:
        assert isinstance(item["property"], str)
        assert isinstance(item["errorMessage"], str) and item["errorMessage"]
    for marker in (*LEAK_MARKERS, *secrets):
        assert marker not in response.text, marker
    return body


@pytest.fixture
def existing(client) -> None:
    assert client.post(BASE, json=EVENT).status_code == 201


@pytest.fixture
def broken_client(settings, store, full_key) -> Iterator[Any]:
    broken = BrokenStore(store.engine)
    app = create_app(settings, store=broken)
    with TestClient(app, headers={"STATSIG-API-KEY": full_key}) as http:
        yield http


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        chunk = b" " * min(size, total - sent)
        sent += len(chunk)
        yield chunk


def test_every_failing_path_has_the_contract_shape(
    client, anonymous, existing, full_key, read_only_key
):
    json_header = {"Content-Type": "application/json"}
    cases = [
        (400, client.post(BASE, json={**EVENT, "sql": ""})),
        (400, client.post(BASE, json=EVENT)),  # name in use
        (400, client.post(BASE, content=b'{"name": ', headers=json_header)),
        (400, client.post(BASE, content=b"[1, 2]", headers=json_header)),
        (400, client.post(BASE, content=b'"a string"', headers=json_header)),
        (400, client.post(BASE, content=b"", headers=json_header)),
        (400, client.get(BASE, params={"limit": "0"})),
        (400, client.get(BASE, headers={"STATSIG-API-VERSION": "1999"})),
        (400, client.post(f"{BASE}/Purchases", json={**EVENT, "name": "Other"})),
        (401, anonymous.get(BASE)),
        (401, anonymous.get(BASE, headers={"STATSIG-API-KEY": full_key + "x"})),
        (403, anonymous.delete(f"{BASE}/Purchases", headers={"STATSIG-API-KEY": read_only_key})),
        (404, client.get(f"{BASE}/ghost")),
        (404, client.delete(f"{BASE}/ghost")),
        (404, client.get("/console/v1/no_such_thing")),
        (404, anonymous.get("/nowhere")),
        (405, client.put(BASE, json=EVENT)),
        (405, client.delete(BASE)),
        (412, client.post(f"{BASE}/Purchases", json=EVENT, headers={"If-Match": '"99"'})),
        (412, client.delete(f"{BASE}/Purchases", headers={"If-Match": "garbage"})),
        (413, client.post(BASE, content=b" " * (1024 * 1024 + 1), headers=json_header)),
        (413, client.post(BASE, content=_chunks(1024 * 1024 + 1), headers=json_header)),
        (415, client.post(BASE, content=b"name=x", headers={"Content-Type": "text/plain"})),
        (
            415,
            client.post(
                BASE, content=b"a=1", headers={"Content-Type": "application/x-www-form-urlencoded"}
            ),
        ),
    ]
    for status, response in cases:
        assert_error_shape(response, status, secrets=(full_key, read_only_key))


def test_chunked_oversized_body_is_rejected_without_a_content_length(client):
    request = client.build_request(
        "POST", BASE, content=_chunks(2 * 1024 * 1024), headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in request.headers
    assert_error_shape(client.send(request), 413)


def test_malformed_json_says_so(client):
    body = assert_error_shape(
        client.post(BASE, content=b"{'name': 1}", headers={"Content-Type": "application/json"}),
        400,
    )
    assert "JSON" in body["errors"][0]["errorMessage"]


def test_non_object_json_says_an_object_is_expected(client):
    body = assert_error_shape(
        client.post(BASE, content=b"[]", headers={"Content-Type": "application/json"}), 400
    )
    assert "object" in body["errors"][0]["errorMessage"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", BASE, None),
        ("POST", BASE, EVENT),
        ("GET", f"{BASE}/Purchases", None),
        ("POST", f"{BASE}/Purchases", EVENT),
        ("PATCH", f"{BASE}/Purchases", {"description": "x"}),
        ("DELETE", f"{BASE}/Purchases", None),
    ],
)
def test_unexpected_failure_is_a_500_without_internals(broken_client, caplog, method, path, body):
    with caplog.at_level(logging.ERROR, logger="qualevents.api"):
        response = broken_client.request(method, path, json=body)
    error = assert_error_shape(response, 500, secrets=(SECRET_IN_FAILURE, "/srv/", "boom"))
    # the incident id in the answer is the one in the server's log, next to the real cause
    incident = error["errors"][0]["errorMessage"].rsplit(" ", 1)[-1]
    assert any(incident in record.getMessage() for record in caplog.records)
    assert SECRET_IN_FAILURE in caplog.text  # the operator can still see the cause


def test_success_bodies_never_carry_errors(client):
    # the Terraform provider treats any non-null "errors" key as a failure
    responses = [
        client.post(BASE, json=EVENT),
        client.get(BASE),
        client.get(f"{BASE}/Purchases"),
        client.post(f"{BASE}/Purchases", json=EVENT),
        client.patch(f"{BASE}/Purchases", json={"description": "d"}),
        client.delete(f"{BASE}/Purchases"),
    ]
    for response in responses:
        assert response.status_code < 300
        assert "errors" not in response.json()
