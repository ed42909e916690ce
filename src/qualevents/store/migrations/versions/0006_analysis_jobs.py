"""Analysis jobs (issue 12): the ``analysis_jobs`` table, one row per analysis request with
its status, request, source revisions, compiled SQL, result or error, key, owner instance
and heartbeat, and timings.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analysis_jobs",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("analysis", sa.String(40), nullable=False),
        sa.Column("source_kind", sa.String(40), nullable=False),
        sa.Column("source_name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("request", sa.Text, nullable=False),
        sa.Column("sources", sa.Text, nullable=False),
        sa.Column("compiled_sql", sa.Text, nullable=True),
        sa.Column("result", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("key_id", sa.String(64), nullable=True),
        sa.Column("key_name", sa.String(200), nullable=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("timings", sa.Text, nullable=True),
    )
    op.create_index(
        "ix_analysis_jobs_source",
        "analysis_jobs",
        ["source_kind", "source_name", "created_at"],
    )
    op.create_index("ix_analysis_jobs_status", "analysis_jobs", ["status"])


def downgrade() -> None:
    op.drop_index("ix_analysis_jobs_status", "analysis_jobs")
    op.drop_index("ix_analysis_jobs_source", "analysis_jobs")
    op.drop_table("analysis_jobs")
