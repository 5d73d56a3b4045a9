"""invoicing: invoices, invoice sequences, payments, daily usage

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 03:18:24.698516
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import meterline.core.db

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "invoice_sequences",
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_invoice_sequences_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("org_id", name=op.f("pk_invoice_sequences")),
    )
    op.create_table(
        "invoices",
        sa.Column("pk", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("account_pk", sa.String(length=40), nullable=False),
        sa.Column("invoice_type", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("schedule_pk", sa.String(length=40), nullable=True),
        sa.Column("plan_id", sa.String(length=50), nullable=True),
        sa.Column("cycle_start", meterline.core.db.UTCDateTime(), nullable=True),
        sa.Column("cycle_end", meterline.core.db.UTCDateTime(), nullable=True),
        sa.Column("start_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.Column("end_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.Column("finalize_at", meterline.core.db.UTCDateTime(), nullable=True),
        sa.Column("invoice_date", meterline.core.db.UTCDateTime(), nullable=False),
        sa.Column("due_date", meterline.core.db.UTCDateTime(), nullable=True),
        sa.Column("net_term_days", sa.Integer(), nullable=False),
        sa.Column("sequence_number", sa.Integer(), nullable=True),
        sa.Column("sequence_id", sa.String(length=64), nullable=True),
        sa.Column("total_amount", meterline.core.db.ExactDecimal(), nullable=True),
        sa.Column("paid_amount", meterline.core.db.ExactDecimal(), nullable=False),
        sa.Column("lines", sa.Text(), nullable=True),
        sa.Column("usage", sa.Text(), nullable=True),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column("custom_lines", sa.Text(), nullable=True),
        sa.Column("charges", sa.Text(), nullable=True),
        sa.Column("auto_advance", sa.Boolean(), nullable=False),
        sa.Column("apply_credits", sa.Boolean(), nullable=False),
        sa.Column("apply_wallet", sa.Boolean(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=True),
        sa.Column("created_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.Column("finalized_at", meterline.core.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_pk"], ["accounts.pk"], name=op.f("fk_invoices_account_pk_accounts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_invoices_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_invoices")),
        sa.UniqueConstraint("org_id", "idempotency_key", name="uq_invoices_org_id_idempotency_key"),
        sa.UniqueConstraint("org_id", "schedule_pk", "cycle_start", "invoice_type", name="uq_invoices_piece"),
        sa.UniqueConstraint("org_id", "sequence_number", name="uq_invoices_org_id_sequence_number"),
    )
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.create_index("ix_invoices_org_id_account_pk", ["org_id", "account_pk"], unique=False)
        batch_op.create_index(
            "ix_invoices_due_order",
            ["org_id", "status", "finalize_at", "account_pk", "start_at", "invoice_type", "pk"],
            unique=False,
        )

    op.create_table(
        "payments",
        sa.Column("pk", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("account_pk", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total_amount", meterline.core.db.ExactDecimal(), nullable=False),
        sa.Column("description", sa.String(length=512), nullable=True),
        sa.Column("notes", sa.String(length=512), nullable=True),
        sa.Column("reference", sa.JSON(), nullable=False),
        sa.Column("records", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_pk"], ["accounts.pk"], name=op.f("fk_payments_account_pk_accounts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_payments_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_payments")),
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payments_account_pk"), ["account_pk"], unique=False)
        batch_op.create_index("ix_payments_org_id_pk", ["org_id", "pk"], unique=False)

    op.create_table(
        "usage_daily",
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("account_pk", sa.String(length=40), nullable=False),
        sa.Column("meter_id", sa.String(length=20), nullable=False),
        sa.Column("day_start", meterline.core.db.UTCDateTime(), nullable=False),
        sa.Column("quantity", meterline.core.db.ExactDecimal(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "account_pk", "meter_id", "day_start", name="pk_usage_daily"),
    )
    _backfill_daily_usage()


def _backfill_daily_usage() -> None:
    """Sum the existing 15-minute buckets into local days of each organization."""
    from decimal import Decimal
    from zoneinfo import ZoneInfo

    from meterline.core.money import EXACT
    from meterline.rating import cycles

    bind = op.get_bind()

    def columns() -> list:
        return [
            sa.column("org_id"),
            sa.column("account_pk"),
            sa.column("meter_id"),
            sa.column("quantity", meterline.core.db.ExactDecimal()),
            sa.column("events"),
        ]

    rollups = sa.table("usage_rollups", *columns(), sa.column("bucket_start", meterline.core.db.UTCDateTime()))
    daily = sa.table("usage_daily", *columns(), sa.column("day_start", meterline.core.db.UTCDateTime()))
    for org_id, timezone in bind.execute(sa.text("SELECT id, timezone FROM organizations")).all():
        tz = ZoneInfo(timezone)
        days: dict = {}
        rows = bind.execute(
            sa.select(
                rollups.c.account_pk, rollups.c.meter_id, rollups.c.bucket_start, rollups.c.quantity, rollups.c.events
            ).where(rollups.c.org_id == org_id)
        )
        for account_pk, meter_id, bucket, quantity, events in rows:
            key = (account_pk, meter_id, cycles.local_start_of_day(cycles.local_day(bucket, tz), tz))
            qty, n = days.get(key, (Decimal(0), 0))
            days[key] = (EXACT.add(qty, quantity), n + events)
        if days:
            bind.execute(
                daily.insert(),
                [
                    {"org_id": org_id, "account_pk": a, "meter_id": m, "day_start": d, "quantity": q, "events": n}
                    for (a, m, d), (q, n) in days.items()
                ],
            )


def downgrade() -> None:
    op.drop_table("usage_daily")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index("ix_payments_org_id_pk")
        batch_op.drop_index(batch_op.f("ix_payments_account_pk"))

    op.drop_table("payments")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index("ix_invoices_due_order")
        batch_op.drop_index("ix_invoices_org_id_account_pk")

    op.drop_table("invoices")
    op.drop_table("invoice_sequences")
