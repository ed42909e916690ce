"""The demo data set: each experiment shows what docs/demo.md says it shows, checked with SQL
over the loaded tables against thresholds derived from the generator's own parameters; the
data is deterministic and never later than now."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from qualevents.config import Settings
from qualevents.models import IdTypeMapping, QualifyingEvent
from qualevents.runtime import prepare_warehouse
from qualevents.sql.macros import DateRange
from qualevents.sql.parse import parse_query
from qualevents.validation import Validator
from qualevents.warehouse import open_warehouse
from qualevents.warehouse.demo import (
    ASSIGNMENT_SOURCE_BODY,
    CROSSOVER_PER_MILLE,
    DEFAULT_EVENTS,
    DEFAULT_EXPOSURES,
    EVENT_NAMES,
    EXPERIMENTS,
    METRIC_SOURCE_BODY,
    QUALIFYING_EVENT_BODY,
    QUALIFYING_EVENT_NAME,
    DemoExperiment,
    demo_assignment_source,
    load_demo,
    users_for,
)
from qualevents.warehouse.duckdb import DuckDBWarehouse
from qualevents.warehouse.scan import scan_experiments

EVENTS_TABLE = '"shoppy-sales".logging.events'
EXPOSURES_TABLE = '"shoppy-sales".experiment_data.exposures'
NOW = datetime(2024, 6, 30, 15, 30, 0)
EVENTS = 120_000
EXPOSURES = 150_000
# Pearson chi-square with one degree of freedom at p = 0.001: above it, a test alerts.
CHI2_ALERT_1DF = 10.828

BY_NAME = {experiment.name: experiment for experiment in EXPERIMENTS}
REAL_EFFECT = BY_NAME["one_click_checkout"]
MISMATCHED = BY_NAME["recommendations_v2"]
BIASED = BY_NAME["free_shipping_banner"]
SLIGHTLY_OFF = BY_NAME["search_autocomplete"]
# ... and at p = 0.01: between the two, a test warns.
CHI2_WARNING_1DF = 6.635


@pytest.fixture(scope="module")
def demo() -> Iterator[DuckDBWarehouse]:
    warehouse = DuckDBWarehouse(row_cap=100_000)
    load_demo(warehouse, events=EVENTS, exposures=EXPOSURES, now=NOW)
    yield warehouse
    warehouse.close()


def first_exposures(experiment: str) -> str:
    """One row per non-crossover unit of ``experiment``: its group and first exposure."""
    return f"""
        SELECT user_id, MIN(group_id) AS group_id, MIN(ts) AS first_ts
        FROM {EXPOSURES_TABLE}
        WHERE experiment_name = '{experiment}' AND user_id IS NOT NULL
        GROUP BY user_id
        HAVING COUNT(DISTINCT group_id) = 1
    """


def chi_square(table: list[list[int]]) -> float:
    """Pearson's statistic of a contingency table (no continuity correction)."""
    total = sum(map(sum, table))
    rows = [sum(row) for row in table]
    columns = [sum(column) for column in zip(*table, strict=True)]
    return sum(
        (table[i][j] - rows[i] * columns[j] / total) ** 2 / (rows[i] * columns[j] / total)
        for i in range(len(rows))
        for j in range(len(columns))
    )


def goodness_of_fit(observed: list[int], shares: list[float]) -> float:
    """Pearson's statistic of ``observed`` counts against expected ``shares``."""
    total = sum(observed)
    return sum(
        (o - total * share) ** 2 / (total * share)
        for o, share in zip(observed, shares, strict=True)
    )


def group_ids(experiment: DemoExperiment) -> tuple[str, str]:
    return experiment.groups[0][0], experiment.groups[1][0]


# -- shape ----------------------------------------------------------------------------


def test_exposures_columns_and_experiments(demo: DuckDBWarehouse) -> None:
    columns = demo.describe(f"SELECT * FROM {EXPOSURES_TABLE}")
    assert [(c.name, c.raw_type) for c in columns] == [
        ("ts", "TIMESTAMP"),
        ("user_id", "VARCHAR"),
        ("experiment_name", "VARCHAR"),
        ("group_id", "VARCHAR"),
        ("group_name", "VARCHAR"),
    ]
    rows = demo.query(
        f"SELECT experiment_name, group_id, group_name, COUNT(*) AS n FROM {EXPOSURES_TABLE} "
        "GROUP BY ALL ORDER BY ALL"
    )
    expected = sorted((e.name, *group) for e in EXPERIMENTS for group in e.groups)
    assert [(r["experiment_name"], r["group_id"], r["group_name"]) for r in rows] == expected
    assert sum(r["n"] for r in rows) == EXPOSURES


def test_every_demo_user_is_exposed_to_every_experiment(demo: DuckDBWarehouse) -> None:
    rows = demo.query(
        f"SELECT experiment_name, COUNT(DISTINCT user_id) AS units FROM {EXPOSURES_TABLE} "
        "GROUP BY ALL"
    )
    assert {r["experiment_name"]: r["units"] for r in rows} == {
        e.name: users_for(EVENTS) for e in EXPERIMENTS
    }


def test_exposures_happen_within_each_experiment(demo: DuckDBWarehouse) -> None:
    rows = demo.query(
        f"SELECT experiment_name, MIN(ts) AS lo, MAX(ts) AS hi FROM {EXPOSURES_TABLE} GROUP BY ALL"
    )
    first_day = NOW.date() - timedelta(days=29)
    for row in rows:
        start = first_day + timedelta(days=BY_NAME[row["experiment_name"]].start_day)
        assert row["lo"].date() == start
        assert row["hi"] <= NOW


def test_a_few_crossovers_and_null_unit_ids(demo: DuckDBWarehouse) -> None:
    (row,) = demo.query(
        f"""SELECT COUNT(*) AS units, COUNT(*) FILTER (WHERE groups > 1) AS crossovers
        FROM (SELECT experiment_name, user_id, COUNT(DISTINCT group_id) AS groups
              FROM {EXPOSURES_TABLE} WHERE user_id IS NOT NULL GROUP BY ALL)"""
    )
    # Crossovers need a second exposure row (an odd repeat); 150k rows over 60k pairs give
    # half the pairs one: about half the designed share shows.
    share = row["crossovers"] / row["units"]
    assert CROSSOVER_PER_MILLE / 1000 * 0.25 < share < CROSSOVER_PER_MILLE / 1000 * 1.5
    (nulls,) = demo.query(f"SELECT COUNT(*) AS n FROM {EXPOSURES_TABLE} WHERE user_id IS NULL")
    assert 0 < nulls["n"] < EXPOSURES / 100


# -- what each experiment shows -------------------------------------------------------


def test_one_click_checkout_raises_purchases_after_exposure(demo: DuckDBWarehouse) -> None:
    assert REAL_EFFECT.effect is not None
    rows = demo.query(
        f"""
        WITH x AS ({first_exposures(REAL_EFFECT.name)})
        SELECT x.group_id, COUNT(DISTINCT x.user_id) AS units,
               COUNT(ev.user_id) FILTER (WHERE ev.ts >= x.first_ts) AS after,
               COUNT(ev.user_id) FILTER (WHERE ev.ts < x.first_ts) AS before
        FROM x LEFT JOIN {EVENTS_TABLE} ev
          ON ev.user_id = x.user_id AND ev.event_name = 'purchase'
        GROUP BY x.group_id
        """
    )
    by_group = {r["group_id"]: r for r in rows}
    control, test = (by_group[g] for g in group_ids(REAL_EFFECT))

    def per_unit(row: dict, key: str) -> float:
        return row[key] / row["units"]

    # Every event name is equally likely; the effect turns `percent` % of the searches
    # into purchases, so after exposure treatment purchases by 1 + percent / 100.
    lift = REAL_EFFECT.effect.percent / 100
    assert REAL_EFFECT.effect.source in EVENT_NAMES
    after = per_unit(test, "after") / per_unit(control, "after")
    assert 1 + lift / 2 < after < 1 + lift * 1.5
    before = per_unit(test, "before") / per_unit(control, "before")
    assert 1 - lift / 2 < before < 1 + lift / 2


def _units_per_group(demo: DuckDBWarehouse, experiment: DemoExperiment) -> list[int]:
    rows = demo.query(
        f"SELECT group_id, COUNT(*) AS units FROM ({first_exposures(experiment.name)}) "
        "GROUP BY group_id"
    )
    counts = {r["group_id"]: r["units"] for r in rows}
    return [counts[g] for g in group_ids(experiment)]


def test_recommendations_v2_has_a_sample_ratio_mismatch(demo: DuckDBWarehouse) -> None:
    control, test = _units_per_group(demo, MISMATCHED)
    total = control + test
    # Against the 50/50 split the experiment claims: far above the alert threshold.
    assert goodness_of_fit([control, test], [0.5, 0.5]) > CHI2_ALERT_1DF
    assert abs(control / total - MISMATCHED.control_per_mille / 1000) < 0.02


def test_search_autocomplete_splits_units_exactly_by_number(demo: DuckDBWarehouse) -> None:
    assert SLIGHTLY_OFF.by_unit_number
    rows = demo.query(
        f"""SELECT first_group, COUNT(*) AS units FROM (
                SELECT user_id, arg_min(group_id, ts) AS first_group FROM {EXPOSURES_TABLE}
                WHERE experiment_name = '{SLIGHTLY_OFF.name}' AND user_id IS NOT NULL
                GROUP BY user_id)
            GROUP BY first_group"""
    )
    counts = {r["first_group"]: r["units"] for r in rows}
    users = users_for(EVENTS)
    assert users % 1000 == 0
    control = users // 1000 * SLIGHTLY_OFF.control_per_mille
    assert [counts[g] for g in group_ids(SLIGHTLY_OFF)] == [control, users - control]


def test_at_the_default_size_search_autocomplete_is_a_warning() -> None:
    # 50,000 users split 50.7/49.3: chi-square 50,000 x (2 x 0.007)^2 = 9.8 before the
    # crossovers (a few hundred units, by hash) are left out.
    warehouse = DuckDBWarehouse()
    load_demo(warehouse, now=NOW)
    control, test = _units_per_group(warehouse, SLIGHTLY_OFF)
    warehouse.close()
    assert CHI2_WARNING_1DF < goodness_of_fit([control, test], [0.5, 0.5]) < CHI2_ALERT_1DF


@pytest.mark.parametrize("experiment", [REAL_EFFECT, BIASED], ids=lambda e: e.name)
def test_the_other_experiments_split_as_designed(
    demo: DuckDBWarehouse, experiment: DemoExperiment
) -> None:
    assert experiment.control_per_mille == 500
    control, test = _units_per_group(demo, experiment)
    assert goodness_of_fit([control, test], [0.5, 0.5]) < CHI2_ALERT_1DF


def _qualification(demo: DuckDBWarehouse, experiment: DemoExperiment) -> list[list[int]]:
    """groups x {qualified, not}: units with a qualifying event at or after exposure."""
    rows = demo.query(
        f"""
        WITH x AS ({first_exposures(experiment.name)})
        SELECT x.group_id, COUNT(*) AS units,
               COUNT(*) FILTER (WHERE EXISTS (
                   SELECT 1 FROM {EVENTS_TABLE} ev
                   WHERE ev.user_id = x.user_id AND ev.event_name = '{QUALIFYING_EVENT_NAME}'
                     AND ev.ts >= x.first_ts)) AS qualified
        FROM x GROUP BY x.group_id
        """
    )
    by_group = {r["group_id"]: r for r in rows}
    return [
        [by_group[g]["qualified"], by_group[g]["units"] - by_group[g]["qualified"]]
        for g in group_ids(experiment)
    ]


def test_free_shipping_banner_changes_who_qualifies(demo: DuckDBWarehouse) -> None:
    table = _qualification(demo, BIASED)
    assert chi_square(table) > CHI2_ALERT_1DF
    (control_q, control_n), (test_q, test_n) = table
    assert test_q / (test_q + test_n) > control_q / (control_q + control_n)


@pytest.mark.parametrize(
    "experiment", [REAL_EFFECT, MISMATCHED, SLIGHTLY_OFF], ids=lambda e: e.name
)
def test_the_other_experiments_do_not_change_who_qualifies(
    demo: DuckDBWarehouse, experiment: DemoExperiment
) -> None:
    assert experiment.effect is None or experiment.effect.target != QUALIFYING_EVENT_NAME
    assert chi_square(_qualification(demo, experiment)) < CHI2_ALERT_1DF


# -- determinism and time -------------------------------------------------------------

FINGERPRINTS = (
    f"SELECT COUNT(*) AS n, SUM(hash(ts, user_id, experiment_name, group_id, group_name)) "
    f"AS h FROM {EXPOSURES_TABLE}",
    f"SELECT COUNT(*) AS n, SUM(hash(ts, user_id, device_id, event_name, country, platform, "
    f"price_usd)) AS h FROM {EVENTS_TABLE}",
)


def _fingerprints(**options: object) -> list[list[dict]]:
    warehouse = DuckDBWarehouse()
    try:
        load_demo(warehouse, events=6_000, exposures=9_000, **options)  # type: ignore[arg-type]
        return [warehouse.query(sql) for sql in FINGERPRINTS]
    finally:
        warehouse.close()


def test_the_same_arguments_give_the_same_rows() -> None:
    first = _fingerprints(now=NOW)
    assert _fingerprints(now=NOW) == first
    assert _fingerprints(now=NOW, seed=7) != first
    assert _fingerprints(now=NOW + timedelta(hours=1)) != first


def test_loading_twice_replaces_the_tables(demo: DuckDBWarehouse) -> None:
    warehouse = DuckDBWarehouse()
    load_demo(warehouse, events=6_000, exposures=9_000, now=NOW)
    load_demo(warehouse, events=6_000, exposures=9_000, now=NOW)
    assert warehouse.query(f"SELECT COUNT(*) AS n FROM {EXPOSURES_TABLE}") == [{"n": 9_000}]
    assert warehouse.query(f"SELECT COUNT(*) AS n FROM {EVENTS_TABLE}") == [{"n": 6_000}]


LATEST = f"SELECT MAX(ts) AS hi FROM {EVENTS_TABLE} UNION ALL SELECT MAX(ts) FROM {EXPOSURES_TABLE}"


def test_the_last_day_stops_at_now(demo: DuckDBWarehouse) -> None:
    for row in demo.query(LATEST):
        assert NOW - timedelta(hours=1) < row["hi"] <= NOW


@pytest.mark.parametrize("today", [None, "today"])
def test_never_later_than_the_current_time(today: str | None) -> None:
    # The data of the current day ends now, not at midnight (the issue-10 review's bug).
    warehouse = DuckDBWarehouse()
    current_day = datetime.now(UTC).date() if today else None
    load_demo(warehouse, events=60_000, exposures=60_000, today=current_day)
    after = datetime.now(UTC).replace(tzinfo=None)
    for row in warehouse.query(LATEST):
        assert row["hi"] <= after
    warehouse.close()


def test_a_past_today_ends_at_its_midnight() -> None:
    warehouse = DuckDBWarehouse()
    load_demo(warehouse, events=60_000, exposures=60_000, today=date(2024, 6, 30))
    for row in warehouse.query(LATEST):
        assert datetime(2024, 6, 30, 23) < row["hi"] < datetime(2024, 7, 1)
    warehouse.close()


def test_serve_demo_loads_both_tables(tmp_path: Path) -> None:
    # What `qualevents serve --demo` runs once per deployment, before its workers start.
    url = f"duckdb:///{tmp_path}/wh.duckdb"
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/q.db", warehouse_url=url, demo=True, _env_file=None
    )
    prepare_warehouse(settings)
    warehouse = open_warehouse(url)
    assert warehouse is not None
    for sql, rows in (
        ("SELECT COUNT(*) AS n FROM shoppy-sales.logging.events", DEFAULT_EVENTS),
        ("SELECT COUNT(*) AS n FROM `shoppy-sales.experiment_data.exposures`", DEFAULT_EXPOSURES),
    ):
        text = parse_query(sql, "duckdb", window=DateRange(NOW.date(), NOW.date()))
        assert warehouse.query(text.sql(dialect="duckdb")) == [{"n": rows}]
    warehouse.close()


@pytest.mark.parametrize("body", [QUALIFYING_EVENT_BODY, METRIC_SOURCE_BODY], ids=["qe", "metric"])
def test_the_demo_definitions_validate_against_the_demo_data(
    demo: DuckDBWarehouse, body: dict
) -> None:
    definition = QualifyingEvent(
        name=body["name"],
        description=body["description"],
        sql=body["sql"],
        timestamp_column=body["timestampColumn"],
        id_type_mapping=[
            IdTypeMapping(statsig_unit_id=m["statsigUnitID"], column=m["column"])
            for m in body["idTypeMapping"]
        ],
    )
    report = Validator(demo).validate(definition, today=NOW.date())
    assert report.valid, report.errors
    assert report.mode == "warehouse"


def test_the_demo_assignment_source_finds_every_experiment(demo: DuckDBWarehouse) -> None:
    # The fields CONTRACT.md requires on create are all there.
    required = {"name", "sql", "timestampColumn", "experimentIDColumn", "groupIDColumn"}
    assert required | {"idTypeMapping"} <= set(ASSIGNMENT_SOURCE_BODY)
    result = scan_experiments(demo, demo_assignment_source())
    found = {e.experiment_id: e for e in result.experiments}
    assert set(found) == {e.name for e in EXPERIMENTS}
    for experiment in EXPERIMENTS:
        groups = found[experiment.name].groups
        assert [(g.group_id, g.group_name) for g in groups] == sorted(experiment.groups)
        assert found[experiment.name].units == users_for(EVENTS)
