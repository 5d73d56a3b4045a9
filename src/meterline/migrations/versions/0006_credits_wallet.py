"""credits and wallet

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 04:10:43.537430
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import meterline.core.db

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "credits",
        sa.Column("pk", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("account_pk", sa.String(length=40), nullable=False),
        sa.Column("purpose", sa.String(length=255), nullable=False),
        sa.Column("scope", sa.JSON(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("effective_until", sa.Date(), nullable=True),
        sa.Column("starts_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.Column("ends_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.Column("amount", meterline.core.db.ExactDecimal(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("grantor_id", sa.String(length=255), nullable=True),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("consumed_amount", meterline.core.db.ExactDecimal(), nullable=False),
        sa.Column("created_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_pk"], ["accounts.pk"], name=op.f("fk_credits_account_pk_accounts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_credits_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_credits")),
        sa.UniqueConstraint("org_id", "idempotency_key", name="uq_credits_org_id_idempotency_key"),
    )
    with op.batch_alter_table("credits", schema=None) as batch_op:
        batch_op.create_index("ix_credits_org_id_account_pk_status", ["org_id", "account_pk", "status"], unique=False)

    op.create_table(
        "wallets",
        sa.Column("pk", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("account_pk", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("effective_from", meterline.core.db.UTCDateTime(), nullable=False),
        sa.Column("balance", meterline.core.db.ExactDecimal(), nullable=False),
        sa.Column("created_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_pk"], ["accounts.pk"], name=op.f("fk_wallets_account_pk_accounts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_wallets_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_wallets")),
        sa.UniqueConstraint("account_pk", name=op.f("uq_wallets_account_pk")),
    )
    with op.batch_alter_table("wallets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_wallets_org_id"), ["org_id"], unique=False)

    op.create_table(
        "credit_transactions",
        sa.Column("pk", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("credit_pk", sa.String(length=40), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("invoice_pk", sa.String(length=40), nullable=True),
        sa.Column("entity_id", sa.String(length=255), nullable=True),
        sa.Column("amount", meterline.core.db.ExactDecimal(), nullable=False),
        sa.Column("created_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["credit_pk"], ["credits.pk"], name=op.f("fk_credit_transactions_credit_pk_credits"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_credit_transactions_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_credit_transactions")),
    )
    with op.batch_alter_table("credit_transactions", schema=None) as batch_op:
        batch_op.create_index("ix_credit_transactions_credit_pk_pk", ["credit_pk", "pk"], unique=False)
        batch_op.create_index(batch_op.f("ix_credit_transactions_invoice_pk"), ["invoice_pk"], unique=False)

    op.create_table(
        "wallet_entries",
        sa.Column("pk", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("wallet_pk", sa.String(length=40), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("entity_id", sa.String(length=40), nullable=True),
        sa.Column("description", sa.String(length=50), nullable=True),
        sa.Column("amount", meterline.core.db.ExactDecimal(), nullable=False),
        sa.Column("closing_balance", meterline.core.db.ExactDecimal(), nullable=False),
        sa.Column("created_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_wallet_entries_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["wallet_pk"], ["wallets.pk"], name=op.f("fk_wallet_entries_wallet_pk_wallets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_wallet_entries")),
    )
    with op.batch_alter_table("wallet_entries", schema=None) as batch_op:
        batch_op.create_index("ix_wallet_entries_wallet_pk_pk", ["wallet_pk", "pk"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("wallet_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_wallet_entries_wallet_pk_pk")

    op.drop_table("wallet_entries")
    with op.batch_alter_table("credit_transactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_credit_transactions_invoice_pk"))
        batch_op.drop_index("ix_credit_transactions_credit_pk_pk")

    op.drop_table("credit_transactions")
    with op.batch_alter_table("wallets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_wallets_org_id"))

    op.drop_table("wallets")
    with op.batch_alter_table("credits", schema=None) as batch_op:
        batch_op.drop_index("ix_credits_org_id_account_pk_status")

    op.drop_table("credits")
