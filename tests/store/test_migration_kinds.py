"""Migration 0005 on a database written before kinds existed: its qualifying events, their
history and pending reviews become the ``qualifying_event`` kind, unchanged, and names are
then unique per kind (SQLite and PostgreSQL)."""

from __future__ import annotations

import sqlalchemy as sa

from qualevents.models import QualifyingEvent
from qualevents.store import SQLStore
from qualevents.store.base import Actor
from qualevents.store.engine import create_engine_for
from qualevents.store.migrate import current_revision, head_revision, upgrade

EVENT = QualifyingEvent.model_validate(
    {
        "name": "Log Events",
        "sql": "SELECT user_id, ts FROM events",
        "timestamp_column": "ts",
        "id_type_mapping": [{"statsig_unit_id": "userID", "column": "user_id"}],
    }
)
NOW = "2026-12-01 00:00:00+00:00"


def test_a_0004_database_keeps_its_events_as_qualifying_events(database_url, store):
    # ``store`` emptied the database; rebuild it at 0004 and write as 0004's code did
    engine = create_engine_for(database_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        for table in ("change_requests", "revisions", "qualifying_events", "api_keys"):
            conn.exec_driver_sql(
                f"DROP TABLE IF EXISTS {table} CASCADE"
                if engine.dialect.name == "postgresql"
                else f"DROP TABLE IF EXISTS {table}"
            )
        for table in ("project_settings", "rate_limit_buckets", "cache_generations"):
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("DROP FUNCTION IF EXISTS qualevents_notify_change() CASCADE")
    upgrade(engine, "0004")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO qualifying_events (name, document, revision, created_at, "
                "updated_at) VALUES (:name, :document, 1, :now, :now)"
            ),
            {"name": EVENT.name, "document": EVENT.model_dump_json(exclude_none=True), "now": NOW},
        )
        conn.execute(
            sa.text(
                "INSERT INTO revisions (event_name, revision, action, document, changes, "
                "created_at) VALUES (:name, 1, 'create', :document, '{}', :now)"
            ),
            {"name": EVENT.name, "document": EVENT.model_dump_json(exclude_none=True), "now": NOW},
        )
    upgrade(engine)
    assert current_revision(engine) == head_revision()  # 0005 and any later ones

    migrated = SQLStore(engine)
    assert migrated.get_event_or_raise("Log Events").event == EVENT
    assert [r.revision for r in migrated.list_revisions("Log Events", 0, 10).items] == [1]
    # the same name is free in another kind, and continues its own history in its own
    metric_sources = migrated.for_kind("metric_source")
    assert metric_sources.get_event("Log Events") is None
    assert metric_sources.create_event(EVENT, Actor(None, None)).revision == 1
    assert migrated.replace_event(EVENT, Actor(None, None)).revision == 2
    engine.dispose()
