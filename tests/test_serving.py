"""How ``qualevents serve`` runs uvicorn: access logs never hold a query string (where a key
may have been put), and a client that sends its headers too slowly is answered 408 and
disconnected, against the real server on a loopback port."""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from qualevents.api.serving import DropQueryString
from qualevents.keys import KeyService
from qualevents.store.sql import open_store
from tests.serving import running_server

SECRET_QUERY = "STATSIG-API-KEY=console-leaked"


def test_the_access_log_filter_drops_query_strings():
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", f"/console/v1/audit_logs?{SECRET_QUERY}", "1.1", 401),
        None,
    )
    assert DropQueryString().filter(record)
    assert "console-leaked" not in record.getMessage()
    assert "/console/v1/audit_logs?…" in record.getMessage()


def test_a_served_request_with_a_key_in_the_query_leaves_no_key_in_the_log(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'q.db'}"
    open_store(url).close()
    args = ("--database-url", url, "--warehouse-url", "none", "--log-level", "info")
    with running_server(tmp_path, *args) as base_url:
        response = httpx.get(f"{base_url}/console/v1/experiments/qualifying_events?{SECRET_QUERY}")
        assert response.status_code == 401
        port = urlsplit(base_url).port
    log = (tmp_path / f"server-{port}.log").read_text()
    assert "/console/v1/experiments/qualifying_events?" in log  # the line was logged
    assert "console-leaked" not in log


def test_slow_headers_get_a_408_and_the_connection_closes(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'q.db'}"
    store = open_store(url)
    secret = KeyService(store).create("ci")[1]
    store.close()
    args = ("--database-url", url, "--warehouse-url", "none")
    env = {"QUALEVENTS_HEADER_TIMEOUT_S": "0.5"}
    with running_server(tmp_path, *args, env=env) as base_url:
        port = urlsplit(base_url).port
        with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
            sock.sendall(b"GET /-/health HTTP/1.1\r\nHost: x\r\n")  # never finishes
            answer = b""
            while chunk := sock.recv(4096):  # until the server closes (bounded by timeout)
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 408")
        assert b'"status":408' in answer.replace(b" ", b"")
        # A prompt client on another connection is served as usual.
        headers = {"STATSIG-API-KEY": secret}
        assert httpx.get(f"{base_url}/console/v1/-/settings", headers=headers).status_code == 200
