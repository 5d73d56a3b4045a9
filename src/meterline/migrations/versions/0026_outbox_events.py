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


MOVE_BACK_FIRST = (
    "this installation keeps its usage in ClickHouse ({url}); from this version on its events are kept there too, "
    "in a table the version it runs did not create. Move the usage back with the version you run "
    "(`meterline usage-store --database`), upgrade, then move usage and events together "
    "(`meterline usage-store --clickhouse URL`, into an empty ClickHouse database): docs/scaling.md"
)


def upgrade() -> None:
    # Refused while usage is in ClickHouse: its processes would ship events to a table nobody created, and the
    # events stored so far would stay where nothing reads them any more (docs/operations.md, "Upgrades").
    url = op.get_bind().execute(sa.text("SELECT value FROM installation WHERE name = 'usage_store'")).scalar()
    if url is not None:
        raise RuntimeError(MOVE_BACK_FIRST.format(url=url.split("@")[-1]))
    op.add_column("usage_outbox", sa.Column("events", sa.Text(), nullable=True))  # no table rewrite on either engine


def downgrade() -> None:
    with op.batch_alter_table("usage_outbox") as batch_op:  # SQLite before 3.35 cannot drop a column in place
        batch_op.drop_column("events")
