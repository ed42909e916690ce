"""The console in process: the app as ``qualevents serve`` builds it (the API plus
``console.install``) on a real store (SQLite and PostgreSQL) and a real DuckDB warehouse
with a few events, and a browser-like client that signs in through the form."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest
from starlette.testclient import TestClient

from qualevents.api.app import create_app
from qualevents.config import Settings
from qualevents.console import install
from qualevents.keys import KeyService
from qualevents.validation import Validator
from qualevents.warehouse import open_warehouse
from qualevents.warehouse.executor import WarehouseRunner

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
GOOD_SQL = "SELECT user_id, ts FROM events"


def make_warehouse(path: Path) -> None:
    today = date.today()
    with duckdb.connect(str(path)) as conn:
        conn.execute("CREATE TABLE events (user_id VARCHAR, ts TIMESTAMP)")
        conn.execute(
            "INSERT INTO events VALUES ('u1', ?), ('u2', ?), ('u1', ?)",
            [today - timedelta(days=1), today - timedelta(days=1), today - timedelta(days=2)],
        )
        conn.execute(
            "CREATE TABLE exposures (user_id VARCHAR, ts TIMESTAMP, experiment VARCHAR, "
            "grp VARCHAR)"
        )
        conn.execute(
            "INSERT INTO exposures VALUES ('u1', ?, 'checkout_v2', 'control'), "
            "('u2', ?, 'checkout_v2', 'test'), ('u3', ?, 'checkout_v2', 'test'), "
            "('u1', ?, 'banner', 'test')",
            [today - timedelta(days=1)] * 4,
        )


class Browser:
    """A TestClient used as a browser: cookies kept, forms sent with the page's CSRF token."""

    def __init__(self, http: TestClient) -> None:
        self.http = http

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(url, **kwargs)

    def token(self, url: str) -> str:
        found = CSRF.search(self.http.get(url).text)
        assert found, f"no CSRF token on {url}"
        return found.group(1)

    def sign_in(self, secret: str, next_url: str = "") -> httpx.Response:
        token = self.token("/sign-in")
        return self.http.post(
            "/sign-in",
            data={"csrf_token": token, "key": secret, "next": next_url},
            follow_redirects=False,
        )

    def post(self, url: str, data: dict[str, Any], token_from: str = "/sources") -> httpx.Response:
        return self.http.post(
            url, data={"csrf_token": self.token(token_from), **data}, follow_redirects=False
        )


@pytest.fixture
def console_app(tmp_path: Path, store: Any, database_url: str) -> Iterator[Any]:
    path = tmp_path / "warehouse.duckdb"
    make_warehouse(path)
    warehouse = open_warehouse(f"duckdb:///{path}", timeout_s=20)
    runner = WarehouseRunner(threads=2, per_key=2)
    settings = Settings(
        database_url=database_url, warehouse_url=f"duckdb:///{path}", _env_file=None
    )
    app = install(
        create_app(
            settings,
            store=store,
            warehouse=warehouse,
            validator=Validator(warehouse, runner=runner),
        )
    )
    try:
        yield app
    finally:
        runner.close()
        warehouse.close()


@pytest.fixture
def keys(store: Any) -> dict[str, Any]:
    service = KeyService(store)
    full, full_secret = service.create("alice")
    reader, reader_secret = service.create("bob", read_only=True)
    return {
        "full": full,
        "full_secret": full_secret,
        "reader": reader,
        "reader_secret": reader_secret,
    }


def _browser(app: Any) -> Iterator[Browser]:
    with TestClient(app, base_url="http://testserver") as http:
        yield Browser(http)


@pytest.fixture
def anonymous(console_app: Any) -> Iterator[Browser]:
    yield from _browser(console_app)


@pytest.fixture
def browser(console_app: Any, keys: dict[str, Any]) -> Iterator[Browser]:
    for signed in _browser(console_app):
        assert signed.sign_in(keys["full_secret"]).status_code == 303
        yield signed


@pytest.fixture
def reader(console_app: Any, keys: dict[str, Any]) -> Iterator[Browser]:
    for signed in _browser(console_app):
        assert signed.sign_in(keys["reader_secret"]).status_code == 303
        yield signed


def source_form(**fields: str) -> dict[str, str]:
    values = {
        "name": "Checkout",
        "description": "Users who reached checkout",
        "tags": "growth, checkout",
        "source_type": "query",
        "sql": GOOD_SQL,
        "timestamp_column": "ts",
        "id_type_mapping": "userID = user_id",
        "custom_field_mapping": "",
        "action": "save",
    }
    values.update(fields)
    return values
