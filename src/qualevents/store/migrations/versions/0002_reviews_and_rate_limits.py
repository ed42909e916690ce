"""Project settings, change requests (reviews) and shared rate-limit buckets.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "project_settings",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "change_requests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_name", sa.String(200), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("payload", sa.Text, nullable=True),
        sa.Column("base_revision", sa.Integer, nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("author_key_id", sa.String(64), nullable=True),
        sa.Column("author_key_name", sa.String(200), nullable=True),
        sa.Column("reviewer_key_id", sa.String(64), nullable=True),
        sa.Column("reviewer_key_name", sa.String(200), nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_change_requests_status", "change_requests", ["status"])
    op.create_table(
        "rate_limit_buckets",
        sa.Column("bucket", sa.String(200), primary_key=True),
        sa.Column("tokens", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rate_limit_buckets")
    op.drop_index("ix_change_requests_status", table_name="change_requests")
    op.drop_table("change_requests")
    op.drop_table("project_settings")
