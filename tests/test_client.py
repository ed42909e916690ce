"""``qualevents.Client`` and ``AsyncClient`` against the app in process: one method per
endpoint returning typed models with the response's ETag and headers, typed errors keeping
the response (status, headers, body, Statsig's ``errors`` items), pagination links followed
as given, and 429s retried after their Retry-After (bounded, with an opt-out)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from qualevents import AsyncClient, Client
from qualevents.api.app import create_app
from qualevents.config import Settings
from qualevents.errors import (
    Forbidden,
    InvalidRequest,
    NotFound,
    PreconditionFailed,
    QualeventsError,
    RateLimited,
    Unauthorized,
)
from qualevents.keys import KeyService
from qualevents.wire import QualifyingEvent

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
    assert created.status == 201
    assert isinstance(created.data, QualifyingEvent)
    sent = created.data.model_dump(by_alias=True, exclude_unset=True)
    assert {k: sent[k] for k in EVENT} == EVENT
    read = api.get_qualifying_event("Log Events")
    assert read.data == created.data
    assert read.etag == created.etag == '"1"'
    updated = api.update_qualifying_event("Log Events", {**EVENT, "sql": "SELECT 2"})
    assert updated.data.sql == "SELECT 2"
    patched = api.patch_qualifying_event("Log Events", {"description": "d"})
    assert (patched.data.sql, patched.data.description) == ("SELECT 2", "d")
    assert api.delete_qualifying_event("Log Events").data is None
    with pytest.raises(NotFound) as raised:
        api.get_qualifying_event("Log Events")
    assert raised.value.status == 404


def test_names_needing_encoding(api):
    name = "50% off / not really? #1"
    with pytest.raises(InvalidRequest):  # '/' is not allowed in a name
        api.create_qualifying_event(with_name(name))
    name = "50% off? #1 & more"
    api.create_qualifying_event(with_name(name))
    assert api.get_qualifying_event(name).data.name == name
    api.delete_qualifying_event(name)


def test_validation_errors_carry_their_items_and_the_response(api):
    with pytest.raises(InvalidRequest) as raised:
        api.create_qualifying_event(with_name("x", sql="", idTypeMapping=[]))
    error = raised.value
    assert error.status == 400
    assert {item.loc for item in error.errors} == {("sql",), ("idTypeMapping",)}
    assert all(item.message for item in error.errors)
    assert "sql" in str(error)
    assert error.body["status"] == 400 and error.body["errors"]
    assert error.headers["content-type"] == "application/json"
    assert error.response.status_code == 400


def test_name_in_use(api):
    api.create_qualifying_event(EVENT)
    with pytest.raises(InvalidRequest) as raised:
        api.create_qualifying_event(EVENT)
    assert raised.value.message == "Name is already in use"


def test_dry_run_and_validate_store_nothing(api):
    dry = api.create_qualifying_event(EVENT, dry_run=True)
    assert dry.data.name == "Log Events"
    assert dry.dry_run and dry.etag is None
    assert api.validate_qualifying_event(EVENT).dry_run is True
    assert api.list_qualifying_events().data == []


def test_typed_bodies_are_sent_as_their_wire_form(api):
    from qualevents.wire import CreateBody

    body = CreateBody.model_validate(EVENT)
    assert api.create_qualifying_event(body).data.name == "Log Events"


def test_list_and_iterate_follow_the_server_links(api):
    names = [f"event {i}" for i in range(7)]
    for name in names:
        api.create_qualifying_event(with_name(name))
    page = api.list_qualifying_events(limit=3, page=2)
    assert [item.name for item in page.data] == names[3:6]
    assert page.pagination.total_items == 7
    assert [item.name for item in api.iter_qualifying_events(limit=3)] == names
    assert [item.name for item in api.iter_qualifying_events(limit=1000)] == names


def test_a_read_carries_the_etag_that_if_match_takes(api):
    api.create_qualifying_event(EVENT)
    etag = api.get_qualifying_event("Log Events").etag
    api.update_qualifying_event("Log Events", {**EVENT, "sql": "SELECT 2"}, if_match=etag)
    with pytest.raises(PreconditionFailed):
        api.update_qualifying_event("Log Events", {**EVENT, "sql": "SELECT 3"}, if_match=etag)
    with pytest.raises(PreconditionFailed):
        api.patch_qualifying_event("Log Events", {"description": "x"}, if_match=etag)
    with pytest.raises(PreconditionFailed):
        api.delete_qualifying_event("Log Events", if_match=etag)
    assert api.get_qualifying_event("Log Events").data.sql == "SELECT 2"


def test_history_and_health_are_typed(api):
    api.create_qualifying_event(EVENT)
    api.patch_qualifying_event("Log Events", {"description": "d"})
    revisions = api.revisions("Log Events")
    assert [r.revision for r in revisions.data] == [1, 2]
    assert api.revision("Log Events", 1).data.action == "create"
    restored = api.restore("Log Events", 1)
    assert restored.data.description == "" and restored.etag == '"3"'
    assert [item.action_type for item in api.audit_logs(limit=1).data] == [
        "qualifying_event_restored"
    ]
    assert api.health().data.status == "ok"


def test_bad_key_raises_unauthorized(app):
    with (
        Client("http://testserver", "console-nope", http=TestClient(app)) as api,
        pytest.raises(Unauthorized) as raised,
    ):
        api.list_qualifying_events()
    assert raised.value.status == 401
    assert raised.value.errors[0].loc == ("STATSIG-API-KEY",)


def test_read_only_key_raises_forbidden_on_writes(app, read_only_key):
    with Client("http://testserver", read_only_key, http=TestClient(app)) as api:
        assert api.list_qualifying_events().data == []
        with pytest.raises(Forbidden):
            api.create_qualifying_event(EVENT)


def test_every_error_is_a_qualevents_error(api):
    with pytest.raises(QualeventsError):
        api.delete_qualifying_event("ghost")


def test_health(api):
    assert api.health().data.status == "ok"


# -- 429: Retry-After honoured, bounded, and optional -------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def limited(database_url, store):
    """An app allowing 2 requests per 60 s per key, on a clock that only moves when the
    client "sleeps"."""
    settings = Settings(
        database_url=database_url, warehouse_url="none", rate_limit="2/60", _env_file=None
    )
    app = create_app(settings, store=store)
    clock = Clock()
    app.state.context.rate_limiter.clock = clock
    return app, clock, KeyService(store).create("busy")[1]


def test_a_429_is_retried_after_its_retry_after(limited):
    app, clock, secret = limited
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock.now += seconds

    with Client("http://testserver", secret, http=TestClient(app), sleep=sleep) as api:
        assert api.list_qualifying_events().status == 200
        assert api.list_qualifying_events().status == 200
        assert api.list_qualifying_events().status == 200  # after one wait
    assert waits == [30.0]


def test_retries_are_bounded_and_the_error_keeps_retry_after(limited):
    app, _clock, secret = limited
    waits: list[float] = []
    with Client(
        "http://testserver",
        secret,
        http=TestClient(app),
        sleep=waits.append,
        max_retries=2,
        max_retry_wait_s=5,
    ) as api:
        api.list_qualifying_events()
        api.list_qualifying_events()
        with pytest.raises(RateLimited) as raised:
            api.list_qualifying_events()
    assert waits == [5, 5]  # capped, twice, then the 429 is raised
    assert raised.value.status == 429
    assert raised.value.retry_after == 30
    assert raised.value.headers["retry-after"] == "30"


def test_retrying_can_be_turned_off(limited):
    app, _clock, secret = limited
    waits: list[float] = []
    with Client(
        "http://testserver", secret, http=TestClient(app), sleep=waits.append, max_retries=0
    ) as api:
        api.list_qualifying_events()
        api.list_qualifying_events()
        with pytest.raises(RateLimited):
            api.list_qualifying_events()
    assert waits == []


# -- AsyncClient ----------------------------------------------------------------------------------


def test_the_async_client_has_the_same_methods(app, full_key):
    import asyncio

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=app)
        async with AsyncClient("http://testserver", full_key, transport=transport) as api:
            created = await api.create_qualifying_event(EVENT)
            read = await api.get_qualifying_event("Log Events")
            assert read.data == created.data and read.etag == '"1"'
            await api.patch_qualifying_event("Log Events", {"tags": ["a"]}, if_match=read.etag)
            with pytest.raises(PreconditionFailed):
                await api.patch_qualifying_event("Log Events", {"tags": []}, if_match=read.etag)
            names = [event.name async for event in api.iter_qualifying_events(limit=1)]
            assert names == ["Log Events"]
            await api.delete_qualifying_event("Log Events")
            with pytest.raises(NotFound):
                await api.get_qualifying_event("Log Events")

    asyncio.run(scenario())
