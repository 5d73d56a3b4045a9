"""webhooks: endpoints, outbox messages, deliveries and their attempts; invoices' overdue_at (invoice.overdue, once)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 09:00:00
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import meterline.core.db

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

OWED = ("DUE", "PARTIALLY_PAID", "UN_COLLECTIBLE")


def _org(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["org_id"], ["organizations.id"], name=op.f(f"fk_{table}_org_id_organizations"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("pk", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("event_types", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("disabled_reason", sa.String(length=300), nullable=True),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("previous_secret", sa.String(length=100), nullable=True),
        sa.Column("previous_secret_until", meterline.core.db.UTCDateTime(), nullable=True),
        sa.Column("failing_since", meterline.core.db.UTCDateTime(), nullable=True),
        sa.Column("created_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.core.db.UTCDateTime(), nullable=False),
        _org("webhook_endpoints"),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_webhook_endpoints")),
    )
    op.create_index("ix_webhook_endpoints_org_id_status", "webhook_endpoints", ["org_id", "status"])
    op.create_table(
        "webhook_messages",
        sa.Column("pk", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("object_id", sa.String(length=100), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", meterline.core.db.UTCDateTime(), nullable=False),
        _org("webhook_messages"),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_webhook_messages")),
    )
    op.create_index("ix_webhook_messages_org_id_created_at", "webhook_messages", ["org_id", "created_at"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("pk", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("message_pk", sa.String(length=40), nullable=False),
        sa.Column("endpoint_pk", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", meterline.core.db.UTCDateTime(), nullable=True),
        sa.Column("last_attempt_at", meterline.core.db.UTCDateTime(), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("created_at", meterline.core.db.UTCDateTime(), nullable=False),
        _org("webhook_deliveries"),
        sa.ForeignKeyConstraint(
            ["message_pk"],
            ["webhook_messages.pk"],
            name=op.f("fk_webhook_deliveries_message_pk_webhook_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_pk"],
            ["webhook_endpoints.pk"],
            name=op.f("fk_webhook_deliveries_endpoint_pk_webhook_endpoints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index("ix_webhook_deliveries_due", "webhook_deliveries", ["status", "next_attempt_at"])
    op.create_index("ix_webhook_deliveries_endpoint", "webhook_deliveries", ["endpoint_pk", "pk"])
    op.create_index("ix_webhook_deliveries_message_pk", "webhook_deliveries", ["message_pk"])
    op.create_table(
        "webhook_attempts",
        sa.Column("pk", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("delivery_pk", sa.String(length=40), nullable=False),
        sa.Column("attempted_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=300), nullable=True),
        _org("webhook_attempts"),
        sa.ForeignKeyConstraint(
            ["delivery_pk"],
            ["webhook_deliveries.pk"],
            name=op.f("fk_webhook_attempts_delivery_pk_webhook_deliveries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_webhook_attempts")),
    )
    op.create_index("ix_webhook_attempts_delivery_pk", "webhook_attempts", ["delivery_pk", "pk"])
    with op.batch_alter_table("invoices") as batch_op:
        batch_op.add_column(sa.Column("overdue_at", meterline.core.db.UTCDateTime(), nullable=True))
    # Invoices already overdue when webhooks arrive are not announced: invoice.overdue is for what becomes overdue.
    invoices = sa.table(
        "invoices",
        sa.column("status", sa.String()),
        sa.column("due_date", meterline.core.db.UTCDateTime()),
        sa.column("overdue_at", meterline.core.db.UTCDateTime()),
    )
    op.execute(
        invoices.update()
        .where(invoices.c.status.in_(OWED), invoices.c.due_date < datetime.now(UTC))
        .values(overdue_at=invoices.c.due_date)
    )


def downgrade() -> None:
    with op.batch_alter_table("invoices") as batch_op:
        batch_op.drop_column("overdue_at")
    op.drop_index("ix_webhook_attempts_delivery_pk", table_name="webhook_attempts")
    op.drop_table("webhook_attempts")
    op.drop_index("ix_webhook_deliveries_message_pk", table_name="webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_endpoint", table_name="webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_due", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_index("ix_webhook_messages_org_id_created_at", table_name="webhook_messages")
    op.drop_table("webhook_messages")
    op.drop_index("ix_webhook_endpoints_org_id_status", table_name="webhook_endpoints")
    op.drop_table("webhook_endpoints")
