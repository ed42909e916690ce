"""Project settings and change requests, as a mixin of SQLStore. Imports ``models``,
``errors``, ``store.base``, ``store.engine``, ``store.schema``.

Approving a request applies it in the same transaction that marks it approved, with the
event's revision checked against the one the request was made on.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from qualevents.errors import ErrorItem, InvalidRequest, NotFound
from qualevents.models import ChangeRequest, ChangeRequestStatus
from qualevents.store.base import Actor, Page
from qualevents.store.engine import as_utc, utc_now
from qualevents.store.schema import change_requests, project_settings


class ReviewsMixin:
    """Needs ``_read()``, ``_write()``, ``kind`` and ``for_kind()`` from SQLStore."""

    _read: Callable[..., Any]
    _write: Callable[..., Any]
    kind: str
    for_kind: Callable[[str], Any]

    # -- settings -----------------------------------------------------------------------

    def get_setting(self, key: str) -> str | None:
        with self._read() as conn:
            return conn.execute(
                sa.select(project_settings.c.value).where(project_settings.c.key == key)
            ).scalar_one_or_none()

    def set_setting(self, key: str, value: str) -> None:
        with self._write() as conn:
            updated = conn.execute(
                project_settings.update()
                .where(project_settings.c.key == key)
                .values(value=value, updated_at=utc_now())
            )
            if updated.rowcount == 0:
                conn.execute(
                    project_settings.insert().values(key=key, value=value, updated_at=utc_now())
                )

    # -- change requests ----------------------------------------------------------------

    @staticmethod
    def _change_request(row: sa.Row[Any]) -> ChangeRequest:
        return ChangeRequest(
            id=row.id,
            event_name=row.event_name,
            action=row.action,
            payload=json.loads(row.payload) if row.payload is not None else None,
            base_revision=row.base_revision,
            status=ChangeRequestStatus(row.status),
            author_key_id=row.author_key_id,
            author_key_name=row.author_key_name,
            reviewer_key_id=row.reviewer_key_id,
            reviewer_key_name=row.reviewer_key_name,
            reason=row.reason,
            created_at=as_utc(row.created_at),
            decided_at=as_utc(row.decided_at),
            kind=row.kind,
        )

    def create_change_request(
        self,
        event_name: str,
        action: str,
        payload: dict[str, Any] | None,
        base_revision: int | None,
        author: Actor,
    ) -> ChangeRequest:
        with self._write() as conn:
            inserted = conn.execute(
                change_requests.insert().values(
                    kind=self.kind,
                    event_name=event_name,
                    action=action,
                    payload=json.dumps(payload) if payload is not None else None,
                    base_revision=base_revision,
                    status=ChangeRequestStatus.PENDING.value,
                    author_key_id=author.key_id,
                    author_key_name=author.key_name,
                    created_at=utc_now(),
                )
            )
            row = conn.execute(
                sa.select(change_requests).where(
                    change_requests.c.id == inserted.inserted_primary_key[0]
                )
            ).one()
        return self._change_request(row)

    def get_change_request(self, request_id: int) -> ChangeRequest | None:
        with self._read() as conn:
            row = conn.execute(
                sa.select(change_requests).where(change_requests.c.id == request_id)
            ).first()
        return self._change_request(row) if row else None

    def list_change_requests(
        self, offset: int, limit: int, *, status: ChangeRequestStatus | None = None
    ) -> Page[ChangeRequest]:
        conditions = [change_requests.c.status == status.value] if status else []
        with self._read() as conn:
            total = conn.execute(
                sa.select(sa.func.count()).select_from(change_requests).where(*conditions)
            ).scalar_one()
            rows = conn.execute(
                sa.select(change_requests)
                .where(*conditions)
                .order_by(change_requests.c.id)
                .offset(offset)
                .limit(limit)
            ).all()
        return Page([self._change_request(row) for row in rows], total)

    def decide_change_request(
        self,
        request_id: int,
        status: ChangeRequestStatus,
        reviewer: Actor,
        reason: str | None = None,
        apply: Callable[[Connection], None] | None = None,
    ) -> ChangeRequest:
        """Move a pending request to ``status``; ``apply`` runs in the same transaction
        (the store's own write helpers, for an approval) and any error it raises rolls
        the whole decision back."""
        with self._write() as conn:
            query = sa.select(change_requests).where(change_requests.c.id == request_id)
            if conn.dialect.name == "postgresql":
                query = query.with_for_update()
            row = conn.execute(query).first()
            if row is None:
                raise NotFound(
                    f"No change request {request_id}",
                    [ErrorItem(("id",), f"Unknown change request {request_id}")],
                )
            if row.status != ChangeRequestStatus.PENDING.value:
                raise InvalidRequest(
                    f"Change request {request_id} is already {row.status}",
                    [ErrorItem(("id",), "Only pending change requests can be decided")],
                )
            if apply is not None:
                apply(conn)
            conn.execute(
                change_requests.update()
                .where(change_requests.c.id == request_id)
                .values(
                    status=status.value,
                    reviewer_key_id=reviewer.key_id,
                    reviewer_key_name=reviewer.key_name,
                    reason=reason,
                    decided_at=utc_now(),
                )
            )
            row = conn.execute(
                sa.select(change_requests).where(change_requests.c.id == request_id)
            ).one()
        return self._change_request(row)

    def approve_change_request(
        self, request: ChangeRequest, reviewer: Actor, event: Any | None
    ) -> ChangeRequest:
        """Apply ``event`` (None for a delete) as the request's author and mark the request
        approved, atomically; PreconditionFailed when the event moved past the request's
        base revision, NameInUse when a create's name was taken meanwhile."""
        author = Actor(request.author_key_id, request.author_key_name)
        store: Any = self.for_kind(request.kind)

        def apply(conn: Connection) -> None:
            if request.action == "create":
                store._insert_in(conn, event, author, "create")
            elif request.action == "delete":
                store._delete_in(conn, request.event_name, author, request.base_revision)
            elif event.name != request.event_name:  # a rename (kinds that allow them)
                store._rename_in(
                    conn, request.event_name, event, author, request.action, request.base_revision
                )
            else:
                store._replace_in(conn, event, author, request.action, request.base_revision)

        return self.decide_change_request(
            request.id, ChangeRequestStatus.APPROVED, reviewer, apply=apply
        )
