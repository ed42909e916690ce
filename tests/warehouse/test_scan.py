"""The assignment-source scan run for real: on the DuckDB demo exposures and on a real
PostgreSQL warehouse reached as a least-privileged role, each compared with hand-written
SQL (COUNT(DISTINCT) per group and per experiment: a different plan from the scan's)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from qualevents.errors import SQLInvalid
from qualevents.models import AssignmentSource, IdTypeMapping
from qualevents.warehouse.base import Warehouse
from qualevents.warehouse.demo import EXPERIMENTS, load_demo
from qualevents.warehouse.duckdb import DuckDBWarehouse
from qualevents.warehouse.postgres import PostgresWarehouse
from qualevents.warehouse.scan import scan_experiments

NOW = datetime(2024, 6, 30, 15, 30, 0)
DEMO_TABLE = '"shoppy-sales".experiment_data.exposures'
USER = IdTypeMapping(statsig_unit_id="userID", column="user_id")
STABLE = IdTypeMapping(statsig_unit_id="stableID", column="stable_id")
# A second unit id with fewer distinct values than users.
WITH_STABLE_ID = (
    "SELECT *, 's_' || CAST(CAST(substr(user_id, 3) AS INTEGER) % 97 AS VARCHAR) AS stable_id "
    "FROM {table}"
)


def source(sql: str, *mappings: IdTypeMapping, named: bool = True) -> AssignmentSource:
    return AssignmentSource(
        name="exposures",
        sql=sql,
        timestamp_column="ts",
        experiment_id_column="experiment_name",
        group_id_column="group_id",
        group_name_column="group_name" if named else None,
        id_type_mapping=mappings or (USER,),
    )


def hand_written(
    warehouse: Warehouse,
    table: str,
    where: str = "1 = 1",
    unit: str = "user_id",
    others: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The scan's answer, from plain aggregates over ``table`` (a table or subquery)."""
    rows = (
        f"(SELECT * FROM {table} AS t WHERE experiment_name IS NOT NULL "
        f"AND group_id IS NOT NULL AND {where}) AS r"
    )
    groups = warehouse.query(
        f"SELECT experiment_name, group_id, MAX(group_name) AS group_name, "
        f"COUNT(DISTINCT {unit}) AS units FROM {rows} "
        "GROUP BY experiment_name, group_id ORDER BY experiment_name, group_id"
    )
    extra = "".join(
        f', COUNT(DISTINCT {column}) AS "{name}"' for name, column in (others or {}).items()
    )
    experiments = warehouse.query(
        f"SELECT experiment_name, COUNT(DISTINCT {unit}) AS units, MIN(ts) AS lo, MAX(ts) AS hi"
        f"{extra} FROM {rows} GROUP BY experiment_name"
    )
    crossovers = warehouse.query(
        f"SELECT experiment_name, COUNT(*) AS n FROM (SELECT experiment_name, {unit} FROM {rows} "
        f"WHERE {unit} IS NOT NULL GROUP BY experiment_name, {unit} "
        "HAVING COUNT(DISTINCT group_id) > 1) AS c GROUP BY experiment_name"
    )
    crossed = {r["experiment_name"]: r["n"] for r in crossovers}
    by_name = {r["experiment_name"]: r for r in experiments}
    expected = []
    for name in sorted(by_name):
        e = by_name[name]
        expected.append(
            {
                "experimentID": name,
                "groups": [
                    {"groupID": g["group_id"], "groupName": g["group_name"], "units": g["units"]}
                    for g in groups
                    if g["experiment_name"] == name
                ],
                "units": e["units"],
                "crossoverUnits": crossed.get(name, 0),
                "firstExposure": e["lo"].isoformat(),
                "lastExposure": e["hi"].isoformat(),
                "unitTypes": {"userID": e["units"], **{k: e[k] for k in others or {}}},
            }
        )
    return expected


def scanned(warehouse: Warehouse, assignment: AssignmentSource, **options: Any) -> list[dict]:
    result = scan_experiments(warehouse, assignment, **options)
    assert not result.truncated
    return [experiment.to_dict() for experiment in result.experiments]


# -- DuckDB, the demo exposures -------------------------------------------------------


@pytest.fixture(scope="module")
def demo() -> Iterator[DuckDBWarehouse]:
    warehouse = DuckDBWarehouse()
    load_demo(warehouse, events=30_000, exposures=40_000, now=NOW)
    yield warehouse
    warehouse.close()


DEMO = source("SELECT * FROM `shoppy-sales.experiment_data.exposures`")


def test_the_scan_of_all_exposures_matches_hand_written_sql(demo: DuckDBWarehouse) -> None:
    found = scanned(demo, DEMO)
    assert found == hand_written(demo, DEMO_TABLE)
    assert [e["experimentID"] for e in found] == sorted(e.name for e in EXPERIMENTS)
    assert all(e["crossoverUnits"] > 0 for e in found)  # the demo has a few


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (date(2024, 6, 20), date(2024, 6, 24)),
        (date(2024, 6, 28), None),  # to today
        (None, date(2024, 6, 12)),  # from the first exposure
    ],
)
def test_a_date_range_reads_those_utc_days(
    demo: DuckDBWarehouse, start: date | None, end: date | None
) -> None:
    low = f"ts >= TIMESTAMP '{start} 00:00:00'" if start else "1 = 1"
    high = f"ts < TIMESTAMP '{end + timedelta(days=1)} 00:00:00'" if end else "1 = 1"
    expected = hand_written(demo, DEMO_TABLE, f"{low} AND {high}")
    assert scanned(demo, DEMO, start=start, end=end) == expected
    assert expected  # the range holds exposures


def test_the_date_macros_get_the_range_read(demo: DuckDBWarehouse) -> None:
    only_the_last_day = source(
        "SELECT * FROM `shoppy-sales.experiment_data.exposures` "
        "WHERE CAST(ts AS DATE) = {statsig_end_date}"
    )
    expected = hand_written(demo, DEMO_TABLE, "CAST(ts AS DATE) = DATE '2024-06-22'")
    assert scanned(demo, only_the_last_day, start=date(2024, 6, 20), end=date(2024, 6, 22)) == (
        expected
    )


def test_unit_types_and_counting_another_unit_type(demo: DuckDBWarehouse) -> None:
    table = f"({WITH_STABLE_ID.format(table=DEMO_TABLE)})"
    two = source(
        WITH_STABLE_ID.format(table="`shoppy-sales.experiment_data.exposures`"), USER, STABLE
    )
    by_user = hand_written(demo, table, others={"stableID": "stable_id"})
    assert scanned(demo, two) == by_user
    assert all(e["unitTypes"]["stableID"] < e["unitTypes"]["userID"] for e in by_user)

    by_stable = scanned(demo, two, unit_type="stableID")
    expected = hand_written(demo, table, unit="stable_id", others={"stableID": "stable_id"})
    for experiment in expected:  # unitTypes keeps counting user ids beside
        users = next(e for e in by_user if e["experimentID"] == experiment["experimentID"])
        experiment["unitTypes"] = {"userID": users["units"], "stableID": experiment["units"]}
    assert by_stable == expected


FIXTURE_ROWS = """
INSERT INTO fixture.exposures VALUES
  (TIMESTAMP '2024-03-01 00:00:00', 'u1', 'exp_a', 'control', 'Control'),
  (TIMESTAMP '2024-03-01 10:00:00', 'u1', 'exp_a', 'control', 'Control'),
  (TIMESTAMP '2024-03-02 09:00:00', 'u2', 'exp_a', 'test', 'Test'),
  (TIMESTAMP '2024-03-02 12:00:00', 'u3', 'exp_a', 'test', 'Test'),
  (TIMESTAMP '2024-03-03 08:00:00', 'u3', 'exp_a', 'control', 'Control'),
  (TIMESTAMP '2024-03-03 23:59:59', NULL, 'exp_a', 'test', 'Test'),
  (TIMESTAMP '2024-03-04 00:00:00', 'u4', 'exp_a', 'test', 'Test'),
  (TIMESTAMP '2024-02-29 23:59:59', 'u5', 'exp_a', 'test', 'Test'),
  (TIMESTAMP '2024-03-02 00:00:00', 'u1', NULL, 'control', 'Control'),
  (TIMESTAMP '2024-03-02 00:00:00', 'u6', 'exp_a', NULL, NULL),
  (TIMESTAMP '2024-03-02 00:00:00', NULL, 'exp_b', 'only', 'Only')
"""


@pytest.fixture(scope="module")
def fixture_warehouse() -> Iterator[DuckDBWarehouse]:
    warehouse = DuckDBWarehouse()
    with warehouse.writable() as connection:
        connection.execute("CREATE SCHEMA fixture")
        connection.execute(
            "CREATE TABLE fixture.exposures (ts TIMESTAMP, user_id VARCHAR, "
            "experiment_name VARCHAR, group_id VARCHAR, group_name VARCHAR)"
        )
        connection.execute(FIXTURE_ROWS)
    yield warehouse
    warehouse.close()


def test_edges_nulls_and_crossovers(fixture_warehouse: DuckDBWarehouse) -> None:
    found = scanned(
        fixture_warehouse,
        source("SELECT * FROM fixture.exposures"),
        start=date(2024, 3, 1),
        end=date(2024, 3, 3),
    )
    assert found == [
        {
            # u3 is a crossover (both groups) and counts in both; the NULL unit counts in
            # none but its exposure is the last; u4 (the next midnight) and u5 (the
            # second before the start) are outside; NULL experiment or group: no row.
            "experimentID": "exp_a",
            "groups": [
                {"groupID": "control", "groupName": "Control", "units": 2},
                {"groupID": "test", "groupName": "Test", "units": 2},
            ],
            "units": 3,
            "crossoverUnits": 1,
            "firstExposure": "2024-03-01T00:00:00",
            "lastExposure": "2024-03-03T23:59:59",
            "unitTypes": {"userID": 3},
        },
        {
            # Only a NULL unit: the experiment is found, with no units.
            "experimentID": "exp_b",
            "groups": [{"groupID": "only", "groupName": "Only", "units": 0}],
            "units": 0,
            "crossoverUnits": 0,
            "firstExposure": "2024-03-02T00:00:00",
            "lastExposure": "2024-03-02T00:00:00",
            "unitTypes": {"userID": 0},
        },
    ]


def test_the_row_cap_cuts_whole_experiments(demo: DuckDBWarehouse) -> None:
    capped = DuckDBWarehouse(row_cap=3)
    load_demo(capped, events=3_000, exposures=3_000, now=NOW)
    result = scan_experiments(capped, DEMO)
    capped.close()
    # Three rows: the first experiment's two groups and one of the second's.
    assert result.truncated
    assert [e.experiment_id for e in result.experiments] == [min(e.name for e in EXPERIMENTS)]
    assert len(result.experiments[0].groups) == 2


KEYWORD_COLUMNS = (
    'SELECT ts AS "order", user_id AS "user id", experiment_name AS "group", '
    'group_id AS "select", group_name AS "from" FROM {table}'
)


def keyword_source(table: str) -> AssignmentSource:
    return AssignmentSource(
        name="exposures",
        sql=KEYWORD_COLUMNS.format(table=table),
        timestamp_column="order",
        experiment_id_column="group",
        group_id_column="select",
        group_name_column="from",
        id_type_mapping=(IdTypeMapping(statsig_unit_id="userID", column="user id"),),
    )


def test_columns_named_like_keywords(demo: DuckDBWarehouse) -> None:
    odd = keyword_source("`shoppy-sales.experiment_data.exposures`")
    days = {"start": date(2024, 6, 25), "end": date(2024, 6, 26)}
    assert scanned(demo, odd, **days) == scanned(demo, DEMO, **days)


def test_a_query_the_warehouse_rejects_is_a_400(demo: DuckDBWarehouse) -> None:
    missing = source("SELECT * FROM `shoppy-sales.experiment_data.no_such_table`")
    with pytest.raises(SQLInvalid) as caught:
        scan_experiments(demo, missing)
    assert caught.value.status == 400
    wrong_column = AssignmentSource(
        name="exposures",
        sql="SELECT * FROM `shoppy-sales.experiment_data.exposures`",
        timestamp_column="ts",
        experiment_id_column="experiment",
        group_id_column="group_id",
        id_type_mapping=(USER,),
    )
    with pytest.raises(SQLInvalid):
        scan_experiments(demo, wrong_column)


@pytest.mark.parametrize(
    ("expression", "ts_type"),
    [
        ("CAST(ts AS VARCHAR)", None),  # a string: cast before comparing
        ("CAST(ts AS DATE)", "date"),  # a date: compared as one
        ("ts", "timestamp"),  # a timestamp: compared as it is
    ],
)
def test_a_range_over_any_timestamp_type(
    demo: DuckDBWarehouse, expression: str, ts_type: str | None
) -> None:
    typed = source(
        f"SELECT {expression} AS ts, user_id, experiment_name, group_id, group_name "
        "FROM `shoppy-sales.experiment_data.exposures`"
    )
    days = {"start": date(2024, 6, 20), "end": date(2024, 6, 24)}

    def counts(found: list[dict]) -> list[tuple]:
        return [(e["experimentID"], e["units"], e["crossoverUnits"], e["groups"]) for e in found]

    expected = counts(scanned(demo, DEMO, **days))
    assert counts(scanned(demo, typed, ts_type=ts_type, **days)) == expected


# -- PostgreSQL, as a role that can read the exposures and nothing else --------------


@pytest.fixture(scope="module")
def postgres_exposures(
    postgres_database_url: str,
) -> Iterator[tuple[PostgresWarehouse, DuckDBWarehouse]]:
    """A PostgreSQL warehouse holding a copy of a small demo exposures table, reached as a
    role with USAGE on its schema and SELECT on that table only; and a DuckDB warehouse
    holding the same rows."""
    admin = sa.engine.make_url(postgres_database_url).set(drivername="postgresql")
    admin_url = admin.render_as_string(hide_password=False)
    role = f"qualevents_scan_{uuid.uuid4().hex[:8]}"
    small = DuckDBWarehouse(row_cap=100_000)
    load_demo(small, events=6_000, exposures=8_000, now=NOW)
    rows = small.query(
        f"SELECT ts, user_id, experiment_name, group_id, group_name FROM {DEMO_TABLE}"
    )
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA experiment_data")
        conn.execute(
            "CREATE TABLE experiment_data.exposures (ts TIMESTAMP, user_id TEXT, "
            "experiment_name TEXT, group_id TEXT, group_name TEXT)"
        )
        conn.execute("CREATE TABLE experiment_data.salaries (user_id TEXT, salary INTEGER)")
        with (
            conn.cursor() as cursor,
            cursor.copy("COPY experiment_data.exposures FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(tuple(row.values()))
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
        conn.execute(f'GRANT CONNECT ON DATABASE "{admin.database}" TO "{role}"')
        conn.execute(f'GRANT USAGE ON SCHEMA experiment_data TO "{role}"')
        conn.execute(f'GRANT SELECT ON experiment_data.exposures TO "{role}"')
    reader = PostgresWarehouse(admin.set(username=role).render_as_string(hide_password=False))
    yield reader, small
    reader.close()
    small.close()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP OWNED BY "{role}"')
        conn.execute(f'DROP ROLE "{role}"')


PG_TABLE = "experiment_data.exposures"


def test_postgres_scan_matches_hand_written_sql_and_duckdb(
    postgres_exposures: tuple[PostgresWarehouse, DuckDBWarehouse],
) -> None:
    postgres, duckdb_copy = postgres_exposures
    found = scanned(postgres, source(f"SELECT * FROM {PG_TABLE}"))
    assert found == hand_written(postgres, PG_TABLE)
    assert found == scanned(duckdb_copy, DEMO)
    assert len(found) == len(EXPERIMENTS)


def test_postgres_scan_with_a_range_macros_and_two_unit_types(
    postgres_exposures: tuple[PostgresWarehouse, DuckDBWarehouse],
) -> None:
    postgres, duckdb_copy = postgres_exposures
    sql = (
        WITH_STABLE_ID.format(table=PG_TABLE)
        + " WHERE ts >= {statsig_start_date} AND CAST(ts AS DATE) <= {statsig_end_date}"
    )
    days = {"start": date(2024, 6, 15), "end": date(2024, 6, 21)}
    found = scanned(postgres, source(sql, USER, STABLE), **days)
    where = "ts >= TIMESTAMP '2024-06-15 00:00:00' AND ts < TIMESTAMP '2024-06-22 00:00:00'"
    table = f"({WITH_STABLE_ID.format(table=PG_TABLE)})"
    assert found == hand_written(postgres, table, where, others={"stableID": "stable_id"})
    same_in_duckdb = WITH_STABLE_ID.format(table="`shoppy-sales.experiment_data.exposures`")
    assert found == scanned(duckdb_copy, source(same_in_duckdb, USER, STABLE), **days)


def test_postgres_keyword_columns(
    postgres_exposures: tuple[PostgresWarehouse, DuckDBWarehouse],
) -> None:
    postgres, _ = postgres_exposures
    days = {"start": date(2024, 6, 25), "end": date(2024, 6, 26)}
    plain = scanned(postgres, source(f"SELECT * FROM {PG_TABLE}"), **days)
    assert scanned(postgres, keyword_source(PG_TABLE), **days) == plain


def test_postgres_role_reads_nothing_else(
    postgres_exposures: tuple[PostgresWarehouse, DuckDBWarehouse],
) -> None:
    postgres, _ = postgres_exposures
    joined = source(f"SELECT e.* FROM {PG_TABLE} e JOIN experiment_data.salaries s USING (user_id)")
    with pytest.raises(SQLInvalid) as caught:
        scan_experiments(postgres, joined)
    assert caught.value.status == 400
    assert "permission denied" in caught.value.message
