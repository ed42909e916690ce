"""Source kinds: qualifying events, metric sources and assignment sources share one table
(``qualifying_events``, its name kept so the change triggers of 0004 stay as they are), one
history and one review queue, told apart by a ``kind`` column. Names are unique per kind.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

DEFAULT_KIND = "qualifying_event"


def _kind_column() -> sa.Column:
    return sa.Column(
        "kind", sa.String(40), nullable=False, server_default=sa.text(f"'{DEFAULT_KIND}'")
    )


def _events_0004() -> sa.Table:
    """The events table as 0001 made it, less its unnamed unique name constraint (SQLite's
    batch mode rebuilds the table from this)."""
    return sa.Table(
        "qualifying_events",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.drop_constraint("qualifying_events_name_key", "qualifying_events", type_="unique")
        op.add_column("qualifying_events", _kind_column())
    else:
        with op.batch_alter_table(
            "qualifying_events", recreate="always", copy_from=_events_0004()
        ) as batch:
            batch.add_column(_kind_column())
    if postgres:
        op.create_unique_constraint(
            "uq_qualifying_events_kind_name", "qualifying_events", ["kind", "name"]
        )
    else:
        op.create_index(
            "uq_qualifying_events_kind_name", "qualifying_events", ["kind", "name"], unique=True
        )
    with op.batch_alter_table("revisions") as batch:
        batch.add_column(_kind_column())
        batch.drop_constraint("uq_revisions_event_revision", type_="unique")
        batch.create_unique_constraint(
            "uq_revisions_kind_event_revision", ["kind", "event_name", "revision"]
        )
    with op.batch_alter_table("change_requests") as batch:
        batch.add_column(_kind_column())


def downgrade() -> None:
    with op.batch_alter_table("change_requests") as batch:
        batch.drop_column("kind")
    with op.batch_alter_table("revisions") as batch:
        batch.drop_constraint("uq_revisions_kind_event_revision", type_="unique")
        batch.drop_column("kind")
        batch.create_unique_constraint("uq_revisions_event_revision", ["event_name", "revision"])
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.drop_constraint("uq_qualifying_events_kind_name", "qualifying_events", type_="unique")
    else:
        op.drop_index("uq_qualifying_events_kind_name", "qualifying_events")
    with op.batch_alter_table("qualifying_events") as batch:
        batch.drop_column("kind")
        batch.create_unique_constraint("qualifying_events_name_key", ["name"])
