"""Soak: a steady open-loop rate of mixed reads and writes for minutes, from loopback.

    python bench/soak.py [--minutes 10] [--rate 200] [--database-url URL] [--rate-limit statsig]
    python bench/soak.py --compare-bare [--minutes 1] [--database-url URL]

Starts the server as a subprocess (``qualevents serve``, one worker, a free loopback port;
SQLite in a temporary directory unless ``--database-url`` is given), makes a console key and
seeds events, then sends requests on a fixed schedule (open loop: request i is due at
``i / rate`` seconds, whether or not earlier ones have answered) with this mix:

    70% read one event, 20% list a page of 20, 10% write (half creates, half full updates)

Latency is measured from the moment a request was due, so a stalled server shows up in the
percentiles instead of silently slowing the generator down. The server's RSS is sampled
from /proc every few seconds. Errors are every answer other than 2xx and 429, plus
transport failures. Prints a table and writes ``bench/results/soak.json``.

``--compare-bare``: first measure the bare FastAPI endpoint's throughput (``bench/api.py``'s
baseline, with wrk), then send the same open-loop mix at a tenth of it (unless ``--rate`` is
given) to the bare app (``bench/_bare_app.py`` answers every path) and then to qualevents,
and report both p99s: the target is qualevents' p99 within 3x of bare's at that rate.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from json import dumps
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "soak.json"
BASE = "/console/v1/experiments/qualifying_events"
KEY_HEADER = "STATSIG-API-KEY"
SEED_EVENTS = 200
RSS_EVERY_S = 5.0
MAX_IN_FLIGHT = 1000
CONNECTIONS = 64
STARTUP_S = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_command(port: int, database_url: str, rate_limit: str) -> tuple[list[str], dict]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUALEVENTS_")}
    env["QUALEVENTS_RATE_LIMIT"] = rate_limit
    command = [
        sys.executable, "-m", "qualevents", "serve", "--port", str(port),
        "--database-url", database_url, "--warehouse-url", "none",
        "--rate-limit", rate_limit, "--log-level", "warning",
    ]  # fmt: skip
    return command, env


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def event_body(name: str, version: int) -> dict[str, Any]:
    return {
        "name": name,
        "description": f"soak revision {version}",
        "tags": ["soak"],
        "sql": f"SELECT user_id, ts FROM events WHERE v = {version}",
        "timestampColumn": "ts",
        "idTypeMapping": [{"statsigUnitID": "userID", "column": "user_id"}],
    }


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def slope_mb_per_min(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of RSS over time (MB per minute)."""
    if len(samples) < 2:
        return 0.0
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_r = sum(r for _, r in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    if var == 0:
        return 0.0
    cov = sum((t - mean_t) * (r - mean_r) for t, r in samples)
    return cov / var * 60


def per_minute(
    timeline: list[tuple[float, float]], samples: list[tuple[float, float]]
) -> list[dict[str, Any]]:
    """Answered requests, p99 and RSS for each minute of the run (a drift shows here)."""
    minutes: dict[int, list[float]] = {}
    for due, latency in timeline:
        minutes.setdefault(int(due // 60), []).append(latency)
    rows = []
    for minute, values in sorted(minutes.items()):
        rss = [r for t, r in samples if minute * 60 <= t < (minute + 1) * 60]
        rows.append(
            {
                "minute": minute + 1,
                "answered": len(values),
                "p99_ms": round(percentile(sorted(values), 0.99), 2),
                "rss_mb": round(rss[-1], 1) if rss else None,
            }
        )
    return rows


@dataclass
class RawResponse:
    status_code: int
    text: str


class RawPool:
    """A pool of keep-alive HTTP/1.1 connections on raw asyncio streams: much less client
    CPU per request than httpx, so the generator keeps its schedule at the rates a server
    answers. A request waits for a free connection (that wait counts in its latency)."""

    def __init__(self, port: int, key: str, size: int) -> None:
        self.port = port
        self.key = key
        self.size = size
        self.free: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.Queue()
        )

    async def open(self) -> None:
        for _ in range(self.size):
            self.free.put_nowait(await asyncio.open_connection("127.0.0.1", self.port))

    async def close(self) -> None:
        while not self.free.empty():
            _reader, writer = self.free.get_nowait()
            writer.close()

    async def request(
        self,
        method: str,
        path: str,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> RawResponse:
        if params:
            path = f"{path}?{urlencode(params)}"
        body = b"" if json is None else dumps(json).encode()
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{KEY_HEADER}: {self.key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        reader, writer = await self.free.get()
        try:
            writer.write(head.encode() + body)
            status, text = await _read_response(reader)
        except (OSError, asyncio.IncompleteReadError):
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            raise
        finally:
            self.free.put_nowait((reader, writer))
        return RawResponse(status, text)

    async def post(self, path: str, json: dict[str, Any]) -> RawResponse:
        return await self.request("POST", path, json=json)


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, str]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    status = int(head.split(" ", 2)[1])
    length = 0
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    body = await reader.readexactly(length) if length else b""
    return status, body[:200].decode(errors="replace")


class Load:
    def __init__(self, client: RawPool, names: list[str], seed: int) -> None:
        self.client = client
        self.names = names
        self.random = random.Random(seed)
        self.statuses: Counter[str] = Counter()
        self.kinds: Counter[str] = Counter()
        self.latencies: list[float] = []
        self.timeline: list[tuple[float, float]] = []  # (due, latency ms)
        self.start = time.monotonic()
        self.error_samples: list[str] = []
        self.created = 0
        self.versions: dict[str, int] = {}
        self.in_flight = 0
        self.skipped = 0

    def pick(self) -> tuple[str, str, str, dict[str, Any] | None, dict[str, str] | None]:
        roll = self.random.random()
        if roll < 0.70:
            name = self.random.choice(self.names)
            return "read", "GET", f"{BASE}/{quote(name, safe='')}", None, None
        if roll < 0.90:
            pages = max(1, len(self.names) // 20)
            params = {"limit": "20", "page": str(self.random.randint(1, pages))}
            return "list", "GET", BASE, None, params
        if roll < 0.95:
            self.created += 1
            name = f"soak new {self.created:07d}"
            return "create", "POST", BASE, event_body(name, 1), None
        name = self.random.choice(self.names)
        version = self.versions.get(name, 1) + 1
        self.versions[name] = version
        return "update", "POST", f"{BASE}/{quote(name, safe='')}", event_body(name, version), None

    async def one(self, due: float) -> None:
        kind, method, path, body, params = self.pick()
        self.kinds[kind] += 1
        self.in_flight += 1
        try:
            response = await self.client.request(method, path, json=body, params=params)
            status = str(response.status_code)
            if kind == "create" and response.status_code == 201:
                self.names.append(body["name"])  # type: ignore[index]
            failed = not (200 <= response.status_code < 300 or response.status_code == 429)
            if failed and len(self.error_samples) < 20:
                self.error_samples.append(f"{kind} {status} {response.text[:200]}")
        except (OSError, asyncio.IncompleteReadError) as exc:
            status = f"transport:{type(exc).__name__}"
            if len(self.error_samples) < 20:
                self.error_samples.append(f"{kind} {status}")
        finally:
            self.in_flight -= 1
        self.statuses[status] += 1
        latency = (time.monotonic() - due) * 1000
        self.latencies.append(latency)
        self.timeline.append((due - self.start, latency))


async def drive(base_url: str, key: str, pid: int, minutes: float, rate: float) -> dict:
    client = RawPool(int(base_url.rsplit(":", 1)[1]), key, CONNECTIONS)
    await client.open()
    try:
        names = [f"soak seed {i:05d}" for i in range(SEED_EVENTS)]
        for name in names:
            response = await client.post(BASE, json=event_body(name, 1))
            if response.status_code != 201:
                raise SystemExit(f"seeding failed: {response.status_code} {response.text}")
        load = Load(client, names, seed=20260601)
        samples: list[tuple[float, float]] = []
        duration = minutes * 60
        total = int(duration * rate)
        tasks: set[asyncio.Task[None]] = set()
        start = load.start = time.monotonic()
        next_sample = start
        for i in range(total):
            due = start + i / rate
            now = time.monotonic()
            if now >= next_sample:
                value = rss_mb(pid)
                if value is not None:
                    samples.append((now - start, value))
                next_sample += RSS_EVERY_S
            if due > now:
                await asyncio.sleep(due - now)
            if load.in_flight >= MAX_IN_FLIGHT:
                load.skipped += 1  # the server cannot keep up; counted, not queued
                continue
            task = asyncio.create_task(load.one(due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(tasks, timeout=60)
        elapsed = time.monotonic() - start
        final = rss_mb(pid)
        if final is not None:
            samples.append((elapsed, final))
    finally:
        await client.close()
    latencies = sorted(load.latencies)
    errors = sum(
        count for status, count in load.statuses.items()
        if not (status.startswith("2") or status == "429")
    ) + load.skipped  # fmt: skip
    warm = [s for s in samples if s[0] >= 60] or samples
    middle = min(samples, key=lambda s: abs(s[0] - elapsed / 2)) if samples else (0, None)
    return {
        "requests": sum(load.statuses.values()),
        "seconds": round(elapsed, 1),
        "achieved_rate": round(sum(load.statuses.values()) / elapsed, 1),
        "by_kind": dict(load.kinds),
        "by_status": dict(sorted(load.statuses.items())),
        "errors": errors,
        "skipped_overload": load.skipped,
        "error_samples": load.error_samples,
        "p50_ms": round(percentile(latencies, 0.50), 2),
        "p95_ms": round(percentile(latencies, 0.95), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "max_ms": round(latencies[-1], 2) if latencies else None,
        "rss_start_mb": round(samples[0][1], 1) if samples else None,
        "rss_middle_mb": round(middle[1], 1) if middle[1] is not None else None,
        "rss_end_mb": round(samples[-1][1], 1) if samples else None,
        "rss_slope_mb_per_min_after_1min": round(slope_mb_per_min(warm), 3),
        "rss_samples": [(round(t, 1), round(r, 1)) for t, r in samples],
        "events_at_end": len(load.names),
        "per_minute": per_minute(load.timeline, samples),
    }


def create_key(database_url: str) -> str:
    from qualevents.keys import KeyService
    from qualevents.store import open_store

    store = open_store(database_url)
    try:
        return KeyService(store).create("soak")[1]
    finally:
        store.close()


def wait_ready(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:  # bounded readiness polling
        if process.poll() is not None:
            raise SystemExit(f"server exited ({process.returncode}):\n{log.read_text()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base_url}/-/health", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise SystemExit(f"server not ready in {STARTUP_S}s:\n{log.read_text()}")


def print_table(result: dict[str, Any], config: dict[str, Any]) -> None:
    rows = [
        ("database", config["database"]),
        ("rate limit", config["rate_limit"]),
        ("target rate", f"{config['rate']:g}/s for {config['minutes']:g} min"),
        ("requests", f"{result['requests']} ({result['achieved_rate']}/s achieved)"),
        ("by kind", ", ".join(f"{k} {v}" for k, v in sorted(result["by_kind"].items()))),
        ("by status", ", ".join(f"{k}: {v}" for k, v in result["by_status"].items())),
        ("errors (not 2xx/429)", str(result["errors"])),
        ("latency p50/p95/p99", f"{result['p50_ms']} / {result['p95_ms']} / {result['p99_ms']} ms"),
        ("latency max", f"{result['max_ms']} ms"),
        (
            "RSS start/middle/end",
            f"{result['rss_start_mb']} / {result['rss_middle_mb']} / {result['rss_end_mb']} MB",
        ),
        ("RSS slope after 1 min", f"{result['rss_slope_mb_per_min_after_1min']} MB/min"),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    print("minute  answered  p99 ms  RSS MB")
    for row in result["per_minute"]:
        print(f"{row['minute']:>6}  {row['answered']:>8}  {row['p99_ms']:>6}  {row['rss_mb']}")
    for sample in result["error_samples"][:5]:
        print("  error:", sample)


def bare_throughput(workdir: Path) -> float:
    """Requests per second the bare endpoint answers (wrk, 50 connections, 3 s)."""
    sys.path.insert(0, str(HERE))
    import api as api_bench  # bench/api.py

    port = free_port()
    server = api_bench.Server(
        api_bench.uvicorn_argv("_bare_app:app", port), api_bench.server_env(None), port, workdir
    )
    try:
        server.wait_ready("/bare")
        request = api_bench.Request("GET", "/bare")
        api_bench.run_wrk(port, request, 1.0, 50, workdir)
        raw = api_bench.run_wrk(port, request, 3.0, 50, workdir)
    finally:
        server.stop()
    return raw["requests"] / raw["seconds"]


def soak_bare(minutes: float, rate: float, workdir: Path) -> dict[str, Any]:
    sys.path.insert(0, str(HERE))
    import api as api_bench  # bench/api.py

    port = free_port()
    server = api_bench.Server(
        api_bench.uvicorn_argv("_bare_app:app", port), api_bench.server_env(None), port, workdir
    )
    try:
        server.wait_ready("/bare")
        return asyncio.run(
            drive(f"http://127.0.0.1:{port}", "unused", server.process.pid, minutes, rate)
        )
    finally:
        server.stop()


def compare_bare(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="qualevents-soak-") as tmp:
        workdir = Path(tmp)
        bare_rps = bare_throughput(workdir)
        rate = args.rate_given or round(bare_rps / 10, 1)
        print(f"bare endpoint: {bare_rps:,.0f} req/s; offered rate {rate:g}/s", flush=True)
        bare = soak_bare(args.minutes, rate, workdir)
        database_url = args.database_url or f"sqlite:///{tmp}/soak.db"
        ours = soak_qualevents(database_url, args.minutes, rate, args.rate_limit, workdir)
    ratio = ours["p99_ms"] / bare["p99_ms"] if bare["p99_ms"] else float("nan")
    print(f"{'':12}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'achieved/s':>12}")
    for label, result in (("bare", bare), ("qualevents", ours)):
        print(
            f"{label:12}{result['p50_ms']:>9}{result['p99_ms']:>9}{result['errors']:>8}"
            f"{result['achieved_rate']:>12}"
        )
    print(
        f"p99 ratio qualevents/bare: {ratio:.2f} (target <= 3): {'PASS' if ratio <= 3 else 'FAIL'}"
    )
    output = {
        "mode": "compare-bare",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "bare_req_per_s": round(bare_rps, 1),
        "rate": rate,
        "minutes": args.minutes,
        "database": "sqlite (temp file)" if args.database_url is None else "given URL",
        "bare": {k: v for k, v in bare.items() if k not in ("rss_samples", "per_minute")},
        "qualevents": {k: v for k, v in ours.items() if k not in ("rss_samples", "per_minute")},
        "p99_ratio": round(ratio, 2),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(output, indent=2) + "\n")
    print(f"wrote {args.output}")
    sys.exit(0 if ratio <= 3 and not ours["errors"] else 1)


def soak_qualevents(
    database_url: str, minutes: float, rate: float, rate_limit: str, workdir: Path
) -> dict[str, Any]:
    key = create_key(database_url)
    port = free_port()
    command, env = server_command(port, database_url, rate_limit)
    log = workdir / f"server-{port}.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            command, stdout=log_file, stderr=subprocess.STDOUT, cwd=workdir, env=env
        )
        try:
            base_url = f"http://127.0.0.1:{port}"
            wait_ready(base_url, process, log)
            return asyncio.run(drive(base_url, key, process.pid, minutes, rate))
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second")
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    parser.add_argument("--rate-limit", default="off", help="off (default), statsig, N/S,...")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument(
        "--compare-bare", action="store_true", help="the same load on the bare app first"
    )
    args = parser.parse_args()
    if not 0 < args.minutes <= 120 or not 0 < args.rate <= 5000:
        parser.error("--minutes must be in (0, 120] and --rate in (0, 5000]")
    if args.compare_bare:
        args.rate_given = args.rate if "--rate" in sys.argv else None
        compare_bare(args)
        return
    with tempfile.TemporaryDirectory(prefix="qualevents-soak-") as tmp:
        database_url = args.database_url or f"sqlite:///{tmp}/soak.db"
        key = create_key(database_url)
        port = free_port()
        command, env = server_command(port, database_url, args.rate_limit)
        log = Path(tmp) / "server.log"
        with log.open("wb") as log_file:
            process = subprocess.Popen(
                command, stdout=log_file, stderr=subprocess.STDOUT, cwd=tmp, env=env
            )
            try:
                base_url = f"http://127.0.0.1:{port}"
                wait_ready(base_url, process, log)
                result = asyncio.run(drive(base_url, key, process.pid, args.minutes, args.rate))
            finally:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        server_log_tail = log.read_text(errors="replace")[-2000:]
    config = {
        "minutes": args.minutes,
        "rate": args.rate,
        "rate_limit": args.rate_limit,
        "database": "sqlite (temp file)" if args.database_url is None else "given URL",
        "server": "qualevents serve" if command[1] == "-m" else "create_app via uvicorn",
        "workers": 1,
        "mix": {"read": 0.70, "list": 0.20, "create": 0.05, "update": 0.05},
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    print_table(result, config)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    output = {"config": config, "result": result, "server_log_tail": server_log_tail}
    args.output.write_text(json.dumps(output, indent=2) + "\n")
    print(f"wrote {args.output}")
    sys.exit(1 if result["errors"] else 0)


if __name__ == "__main__":
    main()
