"""The Store conformance suite: one class per capability, one subclass per backend. A new
backend is done when its subclasses pass."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from qualevents.errors import NameInUse, PreconditionFailed, QualifyingEventNotFound
from qualevents.models import IdTypeMapping, KeyKind, QualifyingEvent
from qualevents.service import QualifyingEventService
from qualevents.store import SQLStore, open_store
from qualevents.store.base import Actor

ACTOR = Actor(key_id="key-1", key_name="tester")
THREADS = 8


def make_event(name: str = "Purchases", **fields: Any) -> QualifyingEvent:
    values: dict[str, Any] = {
        "name": name,
        "sql": "SELECT user_id, ts FROM events",
        "timestamp_column": "ts",
        "id_type_mapping": [IdTypeMapping(statsig_unit_id="userID", column="user_id")],
    }
    values.update(fields)
    return QualifyingEvent(**values)


def all_at_once(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` in ``count`` threads released together; results or raised errors."""
    barrier = threading.Barrier(count)

    def run(i: int) -> Any:
        barrier.wait()
        try:
            return work(i)
        except Exception as error:
            return error

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


# -- backends -------------------------------------------------------------------------------


class SQLiteBackend:
    @pytest.fixture
    def database_url(self, tmp_path) -> str:
        return f"sqlite:///{tmp_path / 'conformance.db'}"


class PostgresBackend:
    @pytest.fixture
    def database_url(self, postgres_database_url) -> str:
        return postgres_database_url


# -- capabilities ---------------------------------------------------------------------------


class CRUDConformance:
    def test_create_then_get_returns_the_same_event(self, store: SQLStore):
        event = make_event(tags=[], description="d", table_name="`a.b`", is_read_only=False)
        created = store.create_event(event, ACTOR)
        assert created.revision == 1
        found = store.get_event("Purchases")
        assert found is not None
        assert found.event == event
        assert found.event.to_document() == event.to_document()
        assert found.revision == 1

    def test_get_unknown_is_none_and_or_raise_raises(self, store: SQLStore):
        assert store.get_event("ghost") is None
        with pytest.raises(QualifyingEventNotFound):
            store.get_event_or_raise("ghost")

    def test_duplicate_create_raises_name_in_use_and_keeps_the_first(self, store: SQLStore):
        store.create_event(make_event(sql="SELECT 1"), ACTOR)
        with pytest.raises(NameInUse):
            store.create_event(make_event(sql="SELECT 2"), ACTOR)
        assert store.get_event_or_raise("Purchases").event.sql == "SELECT 1"

    def test_names_are_case_sensitive(self, store: SQLStore):
        store.create_event(make_event("abc"), ACTOR)
        store.create_event(make_event("ABC"), ACTOR)
        assert {s.event.name for s in store.list_events(0, 10).items} == {"abc", "ABC"}

    def test_replace_overwrites_and_bumps_the_revision(self, store: SQLStore):
        store.create_event(make_event(tags=["a"]), ACTOR)
        replaced = store.replace_event(make_event(sql="SELECT 2"), ACTOR)
        assert replaced.revision == 2
        found = store.get_event_or_raise("Purchases")
        assert found.event.sql == "SELECT 2"
        assert found.event.tags is None
        assert found.revision == 2

    def test_replace_unknown_raises_not_found(self, store: SQLStore):
        with pytest.raises(QualifyingEventNotFound):
            store.replace_event(make_event("ghost"), ACTOR)

    def test_replace_with_stale_revision_fails_and_changes_nothing(self, store: SQLStore):
        store.create_event(make_event(), ACTOR)
        store.replace_event(make_event(sql="SELECT 2"), ACTOR)
        with pytest.raises(PreconditionFailed):
            store.replace_event(make_event(sql="SELECT 3"), ACTOR, expected_revision=1)
        assert store.get_event_or_raise("Purchases").event.sql == "SELECT 2"
        store.replace_event(make_event(sql="SELECT 4"), ACTOR, expected_revision=2)
        assert store.get_event_or_raise("Purchases").event.sql == "SELECT 4"

    def test_delete_removes_and_unknown_raises(self, store: SQLStore):
        store.create_event(make_event(), ACTOR)
        store.delete_event("Purchases", ACTOR)
        assert store.get_event("Purchases") is None
        with pytest.raises(QualifyingEventNotFound):
            store.delete_event("Purchases", ACTOR)

    def test_delete_with_stale_revision_keeps_the_event(self, store: SQLStore):
        store.create_event(make_event(), ACTOR)
        store.replace_event(make_event(sql="SELECT 2"), ACTOR)
        with pytest.raises(PreconditionFailed):
            store.delete_event("Purchases", ACTOR, expected_revision=1)
        assert store.get_event("Purchases") is not None

    def test_unicode_and_quotes_survive(self, store: SQLStore):
        event = make_event("naïve ☕ 'quoted' \"double\"", sql="SELECT '\\n', \"x\" -- é")
        store.create_event(event, ACTOR)
        assert store.get_event_or_raise(event.name).event == event


class OrderConformance:
    def test_list_is_in_creation_order_with_a_total(self, store: SQLStore):
        names = ["m", "a", "z", "b", "A"]
        for name in names:
            store.create_event(make_event(name), ACTOR)
        store.replace_event(make_event("m", sql="SELECT 2"), ACTOR)
        page = store.list_events(0, 100)
        assert [s.event.name for s in page.items] == names
        assert page.total == 5

    def test_offset_and_limit_slice_in_order(self, store: SQLStore):
        for i in range(5):
            store.create_event(make_event(f"e{i}"), ACTOR)
        assert [s.event.name for s in store.list_events(1, 2).items] == ["e1", "e2"]
        assert [s.event.name for s in store.list_events(4, 2).items] == ["e4"]
        beyond = store.list_events(10, 2)
        assert beyond.items == [] and beyond.total == 5

    def test_a_recreated_name_goes_to_the_end(self, store: SQLStore):
        for name in ("a", "b"):
            store.create_event(make_event(name), ACTOR)
        store.delete_event("a", ACTOR)
        store.create_event(make_event("a"), ACTOR)
        assert [s.event.name for s in store.list_events(0, 10).items] == ["b", "a"]


class RevisionConformance:
    def test_every_change_writes_a_revision(self, store: SQLStore):
        store.create_event(make_event(), ACTOR)
        store.replace_event(make_event(sql="SELECT 2"), ACTOR)
        store.replace_event(make_event(sql="SELECT 2", team="t"), ACTOR, action="patch")
        store.delete_event("Purchases", Actor(key_id="key-2", key_name="other"))
        history = store.list_revisions("Purchases", 0, 100)
        assert history.total == 4
        assert [r.revision for r in history.items] == [1, 2, 3, 4]
        assert [r.action for r in history.items] == ["create", "update", "patch", "delete"]
        create, update, patch, delete = history.items
        assert create.document == make_event().to_document()
        assert update.changes == {
            "sql": {"old": "SELECT user_id, ts FROM events", "new": "SELECT 2"}
        }
        assert patch.changes == {"team": {"old": None, "new": "t"}}
        assert delete.document is None
        assert (delete.key_id, delete.key_name) == ("key-2", "other")
        assert (create.key_id, create.key_name) == ("key-1", "tester")

    def test_failed_writes_write_no_revision(self, store: SQLStore):
        store.create_event(make_event(), ACTOR)
        with pytest.raises(NameInUse):
            store.create_event(make_event(), ACTOR)
        with pytest.raises(PreconditionFailed):
            store.replace_event(make_event(sql="x"), ACTOR, expected_revision=7)
        with pytest.raises(QualifyingEventNotFound):
            store.delete_event("ghost", ACTOR)
        assert store.list_all_revisions(0, 100).total == 1

    def test_history_outlives_a_delete_and_continues_on_recreate(self, store: SQLStore):
        store.create_event(make_event(), ACTOR)
        store.delete_event("Purchases", ACTOR)
        recreated = store.create_event(make_event(sql="SELECT 3"), ACTOR)
        assert recreated.revision == 3
        assert store.get_event_or_raise("Purchases").revision == 3
        assert store.get_revision("Purchases", 1).document == make_event().to_document()
        assert store.get_revision("Purchases", 9) is None

    def test_all_revisions_filter_and_order(self, store: SQLStore):
        store.create_event(make_event("a"), ACTOR)
        store.create_event(make_event("b"), Actor(key_id="key-2", key_name="two"))
        store.delete_event("a", ACTOR)
        newest = store.list_all_revisions(0, 10)
        assert [(r.event_name, r.action) for r in newest.items] == [
            ("a", "delete"),
            ("b", "create"),
            ("a", "create"),
        ]
        assert store.list_all_revisions(0, 10, actions=["create"]).total == 2
        assert store.list_all_revisions(0, 10, key_id="key-2").items[0].event_name == "b"
        oldest = store.list_all_revisions(0, 1, newest_first=False)
        assert oldest.items[0].event_name == "a" and oldest.total == 3


class TimestampConformance:
    def test_event_timestamps_are_utc_aware(self, store: SQLStore):
        created = store.create_event(make_event(), ACTOR)
        store.replace_event(make_event(sql="SELECT 2"), ACTOR)
        found = store.get_event_or_raise("Purchases")
        listed = store.list_events(0, 1).items[0]
        for moment in (created.created_at, found.created_at, found.updated_at, listed.updated_at):
            assert moment.tzinfo is not None
            assert moment.utcoffset() == timedelta(0)
        assert found.created_at == created.created_at
        assert found.updated_at >= found.created_at

    def test_revision_and_key_timestamps_are_utc_aware(self, store: SQLStore):
        store.create_event(make_event(), ACTOR)
        key = store.create_key("key-x", "x", KeyKind.FULL_ACCESS, "h" * 64)
        revoked = store.revoke_key("key-x")
        moments = [
            store.list_revisions("Purchases", 0, 1).items[0].created_at,
            key.created_at,
            revoked.created_at,
            revoked.revoked_at,
            store.list_keys()[0].created_at,
        ]
        for moment in moments:
            assert moment is not None and moment.utcoffset() == timedelta(0)

    def test_since_until_filter_by_utc_time(self, store: SQLStore):
        store.create_event(make_event(), ACTOR)
        at = store.list_all_revisions(0, 1).items[0].created_at
        assert store.list_all_revisions(0, 9, since=at - timedelta(seconds=1)).total == 1
        assert store.list_all_revisions(0, 9, since=at + timedelta(seconds=1)).total == 0
        assert store.list_all_revisions(0, 9, until=at + timedelta(seconds=1)).total == 1


class KeyConformance:
    def test_key_lifecycle(self, store: SQLStore):
        key = store.create_key("key-a", "alpha", KeyKind.READ_ONLY, "a" * 64)
        assert key.active and not key.can_write
        found, stored_hash = store.get_key_by_hash("a" * 64)
        assert found.id == "key-a" and stored_hash == "a" * 64
        assert store.get_key_by_hash("b" * 64) is None
        assert [k.id for k in store.list_keys()] == ["key-a"]
        revoked = store.revoke_key("key-a")
        assert revoked is not None and not revoked.active
        assert not store.get_key_by_hash("a" * 64)[0].active
        assert store.revoke_key("key-none") is None


class ConcurrencyConformance:
    def test_concurrent_creates_of_one_name_let_exactly_one_win(self, store: SQLStore):
        results = all_at_once(
            THREADS, lambda i: store.create_event(make_event(sql=f"SELECT {i}"), ACTOR)
        )
        winners = [r for r in results if not isinstance(r, Exception)]
        losers = [r for r in results if isinstance(r, Exception)]
        assert len(winners) == 1
        assert all(isinstance(error, NameInUse) for error in losers), losers
        assert store.get_event_or_raise("Purchases").event.sql == winners[0].event.sql
        assert store.list_events(0, 100).total == 1
        assert store.list_revisions("Purchases", 0, 100).total == 1

    def test_concurrent_creates_of_different_names_all_succeed(self, store: SQLStore):
        results = all_at_once(THREADS, lambda i: store.create_event(make_event(f"e{i}"), ACTOR))
        assert not [r for r in results if isinstance(r, Exception)], results
        assert store.list_events(0, 100).total == THREADS

    def test_concurrent_patches_keep_every_field(self, store: SQLStore):
        service = QualifyingEventService(store)
        service.create(make_event(), ACTOR)
        changes = [
            {"description": "d"},
            {"team": "t"},
            {"team_id": "t-1"},
            {"tags": ["x"]},
            {"timestamp_as_day": True},
            {"is_verified": True},
        ]
        results = all_at_once(len(changes), lambda i: service.patch("Purchases", changes[i], ACTOR))
        assert not [r for r in results if isinstance(r, Exception)], results
        final = store.get_event_or_raise("Purchases")
        for change in changes:
            for field, value in change.items():
                assert getattr(final.event, field) == value, field
        assert final.revision == 1 + len(changes)

    def test_concurrent_replaces_with_one_if_match_let_one_win(self, store: SQLStore):
        store.create_event(make_event(), ACTOR)
        results = all_at_once(
            THREADS,
            lambda i: store.replace_event(
                make_event(sql=f"SELECT {i}"), ACTOR, expected_revision=1
            ),
        )
        winners = [r for r in results if not isinstance(r, Exception)]
        assert len(winners) == 1
        assert all(isinstance(r, PreconditionFailed) for r in results if r not in winners)
        assert store.get_event_or_raise("Purchases").revision == 2

    def test_parallel_api_posts_of_one_name_give_exactly_one_201(self, store, settings):
        from qualevents.api.app import create_app
        from qualevents.keys import KeyService

        _, secret = KeyService(store).create("racer")
        app = create_app(settings, store=store)
        body = {
            "name": "Raced",
            "sql": "SELECT 1",
            "timestampColumn": "ts",
            "idTypeMapping": [{"statsigUnitID": "userID", "column": "u"}],
        }

        def post(_i: int) -> tuple[int, str]:
            with TestClient(app, headers={"STATSIG-API-KEY": secret}) as http:
                response = http.post("/console/v1/experiments/qualifying_events", json=body)
                return response.status_code, response.json()["message"]

        results = all_at_once(THREADS, post)
        assert sorted(status for status, _ in results) == [201] + [400] * (THREADS - 1)
        assert {m for s, m in results if s == 400} == {"Name is already in use"}
        assert store.list_events(0, 100).total == 1


class TwoProcessConformance:
    """Two engines on one database, as two server processes would have."""

    @pytest.fixture
    def second_store(self, database_url: str, store: SQLStore) -> Iterator[SQLStore]:
        other = open_store(database_url)
        yield other
        other.close()

    def test_two_engines_creating_one_name_let_exactly_one_win(self, store, second_store):
        stores = [store, second_store]
        results = all_at_once(
            THREADS, lambda i: stores[i % 2].create_event(make_event(sql=f"SELECT {i}"), ACTOR)
        )
        winners = [r for r in results if not isinstance(r, Exception)]
        assert len(winners) == 1
        assert all(isinstance(r, NameInUse) for r in results if r not in winners), results
        assert second_store.get_event_or_raise("Purchases").event.sql == winners[0].event.sql

    def test_a_write_through_one_engine_is_read_through_the_other(self, store, second_store):
        store.create_event(make_event(), ACTOR)
        second_store.replace_event(make_event(sql="SELECT 2"), ACTOR, expected_revision=1)
        assert store.get_event_or_raise("Purchases").event.sql == "SELECT 2"
        with pytest.raises(PreconditionFailed):
            store.replace_event(make_event(sql="SELECT 3"), ACTOR, expected_revision=1)


# -- one subclass per capability and backend -------------------------------------------------


class TestCRUDSQLite(SQLiteBackend, CRUDConformance): ...


class TestCRUDPostgres(PostgresBackend, CRUDConformance): ...


class TestOrderSQLite(SQLiteBackend, OrderConformance): ...


class TestOrderPostgres(PostgresBackend, OrderConformance): ...


class TestRevisionsSQLite(SQLiteBackend, RevisionConformance): ...


class TestRevisionsPostgres(PostgresBackend, RevisionConformance): ...


class TestTimestampsSQLite(SQLiteBackend, TimestampConformance): ...


class TestTimestampsPostgres(PostgresBackend, TimestampConformance): ...


class TestKeysSQLite(SQLiteBackend, KeyConformance): ...


class TestKeysPostgres(PostgresBackend, KeyConformance): ...


class TestConcurrencySQLite(SQLiteBackend, ConcurrencyConformance): ...


class TestConcurrencyPostgres(PostgresBackend, ConcurrencyConformance): ...


class TestTwoProcessesSQLite(SQLiteBackend, TwoProcessConformance): ...


class TestTwoProcessesPostgres(PostgresBackend, TwoProcessConformance): ...
