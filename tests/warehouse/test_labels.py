"""Every statement carries a label naming qualevents, the operation and the key id, read
back from the real engines where they show it: PostgreSQL's and Redshift's
``application_name``, ClickHouse's ``log_comment``, Spark's job tags; BigQuery's job
labels and scan budget on the job config. The label comes from the warehouse runner
(``warehouse.executor``), which knows the key and the call."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from qualevents.warehouse.bigquery import BigQueryWarehouse
from qualevents.warehouse.executor import WarehouseRunner
from qualevents.warehouse.labels import current_label, labelled
from tests.warehouse.conftest import MakeWarehouse
from tests.warehouse.test_cloud import FakeBigQuery

LABEL = "qualevents op=preview key=k_abc123"


def setting(make: MakeWarehouse, sql: str, **tuning: Any) -> Any:
    """One value of ``sql`` run as the adapter runs a statement, past the guard (which
    refuses reading settings to definitions)."""
    warehouse = make()
    warehouse.configure(**tuning)
    with labelled("preview", "K_abc123"):
        _names, rows = warehouse._fetch(sql, 1)
    return rows[0][0]


def test_postgres_application_name(postgres: MakeWarehouse) -> None:
    assert setting(postgres, "SELECT current_setting('application_name')") == LABEL


def test_redshift_application_name(redshift: MakeWarehouse) -> None:
    assert setting(redshift, "SELECT current_setting('application_name')") == LABEL


def test_clickhouse_log_comment(chdb: MakeWarehouse) -> None:
    assert setting(chdb, "SELECT getSetting('log_comment')") == LABEL


def test_labels_can_be_turned_off(postgres: MakeWarehouse) -> None:
    value = setting(postgres, "SELECT current_setting('application_name')", query_labels=False)
    assert value == "qualevents"


@pytest.mark.slow
def test_spark_job_tags(spark: MakeWarehouse) -> None:
    warehouse = make = spark()
    with labelled("daily", "k_abc123"):
        # (a copy: the client's set is emptied again when the statement ends)
        tags = make._run(lambda session: set(session.getTags()))  # type: ignore[attr-defined]
    assert {"qualevents", "qualevents-op-daily", "qualevents-key-k_abc123"} <= set(tags)
    assert warehouse.query("SELECT 1 AS one") == [{"one": 1}]


def test_bigquery_job_labels_and_scan_budget() -> None:
    fake = FakeBigQuery()
    warehouse = BigQueryWarehouse(project="p", client=fake, driver=fake)
    warehouse.configure(maximum_bytes_billed=10**9)
    with labelled("create", "k_abc123"):
        warehouse.describe("SELECT 1 AS x")
    config = fake.calls[-1][1]
    assert config["labels"] == {"tool": "qualevents", "operation": "create", "key_id": "k_abc123"}
    assert config["maximum_bytes_billed"] == 10**9


def test_the_runner_labels_each_call_with_its_key_and_function() -> None:
    def preview() -> tuple[str, str | None]:
        label = current_label()
        return label.operation, label.key_id

    runner = WarehouseRunner(threads=1)
    try:
        assert asyncio.run(runner.run("k_1", preview)) == ("preview", "k_1")
    finally:
        runner.close()
    assert current_label().operation == ""  # nothing leaks out of the call
