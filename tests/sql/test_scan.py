"""The assignment-source scan builder without a warehouse: the query parses in every
supported dialect and passes the read-only guard, user SQL goes through the guard, bad
inputs are clear 400s, and rows are shaped into the wire objects."""

from __future__ import annotations

from datetime import date, datetime

import pytest
import sqlglot
from sqlglot import exp

from qualevents.errors import SQLInvalid, ValidationFailed
from qualevents.models import AssignmentSource, IdTypeMapping
from qualevents.sql.parse import ensure_read_only
from qualevents.sql.scan import scan_query, shape_rows

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
USER = IdTypeMapping(statsig_unit_id="userID", column="user_id")
STABLE = IdTypeMapping(statsig_unit_id="stableID", column="stable_id")
SOURCE = AssignmentSource(
    name="exposures",
    sql=(
        "SELECT * FROM `shoppy-sales.experiment_data.exposures` "
        "WHERE ts >= {statsig_start_date} AND ts < {statsig_end_date}"
    ),
    timestamp_column="ts",
    experiment_id_column="experiment_name",
    group_id_column="group_id",
    group_name_column="group_name",
    id_type_mapping=(USER, STABLE),
)


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("unit_type", [None, "stableID"])
@pytest.mark.parametrize("days", [None, (date(2024, 6, 1), date(2024, 6, 30))])
def test_the_scan_parses_in_every_dialect(
    dialect: str, unit_type: str | None, days: tuple[date, date] | None
) -> None:
    start, end = days or (None, None)
    text = scan_query(SOURCE, dialect, start=start, end=end, unit_type=unit_type).sql(
        dialect=dialect
    )
    parsed = sqlglot.parse_one(text, read=dialect)
    assert parsed.sql(dialect=dialect) == text  # round trip: nothing lost
    ensure_read_only(text, dialect)  # what every adapter checks before running it
    # The date macros were substituted; the unit type's column is the one counted.
    assert "statsig_" not in text
    counted = "stable_id" if unit_type else "user_id"
    assert f"{counted} AS unit_id" in text


KEYWORDS = AssignmentSource(
    name="exposures",
    sql="SELECT 1",
    timestamp_column="order",
    experiment_id_column="group",
    group_id_column="select",
    group_name_column="from",
    id_type_mapping=(IdTypeMapping(statsig_unit_id="userID", column="user"),),
)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_columns_named_like_keywords_parse_in_every_dialect(dialect: str) -> None:
    text = scan_query(KEYWORDS, dialect, start=date(2024, 6, 1), end=date(2024, 6, 2)).sql(
        dialect=dialect
    )
    parsed = sqlglot.parse_one(text, read=dialect)
    rows = parsed.find(exp.CTE).this  # scan_rows: each keyword still names a column of s
    assert [c.this.name for c in rows.selects] == ["group", "select", "user", "order", "from"]
    ensure_read_only(text, dialect)


def test_macros_stand_for_the_range_read() -> None:
    text = scan_query(SOURCE, "duckdb", start=date(2024, 6, 3), end=date(2024, 6, 9)).sql("duckdb")
    assert "ts >= CAST('2024-06-03' AS DATE) AND ts < CAST('2024-06-09' AS DATE)" in text
    everything = scan_query(SOURCE, "duckdb", today=date(2024, 7, 1)).sql("duckdb")
    assert "CAST('1970-01-01' AS DATE)" in everything
    assert "CAST('2024-07-01' AS DATE)" in everything


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM exposures",
        "SELECT * FROM exposures; DROP TABLE exposures",
        "WITH gone AS (DELETE FROM exposures RETURNING *) SELECT * FROM gone",
        "SELECT * INTO copy FROM exposures",
        "SELECT * FROM exposures WHERE",
    ],
)
def test_user_sql_passes_the_read_only_guard(sql: str) -> None:
    hostile = AssignmentSource(
        name="exposures",
        sql=sql,
        timestamp_column="ts",
        experiment_id_column="experiment_name",
        group_id_column="group_id",
        id_type_mapping=(USER,),
    )
    with pytest.raises(SQLInvalid) as caught:
        scan_query(hostile, "postgres")
    assert caught.value.status == 400
    assert caught.value.errors and caught.value.errors[0].loc == ("sql",)


def test_an_unknown_unit_type_names_the_mapped_ones() -> None:
    with pytest.raises(ValidationFailed) as caught:
        scan_query(SOURCE, "duckdb", unit_type="companyID")
    (item,) = caught.value.errors
    assert item.loc == ("unit_type",)
    assert item.message == (
        "unitType 'companyID' is not mapped by the assignment source: userID, stableID"
    )


def test_a_range_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValidationFailed) as caught:
        scan_query(SOURCE, "duckdb", start=date(2024, 6, 9), end=date(2024, 6, 8))
    (item,) = caught.value.errors
    assert item.loc == ("start",)
    assert item.message == "start (2024-06-09) is after end (2024-06-08)"
    with pytest.raises(ValidationFailed):
        scan_query(SOURCE, "duckdb", start=date(2024, 6, 9), today=date(2024, 6, 1))


def test_a_source_without_unit_ids_or_sql_is_refused() -> None:
    unmapped = AssignmentSource(
        name="exposures",
        sql="SELECT 1 AS x",
        timestamp_column="ts",
        experiment_id_column="e",
        group_id_column="g",
        id_type_mapping=(),
    )
    with pytest.raises(ValidationFailed) as caught:
        scan_query(unmapped, "duckdb")
    assert caught.value.errors[0].loc == ("id_type_mapping",)
    empty = AssignmentSource(
        name="exposures",
        sql="  ",
        timestamp_column="ts",
        experiment_id_column="e",
        group_id_column="g",
        id_type_mapping=(USER,),
    )
    with pytest.raises(SQLInvalid) as refused:  # the shared effective query's own message
        scan_query(empty, "duckdb")
    assert refused.value.errors[0].loc == ("sql",)


def test_names_are_quoted_when_they_must_be_and_qualified() -> None:
    odd = AssignmentSource(
        name="exposures",
        sql="SELECT 1",
        timestamp_column="Exposure Time",
        experiment_id_column="units",  # the name of one of the scan's own columns
        group_id_column="group_id",
        id_type_mapping=(IdTypeMapping(statsig_unit_id="userID", column="user id"),),
    )
    text = scan_query(odd, "postgres", start=date(2024, 1, 1), end=date(2024, 1, 2)).sql("postgres")
    assert 's."Exposure Time" AS ts' in text
    assert "s.units AS experiment_id" in text
    assert 's."user id" AS unit_id' in text


def _row(**values: object) -> dict[str, object]:
    # Snowflake answers with upper-case column names.
    return {key.upper(): value for key, value in values.items()}


def test_rows_become_one_object_per_experiment() -> None:
    first, last = datetime(2024, 6, 1, 8), datetime(2024, 6, 9, 17, 30)
    common = {"units": 10, "crossover_units": 1, "unit_type_1": 4}
    rows = [
        _row(experiment_id="a", group_id="c", group_name="Control", group_units=5,
             first_exposure=first, last_exposure=datetime(2024, 6, 2), **common),
        _row(experiment_id="a", group_id="t", group_name="Test", group_units=6,
             first_exposure=datetime(2024, 6, 3), last_exposure=last, **common),
        _row(experiment_id=7, group_id=1, group_name=None, group_units=0,
             first_exposure=first, last_exposure=first, units=0, crossover_units=0,
             unit_type_1=0),
    ]  # fmt: skip
    a, seven = (e.to_dict() for e in shape_rows(rows, SOURCE))
    assert a == {
        "experimentID": "a",
        "groups": [
            {"groupID": "c", "groupName": "Control", "units": 5},
            {"groupID": "t", "groupName": "Test", "units": 6},
        ],
        "units": 10,
        "crossoverUnits": 1,
        "firstExposure": "2024-06-01T08:00:00",
        "lastExposure": "2024-06-09T17:30:00",
        "unitTypes": {"userID": 10, "stableID": 4},
    }
    assert seven["experimentID"] == "7" and seven["groups"][0]["groupID"] == "1"


def test_group_names_only_when_the_source_maps_them() -> None:
    unnamed = AssignmentSource(
        name="exposures",
        sql="SELECT 1",
        timestamp_column="ts",
        experiment_id_column="experiment_name",
        group_id_column="group_id",
        id_type_mapping=(USER,),
    )
    text = scan_query(unnamed, "duckdb").sql("duckdb")
    assert "group_name" not in text
    rows = [
        {"experiment_id": "a", "group_id": "c", "group_units": 3, "units": 3,
         "crossover_units": 0, "first_exposure": None, "last_exposure": None},
    ]  # fmt: skip
    (scan,) = shape_rows(rows, unnamed)
    assert scan.to_dict()["groups"] == [{"groupID": "c", "units": 3}]
    assert scan.to_dict()["unitTypes"] == {"userID": 3}


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_hostile_column_name_stays_one_identifier(dialect: str) -> None:
    hostile = 'ts") AS x FROM t; DROP TABLE exposures; --'
    sneaky = AssignmentSource(
        name="exposures",
        sql="SELECT 1",
        timestamp_column=hostile,
        experiment_id_column="experiment_name`; DELETE FROM exposures; --",
        group_id_column="group_id",
        id_type_mapping=(USER,),
    )
    text = scan_query(sneaky, dialect, start=date(2024, 6, 1), end=date(2024, 6, 2)).sql(
        dialect=dialect
    )
    ensure_read_only(text, dialect)  # still one SELECT, nothing else
    rows = sqlglot.parse_one(text, read=dialect).find(exp.CTE).this
    names = [c.this.name for c in rows.selects]
    assert names[0] == "experiment_name`; DELETE FROM exposures; --"
    assert names[3] == hostile
