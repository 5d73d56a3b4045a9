"""entitlements: features and the (event schema, attribute) pairs they read, feature credit entries, and what entitled
events consumed of them

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 02:33:46
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import meterline.core.db

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "features",
        sa.Column("pk", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("billable_name", sa.String(length=255), nullable=True),
        sa.Column("created_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_features_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_features")),
    )
    with op.batch_alter_table("features", schema=None) as batch_op:
        batch_op.create_index("ix_features_org_id_pk", ["org_id", "pk"], unique=False)

    op.create_table(
        "feature_schemas",
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("schema_name", sa.String(length=50), nullable=False),
        sa.Column("feature_pk", sa.String(length=40), nullable=False),
        sa.Column("attribute_name", sa.String(length=50), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["feature_pk"], ["features.pk"], name=op.f("fk_feature_schemas_feature_pk_features"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_feature_schemas_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("org_id", "schema_name", name="pk_feature_schemas"),
    )
    with op.batch_alter_table("feature_schemas", schema=None) as batch_op:
        batch_op.create_index("ix_feature_schemas_feature_pk", ["feature_pk"], unique=False)

    op.create_table(
        "feature_credit_entries",
        sa.Column("pk", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("account_pk", sa.String(length=40), nullable=False),
        sa.Column("feature_pk", sa.String(length=40), nullable=False),
        sa.Column("entry_id", sa.String(length=50), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("starts_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.Column("ends_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.Column("granted", meterline.core.db.ExactDecimal(), nullable=False),
        sa.Column("used", meterline.core.db.ExactDecimal(), nullable=False),
        sa.Column("origin", sa.String(length=255), nullable=True),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("voided_at", meterline.core.db.UTCDateTime(), nullable=True),
        sa.Column("created_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_pk"],
            ["accounts.pk"],
            name=op.f("fk_feature_credit_entries_account_pk_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["feature_pk"],
            ["features.pk"],
            name=op.f("fk_feature_credit_entries_feature_pk_features"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_feature_credit_entries_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_feature_credit_entries")),
        sa.UniqueConstraint(
            "org_id", "account_pk", "feature_pk", "entry_id", name="uq_feature_credit_entries_entry_id"
        ),
        sa.UniqueConstraint("org_id", "idempotency_key", name="uq_feature_credit_entries_org_id_idempotency_key"),
    )
    with op.batch_alter_table("feature_credit_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_feature_credit_entries_account_feature",
            ["org_id", "account_pk", "feature_pk", "status", "ends_at"],
            unique=False,
        )

    op.create_table(
        "feature_consumptions",
        sa.Column("pk", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("entry_pk", sa.String(length=40), nullable=False),
        sa.Column("event_pk", sa.String(length=40), nullable=False),
        sa.Column("units", meterline.core.db.ExactDecimal(), nullable=False),
        sa.Column("refunded_at", meterline.core.db.UTCDateTime(), nullable=True),
        sa.Column("refund_entry_pk", sa.String(length=40), nullable=True),
        sa.Column("created_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_pk"],
            ["feature_credit_entries.pk"],
            name=op.f("fk_feature_consumptions_entry_pk_feature_credit_entries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_feature_consumptions_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_feature_consumptions")),
    )
    with op.batch_alter_table("feature_consumptions", schema=None) as batch_op:
        batch_op.create_index("ix_feature_consumptions_entry_pk", ["entry_pk"], unique=False)
        batch_op.create_index("ix_feature_consumptions_org_id_event_pk", ["org_id", "event_pk"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("feature_consumptions", schema=None) as batch_op:
        batch_op.drop_index("ix_feature_consumptions_org_id_event_pk")
        batch_op.drop_index("ix_feature_consumptions_entry_pk")

    op.drop_table("feature_consumptions")
    with op.batch_alter_table("feature_credit_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_feature_credit_entries_account_feature")

    op.drop_table("feature_credit_entries")
    with op.batch_alter_table("feature_schemas", schema=None) as batch_op:
        batch_op.drop_index("ix_feature_schemas_feature_pk")

    op.drop_table("feature_schemas")
    with op.batch_alter_table("features", schema=None) as batch_op:
        batch_op.drop_index("ix_features_org_id_pk")

    op.drop_table("features")
