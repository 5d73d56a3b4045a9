"""The installation's id (`installation.installation_id`: a ClickHouse database takes one installation); ClickHouse's
event_keys table (an event id's events found by their keys) and usage_compact.writer (reads sum the recorded
writer's rows of each generation): refused while usage is in ClickHouse

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-04 13:00:00
"""

from __future__ import annotations

import secrets
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

import meterline.core.db

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
    # No change to the relational tables. Refused while usage is in ClickHouse: the events stored there have no key
    # rows, so looking them up by their id would find none of them, and its usage_compact table has no writer column
    # (docs/operations.md, "Upgrades").
    bind = op.get_bind()
    url = bind.execute(sa.text("SELECT value FROM installation WHERE name = 'usage_store'")).scalar()
    if url is not None:
        raise RuntimeError(MOVE_BACK_FIRST.format(url=url.split("@")[-1]))
    # Made here rather than at the first move: a move that fails rolls its transaction back, and its next run must
    # still be the same installation to the ClickHouse database it claimed (events/usage_store.py).
    installation = sa.table(
        "installation", sa.column("name"), sa.column("value"), sa.column("updated_at", meterline.core.db.UTCDateTime())
    )
    if bind.execute(sa.text("SELECT 1 FROM installation WHERE name = 'installation_id'")).scalar() is None:
        op.bulk_insert(
            installation,
            [{"name": "installation_id", "value": secrets.token_hex(16), "updated_at": datetime.now(timezone.utc)}],
        )


def downgrade() -> None:
    op.execute("DELETE FROM installation WHERE name = 'installation_id'")
