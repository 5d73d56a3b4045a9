"""events: event store, dedup ids, usage rollups

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 22:30:24.131939
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import meterline.core.db

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_ids",
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("event_id", sa.String(length=512), nullable=False),
        sa.Column("claimed_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "event_id", name="pk_event_ids"),
    )
    with op.batch_alter_table("event_ids", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_ids_claimed_at"), ["claimed_at"], unique=False)

    op.create_table(
        "usage_rollups",
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("account_pk", sa.String(length=40), nullable=False),
        sa.Column("meter_id", sa.String(length=20), nullable=False),
        sa.Column("bucket_start", meterline.core.db.UTCDateTime(), nullable=False),
        sa.Column("quantity", meterline.core.db.ExactDecimal(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "account_pk", "meter_id", "bucket_start", name="pk_usage_rollups"),
    )
    op.create_table(
        "events",
        sa.Column("pk", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("event_id", sa.String(length=512), nullable=True),
        sa.Column("schema_name", sa.String(length=50), nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=True),
        sa.Column("account_ref", sa.String(length=512), nullable=False),
        sa.Column("account_pk", sa.String(length=40), nullable=True),
        sa.Column("timestamp", meterline.core.db.UTCDateTime(), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("dimensions", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=48), nullable=False),
        sa.Column("status_description", sa.String(length=250), nullable=True),
        sa.Column("units", sa.JSON(), nullable=True),
        sa.Column("created_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_events_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_events_org_id_account_pk_timestamp", ["org_id", "account_pk", "timestamp"], unique=False
        )
        batch_op.create_index("ix_events_org_id_event_id", ["org_id", "event_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_org_id_event_id")
        batch_op.drop_index("ix_events_org_id_account_pk_timestamp")

    op.drop_table("events")
    op.drop_table("usage_rollups")
    with op.batch_alter_table("event_ids", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_ids_claimed_at"))

    op.drop_table("event_ids")
