"""An app with a real DuckDB warehouse holding the analysis fixtures
(``tests/analysis/fixtures``) and two generated experiments whose any-exposure join is big:
``medium`` (a few seconds of warehouse work) and ``slow`` (minutes): slow because the join
is large, never because of a sleep. Shared by the job and filter-exposures tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from starlette.testclient import TestClient

from qualevents.api.app import create_app
from qualevents.config import Settings
from qualevents.keys import KeyService
from qualevents.store.sql import SQLStore
from qualevents.validation import Validator
from qualevents.warehouse.base import Warehouse
from qualevents.warehouse.duckdb import DuckDBWarehouse
from qualevents.warehouse.executor import WarehouseRunner
from tests.analysis.conftest import fixture_sql

EVENTS = "/console/v1/experiments/qualifying_events"
JOBS = "/console/v1/-/jobs"
# units, exposure rows per unit, qualifying rows per unit: the any-exposure join has
# units * exposures * clicks pairs
BIG = {"medium": (10, 500, 5_000), "slow": (20, 5_000, 50_000)}
USER_ID = [{"statsigUnitID": "userID", "column": "uid"}]


def load_big(warehouse: DuckDBWarehouse) -> None:
    with warehouse.writable() as connection:
        connection.execute("CREATE SCHEMA IF NOT EXISTS big")
        for name, (units, exposures, clicks) in BIG.items():
            connection.execute(
                f"CREATE TABLE big.{name}_exposures AS SELECT TIMESTAMP '2024-01-01' + "
                f"INTERVAL (i % 86400) SECOND AS ts, 'u' || (i % {units}) AS user_id, "
                f"'{name}' AS experiment, CASE WHEN i % {units} % 2 = 0 THEN 'control' "
                f"ELSE 'test' END AS group_id FROM range({units * exposures}) t(i)"
            )
            connection.execute(
                f"CREATE TABLE big.{name}_clicks AS SELECT TIMESTAMP '2024-01-01' + "
                f"INTERVAL (i % 86400) SECOND AS ts, 'u' || (i % {units}) AS uid "
                f"FROM range({units * clicks}) t(i)"
            )


def duckdb_warehouse() -> DuckDBWarehouse:
    warehouse = DuckDBWarehouse(":memory:", timeout_s=30)
    with warehouse.writable() as connection:
        connection.execute("CREATE SCHEMA analysis")
        connection.execute(fixture_sql())
    load_big(warehouse)
    return warehouse


ASSIGNMENT_SOURCES = "/console/v1/experiments/assignment_sources"


def assignment_body(name: str, sql: str, **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "sql": sql,
        "timestampColumn": "ts",
        "experimentIDColumn": "experiment",
        "groupIDColumn": "group_id",
        "idTypeMapping": [{"statsigUnitID": "userID", "column": "user_id"}],
        **fields,
    }


def add_assignment_source(http: TestClient, body: dict[str, Any]) -> None:
    created = http.post(ASSIGNMENT_SOURCES, json=body)
    assert created.status_code == 201, created.text


def add_sources(http: TestClient, *, events: bool = True, big: bool = True) -> None:
    """The fixtures' sources: qualifying events ``clicks``, ``visits``, ``medium_clicks``,
    ``slow_clicks``; assignment sources ``assignments``, ``medium``, ``slow`` (unless
    ``events`` is False: they are in the store already; ``big``: False leaves out the
    generated ones, for a warehouse holding only the fixtures)."""
    defined = (
        ("clicks", "SELECT * FROM analysis.clicks", {}),
        ("visits", "SELECT * FROM analysis.visits", {"timestampAsDay": True}),
        ("medium_clicks", "SELECT * FROM big.medium_clicks", {}),
        ("slow_clicks", "SELECT * FROM big.slow_clicks", {}),
    )
    for name, sql, extra in defined if events else ():
        if not big and "big." in sql:
            continue
        body = {
            "name": name,
            "sql": sql,
            "timestampColumn": "day" if name == "visits" else "ts",
            "idTypeMapping": USER_ID,
            **extra,
        }
        created = http.post(EVENTS, json=body)
        assert created.status_code == 201, created.text
    if not events:
        return
    add_assignment_source(
        http,
        assignment_body(
            "assignments", "SELECT * FROM analysis.exposures", groupNameColumn="group_name"
        ),
    )
    for name in BIG if big else ():
        add_assignment_source(http, assignment_body(name, f"SELECT * FROM big.{name}_exposures"))


@contextmanager
def analysis_client(
    store: SQLStore,
    warehouse: Warehouse,
    **settings: Any,
) -> Iterator[TestClient]:
    runner = WarehouseRunner(threads=2, per_key=settings.pop("per_key", 4))
    config = Settings(
        database_url="sqlite://", warehouse_url="duckdb:///:memory:", _env_file=None, **settings
    )
    app = create_app(
        config, store=store, warehouse=warehouse, validator=Validator(warehouse, runner=runner)
    )
    keys = KeyService(store)
    secret = keys.create("analyst")[1]
    reader = keys.create("reader", read_only=True)[1]
    try:
        with TestClient(app, headers={"STATSIG-API-KEY": secret}) as http:
            http.reader_headers = {"STATSIG-API-KEY": reader}  # type: ignore[attr-defined]
            yield http
    finally:
        runner.close()


def slow_body(name: str = "slow", **extra: Any) -> dict[str, Any]:
    return {
        "assignmentSource": name,
        "experimentID": name,
        "start": "2024-01-01",
        "end": "2024-01-01",
        "matchAgainst": "anyExposure",
        "window": {"amount": 1, "unit": "days"},
        **extra,
    }
