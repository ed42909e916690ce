"""Web console sessions, as a mixin of SQLStore. Imports ``models``, ``store.engine``,
``store.schema``.

A session row is read together with its key in one statement, never through the cache, so
a key revoked anywhere ends its sessions at the next request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from qualevents.models import ApiKey, KeyKind
from qualevents.store.engine import as_utc, utc_now
from qualevents.store.schema import api_keys, console_sessions

_SESSION_WITH_KEY = (
    sa.select(
        console_sessions.c.csrf_token,
        console_sessions.c.created_at.label("session_created_at"),
        console_sessions.c.last_seen_at,
        api_keys,
    )
    .select_from(console_sessions.join(api_keys, api_keys.c.id == console_sessions.c.key_id))
    .where(console_sessions.c.token_hash == sa.bindparam("token_hash"))
)


@dataclass(frozen=True)
class ConsoleSession:
    """A signed-in browser: the key it acts as and its forms' CSRF token."""

    token_hash: str
    key: ApiKey
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime


class SessionsMixin:
    _write: Callable[..., Any]
    _read: Callable[..., Any]

    def create_console_session(self, token_hash: str, key_id: str, csrf_token: str) -> None:
        now = utc_now()
        with self._write() as conn:
            conn.execute(
                console_sessions.insert().values(
                    token_hash=token_hash,
                    key_id=key_id,
                    csrf_token=csrf_token,
                    created_at=now,
                    last_seen_at=now,
                )
            )

    def get_console_session(self, token_hash: str) -> ConsoleSession | None:
        """The session and its key as of now (revoked keys included: the caller decides)."""
        with self._read() as conn:
            row = conn.execute(_SESSION_WITH_KEY, {"token_hash": token_hash}).first()
        if row is None:
            return None
        key = ApiKey(
            id=row.id,
            name=row.name,
            kind=KeyKind(row.kind),
            created_at=as_utc(row.created_at),
            revoked_at=as_utc(row.revoked_at),
        )
        return ConsoleSession(
            token_hash=token_hash,
            key=key,
            csrf_token=row.csrf_token,
            created_at=as_utc(row.session_created_at),  # type: ignore[arg-type]
            last_seen_at=as_utc(row.last_seen_at),  # type: ignore[arg-type]
        )

    def touch_console_session(self, token_hash: str, now: datetime) -> None:
        with self._write() as conn:
            conn.execute(
                console_sessions.update()
                .where(console_sessions.c.token_hash == token_hash)
                .values(last_seen_at=now)
            )

    def delete_console_session(self, token_hash: str) -> None:
        with self._write() as conn:
            conn.execute(
                console_sessions.delete().where(console_sessions.c.token_hash == token_hash)
            )

    def delete_idle_console_sessions(self, idle_since: datetime) -> int:
        """Drop every session last seen before ``idle_since``; how many were dropped."""
        with self._write() as conn:
            result = conn.execute(
                console_sessions.delete().where(console_sessions.c.last_seen_at < idle_since)
            )
        return result.rowcount or 0
