"""Exposure filtering and power against plain-Python reference implementations of the
issues' semantics, on generated data in DuckDB (hypothesis): whatever the rows, the
warehouse's counts are the reference's."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from qualevents.analysis import (
    AssignmentSource,
    FilterExposuresRequest,
    PowerRequest,
    run_filter_exposures,
    run_power,
)
from qualevents.models import IdTypeMapping, QualifyingEvent
from qualevents.warehouse.duckdb import DuckDBWarehouse

START, END = date(2024, 1, 1), date(2024, 1, 2)
NOW = datetime(2024, 1, 10)
BASE = datetime(2023, 12, 31)
USERS = [IdTypeMapping(statsig_unit_id="userID", column="uid")]
ASSIGNMENTS = AssignmentSource(
    name="a",
    sql="SELECT * FROM ref.exposures",
    timestamp_column="ts",
    experiment_id_column="experiment",
    group_id_column="grp",
    id_type_mapping=(IdTypeMapping(statsig_unit_id="userID", column="uid"),),
)
EVENT = QualifyingEvent(
    name="q", sql="SELECT * FROM ref.events", timestamp_column="ts", id_type_mapping=USERS
)
DAY_EVENT = QualifyingEvent(
    name="d",
    sql="SELECT uid, CAST(ts AS DATE) AS day FROM ref.events",
    timestamp_column="day",
    timestamp_as_day=True,
    id_type_mapping=USERS,
)
METRIC = QualifyingEvent(
    name="m", sql="SELECT * FROM ref.metrics", timestamp_column="ts", id_type_mapping=USERS
)

units = st.sampled_from(["u0", "u1", "u2", "u3", None])
# A coarse grid of moments and windows, so that events exactly at an exposure or exactly at
# a window's end (the edges the rules pin) come up often.
moments = st.integers(0, 4 * 24 * 2).map(lambda q: BASE + timedelta(minutes=30 * q))
exposure_rows = st.lists(st.tuples(moments, units, st.sampled_from(["a", "b"])), max_size=25)
event_rows = st.lists(st.tuples(moments, units), max_size=25)
windows = st.one_of(
    st.none(),
    st.tuples(st.integers(1, 3), st.just("days")),
    st.tuples(st.sampled_from([30, 60, 90]), st.just("minutes")),
    st.tuples(st.integers(1, 6), st.just("hours")),
)


@pytest.fixture(scope="module")
def warehouse() -> Iterator[DuckDBWarehouse]:
    opened = DuckDBWarehouse(":memory:")
    with opened.writable() as connection:
        connection.execute("CREATE SCHEMA ref")
    yield opened
    opened.close()


def load(warehouse: DuckDBWarehouse, table: str, columns: str, rows: list[tuple]) -> None:
    with warehouse.writable() as connection:
        connection.execute(f"CREATE OR REPLACE TABLE ref.{table} ({columns})")
        if rows:
            marks = ", ".join("?" * len(rows[0]))
            connection.executemany(f"INSERT INTO ref.{table} VALUES ({marks})", rows)


def reference_filter(exposures, events, window, any_exposure, as_day):
    first_moment = datetime.combine(START, datetime.min.time())
    after_end = datetime.combine(END + timedelta(days=1), datetime.min.time())
    rows = [(ts, u, g) for ts, u, g in exposures if first_moment <= ts < after_end]
    groups_of, times_of = defaultdict(set), defaultdict(list)
    for ts, u, g in rows:
        if u is not None:
            groups_of[u].add(g)
            times_of[u].append(ts)
    minutes = (
        None if window is None else window[0] * {"minutes": 1, "hours": 60, "days": 1440}[window[1]]
    )
    until = NOW if minutes is None else after_end + timedelta(minutes=minutes)
    qualifying = [(ts, u) for ts, u in events if u is not None and first_moment <= ts <= until]
    if as_day:
        qualifying = [(datetime.combine(ts.date(), datetime.min.time()), u) for ts, u in qualifying]

    def matches(q: datetime, e: datetime) -> bool:
        if as_day:
            later = q.date() >= e.date()
            return later and (window is None or q.date() <= e.date() + timedelta(days=window[0]))
        return q >= e and (minutes is None or q <= e + timedelta(minutes=minutes))

    exposed, qualified = defaultdict(int), defaultdict(int)
    for u, groups in groups_of.items():
        if len(groups) > 1:
            continue
        (g,) = groups
        exposed[g] += 1
        starts = times_of[u] if any_exposure else [min(times_of[u])]
        if any(matches(q, e) for q, qu in qualifying if qu == u for e in starts):
            qualified[g] += 1
    crossovers = sum(1 for g in groups_of.values() if len(g) > 1)
    return (
        dict(exposed),
        dict(qualified),
        len(rows),
        sum(1 for r in rows if r[1] is None),
        crossovers,
    )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(exposure_rows, event_rows, windows, st.booleans(), st.booleans())
# The edges, always tried: an event exactly at the window's end, and exactly at exposure.
@example(
    [(datetime(2024, 1, 1), "u0", "a")],
    [(datetime(2024, 1, 1, 1), "u0")],
    (1, "hours"),
    False,
    False,
)
@example(
    [(datetime(2024, 1, 1, 5), "u0", "a"), (datetime(2024, 1, 1, 9), "u0", "a")],
    [(datetime(2024, 1, 1, 9, 30), "u0")],
    (30, "minutes"),
    True,
    False,
)
@example(
    [(datetime(2024, 1, 2, 23), "u0", "b")],
    [(datetime(2024, 1, 3, 0), "u0")],
    (1, "days"),
    False,
    True,
)
def test_filter_matches_the_reference(
    warehouse, exposures, events, window, any_exposure, as_day
) -> None:
    if as_day and window is not None and window[1] != "days":
        window = (window[0] % 3 + 1, "days")
    load(
        warehouse,
        "exposures",
        "ts TIMESTAMP, uid VARCHAR, experiment VARCHAR, grp VARCHAR",
        [(ts, u, "exp", g) for ts, u, g in exposures],
    )
    load(warehouse, "events", "ts TIMESTAMP, uid VARCHAR", events)
    body = {
        "assignmentSource": "a",
        "experimentID": "exp",
        "start": str(START),
        "end": str(END),
        "matchAgainst": "anyExposure" if any_exposure else "firstExposure",
    }
    if window is not None:
        body["window"] = {"amount": window[0], "unit": window[1]}
    data = run_filter_exposures(
        warehouse,
        DAY_EVENT if as_day else EVENT,
        ASSIGNMENTS,
        FilterExposuresRequest.parse(body),
        now=NOW,
    )
    exposed, qualified, rows, nulls, crossovers = reference_filter(
        exposures, events, window, any_exposure, as_day
    )
    assert {g["groupID"]: g["exposedUnits"] for g in data["groups"]} == exposed
    assert {g["groupID"]: g["qualifiedUnits"] for g in data["groups"]} == {
        g: qualified.get(g, 0) for g in exposed
    }
    assert (data["totals"]["exposureRows"], data["totals"]["nullUnitIDRows"]) == (rows, nulls)
    assert data["totals"]["crossoverUnits"] == crossovers


def reference_power(events, metrics, weeks, end):
    after_end = datetime.combine(end + timedelta(days=1), datetime.min.time())
    result = []
    for k in range(1, weeks + 1):
        start = datetime.combine(end - timedelta(days=7 * k - 1), datetime.min.time())
        firsts: dict[str, datetime] = {}
        for ts, u in events:
            if u is not None and start <= ts < after_end:
                firsts[u] = min(ts, firsts.get(u, ts))
        values = [
            sum(v for ts, mu, v in metrics if mu == u and e <= ts < after_end)
            for u, e in firsts.items()
        ]
        result.append((len(values), sum(values) / len(values) if values else None))
    return result


long_moments = st.integers(0, 30 * 24).map(lambda h: BASE + timedelta(hours=h))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.tuples(long_moments, units), max_size=30),
    st.lists(st.tuples(long_moments, units, st.integers(0, 9)), max_size=30),
    st.integers(1, 4),
)
def test_power_matches_the_reference(warehouse, events, metrics, weeks) -> None:
    end = date(2024, 1, 28)
    load(warehouse, "events", "ts TIMESTAMP, uid VARCHAR", events)
    load(warehouse, "metrics", "ts TIMESTAMP, uid VARCHAR, amount INTEGER", metrics)
    request = PowerRequest.parse(
        {
            "metricSource": "m",
            "metric": {"type": "sum", "valueColumn": "amount"},
            "weeks": weeks,
            "end": str(end),
        }
    )
    data = run_power(warehouse, EVENT, METRIC, request, now=NOW)
    expected = reference_power(events, metrics, weeks, end)
    got = [(d["units"], d["mean"]) for d in data["durations"]]
    assert [u for u, _ in got] == [u for u, _ in expected]
    for (_, mean), (_, want) in zip(got, expected, strict=True):
        assert mean == pytest.approx(want) if want is not None else mean is None
