"""metering: event schemas, usage meters

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 22:21:44.551351
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import meterline.core.db

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_schemas",
        sa.Column("pk", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("latest", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("dimensions", sa.JSON(), nullable=False),
        sa.Column("filter_fields", sa.JSON(), nullable=True),
        sa.Column("enrichments", sa.JSON(), nullable=True),
        sa.Column("event_id_template", sa.Text(), nullable=True),
        sa.Column("created_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_event_schemas_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_event_schemas")),
        sa.UniqueConstraint("org_id", "name", "version", name="uq_event_schemas_org_id_name_version"),
    )
    with op.batch_alter_table("event_schemas", schema=None) as batch_op:
        batch_op.create_index("ix_event_schemas_org_id_id", ["org_id", "id"], unique=False)
        batch_op.create_index("ix_event_schemas_org_id_latest_id", ["org_id", "latest", "id"], unique=False)

    op.create_table(
        "usage_meters",
        sa.Column("pk", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("id", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("billable_name", sa.String(length=255), nullable=True),
        sa.Column("description", sa.String(length=255), nullable=True),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("aggregation", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("computations", sa.JSON(), nullable=False),
        sa.Column("event_schema_id", sa.String(length=40), nullable=False),
        sa.Column("event_schema_name", sa.String(length=50), nullable=False),
        sa.Column("created_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.Column("last_activated_at", meterline.core.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_usage_meters_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_usage_meters")),
        sa.UniqueConstraint("id", name="uq_usage_meters_id"),
    )
    with op.batch_alter_table("usage_meters", schema=None) as batch_op:
        batch_op.create_index("ix_usage_meters_org_id_event_schema_name", ["org_id", "event_schema_name"], unique=False)
        batch_op.create_index(
            "uq_usage_meters_org_id_name_live",
            ["org_id", "name"],
            unique=True,
            sqlite_where=sa.text("status != 'ARCHIVED'"),
            postgresql_where=sa.text("status != 'ARCHIVED'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("usage_meters", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_usage_meters_org_id_name_live",
            sqlite_where=sa.text("status != 'ARCHIVED'"),
            postgresql_where=sa.text("status != 'ARCHIVED'"),
        )
        batch_op.drop_index("ix_usage_meters_org_id_event_schema_name")

    op.drop_table("usage_meters")
    with op.batch_alter_table("event_schemas", schema=None) as batch_op:
        batch_op.drop_index("ix_event_schemas_org_id_latest_id")
        batch_op.drop_index("ix_event_schemas_org_id_id")

    op.drop_table("event_schemas")
