"""Shared fixtures: real stores on SQLite (always) and PostgreSQL (whenever
QUALEVENTS_TEST_POSTGRES_URL is set; CI always sets it), an app per test, keys.

PostgreSQL tests run in a database created for this test session and dropped after it;
a Spark Connect server is started once per session when a Spark test asks for one.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from qualevents.config import Settings
from qualevents.keys import KeyService
from qualevents.store import SQLStore, open_store
from qualevents.store.schema import metadata

POSTGRES_URL = os.environ.get("QUALEVENTS_TEST_POSTGRES_URL")


def _admin_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.fixture(scope="session")
def postgres_database_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this session (skips only where no server is given)."""
    if not POSTGRES_URL:
        pytest.skip("QUALEVENTS_TEST_POSTGRES_URL is not set")
    name = f"qualevents_test_{uuid.uuid4().hex[:10]}"
    admin = _admin_url(POSTGRES_URL)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = sa.engine.make_url(admin)
    url = base.set(drivername="postgresql+psycopg", database=name).render_as_string(
        hide_password=False
    )
    yield url
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def spark_server() -> Iterator[str]:
    """One local Spark Connect server for the whole test session (a JVM is heavy): the
    warehouse and analysis suites load their own tables into it."""
    from tests.warehouse import engines

    with engines.spark_connect_server() as url:
        yield url


def _empty(store: SQLStore) -> None:
    with store.engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            if table.name != "cache_generations":  # counters, never reset
                conn.execute(table.delete())


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'qualevents.db'}"
    return request.getfixturevalue("postgres_database_url")


@pytest.fixture
def store(database_url: str) -> Iterator[SQLStore]:
    opened = open_store(database_url)
    _empty(opened)
    yield opened
    _empty(opened)
    opened.close()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, warehouse_url="none", _env_file=None)


@pytest.fixture
def app(settings: Settings, store: SQLStore):
    from qualevents.api.app import create_app

    return create_app(settings, store=store)


@pytest.fixture
def full_key(store: SQLStore) -> str:
    return KeyService(store).create("ci")[1]


@pytest.fixture
def read_only_key(store: SQLStore) -> str:
    return KeyService(store).create("reader", read_only=True)[1]


@pytest.fixture
def client(app: object, full_key: str) -> Iterator[httpx.Client]:
    with TestClient(app, headers={"STATSIG-API-KEY": full_key}) as http:
        yield http


@pytest.fixture
def anonymous(app: object) -> Iterator[httpx.Client]:
    with TestClient(app) as http:
        yield http


@contextmanager
def seen_by(store: SQLStore) -> Iterator[None]:
    """Wrap a write made by another process (the CLI's own store): afterwards ``store`` has
    seen it. The SQLite cache sees a commit at once; the PostgreSQL one when the commit's
    notification arrives, which this waits for."""
    cache = store.cache
    notified = getattr(cache, "notified", None)
    if notified is None:
        yield
        return
    with notified:
        before = cache.notifications
    yield
    with notified:
        assert notified.wait_for(lambda: cache.notifications > before, timeout=10)


@pytest.fixture(scope="session")
def postgres_analysis(postgres_database_url: str) -> Iterator[str]:
    """A URL of a role that can only read the analysis fixtures (schema ``analysis``), in a
    database of their own, shared by every test directory in the session."""
    from tests.analysis.conftest import analysis_database

    with analysis_database(postgres_database_url) as url:
        yield url
