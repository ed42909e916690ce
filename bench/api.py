"""API throughput, latency and memory: ``python bench/api.py [--quick]``.

Starts the server as a subprocess (1 uvicorn worker on a free loopback port) and drives it
from a load generator on loopback (``wrk`` when installed, else a Python asyncio socket
client), 50 concurrent keep-alive connections, a bounded time per case:

- bare:   a FastAPI endpoint returning a constant JSON object, served the same way (baseline)
- read:   GET one qualifying event
- list:   GET 100 events per page (pages 1..100 in turn) with 10,000 events stored
- create: POST new events (unique names, one definition: its SQL is validated once)
- create-new-sql: the same with SQL that differs in every request (parsed every time)
- metric-read, metric-list: the read and the list of metric sources (10,000 stored beside
  the events, the same documents): the same code path, so the same numbers within noise

for SQLite (a temporary file) and PostgreSQL (a fresh database on 127.0.0.1:5432 that the
script creates and drops). Events and the console key are written straight through the store
and ``KeyService`` before the server starts. Peak RSS is the server's VmHWM from /proc.
Prints a table and writes ``bench/results/api.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "api.json"
BASE = "/console/v1/experiments/qualifying_events"
METRIC_BASE = "/console/v1/metrics/metric_source"
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
SEED_COUNT = 10_000
PAGE_SIZE = 100
READ_NAME = "bench_event_05000"
KEY_HEADER = "STATSIG-API-KEY"

# Targets (PASS/FAIL column): what a plain, declared FastAPI app reaches, as a share of the
# bare endpoint's req/s in the same run (issue 9).
MIN_RATIO_TO_BARE = {
    "read": 0.30,
    "list": 0.10,
    "create": 0.05,
    "metric-read": 0.30,
    "metric-list": 0.10,
}
MAX_RSS_MB = 150.0


@dataclass
class CaseResult:
    backend: str
    case: str
    requests: int
    seconds: float
    req_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    server_cpu_us_per_req: float | None = None
    ratio_to_bare: float | None = None
    server_peak_rss_mb: float | None = None


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    # create: body template with "{name}" replaced by a unique name per request
    body_template: str | None = None
    # list: path gets "&page=N" cycling over 1..pages
    pages: int = 0


# -- machine and servers -------------------------------------------------------------------


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A server subprocess on 127.0.0.1:port; ``peak_rss_mb`` reads its VmHWM."""

    def __init__(self, argv: list[str], env: dict[str, str], port: int, cwd: Path) -> None:
        self.port = port
        self.log_path = cwd / f"server-{port}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, path: str, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        url = f"http://127.0.0.1:{self.port}{path}"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(url, timeout=1):
                    return
            except urllib.error.HTTPError:
                return  # it answers
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"server not ready after {timeout_s}s: {self.log_path.read_text()}")

    def _status_kb(self, field_name: str) -> int | None:
        try:
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
        except OSError:
            return None
        return None

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far (/proc/<pid>/stat)."""
        try:
            stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        except OSError:
            return float("nan")
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_mb(self) -> float | None:
        kb = self._status_kb("VmHWM")
        return round(kb / 1024, 1) if kb is not None else None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def server_env(database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUALEVENTS_")}
    env["QUALEVENTS_RATE_LIMIT"] = "off"
    env["QUALEVENTS_WAREHOUSE_URL"] = "none"
    if database_url is not None:
        env["QUALEVENTS_DATABASE_URL"] = database_url
    return env


def uvicorn_argv(target: str, port: int) -> list[str]:
    # Same options as ``qualevents serve``: 1 worker, auto loop/http (uvloop, httptools),
    # no proxy headers; log level warning (no access log) for every server alike.
    return [
        sys.executable,
        "-m",
        "uvicorn",
        target,
        "--app-dir",
        str(HERE),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--log-level",
        "warning",
        "--no-proxy-headers",
    ]


def start_qualevents(database_url: str, workdir: Path) -> Server:
    port = free_port()
    argv = [
        sys.executable, "-m", "qualevents", "serve", "--host", "127.0.0.1", "--port", str(port),
        "--warehouse-url", "none", "--database-url", database_url, "--workers", "1",
        "--log-level", "warning",
    ]  # fmt: skip
    server = Server(argv, server_env(database_url), port, workdir)
    server.wait_ready("/-/health")
    return server


# -- data ----------------------------------------------------------------------------------


def event_document(name: str, *, new_sql: bool = False) -> dict[str, Any]:
    """A realistic definition (wire names), the body of a create. ``new_sql``: the SQL names
    the event too, so no two creates send the same SQL (nothing is reused from validation)."""
    source = f" AND source = '{name}'" if new_sql else ""
    return {
        "name": name,
        "description": "Checkout sessions by signed-in users, one row per purchase",
        "tags": ["checkout", "bench"],
        "sql": "SELECT user_id, stable_id, ts, amount, country FROM analytics.purchases "
        "WHERE status = 'complete'" + source,
        "timestampColumn": "ts",
        "idTypeMapping": [
            {"statsigUnitID": "userID", "column": "user_id"},
            {"statsigUnitID": "stableID", "column": "stable_id"},
        ],
        "customFieldMapping": [
            {"key": "amount", "formula": "amount"},
            {"key": "country", "formula": "upper(country)"},
        ],
    }


def seed(database_url: str, count: int) -> str:
    """``count`` events, as many metric sources, and a full-access key, straight through the
    store; the key's secret."""
    from qualevents.api.convert import event_from_body
    from qualevents.keys import KeyService
    from qualevents.store import open_store
    from qualevents.store.base import Actor
    from qualevents.wire import CreateBody

    store = open_store(database_url)
    try:
        key, secret = KeyService(store).create("bench")
        actor = Actor(key_id=key.id, key_name=key.name)
        events = []
        for i in range(count):
            document = event_document(f"bench_event_{i:05d}")
            body = CreateBody.model_validate_json(json.dumps(document))
            events.append(event_from_body(body, body.name))
        # The store's own insert (event + revision), in batches: one transaction per event
        # would make seeding PostgreSQL take longer than the measurements.
        for kind in ("qualifying_event", "metric_source"):
            of_kind = store.for_kind(kind)
            for start in range(0, count, 1000):
                with of_kind._write() as conn:
                    for event in events[start : start + 1000]:
                        of_kind._insert_in(conn, event, actor, "create")
        return secret
    finally:
        store.close()


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    import sqlalchemy as sa

    name = f"qualevents_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield f"{PG_SERVER}/{name}"
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def postgres_available() -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", 5432)) == 0


# -- load generators -----------------------------------------------------------------------

WRK_LUA = r"""
local method, base, pages = "__METHOD__", "__PATH__", __PAGES__
local body_template, prefix = __BODY__, "__PREFIX__"
__HEADERS__
local counter = 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function request()
  counter = counter + 1
  local path = base
  if pages > 0 then
    path = base .. "&page=" .. tostring((counter % pages) + 1)
  end
  if body_template ~= nil then
    local name = prefix .. "_" .. tostring(tid) .. "_" .. tostring(counter)
    return wrk.format(method, path, nil, (body_template:gsub("{name}", name)))
  end
  return wrk.format(method, path)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_JSON {\"requests\":%d,\"duration_us\":%d,\"p50_us\":%d,\"p99_us\":%d," ..
    "\"non_2xx\":%d,\"socket_errors\":%d}\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
"""


def _lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid Lua string literal here


def wrk_script(request: Request, prefix: str) -> str:
    headers = "\n".join(
        f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}" for k, v in request.headers.items()
    )
    body = _lua_string(request.body_template) if request.body_template is not None else "nil"
    return (
        WRK_LUA.replace("__METHOD__", request.method)
        .replace("__PATH__", request.path)
        .replace("__PAGES__", str(request.pages))
        .replace("__BODY__", body)
        .replace("__PREFIX__", prefix)
        .replace("__HEADERS__", headers)
    )


def run_wrk(
    port: int, request: Request, seconds: float, connections: int, workdir: Path
) -> dict[str, Any]:
    prefix = f"bench_{uuid.uuid4().hex[:8]}"
    script = workdir / f"{prefix}.lua"
    script.write_text(wrk_script(request, prefix))
    argv = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}{request.path}",
    ]
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            raw = json.loads(line.removeprefix("BENCH_JSON "))
            return {
                "requests": raw["requests"],
                "seconds": raw["duration_us"] / 1e6,
                "p50_ms": raw["p50_us"] / 1000,
                "p99_ms": raw["p99_us"] / 1000,
                "non_2xx": raw["non_2xx"],
                "socket_errors": raw["socket_errors"],
            }
    raise RuntimeError(f"wrk printed no result: {done.stdout}\n{done.stderr}")


def _raw_request(request: Request, port: int, prefix: str) -> Callable[[int], bytes]:
    head = "".join(f"{k}: {v}\r\n" for k, v in request.headers.items())

    def build(n: int) -> bytes:
        path = request.path
        if request.pages:
            path += f"&page={n % request.pages + 1}"
        body = b""
        if request.body_template is not None:
            body = request.body_template.replace("{name}", f"{prefix}_{n}").encode()
        return (
            f"{request.method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{head}"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body

    return build


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readline()).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


async def _python_load(
    port: int, request: Request, seconds: float, connections: int
) -> dict[str, Any]:
    build = _raw_request(request, port, f"bench_{uuid.uuid4().hex[:8]}")
    counter = iter(range(1 << 62))
    latencies: list[float] = []
    failures = {"non_2xx": 0, "socket_errors": 0}
    deadline = time.perf_counter() + seconds

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline:
                payload = build(next(counter))
                started = time.perf_counter()
                writer.write(payload)
                status = await _read_response(reader)
                latencies.append(time.perf_counter() - started)
                if not 200 <= status < 400:
                    failures["non_2xx"] += 1
        except (OSError, asyncio.IncompleteReadError):
            failures["socket_errors"] += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def percentile(p: float) -> float:
        if not latencies:
            return float("nan")
        return latencies[min(len(latencies) - 1, int(len(latencies) * p / 100))] * 1000

    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "p50_ms": percentile(50),
        "p99_ms": percentile(99),
        **failures,
    }


def run_python(
    port: int, request: Request, seconds: float, connections: int, _workdir: Path
) -> dict[str, Any]:
    try:
        import uvloop

        return uvloop.run(_python_load(port, request, seconds, connections))
    except ImportError:
        return asyncio.run(_python_load(port, request, seconds, connections))


# -- the run -------------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.seconds = args.seconds or (2.0 if args.quick else 8.0)
        self.warmup = 0.5 if args.quick else 2.0
        self.connections = args.connections
        self.workdir = workdir
        self.use_wrk = shutil.which("wrk") is not None and not args.python_load
        self.load = run_wrk if self.use_wrk else run_python
        self.results: list[CaseResult] = []
        self.cases = {c.strip() for c in args.cases.split(",")}

    def measure(self, server: Server, backend: str, case: str, request: Request) -> CaseResult:
        self.load(server.port, request, self.warmup, self.connections, self.workdir)
        cpu_before = server.cpu_seconds()
        raw = self.load(server.port, request, self.seconds, self.connections, self.workdir)
        cpu = server.cpu_seconds() - cpu_before
        result = CaseResult(
            backend=backend,
            case=case,
            requests=raw["requests"],
            seconds=round(raw["seconds"], 2),
            req_per_s=round(raw["requests"] / raw["seconds"], 1),
            p50_ms=round(raw["p50_ms"], 2),
            p99_ms=round(raw["p99_ms"], 2),
            non_2xx=raw["non_2xx"],
            socket_errors=raw["socket_errors"],
            server_cpu_us_per_req=round(cpu / max(1, raw["requests"]) * 1e6),
        )
        self.results.append(result)
        print(
            f"  {backend:10} {case:11} {result.req_per_s:9.1f} req/s  p50 {result.p50_ms:.2f} ms"
            f"  p99 {result.p99_ms:.2f} ms  non-2xx {result.non_2xx}"
            f"  server CPU {result.server_cpu_us_per_req:,.0f} us/req",
            file=sys.stderr,
            flush=True,
        )
        return result

    def bare(self) -> None:
        port = free_port()
        server = Server(uvicorn_argv("_bare_app:app", port), server_env(None), port, self.workdir)
        try:
            server.wait_ready("/bare")
            result = self.measure(server, "bare", "bare", Request("GET", "/bare"))
            result.server_peak_rss_mb = server.peak_rss_mb()
        finally:
            server.stop()

    def qualevents(self, backend: str, database_url: str) -> None:
        started = time.monotonic()
        secret = seed(database_url, SEED_COUNT)
        print(
            f"  {backend}: seeded {SEED_COUNT} events in {time.monotonic() - started:.1f}s",
            file=sys.stderr,
        )
        auth = {KEY_HEADER: secret}
        server = start_qualevents(database_url, self.workdir)
        try:
            cases = [
                ("read", Request("GET", f"{BASE}/{READ_NAME}", auth)),
                (
                    "list",
                    Request(
                        "GET", f"{BASE}?limit={PAGE_SIZE}", auth, pages=SEED_COUNT // PAGE_SIZE
                    ),
                ),
                (
                    "create",
                    Request(
                        "POST",
                        BASE,
                        {**auth, "Content-Type": "application/json"},
                        body_template=json.dumps(event_document("{name}")),
                    ),
                ),
                (
                    "create-new-sql",
                    Request(
                        "POST",
                        BASE,
                        {**auth, "Content-Type": "application/json"},
                        body_template=json.dumps(event_document("{name}", new_sql=True)),
                    ),
                ),
            ]
            cases += [
                ("metric-read", Request("GET", f"{METRIC_BASE}/{READ_NAME}", auth)),
                (
                    "metric-list",
                    Request(
                        "GET",
                        f"{METRIC_BASE}/list?limit={PAGE_SIZE}",
                        auth,
                        pages=SEED_COUNT // PAGE_SIZE,
                    ),
                ),
            ]
            for case, request in cases:
                if case not in self.cases:
                    continue
                result = self.measure(server, backend, case, request)
                result.server_peak_rss_mb = server.peak_rss_mb()
        finally:
            server.stop()


def targets(results: list[CaseResult]) -> list[dict[str, Any]]:
    bare = next((r for r in results if r.case == "bare"), None)
    rows: list[dict[str, Any]] = []
    for r in results:
        if r.case == "bare":
            continue
        name = f"{r.backend} {r.case}"
        if bare is not None:
            r.ratio_to_bare = round(r.req_per_s / bare.req_per_s, 3)
        goal = MIN_RATIO_TO_BARE.get(r.case)
        if goal is not None and r.ratio_to_bare is not None:
            rows.append(
                {
                    "target": f"{name}: req/s >= {goal:.2f}x bare",
                    "measured": f"{r.ratio_to_bare:.2f}x",
                    "pass": r.ratio_to_bare >= goal,
                }
            )
        if r.non_2xx or r.socket_errors:
            rows.append(
                {
                    "target": f"{name}: no failed requests",
                    "measured": f"{r.non_2xx} non-2xx, {r.socket_errors} socket errors",
                    "pass": False,
                }
            )
    for backend in dict.fromkeys(r.backend for r in results if r.backend != "bare"):
        peak = max((r.server_peak_rss_mb or 0) for r in results if r.backend == backend)
        rows.append(
            {
                "target": f"{backend} server peak RSS < {MAX_RSS_MB:g} MB",
                "measured": f"{peak:.1f} MB",
                "pass": peak < MAX_RSS_MB,
            }
        )
    return rows


def print_report(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(Console().width, 120))
    table = Table(
        title=f"API, {report['concurrency']} connections, {report['seconds_per_case']:g} s per "
        f"case, load: {report['load_generator']}, server: {report['server_launch']}",
        title_justify="left",
    )
    for column in (
        "backend",
        "case",
        "req/s",
        "p50 ms",
        "p99 ms",
        "vs bare",
        "non-2xx",
        "CPU us/req",
        "peak RSS MB",
    ):
        table.add_column(column, justify="left" if column in ("backend", "case") else "right")
    for r in report["results"]:
        table.add_row(
            r["backend"],
            r["case"],
            f"{r['req_per_s']:,.0f}",
            f"{r['p50_ms']:.2f}",
            f"{r['p99_ms']:.2f}",
            f"{r['ratio_to_bare']:.2f}x" if r["ratio_to_bare"] is not None else "",
            str(r["non_2xx"] + r["socket_errors"]),
            f"{r['server_cpu_us_per_req']:,.0f}",
            f"{r['server_peak_rss_mb']:.1f}" if r["server_peak_rss_mb"] else "",
        )
    console.print(table)
    checks = Table("target", "measured", "result", title="Targets", title_justify="left")
    for row in report["targets"]:
        checks.add_row(
            row["target"],
            row["measured"],
            "[green]PASS[/green]" if row["pass"] else "[red]FAIL[/red]",
        )
    console.print(checks)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="~2 s per case instead of 8")
    parser.add_argument("--seconds", type=float, help="seconds per case (overrides --quick)")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument(
        "--backends", default="sqlite,postgres", help="comma-separated: sqlite, postgres"
    )
    parser.add_argument(
        "--cases",
        default="read,list,metric-read,metric-list,create,create-new-sql",
        help="comma-separated",
    )
    parser.add_argument(
        "--python-load", action="store_true", help="use the Python generator even with wrk"
    )
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]

    with tempfile.TemporaryDirectory(prefix="qualevents-bench-") as tmp:
        workdir = Path(tmp)
        bench = Bench(args, workdir)
        print(f"load generator: {'wrk' if bench.use_wrk else 'python'}", file=sys.stderr)
        bench.bare()
        if "sqlite" in backends:
            bench.qualevents("sqlite", f"sqlite:///{workdir / 'bench.db'}")
        if "postgres" in backends:
            if postgres_available():
                with postgres_database() as url:
                    bench.qualevents("postgres", url)
            else:
                print("  postgres: nothing listening on 127.0.0.1:5432, skipped", file=sys.stderr)

    checks = targets(bench.results)
    report = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"nproc": os.cpu_count(), "cpu": cpu_model(), "python": sys.version.split()[0]},
        "load_generator": "wrk -t1 (Lua script)" if bench.use_wrk else "python asyncio sockets",
        "server_launch": "qualevents serve",
        "concurrency": bench.connections,
        "seconds_per_case": bench.seconds,
        "seeded_events": SEED_COUNT,
        "results": [asdict(r) for r in bench.results],
        "targets": checks,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print_report(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
