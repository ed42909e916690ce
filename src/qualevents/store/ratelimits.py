"""Shared token buckets for rate limits, as a mixin of SQLStore. Imports ``store.schema``.

The buckets live in the database, so several server processes on one PostgreSQL share one
limit per key. A take is one short write transaction (row lock on PostgreSQL, BEGIN
IMMEDIATE on SQLite).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from qualevents.store.schema import rate_limit_buckets


class RateLimitsMixin:
    _write: Callable[..., Any]

    def take_token(self, bucket: str, capacity: float, refill_per_s: float, now: float) -> float:
        """Take one token from ``bucket``; 0.0 when granted, else the seconds until one is."""
        with self._write() as conn:
            query = sa.select(rate_limit_buckets).where(rate_limit_buckets.c.bucket == bucket)
            if conn.dialect.name == "postgresql":
                query = query.with_for_update()
            row = conn.execute(query).first()
            if row is None:
                tokens = capacity
                try:
                    with conn.begin_nested():
                        conn.execute(
                            rate_limit_buckets.insert().values(
                                bucket=bucket, tokens=capacity, updated_at=now
                            )
                        )
                except sa.exc.IntegrityError:
                    # Another process made the bucket first: take from it instead.
                    row = conn.execute(query).one()
            if row is not None:
                elapsed = max(0.0, now - row.updated_at)
                tokens = min(capacity, row.tokens + elapsed * refill_per_s)
            if tokens < 1.0:
                conn.execute(
                    rate_limit_buckets.update()
                    .where(rate_limit_buckets.c.bucket == bucket)
                    .values(tokens=tokens, updated_at=now)
                )
                return (1.0 - tokens) / refill_per_s
            conn.execute(
                rate_limit_buckets.update()
                .where(rate_limit_buckets.c.bucket == bucket)
                .values(tokens=tokens - 1.0, updated_at=now)
            )
            return 0.0
