"""PostgreSQL warehouse safety, on the real server: each statement in its own read-only
transaction that is rolled back (so nothing a query does to its session outlives it); the
role checked on connect (superuser, the server-file roles and CREATE on the database are
refused, unless the operator opts out); errors classified by SQLSTATE, without function
source; statements run side by side on a pool instead of behind one lock."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from qualevents.errors import (
    PrivilegedWarehouseRole,
    SQLInvalid,
    WarehouseError,
    WarehouseTimeout,
)
from qualevents.warehouse import open_warehouse
from qualevents.warehouse.postgres import PostgresWarehouse
from tests.warehouse.conftest import PostgresRoles, _as_role


def _open(url: str, **tuning: object) -> PostgresWarehouse:
    warehouse = open_warehouse(url, timeout_s=2.5, **tuning)  # type: ignore[arg-type]
    assert isinstance(warehouse, PostgresWarehouse)
    return warehouse


@pytest.fixture
def reader(postgres_roles: PostgresRoles) -> Iterator[PostgresWarehouse]:
    warehouse = _open(postgres_roles.reader_url, pool_size=1)
    yield warehouse
    warehouse.close()


def _setting(warehouse: PostgresWarehouse, name: str) -> str:
    # Straight to the adapter (the guard refuses current_setting from users).
    _, rows = warehouse._fetch(f"SELECT current_setting('{name}')", 1)
    return rows[0][0]


def test_set_config_inside_a_query_is_gone_for_the_next(reader: PostgresWarehouse) -> None:
    with reader.translate_errors():
        reader._fetch("SELECT set_config('statement_timeout', '0', false)", 1)
        reader._fetch("SELECT set_config('default_transaction_read_only', 'off', false)", 1)
        reader._fetch("SELECT set_config('search_path', 'nowhere', false)", 1)
        assert _setting(reader, "statement_timeout") == "2500ms"
        assert _setting(reader, "default_transaction_read_only") == "on"
        assert _setting(reader, "search_path") != "nowhere"
    assert reader._pool.opened == 1  # the same connection served every statement


def test_a_write_after_switching_read_only_off_still_fails(
    postgres_roles: PostgresRoles,
) -> None:
    """The attack of the issue: the superuser session switched off read-only for every later
    query. Now each statement is its own read-only transaction."""
    warehouse = _open(postgres_roles.admin_url, pool_size=1, allow_privileged_role=True)
    table = f"qualevents_attack_{uuid.uuid4().hex[:8]}"
    try:
        with warehouse.translate_errors():
            warehouse._fetch("SELECT set_config('default_transaction_read_only', 'off', false)", 1)
        with pytest.raises(SQLInvalid, match="read-only"), warehouse.translate_errors():
            warehouse._fetch(f"CREATE TABLE {table} (x int)", 0)
    finally:
        warehouse.close()
    with psycopg.connect(postgres_roles.admin_url) as conn:
        assert conn.execute("SELECT to_regclass(%s)", [table]).fetchone() == (None,)


def test_the_timeout_holds_after_a_query_tried_to_lift_it(reader: PostgresWarehouse) -> None:
    with reader.translate_errors():
        reader._fetch("SELECT set_config('statement_timeout', '0', false)", 1)
    with pytest.raises(WarehouseTimeout):
        reader.query("SELECT COUNT(*) AS n FROM generate_series(1, 10000000000) AS g")


def test_the_least_privileged_reader_is_accepted(postgres_roles: PostgresRoles) -> None:
    warehouse = _open(postgres_roles.reader_url)
    try:
        warehouse.check_connection()
        rows = warehouse.query(f"SELECT COUNT(*) AS n FROM {postgres_roles.schema}.events")
        assert rows == [{"n": 5}]
    finally:
        warehouse.close()


def _refusal(url: str) -> str:
    warehouse = _open(url)
    try:
        with pytest.raises(PrivilegedWarehouseRole) as refused:
            warehouse.check_connection()
        # Queries meet the same refusal, not a connection that can read files.
        with pytest.raises(PrivilegedWarehouseRole):
            warehouse.query("SELECT 1 AS one")
    finally:
        warehouse.close()
    message = refused.value.message
    assert "CREATE ROLE" in message and "GRANT SELECT" in message
    assert "QUALEVENTS_WAREHOUSE_ALLOW_PRIVILEGED_ROLE" in message
    assert refused.value.errors[0].loc == ("warehouse_url",)
    return message


def test_the_superuser_is_refused_naming_the_privilege(postgres_roles: PostgresRoles) -> None:
    assert "superuser" in _refusal(postgres_roles.admin_url)


def test_a_server_file_reader_is_refused(postgres_roles: PostgresRoles) -> None:
    assert "pg_read_server_files" in _refusal(postgres_roles.file_reader_url)


@pytest.mark.parametrize("grant", ["pg_write_server_files", "pg_execute_server_program", "CREATE"])
def test_other_privileged_roles_are_refused(postgres_roles: PostgresRoles, grant: str) -> None:
    role = f"qualevents_priv_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_roles.admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
        if grant == "CREATE":
            conn.execute(f'GRANT CREATE ON DATABASE "{postgres_roles.database}" TO "{role}"')
        else:
            conn.execute(f'GRANT {grant} TO "{role}"')
    try:
        expected = "CREATE on the database" if grant == "CREATE" else grant
        assert expected in _refusal(_as_role(postgres_roles.admin_url, role))
    finally:
        with psycopg.connect(postgres_roles.admin_url, autocommit=True) as conn:
            conn.execute(f'REVOKE CREATE ON DATABASE "{postgres_roles.database}" FROM "{role}"')
            conn.execute(f'DROP ROLE "{role}"')


def test_the_opt_out_lets_a_privileged_role_connect(postgres_roles: PostgresRoles) -> None:
    warehouse = _open(postgres_roles.admin_url, allow_privileged_role=True)
    try:
        warehouse.check_connection()
        assert warehouse.query("SELECT 1 AS one") == [{"one": 1}]
        # The guard still stands between a definition and the server's files.
        with pytest.raises(SQLInvalid, match=r"pg_read_file\(\)"):
            warehouse.query("SELECT pg_read_file('/etc/passwd') AS x")
    finally:
        warehouse.close()


def test_a_permission_error_is_a_rejected_query_not_unreachable(
    reader: PostgresWarehouse,
) -> None:
    """Classified by SQLSTATE (42501), not by the words of the message."""
    with pytest.raises(SQLInvalid) as caught, reader.translate_errors():
        reader._fetch("SELECT pg_read_file('/etc/passwd')", 1)
    message = caught.value.errors[0].message
    assert "permission denied" in message
    assert "cannot be reached" not in message


def test_messages_keep_no_function_source(postgres_roles: PostgresRoles) -> None:
    function = f"qualevents_fail_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_roles.admin_url, autocommit=True) as conn:
        conn.execute(
            f"CREATE FUNCTION {postgres_roles.schema}.{function}() RETURNS int LANGUAGE plpgsql "
            "AS $$ BEGIN RAISE EXCEPTION 'secret_marker_in_body %', 42; END $$"
        )
        conn.execute(
            f"GRANT EXECUTE ON FUNCTION {postgres_roles.schema}.{function}() TO "
            f'"{postgres_roles.reader_url.split("//")[1].split("@")[0]}"'
        )
    warehouse = _open(postgres_roles.reader_url)
    try:
        with pytest.raises(SQLInvalid) as caught:
            warehouse.query(f"SELECT {postgres_roles.schema}.{function}() AS x")
    finally:
        warehouse.close()
    text = str(caught.value)
    assert "secret_marker_in_body 42" in text  # the raised message is the user's own
    assert "CONTEXT" not in text and "PL/pgSQL" not in text and "line" not in text


def test_a_missing_column_named_like_a_timeout_is_a_400(reader: PostgresWarehouse) -> None:
    column = "user_timeout"
    with pytest.raises(SQLInvalid) as caught:
        reader.query(f"SELECT {column} FROM (SELECT 1 AS x) AS s")
    assert not isinstance(caught.value, WarehouseError)
    assert column in caught.value.errors[0].message


def test_statements_run_side_by_side(postgres_roles: PostgresRoles) -> None:
    """One stuck statement no longer holds a lock every other statement waits behind: a
    statement blocked on a lock the test holds leaves the next statement free to run."""
    warehouse = _open(postgres_roles.reader_url, pool_size=4)
    key = uuid.uuid4().int % 2**31
    errors: list[BaseException] = []

    def stuck() -> None:
        try:
            # Advisory locks are refused to users; straight to the adapter here.
            with warehouse.translate_errors():
                warehouse._fetch(f"SELECT pg_advisory_xact_lock({key})", 1)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    quick: list[object] = []
    with psycopg.connect(postgres_roles.admin_url, autocommit=True) as admin:
        admin.execute("SELECT pg_advisory_lock(%s)", [key])
        blocked = threading.Thread(target=stuck)
        blocked.start()
        try:
            waiting = 0
            while not waiting:  # until the stuck statement waits on the lock
                waiting = admin.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                ).fetchone()[0]
            runner = threading.Thread(
                target=lambda: quick.append(warehouse.query("SELECT 1 AS one"))
            )
            runner.start()
            runner.join(timeout=30)
            assert quick == [[{"one": 1}]], "the quick statement waited behind the stuck one"
        finally:
            admin.execute("SELECT pg_advisory_unlock(%s)", [key])
            blocked.join()
            warehouse.close()
    assert errors == []


def test_serve_refuses_a_privileged_warehouse_role_at_start(
    postgres_roles: PostgresRoles, caplog: pytest.LogCaptureFixture
) -> None:
    from qualevents.config import Settings
    from qualevents.runtime import prepare_warehouse

    settings = Settings(warehouse_url=postgres_roles.admin_url, _env_file=None)
    with pytest.raises(PrivilegedWarehouseRole, match="superuser"):
        prepare_warehouse(settings)
    prepare_warehouse(
        Settings(warehouse_url=postgres_roles.reader_url, _env_file=None)
    )  # the least-privileged role starts
    opted_out = Settings(
        warehouse_url=postgres_roles.admin_url,
        warehouse_allow_privileged_role=True,
        _env_file=None,
    )
    with caplog.at_level("WARNING", logger="qualevents.runtime"):
        prepare_warehouse(opted_out)
    assert any(
        "QUALEVENTS_WAREHOUSE_ALLOW_PRIVILEGED_ROLE" in record.getMessage()
        and record.levelname == "WARNING"
        for record in caplog.records
    )


def test_a_value_the_driver_cannot_convert_is_a_400(reader: PostgresWarehouse) -> None:
    with pytest.raises(SQLInvalid, match="date too large"):
        reader.query("SELECT 'infinity'::date AS d")
    assert reader.query("SELECT 1 AS one") == [{"one": 1}]  # the connection still serves
