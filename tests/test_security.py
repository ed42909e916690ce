"""Security: what an attacker (or a log reader) can and cannot learn or do.

- Keys never reach a log, in process (every logger, DEBUG) or from the real server; a 401
  shows only a masked prefix.
- The final key comparison is ``hmac.compare_digest``, and a key one character off fails.
- Unknown and revoked keys get byte-for-byte the same 401.
- SQL in a definition never runs with write rights: writes are refused with a 400 by the
  API, the table is still there afterwards (DuckDB and PostgreSQL warehouses), and even a
  write that got past the guard meets a read-only session.
"""

from __future__ import annotations

import hmac
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest
from starlette.testclient import TestClient

import qualevents.keys
from qualevents.api.app import create_app
from qualevents.config import Settings
from qualevents.errors import QualeventsError
from qualevents.keys import KeyService, mask_secret
from qualevents.store.sql import SQLStore
from tests.test_faults import Server, workdir  # noqa: F401 - workdir is a fixture
from tests.warehouse.conftest import reader_role

BASE = "/console/v1/experiments/qualifying_events"
EVENT = {
    "name": "Log Events",
    "sql": "SELECT 1 AS user_id, now() AS ts",
    "timestampColumn": "ts",
    "idTypeMapping": [{"statsigUnitID": "userID", "column": "user_id"}],
}


def _keys(store: SQLStore) -> dict[str, str]:
    """A valid key, a revoked one, an unknown one sharing the revoked one's masked prefix,
    and one differing from the valid key in its last character only."""
    keys = KeyService(store)
    _, valid = keys.create("valid")
    revoked_key, revoked = keys.create("revoked")
    keys.revoke(revoked_key.id)
    unknown = revoked[:11] + ("A" if revoked[11] != "A" else "B") + revoked[12:]
    last = valid[-1]
    off_by_one = valid[:-1] + ("a" if last != "a" else "b")
    return {"valid": valid, "revoked": revoked, "unknown": unknown, "off_by_one": off_by_one}


@pytest.fixture
def keys(store: SQLStore) -> dict[str, str]:
    return _keys(store)


def _requests(app: Any, keys: dict[str, str]) -> list[Any]:
    responses = []
    with TestClient(app) as http:
        for secret in keys.values():
            headers = {"STATSIG-API-KEY": secret}
            responses.append(http.get(BASE, headers=headers))
            responses.append(http.post(BASE, headers=headers, json=EVENT))
            responses.append(http.get(f"{BASE}/missing", headers=headers))
        responses.append(http.get(BASE, headers={"STATSIG-API-KEY": keys["valid"] + "x" * 300}))
    return responses


def test_keys_never_reach_the_logs_in_process(
    app: Any, keys: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        responses = _requests(app, keys)
    assert [r.status_code for r in responses[:3]] == [200, 201, 404]
    assert all(r.status_code == 401 for r in responses[3:])
    assert caplog.records, "nothing was logged: the test would prove nothing"
    logged = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    for secret in keys.values():
        assert secret not in logged
        assert secret[len("console-") + 3 :] not in logged


@pytest.mark.slow
def test_keys_never_reach_the_real_servers_log(workdir: Path) -> None:  # noqa: F811
    from qualevents.store import open_store

    database_url = f"sqlite:///{workdir / 'q.db'}"
    store = open_store(database_url)
    try:
        keys = _keys(store)
    finally:
        store.close()
    server = Server(database_url, workdir, log_level="debug")
    try:
        server.start()
        import httpx

        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            for secret in keys.values():
                headers = {"STATSIG-API-KEY": secret}
                statuses = [
                    http.get(BASE, headers=headers).status_code,
                    http.post(BASE, headers=headers, json=EVENT).status_code,
                ]
                assert statuses == ([200, 201] if secret == keys["valid"] else [401, 401])
    finally:
        server.stop()
    log = server.log_path.read_text(errors="replace")
    assert "GET /console/v1/experiments/qualifying_events" in log  # access log is on
    for secret in keys.values():
        assert secret not in log
        assert secret[len("console-") + 3 :] not in log


def test_a_401_shows_only_a_masked_prefix(anonymous: Any, keys: dict[str, str]) -> None:
    for name in ("revoked", "unknown", "off_by_one"):
        secret = keys[name]
        response = anonymous.get(BASE, headers={"STATSIG-API-KEY": secret})
        assert response.status_code == 401
        assert f"Key: {mask_secret(secret)}" in response.json()["message"]
        assert mask_secret(secret) == secret[: len("console-") + 3] + "…"
        assert secret[len("console-") + 3 :] not in response.text


def test_a_key_one_character_off_is_refused(anonymous: Any, keys: dict[str, str]) -> None:
    ok = anonymous.get(BASE, headers={"STATSIG-API-KEY": keys["valid"]})
    off = anonymous.get(BASE, headers={"STATSIG-API-KEY": keys["off_by_one"]})
    assert ok.status_code == 200
    assert off.status_code == 401


def test_the_key_comparison_is_hmac_compare_digest(
    store: SQLStore, keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Any, Any]] = []
    original = hmac.compare_digest

    def recording(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return original(a, b)

    monkeypatch.setattr(qualevents.keys.hmac, "compare_digest", recording)
    service = KeyService(store)
    assert service.authenticate(keys["valid"]).name == "valid"
    digest = qualevents.keys.hash_secret(keys["valid"])
    assert calls == [(digest, digest)]
    with pytest.raises(QualeventsError):
        service.authenticate(keys["revoked"])
    assert len(calls) == 2  # the revoked key's hash matched and was compared the same way


def test_unknown_and_revoked_keys_get_the_same_401(anonymous: Any, keys: dict[str, str]) -> None:
    # The unknown key shares the revoked key's masked prefix, so even the bytes are equal.
    assert mask_secret(keys["unknown"]) == mask_secret(keys["revoked"])
    for method, path in (("GET", BASE), ("POST", BASE), ("DELETE", f"{BASE}/x")):
        unknown = anonymous.request(method, path, headers={"STATSIG-API-KEY": keys["unknown"]})
        revoked = anonymous.request(method, path, headers={"STATSIG-API-KEY": keys["revoked"]})
        assert unknown.status_code == revoked.status_code == 401
        assert unknown.content == revoked.content
        assert unknown.json()["errors"] == revoked.json()["errors"]
        skip = {"date"}
        assert {k: v for k, v in unknown.headers.items() if k not in skip} == {
            k: v for k, v in revoked.headers.items() if k not in skip
        }


# -- SQL in definitions never runs with write rights ---------------------------------------

WRITES = [
    "DELETE FROM {t}",
    "DROP TABLE {t}",
    "SELECT 1 AS user_id, now() AS ts; DROP TABLE {t}",
    "WITH x AS (INSERT INTO {t} VALUES (99) RETURNING *) SELECT x.v AS user_id, now() AS ts FROM x",
    "UPDATE {t} SET v = 0",
    "CREATE TABLE {t}_copy AS SELECT * FROM {t}",
    "INSERT INTO {t} SELECT 7",
]


class WarehouseCase:
    def __init__(self, name: str, url: str, table: str, rows) -> None:
        self.name, self.url, self.table, self.rows = name, url, table, rows


@pytest.fixture(params=["duckdb", "postgresql"])
def warehouse_case(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[WarehouseCase]:
    table = f"guarded_{uuid.uuid4().hex[:8]}"
    if request.param == "duckdb":
        path = tmp_path / "warehouse.duckdb"
        with duckdb.connect(str(path)) as conn:
            conn.execute(f"CREATE TABLE {table} (v INTEGER)")
            conn.execute(f"INSERT INTO {table} VALUES (1), (2), (3)")

        def rows() -> list[tuple[Any, ...]]:
            with duckdb.connect(str(path), read_only=True) as conn:
                return conn.execute(f"SELECT v FROM {table} ORDER BY v").fetchall()

        yield WarehouseCase("duckdb", f"duckdb:///{path}", table, rows)
        return
    url = request.getfixturevalue("postgres_database_url")
    plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {table} (v INTEGER)")
        conn.execute(f"INSERT INTO {table} VALUES (1), (2), (3)")

    def pg_rows() -> list[tuple[Any, ...]]:
        with psycopg.connect(plain, autocommit=True) as conn:
            return conn.execute(f"SELECT v FROM {table} ORDER BY v").fetchall()

    try:
        with reader_role(plain) as reader_url:
            yield WarehouseCase("postgresql", reader_url, table, pg_rows)
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {table}")
            conn.execute(f"DROP TABLE IF EXISTS {table}_copy")


@pytest.fixture
def guarded(warehouse_case: WarehouseCase, tmp_path: Path, store: SQLStore):
    from qualevents.validation import Validator
    from qualevents.warehouse import open_warehouse

    warehouse = open_warehouse(warehouse_case.url)
    validator = Validator(warehouse)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'store.db'}",
        warehouse_url=warehouse_case.url,
        _env_file=None,
    )
    app = create_app(settings, store=store, warehouse=warehouse, validator=validator)
    secret = KeyService(store).create("writer")[1]
    try:
        with TestClient(app, headers={"STATSIG-API-KEY": secret}) as http:
            yield http, warehouse
    finally:
        warehouse.close()


@pytest.mark.parametrize("template", WRITES)
def test_sql_that_writes_is_refused_and_the_table_survives(
    guarded, warehouse_case: WarehouseCase, template: str
) -> None:
    http, _ = guarded
    sql = template.format(t=warehouse_case.table)
    before = warehouse_case.rows()
    for path, body in (
        (BASE, {**EVENT, "name": "writer", "sql": sql}),
        (BASE, {**EVENT, "name": "dry", "sql": sql, "dryRun": True}),
    ):
        response = http.post(path, json=body)
        assert response.status_code == 400, (sql, response.text)
        assert response.json()["errors"][0]["property"] == "sql"
    assert http.get(f"{BASE}/writer").status_code == 404
    assert warehouse_case.rows() == before == [(1,), (2,), (3,)]


def test_a_read_only_definition_is_accepted(guarded, warehouse_case: WarehouseCase) -> None:
    # The control for the test above: the refusals are about writing, not about this table.
    http, _ = guarded
    sql = f"SELECT v AS user_id, now() AS ts FROM {warehouse_case.table}"
    response = http.post(BASE, json={**EVENT, "sql": sql})
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "template", ["DELETE FROM {t}", "DROP TABLE {t}", "INSERT INTO {t} VALUES (5)"]
)
def test_even_past_the_guard_the_session_cannot_write(
    guarded, warehouse_case: WarehouseCase, template: str
) -> None:
    """Defence in depth: the statement sent straight to the adapter's connection (skipping
    the read-only guard) fails, because the session itself has no write rights."""
    _, warehouse = guarded
    sql = template.format(t=warehouse_case.table)
    with pytest.raises(QualeventsError) as refused, warehouse.translate_errors():
        warehouse._fetch(sql, 10)
    assert "read-only" in str(refused.value).lower().replace("read only", "read-only")
    assert warehouse_case.rows() == [(1,), (2,), (3,)]
