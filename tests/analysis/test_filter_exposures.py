"""Exposure filtering on real warehouses (DuckDB, PostgreSQL): each semantic rule of issue 12
pinned on the hand-built fixtures of ``fixtures/exposures.sql`` (the comments there say
which unit stands for which rule)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from scipy import stats

from qualevents.analysis import AssignmentSource, FilterExposuresRequest, run_filter_exposures
from qualevents.errors import InvalidRequest, SQLInvalid, ValidationFailed
from qualevents.models import CustomFieldMapping, IdTypeMapping, QualifyingEvent
from qualevents.warehouse.base import Warehouse

NOW = datetime(2024, 2, 1, 12, 0)
ASSIGNMENTS = AssignmentSource(
    name="assignments",
    sql="SELECT * FROM analysis.exposures",
    timestamp_column="ts",
    experiment_id_column="experiment",
    group_id_column="group_id",
    group_name_column="group_name",
    id_type_mapping=(IdTypeMapping(statsig_unit_id="userID", column="user_id"),),
)
CLICKS = QualifyingEvent(
    name="clicks",
    sql="SELECT * FROM analysis.clicks",
    timestamp_column="ts",
    id_type_mapping=[IdTypeMapping(statsig_unit_id="userID", column="uid")],
    custom_field_mapping=[CustomFieldMapping(key="double_amount", formula="amount * 2")],
)
VISITS = QualifyingEvent(
    name="visits",
    sql="SELECT * FROM analysis.visits",
    timestamp_column="day",
    timestamp_as_day=True,
    id_type_mapping=[IdTypeMapping(statsig_unit_id="userID", column="uid")],
)


def run(warehouse: Warehouse, event: QualifyingEvent = CLICKS, **body: Any) -> dict[str, Any]:
    body = {
        "assignmentSource": "assignments",
        "experimentID": "timing",
        "start": "2024-01-01",
        "end": "2024-01-01",
        **body,
    }
    request = FilterExposuresRequest.parse(body)
    return run_filter_exposures(warehouse, event, ASSIGNMENTS, request, now=NOW)


def counts(data: dict[str, Any], field: str = "qualifiedUnits") -> dict[str, int]:
    return {g["groupID"]: g[field] for g in data["groups"]}


def kept_rows(warehouse: Warehouse, data: dict[str, Any]) -> dict[str, tuple]:
    rows = warehouse.query(data["compiledSql"])
    return {
        row["unit_id"]: (
            row["group_id"],
            row["exposure_timestamp"],
            row["first_qualifying_timestamp"],
        )
        for row in rows
    }


def test_totals_null_ids_crossovers_and_first_exposure(warehouse: Warehouse) -> None:
    data = run(warehouse)
    # 12 rows of the experiment on 2024-01-01 (u7 is on 01-02, 'other' is another experiment)
    assert data["totals"] == {
        "exposureRows": 10,
        "nullUnitIDRows": 1,
        "crossoverUnits": 1,
        "exposedUnits": 6,
        "qualifiedUnits": 5,
        "keptUnits": 5,
    }
    assert counts(data, "exposedUnits") == {"control": 2, "test": 4}
    assert {g["groupID"]: g["groupName"] for g in data["groups"]} == {
        "control": "Control",
        "test": "Test",
    }
    balance = stats.chi2_contingency([[2, 0], [3, 1]], correction=False)
    assert data["qualificationBalance"]["chiSquare"] == pytest.approx(balance.statistic)
    assert data["qualificationBalance"]["pValue"] == pytest.approx(balance.pvalue)
    assert data["srm"]["before"]["pValue"] == pytest.approx(stats.chisquare([2, 4]).pvalue)
    assert data["srm"]["after"]["pValue"] == pytest.approx(stats.chisquare([2, 3]).pvalue)
    rows = kept_rows(warehouse, data)
    assert "u5" not in rows  # the crossover is excluded from everything
    assert rows["u6"][1] == datetime(2024, 1, 1, 10, 0)  # the first of its exposures


def test_an_event_exactly_at_exposure_qualifies_and_one_a_millisecond_before_does_not(
    warehouse: Warehouse,
) -> None:
    rows = kept_rows(warehouse, run(warehouse))
    assert "u1" in rows
    assert "u2" not in rows


def test_window_edges_are_inclusive(warehouse: Warehouse) -> None:
    hour = run(warehouse, window={"amount": 1, "unit": "hours"})
    rows = kept_rows(warehouse, hour)
    assert "u3" in rows  # exactly one hour after
    assert "u4" not in rows  # one hour and one millisecond after
    assert "u8" in rows  # after `end`, but within its window
    assert counts(hour) == {"control": 2, "test": 1}
    minutes = run(warehouse, window={"amount": 59, "unit": "minutes"})
    assert "u3" not in kept_rows(warehouse, minutes)
    days = run(warehouse, window={"amount": 1, "unit": "days"})
    assert counts(days) == {"control": 2, "test": 3}


def test_any_exposure_with_a_window(warehouse: Warehouse) -> None:
    first = kept_rows(warehouse, run(warehouse, window={"amount": 1, "unit": "hours"}))
    any_row = kept_rows(
        warehouse,
        run(warehouse, window={"amount": 1, "unit": "hours"}, matchAgainst="anyExposure"),
    )
    assert "u6" not in first  # 12:30 is 2.5 hours after its first exposure
    assert "u6" in any_row  # but 30 minutes after its second
    assert any_row["u6"][2] == datetime(2024, 1, 1, 12, 30)


def test_exclude_is_the_complement_of_include(warehouse: Warehouse) -> None:
    window = {"amount": 1, "unit": "hours"}
    include = run(warehouse, window=window)
    exclude = run(warehouse, window=window, mode="exclude")
    assert counts(include) == counts(exclude)  # qualifiedUnits are the same in both modes
    assert counts(exclude, "keptUnits") == {"control": 0, "test": 3}
    kept_in, kept_out = kept_rows(warehouse, include), kept_rows(warehouse, exclude)
    assert not kept_in.keys() & kept_out.keys()
    assert kept_in.keys() | kept_out.keys() == {"u1", "u2", "u3", "u4", "u6", "u8"}
    assert all(first_q is None for _, _, first_q in kept_out.values())


def test_replace_exposure_timestamp(warehouse: Warehouse) -> None:
    rows = kept_rows(warehouse, run(warehouse, replaceExposureTimestamp=True))
    assert rows["u3"][1] == datetime(2024, 1, 1, 11, 0)
    assert rows["u1"][1] == datetime(2024, 1, 1, 10, 0)  # never before the exposure


def test_event_filter_over_columns_and_custom_fields(warehouse: Warehouse) -> None:
    assert counts(run(warehouse, eventFilter="kind = 'buy'")) == {"control": 1, "test": 3}
    assert counts(run(warehouse, eventFilter="double_amount > 30")) == {"control": 1, "test": 1}


def test_a_filter_matching_nothing(warehouse: Warehouse) -> None:
    data = run(warehouse, eventFilter="kind = 'refund'")
    assert data["totals"]["qualifiedUnits"] == 0
    assert data["qualificationBalance"]["verdict"] == "ok"
    assert data["srm"]["after"] == {
        "chiSquare": 0.0,
        "degreesOfFreedom": 1,
        "pValue": 1.0,
        "verdict": "ok",
    }
    assert any("Nobody qualified" in w for w in data["warnings"])
    assert kept_rows(warehouse, data) == {}


def test_timestamp_as_day_compares_utc_dates_across_midnight(warehouse: Warehouse) -> None:
    body = {"experimentID": "days", "start": "2024-01-10", "end": "2024-01-10"}
    no_window = kept_rows(warehouse, run(warehouse, VISITS, **body))
    assert set(no_window) == {"d1", "d3", "d4"}  # d2 visited the day before
    one_day = kept_rows(
        warehouse, run(warehouse, VISITS, window={"amount": 1, "unit": "days"}, **body)
    )
    assert set(one_day) == {"d1", "d3"}
    two_days = run(warehouse, VISITS, window={"amount": 2, "unit": "days"}, **body)
    assert set(kept_rows(warehouse, two_days)) == {"d1", "d3", "d4"}
    replaced = kept_rows(warehouse, run(warehouse, VISITS, replaceExposureTimestamp=True, **body))
    assert replaced["d1"][1] == datetime(2024, 1, 10, 23, 59, 59)  # the later of the two
    assert replaced["d3"][1] == datetime(2024, 1, 11, 0, 0)  # the start of the visit's day


def test_without_a_range_all_exposures_are_read(warehouse: Warehouse) -> None:
    request = FilterExposuresRequest.parse({"assignmentSource": "a", "experimentID": "timing"})
    data = run_filter_exposures(warehouse, CLICKS, ASSIGNMENTS, request, now=NOW)
    assert data["totals"]["exposureRows"] == 11  # u7 on 01-02 too
    assert counts(data, "exposedUnits") == {"control": 3, "test": 4}


def test_expected_split(warehouse: Warehouse) -> None:
    data = run(warehouse, expectedSplit={"control": 1, "test": 2, "holdout": 1})
    assert counts(data, "exposedUnits") == {"control": 2, "holdout": 0, "test": 4}
    assert data["srm"]["before"]["degreesOfFreedom"] == 2
    expected = stats.chisquare([2, 0, 4], [6 / 4, 6 / 4, 6 * 2 / 4])
    assert data["srm"]["before"]["chiSquare"] == pytest.approx(expected.statistic)
    with pytest.raises(InvalidRequest) as caught:
        run(warehouse, expectedSplit={"control": 1})
    assert caught.value.errors[0].loc == ("expectedSplit",)
    assert "test" in caught.value.errors[0].message
    without = run(warehouse)
    assert any("missing from the data cannot be seen" in w for w in without["warnings"])


def test_a_hostile_filter_is_a_400_naming_the_property(warehouse: Warehouse) -> None:
    for text in (
        "uid IN (SELECT uid FROM analysis.clicks)",
        "1 = 1; DROP TABLE analysis.clicks",
        "COUNT(*) > 1",
        "ROW_NUMBER() OVER () = 1",
        "missing_column = 1",
        "amount +",
    ):
        with pytest.raises(SQLInvalid) as caught:
            run(warehouse, eventFilter=text)
        assert caught.value.status == 400
        assert caught.value.errors[0].loc == ("eventFilter",), text


def test_the_experiment_id_is_a_value_not_sql(warehouse: Warehouse) -> None:
    data = run(warehouse, experimentID="timing' OR '1'='1")
    assert data["totals"]["exposureRows"] == 0
    assert data["groups"] == []


def test_minutes_on_a_timestamp_as_day_event_is_a_400(warehouse: Warehouse) -> None:
    with pytest.raises(ValidationFailed) as caught:
        run(warehouse, VISITS, window={"amount": 30, "unit": "minutes"})
    assert caught.value.errors[0].loc == ("window", "unit")


def test_unit_type_must_be_mapped_by_both(warehouse: Warehouse) -> None:
    with pytest.raises(InvalidRequest) as caught:
        run(warehouse, unitType="stableID")
    assert caught.value.errors[0].loc == ("unitType",)


def test_request_bounds() -> None:
    base = {"assignmentSource": "a", "experimentID": "e"}
    cases = [
        ({"mode": "exclude", "replaceExposureTimestamp": True}, ("replaceExposureTimestamp",)),
        ({"wait": 61}, ("wait",)),
        ({"window": {"amount": 0, "unit": "hours"}}, ("window", "amount")),
        ({"window": {"amount": 1, "unit": "weeks"}}, ("window", "unit")),
        ({"start": "2024-02-01", "end": "2024-01-01"}, ("start",)),
        ({"start": "01/02/2024"}, ("start",)),
        ({"expectedSplit": {"a": 0}}, ("expectedSplit", "a")),
        ({"matchAgainst": "lastExposure"}, ("matchAgainst",)),
        ({"colour": "red"}, ("colour",)),
    ]
    for extra, loc in cases:
        with pytest.raises(ValidationFailed) as caught:
            FilterExposuresRequest.parse({**base, **extra})
        assert [e.loc for e in caught.value.errors] == [loc], extra
    request = FilterExposuresRequest.parse(base)
    assert (request.wait, request.mode, request.match_against) == (10, "include", "firstExposure")
    with pytest.raises(ValidationFailed):
        FilterExposuresRequest.parse({"experimentID": "e"})
    assert FilterExposuresRequest.parse({**base, "start": "2024-01-05"}).start == date(2024, 1, 5)


def test_zoned_timestamps_are_compared_in_utc(warehouse: Warehouse) -> None:
    zoned = CLICKS.model_copy(
        update={"sql": "SELECT * FROM analysis.zoned_clicks", "custom_field_mapping": None}
    )
    rows = kept_rows(warehouse, run(warehouse, zoned, window={"amount": 1, "unit": "hours"}))
    assert set(rows) == {"u1", "u3"}


def test_numeric_ids_join_string_ids(warehouse: Warehouse) -> None:
    numeric = AssignmentSource(
        name="numeric",
        sql="SELECT * FROM analysis.numeric_exposures",
        timestamp_column="ts",
        experiment_id_column="experiment",
        group_id_column="group_id",
        id_type_mapping=(IdTypeMapping(statsig_unit_id="userID", column="user_id"),),
    )
    event = CLICKS.model_copy(
        update={"sql": "SELECT * FROM analysis.numeric_clicks", "custom_field_mapping": None}
    )
    request = FilterExposuresRequest.parse(
        {
            "assignmentSource": "numeric",
            "experimentID": "7",
            "start": "2024-01-01",
            "end": "2024-01-01",
        }
    )
    data = run_filter_exposures(warehouse, event, numeric, request, now=NOW)
    assert [(g["groupID"], g["exposedUnits"], g["qualifiedUnits"]) for g in data["groups"]] == [
        ("0", 1, 1),
        ("1", 2, 1),
    ]
    assert "groupName" not in data["groups"][0]


def test_a_source_column_that_is_not_there_is_a_400_that_names_it(warehouse: Warehouse) -> None:
    broken = CLICKS.model_copy(
        update={"id_type_mapping": [IdTypeMapping(statsig_unit_id="userID", column="user")]}
    )
    with pytest.raises(SQLInvalid) as caught:
        run(warehouse, broken)
    assert caught.value.status == 400
    assert "unit-id column 'user'" in caught.value.errors[0].message
    assert "of the qualifying event 'clicks'" in caught.value.errors[0].message
    assignments = AssignmentSource(**{**ASSIGNMENTS.__dict__, "group_id_column": "variant"})
    request = FilterExposuresRequest.parse(
        {
            "assignmentSource": "a",
            "experimentID": "timing",
            "start": "2024-01-01",
            "end": "2024-01-01",
        }
    )
    with pytest.raises(SQLInvalid) as caught:
        run_filter_exposures(warehouse, CLICKS, assignments, request, now=NOW)
    assert caught.value.errors[0].loc == ("assignmentSource",)
    assert "groupIDColumn 'variant'" in caught.value.errors[0].message


def test_date_macros_get_the_range_actually_read(warehouse: Warehouse) -> None:
    macros = CLICKS.model_copy(
        update={
            "sql": "SELECT * FROM analysis.clicks "
            "WHERE CAST(ts AS DATE) BETWEEN {statsig_start_date} AND {statsig_end_date}",
            "custom_field_mapping": None,
        }
    )
    data = run(warehouse, macros, window={"amount": 1, "unit": "hours"})
    # end 2024-01-01 plus one hour reaches 2024-01-02: u8's click at 00:10 that day is read
    assert "u8" in kept_rows(warehouse, data)
    assert "'2024-01-02'" in data["compiledSql"]
    without = run(warehouse, macros)
    assert "'2024-02-01'" in without["compiledSql"]  # today, without a window
