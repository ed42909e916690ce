"""The analysis queries (exposure filtering, power) on Spark, through the Spark Connect
adapter and the session's local Spark Connect server: the same hand-built fixtures
(``fixtures/*.sql``, transpiled to Spark SQL) and a few of the DuckDB/PostgreSQL tests run
again as they are. Slow: a JVM on a shared machine."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import sqlglot

from qualevents.warehouse import open_warehouse
from qualevents.warehouse.base import Warehouse
from tests.analysis.conftest import fixture_sql
from tests.analysis.test_filter_exposures import (
    test_an_event_exactly_at_exposure_qualifies_and_one_a_millisecond_before_does_not,
    test_totals_null_ids_crossovers_and_first_exposure,
    test_window_edges_are_inclusive,
)
from tests.analysis.test_power import (
    test_count_conversion_and_metric_window,
    test_distinct_units_per_duration,
)

pytestmark = pytest.mark.slow

__all__ = [
    "test_an_event_exactly_at_exposure_qualifies_and_one_a_millisecond_before_does_not",
    "test_count_conversion_and_metric_window",
    "test_distinct_units_per_duration",
    "test_totals_null_ids_crossovers_and_first_exposure",
    "test_window_edges_are_inclusive",
]


@pytest.fixture(scope="module")
def spark_analysis(spark_server: str) -> str:
    from tests.warehouse import engines

    statements = [
        statement
        for statement in sqlglot.transpile(
            re.sub(r"--[^\n]*", "", fixture_sql()), read="postgres", write="spark"
        )
        if statement.strip()
    ]
    engines.spark_load(
        spark_server,
        ["DROP DATABASE IF EXISTS analysis CASCADE", "CREATE DATABASE analysis", *statements],
    )
    return spark_server


@pytest.fixture
def warehouse(spark_analysis: str) -> Iterator[Warehouse]:
    opened = open_warehouse(spark_analysis, timeout_s=120)
    assert opened is not None
    yield opened
    opened.close()
