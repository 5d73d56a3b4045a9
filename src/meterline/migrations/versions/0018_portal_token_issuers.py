"""portal tokens: who issued each one (an API key, or a console user), and an index for forgetting expired ones

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 10:20:00

Tokens issued before this revision have no issuer recorded (both columns null): they stay valid until they expire
(at most 7 days), revocable from the console like the others.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("portal_tokens", sa.Column("issued_by_key", sa.String(length=40), nullable=True))
    op.add_column("portal_tokens", sa.Column("issued_by_user", sa.String(length=40), nullable=True))
    op.create_index("ix_portal_tokens_org_id_expires_at", "portal_tokens", ["org_id", "expires_at"])


def downgrade() -> None:
    op.drop_index("ix_portal_tokens_org_id_expires_at", table_name="portal_tokens")
    with op.batch_alter_table("portal_tokens") as batch_op:  # SQLite before 3.35 cannot drop a column in place
        batch_op.drop_column("issued_by_user")
        batch_op.drop_column("issued_by_key")
