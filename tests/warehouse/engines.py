"""Real engines beyond DuckDB and PostgreSQL, started once per test session: ClickHouse
embedded (chDB), Snowflake's emulator (fakesnow's server, reached by the real
snowflake-connector-python over HTTP), the Redshift driver against the local PostgreSQL
through pgbouncer, and a local Spark Connect server. Each holds the conformance table
(``conftest.CREATE_SQL``/``ROWS_SQL`` in the engine's dialect). A missing driver or system
package skips with the command that installs it; ``.ci/run`` installs them all.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import types
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
JAVA = shutil.which("java")
# What redshift_connector sends at startup that PostgreSQL does not know.
REDSHIFT_STARTUP_PARAMETERS = (
    "extra_float_digits,client_protocol_version,driver_version,os_version,plugin_name,"
    "replication,driver_discovery_version,idp_type,provider_name,compression,application_name"
)
SPARK_START_S = 240  # a cold JVM on a busy two-core machine


def require(module: str, install: str) -> None:
    """Skip unless ``module`` imports, naming the command that installs it."""
    try:
        __import__(module)
    except ImportError:
        pytest.skip(f"{module} is not installed: {install}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, seconds: float, process: subprocess.Popen[bytes] | None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the engine exited with {process.returncode}")
        with socket.socket() as sock, suppress(OSError):
            sock.settimeout(0.5)
            sock.connect(("127.0.0.1", port))
            return
        time.sleep(0.2)  # polling a server's start, not timing a test
    raise RuntimeError(f"nothing listens on port {port} after {seconds:g} s")


# -- ClickHouse: chDB --------------------------------------------------------------------

CLICKHOUSE_CREATE = (
    "CREATE TABLE {table} (ts DateTime, user_id String, n Int32, price Decimal(10, 2), "
    "d Date, flag Nullable(Bool)) ENGINE = MergeTree ORDER BY n"
)


@contextmanager
def chdb_database(rows_sql: str) -> Iterator[str]:
    """A chDB data directory holding ``conformance.events``; yields the warehouse URL."""
    require("chdb", "pip install 'qualevents[chdb]'")
    import clickhouse_connect

    path = tempfile.mkdtemp(prefix="qualevents-chdb-")
    client = clickhouse_connect.get_client(interface="chdb", path=path)
    client.command("CREATE DATABASE IF NOT EXISTS conformance")
    client.command(CLICKHOUSE_CREATE.format(table="conformance.events"))
    client.command(rows_sql.format(table="conformance.events"))
    try:
        yield f"clickhouse://default@localhost/conformance?interface=chdb&path={path}"
    finally:
        shutil.rmtree(path, ignore_errors=True)


# -- Snowflake: fakesnow's server ----------------------------------------------------------

# fakesnow pins sqlglot (``~=30.22``) and snowflake-connector-python (``<5``) apart from
# qualevents' own, so it runs in a virtualenv of its own, as an HTTP server that the real
# connector in the test environment talks to.
FAKESNOW_INSTALL = (
    "python3 -m venv .venv-fakesnow && "
    ".venv-fakesnow/bin/pip install 'fakesnow[server]' 'snowflake-connector-python<5'"
)


def fakesnow_command() -> str | None:
    found = os.environ.get("QUALEVENTS_TEST_FAKESNOW")
    if found:
        return found
    local = Path(__file__).resolve().parents[2] / ".venv-fakesnow" / "bin" / "fakesnow"
    return str(local) if local.exists() else shutil.which("fakesnow")


@contextmanager
def fakesnow_server(create_sql: str, rows_sql: str) -> Iterator[str]:
    """fakesnow's HTTP server holding ``db.conformance.events``; yields the warehouse URL
    that reaches it through the real connector."""
    require("snowflake.connector", "pip install 'qualevents[snowflake]'")
    command = fakesnow_command()
    if command is None:
        pytest.skip(f"fakesnow is not installed: {FAKESNOW_INSTALL}")
    import snowflake.connector

    port = free_port()
    process = subprocess.Popen(
        [command, "-s", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_port(port, 60, process)
        params = {"user": "fake", "password": "snow", "account": "fakesnow"}
        connection = snowflake.connector.connect(
            **params,
            host="127.0.0.1",
            port=port,
            protocol="http",
            session_parameters={"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False},
        )
        cursor = connection.cursor()
        cursor.execute("CREATE DATABASE IF NOT EXISTS db")
        cursor.execute("CREATE SCHEMA IF NOT EXISTS db.conformance")
        cursor.execute(create_sql.format(table="db.conformance.events"))
        cursor.execute(rows_sql.format(table="db.conformance.events"))
        connection.close()
        yield (
            f"snowflake://fake:snow@fakesnow/db/conformance"
            f"?host=127.0.0.1&port={port}&protocol=http"
        )
    finally:
        process.terminate()
        with suppress(subprocess.TimeoutExpired):
            process.wait(10)


# -- Redshift's driver: PostgreSQL through pgbouncer ---------------------------------------


def tolerate_debian_server_version() -> None:
    """redshift_connector reads ``server_version`` with ``packaging``, which refuses
    Debian's ``15.20 (Debian 15.20-0+deb12u1)`` (Redshift says ``8.0.2``): give it the
    number only. The driver is otherwise untouched."""
    import redshift_connector.core as core
    from packaging import version

    if getattr(core.version, "qualevents_shim", False):
        return
    core.version = types.SimpleNamespace(  # type: ignore[assignment]
        parse=lambda text: version.parse(str(text).split(" ", 1)[0]),
        Version=version.Version,
        LegacyVersion=version.Version,
        qualevents_shim=True,
    )


@contextmanager
def pgbouncer(upstream_port: int, users: list[str]) -> Iterator[int]:
    """pgbouncer in front of the local PostgreSQL, trusting ``users``; yields its port."""
    if not os.path.exists(PGBOUNCER):
        pytest.skip("pgbouncer is not installed: apt-get install -y pgbouncer")
    require("redshift_connector", "pip install 'qualevents[redshift]'")
    directory = Path(tempfile.mkdtemp(prefix="qualevents-pgbouncer-"))
    port = free_port()
    (directory / "users.txt").write_text("".join(f'"{u}" ""\n' for u in users))
    (directory / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"* = host=127.0.0.1 port={upstream_port}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {directory / 'users.txt'}\n"
        "pool_mode = session\n"
        f"ignore_startup_parameters = {REDSHIFT_STARTUP_PARAMETERS}\n"
        f"logfile = {directory / 'pgbouncer.log'}\n"
    )
    os.chmod(directory, 0o755)
    command = [PGBOUNCER, str(directory / "pgbouncer.ini")]
    if os.geteuid() == 0:  # pgbouncer refuses to run as root
        command[1:1] = ["-u", "postgres"]
        shutil.chown(directory, "postgres")
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, 30, process)
        tolerate_debian_server_version()
        yield port
    finally:
        process.terminate()
        with suppress(subprocess.TimeoutExpired):
            process.wait(10)
        shutil.rmtree(directory, ignore_errors=True)


# -- Spark Connect ---------------------------------------------------------------------------

SPARK_CREATE = (
    "CREATE TABLE {table} (ts TIMESTAMP_NTZ, user_id STRING, n INT, price DECIMAL(10, 2), "
    "d DATE, flag BOOLEAN) USING parquet"
)


@contextmanager
def spark_connect_server() -> Iterator[str]:
    """A local Spark Connect server (pyspark's own jars, one core, in-memory catalog) with
    ``conformance.events``; yields the warehouse URL."""
    require("pyspark.sql.connect.session", "pip install 'qualevents[spark]'")
    if JAVA is None:
        pytest.skip("Java is not installed: apt-get install -y openjdk-17-jre-headless")
    import pyspark

    home = Path(pyspark.__file__).parent
    port = free_port()
    directory = Path(tempfile.mkdtemp(prefix="qualevents-spark-"))
    env = dict(
        os.environ,
        SPARK_HOME=str(home),
        PYSPARK_PYTHON=sys.executable,
        SPARK_LOCAL_IP="127.0.0.1",
        PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
    )
    command = [
        str(home / "bin" / "spark-submit"),
        "--class",
        "org.apache.spark.sql.connect.service.SparkConnectServer",
        "--master",
        "local[1]",
        "--driver-memory",
        "768m",
        "--conf",
        f"spark.connect.grpc.binding.port={port}",
        "--conf",
        "spark.ui.enabled=false",
        "--conf",
        f"spark.sql.warehouse.dir={directory / 'warehouse'}",
        "--conf",
        "spark.sql.session.timeZone=UTC",
        "--conf",
        "spark.sql.shuffle.partitions=2",
        "spark-internal",
    ]
    log = (directory / "server.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        wait_for_port(port, SPARK_START_S, process)
        yield f"spark://127.0.0.1:{port}"
    finally:
        process.terminate()
        with suppress(subprocess.TimeoutExpired):
            process.wait(30)
        if process.poll() is None:
            process.kill()
        log.close()
        shutil.rmtree(directory, ignore_errors=True)


def spark_load(url: str, statements: list[str]) -> None:
    """Run ``statements`` (DDL, inserts) on the Spark Connect server at ``url``."""
    from pyspark.sql.connect.session import SparkSession

    session = SparkSession.builder.remote(url.replace("spark://", "sc://", 1)).create()
    try:
        for statement in statements:
            session.sql(statement).collect()
    finally:
        session.stop()


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"
