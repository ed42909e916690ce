"""Analysis jobs in the store, as a mixin of SQLStore. Imports ``store.base``,
``store.engine``, ``store.schema``.

Every change of a job's status is one conditional UPDATE (``WHERE status IN (...)``), so two
server instances racing (a cancel on one, the finish on the other; two readers failing a
dead job) agree on one outcome on SQLite and PostgreSQL alike: the first write wins and the
others see it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from qualevents.store.base import ACTIVE_JOB_STATUSES, Job, Page
from qualevents.store.engine import as_utc, json_text
from qualevents.store.schema import analysis_jobs

_JSON_FIELDS = ("request", "sources", "result", "error", "timings")
_ACTIVE = analysis_jobs.c.status.in_(ACTIVE_JOB_STATUSES)


def _job(row: sa.Row[Any]) -> Job:
    values = dict(row._mapping)
    for name in _JSON_FIELDS:
        if values[name] is not None:
            values[name] = json.loads(values[name])
    for name in ("created_at", "started_at", "finished_at", "heartbeat_at"):
        values[name] = as_utc(values[name])
    values["cancel_requested"] = bool(values["cancel_requested"])
    return Job(**values)


def _encoded(values: dict[str, Any]) -> dict[str, Any]:
    return {
        name: json_text(value) if name in _JSON_FIELDS and value is not None else value
        for name, value in values.items()
    }


class JobsMixin:
    """Needs ``_read()`` and ``_write()`` from SQLStore."""

    _read: Callable[..., Any]
    _write: Callable[..., Any]

    def create_job(self, job: Job) -> Job:
        values = {name: getattr(job, name) for name in analysis_jobs.c.keys()}  # noqa: SIM118
        with self._write() as conn:
            conn.execute(analysis_jobs.insert().values(**_encoded(values)))
        return job

    def get_job(self, job_id: str) -> Job | None:
        with self._read() as conn:
            row = conn.execute(sa.select(analysis_jobs).where(analysis_jobs.c.id == job_id)).first()
        return _job(row) if row is not None else None

    def list_jobs(
        self,
        source_kind: str,
        source_name: str,
        offset: int,
        limit: int,
        *,
        analysis: str | None = None,
    ) -> Page[Job]:
        """The jobs of one source (of one ``analysis``, or all), newest first."""
        where = sa.and_(
            analysis_jobs.c.source_kind == source_kind,
            analysis_jobs.c.source_name == source_name,
        )
        if analysis is not None:
            where = sa.and_(where, analysis_jobs.c.analysis == analysis)
        with self._read() as conn:
            total = conn.execute(
                sa.select(sa.func.count()).select_from(analysis_jobs).where(where)
            ).scalar_one()
            rows = conn.execute(
                sa.select(analysis_jobs)
                .where(where)
                .order_by(analysis_jobs.c.created_at.desc(), analysis_jobs.c.id.desc())
                .offset(offset)
                .limit(limit)
            ).all()
        return Page([_job(row) for row in rows], total)

    def _change(self, job_id: str, allowed: Sequence[str], **values: Any) -> bool:
        """Set ``values`` on the job if its status is one of ``allowed``; whether it was."""
        with self._write() as conn:
            changed = conn.execute(
                analysis_jobs.update()
                .where(analysis_jobs.c.id == job_id, analysis_jobs.c.status.in_(allowed))
                .values(**_encoded(values))
            ).rowcount
        return bool(changed)

    def start_job(self, job_id: str, now: datetime) -> bool:
        """queued -> running; False when the job is no longer queued (cancelled)."""
        return self._change(job_id, ("queued",), status="running", started_at=now, heartbeat_at=now)

    def finish_job(
        self,
        job_id: str,
        status: str,
        now: datetime,
        *,
        result: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
        compiled_sql: str | None = None,
        timings: dict[str, Any] | None = None,
    ) -> bool:
        """An active job -> ``status`` (succeeded, failed, cancelled) with its outcome;
        False when it had already finished (cancelled meanwhile, or failed as dead)."""
        values: dict[str, Any] = dict(status=status, finished_at=now, heartbeat_at=now)
        for name, value in (
            ("result", result),
            ("error", error),
            ("compiled_sql", compiled_sql),
            ("timings", timings),
        ):
            if value is not None:
                values[name] = value
        return self._change(job_id, ACTIVE_JOB_STATUSES, **values)

    def cancel_job(self, job_id: str, now: datetime, error: dict[str, Any]) -> bool:
        """An active job -> cancelled, now (its owner stops the query when it notices)."""
        return self._change(
            job_id,
            ACTIVE_JOB_STATUSES,
            status="cancelled",
            cancel_requested=True,
            finished_at=now,
            error=error,
        )

    def fail_stale_job(
        self, job_id: str, heartbeat_before: datetime, now: datetime, error: dict[str, Any]
    ) -> bool:
        """An active job whose owner's last heartbeat is older than ``heartbeat_before`` ->
        failed with ``error``."""
        with self._write() as conn:
            changed = conn.execute(
                analysis_jobs.update()
                .where(
                    analysis_jobs.c.id == job_id,
                    _ACTIVE,
                    analysis_jobs.c.heartbeat_at < heartbeat_before,
                )
                .values(status="failed", finished_at=now, error=json_text(error))
            ).rowcount
        return bool(changed)

    def heartbeat_jobs(self, owner: str, job_ids: Sequence[str], now: datetime) -> list[str]:
        """Mark ``owner``'s active jobs among ``job_ids`` alive; the ids among them that are
        no longer active (cancelled from anywhere, or failed), for the owner to stop."""
        if not job_ids:
            return []
        ids = list(job_ids)
        with self._write() as conn:
            conn.execute(
                analysis_jobs.update()
                .where(analysis_jobs.c.id.in_(ids), analysis_jobs.c.owner == owner, _ACTIVE)
                .values(heartbeat_at=now)
            )
            stopped = conn.execute(
                sa.select(analysis_jobs.c.id).where(
                    analysis_jobs.c.id.in_(ids), analysis_jobs.c.status.not_in(ACTIVE_JOB_STATUSES)
                )
            ).scalars()
            return list(stopped)
