"""purchases and proposals; invoices.invoice_class (ORDER for a purchase's invoice)

Revision ID: 0023
Revises: 0021
Create Date: 2026-12-02 14:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import meterline.core.db

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    time = meterline.core.db.UTCDateTime
    exact = meterline.core.db.ExactDecimal
    with op.batch_alter_table("invoices") as batch:
        batch.add_column(sa.Column("invoice_class", sa.String(length=16), nullable=True))
    op.create_table(
        "purchases",
        sa.Column("pk", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("account_pk", sa.String(length=40), nullable=False),
        sa.Column("type", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("payment_mode", sa.String(length=16), nullable=True),
        sa.Column("plan_id", sa.String(length=50), nullable=True),
        sa.Column("plan_version", sa.Integer(), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("topup_amount", exact(), nullable=True),
        sa.Column("purchase_amount", exact(), nullable=True),
        sa.Column("price", exact(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("invoice_pk", sa.String(length=40), nullable=True),
        sa.Column("effective_from", time(), nullable=True),
        sa.Column("effective_until", time(), nullable=True),
        sa.Column("expiry_date", time(), nullable=True),
        sa.Column("response_at", time(), nullable=True),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("created_at", time(), nullable=False),
        sa.Column("updated_at", time(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_purchases_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["account_pk"], ["accounts.pk"], name=op.f("fk_purchases_account_pk_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_purchases")),
        sa.UniqueConstraint("org_id", "idempotency_key", name="uq_purchases_org_id_idempotency_key"),
    )
    op.create_index("ix_purchases_org_id_account_pk", "purchases", ["org_id", "account_pk"])


def downgrade() -> None:
    op.drop_index("ix_purchases_org_id_account_pk", table_name="purchases")
    op.drop_table("purchases")
    with op.batch_alter_table("invoices") as batch:
        batch.drop_column("invoice_class")
