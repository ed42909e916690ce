"""Analyses as jobs (issue 12): :class:`JobService` starts an analysis on the warehouse
runner's threads, keeps its status, result or error in the store (so any server instance
answers a poll), cancels it and its warehouse query, and fails the jobs whose server
stopped. Generic: an analysis type is a name and a blocking ``work()`` function returning
its response ``data``. Imports ``errors``, ``models``, ``store``, ``warehouse``.

Lifecycle: ``queued`` (stored, waiting for a warehouse thread) -> ``running`` ->
``succeeded`` | ``failed`` | ``cancelled``. Each change is one conditional write in the
store (``store.jobs``), so the first of two racing instances wins.

A job runs in a ``warehouse.base.StatementScope``: its statements get the analysis timeout
(``QUALEVENTS_ANALYSIS_TIMEOUT_S``) instead of the adapter's, and ``cancel()`` interrupts the
statement running now. The instance running a job (``owner``) writes a heartbeat for it
every ``heartbeat_s``; the same write tells it which of its jobs were cancelled elsewhere
(a cancel sent to another instance), and it interrupts those. A job whose heartbeat is
older than ``stale_after_s`` has lost its server: it is marked failed when read.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from qualevents.errors import (
    Cancelled,
    Conflict,
    ErrorItem,
    Forbidden,
    NotFound,
    QualeventsError,
    WarehouseUnavailable,
)
from qualevents.models import ApiKey
from qualevents.store.base import Job, Page
from qualevents.warehouse.base import StatementScope, statement_scope

log = logging.getLogger("qualevents.jobs")

DEFAULT_TIMEOUT_S = 600.0
HEARTBEAT_S = 2.0
# Many heartbeats: a busy store or a stalled thread must not fail a live job.
STALE_AFTER_S = 30.0
ErrorRenderer = Callable[[QualeventsError], dict[str, Any]]


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_job_id() -> str:
    """Opaque and unguessable (128 random bits): the id is the capability to read a job."""
    return "job_" + secrets.token_urlsafe(16)


@dataclass
class _Local:
    """A job this instance runs: its scope (deadline, cancel switch) and its future."""

    scope: StatementScope
    future: Future[Job] | None = None


def _plain_body(error: QualeventsError) -> dict[str, Any]:
    items = [
        {"property": ".".join(map(str, e.loc)), "errorMessage": e.message} for e in error.errors
    ]
    return {"status": error.status, "message": error.message, "errors": items}


class JobService:
    """Jobs on ``store``, run on ``runner``'s ``rows`` lane (so they count against the
    per-key warehouse limit). ``render_error`` makes the contract's error body that a
    failed job keeps (the API's one builder of error bodies)."""

    def __init__(
        self,
        store: Any,
        runner: Any,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        render_error: ErrorRenderer = _plain_body,
        heartbeat_s: float = HEARTBEAT_S,
        stale_after_s: float = STALE_AFTER_S,
    ) -> None:
        self.store = store
        self.runner = runner
        self.timeout_s = timeout_s
        self.render_error = render_error
        self.heartbeat_s = heartbeat_s
        self.stale_after_s = stale_after_s
        self.instance = uuid.uuid4().hex
        self._local: dict[str, _Local] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._beater: threading.Thread | None = None

    # -- starting and running -----------------------------------------------------------

    def start(
        self,
        *,
        analysis: str,
        source_kind: str,
        source_name: str,
        request: dict[str, Any],
        sources: list[dict[str, Any]],
        key: ApiKey | None,
        work: Callable[[], dict[str, Any]],
    ) -> tuple[Job, Future[Job]]:
        """Store a queued job and submit ``work`` (blocking; returns the response ``data``,
        with ``compiledSql`` when it has one) to the warehouse runner. WarehouseBusy (429)
        when the key or the runner is at its limit: the job is then stored as failed."""
        now = utc_now()
        job = Job(
            id=new_job_id(),
            analysis=analysis,
            source_kind=source_kind,
            source_name=source_name,
            status="queued",
            request=request,
            sources=sources,
            owner=self.instance,
            created_at=now,
            heartbeat_at=now,
            key_id=key.id if key else None,
            key_name=key.name if key else None,
        )
        local = _Local(StatementScope(self.timeout_s))
        with self._lock:  # before it is stored: a reader must never take it for dead
            self._local[job.id] = local
        try:
            self.store.create_job(job)
        except BaseException:
            with self._lock:
                self._local.pop(job.id, None)
            raise
        try:
            local.future = self.runner.submit(
                job.key_id, self._execute, job, work, local.scope, lane="rows"
            )
        except QualeventsError as error:
            with self._lock:
                self._local.pop(job.id, None)
            self.store.finish_job(job.id, "failed", utc_now(), error=self.render_error(error))
            raise
        self._ensure_beating()
        return job, local.future

    def _execute(self, job: Job, work: Callable[[], dict[str, Any]], scope: StatementScope) -> Job:
        """The job on a warehouse thread: running, then its outcome stored."""
        try:
            started = utc_now()
            if not self.store.start_job(job.id, started):
                return self.store.get_job(job.id) or job  # cancelled while queued
            scope.begin()  # the timeout runs from here
            clock = time.perf_counter()
            outcome: dict[str, Any] = {}
            try:
                with statement_scope(scope):
                    scope.check()
                    data = work()
                    scope.check()
            except Cancelled as error:
                outcome = dict(status="cancelled", error=self.render_error(error))
            except QualeventsError as error:
                status = "cancelled" if scope.cancelled else "failed"
                outcome = dict(status=status, error=self.render_error(error))
            except Exception:
                log.exception("Analysis job %s (%s) failed", job.id, job.analysis)
                error = QualeventsError("The analysis failed unexpectedly")
                outcome = dict(status="failed", error=self.render_error(error))
            else:
                outcome = dict(
                    status="succeeded", result=data, compiled_sql=data.get("compiledSql")
                )
            finally:
                scope.end()
            finished = utc_now()
            timings = {
                "queuedMs": round((started - job.created_at).total_seconds() * 1000, 3),
                "runMs": round((time.perf_counter() - clock) * 1000, 3),
            }
            self.store.finish_job(
                job.id, outcome.pop("status"), finished, timings=timings, **outcome
            )
            return self.store.get_job(job.id) or job
        finally:
            with self._lock:
                self._local.pop(job.id, None)

    # -- reading ---------------------------------------------------------------------------

    def get(self, job_id: str) -> Job | None:
        """The job, or None; an active job whose server stopped comes back failed."""
        job = self.store.get_job(job_id)
        return self._alive_or_failed(job) if job is not None else None

    def get_or_raise(self, job_id: str) -> Job:
        job = self.get(job_id)
        if job is None:
            message = f"No job has the id {job_id!r} (ids come from the analysis responses)"
            raise NotFound(f"Job not found: {job_id!r}", [ErrorItem(("id",), message)])
        return job

    def list(
        self,
        source_kind: str,
        source_name: str,
        offset: int,
        limit: int,
        *,
        analysis: str | None = None,
    ) -> Page[Job]:
        """A source's jobs (of one ``analysis``, or all), newest first."""
        page = self.store.list_jobs(source_kind, source_name, offset, limit, analysis=analysis)
        return Page([self._alive_or_failed(job) for job in page.items], page.total)

    def _alive_or_failed(self, job: Job) -> Job:
        if job.done:
            return job
        with self._lock:
            if job.id in self._local:
                return job  # running here
        now = utc_now()
        cutoff = now - timedelta(seconds=self.stale_after_s)
        if job.heartbeat_at >= cutoff and job.owner != self.instance:
            return job  # its server is alive
        message = (
            "The server running this job stopped before it finished (no heartbeat since "
            f"{job.heartbeat_at.isoformat()}); start the analysis again"
        )
        error = WarehouseUnavailable(message, [ErrorItem((), message)])
        before = now if job.owner == self.instance else cutoff
        self.store.fail_stale_job(job.id, before, now, self.render_error(error))
        return self.store.get_job(job.id) or job

    # -- cancelling -------------------------------------------------------------------------

    def cancel(self, job_id: str, key: ApiKey) -> Job:
        """Cancel an active job and its warehouse query: here at once, on another instance
        at its next heartbeat. Conflict (409) when the job has already finished; a
        read-only key may cancel only the jobs it started."""
        job = self.get_or_raise(job_id)
        if not key.can_write and job.key_id != key.id:
            message = "A read-only key may cancel only the jobs it started"
            raise Forbidden(message, [ErrorItem(("STATSIG-API-KEY",), message)])
        error = Cancelled(
            "The job was cancelled", [ErrorItem((), f"Cancelled by key {key.name!r}")]
        )
        if not job.done and self.store.cancel_job(job.id, utc_now(), self.render_error(error)):
            with self._lock:
                local = self._local.get(job.id)
            if local is not None:
                local.scope.cancel()
            return self.store.get_job(job.id) or job
        job = self.get_or_raise(job_id)
        message = f"The job has already {job.status}; only a queued or running job can be cancelled"
        raise Conflict(f"Job {job.id!r} is {job.status}", [ErrorItem(("status",), message)])

    # -- heartbeats -------------------------------------------------------------------------

    def _ensure_beating(self) -> None:
        with self._lock:
            if self._beater is not None and self._beater.is_alive():
                return
            self._stop.clear()
            self._beater = threading.Thread(
                target=self._beat, name="qualevents-jobs-heartbeat", daemon=True
            )
            self._beater.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            self.beat()

    def beat(self) -> None:
        """One heartbeat for this instance's jobs; interrupt those stopped elsewhere."""
        with self._lock:
            ids = list(self._local)
        if not ids:
            return
        try:
            stopped = self.store.heartbeat_jobs(self.instance, ids, utc_now())
        except Exception:  # the store is down: try again next time
            log.warning("Could not write the heartbeat of %d job(s)", len(ids), exc_info=True)
            return
        for job_id in stopped:
            with self._lock:
                local = self._local.get(job_id)
            if local is not None:
                local.scope.cancel()

    def close(self) -> None:
        """Stop: this instance's active jobs are failed (the server stopped) and their
        queries interrupted."""
        self._stop.set()
        with self._lock:
            local = dict(self._local)
        message = "The server stopped while the job ran; start the analysis again"
        body = self.render_error(WarehouseUnavailable(message, [ErrorItem((), message)]))
        for job_id, entry in local.items():
            with suppress(Exception):
                self.store.finish_job(job_id, "failed", utc_now(), error=body)
            entry.scope.cancel()
