"""billing failures: bill run steps that failed, with their attempts and next attempt (retries with backoff)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 23:59:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import meterline.core.db

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "billing_failures",
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=40), nullable=False),
        sa.Column("invoice_pk", sa.String(length=40), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("first_failed_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.Column("last_failed_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.Column("next_attempt_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_pk"], ["invoices.pk"], name=op.f("fk_billing_failures_invoice_pk_invoices"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_billing_failures_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("org_id", "stage", "subject", name=op.f("pk_billing_failures")),
    )
    op.create_index("ix_billing_failures_invoice_pk", "billing_failures", ["invoice_pk"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_billing_failures_invoice_pk", table_name="billing_failures")
    op.drop_table("billing_failures")
