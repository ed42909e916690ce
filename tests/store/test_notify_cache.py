"""The PostgreSQL store's read cache: dropped by LISTEN/NOTIFY when another process
commits, at once by the process's own commits, bypassed by fresh reads (mutations), and
off while its listening connection is down."""

from __future__ import annotations

import psycopg
import pytest

from qualevents.store import open_store
from qualevents.store.base import Actor
from qualevents.store.notify import NotifiedCache
from tests.conftest import _admin_url, seen_by
from tests.factories import event

ACTOR = Actor("k", "test")


@pytest.fixture
def two_processes(postgres_database_url):
    """Two stores on one PostgreSQL database, as two server processes would have."""
    first, second = open_store(postgres_database_url), open_store(postgres_database_url)
    for store in (first, second):
        if store.get_event("E", fresh=True):
            store.delete_event("E", ACTOR)
    assert isinstance(first.cache, NotifiedCache) and first.cache.listening
    yield first, second
    if second.get_event("E", fresh=True):  # the session's database is shared
        second.delete_event("E", ACTOR)
    first.close()
    second.close()


def test_another_process_commit_drops_the_cache_when_notified(two_processes):
    first, second = two_processes
    second.create_event(event("E", "one"), ACTOR)
    assert first.get_event("E").event.description == "one"  # cached now
    with seen_by(first):
        second.replace_event(event("E", "two"), ACTOR)
        # A fresh read never waits for the notification.
        assert first.get_event("E", fresh=True).event.description == "two"
    assert first.get_event("E").event.description == "two"


def test_a_process_reads_its_own_writes_at_once(two_processes):
    first, _ = two_processes
    first.create_event(event("E", "one"), ACTOR)
    assert first.get_event("E").event.description == "one"
    first.replace_event(event("E", "two"), ACTOR)
    assert first.get_event("E").event.description == "two"
    first.delete_event("E", ACTOR)
    assert first.get_event("E") is None


def test_own_notifications_are_not_counted(two_processes):
    first, second = two_processes
    cache = first.cache
    with cache.notified:
        before = cache.notifications
    first.create_event(event("E"), ACTOR)  # notifies, but first dropped its cache already
    with seen_by(first):
        second.replace_event(event("E", "two"), ACTOR)
    # Notifications arrive in commit order: first's own came before second's, uncounted.
    with cache.notified:
        assert cache.notifications == before + 1


def test_only_writes_to_cached_data_notify(two_processes):
    first, second = two_processes
    cache = first.cache
    with cache.notified:
        before = cache.notifications
    second.take_token("bucket", 10.0, 1.0, 0.0)  # rate limit buckets: not cached
    second.set_setting("requireReviews", "false")  # settings: not cached
    with seen_by(first):
        second.create_event(event("E"), ACTOR)
    # Notifications arrive in commit order: only the create's was sent.
    with cache.notified:
        assert cache.notifications == before + 1


def test_a_change_made_with_plain_sql_drops_the_cache(two_processes, postgres_database_url):
    """The database itself notifies (a trigger), so even a write from outside qualevents
    (psql, a migration script) reaches every process's cache."""
    first, second = two_processes
    second.create_event(event("E", "one"), ACTOR)
    assert first.get_event("E").event.description == "one"  # cached now
    with seen_by(first), psycopg.connect(_admin_url(postgres_database_url)) as conn:
        conn.execute("DELETE FROM revisions WHERE event_name = 'E'")
        conn.execute("DELETE FROM qualifying_events WHERE name = 'E'")
    assert first.get_event("E") is None


def test_the_cache_is_off_while_the_listener_is_down_and_empty_when_back(
    two_processes, postgres_database_url, caplog
):
    first, second = two_processes
    cache = first.cache
    second.create_event(event("E", "one"), ACTOR)
    assert first.get_event("E").event.description == "one"
    with cache.notified:
        connected = cache.connections
    with psycopg.connect(_admin_url(postgres_database_url), autocommit=True) as admin:
        killed = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE %s",
            (f"LISTEN {cache._stop_channel}%",),
        ).fetchall()
    assert killed == [(True,)]
    # Written while first may not be listening: its notification may never reach first.
    second.replace_event(event("E", "two"), ACTOR)
    with cache.notified:
        assert cache.notified.wait_for(lambda: cache.connections > connected, timeout=10)
    assert first.get_event("E").event.description == "two"
    said = [r.getMessage() for r in caplog.records if r.name == "qualevents.store"]
    assert said == [
        "cache listener lost its connection; reads go to the database",
        "cache listener reconnected; caching again",
    ]


def test_mutations_start_from_the_database_even_when_the_cache_is_behind(two_processes):
    from qualevents.service import QualifyingEventService

    first, second = two_processes
    # first never hears of second's commits: its cache stays behind on purpose.
    first.cache._notified = lambda: None
    second.create_event(event("E", "one"), ACTOR)
    assert first.get_event("E").event.description == "one"  # cached
    replaced = second.replace_event(event("E", "two", tags=["from-second"]), ACTOR)
    assert first.get_event("E").event.description == "one"  # behind, as set up
    patched = QualifyingEventService(first).patch("E", {"description": "three"}, ACTOR)
    # The PATCH merged onto second's version (its tags kept), not onto the stale one.
    assert patched.event.description == "three"
    assert patched.event.tags == ["from-second"]
    assert patched.revision == replaced.revision + 1
    assert first.get_event("E").event.tags == ["from-second"]  # its own write dropped it


def test_own_event_writes_keep_cached_keys_and_own_key_writes_drop_them(two_processes):
    from qualevents.keys import hash_secret
    from qualevents.models import KeyKind

    first, _ = two_processes
    key_hash = hash_secret("console-own-writes")
    first.create_key("key-own-writes", "own", KeyKind.FULL_ACCESS, key_hash)
    assert first.get_key_by_hash(key_hash) is not None  # cached now
    loads: list[str] = []
    load = first.store.get_key_by_hash
    first.store.get_key_by_hash = lambda h, **kw: loads.append(h) or load(h, **kw)
    try:
        first.create_event(event("E", "one"), ACTOR)
        assert first.get_key_by_hash(key_hash) is not None
        assert loads == []  # an event write leaves the key cached
        first.revoke_key("key-own-writes")
        found = first.get_key_by_hash(key_hash)
        assert loads == [key_hash]  # a revocation is read at once
        assert found is not None and found[0].revoked_at is not None
    finally:
        del first.store.get_key_by_hash


def _setting(store, name: str) -> str:
    with store.engine.connect() as conn:
        return conn.exec_driver_sql(f"SELECT current_setting('{name}', true)").scalar() or ""


def test_a_servers_writes_are_announced_after_commit_and_the_clis_by_the_trigger(
    two_processes, postgres_database_url
):
    """A server's connections keep the trigger silent (a NOTIFY inside the transaction
    would serialize every writer's commit) and announce each change once it committed;
    a store without a cache (the CLI, a script) is notified about by the trigger."""
    first, second = two_processes
    assert _setting(second, "qualevents.notify") == "after_commit"
    plain = open_store(postgres_database_url, cache=False)
    try:
        assert _setting(plain, "qualevents.notify") != "after_commit"
        cache = first.cache
        for write in (
            lambda: second.create_event(event("E", "one"), ACTOR),
            lambda: plain.replace_event(event("E", "two"), ACTOR),
            lambda: second.replace_event(event("E", "three"), ACTOR),
        ):
            first.get_event("E")  # cached, when it exists
            with cache.notified:
                before = cache.notifications
            with seen_by(first):
                write()
            with cache.notified:
                assert cache.notifications == before + 1  # one notification per change
        assert first.get_event("E").event.description == "three"
        plain.delete_event("E", ACTOR)
    finally:
        plain.close()


def test_peek_never_answers_while_not_listening_or_for_a_fresh_read(two_processes):
    first, second = two_processes
    with seen_by(first):
        second.create_event(event("E", "one"), ACTOR)
    assert first.peek_event("E") is None  # not read yet
    assert first.get_event("E").event.description == "one"
    assert first.peek_event("E").event.description == "one"
    key_hash = "0" * 64
    assert first.peek_key_by_hash(key_hash) is None
    first.cache._listening = False  # as while the listener reconnects
    try:
        assert first.peek_event("E") is None
    finally:
        first.cache._listening = True
    # Fresh reads (mutations) never come from this cache.
    from qualevents.keys import hash_secret
    from qualevents.models import KeyKind

    digest = hash_secret("console-peek-fresh")
    first.create_key("key-peek-fresh", "peek", KeyKind.FULL_ACCESS, digest)
    assert first.get_key_by_hash(digest) is not None
    assert first.peek_key_by_hash(digest) is not None
    assert first.peek_key_by_hash(digest, fresh=True) is None


def test_a_pooled_connection_that_died_while_idle_is_replaced(postgres_database_url, monkeypatch):
    """Connections idle in the pool for over ``PING_AFTER_IDLE_S`` are pinged before use
    (0 here, so always): one the server closed meanwhile is replaced, and the call works."""
    from qualevents.store import engine as engine_module

    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_S", 0.0)
    store = open_store(postgres_database_url, cache=False)
    try:
        store.ping()  # one pooled connection, idle now
        name = store.engine.url.query["application_name"]
        with psycopg.connect(_admin_url(postgres_database_url), autocommit=True) as admin:
            killed = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s",
                (name,),
            ).fetchall()
        assert killed and all(row == (True,) for row in killed)
        assert store.get_event("nothing here") is None
    finally:
        store.close()
