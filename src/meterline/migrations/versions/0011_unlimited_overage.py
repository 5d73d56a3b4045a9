"""feature credit entries: `granted` may be empty, for an OVERAGE entry of an overage card without maxQuantity (no
limit)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 05:55:00
"""

from __future__ import annotations

from alembic import op

import meterline.core.db

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feature_credit_entries") as batch_op:
        batch_op.alter_column("granted", existing_type=meterline.core.db.ExactDecimal(), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("feature_credit_entries") as batch_op:
        batch_op.alter_column("granted", existing_type=meterline.core.db.ExactDecimal(), nullable=False)
