"""``HotReads`` answers reads and list pages without the router: every answer must be the
router's, byte for byte, for good and bad requests alike."""

from __future__ import annotations

import pytest

from qualevents.api.app import create_app
from qualevents.keys import KeyService
from qualevents.store.base import Actor
from tests.bridge import in_process_client
from tests.factories import event

BASE = "/console/v1/experiments/qualifying_events"
NAMES = ["Purchases", "with space", "ünïcode ✓", "a.b-c_d"]

REQUESTS = [
    ("GET", BASE, {}),
    ("GET", BASE + "?limit=2", {}),
    ("GET", BASE + "?limit=2&page=2", {}),
    ("GET", BASE + "?limit=2.0&page=3", {}),
    ("GET", BASE + "?limit=abc", {}),
    ("GET", BASE + "?page=0", {}),
    ("GET", BASE + "?limit=5000", {}),
    ("GET", BASE + "?limit=1&limit=3", {}),
    ("GET", BASE + "?page=99", {}),
    ("GET", BASE + "/Purchases", {}),
    ("GET", BASE + "/with%20space", {}),
    ("GET", BASE + "/%C3%BCn%C3%AFcode%20%E2%9C%93", {}),
    ("GET", BASE + "/a.b-c_d", {}),
    ("GET", BASE + "/missing", {}),
    ("GET", BASE + "/a%2Fb", {}),
    ("GET", BASE + "/", {}),
    ("GET", BASE + "/Purchases/", {}),
    ("GET", BASE + "/Purchases/-/revisions", {}),
    ("GET", BASE + "/Purchases", {"STATSIG-API-VERSION": "20990101"}),
    ("GET", BASE + "/Purchases", {"STATSIG-API-VERSION": "20240601"}),
    ("GET", BASE, {"STATSIG-API-KEY": ""}),
    ("GET", BASE + "/Purchases", {"STATSIG-API-KEY": "console-not-a-real-key"}),
    ("HEAD", BASE + "/Purchases", {}),
    ("POST", BASE + "/missing", {}),
]


@pytest.fixture
def both(settings, store, full_key):
    for name in NAMES:
        store.create_event(event(name), Actor("k", "k"))
    hot = create_app(settings, store=store)
    routed = create_app(settings, store=store, hot_reads=False)
    with (
        in_process_client(hot, headers={"STATSIG-API-KEY": full_key}) as fast,
        in_process_client(routed, headers={"STATSIG-API-KEY": full_key}) as slow,
    ):
        yield fast, slow


def comparable(response) -> tuple:
    headers = {k: v for k, v in response.headers.items() if k not in ("date", "server")}
    return response.status_code, headers, response.content


@pytest.mark.parametrize(("method", "path", "headers"), REQUESTS)
def test_hot_reads_answer_as_the_router_does(both, method, path, headers):
    fast, slow = both
    expected = comparable(slow.request(method, path, headers=headers))
    assert comparable(fast.request(method, path, headers=headers)) == expected
    assert comparable(fast.request(method, path, headers=headers)) == expected  # cached


def test_a_read_only_key_reads_through_the_hot_path(both, store):
    fast, slow = both
    secret = KeyService(store).create("reader", read_only=True)[1]
    headers = {"STATSIG-API-KEY": secret}
    answer = fast.get(BASE + "/Purchases", headers=headers)
    assert answer.status_code == 200
    assert comparable(answer) == comparable(slow.get(BASE + "/Purchases", headers=headers))


def test_the_hot_path_is_taken_for_reads_and_lists_only(both, monkeypatch):
    from qualevents.api import hot_reads

    fast, _ = both
    taken: list[str] = []

    def recording(name, function):
        async def wrapper(request, *args):
            taken.append(name)
            return await function(request, *args)

        return wrapper

    monkeypatch.setattr(hot_reads, "read_one", recording("read", hot_reads.read_one))
    monkeypatch.setattr(hot_reads, "list_page", recording("list", hot_reads.list_page))
    fast.get(BASE + "/Purchases")
    fast.get(BASE)
    fast.get(BASE + "/Purchases/-/revisions")
    fast.post(BASE + "/missing")
    assert taken == ["read", "list"]
