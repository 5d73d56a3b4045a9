"""ClickHouse's event_keys table (an event id's events found by their keys) and usage_compact.writer (reads sum the
recorded writer's rows of each generation): refused while usage is in ClickHouse

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-04 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


MOVE_BACK_FIRST = (
    "this installation keeps its usage and events in ClickHouse ({url}); from this version on an event id's events "
    "are found through a table (event_keys), and compacted usage is read by a column (usage_compact.writer), that "
    "the version it runs did not create. Move usage and events back with the "
    "version you run (`meterline usage-store --database`), upgrade, then move them again "
    "(`meterline usage-store --clickhouse URL`, into an empty ClickHouse database): docs/operations.md, 'Upgrades'"
)


def upgrade() -> None:
    # No change to the relational schema. Refused while usage is in ClickHouse: the events stored there have no key
    # rows, so looking them up by their id would find none of them, and its usage_compact table has no writer column
    # (docs/operations.md, "Upgrades").
    url = op.get_bind().execute(sa.text("SELECT value FROM installation WHERE name = 'usage_store'")).scalar()
    if url is not None:
        raise RuntimeError(MOVE_BACK_FIRST.format(url=url.split("@")[-1]))


def downgrade() -> None:
    pass
