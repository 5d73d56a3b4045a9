"""pricing: add-ons, price plans and versions, schedules, license updates, jobs

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 00:25:17.006768
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import meterline.core.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "addons",
        sa.Column("pk", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("id", sa.String(length=50), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("billable_name", sa.String(length=255), nullable=True),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_addons_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_addons")),
        sa.UniqueConstraint("org_id", "id", name=op.f("uq_addons_org_id")),
    )
    op.create_table(
        "jobs",
        sa.Column("pk", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("created_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.Column("settled_at", meterline.core.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_jobs_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_jobs")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_jobs_org_id"), ["org_id"], unique=False)

    op.create_table(
        "price_plans",
        sa.Column("pk", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("id", sa.String(length=50), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=True),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.Column("created_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_price_plans_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_price_plans")),
        sa.UniqueConstraint("org_id", "id", name=op.f("uq_price_plans_org_id")),
    )
    with op.batch_alter_table("price_plans", schema=None) as batch_op:
        batch_op.create_index("ix_price_plans_org_id_name", ["org_id", "name"], unique=False)

    op.create_table(
        "job_entries",
        sa.Column("pk", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("job_pk", sa.String(length=40), nullable=False),
        sa.Column("entity_id", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("created_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["job_pk"], ["jobs.pk"], name=op.f("fk_job_entries_job_pk_jobs"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_job_entries_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_job_entries")),
    )
    with op.batch_alter_table("job_entries", schema=None) as batch_op:
        batch_op.create_index("ix_job_entries_job_pk_pk", ["job_pk", "pk"], unique=False)

    op.create_table(
        "price_plan_versions",
        sa.Column("pk", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("plan_pk", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("active_currencies", sa.String(length=255), nullable=False),
        sa.Column("created_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_price_plan_versions_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["plan_pk"], ["price_plans.pk"], name=op.f("fk_price_plan_versions_plan_pk_price_plans"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_price_plan_versions")),
        sa.UniqueConstraint("plan_pk", "version", name=op.f("uq_price_plan_versions_plan_pk")),
    )
    op.create_table(
        "license_updates",
        sa.Column("pk", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("license_id", sa.String(length=50), nullable=False),
        sa.Column("account_pk", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=50), nullable=False),
        sa.Column("quantity", meterline.core.db.ExactDecimal(), nullable=False),
        sa.Column("effective_from", meterline.core.db.UTCDateTime(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("created_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_pk"], ["accounts.pk"], name=op.f("fk_license_updates_account_pk_accounts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_license_updates_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_license_updates")),
        sa.UniqueConstraint("org_id", "idempotency_key", name=op.f("uq_license_updates_org_id")),
    )
    with op.batch_alter_table("license_updates", schema=None) as batch_op:
        batch_op.create_index(
            "ix_license_updates_org_id_account_pk_license_id_effective_from",
            ["org_id", "account_pk", "license_id", "effective_from"],
            unique=False,
        )

    op.create_table(
        "pricing_schedules",
        sa.Column("pk", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("account_pk", sa.String(length=40), nullable=False),
        sa.Column("plan_pk", sa.String(length=40), nullable=False),
        sa.Column("plan_version", sa.Integer(), nullable=False),
        sa.Column("start_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.Column("end_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.Column("override", sa.Text(), nullable=True),
        sa.Column("cycle", sa.Text(), nullable=True),
        sa.Column("created_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_pk"], ["accounts.pk"], name=op.f("fk_pricing_schedules_account_pk_accounts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_pricing_schedules_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["plan_pk"], ["price_plans.pk"], name=op.f("fk_pricing_schedules_plan_pk_price_plans")),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_pricing_schedules")),
    )
    with op.batch_alter_table("pricing_schedules", schema=None) as batch_op:
        batch_op.create_index(
            "ix_pricing_schedules_org_id_account_pk_start_at", ["org_id", "account_pk", "start_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("pricing_schedules", schema=None) as batch_op:
        batch_op.drop_index("ix_pricing_schedules_org_id_account_pk_start_at")

    op.drop_table("pricing_schedules")
    with op.batch_alter_table("license_updates", schema=None) as batch_op:
        batch_op.drop_index("ix_license_updates_org_id_account_pk_license_id_effective_from")

    op.drop_table("license_updates")
    op.drop_table("price_plan_versions")
    with op.batch_alter_table("job_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_job_entries_job_pk_pk")

    op.drop_table("job_entries")
    with op.batch_alter_table("price_plans", schema=None) as batch_op:
        batch_op.drop_index("ix_price_plans_org_id_name")

    op.drop_table("price_plans")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jobs_org_id"))

    op.drop_table("jobs")
    op.drop_table("addons")
