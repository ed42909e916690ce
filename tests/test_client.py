"""``qualevents.Client`` against the app in process: one method per endpoint, typed errors
carrying Statsig's ``errors`` items, and pagination links followed as given."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from qualevents import Client
from qualevents.errors import (
    Forbidden,
    InvalidRequest,
    NotFound,
    PreconditionFailed,
    QualeventsError,
    Unauthorized,
)

EVENT = {
    "name": "Log Events",
    "description": "",
    "sql": "SELECT user_id, ts FROM events",
    "tags": [],
    "timestampColumn": "ts",
    "idTypeMapping": [{"statsigUnitID": "userID", "column": "user_id"}],
}


@pytest.fixture
def api(app, full_key) -> Iterator[Client]:
    with Client("http://testserver", full_key, http=TestClient(app)) as client:
        yield client


def with_name(name: str, **fields: Any) -> dict[str, Any]:
    return {**EVENT, "name": name, **fields}


def test_create_read_update_delete(api):
    created = api.create_qualifying_event(EVENT)
    assert {k: created[k] for k in EVENT} == EVENT
    assert api.get_qualifying_event("Log Events") == created
    updated = api.update_qualifying_event("Log Events", {**EVENT, "sql": "SELECT 2"})
    assert updated["sql"] == "SELECT 2"
    patched = api.patch_qualifying_event("Log Events", {"description": "d"})
    assert (patched["sql"], patched["description"]) == ("SELECT 2", "d")
    api.delete_qualifying_event("Log Events")
    with pytest.raises(NotFound) as raised:
        api.get_qualifying_event("Log Events")
    assert raised.value.status == 404


def test_names_needing_encoding(api):
    name = "50% off / not really? #1"
    with pytest.raises(InvalidRequest):  # '/' is not allowed in a name
        api.create_qualifying_event(with_name(name))
    name = "50% off? #1 & more"
    api.create_qualifying_event(with_name(name))
    assert api.get_qualifying_event(name)["name"] == name
    api.delete_qualifying_event(name)


def test_validation_errors_carry_their_items(api):
    with pytest.raises(InvalidRequest) as raised:
        api.create_qualifying_event(with_name("x", sql="", idTypeMapping=[]))
    error = raised.value
    assert error.status == 400
    assert {item.loc for item in error.errors} == {("sql",), ("idTypeMapping",)}
    assert all(item.message for item in error.errors)
    assert "sql" in str(error)


def test_name_in_use(api):
    api.create_qualifying_event(EVENT)
    with pytest.raises(InvalidRequest) as raised:
        api.create_qualifying_event(EVENT)
    assert raised.value.message == "Name is already in use"


def test_dry_run_and_validate_store_nothing(api):
    data = api.create_qualifying_event(EVENT, dry_run=True)
    assert data["name"] == "Log Events"
    body = api.validate_qualifying_event(EVENT)
    assert body["dryRun"] is True
    assert api.list_qualifying_events()["data"] == []


def test_list_and_iterate_follow_the_server_links(api):
    names = [f"event {i}" for i in range(7)]
    for name in names:
        api.create_qualifying_event(with_name(name))
    page = api.list_qualifying_events(limit=3, page=2)
    assert [item["name"] for item in page["data"]] == names[3:6]
    assert page["pagination"]["totalItems"] == 7
    assert [item["name"] for item in api.iter_qualifying_events(limit=3)] == names
    assert [item["name"] for item in api.iter_qualifying_events(limit=1000)] == names


def test_if_match(api, app, full_key):
    api.create_qualifying_event(EVENT)
    from starlette.testclient import TestClient

    with TestClient(app, headers={"STATSIG-API-KEY": full_key}) as http:
        etag = http.get("/console/v1/experiments/qualifying_events/Log%20Events").headers["ETag"]
    api.update_qualifying_event("Log Events", {**EVENT, "sql": "SELECT 2"}, if_match=etag)
    with pytest.raises(PreconditionFailed):
        api.update_qualifying_event("Log Events", {**EVENT, "sql": "SELECT 3"}, if_match=etag)
    with pytest.raises(PreconditionFailed):
        api.patch_qualifying_event("Log Events", {"description": "x"}, if_match=etag)
    assert api.get_qualifying_event("Log Events")["sql"] == "SELECT 2"


def test_bad_key_raises_unauthorized(app):
    transport = TestClient(app)
    with (
        Client("http://testserver", "console-nope", http=transport) as api,
        pytest.raises(Unauthorized) as raised,
    ):
        api.list_qualifying_events()
    assert raised.value.status == 401
    assert raised.value.errors[0].loc == ("STATSIG-API-KEY",)


def test_read_only_key_raises_forbidden_on_writes(app, read_only_key):
    transport = TestClient(app)
    with Client("http://testserver", read_only_key, http=transport) as api:
        assert api.list_qualifying_events()["data"] == []
        with pytest.raises(Forbidden):
            api.create_qualifying_event(EVENT)


def test_every_error_is_a_qualevents_error(api):
    with pytest.raises(QualeventsError):
        api.delete_qualifying_event("ghost")


def test_health(api):
    assert api.health()["status"] == "ok"
