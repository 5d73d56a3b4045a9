"""usage_outbox (usage on its way to ClickHouse) and installation (the installation's own settings)

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03 09:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import meterline.core.db

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    time = meterline.core.db.UTCDateTime
    op.create_table(
        "usage_outbox",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", time(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_outbox")),
    )
    op.create_index(op.f("ix_usage_outbox_org_id"), "usage_outbox", ["org_id"])
    op.create_table(
        "installation",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", time(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_installation")),
    )


def downgrade() -> None:
    op.drop_table("installation")
    op.drop_index(op.f("ix_usage_outbox_org_id"), table_name="usage_outbox")
    op.drop_table("usage_outbox")
