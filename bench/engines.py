"""Benchmark of ``daily`` on three engines: DuckDB (built in), ClickHouse embedded (chDB)
and Spark through a local Spark Connect server. On each, the same events (``--events``,
default 10M, over 30 days, two unit id types) are generated in the engine, then
``Validator.daily`` (the SQL qualevents builds, through the adapter) runs interleaved with
the same aggregate hand-written for that engine (through the same adapter, so only the SQL
differs), in the same run. Target: within 1.5x on each.

    .venv/bin/python bench/engines.py [--events 10000000] [--runs 5] [--spark-url sc://...]
        [--engines duckdb,clickhouse,spark]

Without ``--spark-url`` a local Spark Connect server is started (pyspark's jars, Java 17;
``tests/warehouse/engines.py``). Prints a table and writes ``bench/results/engines.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qualevents.models import IdTypeMapping, QualifyingEvent
from qualevents.validation import Validator
from qualevents.warehouse import open_warehouse
from qualevents.warehouse.base import Warehouse

RESULTS = Path(__file__).parent / "results" / "engines.json"
DAYS = 30
USERS, DEVICES = 200_000, 300_000
EVENT = QualifyingEvent(
    name="all events",
    sql="SELECT * FROM bench.events",
    timestamp_column="ts",
    id_type_mapping=[
        IdTypeMapping(statsig_unit_id="userID", column="user_id"),
        IdTypeMapping(statsig_unit_id="deviceID", column="device_id"),
    ],
)


def hand_written(engine: str, start: date, end: date) -> str:
    """The daily aggregate as one would write it for ``engine``."""
    until = end + timedelta(days=1)
    if engine == "clickhouse":
        return (
            "SELECT toDate(ts) AS day, count() AS events, uniqExact(user_id) AS users, "
            "uniqExact(device_id) AS devices FROM bench.events "
            f"WHERE ts >= toDateTime('{start} 00:00:00') AND ts < toDateTime('{until} 00:00:00') "
            "GROUP BY day ORDER BY day"
        )
    return (
        "SELECT CAST(ts AS DATE) AS day, COUNT(*) AS events, COUNT(DISTINCT user_id) AS users, "
        "COUNT(DISTINCT device_id) AS devices FROM bench.events "
        f"WHERE ts >= TIMESTAMP '{start} 00:00:00' AND ts < TIMESTAMP '{until} 00:00:00' "
        "GROUP BY 1 ORDER BY 1"
    )


@contextmanager
def duckdb_engine(events: int, start: date) -> Iterator[tuple[Warehouse, str]]:
    import duckdb

    from qualevents.warehouse.duckdb import DuckDBWarehouse

    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "warehouse.duckdb")
        connection = duckdb.connect(path)
        connection.execute("CREATE SCHEMA bench")
        connection.execute(
            "CREATE TABLE bench.events AS SELECT "
            f"TIMESTAMP '{start} 00:00:00' + to_seconds((i * 2654435761) % {DAYS * 86400}) AS ts, "
            f"'u' || (hash(i) % {USERS}) AS user_id, 'd' || (hash(i + 1) % {DEVICES}) AS device_id "
            f"FROM range({events}) AS t(i)"
        )
        connection.close()
        warehouse = DuckDBWarehouse(path, timeout_s=600)
        try:
            yield warehouse, duckdb.__version__
        finally:
            warehouse.close()


@contextmanager
def clickhouse_engine(events: int, start: date) -> Iterator[tuple[Warehouse, str]]:
    import chdb
    import clickhouse_connect

    with tempfile.TemporaryDirectory() as tmp:
        client = clickhouse_connect.get_client(interface="chdb", path=tmp)
        client.command("CREATE DATABASE bench")
        client.command(
            "CREATE TABLE bench.events ENGINE = MergeTree ORDER BY ts AS SELECT "
            f"toDateTime('{start} 00:00:00', 'UTC') + ((number * 2654435761) % {DAYS * 86400}) "
            f"AS ts, concat('u', toString(cityHash64(number) % {USERS})) AS user_id, "
            f"concat('d', toString(cityHash64(number + 1) % {DEVICES})) AS device_id "
            f"FROM numbers({events})"
        )
        url = f"clickhouse://default@localhost/bench?interface=chdb&path={tmp}"
        warehouse = open_warehouse(url, timeout_s=600, row_cap=10_000)
        assert warehouse is not None
        try:
            yield warehouse, f"chdb {chdb.__version__}"
        finally:
            warehouse.close()


@contextmanager
def spark_engine(events: int, start: date, url: str | None) -> Iterator[tuple[Warehouse, str]]:
    import pyspark

    with ExitStack() as stack:
        if url is None:
            from tests.warehouse import engines

            url = stack.enter_context(engines.spark_connect_server())
        from tests.warehouse.engines import spark_load

        spark_load(
            url,
            [
                "DROP DATABASE IF EXISTS bench CASCADE",
                "CREATE DATABASE bench",
                "CREATE TABLE bench.events USING parquet AS SELECT "
                f"timestamp_seconds(unix_timestamp(TIMESTAMP '{start} 00:00:00') + "
                f"(id * 2654435761) % {DAYS * 86400}) AS ts, "
                f"concat('u', CAST(pmod(xxhash64(id), {USERS}) AS STRING)) AS user_id, "
                f"concat('d', CAST(pmod(xxhash64(id + 1), {DEVICES}) AS STRING)) AS device_id "
                f"FROM range({events})",
            ],
        )
        warehouse = open_warehouse(url, timeout_s=600)
        assert warehouse is not None
        stack.callback(warehouse.close)
        yield warehouse, f"pyspark {pyspark.__version__} (Spark Connect, local)"


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--spark-url", default=None)
    parser.add_argument("--engines", default="duckdb,clickhouse,spark")
    args = parser.parse_args()

    end = date.today()
    start = end - timedelta(days=DAYS - 1)
    openers = {
        "duckdb": lambda: duckdb_engine(args.events, start),
        "clickhouse": lambda: clickhouse_engine(args.events, start),
        "spark": lambda: spark_engine(args.events, start, args.spark_url),
    }
    results: dict[str, Any] = {
        "environment": {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "events": args.events,
            "runs": args.runs,
        }
    }
    for engine in args.engines.split(","):
        try:
            results[engine] = measure(engine, openers[engine], args.runs, start, end)
        except Exception as error:  # one engine failing (a timeout) leaves the others'
            results[engine] = {"error": f"{type(error).__name__}: {error}"[:300]}
        print(f"{engine}: {results[engine]}", flush=True)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")

    print()
    print(f"{'engine':12} {'daily p50 ms':>14} {'hand-written p50 ms':>20} {'ratio':>7}  version")
    for engine in args.engines.split(","):
        r = results[engine]
        if "error" in r:
            print(f"{engine:12} {r['error']}")
            continue
        print(
            f"{engine:12} {r['daily_p50_ms']:>14,.1f} {r['hand_written_p50_ms']:>20,.1f} "
            f"{r['ratio']:>6.2f}x  {r['version']}"
        )
    print(f"wrote {RESULTS}")
    return 0


def measure(
    engine: str, opener: Callable[[], Any], runs: int, start: date, end: date
) -> dict[str, Any]:
    """Load the events, check both queries agree, then time them interleaved."""
    loaded = time.perf_counter()
    with opener() as (warehouse, version):
        load_s = time.perf_counter() - loaded
        validator = Validator(warehouse)
        sql = hand_written(engine, start, end)
        ours = validator.daily(EVENT, start, end)  # also the warm-up
        theirs = warehouse.query(sql)
        assert [(d["events"], d["units"]["userID"]) for d in ours] == [
            (r["events"], r["users"]) for r in theirs
        ], f"{engine}: daily differs from the hand-written aggregate"
        daily_ms, hand_ms = [], []
        for _ in range(runs):  # interleaved, so both see the same conditions
            daily_ms.append(timed(lambda v=validator: v.daily(EVENT, start, end)))
            hand_ms.append(timed(lambda w=warehouse, s=sql: w.query(s)))
    d, h = statistics.median(daily_ms), statistics.median(hand_ms)
    return {
        "version": version,
        "load_s": round(load_s, 1),
        "daily_p50_ms": round(d, 1),
        "hand_written_p50_ms": round(h, 1),
        "ratio": round(d / h, 2),
        "within_1_5x": d / h <= 1.5,
    }


if __name__ == "__main__":
    sys.exit(main())
