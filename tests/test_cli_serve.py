"""``qualevents serve`` fails fast and helps first: it refuses to start on a warehouse whose
driver is not installed (naming the pip extra) or whose URL its adapter cannot read, and on
a database without a key it says how to make one. The server itself is replaced by a
recorder (``uvicorn.run``): these tests are about what happens before it starts."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest
import uvicorn
from typer.testing import CliRunner

from qualevents.cli import app
from qualevents.keys import KeyService
from qualevents.store import open_store

runner = CliRunner()


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """Each call uvicorn.run would have got (nothing listens)."""
    calls: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append(kwargs))
    # serve hands its settings to the workers through the environment: keep ours clean.
    # (setenv first: monkeypatch then restores each to what it was, absent included.)
    for name in ("QUALEVENTS_DATABASE_URL", "QUALEVENTS_WAREHOUSE_URL", "QUALEVENTS_RATE_LIMIT"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.setenv("QUALEVENTS_DEMO", "false")
    return calls


def serve(database: Path, *args: str):
    return runner.invoke(app, ["serve", "--database-url", f"sqlite:///{database}", *args])


def unwrapped(text: str) -> str:
    """``text`` without whitespace: rich wraps long lines where it likes."""
    return "".join(text.split())


@pytest.mark.parametrize(
    ("url", "extra", "package"),
    [
        ("bigquery://my-project", "bigquery", "google-cloud-bigquery"),
        ("snowflake://user:secret@account/db/schema?warehouse=wh", "snowflake", "snowflake"),
        ("trino://user@localhost:8080/hive", "trino", "trino"),
        ("clickhouse://default@localhost:8123/default", "clickhouse", "clickhouse-connect"),
        ("redshift://user:secret@cluster.example.com:5439/dev", "redshift", "redshift"),
    ],
)
def test_serve_refuses_a_warehouse_whose_driver_is_missing(
    started, tmp_path, url, extra, package, monkeypatch
):
    # The driver absent whether or not it is installed here (CI installs every driver for
    # the engine tests): its distribution's metadata is not found.
    found = importlib.metadata.distribution

    def distribution(name: str):
        if name.lower().replace("_", "-").startswith(package.lower().replace("_", "-")):
            raise importlib.metadata.PackageNotFoundError(name)
        return found(name)

    monkeypatch.setattr(importlib.metadata, "distribution", distribution)
    result = serve(tmp_path / "store.db", "--warehouse-url", url)
    assert result.exit_code != 0
    said = unwrapped(result.stderr)
    assert unwrapped(f"pip install 'qualevents[{extra}]'") in said
    assert "secret" not in said
    assert "Traceback" not in result.stdout + result.stderr
    assert started == []


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://user@host:notaport/db",
        "postgresql://user@[broken/db",
        "trino://host:99999/catalog",
        "duckdb:relative.duckdb",
        "ftp://example.com/data",
        "databricks://token:secret@host?http_path=/sql/1.0/warehouses/x",
    ],
)
def test_serve_refuses_a_malformed_warehouse_url(started, tmp_path, url):
    result = serve(tmp_path / "store.db", "--warehouse-url", url)
    assert result.exit_code != 0
    said = result.stdout + result.stderr
    assert "warehouse" in said.lower()
    assert "Traceback" not in said and "secret" not in said
    assert started == []


def test_serve_on_a_database_without_keys_says_how_to_make_one(started, tmp_path):
    database = tmp_path / "store.db"
    result = serve(database, "--warehouse-url", "none")
    assert result.exit_code == 0, result.stderr
    said = unwrapped(result.stderr)
    assert unwrapped("No console key") in said
    assert (
        unwrapped(f"qualevents keys create --name admin --database-url 'sqlite:///{database}'")
        in said
    )
    assert len(started) == 1


def test_serve_with_a_key_says_nothing_about_keys(started, tmp_path):
    database = tmp_path / "store.db"
    store = open_store(f"sqlite:///{database}")
    try:
        KeyService(store).create("ci")
    finally:
        store.close()
    result = serve(database, "--warehouse-url", "none")
    assert result.exit_code == 0, result.stderr
    assert unwrapped("No console key") not in unwrapped(result.stderr)
    assert len(started) == 1


def test_a_revoked_key_is_no_key(started, tmp_path):
    database = tmp_path / "store.db"
    store = open_store(f"sqlite:///{database}")
    try:
        keys = KeyService(store)
        keys.revoke(keys.create("old")[0].id)
    finally:
        store.close()
    result = serve(database, "--warehouse-url", "none")
    assert unwrapped("No console key") in unwrapped(result.stderr)
