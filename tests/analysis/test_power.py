"""Power analysis on real warehouses (DuckDB, PostgreSQL) over ``fixtures/power.sql``
(end 2024-03-28; the comments there give each unit's weeks), and its math against
statsmodels and direct computations."""

from __future__ import annotations

import io
import math
from datetime import datetime
from typing import Any

import numpy as np
import pytest
from matplotlib import image
from statsmodels.stats.power import NormalIndPower

from qualevents.analysis import PowerRequest, run_power
from qualevents.analysis.plot import power_figure, power_png
from qualevents.analysis.power import Design, duration
from qualevents.errors import SQLInvalid, ValidationFailed
from qualevents.models import CustomFieldMapping, IdTypeMapping, QualifyingEvent
from qualevents.warehouse.base import Warehouse

NOW = datetime(2024, 4, 2, 8, 0)
SESSIONS = QualifyingEvent(
    name="sessions",
    sql="SELECT * FROM analysis.sessions",
    timestamp_column="ts",
    id_type_mapping=[IdTypeMapping(statsig_unit_id="userID", column="uid")],
)
ORDERS = QualifyingEvent(
    name="orders",
    sql="SELECT * FROM analysis.orders",
    timestamp_column="ts",
    id_type_mapping=[IdTypeMapping(statsig_unit_id="userID", column="uid")],
    custom_field_mapping=[CustomFieldMapping(key="cents", formula="amount * 100")],
)


def run(warehouse: Warehouse, metric: dict[str, Any], **body: Any) -> dict[str, Any]:
    request = PowerRequest.parse(
        {"metricSource": "orders", "metric": metric, "weeks": 3, "end": "2024-03-28", **body}
    )
    return run_power(warehouse, SESSIONS, ORDERS, request, now=NOW)


SUM = {"type": "sum", "valueColumn": "amount"}
# Per unit in window 3 (p1, p2, p3, p4, p6): the amount from each one's first session on.
SUM_3 = [30.0, 8.0, 4.0, 8.0, 0.0]


def test_distinct_units_per_duration(warehouse: Warehouse) -> None:
    data = run(warehouse, SUM)
    # p1 is active in weeks 1 and 2: it counts once in window 2, not twice.
    assert [d["units"] for d in data["durations"]] == [3, 4, 5]
    assert [(d["start"], d["end"]) for d in data["durations"]] == [
        ("2024-03-22", "2024-03-28"),
        ("2024-03-15", "2024-03-28"),
        ("2024-03-08", "2024-03-28"),
    ]
    first = data["durations"][0]
    assert first["mean"] == pytest.approx(28 / 3)  # p1 from its week-1 session: 20; p2 8; p6 0
    third = data["durations"][2]
    assert third["mean"] == pytest.approx(np.mean(SUM_3))
    assert third["variance"] == pytest.approx(np.var(SUM_3, ddof=1))
    assert (third["unitsControl"], third["unitsTreatment"]) == (2.5, 2.5)


def test_count_conversion_and_metric_window(warehouse: Warehouse) -> None:
    count = run(warehouse, {"type": "count"})["durations"][2]
    assert count["mean"] == pytest.approx(np.mean([2, 2, 1, 1, 0]))
    conversion = run(warehouse, {"type": "conversion"})["durations"][2]
    assert conversion["mean"] == pytest.approx(0.8)
    windowed = run(warehouse, SUM, metricWindowDays=1)["durations"][2]
    # e <= ts < e + 1 day: p4's row exactly one day after its exposure is left out
    assert windowed["mean"] == pytest.approx(np.mean([10, 7, 4, 0, 0]))
    custom = run(warehouse, {"type": "sum", "valueColumn": "cents"})["durations"][2]
    assert custom["mean"] == pytest.approx(100 * np.mean(SUM_3))


def test_a_timestamp_as_day_metric_source_is_compared_by_date(warehouse: Warehouse) -> None:
    by_day = ORDERS.model_copy(update={"timestamp_as_day": True})
    request = PowerRequest.parse(
        {
            "metricSource": "orders",
            "metric": SUM,
            "weeks": 3,
            "end": "2024-03-28",
            "metricWindowDays": 1,
        }
    )
    third = run_power(warehouse, SESSIONS, by_day, request, now=NOW)["durations"][2]
    # the exposure's day only: p1's row a second before its exposure is on that day too
    assert third["mean"] == pytest.approx(np.mean([110, 7, 0, 0, 0]))


def test_delta_method_against_a_direct_computation(warehouse: Warehouse) -> None:
    ratio = run(warehouse, {"type": "ratio", "numeratorColumn": "num", "denominatorColumn": "den"})
    third = ratio["durations"][2]
    num, den = np.array([8.0, 2, 1, 2]), np.array([6.0, 1, 3, 2])  # p6 has no denominator
    gradient = np.array([1 / den.mean(), -num.mean() / den.mean() ** 2])
    direct = gradient @ np.cov(np.vstack([num, den]), ddof=1) @ gradient
    assert third["units"] == 4
    assert third["unitsWithoutDenominator"] == 1
    assert third["mean"] == pytest.approx(num.mean() / den.mean())
    assert third["variance"] == pytest.approx(direct)
    mean = run(warehouse, {"type": "mean", "valueColumn": "amount"})["durations"][2]
    sums, rows = np.array([30.0, 8, 4, 8]), np.array([2.0, 2, 1, 1])
    gradient = np.array([1 / rows.mean(), -sums.mean() / rows.mean() ** 2])
    assert mean["mean"] == pytest.approx(sums.mean() / rows.mean())
    assert mean["variance"] == pytest.approx(gradient @ np.cov(np.vstack([sums, rows])) @ gradient)


def test_cuped(warehouse: Warehouse) -> None:
    third = run(warehouse, SUM, cuped={"preDays": 7})["durations"][2]
    pre = [100.0, 0, 0, 50, 0]  # each unit's amount in [e - 7 days, e)
    rho = np.corrcoef(SUM_3, pre)[0, 1]
    assert third["rho"] == pytest.approx(rho)
    assert third["varianceCuped"] == pytest.approx(np.var(SUM_3, ddof=1) * (1 - rho**2))
    assert third["mdeAbsoluteCuped"] < third["mdeAbsolute"]
    assert third["mdeRelativeCuped"] == pytest.approx(third["mdeAbsoluteCuped"] / np.mean(SUM_3))


def test_cuped_with_rho_zero_leaves_the_mde_unchanged() -> None:
    # y = [1, 2, 1, 2], x = [1, 1, 2, 2]: their sample covariance is exactly 0
    y, x = np.array([1.0, 2, 1, 2]), np.array([1.0, 1, 2, 2])
    row = {
        "units": 4,
        "mean_y": y.mean(),
        "var_y": y.var(ddof=1),
        "var_x": x.var(ddof=1),
        "cov_xy": np.cov(y, x)[0, 1],
    }
    result = duration(row, Design(), "sum", True, [], "1 week")
    assert result["rho"] == 0
    assert result["mdeAbsoluteCuped"] == result["mdeAbsolute"]
    assert result["varianceCuped"] == result["variance"]


def test_a_metric_filter_matching_nothing(warehouse: Warehouse) -> None:
    data = run(warehouse, SUM, metricFilter="kind = 'store'")
    for entry in data["durations"]:
        assert entry["mean"] == 0
        assert entry["mdeRelative"] is None
    assert [d["units"] for d in data["durations"]] == [3, 4, 5]


def test_an_event_filter_and_a_hostile_metric_filter(warehouse: Warehouse) -> None:
    data = run(warehouse, SUM, eventFilter="uid <> 'p1'")
    assert [d["units"] for d in data["durations"]] == [2, 3, 4]
    with pytest.raises(SQLInvalid) as caught:
        run(warehouse, SUM, metricFilter="amount > (SELECT MAX(amount) FROM analysis.orders)")
    assert caught.value.errors[0].loc == ("metricFilter",)
    with pytest.raises(SQLInvalid) as caught:
        run(warehouse, {"type": "sum", "valueColumn": "price"})
    assert caught.value.errors[0].loc == ("metric", "valueColumn")
    with pytest.raises(SQLInvalid) as caught:
        run(warehouse, {"type": "sum", "valueColumn": "kind"})  # a string column
    assert caught.value.errors[0].loc == ("metric", "valueColumn")
    assert "expected a number" in caught.value.errors[0].message


@pytest.mark.parametrize(
    "design",
    [
        Design(),
        Design(two_sided=False),
        Design(alpha=0.01, power=0.9),
        Design(groups=3, control_share=0.5, bonferroni=True),
        Design(groups=4, control_share=0.25, allocation=0.5),
    ],
)
def test_mde_against_statsmodels(design: Design) -> None:
    units, variance = 10_000, 4.0
    control, treatment = design.arms(units)
    effect = NormalIndPower().solve_power(
        effect_size=None,
        nobs1=treatment,
        alpha=design.effective_alpha,
        power=design.power,
        ratio=control / treatment,
        alternative="two-sided" if design.two_sided else "larger",
    )
    assert design.mde(variance, units) == pytest.approx(effect * math.sqrt(variance), rel=1e-3)


def test_the_png_has_one_point_per_duration(warehouse: Warehouse) -> None:
    data = run(warehouse, SUM, cuped={"preDays": 7})
    png = power_png(data, "orders")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    pixels = image.imread(io.BytesIO(png), format="png")
    assert pixels.shape[0] > 100 and pixels.shape[1] > 100
    figure = power_figure(data)
    lines = [line for axes in figure.axes for line in axes.get_lines()]
    assert len(lines) == 3  # MDE, MDE with CUPED, units
    for line in lines:
        assert list(line.get_xdata()) == [1, 2, 3]


def test_inputs_and_request_rules(warehouse: Warehouse) -> None:
    data = run(warehouse, SUM, groups=3, bonferroni=True)
    inputs = data["inputs"]
    assert inputs["controlShare"] == pytest.approx(1 / 3)
    assert inputs["effectiveAlpha"] == pytest.approx(0.025)
    assert (inputs["start"], inputs["end"], inputs["unitType"]) == (
        "2024-03-08",
        "2024-03-28",
        "userID",
    )
    yesterday = run_power(
        warehouse,
        SESSIONS,
        ORDERS,
        PowerRequest.parse({"metricSource": "m", "metric": {"type": "count"}, "weeks": 1}),
        now=datetime(2024, 3, 29, 8, 0),
    )
    assert yesterday["durations"][0]["end"] == "2024-03-28"  # end defaults to yesterday (UTC)
    defaults = PowerRequest.parse({"metricSource": "m", "metric": {"type": "count"}})
    assert (defaults.weeks, defaults.alpha, defaults.power, defaults.wait) == (4, 0.05, 0.8, 10)
    for body, loc in (
        ({"weeks": 13}, ("weeks",)),
        ({"weeks": 0}, ("weeks",)),
        ({"metric": {"type": "mean", "valueColumn": "v"}, "cuped": {"preDays": 7}}, ("cuped",)),
        ({"metric": {"type": "sum"}}, ("metric", "valueColumn")),
        ({"alternative": "less"}, ("alternative",)),
        ({"wait": 120}, ("wait",)),
    ):
        with pytest.raises(ValidationFailed) as caught:
            PowerRequest.parse({"metricSource": "m", "metric": {"type": "count"}, **body})
        assert [e.loc for e in caught.value.errors] == [loc], body


def macro_bound(source: QualifyingEvent, table: str) -> QualifyingEvent:
    """``source`` reading only the days its date macros say (as a partitioned table would)."""
    return source.model_copy(
        update={
            "sql": f"SELECT * FROM analysis.{table} "
            "WHERE CAST(ts AS DATE) BETWEEN {statsig_start_date} AND {statsig_end_date}"
        }
    )


def test_the_date_macros_get_the_range_read_with_the_cuped_pre_period(
    warehouse: Warehouse,
) -> None:
    events, metrics = macro_bound(SESSIONS, "sessions"), macro_bound(ORDERS, "orders")
    request = PowerRequest.parse(
        {
            "metricSource": "orders",
            "metric": SUM,
            "weeks": 3,
            "end": "2024-03-28",
            "cuped": {"preDays": 7},
        }
    )
    bound = run_power(warehouse, events, metrics, request, now=NOW)
    plain = run(warehouse, SUM, cuped={"preDays": 7})
    # p4's pre-period row (03-05) is three days before the longest window (03-08): read.
    assert bound["durations"] == plain["durations"]
    assert bound["inputs"]["readRanges"] == {
        "qualifyingEvent": {"start": "2024-03-08", "end": "2024-03-28"},
        "metricSource": {"start": "2024-03-01", "end": "2024-03-28"},
    }
    assert "2024-03-01" in bound["compiledSql"] and "2024-03-08" in bound["compiledSql"]
    # without CUPED the metric source reads the windows only
    without = run_power(
        warehouse,
        events,
        metrics,
        PowerRequest.parse({**request.model_dump(by_alias=True), "cuped": None}),
        now=NOW,
    )
    assert without["inputs"]["readRanges"]["metricSource"]["start"] == "2024-03-08"


def test_a_metric_window_never_reaches_past_the_end(warehouse: Warehouse) -> None:
    # p4's 1000 on 03-29 is within 30 days of its exposure but after `end`
    third = run(warehouse, SUM, metricWindowDays=30)["durations"][2]
    assert third["mean"] == pytest.approx(np.mean(SUM_3))


def test_a_mean_metric_counts_the_rows_that_have_a_value(warehouse: Warehouse) -> None:
    # p1's 20 becomes NULL: its mean is 10 / 1, not 10 / 2
    nulls = ORDERS.model_copy(
        update={
            "sql": "SELECT ts, uid, CASE WHEN amount = 20 THEN NULL ELSE amount END AS amount "
            "FROM analysis.orders"
        }
    )
    request = PowerRequest.parse(
        {
            "metricSource": "orders",
            "metric": {"type": "mean", "valueColumn": "amount"},
            "weeks": 3,
            "end": "2024-03-28",
        }
    )
    third = run_power(warehouse, SESSIONS, nulls, request, now=NOW)["durations"][2]
    sums, rows = np.array([10.0, 8, 4, 8]), np.array([1.0, 2, 1, 1])
    assert third["mean"] == pytest.approx(sums.mean() / rows.mean())
    assert third["units"] == 4 and third["unitsWithoutDenominator"] == 1


def test_the_design_reaches_every_duration(warehouse: Warehouse) -> None:
    body = {"groups": 3, "controlShare": 0.5, "allocation": 0.5, "bonferroni": True}
    data = run(warehouse, SUM, alternative="one-sided", **body)
    third = data["durations"][2]
    assert third["unitsControl"] == pytest.approx(5 * 0.5 * 0.5)
    assert third["unitsTreatment"] == pytest.approx(5 * 0.5 * 0.5 / 2)
    effect = NormalIndPower().solve_power(
        nobs1=third["unitsTreatment"],
        alpha=0.05 / 2,
        power=0.8,
        ratio=third["unitsControl"] / third["unitsTreatment"],
        alternative="larger",
    )
    expected = effect * math.sqrt(np.var(SUM_3, ddof=1))
    assert third["mdeAbsolute"] == pytest.approx(expected, rel=1e-3)
    assert third["mdeRelative"] == pytest.approx(expected / np.mean(SUM_3), rel=1e-3)
    inputs = data["inputs"]
    assert (inputs["sides"], inputs["alternative"], inputs["effectiveAlpha"]) == (
        1,
        "one-sided",
        pytest.approx(0.025),
    )


def test_inputs_name_every_resolved_parameter(warehouse: Warehouse) -> None:
    inputs = run(warehouse, SUM)["inputs"]
    # how long the POST waits is the job's, not the analysis'
    fields = PowerRequest.model_fields.items()
    request_fields = {field.alias or name for name, field in fields} - {"wait"}
    assert request_fields <= set(inputs)
    assert inputs["qualifyingEvent"] == "sessions"
    assert inputs["controlShare"] == 0.5 and inputs["cuped"] is None
    assert inputs["metric"] == SUM


def test_the_png_without_cuped_and_without_any_mde(warehouse: Warehouse) -> None:
    data = run(warehouse, SUM, metricFilter="kind = 'store'")  # mean 0: no relative MDE
    pixels = image.imread(io.BytesIO(power_png(data)), format="png")
    assert pixels.ndim == 3
    figure = power_figure(data)
    lines = [line for axes in figure.axes for line in axes.get_lines()]
    assert len(lines) == 2  # MDE, units
    assert [list(line.get_xdata()) for line in lines] == [[1, 2, 3], [1, 2, 3]]
    assert list(lines[1].get_ydata()) == [3, 4, 5]
    assert "sum of amount in orders, windows ending 2024-03-28" in figure.get_suptitle()


def test_an_end_not_over_yet_is_warned_about(warehouse: Warehouse) -> None:
    today = run(warehouse, {"type": "count"}, end="2024-04-02")  # NOW is 2024-04-02 08:00
    assert "end 2024-04-02 is not over yet" in today["warnings"][0]
    assert not any("not over yet" in w for w in run(warehouse, SUM)["warnings"])
