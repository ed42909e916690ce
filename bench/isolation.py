"""Does a slow preview delay anyone else? ``python bench/isolation.py [--seconds 10]``.

Starts ``qualevents serve`` (1 worker, SQLite store, a DuckDB warehouse file holding the
tables the definitions read) and drives it with ``wrk`` (from ``bench/api.py``): 25
connections reading one event and 25 creating events (each create is validated against the
warehouse), 50 in all, in three phases of the same run:

- ``alone``: the load by itself (the baseline);
- ``1 slow preview``: the same load while a read-only key keeps one slow preview running
  (a top-20 over two billion generated rows, stopped by the warehouse timeout), one after
  the other;
- ``45 slow previews``: the same load while that key sends 45 previews at once, again and
  again (each honouring ``Retry-After`` when refused): the per-key limit lets 4 run.

Prints p99 (and p50) of reads and creates per phase and the ratio of each p99 to the
baseline's (target: at most 2x), with the previews' status counts; writes
``bench/results/isolation.json``. Numbers go in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from api import (  # noqa: E402 - bench/api.py is a sibling script
    BASE,
    KEY_HEADER,
    Request,
    Server,
    event_document,
    free_port,
    run_python,
    run_wrk,
    seed,
    server_env,
)

RESULTS = HERE / "results" / "isolation.json"
READ_NAME = "bench_event_00050"
MAX_RATIO = 2.0
SLOW_SQL = (
    "SELECT i::VARCHAR AS user_id, TIMESTAMP '2024-01-01' + to_seconds(i % 86400) AS ts "
    "FROM range(2000000000) AS t(i)"
)


def make_warehouse(path: Path) -> None:
    with duckdb.connect(str(path)) as conn:
        conn.execute("CREATE SCHEMA analytics")
        conn.execute(
            "CREATE TABLE analytics.purchases AS SELECT 'u' || i AS user_id, "
            "'s' || i AS stable_id, now() - INTERVAL (i) MINUTE AS ts, i * 1.5 AS amount, "
            "'us' AS country, 'complete' AS status FROM range(1000) AS t(i)"
        )


def start(workdir: Path, database_url: str, warehouse_url: str) -> Server:
    port = free_port()
    env = server_env(database_url)
    env["QUALEVENTS_WAREHOUSE_URL"] = warehouse_url
    env["QUALEVENTS_WAREHOUSE_TIMEOUT_S"] = "20"
    argv = [
        sys.executable, "-m", "qualevents", "serve", "--host", "127.0.0.1", "--port", str(port),
        "--warehouse-url", warehouse_url, "--database-url", database_url, "--workers", "1",
        "--log-level", "warning",
    ]  # fmt: skip
    server = Server(argv, env, port, workdir)
    server.wait_ready("/-/health")
    return server


class Previews:
    """``loops`` clients sending the slow preview again and again until stopped."""

    def __init__(self, port: int, secret: str, loops: int) -> None:
        self.url = f"http://127.0.0.1:{port}{BASE}/slow/-/preview"
        self.headers = {KEY_HEADER: secret}
        self.loops = loops
        self.statuses: Counter[int | str] = Counter()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=max(1, loops))
        self._lock = threading.Lock()

    def _loop(self) -> None:
        with httpx.Client(headers=self.headers, timeout=60) as http:
            while not self._stop.is_set():
                with self._lock:
                    self.statuses["sent"] += 1
                response = http.get(self.url)
                with self._lock:
                    self.statuses[response.status_code] += 1
                if response.status_code == 429:
                    self._stop.wait(float(response.headers.get("Retry-After", "1")))

    def __enter__(self) -> Previews:
        for _ in range(self.loops):
            self._pool.submit(self._loop)
        time.sleep(1.0)  # let the first previews reach the warehouse
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._pool.shutdown(wait=False, cancel_futures=True)


def load(port: int, secret: str, seconds: float, workdir: Path) -> dict[str, dict[str, Any]]:
    headers = {KEY_HEADER: secret, "Content-Type": "application/json"}
    read = Request("GET", f"{BASE}/{READ_NAME}", headers={KEY_HEADER: secret})
    body = json.dumps(event_document("{name}"))
    create = Request("POST", BASE, headers=headers, body_template=body)
    # wrk when installed (apt-get install wrk), else bench/api.py's asyncio client.
    generator = run_wrk if shutil.which("wrk") else run_python
    with ThreadPoolExecutor(max_workers=2) as pool:
        reads = pool.submit(generator, port, read, seconds, 25, workdir)
        creates = pool.submit(generator, port, create, seconds, 25, workdir)
        return {"read": reads.result(), "create": creates.result()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per phase")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qualevents-isolation-") as tmp:
        workdir = Path(tmp)
        warehouse = workdir / "warehouse.duckdb"
        make_warehouse(warehouse)
        database_url = f"sqlite:///{workdir / 'store.db'}"
        secret = seed(database_url, 100)
        from qualevents.keys import KeyService
        from qualevents.store import open_store

        store = open_store(database_url)
        reader_secret = KeyService(store).create("previewer", read_only=True)[1]
        store.close()
        server = start(workdir, database_url, f"duckdb:///{warehouse}")
        try:
            slow = {
                "name": "slow",
                "sql": SLOW_SQL,
                "timestampColumn": "ts",
                "idTypeMapping": [{"statsigUnitID": "userID", "column": "user_id"}],
            }
            with httpx.Client(headers={KEY_HEADER: secret}) as http:
                created = http.post(f"http://127.0.0.1:{server.port}{BASE}", json=slow)
                created.raise_for_status()
            load(server.port, secret, 2.0, workdir)  # warm up
            phases: dict[str, Any] = {"alone": load(server.port, secret, args.seconds, workdir)}
            for label, loops in (("1 slow preview", 1), ("45 slow previews", 45)):
                with Previews(server.port, reader_secret, loops) as previews:
                    phases[label] = load(server.port, secret, args.seconds, workdir)
                phases[label]["previews"] = dict(previews.statuses)
        finally:
            server.stop()
    report = {"seconds_per_phase": args.seconds, "connections": 50, "phases": phases}
    base = phases["alone"]
    print(f"{'phase':<18} {'case':<7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'p99 x':>6}  note")
    for label, phase in phases.items():
        for case in ("read", "create"):
            result = phase[case]
            ratio = result["p99_ms"] / base[case]["p99_ms"] if base[case]["p99_ms"] else 0.0
            result["p99_ratio"] = round(ratio, 2)
            rate = result["requests"] / result["seconds"]
            note = f"non-2xx {result['non_2xx']}"
            if case == "read" and "previews" in phase:
                note += f"; previews {phase['previews']}"
            print(
                f"{label:<18} {case:<7} {rate:>8.0f} {result['p50_ms']:>8.1f} "
                f"{result['p99_ms']:>8.1f} {ratio:>6.2f}  {note}"
            )
    worst = max(phase[c]["p99_ratio"] for phase in phases.values() for c in ("read", "create"))
    report["worst_p99_ratio"] = worst
    report["pass"] = worst <= MAX_RATIO
    verdict = "PASS" if report["pass"] else "FAIL"
    print(f"worst p99 ratio {worst:.2f} (target <= {MAX_RATIO}): {verdict}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
