"""usage_outbox.events (events on their way to ClickHouse, with the usage they count)

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-04 10:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("usage_outbox", sa.Column("events", sa.Text(), nullable=True))  # no table rewrite on either engine


def downgrade() -> None:
    with op.batch_alter_table("usage_outbox") as batch_op:  # SQLite before 3.35 cannot drop a column in place
        batch_op.drop_column("events")
