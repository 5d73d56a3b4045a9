"""events: each meter's outcome, recorded at ingestion (the event's pipeline view)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 23:55:00.000000

Events stored before this revision keep `meters` null: their pipeline view lists the meters they reached (from
`units`), named from the catalog.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("events", sa.Column("meters", sa.JSON(), nullable=True))  # no table rewrite on either engine


def downgrade() -> None:
    with op.batch_alter_table("events") as batch_op:  # SQLite before 3.35 cannot drop a column in place
        batch_op.drop_column("meters")
