"""The store's tables (SQLAlchemy Core). Imports nothing from the package.

A definition is kept as its JSON document (only the fields that were written), so a read
returns exactly what was written, and new optional fields need no migration. Every change
also writes an immutable row in ``revisions`` in the same transaction.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# The kind of a source stored before kinds existed (migration 0005).
DEFAULT_KIND = "qualifying_event"

qualifying_events = sa.Table(
    "qualifying_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    # Every kind of source lives here (the table keeps its first kind's name; migration
    # 0005): names are unique per kind.
    sa.Column("kind", sa.String(40), nullable=False, server_default=DEFAULT_KIND),
    sa.UniqueConstraint("kind", "name", name="uq_qualifying_events_kind_name"),
)

revisions = sa.Table(
    "revisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_name", sa.String(200), nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("action", sa.String(20), nullable=False),
    # NULL for a delete: the event has no definition after it.
    sa.Column("document", sa.Text, nullable=True),
    sa.Column("changes", sa.Text, nullable=False),
    sa.Column("key_id", sa.String(64), nullable=True),
    sa.Column("key_name", sa.String(200), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("kind", sa.String(40), nullable=False, server_default=DEFAULT_KIND),
    sa.UniqueConstraint("kind", "event_name", "revision", name="uq_revisions_kind_event_revision"),
    sa.Index("ix_revisions_created_at", "created_at"),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
)

project_settings = sa.Table(
    "project_settings",
    metadata,
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

change_requests = sa.Table(
    "change_requests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_name", sa.String(200), nullable=False),
    sa.Column("action", sa.String(20), nullable=False),
    # The full definition (create/update) or the fields to change (patch); NULL for delete.
    sa.Column("payload", sa.Text, nullable=True),
    # The event's revision when the request was made (NULL: the event did not exist).
    sa.Column("base_revision", sa.Integer, nullable=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("author_key_id", sa.String(64), nullable=True),
    sa.Column("author_key_name", sa.String(200), nullable=True),
    sa.Column("reviewer_key_id", sa.String(64), nullable=True),
    sa.Column("reviewer_key_name", sa.String(200), nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("kind", sa.String(40), nullable=False, server_default=DEFAULT_KIND),
    sa.Index("ix_change_requests_status", "status"),
)

rate_limit_buckets = sa.Table(
    "rate_limit_buckets",
    metadata,
    sa.Column("bucket", sa.String(200), primary_key=True),
    sa.Column("tokens", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),  # seconds since the epoch
)

# One row per cache space whose data changes rarely (keys): its writers bump the row in
# the same transaction, so a process's cache can tell whether a commit touched that space
# and keep it otherwise (store/cache.py).
cache_generations = sa.Table(
    "cache_generations",
    metadata,
    sa.Column("space", sa.String(50), primary_key=True),
    sa.Column("generation", sa.Integer, nullable=False),
)

# Signed-in browsers of the web console (migration 0008): a session is the SHA-256 of its
# cookie's random token (the token itself is never stored), the key it acts as, and the
# CSRF token its forms carry. A revoked key's sessions stop with it (the key is read with
# the session, every request).
console_sessions = sa.Table(
    "console_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("key_id", sa.String(64), nullable=False),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_console_sessions_key_id", "key_id"),
)

# The validation report of each source's last write (migration 0008): what the console's
# list shows as the source's state, without a warehouse call.
validation_reports = sa.Table(
    "validation_reports",
    metadata,
    sa.Column("kind", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("report", sa.Text, nullable=False),
    sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
)

# Analysis jobs (issue 12): one row per analysis request, its result or error kept for the
# event's history of analyses. ``owner`` is the server instance running it and
# ``heartbeat_at`` when it last said so: a job whose heartbeat stopped is failed when read.
analysis_jobs = sa.Table(
    "analysis_jobs",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("analysis", sa.String(40), nullable=False),
    sa.Column("source_kind", sa.String(40), nullable=False),
    sa.Column("source_name", sa.String(200), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("request", sa.Text, nullable=False),
    sa.Column("sources", sa.Text, nullable=False),  # [{"kind", "name", "revision"}]
    sa.Column("compiled_sql", sa.Text, nullable=True),
    sa.Column("result", sa.Text, nullable=True),
    sa.Column("error", sa.Text, nullable=True),  # the contract's error body
    sa.Column("key_id", sa.String(64), nullable=True),
    sa.Column("key_name", sa.String(200), nullable=True),
    sa.Column("owner", sa.String(64), nullable=False),
    sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("timings", sa.Text, nullable=True),  # {"queuedMs", "runMs", ...}
    sa.Index("ix_analysis_jobs_source", "source_kind", "source_name", "created_at"),
    sa.Index("ix_analysis_jobs_status", "status"),
)
