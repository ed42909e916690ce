"""The store's tables (SQLAlchemy Core). Imports nothing from the package.

A definition is kept as its JSON document (only the fields that were written), so a read
returns exactly what was written, and new optional fields need no migration. Every change
also writes an immutable row in ``revisions`` in the same transaction.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

qualifying_events = sa.Table(
    "qualifying_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
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
    sa.UniqueConstraint("event_name", "revision", name="uq_revisions_event_revision"),
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
