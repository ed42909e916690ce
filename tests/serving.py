"""Start the real ``qualevents serve`` as a subprocess on a free loopback port, for
end-to-end tests. Readiness is polled (bounded); the process is always stopped."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

STARTUP_SECONDS = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerFailed(RuntimeError):
    pass


@contextmanager
def running_server(
    workdir: Path,
    *args: str,
    env: dict[str, str] | None = None,
    startup_s: float = STARTUP_SECONDS,
) -> Iterator[str]:
    """``qualevents serve ARGS`` on a free port (``env``: extra QUALEVENTS_* settings);
    yields its base URL once it answers (within ``startup_s``). Its log is
    ``server-PORT.log`` in ``workdir``."""
    port = free_port()
    log_path = workdir / f"server-{port}.log"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("QUALEVENTS_")},
        **(env or {}),
    }
    command = [sys.executable, "-m", "qualevents", "serve", "--port", str(port), *args]
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, cwd=workdir, env=env
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + startup_s
            while True:  # readiness polling, bounded by the deadline
                if process.poll() is not None:
                    raise ServerFailed(f"server exited:\n{log_path.read_text()[-4000:]}")
                try:
                    if httpx.get(f"{base_url}/-/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise ServerFailed(f"not ready in time:\n{log_path.read_text()[-4000:]}")
                time.sleep(0.05)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
