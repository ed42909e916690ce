"""Apache Spark through Spark Connect (``pip install 'qualevents[spark]'``): the distributed
engine for data that outgrows one machine. Imports ``errors``, ``sql`` and
``warehouse.base``; the driver (pyspark's Connect client) only when first used.

URL: ``spark://host:15002`` or ``sc://host:15002`` (``?token=...&use_ssl=true&user_id=...``,
Spark Connect's connection parameters); the same adapter reaches a cluster's Connect server
or Databricks' Spark Connect endpoint.

- Open-source Spark has no statement timeout (``SET STATEMENT_TIMEOUT`` does nothing), so
  each statement runs under a tag of its own and a watchdog interrupts that tag after
  ``timeout_s`` (the server cancels its jobs: ``OPERATION_CANCELED``, a 504 here). If the
  server does not answer by the timeout and a margin, the watchdog closes the session, so
  no call waits longer; the next statement opens a new one. Connect retries are bounded to
  fit inside the same margin.
- Spark has no read-only session: grant the user only SELECT on the tables it reads; the
  read-only guard (``sql.guard``, dialect ``spark``: no file-path relations such as
  ``parquet.`/path```, no ``reflect``/``java_method``) runs before every statement.
- Each statement also carries the tags ``qualevents``, ``qualevents-op-<operation>`` and
  ``qualevents-key-<key id>`` (the Spark UI and the server's listeners show job tags).
- Errors are classified by their SQLSTATE and error class (``TABLE_OR_VIEW_NOT_FOUND``,
  ``42P01``; ``HY008`` the interruption), never by message text, and carry the server's
  message without the plan or the JVM stack trace.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Sequence
from contextlib import suppress
from typing import Any
from urllib.parse import unquote

from qualevents.warehouse.base import Warehouse, import_driver
from qualevents.warehouse.classify import Kind, class_name_kind, error_code_kind, sqlstate_kind
from qualevents.warehouse.options import BOOL, STR, url_parts
from qualevents.warehouse.pool import Shared

DEFAULT_PORT = 15002
# pyspark logs every failed query's JVM stack trace under this logger; the adapter
# translates the error itself.
_PYSPARK_QUERY_LOGGER = "SQLQueryContextLogger"
# Connect's client retries an unreachable server for ten minutes by default.
RELEASE_WAIT_S = 2.0
_RETRIES = {"max_retries": 3, "initial_backoff": 50, "max_backoff": 1000, "jitter": 100}


class SparkWarehouse(Warehouse):
    NAME = "spark"
    DIALECT = "spark"
    EXTRA = "spark"
    SUPPORTS_READ_ONLY_TRANSACTION = False
    SUPPORTS_STATEMENT_TIMEOUT = True  # by interrupting the statement's tag
    # Spark Connect connection-string parameters a URL may set.
    OPTIONS = {"token": STR, "use_ssl": BOOL, "user_id": STR, "user_agent": STR}

    def __init__(
        self,
        host: str = "localhost",
        port: int = DEFAULT_PORT,
        *,
        timeout_s: float = 30.0,
        row_cap: int = 10_000,
        **options: Any,
    ) -> None:
        super().__init__(timeout_s=timeout_s, row_cap=row_cap)
        self.host, self.port = host, port
        self.options = {k: v for k, v in options.items() if v not in (None, "")}
        self.add_secret(self.options.get("token"))
        self._session: Shared[Any] = Shared(_stop)

    @classmethod
    def from_url(cls, url: str, *, timeout_s: float, row_cap: int) -> SparkWarehouse:
        parts, options = url_parts(url, cls.NAME, cls.OPTIONS)
        warehouse = cls(
            parts.hostname or "localhost",
            parts.port or DEFAULT_PORT,
            timeout_s=timeout_s,
            row_cap=row_cap,
            **options,
        )
        warehouse.add_secret(url, unquote(parts.password or "") or None)
        return warehouse

    def remote(self) -> str:
        """The Spark Connect connection string (``sc://host:port/;token=...``)."""
        params = {"user_agent": "qualevents", **self.options}
        text = ";".join(
            f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in params.items()
        )
        return f"sc://{self.host}:{self.port}/;{text}"

    # -- the session ----------------------------------------------------------------

    def _open_session(self) -> Any:
        connect = import_driver("pyspark.sql.connect.session", "spark", "pyspark[connect]")
        retries = import_driver("pyspark.sql.connect.client.retries", "spark", "pyspark[connect]")
        logging.getLogger(_PYSPARK_QUERY_LOGGER).setLevel(logging.CRITICAL)
        with self.translate_errors():
            session = connect.SparkSession.builder.remote(self.remote()).create()
            session.client.set_retry_policies([retries.DefaultPolicy(**_RETRIES)])
            return session

    def session(self) -> Any:
        return self._session.get(self._open_session)

    def tags(self) -> list[str]:
        """The label as Spark job tags (no commas allowed in a tag)."""
        label = self.label()
        if label is None:
            return []
        pairs = label.pairs()
        found = ["qualevents", f"qualevents-op-{pairs['operation']}"]
        if "key_id" in pairs:
            found.append(f"qualevents-key-{pairs['key_id']}")
        return found

    def _run(self, work: Any) -> Any:
        """``work(session)`` under a tag of its own, interrupted after ``timeout_s``; the
        session is closed if the server has not answered by ``client_timeout_s``."""
        session = self.session()
        tag = f"qualevents-{uuid.uuid4().hex}"
        labels = self.tags()
        done, abandoned = threading.Event(), threading.Event()

        def interrupt() -> None:
            if not done.is_set():
                # (the server gone: the close below ends the call)
                with suppress(Exception):
                    session.interruptTag(tag)

        def abandon() -> None:
            if not done.is_set():
                abandoned.set()
                with suppress(Exception):  # closing the channel ends the waiting call
                    session.client.close()
                self._session.close()

        timers = [
            threading.Timer(self.timeout_s, interrupt),
            threading.Timer(self.client_timeout_s, abandon),
        ]
        for tagged in (tag, *labels):
            session.addTag(tagged)
        try:
            for timer in timers:
                timer.daemon = True
                timer.start()
            return work(session)
        except Exception:
            if abandoned.is_set():  # the server did not answer in time
                raise self.timeout_error() from None
            raise
        finally:
            done.set()
            for timer in timers:
                timer.cancel()
            for tagged in (tag, *labels):
                with suppress(Exception):  # a closed session has no tags to remove
                    session.removeTag(tagged)

    def _describe(self, sql: str) -> list[tuple[str, str]]:
        schema = self._run(lambda session: session.sql(sql).schema)
        return [(field.name, field.dataType.simpleString()) for field in schema.fields]

    def _fetch(self, sql: str, limit: int) -> tuple[list[str], Sequence[Sequence[Any]]]:
        def work(session: Any) -> tuple[list[str], list[tuple[Any, ...]]]:
            frame = session.sql(sql).limit(max(0, limit))
            rows = frame.collect() if limit > 0 else []
            return list(frame.columns), [tuple(row) for row in rows]

        return self._run(work)

    def close(self) -> None:
        self._session.close()

    # -- errors ---------------------------------------------------------------------

    def classify(self, error: Exception) -> Kind:
        state = _call(error, "getSqlState")
        condition = _call(error, "getCondition") or ""
        if condition.split(".")[0] in ("OPERATION_CANCELED",) or state == "HY008":
            return "timeout"
        kind = sqlstate_kind(state)
        if kind is not None and kind != "failed":
            return kind
        kind = error_code_kind(str(error))
        if kind is not None:
            return kind
        name = type(error).__name__
        if name in ("AnalysisException", "ParseException", "IllegalArgumentException"):
            return "rejected"
        grpc_status = str(getattr(error, "grpc_status_code", "") or "")
        if "UNAVAILABLE" in grpc_status or "CANCELLED" in grpc_status:
            return "unavailable"
        if name == "SparkConnectGrpcException" or "RetriesExceeded" in name:
            return "unavailable"
        return class_name_kind(error)

    def driver_message(self, error: Exception) -> str:
        """The server's message: up to the plan (``;\\n'Project ...``) or the JVM stack
        trace."""
        text = _call(error, "getMessage") or str(error)
        text = str(text).split("\n\nJVM stacktrace:", 1)[0]
        text = text.split(";\n'", 1)[0].split("\n'", 1)[0]
        return self.scrub(text)


def _call(error: Exception, method: str) -> str | None:
    found = getattr(error, method, None)
    if not callable(found):
        return None
    try:
        value = found()
    except Exception:
        return None
    return value if isinstance(value, str) else None


def _stop(session: Any) -> None:
    """Release the session on the server, waiting a little at most (a server that does not
    answer must not hold up ``close``; it drops idle sessions itself), then close the
    channel."""
    releasing = threading.Thread(target=session.stop, daemon=True)
    releasing.start()
    releasing.join(RELEASE_WAIT_S)
    with suppress(Exception):
        session.client.close()


WAREHOUSE = SparkWarehouse
