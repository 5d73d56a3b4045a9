"""schedule_drafts: an account's staged schedule edits (SchedulesApi v2)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02 14:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import meterline.core.db

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedule_drafts",
        sa.Column("account_pk", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("edits", sa.Text(), nullable=False),
        sa.Column("updated_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_pk"], ["accounts.pk"], name=op.f("fk_schedule_drafts_account_pk_accounts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_schedule_drafts_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("account_pk", name=op.f("pk_schedule_drafts")),
    )
    op.create_index(op.f("ix_schedule_drafts_org_id"), "schedule_drafts", ["org_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_schedule_drafts_org_id"), table_name="schedule_drafts")
    op.drop_table("schedule_drafts")
