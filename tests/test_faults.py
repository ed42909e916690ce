"""Faults: the real server, killed or cut off from its database in the middle of a stream of
writes.

- SQLite: ``kill -9`` after N acknowledged writes, restart: every acknowledged write is
  there with its acknowledged content, each event's history has exactly one revision per
  write (no half-written revision) and ``PRAGMA integrity_check`` says ok.
- PostgreSQL: a private cluster (never the machine's shared server) stopped with
  ``pg_ctl stop -m immediate`` while a client streams requests: every answer during the
  outage is a 503 in the contract's shape (not a 500, not a hang), and after
  ``pg_ctl start`` requests succeed again and every acknowledged write is there.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from qualevents.keys import KeyService
from qualevents.store import open_store
from tests.serving import free_port

# Starts real servers (and clusters): deselect with -m "not slow".
pytestmark = pytest.mark.slow

BASE = "/console/v1/experiments/qualifying_events"
STARTUP_S = 60
CLIENT_TIMEOUT_S = 10
WRITERS = 4
KILL_AFTER_ACKS = 120


def event_body(name: str, version: int) -> dict[str, Any]:
    return {
        "name": name,
        "description": f"version {version}",
        "sql": f"SELECT user_id, ts FROM events WHERE v = {version}",
        "timestampColumn": "ts",
        "idTypeMapping": [{"statsigUnitID": "userID", "column": "user_id"}],
    }


def assert_error_shape(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status
    assert isinstance(body["message"], str) and body["message"]
    assert body["errors"] and all(
        isinstance(item["property"], str) and isinstance(item["errorMessage"], str)
        for item in body["errors"]
    )


@dataclass
class Server:
    database_url: str
    workdir: Path
    log_level: str = "warning"
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"server-{self.port}.log"

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("QUALEVENTS_")}
        command = [
            sys.executable, "-m", "qualevents", "serve", "--port", str(self.port),
            "--database-url", self.database_url, "--warehouse-url", "none",
            "--log-level", self.log_level,
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir, env=env
            )
        deadline = time.monotonic() + STARTUP_S
        while True:  # readiness polling, bounded by the deadline
            if self.process.poll() is not None:
                pytest.fail(f"server exited ({self.process.returncode}):\n{self.log()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.base_url}/-/health", timeout=1).status_code == 200:
                    return
            if time.monotonic() > deadline:
                pytest.fail(f"server not ready in {STARTUP_S}s:\n{self.log()}")
            time.sleep(0.05)

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""


@pytest.fixture
def workdir() -> Iterator[Path]:
    # Under /tmp directly, not pytest's tmp_path: the PostgreSQL test hands it to the
    # postgres OS user, who cannot traverse root's 0700 pytest directories.
    path = Path(tempfile.mkdtemp(prefix="qualevents-faults-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def new_key(database_url: str) -> str:
    store = open_store(database_url)
    try:
        return KeyService(store).create("faults")[1]
    finally:
        store.close()


# -- SQLite: kill -9 mid-stream --------------------------------------------------------


@dataclass
class WriterLog:
    """What one writer thread was told: per event, the acknowledged bodies in order, and the
    one write in doubt (sent, never answered) when the server died."""

    acknowledged: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    in_doubt: tuple[str, dict[str, Any]] | None = None
    unexpected: list[str] = field(default_factory=list)


class Acks:
    def __init__(self, target: int) -> None:
        self.count = 0
        self.target = target
        self.lock = threading.Lock()
        self.reached = threading.Event()

    def add(self) -> None:
        with self.lock:
            self.count += 1
            if self.count >= self.target:
                self.reached.set()


def write_stream(base_url: str, key: str, writer: int, log: WriterLog, acks: Acks) -> None:
    """Create events and update them (every event gets up to 3 writes), until the server
    stops answering."""
    with httpx.Client(
        base_url=base_url, headers={"STATSIG-API-KEY": key}, timeout=CLIENT_TIMEOUT_S
    ) as http:
        for i in range(100_000):
            name = f"w{writer} event {i // 3:05d}"
            version = i % 3 + 1
            body = event_body(name, version)
            if version == 1:
                method, path, expected = "POST", BASE, 201
            else:
                method, path, expected = "POST", f"{BASE}/{quote(name, safe='')}", 200
            log.in_doubt = (name, body)
            try:
                response = http.request(method, path, json=body)
            except httpx.TransportError:
                return  # the server is gone; the write just sent is in doubt
            log.in_doubt = None
            if response.status_code != expected:
                log.unexpected.append(f"{method} {path}: {response.status_code} {response.text}")
                return
            log.acknowledged.setdefault(name, []).append(body)
            acks.add()


def test_kill_9_during_writes_loses_no_acknowledged_write(workdir: Path) -> None:
    database = workdir / "q.db"
    database_url = f"sqlite:///{database}"
    key = new_key(database_url)
    server = Server(database_url, workdir)
    logs = [WriterLog() for _ in range(WRITERS)]
    acks = Acks(KILL_AFTER_ACKS)
    threads = [
        threading.Thread(target=write_stream, args=(server.base_url, key, n, logs[n], acks))
        for n in range(WRITERS)
    ]
    try:
        server.start()
        for thread in threads:
            thread.start()
        assert acks.reached.wait(timeout=120), f"only {acks.count} writes acknowledged"
        server.kill()  # mid-stream: the writers are still sending
        for thread in threads:
            thread.join(timeout=CLIENT_TIMEOUT_S * 2)
            assert not thread.is_alive()
        assert not [u for log in logs for u in log.unexpected]
        acknowledged = sum(len(v) for log in logs for v in log.acknowledged.values())
        assert acknowledged >= KILL_AFTER_ACKS

        server = Server(database_url, workdir)
        server.start()
        with httpx.Client(
            base_url=server.base_url, headers={"STATSIG-API-KEY": key}, timeout=CLIENT_TIMEOUT_S
        ) as http:
            for log in logs:
                for name, bodies in log.acknowledged.items():
                    check_recovered(http, name, bodies, log.in_doubt)
                if log.in_doubt and log.in_doubt[0] not in log.acknowledged:
                    # A create in doubt: absent, or present exactly as sent.
                    name, body = log.in_doubt
                    response = http.get(f"{BASE}/{quote(name, safe='')}")
                    assert response.status_code in (200, 404), response.text
                    if response.status_code == 200:
                        check_recovered(http, name, [body], None)
        in_doubt = sum(log.in_doubt is not None for log in logs)
        print(
            f"\nkill -9: {acknowledged} writes acknowledged before the kill, all recovered; "
            f"{in_doubt} in doubt; {sum(len(log.acknowledged) for log in logs)} events"
        )
    finally:
        server.stop()
    with sqlite3.connect(database) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        # Every event row points at its latest revision, and revisions are 1..n, no gaps.
        broken = conn.execute(
            """
            SELECT e.name, e.revision, r.top, r.n
            FROM qualifying_events e
            JOIN (SELECT event_name, max(revision) AS top, count(*) AS n
                  FROM revisions GROUP BY event_name) r ON r.event_name = e.name
            WHERE e.revision != r.top OR r.top != r.n
            """
        ).fetchall()
        assert broken == []
        orphans = conn.execute(
            "SELECT count(*) FROM revisions WHERE event_name NOT IN "
            "(SELECT name FROM qualifying_events)"
        ).fetchone()
        assert orphans == (0,)


def check_recovered(
    http: httpx.Client,
    name: str,
    bodies: list[dict[str, Any]],
    in_doubt: tuple[str, dict[str, Any]] | None,
) -> None:
    """The event reads back as its last acknowledged write (or as the write in doubt, if that
    one committed), with one revision per write, each revision equal to what was sent."""
    expected = list(bodies)
    if in_doubt is not None and in_doubt[0] == name:
        response = http.get(f"{BASE}/{quote(name, safe='')}/-/revisions", params={"limit": 1000})
        if (
            response.status_code == 200
            and response.json()["pagination"]["totalItems"] == len(bodies) + 1
        ):
            expected.append(in_doubt[1])
    response = http.get(f"{BASE}/{quote(name, safe='')}")
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    for field_name in ("name", "description", "sql", "timestampColumn", "idTypeMapping"):
        assert data[field_name] == expected[-1][field_name], (name, field_name)
    assert response.headers["ETag"] == f'"{len(expected)}"'
    history = http.get(f"{BASE}/{quote(name, safe='')}/-/revisions", params={"limit": 1000})
    assert history.status_code == 200, history.text
    revisions = history.json()["data"]
    assert [r["revision"] for r in revisions] == list(range(1, len(expected) + 1))
    assert [r["action"] for r in revisions] == ["create"] + ["update"] * (len(expected) - 1)
    for revision, body in zip(revisions, expected, strict=True):
        assert revision["data"]["description"] == body["description"]
        assert revision["data"]["sql"] == body["sql"]


# -- PostgreSQL: a private cluster restarted under load ---------------------------------


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


class PrivateCluster:
    """A throwaway PostgreSQL cluster on a free port, run as the postgres OS user when the
    test runs as root (PostgreSQL refuses to run as root)."""

    def __init__(self, bindir: Path, root: Path) -> None:
        self.bindir = bindir
        self.root = root
        self.data = root / "pgdata"
        self.port = free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            self.as_user = ["runuser", "-u", "postgres", "--"]
            postgres = pwd.getpwnam("postgres")
            os.chown(root, postgres.pw_uid, postgres.pw_gid)
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 120) -> None:
        subprocess.run([*self.as_user, *args], check=True, timeout=timeout, capture_output=True)

    def init(self) -> None:
        self._run(
            str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres",
            "--auth=trust", "--no-sync",
        )  # fmt: skip

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", options,
            "-l", str(self.root / "postgres.log"), "start", "-w", "-t", "60",
        )  # fmt: skip

    def stop(self, mode: str = "immediate") -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "stop", "-m", mode, "-w")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


@dataclass
class Outcome:
    at: float
    kind: str
    name: str
    status: int | None  # None: no HTTP answer (transport error or client timeout)
    body: Any


def request_stream(base_url: str, key: str, outcomes: list[Outcome], stop: threading.Event):
    """Alternate creates and reads of the last acknowledged event until told to stop."""
    last_acked: str | None = None
    with httpx.Client(
        base_url=base_url, headers={"STATSIG-API-KEY": key}, timeout=CLIENT_TIMEOUT_S
    ) as http:
        i = 0
        while not stop.is_set():
            i += 1
            if i % 2 or last_acked is None:
                name, kind = f"pg event {i:05d}", "create"
                request = http.build_request("POST", BASE, json=event_body(name, 1))
            else:
                name, kind = last_acked, "read"
                request = http.build_request("GET", f"{BASE}/{quote(name, safe='')}")
            try:
                response = http.send(request)
                status, body = response.status_code, response.json()
            except (httpx.HTTPError, ValueError) as exc:
                status, body = None, repr(exc)
            outcomes.append(Outcome(time.monotonic(), kind, name, status, body))
            if kind == "create" and status == 201:
                last_acked = name


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # bounded polling
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_postgres_restart_under_load_gives_503_then_recovers(workdir: Path) -> None:
    bindir = _postgres_bin()
    if bindir is None:
        pytest.skip("no initdb/pg_ctl on this machine (looked in /usr/lib/postgresql/*/bin)")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' OS user to run a cluster")
    cluster = PrivateCluster(bindir, workdir)
    cluster.init()
    server = Server(cluster.url, workdir)
    outcomes: list[Outcome] = []
    stop = threading.Event()
    stream = threading.Thread(target=request_stream, args=(server.base_url, "", outcomes, stop))
    try:
        cluster.start()
        key = new_key(cluster.url)
        stream = threading.Thread(
            target=request_stream, args=(server.base_url, key, outcomes, stop)
        )
        server.start()
        stream.start()
        wait_for(lambda: sum(o.status == 201 for o in outcomes) >= 20, 60, "20 creates")
        cluster.stop("immediate")
        down_at = time.monotonic()
        wait_for(
            lambda: sum(o.at > down_at for o in outcomes) >= 20, 60, "20 answers during outage"
        )
        # Requests may succeed as soon as PostgreSQL accepts connections, a little before
        # pg_ctl notices and returns: the outage ends when the restart begins.
        restart_at = time.monotonic()
        cluster.start()
        up_at = time.monotonic()
        wait_for(
            lambda: any(o.at > up_at and o.status in (200, 201) for o in outcomes),
            60,
            "a success after the restart",
        )
        wait_for(lambda: sum(o.at > up_at for o in outcomes) >= 20, 60, "20 answers after")
        stop.set()
        stream.join(timeout=CLIENT_TIMEOUT_S * 2)
        assert not stream.is_alive()

        # Never a 500, never a hang: every request got an HTTP answer in time.
        assert [o for o in outcomes if o.status is None] == []
        assert {o.status for o in outcomes} <= {200, 201, 503}
        during = [o for o in outcomes if down_at < o.at < restart_at]
        assert len(during) >= 20
        # The first request after the stop may have been answered before the kill landed;
        # everything later in the outage must be a clean 503.
        for outcome in during[1:]:
            assert outcome.status == 503, outcome
            fake = httpx.Response(503, json=outcome.body)
            assert_error_shape(fake, 503)
        recovered = next(o for o in outcomes if o.at > restart_at and o.status in (200, 201))
        after_first = [o for o in outcomes if o.at > recovered.at]
        assert after_first and all(o.status in (200, 201) for o in after_first), [
            (o.kind, o.status) for o in after_first if o.status not in (200, 201)
        ]
        acknowledged = [o.name for o in outcomes if o.kind == "create" and o.status == 201]
        with httpx.Client(
            base_url=server.base_url, headers={"STATSIG-API-KEY": key}, timeout=CLIENT_TIMEOUT_S
        ) as http:
            listed = http.get(BASE, params={"limit": 1000})
            assert listed.status_code == 200, listed.text
            present = {item["name"] for item in listed.json()["data"]}
        assert set(acknowledged) <= present
        print(
            f"\npostgres restart: {len(acknowledged)} creates acknowledged, "
            f"{sum(o.status == 503 for o in outcomes)} answers 503 during the outage, "
            f"first success {recovered.at - restart_at:.3f} s after pg_ctl start began "
            f"(pg_ctl start -w took {up_at - restart_at:.3f} s)"
        )
    finally:
        stop.set()
        if stream.is_alive():
            stream.join(timeout=CLIENT_TIMEOUT_S * 2)
        server.stop()
        if cluster.running():
            with contextlib.suppress(subprocess.SubprocessError):
                cluster.stop("fast")
