"""Warehouse safety through the API, as an attacker holding a console key meets it, on real
warehouses (PostgreSQL as a least-privileged role, and DuckDB):

- every attack of the warehouse-safety issue (server files, large objects, dblink,
  set_config, settings and other sessions' SQL, sleeping, sequences, DuckDB's file readers
  and settings) is a 400 naming the function, in a definition's SQL, in a dry run, in a
  PATCH and in a custom field's formula;
- nested SQL up to the limit is accepted, deeper is a 400 (never a 500);
- a stuck preview holds one warehouse thread and nothing else: reads, lists and creates
  answer meanwhile; the key's next preview beyond its limit is a 429 with Retry-After;
- operators can refuse rows to read-only keys (403), off by default.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import httpx
import psycopg
import pytest
from starlette.testclient import TestClient

from qualevents.api.app import create_app
from qualevents.config import Settings
from qualevents.keys import KeyService
from qualevents.store.sql import open_store
from qualevents.validation import Validator
from qualevents.warehouse import open_warehouse
from qualevents.warehouse.executor import WarehouseRunner
from tests.warehouse.conftest import reader_role

BASE = "/console/v1/experiments/qualifying_events"
MAPPING = [{"statsigUnitID": "userID", "column": "user_id"}]


def event(name: str, sql: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "sql": sql, "timestampColumn": "ts", "idTypeMapping": MAPPING, **extra}


@dataclass
class Served:
    app: Any
    full: str
    read_only: str
    admin_url: str | None
    table: str

    def client(self, secret: str | None = None) -> httpx.Client:
        return TestClient(self.app, headers={"STATSIG-API-KEY": secret or self.full})


def _serve(
    tmp_path: Path, warehouse_url: str, table: str, admin_url: str | None, **settings: Any
) -> Iterator[Served]:
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    warehouse = open_warehouse(warehouse_url, timeout_s=20)
    runner = WarehouseRunner(threads=4, per_key=settings.pop("per_key", 4))
    validator = Validator(warehouse, runner=runner)
    config = Settings(
        database_url=f"sqlite:///{tmp_path / 'store.db'}",
        warehouse_url=warehouse_url,
        _env_file=None,
        **settings,
    )
    app = create_app(config, store=store, warehouse=warehouse, validator=validator)
    keys = KeyService(store)
    full, read_only = keys.create("full")[1], keys.create("reader", read_only=True)[1]
    try:
        yield Served(app, full, read_only, admin_url, table)
    finally:
        runner.close()
        assert warehouse is not None
        warehouse.close()
        store.close()


@pytest.fixture
def postgres_tables(postgres_database_url: str) -> Iterator[tuple[str, str]]:
    """(admin URL, reader URL) of the session's test database, with tables ``events`` and
    ``slow_events`` readable by a least-privileged role."""
    admin = postgres_database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as conn:
        for table in ("events", "slow_events"):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
            conn.execute(f"CREATE TABLE {table} (user_id text, ts timestamp)")
            conn.execute(f"INSERT INTO {table} VALUES ('u1', now()), ('u2', now())")
    with reader_role(admin) as reader_url:
        yield admin, reader_url


@pytest.fixture
def pg_served(tmp_path: Path, postgres_tables: tuple[str, str]) -> Iterator[Served]:
    admin, reader_url = postgres_tables
    yield from _serve(tmp_path, reader_url, "events", admin, per_key=1)


@pytest.fixture
def duckdb_served(tmp_path: Path) -> Iterator[Served]:
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute("CREATE TABLE events AS SELECT 'u1' AS user_id, now() AS ts")
    yield from _serve(tmp_path, f"duckdb:///{path}", "events", None)


POSTGRES_ATTACKS = {
    "pg_read_file": "SELECT pg_read_file('/etc/passwd') AS user_id, now() AS ts",
    "pg_ls_dir": "SELECT d AS user_id, now() AS ts FROM pg_ls_dir('.') AS d",
    "dblink_exec": (
        "SELECT dblink_exec('dbname=postgres', 'COPY (SELECT 1) TO PROGRAM ''id''') AS user_id, "
        "now() AS ts"
    ),
    "lo_export": "SELECT lo_export(lo_from_bytea(0, 'x'), '/tmp/x') AS user_id, now() AS ts",
    "lo_from_bytea": "SELECT lo_from_bytea(0, 'x')::text AS user_id, now() AS ts",
    "set_config": (
        "SELECT set_config('default_transaction_read_only', 'off', false) AS user_id, now() AS ts"
    ),
    "current_setting": "SELECT current_setting('data_directory') AS user_id, now() AS ts",
    "pg_sleep": "SELECT 'u' AS user_id, now() AS ts FROM pg_sleep(1000)",
    "pg_terminate_backend": "SELECT pg_terminate_backend(1)::text AS user_id, now() AS ts",
    "pg_advisory_lock": "SELECT pg_advisory_lock(1)::text AS user_id, now() AS ts",
    "nextval": "SELECT nextval('s')::text AS user_id, now() AS ts",
    "query_to_xml": "SELECT query_to_xml('SELECT 1', true, true, '')::text AS user_id, now() AS ts",
    "pg_settings": "SELECT setting AS user_id, now() AS ts FROM pg_settings",
    "pg_stat_activity": "SELECT query AS user_id, now() AS ts FROM pg_stat_activity",
}
DUCKDB_ATTACKS = {
    "read_csv_auto": "SELECT column0 AS user_id, now() AS ts FROM read_csv_auto('/etc/passwd')",
    "read_text": "SELECT content AS user_id, now() AS ts FROM read_text('/etc/passwd')",
    "glob": "SELECT file AS user_id, now() AS ts FROM glob('/*')",
    "duckdb_settings": "SELECT value AS user_id, now() AS ts FROM duckdb_settings()",
    "current_setting": "SELECT current_setting('temp_directory') AS user_id, now() AS ts",
    "duckdb_databases": "SELECT path AS user_id, now() AS ts FROM duckdb_databases()",
    "query": "SELECT * FROM query('SELECT 1 AS user_id, now() AS ts')",
}


def _assert_refused(response: httpx.Response, name: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"status", "message", "errors"} and body["status"] == 400
    assert any(name in item["errorMessage"] for item in body["errors"]), body


def _attack_everywhere(served: Served, name: str, sql: str) -> None:
    with served.client() as http:
        assert (
            http.post(BASE, json=event("good", f"SELECT * FROM {served.table}")).status_code == 201
        )
        _assert_refused(http.post(BASE, json=event("bad", sql)), name)
        _assert_refused(http.post(BASE, json={**event("bad", sql), "dryRun": True}), name)
        _assert_refused(http.patch(f"{BASE}/good", json={"sql": sql}), name)
        assert http.get(f"{BASE}/bad").status_code == 404
        # The stored definition is unchanged and its preview still works.
        assert http.get(f"{BASE}/good/-/preview").status_code == 200


@pytest.mark.parametrize(("name", "sql"), POSTGRES_ATTACKS.items(), ids=list(POSTGRES_ATTACKS))
def test_postgres_attacks_are_400s_naming_the_function(
    pg_served: Served, name: str, sql: str
) -> None:
    _attack_everywhere(pg_served, name, sql)


@pytest.mark.parametrize(("name", "sql"), DUCKDB_ATTACKS.items(), ids=list(DUCKDB_ATTACKS))
def test_duckdb_attacks_are_400s_naming_the_function(
    duckdb_served: Served, name: str, sql: str
) -> None:
    _attack_everywhere(duckdb_served, name, sql)


@pytest.mark.parametrize(
    ("name", "formula"),
    [
        ("set_config", "set_config('statement_timeout', '0', false)"),
        ("pg_read_file", "pg_read_file('/etc/passwd')"),
        ("generate_series", "generate_series(1, 10)"),
        ("unnest", "unnest(ARRAY[1, 2])"),
    ],
)
def test_formulas_are_guarded_too(pg_served: Served, name: str, formula: str) -> None:
    body = event(
        "formula", "SELECT * FROM events", customFieldMapping=[{"key": "k", "formula": formula}]
    )
    with pg_served.client() as http:
        response = http.post(BASE, json=body)
    _assert_refused(response, name)
    assert response.json()["errors"][0]["property"] == "customFieldMapping[0].formula"


def test_nested_sql_is_accepted_to_the_limit_and_a_400_beyond(pg_served: Served) -> None:
    with pg_served.client() as http:
        for i, nested in enumerate(
            ["(" * 42 + "1" + ")" * 42, "CASE WHEN TRUE THEN " * 50 + "1" + " END" * 50]
        ):
            sql = f"SELECT user_id, ts, {nested} AS n FROM events"
            response = http.post(BASE, json=event(f"nested {i}", sql))
            assert response.status_code == 201, response.text
        deep = "abs(" * 300 + "1" + ")" * 300
        response = http.post(
            BASE, json=event("deep", f"SELECT user_id, ts, {deep} AS n FROM events")
        )
    assert response.status_code == 400
    item = response.json()["errors"][0]
    assert "the limit is 64" in item["errorMessage"] and item["line"] == 1


def _wait_until_blocked(admin_url: str, table: str) -> None:
    """Until some session waits for a lock on ``table`` (polls the server, not a clock)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        while not conn.execute(
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = %s::regclass",
            [table],
        ).fetchone()[0]:
            pass


def test_a_stuck_preview_delays_no_read_list_or_create(pg_served: Served) -> None:
    with pg_served.client() as http:
        assert http.post(BASE, json=event("slow", "SELECT * FROM slow_events")).status_code == 201
    transport = httpx.ASGITransport(app=pg_served.app)

    async def scenario(locker: psycopg.Connection[Any]) -> None:
        full = httpx.AsyncClient(
            transport=transport,
            base_url="http://testserver",
            headers={"STATSIG-API-KEY": pg_served.full},
        )
        reader = httpx.AsyncClient(
            transport=transport,
            base_url="http://testserver",
            headers={"STATSIG-API-KEY": pg_served.read_only},
        )
        async with full, reader:
            stuck = asyncio.create_task(reader.get(f"{BASE}/slow/-/preview"))
            await asyncio.to_thread(_wait_until_blocked, pg_served.admin_url or "", "slow_events")
            async with asyncio.timeout(60):  # a request stuck behind the preview fails here
                await everyone_else(full, reader, stuck)
            locker.rollback()  # release the lock: the stuck preview finishes
            assert (await stuck).status_code == 200

    async def everyone_else(
        full: httpx.AsyncClient, reader: httpx.AsyncClient, stuck: asyncio.Task[Any]
    ) -> None:
        # The same key's next warehouse request is refused at once, not queued.
        again = await reader.get(f"{BASE}/slow/-/daily")
        assert again.status_code == 429, again.text
        assert again.headers["Retry-After"] == "1"
        assert set(again.json()) == {"status", "message", "errors"}
        assert "limit is 1" in again.json()["errors"][0]["errorMessage"]
        # Everyone else carries on while the preview is stuck.
        assert (await full.get(BASE)).status_code == 200
        assert (await reader.get(f"{BASE}/slow")).status_code == 200
        created = await full.post(BASE, json=event("created meanwhile", "SELECT * FROM events"))
        assert created.status_code == 201, created.text
        assert (await full.get(f"{BASE}/created meanwhile/-/preview")).status_code == 200
        assert not stuck.done()

    with psycopg.connect(pg_served.admin_url or "") as locker:
        locker.execute("LOCK TABLE slow_events IN ACCESS EXCLUSIVE MODE")
        try:
            asyncio.run(scenario(locker))
        finally:
            locker.rollback()


@pytest.fixture
def refusing(tmp_path: Path, postgres_tables: tuple[str, str]) -> Iterator[Served]:
    admin, reader_url = postgres_tables
    yield from _serve(tmp_path, reader_url, "events", admin, refuse_rows_to_read_only_keys=True)


def test_rows_can_be_refused_to_read_only_keys(refusing: Served) -> None:
    with refusing.client() as http:
        assert http.post(BASE, json=event("pii", "SELECT * FROM events")).status_code == 201
        assert http.get(f"{BASE}/pii/-/preview").status_code == 200
    with refusing.client(refusing.read_only) as http:
        for path in (f"{BASE}/pii/-/preview", f"{BASE}/pii/-/daily"):
            response = http.get(path)
            assert response.status_code == 403, response.text
            assert set(response.json()) == {"status", "message", "errors"}
            assert "read-only" in response.json()["errors"][0]["errorMessage"]
        assert http.get(f"{BASE}/pii").status_code == 200  # the definition stays readable


def test_read_only_keys_see_rows_by_default(pg_served: Served) -> None:
    with pg_served.client() as http:
        assert http.post(BASE, json=event("open", "SELECT * FROM events")).status_code == 201
    with pg_served.client(pg_served.read_only) as http:
        response = http.get(f"{BASE}/open/-/preview")
    assert response.status_code == 200 and len(response.json()["data"]) == 2


def test_a_restore_validates_on_the_warehouse(duckdb_served: Served) -> None:
    with duckdb_served.client() as http:
        assert http.post(BASE, json=event("restored", "SELECT * FROM events")).status_code == 201
        changed = http.post(
            f"{BASE}/restored", json=event("restored", "SELECT user_id, ts FROM events")
        )
        assert changed.status_code == 200, changed.text
        response = http.post(f"{BASE}/restored/-/revisions/1/restore")
        assert response.status_code in (200, 201), response.text
        assert http.get(f"{BASE}/restored").json()["data"]["sql"] == "SELECT * FROM events"
