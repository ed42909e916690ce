"""Every query the analyses generate parses, and passes the read-only guard, in every
supported dialect; user SQL stays inside its derived table."""

from __future__ import annotations

from datetime import date, datetime

import pytest
import sqlglot

from qualevents.analysis.exposures import (
    ExposureFilter,
    aggregate_query,
    filtered_query,
    range_query,
)
from qualevents.analysis.fragments import filter_expression
from qualevents.analysis.power_sql import PowerQuery, metric_columns, power_query
from qualevents.analysis.rows import SourceRows
from qualevents.models import CustomFieldMapping, IdTypeMapping, QualifyingEvent
from qualevents.sql.macros import DateRange
from qualevents.sql.parse import ensure_read_only
from qualevents.sql.queries import column, effective_query
from qualevents.sql.schema import Column

DIALECTS = (
    "postgres",
    "duckdb",
    "bigquery",
    "snowflake",
    "databricks",
    "redshift",
    "trino",
    "clickhouse",
    "spark",
)
EVENT = QualifyingEvent(
    name="clicks",
    sql=(
        "SELECT * FROM analytics.clicks "
        "WHERE day BETWEEN {statsig_start_date} AND {statsig_end_date}"
    ),
    timestamp_column="ts",
    id_type_mapping=[IdTypeMapping(statsig_unit_id="userID", column="uid")],
    custom_field_mapping=[CustomFieldMapping(key="double_amount", formula="amount * 2")],
)
ASSIGNMENT = QualifyingEvent(
    name="assignments",
    sql="SELECT * FROM analytics.exposures",
    timestamp_column="ts",
    id_type_mapping=[IdTypeMapping(statsig_unit_id="userID", column="user_id")],
)
RANGE = DateRange(date(2024, 1, 1), date(2024, 1, 31))
ZONED = Column("ts", "timestamp", "TIMESTAMP WITH TIME ZONE")


def exposure_specs(dialect: str):
    condition = filter_expression("kind = 'buy' AND double_amount > 3", dialect, "eventFilter")
    for options in (
        {},
        {"window_amount": 30, "window_unit": "minutes", "any_exposure": True},
        {
            "window_amount": 2,
            "window_unit": "days",
            "timestamp_as_day": True,
            "replace_exposure_timestamp": True,
        },
        {"include": False, "has_group_name": True},
        {"replace_exposure_timestamp": True, "window_amount": 1, "window_unit": "hours"},
    ):
        extra = {"group_id": column("grp")}
        if options.get("has_group_name"):
            extra["group_name"] = column("grp_name")
        yield ExposureFilter(
            exposures=SourceRows(
                ASSIGNMENT,
                effective_query(ASSIGNMENT, dialect, RANGE),
                "user_id",
                ZONED,
                extra=extra,
            ),
            qualifying=SourceRows(
                EVENT,
                effective_query(EVENT, dialect, RANGE),
                "uid",
                unit_as_string=True,
                condition=condition,
            ),
            experiment_column="experiment",
            experiment_column_type=Column("experiment", "integer", "INTEGER"),
            experiment_id="42",
            start=date(2024, 1, 1),
            end=date(2024, 1, 31),
            now=datetime(2024, 2, 1, 12),
            **options,
        )


def power_specs(dialect: str):
    for metric_type in ("sum", "count", "conversion", "mean", "ratio"):
        for as_day, window, pre in ((False, None, 7), (True, 3, 7), (False, 5, None)):
            if metric_type in ("mean", "ratio"):
                pre = None
            yield PowerQuery(
                qualifying=SourceRows(EVENT, effective_query(EVENT, dialect, RANGE), "uid"),
                metric=SourceRows(
                    EVENT,
                    effective_query(EVENT, dialect, RANGE),
                    "uid",
                    condition=filter_expression("amount > 0", dialect, "metricFilter"),
                    extra=metric_columns(metric_type, "amount", "amount", "double_amount"),
                ),
                metric_type=metric_type,
                weeks=4,
                end=date(2024, 1, 31),
                metric_window_days=window,
                metric_as_day=as_day,
                cuped_pre_days=pre,
            )


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_generated_query_parses(dialect: str) -> None:
    queries = []
    for spec in exposure_specs(dialect):
        queries += [
            aggregate_query(spec, dialect),
            filtered_query(spec, dialect),
            range_query(spec, dialect),
        ]
    queries += [power_query(spec, dialect) for spec in power_specs(dialect)]
    for query in queries:
        text = query.sql(dialect=dialect)
        parsed = sqlglot.parse(text, read=dialect)
        assert len(parsed) == 1
        ensure_read_only(text, dialect)


def test_user_sql_stays_in_its_derived_table() -> None:
    spec = next(exposure_specs("postgres"))
    text = aggregate_query(spec, "postgres").sql(dialect="postgres")
    assert "CAST('2024-01-01' AS DATE)" in text  # the macros got the range read
    assert text.count("analytics.clicks") == 1
