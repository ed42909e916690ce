"""Benchmark of the analyses in DuckDB against the same semantics hand-written as DuckDB SQL,
timed in the same run (so the load of the machine cancels in the ratio).

    .venv/bin/python bench/analysis.py [--scale 1.0] [--runs 3] [--memory-limit 2GB]

At scale 1: 1M exposure rows (800k units, two groups, NULL ids and crossovers among them),
10M qualifying events and 10M metric rows, generated deterministically (hashes, not
random()). Measures, each the median of ``--runs`` (ours and hand-written alternately) after one
warm-up:

- exposure filtering (first exposure, no window; and a 1-day window with anyExposure),
  ``run_filter_exposures`` end to end through the adapter (its schema probes included)
  vs a hand-written DuckDB query giving the same numbers. Target: within 1.5x.
- a 4-week power analysis of a sum metric, without and with CUPED (7 days), ``run_power``
  vs hand-written DuckDB SQL (a unit x window join). Target: within 2x.

Every pair is checked to give the same numbers before it is timed. The warehouse runs
with ``memory_limit`` set, so a query that needs more fails instead of swapping. Prints a
table and writes ``bench/results/analysis.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from qualevents.analysis import (
    AssignmentSource,
    FilterExposuresRequest,
    PowerRequest,
    run_filter_exposures,
    run_power,
)
from qualevents.models import IdTypeMapping, QualifyingEvent
from qualevents.warehouse.duckdb import DuckDBWarehouse

RESULTS = Path(__file__).parent / "results" / "analysis.json"
NOW = datetime(2024, 2, 6, 12, 0)
USERS = [IdTypeMapping(statsig_unit_id="userID", column="uid")]
ASSIGNMENTS = AssignmentSource(
    name="exposures",
    sql="SELECT * FROM bench.exposures",
    timestamp_column="ts",
    experiment_id_column="experiment",
    group_id_column="group_id",
    id_type_mapping=(IdTypeMapping(statsig_unit_id="userID", column="user_id"),),
)
EVENTS = QualifyingEvent(
    name="events", sql="SELECT * FROM bench.events", timestamp_column="ts", id_type_mapping=USERS
)
METRICS = QualifyingEvent(
    name="orders", sql="SELECT * FROM bench.metrics", timestamp_column="ts", id_type_mapping=USERS
)


def generate(connection: duckdb.DuckDBPyConnection, scale: float) -> dict[str, int]:
    exposures, events, metrics = (
        int(1_000_000 * scale),
        int(10_000_000 * scale),
        int(10_000_000 * scale),
    )
    units = max(10, int(800_000 * scale))
    connection.execute("CREATE SCHEMA bench")
    # 14 days of exposures from 2024-01-01; 1 in 1000 rows has a NULL unit; a unit whose
    # number is divisible by 997 is shown the other group once (a crossover).
    connection.execute(f"""
        CREATE TABLE bench.exposures AS
        SELECT TIMESTAMP '2024-01-01' + to_seconds(hash(i, 1) % (14 * 86400)) AS ts,
               CASE WHEN i % 1000 = 7 THEN NULL ELSE 'u' || (i % {units}) END AS user_id,
               'exp1' AS experiment,
               CASE WHEN (hash(i % {units}) + CASE WHEN i >= {units} AND (i % {units}) % 997 = 0
                          THEN 1 ELSE 0 END) % 2 = 0 THEN 'control' ELSE 'test' END AS group_id
        FROM range({exposures}) t(i)""")
    # 36 days of events over 1.25x as many units as exposed.
    connection.execute(f"""
        CREATE TABLE bench.events AS
        SELECT TIMESTAMP '2024-01-01' + to_seconds(hash(i, 2) % (36 * 86400)) AS ts,
               'u' || (hash(i, 3) % {int(units * 1.25)}) AS uid,
               CASE WHEN hash(i, 4) % 3 = 0 THEN 'view' ELSE 'buy' END AS kind
        FROM range({events}) t(i)""")
    connection.execute(f"""
        CREATE TABLE bench.metrics AS
        SELECT TIMESTAMP '2023-12-20' + to_seconds(hash(i, 5) % (48 * 86400)) AS ts,
               'u' || (hash(i, 6) % {int(units * 1.25)}) AS uid,
               CAST(hash(i, 7) % 100 AS DOUBLE) AS amount
        FROM range({metrics}) t(i)""")
    return {"exposures": exposures, "events": events, "metric_rows": metrics, "units": units}


HAND_FILTER = """
WITH rows AS (
  SELECT user_id, group_id, ts FROM bench.exposures
  WHERE experiment = 'exp1' AND ts >= TIMESTAMP '2024-01-01' AND ts < TIMESTAMP '2024-01-15'
), units AS (
  SELECT user_id, MIN(group_id) AS group_id, MIN(ts) AS ts, COUNT(DISTINCT group_id) AS n
  FROM rows WHERE user_id IS NOT NULL AND group_id IS NOT NULL GROUP BY user_id
), exposed AS (SELECT * FROM units WHERE n = 1),
q AS (
  SELECT uid, ts FROM bench.events
  WHERE uid IS NOT NULL AND ts >= TIMESTAMP '2024-01-01' AND ts <= {until}
), matches AS (
  SELECT {key}, MIN(q.ts) AS qts FROM {source}
  JOIN q ON q.uid = x.user_id AND q.ts >= x.ts {window}
  GROUP BY {key}
)
SELECT e.group_id, COUNT(*) AS exposed_units, COUNT(m.qts) AS qualified_units,
       (SELECT COUNT(*) FROM rows) AS exposure_rows,
       (SELECT COUNT(*) FROM rows WHERE user_id IS NULL) AS null_unit_rows,
       (SELECT COUNT(*) FROM units WHERE n > 1) AS crossover_units
FROM exposed e LEFT JOIN matches m ON m.user_id = e.user_id
GROUP BY e.group_id ORDER BY e.group_id
"""


def hand_filter(window: bool) -> str:
    if not window:
        return HAND_FILTER.format(
            until="TIMESTAMP '2024-02-06 12:00:00'", key="x.user_id", source="exposed x", window=""
        )
    return HAND_FILTER.format(
        until="TIMESTAMP '2024-01-16 00:00:00'",
        key="x.user_id",
        source="rows x JOIN exposed e ON e.user_id = x.user_id AND x.group_id IS NOT NULL",
        window="AND q.ts <= x.ts + INTERVAL 1 DAY",
    )


HAND_POWER = """
WITH w AS (
  SELECT * FROM (VALUES (1, TIMESTAMP '2024-01-29'), (2, TIMESTAMP '2024-01-22'),
                        (3, TIMESTAMP '2024-01-15'), (4, TIMESTAMP '2024-01-08')) t(k, s)
), q AS (
  SELECT uid, ts FROM bench.events
  WHERE uid IS NOT NULL AND ts >= TIMESTAMP '2024-01-08' AND ts < TIMESTAMP '2024-02-05'
), pop AS (
  SELECT w.k, q.uid, MIN(q.ts) AS e FROM q JOIN w ON q.ts >= w.s GROUP BY w.k, q.uid
), m AS (
  SELECT uid, ts, amount FROM bench.metrics
  WHERE uid IS NOT NULL AND ts >= TIMESTAMP '{first}' AND ts < TIMESTAMP '2024-02-05'
), per_unit AS (
  SELECT p.k, p.uid,
         COALESCE(SUM(CASE WHEN m.ts >= p.e THEN m.amount END), 0) AS y
         {pre_select}
  FROM pop p LEFT JOIN m ON m.uid = p.uid AND {join}
  GROUP BY p.k, p.uid
)
SELECT k, COUNT(*) AS units, AVG(y) AS mean_y, VAR_SAMP(y) AS var_y {pre_aggregates}
FROM per_unit GROUP BY k ORDER BY k
"""


def hand_power(cuped: bool) -> str:
    if not cuped:
        return HAND_POWER.format(
            first="2024-01-08", pre_select="", join="m.ts >= p.e", pre_aggregates=""
        )
    return HAND_POWER.format(
        first="2024-01-01",
        pre_select=", COALESCE(SUM(CASE WHEN m.ts < p.e THEN m.amount END), 0) AS x",
        join="m.ts >= p.e - INTERVAL 7 DAY",
        pre_aggregates=", VAR_SAMP(x) AS var_x, COVAR_SAMP(y, x) AS cov_xy",
    )


def paired_ms(
    ours: Callable[[], object], hand: Callable[[], object], runs: int
) -> tuple[float, float]:
    """Median ms of ``ours`` and of ``hand``, run alternately (the order swapped each
    round) so that a change in the machine's load hits both alike."""
    ours_ms: list[float] = []
    hand_ms: list[float] = []
    for round_ in range(runs):
        pair = [(ours, ours_ms), (hand, hand_ms)]
        for fn, samples in pair if round_ % 2 else reversed(pair):
            start = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(ours_ms), statistics.median(hand_ms)


def check_filter(ours: dict[str, Any], hand: list[dict[str, Any]]) -> None:
    got = [(g["groupID"], g["exposedUnits"], g["qualifiedUnits"]) for g in ours["groups"]]
    want = [(r["group_id"], r["exposed_units"], r["qualified_units"]) for r in hand]
    assert got == want, (got, want)
    totals = ours["totals"]
    assert totals["exposureRows"] == hand[0]["exposure_rows"]
    assert totals["nullUnitIDRows"] == hand[0]["null_unit_rows"]
    assert totals["crossoverUnits"] == hand[0]["crossover_units"]


def check_power(ours: dict[str, Any], hand: list[dict[str, Any]], cuped: bool) -> None:
    for entry, row in zip(ours["durations"], hand, strict=True):
        assert entry["units"] == row["units"]
        assert abs(entry["mean"] - row["mean_y"]) <= 1e-9 * max(1, abs(row["mean_y"]))
        assert abs(entry["variance"] - row["var_y"]) <= 1e-6 * max(1, row["var_y"])
        if cuped:
            rho = row["cov_xy"] / (row["var_x"] * row["var_y"]) ** 0.5
            assert abs(entry["rho"] - rho) <= 1e-6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1.0: 1M exposures, 10M events")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--memory-limit", default="2GB")
    parser.add_argument("--only", choices=["filter", "power"], help="run one half")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "warehouse.duckdb")
        started = time.perf_counter()
        with duckdb.connect(path) as connection:
            sizes = generate(connection, args.scale)
        generated_s = time.perf_counter() - started
        warehouse = DuckDBWarehouse(path, timeout_s=3600, row_cap=100)
        # The operator's setting (QUALEVENTS_WAREHOUSE_MEMORY_LIMIT), applied before the
        # first connection: the adapter locks its configuration once connected.
        warehouse.configure(memory_limit=args.memory_limit)

        measures: list[tuple[str, float, float, float]] = []
        filters = (
            ("filter: first exposure, no window", {}, False),
            (
                "filter: 1-day window, any exposure",
                {"window": {"amount": 1, "unit": "days"}, "matchAgainst": "anyExposure"},
                True,
            ),
        )
        for label, body, window in filters if args.only != "power" else ():
            request = FilterExposuresRequest.parse(
                {
                    "assignmentSource": "exposures",
                    "experimentID": "exp1",
                    "start": "2024-01-01",
                    "end": "2024-01-14",
                    **body,
                }
            )

            def ours(request: FilterExposuresRequest = request) -> dict[str, Any]:
                return run_filter_exposures(warehouse, EVENTS, ASSIGNMENTS, request, now=NOW)

            def hand(window: bool = window) -> list[dict[str, Any]]:
                return warehouse.query(hand_filter(window))

            check_filter(ours(), hand())  # also the warm-up
            ours_ms, hand_ms = paired_ms(ours, hand, args.runs)
            measures.append((label, ours_ms, hand_ms, 1.5))

        powers = (("power: 4 weeks, sum", False), ("power: 4 weeks, sum, CUPED 7d", True))
        for label, cuped in powers if args.only != "filter" else ():
            body: dict[str, Any] = {
                "metricSource": "orders",
                "metric": {"type": "sum", "valueColumn": "amount"},
                "weeks": 4,
                "end": "2024-02-04",
            }
            if cuped:
                body["cuped"] = {"preDays": 7}
            request_p = PowerRequest.parse(body)

            def ours_p(request: PowerRequest = request_p) -> dict[str, Any]:
                return run_power(warehouse, EVENTS, METRICS, request, now=NOW)

            def hand_p(cuped: bool = cuped) -> list[dict[str, Any]]:
                return warehouse.query(hand_power(cuped))

            check_power(ours_p(), hand_p(), cuped)  # also the warm-up
            ours_ms, hand_ms = paired_ms(ours_p, hand_p, args.runs)
            measures.append((label, ours_ms, hand_ms, 2.0))
        warehouse.close()

    print(f"data: {sizes} (generated in {generated_s:.1f} s); memory_limit {args.memory_limit}")
    print(f"{'measure':40} {'ours ms':>10} {'hand ms':>10} {'ratio':>7}  target")
    results: dict[str, Any] = {
        "sizes": sizes,
        "runs": args.runs,
        "memory_limit": args.memory_limit,
        "duckdb": duckdb.__version__,
        "python": platform.python_version(),
        "measures": [],
    }
    for label, ours_ms, hand_ms, target in measures:
        ratio = ours_ms / hand_ms
        verdict = "ok" if ratio <= target else "MISSED"
        print(
            f"{label:40} {ours_ms:>10.0f} {hand_ms:>10.0f} {ratio:>6.2f}x  <= {target}x {verdict}"
        )
        results["measures"].append(
            {
                "measure": label,
                "ours_ms": round(ours_ms, 1),
                "hand_written_ms": round(hand_ms, 1),
                "ratio": round(ratio, 3),
                "target": target,
            }
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
