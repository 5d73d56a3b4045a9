"""events: what a schema's enrichments derived for each event (its pipeline view's `enrichments`)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 09:40:00.000000

Events stored before this revision keep `enrichments` null (nothing was derived then).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("events", sa.Column("enrichments", sa.JSON(), nullable=True))  # no table rewrite on either engine


def downgrade() -> None:
    with op.batch_alter_table("events") as batch_op:  # SQLite before 3.35 cannot drop a column in place
        batch_op.drop_column("enrichments")
