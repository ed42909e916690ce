"""Notify after commit: on PostgreSQL, a qualevents server announces its own changes to
cached data right after they commit (store/notify.py), so the change trigger stays silent
for its connections (they set ``qualevents.notify = after_commit``). A ``NOTIFY`` inside a
write transaction takes a database-wide lock held until that commit is flushed, which
serialized every writer's commit (about 250 creates/s instead of 1,200 here). Writes from
anywhere else (psql, the CLI, a migration) still notify from the trigger.

Revision ID: 0010
Revises: 0005
Create Date: 2026-12-02
"""

from alembic import op

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None

NOTIFY_ALWAYS = """
CREATE OR REPLACE FUNCTION qualevents_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('qualevents_changes', current_setting('application_name'));
    RETURN NULL;
END
$$
"""

NOTIFY_UNLESS_AFTER_COMMIT = """
CREATE OR REPLACE FUNCTION qualevents_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('qualevents.notify', true) IS DISTINCT FROM 'after_commit' THEN
        PERFORM pg_notify('qualevents_changes', current_setting('application_name'));
    END IF;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(NOTIFY_UNLESS_AFTER_COMMIT)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(NOTIFY_ALWAYS)
