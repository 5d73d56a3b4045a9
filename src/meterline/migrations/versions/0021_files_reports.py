"""files (generated files in the file store) and reports (template and query exports as CSV files)

Revision ID: 0021
Revises: 0018
Create Date: 2026-12-02 13:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import meterline.core.db

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    time = meterline.core.db.UTCDateTime
    op.create_table(
        "files",
        sa.Column("pk", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("store", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("created_at", time(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_files_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_files")),
    )
    op.create_index(op.f("ix_files_org_id"), "files", ["org_id"])
    op.create_table(
        "reports",
        sa.Column("pk", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("template_id", sa.String(length=64), nullable=True),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("query_input", sa.JSON(), nullable=True),
        sa.Column("account_id", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=1000), nullable=True),
        sa.Column("file_pk", sa.String(length=40), nullable=True),
        sa.Column("job_pk", sa.String(length=40), nullable=True),
        sa.Column("created_at", time(), nullable=False),
        sa.Column("updated_at", time(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_reports_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["file_pk"], ["files.pk"], name=op.f("fk_reports_file_pk_files"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_reports")),
    )
    op.create_index(op.f("ix_reports_org_id"), "reports", ["org_id"])
    op.create_index("ix_reports_org_id_account_id", "reports", ["org_id", "account_id"])


def downgrade() -> None:
    op.drop_index("ix_reports_org_id_account_id", table_name="reports")
    op.drop_index(op.f("ix_reports_org_id"), table_name="reports")
    op.drop_table("reports")
    op.drop_index(op.f("ix_files_org_id"), table_name="files")
    op.drop_table("files")
