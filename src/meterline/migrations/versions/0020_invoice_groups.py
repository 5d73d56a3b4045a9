"""invoice groups: groups of accounts, their members, and their COMPOSITE invoices

Revision ID: 0020
Revises: 0018
Create Date: 2026-12-02 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import meterline.core.db

revision = "0020"
down_revision = "0018"
branch_labels = None
depends_on = None


def _org(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["org_id"], ["organizations.id"], name=op.f(f"fk_{table}_org_id_organizations"), ondelete="CASCADE"
    )


def upgrade() -> None:
    time = meterline.core.db.UTCDateTime
    exact = meterline.core.db.ExactDecimal
    op.create_table(
        "invoice_groups",
        sa.Column("pk", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("daily_consolidation", sa.Boolean(), nullable=False),
        sa.Column("net_term_days", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("address", sa.JSON(), nullable=False),
        sa.Column("created_at", time(), nullable=False),
        sa.Column("updated_at", time(), nullable=False),
        _org("invoice_groups"),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_invoice_groups")),
    )
    op.create_index(op.f("ix_invoice_groups_org_id"), "invoice_groups", ["org_id"])
    op.create_table(
        "invoice_group_members",
        sa.Column("account_pk", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("group_pk", sa.String(length=40), nullable=False),
        sa.Column("joined_at", time(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_pk"],
            ["accounts.pk"],
            name=op.f("fk_invoice_group_members_account_pk_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["group_pk"],
            ["invoice_groups.pk"],
            name=op.f("fk_invoice_group_members_group_pk_invoice_groups"),
            ondelete="CASCADE",
        ),
        _org("invoice_group_members"),
        sa.PrimaryKeyConstraint("account_pk", name=op.f("pk_invoice_group_members")),
    )
    op.create_index(op.f("ix_invoice_group_members_group_pk"), "invoice_group_members", ["group_pk"])
    op.create_table(
        "composite_invoices",
        sa.Column("pk", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("group_pk", sa.String(length=40), nullable=False),
        sa.Column("period", sa.String(length=80), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("start_at", time(), nullable=False),
        sa.Column("end_at", time(), nullable=False),
        sa.Column("invoice_date", time(), nullable=False),
        sa.Column("due_date", time(), nullable=False),
        sa.Column("net_term_days", sa.Integer(), nullable=False),
        sa.Column("sequence_number", sa.Integer(), nullable=False),
        sa.Column("sequence_id", sa.String(length=64), nullable=False),
        sa.Column("total_amount", exact(), nullable=False),
        sa.Column("lines", sa.Text(), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("created_at", time(), nullable=False),
        _org("composite_invoices"),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_composite_invoices")),
        sa.UniqueConstraint("org_id", "sequence_number", name=op.f("uq_composite_invoices_org_id_sequence_number")),
    )
    op.create_index("ix_composite_invoices_org_id_group_pk", "composite_invoices", ["org_id", "group_pk"])
    op.create_table(
        "composite_invoice_members",
        sa.Column("invoice_pk", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("composite_pk", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_pk"],
            ["invoices.pk"],
            name=op.f("fk_composite_invoice_members_invoice_pk_invoices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["composite_pk"],
            ["composite_invoices.pk"],
            name=op.f("fk_composite_invoice_members_composite_pk_composite_invoices"),
            ondelete="CASCADE",
        ),
        _org("composite_invoice_members"),
        sa.PrimaryKeyConstraint("invoice_pk", name=op.f("pk_composite_invoice_members")),
    )
    op.create_index(op.f("ix_composite_invoice_members_composite_pk"), "composite_invoice_members", ["composite_pk"])


def downgrade() -> None:
    op.drop_table("composite_invoice_members")
    op.drop_table("composite_invoices")
    op.drop_table("invoice_group_members")
    op.drop_table("invoice_groups")
