"""Benchmark of validation (the dryRun core) and of ``daily`` on the DuckDB demo data.

    .venv/bin/python bench/validate.py [--events 10000000] [--runs 300]

Prints a table and writes ``bench/results/validate.json``:

- ``Validator.validate`` of a typical ~20-line query, beside its two floors: sqlglot parsing
  alone, and DuckDB's own zero-row query alone (ratios to both). Target: p50 < 20 ms.
- ``Validator.daily`` over the demo events (30 days, two unit id types) beside the same
  aggregate hand-written in DuckDB SQL, in the same run. Target: within 1.5x.
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
from datetime import date, timedelta
from pathlib import Path

import duckdb
import sqlglot

from qualevents.models import CustomFieldMapping, IdTypeMapping, QualifyingEvent
from qualevents.sql import DateRange
from qualevents.sql.parse import prepare_text
from qualevents.validation import Validator
from qualevents.warehouse.demo import load_demo
from qualevents.warehouse.duckdb import DuckDBWarehouse

RESULTS = Path(__file__).parent / "results" / "validate.json"
TYPICAL_SQL = """\
WITH purchases AS (
  SELECT
    ts,
    user_id,
    device_id,
    event_name,
    country,
    platform,
    price_usd
  FROM `shoppy-sales.logging.events`
  WHERE DATE(ts) BETWEEN {statsig_start_date} AND {statsig_end_date}
    AND event_name IN ('checkout', 'purchase')
    AND price_usd > 0
)
SELECT
  ts, user_id, device_id, country, platform, price_usd,
  CASE WHEN price_usd >= 100 THEN 'large' ELSE 'small' END AS basket
FROM purchases
WHERE country IS NOT NULL
"""
TYPICAL = QualifyingEvent(
    name="purchases",
    sql=TYPICAL_SQL,
    timestamp_column="ts",
    id_type_mapping=[
        IdTypeMapping(statsig_unit_id="userID", column="user_id"),
        IdTypeMapping(statsig_unit_id="deviceID", column="device_id"),
    ],
    custom_field_mapping=[
        CustomFieldMapping(key="revenue_cents", formula="price_usd * 100"),
        CustomFieldMapping(key="mobile", formula="platform IN ('ios', 'android')"),
    ],
)
DAILY_EVENT = QualifyingEvent(
    name="all events",
    sql="SELECT * FROM `shoppy-sales.logging.events`",
    timestamp_column="ts",
    id_type_mapping=TYPICAL.id_type_mapping,
)


def timings(fn: Callable[[], object], runs: int, warmup: int = 5) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return {
        "p50_ms": round(statistics.median(ordered), 3),
        "p99_ms": round(p99, 3),
        "runs": len(ordered),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--daily-runs", type=int, default=7)
    args = parser.parse_args()

    today = date.today()
    with tempfile.TemporaryDirectory() as tmp:
        warehouse = DuckDBWarehouse(str(Path(tmp) / "bench.duckdb"))
        started = time.perf_counter()
        load_demo(warehouse, events=args.events, today=today)
        load_s = time.perf_counter() - started
        validator = Validator(warehouse)

        report = validator.validate(TYPICAL)
        assert report.valid, report.errors
        window = DateRange(today - timedelta(days=6), today)
        text = prepare_text(TYPICAL_SQL, "duckdb", window)
        probe = f"SELECT * FROM ({text}) AS s LIMIT 0"
        connection = warehouse._conn()

        def duckdb_probe() -> object:
            cursor = connection.cursor()
            cursor.execute(probe)
            description = cursor.description
            cursor.close()
            return description

        validate_ms = timings(lambda: validator.validate(TYPICAL), args.runs)
        parse_ms = timings(lambda: sqlglot.parse(text, read="duckdb"), args.runs)
        probe_ms = timings(duckdb_probe, args.runs)

        start, end = today - timedelta(days=29), today
        hand_written = (
            "SELECT CAST(ts AS DATE) AS day, COUNT(*) AS events, "
            "COUNT(DISTINCT user_id) AS users, COUNT(DISTINCT device_id) AS devices "
            'FROM "shoppy-sales".logging.events '
            f"WHERE ts >= TIMESTAMP '{start} 00:00:00' "
            f"AND ts < TIMESTAMP '{end + timedelta(days=1)} 00:00:00' "
            "GROUP BY 1 ORDER BY 1"
        )
        ours = validator.daily(DAILY_EVENT, start, end)
        theirs = warehouse.query(hand_written)
        assert [d["events"] for d in ours] == [r["events"] for r in theirs], "daily differs"
        daily_ms, hand_ms = [], []
        for _ in range(args.daily_runs):  # interleaved, so both see the same conditions
            daily_ms += timings(lambda: validator.daily(DAILY_EVENT, start, end), 1, warmup=0)
            hand_ms += timings(lambda: warehouse.query(hand_written), 1, warmup=0)
        warehouse.close()

    results = {
        "environment": {
            "python": platform.python_version(),
            "duckdb": duckdb.__version__,
            "sqlglot": sqlglot.__version__,
            "machine": platform.machine(),
            "events": args.events,
            "demo_load_s": round(load_s, 2),
        },
        "validate": summary(validate_ms),
        "sqlglot_parse": summary(parse_ms),
        "duckdb_zero_row_query": summary(probe_ms),
        "daily": summary(daily_ms),
        "daily_hand_written": summary(hand_ms),
    }
    v, p, z = (results[k]["p50_ms"] for k in ("validate", "sqlglot_parse", "duckdb_zero_row_query"))
    d, h = results["daily"]["p50_ms"], results["daily_hand_written"]["p50_ms"]
    results["ratios"] = {
        "validate_vs_parse": round(v / p, 2),
        "validate_vs_zero_row_query": round(v / z, 2),
        "daily_vs_hand_written": round(d / h, 2),
    }
    results["targets"] = {"validate_p50_below_20ms": v < 20, "daily_within_1_5x": d / h <= 1.5}

    rows = [
        ("validate (dryRun core)", results["validate"], ""),
        ("  sqlglot parse alone", results["sqlglot_parse"], f"validate = {v / p:.1f}x"),
        (
            "  DuckDB zero-row query alone",
            results["duckdb_zero_row_query"],
            f"validate = {v / z:.1f}x",
        ),
        (f"daily, {args.events:,} events", results["daily"], ""),
        ("  hand-written DuckDB SQL", results["daily_hand_written"], f"daily = {d / h:.2f}x"),
    ]
    print(f"{'measure':36} {'p50 ms':>10} {'p99 ms':>10}  ratio")
    for label, stats, ratio in rows:
        print(f"{label:36} {stats['p50_ms']:>10.2f} {stats['p99_ms']:>10.2f}  {ratio}")
    print(
        f"targets: validate p50 < 20 ms: {results['targets']['validate_p50_below_20ms']}; "
        f"daily within 1.5x: {results['targets']['daily_within_1_5x']}"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
