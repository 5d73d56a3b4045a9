"""foundation: organizations, keys, customers, accounts, aliases, settings

Revision ID: 0001
Revises:
Create Date: 2026-11-24 21:43:58.084945
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import meterline.core.db

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "instance_secrets",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_instance_secrets")),
    )
    op.create_table(
        "organizations",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("base_currency", sa.String(length=3), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("net_term_days", sa.Integer(), nullable=False),
        sa.Column("created_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizations")),
    )
    op.create_table(
        "aliases",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("created_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_aliases_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_aliases")),
        sa.UniqueConstraint("org_id", "value", name="uq_aliases_org_id_value"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.Column("revoked_at", meterline.core.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_api_keys_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_org_id"), ["org_id"], unique=False)

    op.create_table(
        "customers",
        sa.Column("pk", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("id", sa.String(length=50), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("primary_email", sa.String(length=320), nullable=False),
        sa.Column("address", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_customers_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_customers")),
        sa.UniqueConstraint("org_id", "id", name="uq_customers_org_id_id"),
    )
    op.create_table(
        "entity_settings",
        sa.Column("pk", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("full_id", sa.String(length=600), nullable=False),
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("entity_type", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.String(length=255), nullable=False),
        sa.Column("namespace", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("data_type", sa.String(length=16), nullable=False),
        sa.Column("created_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_entity_settings_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_entity_settings")),
        sa.UniqueConstraint("org_id", "full_id", name="uq_entity_settings_org_id_full_id"),
    )
    with op.batch_alter_table("entity_settings", schema=None) as batch_op:
        batch_op.create_index("ix_entity_settings_org_id_entity", ["org_id", "entity_type", "entity_id"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_users_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_users_org_id"), ["org_id"], unique=False)

    op.create_table(
        "accounts",
        sa.Column("pk", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("id", sa.String(length=50), nullable=False),
        sa.Column("customer_pk", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("invoice_currency", sa.String(length=3), nullable=False),
        sa.Column("net_term_days", sa.Integer(), nullable=True),
        sa.Column("address", sa.JSON(), nullable=True),
        sa.Column("primary_email", sa.String(length=320), nullable=True),
        sa.Column("billing_information", sa.JSON(), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_pk"], ["customers.pk"], name=op.f("fk_accounts_customer_pk_customers"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_accounts_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_accounts")),
        sa.UniqueConstraint("org_id", "id", name="uq_accounts_org_id_id"),
    )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_accounts_customer_pk"), ["customer_pk"], unique=False)

    op.create_table(
        "customer_contacts",
        sa.Column("pk", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("customer_pk", sa.String(length=40), nullable=False),
        sa.Column("username", sa.String(length=50), nullable=False),
        sa.Column("preferred_username", sa.String(length=50), nullable=True),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("phone", sa.String(length=30), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("login_access", sa.Boolean(), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=50), nullable=True),
        sa.Column("created_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_pk"],
            ["customers.pk"],
            name=op.f("fk_customer_contacts_customer_pk_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_customer_contacts_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_customer_contacts")),
        sa.UniqueConstraint("org_id", "username", name="uq_customer_contacts_org_id_username"),
    )
    with op.batch_alter_table("customer_contacts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customer_contacts_customer_pk"), ["customer_pk"], unique=False)

    op.create_table(
        "account_aliases",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("account_pk", sa.String(length=40), nullable=False),
        sa.Column("value", sa.String(length=50), nullable=False),
        sa.Column("effective_from", meterline.core.db.UTCDateTime(), nullable=False),
        sa.Column("effective_until", meterline.core.db.UTCDateTime(), nullable=False),
        sa.Column("created_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", meterline.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_pk"], ["accounts.pk"], name=op.f("fk_account_aliases_account_pk_accounts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_account_aliases_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_aliases")),
    )
    with op.batch_alter_table("account_aliases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_account_aliases_account_pk"), ["account_pk"], unique=False)
        batch_op.create_index("ix_account_aliases_org_id_value", ["org_id", "value"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("account_aliases", schema=None) as batch_op:
        batch_op.drop_index("ix_account_aliases_org_id_value")
        batch_op.drop_index(batch_op.f("ix_account_aliases_account_pk"))

    op.drop_table("account_aliases")
    with op.batch_alter_table("customer_contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_contacts_customer_pk"))

    op.drop_table("customer_contacts")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accounts_customer_pk"))

    op.drop_table("accounts")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_org_id"))

    op.drop_table("users")
    with op.batch_alter_table("entity_settings", schema=None) as batch_op:
        batch_op.drop_index("ix_entity_settings_org_id_entity")

    op.drop_table("entity_settings")
    op.drop_table("customers")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_org_id"))

    op.drop_table("api_keys")
    op.drop_table("aliases")
    op.drop_table("organizations")
    op.drop_table("instance_secrets")
