"""A warehouse that accepts connections and never answers (a real socket that reads
nothing and says nothing) must not hold a call: every driver is given connect and read
timeouts of the statement timeout and a margin, so the call ends with a 504 or a 502
instead of waiting for minutes (Snowflake gave up after 61 s; Trino, ClickHouse, Databricks
and Redshift not within 75 s)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from qualevents.errors import QualeventsError, WarehouseTimeout, WarehouseUnavailable
from qualevents.warehouse import open_warehouse

pytestmark = pytest.mark.slow

URLS = {
    "redshift": ("redshift_connector", "redshift://u:pw@127.0.0.1:{port}/db?ssl=false"),
    "clickhouse": ("clickhouse_connect", "clickhouse://default@127.0.0.1:{port}/db"),
    "trino": ("trino", "trino://u@127.0.0.1:{port}/hive/default"),
    "databricks": (
        "databricks.sql",
        "databricks://token:abc@127.0.0.1:{port}/sql/1.0/warehouses/x?_tls_no_verify=true",
    ),
    "snowflake": (
        "snowflake.connector",
        "snowflake://u:pw@acct/db/s?host=127.0.0.1&port={port}&protocol=http",
    ),
    "spark": ("pyspark.sql.connect.session", "spark://127.0.0.1:{port}"),
    "postgres": ("psycopg", "postgresql://u@127.0.0.1:{port}/db"),
}
TIMEOUT_S = 1.0
# Far beyond the timeout and its margin (5 s) plus a driver's last read: a call still
# waiting then is one that would wait for ever.
HANG_S = 45.0


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts every connection and never sends a byte."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            held.append(connection)

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[1]
    server.close()
    for connection in held:
        connection.close()


@pytest.mark.parametrize("name", sorted(URLS))
def test_a_silent_server_ends_the_call(name: str, silent_port: int) -> None:
    module, url = URLS[name]
    pytest.importorskip(module)
    warehouse = open_warehouse(url.format(port=silent_port), timeout_s=TIMEOUT_S)
    assert warehouse is not None
    outcome: list[BaseException | None] = []

    def call() -> None:
        try:
            warehouse.query("SELECT 1 AS x")
        except QualeventsError as error:
            outcome.append(error)
        else:
            outcome.append(None)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(HANG_S)
    assert outcome, f"the {name} call is still waiting for a server that never answers"
    error = outcome[0]
    assert isinstance(error, WarehouseTimeout | WarehouseUnavailable), error
    assert "pw" not in str(error)
