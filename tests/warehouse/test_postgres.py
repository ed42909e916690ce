"""PostgreSQL beyond the conformance suite: the server enforces read-only and the statement
timeout; a server that is down is reported without credentials."""

from __future__ import annotations

import socket

import pytest

from qualevents.errors import SQLInvalid, WarehouseTimeout, WarehouseUnavailable
from qualevents.warehouse import open_warehouse
from qualevents.warehouse.postgres import PostgresWarehouse
from tests.warehouse.conftest import MakeWarehouse


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_warehouse_down_is_unavailable_without_the_password() -> None:
    url = f"postgresql://alice:S3cretPassw0rd@127.0.0.1:{_unused_port()}/analytics"
    warehouse = open_warehouse(url)
    assert isinstance(warehouse, PostgresWarehouse)
    with pytest.raises(WarehouseUnavailable) as caught:
        warehouse.describe("SELECT 1 AS one")
    text = str(caught.value)
    assert "S3cretPassw0rd" not in text
    assert "alice" not in text
    assert "cannot be reached" in text


def test_the_session_is_read_only_on_the_server(postgres: MakeWarehouse) -> None:
    warehouse = postgres()
    # Bypass our guard to show the server refuses writes too.
    with pytest.raises(SQLInvalid) as caught, warehouse.translate_errors():
        warehouse._fetch("CREATE TABLE qualevents_should_not_exist (x int)", 0)
    assert "read-only" in caught.value.errors[0].message


def test_statement_timeout(postgres: MakeWarehouse) -> None:
    warehouse = postgres(timeout_s=0.1)
    with pytest.raises(WarehouseTimeout):
        warehouse.query("SELECT COUNT(*) AS n FROM generate_series(1, 1000000000) g")
    assert warehouse.query("SELECT 1 AS one") == [{"one": 1}]
