"""What running an analysis as a job costs, and how fast a cancel stops its query, in the
same run (so the machine's load cancels in the ratios).

    .venv/bin/python bench/jobs.py [--units 200000] [--events 2000000] [--runs 5]

Generates, in an in-memory DuckDB, ``--units`` exposed units (one exposure row each, two
groups) and ``--events`` qualifying events, and measures (median of ``--runs``, the pair
alternating):

- exposure filtering called directly (``run_filter_exposures`` on a thread of the warehouse
  runner's rows lane, where a job's work runs too) vs the same request through
  the API as a job (``POST .../-/filter_exposures`` answering 200 within ``wait``: the job
  row, the warehouse runner, the result stored, the HTTP round trip, in process on a SQLite
  store file), on the generated data and on a ten-row table (where the fixed cost shows);
- the same job answered 202 (``wait: 0``) and polled every 50 ms until done;
- cancel latency: from ``POST .../cancel`` to the warehouse thread being free again, on
  the instance running the job, and from another instance sharing the store (bounded by the
  2 s heartbeat).

Prints a table and writes ``bench/results/jobs.json``.
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
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from qualevents.analysis import FilterExposuresRequest, run_filter_exposures
from qualevents.api.app import create_app
from qualevents.config import Settings
from qualevents.keys import KeyService
from qualevents.store import open_store
from qualevents.validation import Validator
from qualevents.warehouse.duckdb import DuckDBWarehouse
from qualevents.warehouse.executor import WarehouseRunner

RESULTS = Path(__file__).parent / "results" / "jobs.json"
EVENTS = "/console/v1/experiments/qualifying_events"
JOBS = "/console/v1/-/jobs"
USER_ID = [{"statsigUnitID": "userID", "column": "uid"}]


def generate(warehouse: DuckDBWarehouse, units: int, events: int) -> None:
    with warehouse.writable() as connection:
        connection.execute("CREATE SCHEMA bench")
        connection.execute(
            f"CREATE TABLE bench.exposures AS SELECT TIMESTAMP '2024-01-01' + "
            f"INTERVAL (hash(i, 1) % 86400) SECOND AS ts, 'u' || i AS uid, 'exp' AS experiment, "
            f"CASE WHEN hash(i, 2) % 2 = 0 THEN 'control' ELSE 'test' END AS group_id "
            f"FROM range({units}) t(i)"
        )
        connection.execute(
            f"CREATE TABLE bench.events AS SELECT TIMESTAMP '2024-01-01' + "
            f"INTERVAL (hash(i, 3) % (86400 * 3)) SECOND AS ts, "
            f"'u' || (hash(i, 4) % {units * 2}) AS uid FROM range({events}) t(i)"
        )
        # A join that is big on purpose, for the cancel: 20 units x 5,000 exposure rows x
        # 50,000 events each (minutes of work with anyExposure).
        connection.execute(
            "CREATE TABLE bench.slow_exposures AS SELECT TIMESTAMP '2024-01-01' + "
            "INTERVAL (i % 86400) SECOND AS ts, 'u' || (i % 20) AS uid, 'exp' AS experiment, "
            "CASE WHEN i % 2 = 0 THEN 'control' ELSE 'test' END AS group_id "
            "FROM range(100000) t(i)"
        )
        connection.execute(
            "CREATE TABLE bench.slow_events AS SELECT TIMESTAMP '2024-01-01' + "
            "INTERVAL (i % 86400) SECOND AS ts, 'u' || (i % 20) AS uid FROM range(1000000) t(i)"
        )
        connection.execute(
            "CREATE TABLE bench.tiny_exposures AS SELECT * FROM bench.exposures LIMIT 10"
        )
        connection.execute("CREATE TABLE bench.tiny_events AS SELECT * FROM bench.events LIMIT 10")


def sources(http: TestClient) -> None:
    for name, table in (
        ("events", "bench.events"),
        ("tiny", "bench.tiny_events"),
        ("slow", "bench.slow_events"),
    ):
        body = {
            "name": name,
            "sql": f"SELECT * FROM {table}",
            "timestampColumn": "ts",
            "idTypeMapping": USER_ID,
        }
        assert http.post(EVENTS, json=body).status_code == 201
    for name, table in (
        ("exposures", "bench.exposures"),
        ("tiny_exposures", "bench.tiny_exposures"),
        ("slow_exposures", "bench.slow_exposures"),
    ):
        body = {
            "name": name,
            "sql": f"SELECT * FROM {table}",
            "timestampColumn": "ts",
            "experimentIDColumn": "experiment",
            "groupIDColumn": "group_id",
            "idTypeMapping": USER_ID,
        }
        created = http.post("/console/v1/experiments/assignment_sources", json=body)
        assert created.status_code == 201, created.text


@contextmanager
def served(store: Any, warehouse: DuckDBWarehouse, secret: str) -> Iterator[TestClient]:
    runner = WarehouseRunner(threads=2, per_key=4, rows_threads=2)
    settings = Settings(database_url="sqlite://", warehouse_url="none", _env_file=None)
    app = create_app(
        settings, store=store, warehouse=warehouse, validator=Validator(warehouse, runner=runner)
    )
    try:
        with TestClient(app, headers={"STATSIG-API-KEY": secret}) as http:
            yield http
    finally:
        runner.close()


def timed(function: Callable[[], Any]) -> float:
    started = time.perf_counter()
    function()
    return (time.perf_counter() - started) * 1000


def body_for(event: str) -> dict[str, Any]:
    exposures = "exposures" if event == "events" else "tiny_exposures"
    return {
        "assignmentSource": exposures,
        "experimentID": "exp",
        "start": "2024-01-01",
        "end": "2024-01-01",
        "window": {"amount": 1, "unit": "days"},
    }


def until(condition: Callable[[], bool], poll_s: float = 0.005) -> None:
    deadline = time.monotonic() + 300
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("gave up waiting")
        time.sleep(poll_s)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=200_000)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    warehouse = DuckDBWarehouse(":memory:", timeout_s=600)
    generate(warehouse, args.units, args.events)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(f"sqlite:///{Path(folder) / 'store.db'}")
        secret = KeyService(store).create("bench")[1]
        with served(store, warehouse, secret) as http:
            sources(http)
            context = http.app.state.context  # type: ignore[attr-defined]

            def direct(event: str) -> Callable[[], Any]:
                stored = context.events.get(event).event
                body = body_for(event)
                assignment = context.assignment_sources.get(body["assignmentSource"]).event
                request = FilterExposuresRequest.parse(body)
                # On a rows-lane thread, as the job's work runs (same thread priority).
                return lambda: context.validator.runner.submit(
                    None, run_filter_exposures, warehouse, stored, assignment, request
                ).result()

            def job(event: str, wait: float) -> Callable[[], Any]:
                def run() -> Any:
                    answer = http.post(
                        f"{EVENTS}/{event}/-/filter_exposures",
                        json={**body_for(event), "wait": wait},
                    )
                    if answer.status_code == 202:
                        location = answer.headers["Location"]
                        until(
                            lambda: http.get(location).json()["data"]["status"] == "succeeded",
                            poll_s=0.05,
                        )
                    else:
                        assert answer.status_code == 200, answer.text

                return run

            assert (
                direct("events")()["totals"]
                == http.post(f"{EVENTS}/events/-/filter_exposures", json=body_for("events")).json()[
                    "data"
                ]["totals"]
            )
            for label, event in (("generated data", "events"), ("ten rows", "tiny")):
                pairs = []
                for round_number in range(args.runs + 1):
                    first, second = direct(event), job(event, 60)
                    if round_number % 2:
                        b, a = timed(second), timed(first)
                    else:
                        a, b = timed(first), timed(second)
                    if round_number:  # the first round warms up
                        pairs.append((a, b))
                ours = statistics.median(b for _, b in pairs)
                base = statistics.median(a for a, _ in pairs)
                rows.append(
                    {
                        "measure": f"job within wait vs direct, {label}",
                        "base_ms": base,
                        "ms": ours,
                        "ratio": ours / base,
                    }
                )
            polled = statistics.median(timed(job("events", 0)) for _ in range(args.runs))
            base = statistics.median(timed(direct("events")) for _ in range(args.runs))
            rows.append(
                {
                    "measure": "job 202 + polling (50 ms) vs direct",
                    "base_ms": base,
                    "ms": polled,
                    "ratio": polled / base,
                }
            )

            # cancel latency: a job whose join is big (each unit's events x exposures)
            slow = {
                **body_for("events"),
                "assignmentSource": "slow_exposures",
                "matchAgainst": "anyExposure",
                "wait": 0,
                "window": {"amount": 3, "unit": "days"},
            }
            runner = context.validator.runner

            def cancel_latency(canceller: TestClient) -> float:
                started = http.post(f"{EVENTS}/slow/-/filter_exposures", json=slow)
                job_id = started.json()["job"]["id"]
                until(lambda: http.get(f"{JOBS}/{job_id}").json()["data"]["status"] == "running")
                time.sleep(0.3)  # let the aggregate query start (this is a bench, not a test)
                begin = time.perf_counter()
                assert canceller.post(f"{JOBS}/{job_id}/cancel").status_code == 200
                until(lambda: runner.in_flight() == 0)
                return (time.perf_counter() - begin) * 1000

            same = statistics.median(cancel_latency(http) for _ in range(args.runs))
            with served(store, warehouse, secret) as other:
                across = statistics.median(cancel_latency(other) for _ in range(args.runs))
            rows.append({"measure": "cancel -> query stopped, same instance", "ms": same})
            rows.append({"measure": "cancel -> query stopped, other instance", "ms": across})
        store.close()
    warehouse.close()

    print(f"data: {args.units} units, {args.events} events; median of {args.runs}")
    print(f"{'measure':48} {'base ms':>9} {'ms':>9} {'ratio':>7}")
    for row in rows:
        base = f"{row['base_ms']:9.1f}" if "base_ms" in row else " " * 9
        ratio = f"{row['ratio']:6.2f}x" if "ratio" in row else ""
        print(f"{row['measure']:48} {base} {row['ms']:9.1f} {ratio:>7}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "units": args.units,
                "events": args.events,
                "runs": args.runs,
                "python": platform.python_version(),
                "rows": rows,
            },
            indent=2,
        )
    )
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
