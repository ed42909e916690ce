"""Change triggers: the database itself tells caches about changes, so the store's writes
carry no cache code. SQLite: writes to ``api_keys`` bump the ``key`` cache generation.
PostgreSQL: a statement changing ``qualifying_events`` or ``api_keys`` sends ``NOTIFY
qualevents_changes`` (delivered only if its transaction commits) with the writer's
``application_name`` as payload, so a process can tell its own changes from others'.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

CACHED_TABLES = ("qualifying_events", "api_keys")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION qualevents_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_notify('qualevents_changes', current_setting('application_name'));
                RETURN NULL;
            END
            $$
            """
        )
        for table in CACHED_TABLES:
            op.execute(
                f"CREATE TRIGGER qualevents_{table}_changed "
                f"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION qualevents_notify_change()"
            )
        return
    for action in ("INSERT", "UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER qualevents_api_keys_{action.lower()} AFTER {action} ON api_keys "
            "BEGIN UPDATE cache_generations SET generation = generation + 1 "
            "WHERE space = 'key'; END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in CACHED_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS qualevents_{table}_changed ON {table}")
        op.execute("DROP FUNCTION IF EXISTS qualevents_notify_change()")
        return
    for action in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS qualevents_api_keys_{action}")
