"""The SQLite store's read cache is exact: a commit through any connection (another store,
another process) is seen by the next read; values read across a commit are not kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from qualevents.errors import Unauthorized
from qualevents.keys import KeyService
from qualevents.store import open_store
from qualevents.store.base import Actor
from qualevents.store.cache import ChangeWatchedCache
from tests.factories import event

ACTOR = Actor("k", "test")


@pytest.fixture
def two_stores(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'cache.db'}"
    first, second = open_store(url), open_store(url)
    yield first, second
    first.close()
    second.close()


def test_both_stores_cache(two_stores, store):
    first, _ = two_stores
    assert first.cache is not None
    assert store.cache is not None


def test_a_change_through_another_store_is_read_at_once(two_stores):
    first, second = two_stores
    first.create_event(event("E", "one"), ACTOR)
    assert first.get_event("E").event.description == "one"  # now cached
    assert first.get_event("E").event.description == "one"
    second.replace_event(event("E", "two"), ACTOR)
    assert first.get_event("E").event.description == "two"
    second.delete_event("E", ACTOR)
    assert first.get_event("E") is None


def test_list_pages_follow_creates_elsewhere(two_stores):
    first, second = two_stores
    first.create_event(event("A"), ACTOR)
    assert first.list_event_documents(0, 10).total == 1
    second.create_event(event("B"), ACTOR)
    page = first.list_event_documents(0, 10)
    assert page.total == 2 and [d["name"] for d in page.items] == ["A", "B"]


def test_a_key_revoked_elsewhere_is_refused_on_the_next_request(two_stores):
    first, second = two_stores
    key, secret = KeyService(first).create("ci")
    assert KeyService(first).authenticate(secret).id == key.id  # cached
    KeyService(second).revoke(key.id)
    with pytest.raises(Unauthorized):
        KeyService(first).authenticate(secret)


def test_a_value_read_across_a_commit_is_not_kept(two_stores):
    first, second = two_stores
    first.create_event(event("E", "old"), ACTOR)
    cache = ChangeWatchedCache(first.engine)
    loads = []

    def load_then_commit_elsewhere():
        value = first.store.get_event("E")
        loads.append(value)
        if len(loads) == 1:
            second.replace_event(event("E", "new"), ACTOR)
        return value

    assert cache.get("event", "E", load_then_commit_elsewhere).event.description == "old"
    # Not cached: the second get loads again and sees the commit.
    assert cache.get("event", "E", load_then_commit_elsewhere).event.description == "new"
    assert len(loads) == 2
    cache.get("event", "E", load_then_commit_elsewhere)
    assert len(loads) == 2  # now it was kept
    cache.close()


def test_misses_are_not_cached_and_spaces_are_bounded(two_stores):
    first, _ = two_stores
    cache = ChangeWatchedCache(first.engine, max_entries=2)
    calls = []

    def load(value):
        def run():
            calls.append(value)
            return value

        return run

    cache.get("s", "missing", load(None))
    cache.get("s", "missing", load(None))
    assert calls == [None, None]
    for name in ("a", "b", "c"):
        cache.get("s", name, load(name))
    calls.clear()
    for name in ("c", "b"):
        cache.get("s", name, load(name))
    assert calls == []  # b and c are kept: c took the place of a, the oldest
    cache.get("s", "a", load("a"))
    assert calls == ["a"]  # a was dropped to bound the space at two
    cache.close()


def test_an_event_commit_keeps_cached_keys_and_a_key_commit_drops_them(two_stores):
    first, second = two_stores
    keys = KeyService(first)
    _, secret = keys.create("ci")
    key = keys.authenticate(secret)
    loads: list[str] = []
    real_load = first.store.get_key_by_hash

    def counting_load(key_hash: str, *, fresh: bool = False):
        loads.append(key_hash)
        return real_load(key_hash, fresh=fresh)

    first.store.get_key_by_hash = counting_load
    keys.authenticate(secret)
    assert loads == []  # cached
    second.create_event(event("E"), ACTOR)  # another process changes only events
    assert first.get_event("E") is not None
    keys.authenticate(secret)
    assert loads == []  # the key stayed cached
    KeyService(second).revoke(key.id)  # another process changes keys
    with pytest.raises(Unauthorized):
        keys.authenticate(secret)
    assert len(loads) == 1


def test_the_page_space_holds_at_most_max_entries_events_the_oldest_making_room(tmp_path):
    from qualevents.store.cache import MAX_ENTRIES

    store = open_store(f"sqlite:///{tmp_path / 'pages.db'}")
    try:
        for i in range(30):
            store.create_event(event(f"E{i:02d}"), ACTOR)
        store.cache._spaces._max_weight = 25  # as if MAX_ENTRIES were 25
        first = store.list_event_documents(0, 20)
        assert store.list_event_documents(0, 20) is first  # kept: weighs 20
        small = store.list_event_documents(0, 5)
        assert store.list_event_documents(0, 5) is small  # 20 + 5 fits: both kept
        second = store.list_event_documents(20, 10)
        assert store.list_event_documents(20, 10) is second  # kept: the oldest made room
        assert store.list_event_documents(0, 5) is small  # 5 + 10 fit beside it
        assert store.list_event_documents(0, 20) is not first  # dropped for the newer pages
        store.cache._spaces._max_weight = 8
        whole = store.list_event_documents(0, 9)
        assert store.list_event_documents(0, 9) is not whole  # heavier than the space
        assert MAX_ENTRIES == 10_000
    finally:
        store.close()


def test_peek_answers_only_what_is_cached_and_current(two_stores):
    """``peek`` (the event loop's look, no I/O): a value only once a read cached it, and
    nothing from the moment another connection commits until a read looks again."""
    first, second = two_stores
    first.create_event(event("E", "one"), ACTOR)
    key, secret = KeyService(first).create("ci")
    assert first.peek_event("E") is None  # not read yet: never loads
    assert first.get_event("E").event.description == "one"
    assert first.peek_event("E").event.description == "one"
    assert first.peek_event("unknown") is None
    assert KeyService(first).authenticate_from_memory(secret) is None
    KeyService(first).authenticate(secret)
    assert KeyService(first).authenticate_from_memory(secret).id == key.id
    second.replace_event(event("E", "two"), ACTOR)
    assert first.peek_event("E") is None  # a commit elsewhere: ask the store
    assert first.get_event("E").event.description == "two"
    assert first.peek_event("E").event.description == "two"
    page = first.list_event_documents(0, 10)
    assert first.peek_event_documents(0, 10) == page
    assert first.peek_event_documents(0, 5) is None


def test_a_key_revoked_elsewhere_is_refused_from_memory_too(two_stores):
    first, second = two_stores
    key, secret = KeyService(first).create("ci")
    KeyService(first).authenticate(secret)
    assert KeyService(first).authenticate_from_memory(secret).id == key.id
    KeyService(second).revoke(key.id)
    # The change counter moved: memory cannot answer, and the store refuses the key.
    assert KeyService(first).authenticate_from_memory(secret) is None
    with pytest.raises(Unauthorized):
        KeyService(first).authenticate(secret)
    with pytest.raises(Unauthorized):  # a malformed secret needs no store at all
        KeyService(first).authenticate_from_memory("not a key")


def test_a_store_without_a_cache_never_answers_from_memory(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'plain.db'}", cache=False)
    try:
        store.create_event(event("E"), ACTOR)
        assert store.get_event("E") is not None
        assert store.peek_event("E") is None
        assert store.peek_event_documents(0, 10) is None
    finally:
        store.close()
