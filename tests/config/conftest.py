"""Shared pieces of the config-as-code tests: the CLI against a local database (SQLite or
PostgreSQL, the ``database_url`` fixture) and the demo warehouse, and a pulled folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from qualevents.cli import app
from qualevents.runtime import ensure_demo_sources
from qualevents.service import QualifyingEventService
from qualevents.store.base import Actor
from tests.test_cli_admin import demo_warehouse  # noqa: F401 (a fixture)

runner = CliRunner()
ACTOR = Actor("k-test", "test")
ENV = {"QUALEVENTS_DATABASE_URL": "sqlite:///unused", "QUALEVENTS_WAREHOUSE_URL": "none"}


class Local:
    """The CLI on one database and warehouse."""

    def __init__(self, database_url: str, warehouse_url: str, store) -> None:
        self.database_url, self.warehouse_url, self.store = database_url, warehouse_url, store

    def __call__(self, *args: str, warehouse: bool = True):
        where = ["--database-url", self.database_url]
        if warehouse:
            where += ["--warehouse-url", self.warehouse_url]
        return runner.invoke(app, [*args, *where], env=ENV)

    def pull(self, folder: Path, *args: str):
        return self("pull", str(folder), *args, warehouse=False)

    def service(self, kind: str = "qualifying_event") -> QualifyingEventService:
        return QualifyingEventService(self.store.for_kind(kind))

    def get(self, name: str, kind: str = "qualifying_event"):
        return self.store.for_kind(kind).get_event(name, fresh=True)

    def create(self, body: dict, kind: str = "qualifying_event"):
        from qualevents.sync.kinds import BY_NAME
        from qualevents.sync.plan import event_from_wire

        return self.service(kind).create(event_from_wire(BY_NAME[kind], body), ACTOR)


@pytest.fixture
def local(store, database_url, demo_warehouse) -> Local:  # noqa: F811
    ensure_demo_sources(store)
    return Local(database_url, demo_warehouse, store)


@pytest.fixture
def pulled(local: Local, tmp_path: Path) -> Path:
    folder = tmp_path / "defs"
    result = local.pull(folder)
    assert result.exit_code == 0, result.output
    (folder / "qualevents.yaml").write_text("syncId: analytics\n")
    return folder


def event_file(name: str, sql: str = "SELECT ts, user_id FROM shoppy-sales.logging.events") -> str:
    return (
        f"name: {name}\n"
        "sql: |\n" + "".join(f"  {line}\n" for line in sql.splitlines()) + "timestampColumn: ts\n"
        "idTypeMapping:\n"
        "  - statsigUnitID: userID\n"
        "    column: user_id\n"
    )
