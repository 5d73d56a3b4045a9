"""portal tokens: the customer portal's delegate tokens (hashed)

Revision ID: 0017
Revises: 0013
Create Date: 2026-12-02 09:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import meterline.core.db

revision = "0017"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    time = meterline.core.db.UTCDateTime
    op.create_table(
        "portal_tokens",
        sa.Column("pk", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("customer_pk", sa.String(length=40), nullable=False),
        sa.Column("account_pks", sa.JSON(), nullable=False),
        sa.Column("all_accounts", sa.Boolean(), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", time(), nullable=False),
        sa.Column("expires_at", time(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_portal_tokens_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["customer_pk"], ["customers.pk"], name=op.f("fk_portal_tokens_customer_pk_customers"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_portal_tokens")),
        sa.UniqueConstraint("prefix", name=op.f("uq_portal_tokens_prefix")),
    )
    op.create_index("ix_portal_tokens_org_id_customer_pk", "portal_tokens", ["org_id", "customer_pk"])


def downgrade() -> None:
    op.drop_index("ix_portal_tokens_org_id_customer_pk", table_name="portal_tokens")
    op.drop_table("portal_tokens")
