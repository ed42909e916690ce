"""Benchmark of the assignment-source scan over the DuckDB demo exposures.

    .venv/bin/python bench/scan.py [--exposures 10000000] [--runs 7]

Prints a table and writes ``bench/results/scan.json``: ``scan_experiments`` (the query built
with sqlglot, run through the adapter, rows shaped into experiments) over all exposures of
``shoppy-sales.experiment_data.exposures`` and over its last 7 days, each beside the same
aggregate hand-written in DuckDB SQL in two ways (the same plan written by hand, and the
COUNT(DISTINCT) form one would write first), timed interleaved in the same run. The ratio is
against the faster hand-written query. Target: within 1.5x.
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
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import sqlglot

from qualevents.models import AssignmentSource, IdTypeMapping
from qualevents.warehouse.demo import BENCH_EXPOSURES, DEFAULT_EVENTS, load_demo
from qualevents.warehouse.duckdb import DuckDBWarehouse
from qualevents.warehouse.scan import scan_experiments

RESULTS = Path(__file__).parent / "results" / "scan.json"
TABLE = '"shoppy-sales".experiment_data.exposures'
SOURCE = AssignmentSource(
    name="exposures",
    sql="SELECT * FROM `shoppy-sales.experiment_data.exposures`",
    timestamp_column="ts",
    experiment_id_column="experiment_name",
    group_id_column="group_id",
    group_name_column="group_name",
    id_type_mapping=(IdTypeMapping(statsig_unit_id="userID", column="user_id"),),
)


def same_plan(where: str) -> str:
    """The scan's plan, written by hand: per (experiment, group, unit) once, then up."""
    return f"""
    WITH ug AS (
        SELECT experiment_name, group_id, user_id, max(group_name) AS group_name,
               min(ts) AS first_ts, max(ts) AS last_ts
        FROM {TABLE}
        WHERE experiment_name IS NOT NULL AND group_id IS NOT NULL {where}
        GROUP BY ALL
    ), g AS (
        SELECT experiment_name, group_id, max(group_name) AS group_name,
               count(user_id) AS units, min(first_ts) AS first_ts, max(last_ts) AS last_ts
        FROM ug GROUP BY ALL
    ), u AS (
        SELECT experiment_name, count(*) AS units, count(*) FILTER (WHERE n > 1) AS crossovers
        FROM (SELECT experiment_name, user_id, count(*) AS n FROM ug
              WHERE user_id IS NOT NULL GROUP BY ALL)
        GROUP BY ALL
    )
    SELECT g.experiment_name, g.group_id, g.group_name, g.units AS group_units,
           u.units, u.crossovers, g.first_ts, g.last_ts
    FROM g LEFT JOIN u USING (experiment_name)
    ORDER BY 1, 2
    """


def count_distinct(where: str) -> str:
    """The form one writes first: COUNT(DISTINCT) per group and per experiment."""
    return f"""
    WITH e AS (
        SELECT * FROM {TABLE}
        WHERE experiment_name IS NOT NULL AND group_id IS NOT NULL {where}
    ), g AS (
        SELECT experiment_name, group_id, max(group_name) AS group_name,
               count(DISTINCT user_id) AS units, min(ts) AS first_ts, max(ts) AS last_ts
        FROM e GROUP BY ALL
    ), x AS (
        SELECT experiment_name, count(DISTINCT user_id) AS units FROM e GROUP BY ALL
    ), c AS (
        SELECT experiment_name, count(*) AS crossovers
        FROM (SELECT experiment_name, user_id FROM e WHERE user_id IS NOT NULL
              GROUP BY ALL HAVING count(DISTINCT group_id) > 1)
        GROUP BY ALL
    )
    SELECT g.experiment_name, g.group_id, g.group_name, g.units AS group_units,
           x.units, coalesce(c.crossovers, 0) AS crossovers, g.first_ts, g.last_ts
    FROM g JOIN x USING (experiment_name) LEFT JOIN c USING (experiment_name)
    ORDER BY 1, 2
    """


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def summary(samples: list[float]) -> dict[str, Any]:
    return {
        "p50_ms": round(statistics.median(samples), 2),
        "min_ms": round(min(samples), 2),
        "runs": len(samples),
    }


def as_tuples(rows: list[dict[str, Any]]) -> list[tuple]:
    return [tuple(row.values()) for row in rows]


def ours_as_tuples(result: Any) -> list[tuple]:
    out = []
    for e in result.experiments:
        for g in e.groups:
            out.append((e.experiment_id, g.group_id, g.group_name, g.units, e.units))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exposures", type=int, default=BENCH_EXPOSURES)
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    now = datetime.now(UTC).replace(tzinfo=None)
    today = now.date()
    cases: list[tuple[str, date | None, str]] = [
        ("all exposures", None, ""),
        (
            "last 7 days",
            today - timedelta(days=6),
            f"AND ts >= TIMESTAMP '{today - timedelta(days=6)} 00:00:00' "
            f"AND ts < TIMESTAMP '{today + timedelta(days=1)} 00:00:00'",
        ),
    ]
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        warehouse = DuckDBWarehouse(str(Path(tmp) / "bench.duckdb"), timeout_s=600)
        started = time.perf_counter()
        load_demo(warehouse, events=args.events, exposures=args.exposures, now=now)
        load_s = time.perf_counter() - started
        connection = warehouse._conn()

        def run(sql: str) -> list[tuple]:
            cursor = connection.cursor()
            try:
                return cursor.execute(sql).fetchall()
            finally:
                cursor.close()

        for label, start, where in cases:
            end = today if start else None

            def ours(start: date | None = start, end: date | None = end) -> Any:
                return scan_experiments(warehouse, SOURCE, start=start, end=end)

            hand = {"same plan": same_plan(where), "count distinct": count_distinct(where)}
            found = ours_as_tuples(ours())
            for sql in hand.values():
                expected = [(r[0], r[1], r[2], r[3], r[4]) for r in run(sql)]
                assert found == expected, f"{label}: the scan differs from hand-written SQL"
            samples: dict[str, list[float]] = {"scan": [], **{k: [] for k in hand}}
            for _ in range(args.runs):  # interleaved, so all see the same conditions
                samples["scan"].append(timed(ours))
                for key, sql in hand.items():
                    samples[key].append(timed(lambda sql=sql: run(sql)))
            stats = {key: summary(values) for key, values in samples.items()}
            fastest = min(stats[k]["p50_ms"] for k in hand)
            stats["ratio_vs_fastest_hand_written"] = round(stats["scan"]["p50_ms"] / fastest, 2)
            results[label] = stats
        warehouse.close()

    output = {
        "environment": {
            "python": platform.python_version(),
            "duckdb": duckdb.__version__,
            "sqlglot": sqlglot.__version__,
            "machine": platform.machine(),
            "exposures": args.exposures,
            "events": args.events,
            "demo_load_s": round(load_s, 2),
        },
        "cases": results,
        "target_within_1_5x": all(
            r["ratio_vs_fastest_hand_written"] <= 1.5 for r in results.values()
        ),
    }
    print(f"{args.exposures:,} exposures (demo load {load_s:.1f} s), {args.runs} runs each")
    print(f"{'case':16} {'query':26} {'p50 ms':>10} {'min ms':>10}  ratio")
    for label, stats in results.items():
        for key in ("scan", "same plan", "count distinct"):
            name = "scan_experiments" if key == "scan" else f"  hand-written, {key}"
            ratio = f"{stats['ratio_vs_fastest_hand_written']:.2f}x" if key == "scan" else ""
            s = stats[key]
            print(f"{label:16} {name:26} {s['p50_ms']:>10.1f} {s['min_ms']:>10.1f}  {ratio}")
    print(f"target (scan within 1.5x of the faster hand-written): {output['target_within_1_5x']}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(output, indent=2) + "\n")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
