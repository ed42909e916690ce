"""Cache generations: a counter per rarely-changing cache space (keys), bumped by its
writers, so a commit that changes only events leaves cached keys in place.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "cache_generations",
        sa.Column("space", sa.String(50), primary_key=True),
        sa.Column("generation", sa.Integer, nullable=False),
    )
    op.bulk_insert(table, [{"space": "key", "generation": 0}])


def downgrade() -> None:
    op.drop_table("cache_generations")
