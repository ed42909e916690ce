"""Console pages against the API reads of the same data: ``python bench/console.py [--quick]``.

Starts ``qualevents serve`` (1 worker, SQLite in a temporary directory, no warehouse: these
pages make no warehouse call) with SOURCES qualifying events stored (each with 3 revisions),
signs in through the console's form, then times, in interleaved rounds on one keep-alive
connection, each console page and the API request(s) that read the same data:

- source:  ``GET /sources/qualifying_event/{name}`` (the definition and its history)
           vs the API's read plus its revisions (``GET .../{name}`` + ``GET .../-/revisions``)
- list:    ``GET /sources`` (page 1 of every kind, 50 rows; the search and filters read every
           source) vs the API's list page of 50 (``?limit=50``)
- audit:   ``GET /audit`` (50 newest) vs ``GET /console/v1/audit_logs?limit=50``
- form:    ``GET /sources/qualifying_event/-/new`` (no data) vs ``/-/health``, for scale

The target: each page's median within 3x of its API read's, in the same run. Prints a table
and writes ``bench/results/console.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "console.json"
API = "/console/v1/experiments/qualifying_events"
TARGET_RATIO = 3.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def seed(database_url: str, count: int) -> str:
    from qualevents.keys import KeyService
    from qualevents.models import QualifyingEvent
    from qualevents.service import QualifyingEventService
    from qualevents.store import open_store
    from qualevents.store.base import Actor

    store = open_store(database_url)
    service = QualifyingEventService(store)
    actor = Actor("key-bench", "bench")
    for i in range(count):
        event = QualifyingEvent.model_validate(
            {
                "name": f"bench_event_{i:05d}",
                "description": "Checkout sessions by signed-in users",
                "tags": ["checkout", f"team-{i % 7}"],
                "sql": "SELECT user_id, ts, amount\nFROM analytics.purchases\n"
                "WHERE status = 'complete'",
                "timestamp_column": "ts",
                "id_type_mapping": [{"statsig_unit_id": "userID", "column": "user_id"}],
            }
        )
        service.create(event, actor)
        service.patch(event.name, {"tags": ["checkout"]}, actor)
        service.patch(event.name, {"description": "Purchases"}, actor)
    secret = KeyService(store).create("bench")[1]
    store.close()
    return secret


def start(database_url: str, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUALEVENTS_")}
    argv = [
        sys.executable, "-m", "qualevents", "serve", "--host", "127.0.0.1", "--port", str(port),
        "--warehouse-url", "none", "--database-url", database_url, "--workers", "1",
        "--log-level", "warning",
    ]  # fmt: skip
    log = (workdir / "server.log").open("wb")
    process = subprocess.Popen(argv, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # readiness polling, bounded
        try:
            if httpx.get(url + "/-/health", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    process.kill()
    raise SystemExit("the server did not start")


def sign_in(client: httpx.Client, secret: str) -> None:
    page = client.get("/sign-in").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    answer = client.post("/sign-in", data={"csrf_token": token, "key": secret})
    assert answer.status_code == 303, answer.status_code


def timed(client: httpx.Client, paths: list[str], headers: dict[str, str]) -> float:
    started = time.perf_counter()
    for path in paths:
        answer = client.get(path, headers=headers)
        assert answer.status_code == 200, (path, answer.status_code)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sources and rounds")
    args = parser.parse_args()
    sources, rounds = (200, 100) if args.quick else (1000, 300)
    name = f"bench_event_{sources // 2:05d}"
    cases = {
        "source": (
            [f"/sources/qualifying_event/{name}"],
            [f"{API}/{name}", f"{API}/{name}/-/revisions"],
        ),
        "list": (["/sources"], [f"{API}?limit=50"]),
        "audit": (["/audit"], ["/console/v1/audit_logs?limit=50"]),
        "form": (["/sources/qualifying_event/-/new"], ["/-/health"]),
    }  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        database_url = f"sqlite:///{workdir / 'bench.db'}"
        secret = seed(database_url, sources)
        process, url = start(database_url, workdir)
        try:
            console = httpx.Client(base_url=url, timeout=30)
            api = httpx.Client(base_url=url, timeout=30)
            sign_in(console, secret)
            key = {"STATSIG-API-KEY": secret}
            samples: dict[str, dict[str, list[float]]] = {c: {"page": [], "api": []} for c in cases}
            for pages, reads in cases.values():  # warm up
                timed(console, pages, {})
                timed(api, reads, key)
            for _ in range(rounds):  # interleaved: load changes hit both alike
                for case, (pages, reads) in cases.items():
                    samples[case]["page"].append(timed(console, pages, {}) * 1000)
                    samples[case]["api"].append(timed(api, reads, key) * 1000)
        finally:
            process.terminate()
            process.wait(timeout=10)
    rows = []
    for case, measured in samples.items():
        page_ms = statistics.median(measured["page"])
        api_ms = statistics.median(measured["api"])
        ratio = page_ms / api_ms
        rows.append(
            {
                "case": case,
                "page_median_ms": round(page_ms, 3),
                "page_p90_ms": round(statistics.quantiles(measured["page"], n=10)[-1], 3),
                "api_median_ms": round(api_ms, 3),
                "api_p90_ms": round(statistics.quantiles(measured["api"], n=10)[-1], 3),
                "ratio": round(ratio, 2),
                "target": "—"
                if case == "sign-in"
                else ("PASS" if ratio <= TARGET_RATIO else "FAIL"),
            }
        )
    report = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {os.cpu_count()} cores",
        "load_average": os.getloadavg(),
        "sources": sources,
        "rounds": rounds,
        "rows": rows,
    }
    print(f"{sources} sources, {rounds} interleaved rounds, load average {report['load_average']}")
    print(f"{'case':<8} {'page ms':>9} {'p90':>8} {'API ms':>9} {'p90':>8} {'ratio':>6}  target")
    for row in rows:
        print(
            f"{row['case']:<8} {row['page_median_ms']:>9.2f} {row['page_p90_ms']:>8.2f} "
            f"{row['api_median_ms']:>9.2f} {row['api_p90_ms']:>8.2f} {row['ratio']:>6.2f}  "
            f"{row['target']}"
        )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
