"""The HTTP edge, tried as an attacker would: impossible dates, NUL bytes, trailing slashes,
HEAD, duplicate JSON keys, one parser per kind of parameter, bounded concurrency, slow and
oversized bodies. Every answer is in the contract's shape, never a 500 or a redirect."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from qualevents.api.app import create_app
from qualevents.config import Settings

BASE = "/console/v1/experiments/qualifying_events"
EVENT = {
    "name": "Purchases",
    "sql": "SELECT user_id, ts FROM events",
    "timestampColumn": "ts",
    "idTypeMapping": [{"statsigUnitID": "userID", "column": "user_id"}],
}


def contract_error(response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status
    assert body["errors"] and {"property", "errorMessage"} <= set(body["errors"][0])
    return body


@pytest.mark.parametrize(
    "params",
    [
        {"end": "0001-01-01"},
        {"start": "9999-12-30"},
        {"start": "9999-12-30", "end": "9999-12-31"},
        {"end": "2024-02-30"},
        {"start": "yesterday"},
    ],
)
def test_impossible_or_extreme_days_are_400s(client, params):
    client.post(BASE, json=EVENT)
    response = client.get(f"{BASE}/Purchases/-/daily", params=params)
    body = contract_error(response, 400)
    assert body["errors"][0]["property"] in params


@pytest.mark.parametrize("params", [{"startDate": "0001-01-01"}, {"endDate": "9999-12-31"}])
def test_extreme_audit_log_days_are_400s(client, params):
    body = contract_error(client.get("/console/v1/audit_logs", params=params), 400)
    assert body["errors"][0]["property"] == next(iter(params))


@pytest.mark.parametrize(
    "path",
    [
        f"{BASE}?limit={{}}",
        f"{BASE}/Purchases/-/revisions?limit={{}}",
        "/console/v1/-/change_requests?limit={}",
        "/console/v1/audit_logs?limit={}",
        f"{BASE}/Purchases/-/preview?limit={{}}",
    ],
)
def test_one_parser_for_whole_numbers(client, path):
    client.post(BASE, json=EVENT)
    contract_error(client.get(path.format("2.5")), 400)
    integral = client.get(path.format("2.0"))
    # Preview needs a warehouse (502 here): what matters is that 2.0 passed the parser.
    assert integral.status_code in (200, 502), integral.text
    if integral.status_code == 200 and "pagination" in integral.json():
        assert integral.json()["pagination"]["itemsPerPage"] == 2


@pytest.mark.parametrize(
    "path", [f"{BASE}/Purch%00ases", f"{BASE}?limit=1%00", f"{BASE}/x/-/revisions?page=%00"]
)
def test_nul_bytes_are_400s(client, anonymous, path):
    body = contract_error(client.get(path), 400)
    assert "NUL" in body["message"]
    contract_error(anonymous.get(path), 401)  # the key first, always


def test_a_nul_byte_in_a_body_is_not_a_500(client):
    response = client.post(BASE, json={**EVENT, "name": "Bad\u0000name"})
    assert response.status_code < 500, response.text


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_a_trailing_slash_is_a_404_not_a_redirect(client, method):
    client.post(BASE, json=EVENT)
    for path in (f"{BASE}/", f"{BASE}/Purchases/"):
        response = client.request(method, path, json=EVENT, follow_redirects=False)
        contract_error(response, 404)
        assert "location" not in response.headers


def test_head_works_wherever_get_does(client, anonymous):
    client.post(BASE, json=EVENT)
    for path in (BASE, f"{BASE}/Purchases", "/-/health", f"{BASE}/Purchases/-/revisions"):
        got = client.get(path)
        head = client.head(path)
        assert head.status_code == got.status_code == 200, path
        assert head.content == b""
        assert head.headers["content-length"] == got.headers["content-length"]
        assert head.headers.get("etag") == got.headers.get("etag")
    assert anonymous.head(BASE).status_code == 401
    assert client.head(f"{BASE}/ghost").status_code == 404


def test_duplicate_json_keys_are_a_400_naming_the_key(client):
    raw = json.dumps(EVENT)[:-1] + ', "name": "Other"}'
    response = client.post(BASE, content=raw, headers={"Content-Type": "application/json"})
    body = contract_error(response, 400)
    assert body["errors"][0]["property"] == "name"
    assert "Duplicate" in body["message"]
    assert client.get(BASE).json()["data"] == []
    nested = json.dumps(EVENT).replace('"column"', '"column": "a", "column"')
    response = client.post(BASE, content=nested, headers={"Content-Type": "application/json"})
    assert contract_error(response, 400)["errors"][0]["property"] == "column"


def test_a_streamed_body_over_the_limit_is_a_413(database_url, store, full_key):
    from starlette.testclient import TestClient

    settings = Settings(
        database_url=database_url, warehouse_url="none", max_body_bytes=1000, _env_file=None
    )
    app = create_app(settings, store=store)

    def chunks():
        for _ in range(20):
            yield b" " * 100

    with TestClient(app, headers={"STATSIG-API-KEY": full_key}) as http:
        response = http.post(BASE, content=chunks(), headers={"Content-Type": "application/json"})
        contract_error(response, 413)


# -- at the ASGI level: requests held open on purpose -----------------------------------------


async def _call(app, method: str, path: str, headers: list, receive) -> list[dict]:
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    return sent


def _status(sent: list[dict]) -> int:
    return next(m["status"] for m in sent if m["type"] == "http.response.start")


def _body(sent: list[dict]) -> dict:
    return json.loads(
        b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    )


def test_requests_beyond_the_concurrency_limit_get_a_503(database_url, store, full_key):
    settings = Settings(
        database_url=database_url,
        warehouse_url="none",
        max_concurrent_requests=1,
        _env_file=None,
    )
    app = create_app(settings, store=store)
    key = [(b"statsig-api-key", full_key.encode()), (b"content-type", b"application/json")]

    async def scenario() -> tuple[list[dict], list[dict], list[dict]]:
        release = asyncio.Event()
        reading = asyncio.Event()

        async def slow_body() -> dict:
            reading.set()
            await release.wait()
            return {"type": "http.request", "body": json.dumps(EVENT).encode(), "more_body": False}

        async def no_body() -> dict:
            return {"type": "http.request", "body": b"", "more_body": False}

        held = asyncio.create_task(_call(app, "POST", BASE, key, slow_body))
        await reading.wait()
        refused = await _call(app, "GET", BASE, key, no_body)
        release.set()
        first = await held
        after = await _call(app, "GET", BASE, key, no_body)
        return refused, first, after

    refused, first, after = asyncio.run(scenario())
    assert _status(refused) == 503
    assert _body(refused)["status"] == 503 and _body(refused)["errors"]
    assert dict(refused[0]["headers"])[b"retry-after"] == b"1"
    assert _status(first) == 201
    assert _status(after) == 200


def test_a_body_that_stops_arriving_gets_a_408(database_url, store, full_key):
    settings = Settings(
        database_url=database_url, warehouse_url="none", body_timeout_s=0.2, _env_file=None
    )
    app = create_app(settings, store=store)
    key = [(b"statsig-api-key", full_key.encode()), (b"content-type", b"application/json")]

    async def scenario() -> list[dict]:
        parts = [{"type": "http.request", "body": b'{"name": ', "more_body": True}]
        never = asyncio.Event()

        async def stalled() -> dict:
            if parts:
                return parts.pop()
            await never.wait()  # the client stopped sending
            raise AssertionError("unreachable")

        return await _call(app, "POST", BASE, key, stalled)

    sent = asyncio.run(scenario())
    assert _status(sent) == 408
    assert _body(sent)["status"] == 408


def test_without_a_valid_key_every_bad_request_is_a_401(anonymous):
    bad_key = {"STATSIG-API-KEY": "console-nope"}
    raw = json.dumps(EVENT)[:-1] + ', "name": "Other"}'
    for method, path, kwargs in (
        ("POST", BASE, {"content": raw, "headers": {"Content-Type": "application/json"}}),
        ("POST", BASE, {"content": b"x" * 2_000_000}),
        ("POST", BASE, {"content": b"<a/>", "headers": {"Content-Type": "text/xml"}}),
        ("GET", f"{BASE}/", {}),
        ("GET", "/console/v1/nowhere", {}),
        ("GET", f"{BASE}/x/-/daily?end=0001-01-01", {}),
        ("PATCH", f"{BASE}/x", {"json": [1]}),
    ):
        for headers in ({}, bad_key):
            merged = {**kwargs, "headers": {**kwargs.get("headers", {}), **headers}}
            response = anonymous.request(method, path, **merged)
            contract_error(response, 401)
