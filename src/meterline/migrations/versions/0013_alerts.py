"""alerts: alerts (templates instantiated) and their incidents

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import meterline.core.db

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _org(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["org_id"], ["organizations.id"], name=op.f(f"fk_{table}_org_id_organizations"), ondelete="CASCADE"
    )


def upgrade() -> None:
    time = meterline.core.db.UTCDateTime
    op.create_table(
        "alerts",
        sa.Column("pk", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("template_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("interval", sa.Integer(), nullable=False),
        sa.Column("validity", sa.Integer(), nullable=True),
        sa.Column("entity_type", sa.String(length=16), nullable=False),
        sa.Column("entity_id", sa.String(length=255), nullable=True),
        sa.Column("entity_details", sa.Text(), nullable=False),
        sa.Column("owner_details", sa.Text(), nullable=False),
        sa.Column("parameters", sa.Text(), nullable=False),
        sa.Column("active_since", time(), nullable=False),
        sa.Column("next_evaluation_at", time(), nullable=True),
        sa.Column("last_evaluated_at", time(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("created_at", time(), nullable=False),
        sa.Column("updated_at", time(), nullable=False),
        _org("alerts"),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_alerts")),
    )
    op.create_index("ix_alerts_due", "alerts", ["status", "next_evaluation_at"])
    op.create_index("ix_alerts_org_id_pk", "alerts", ["org_id", "pk"])
    op.create_table(
        "alert_incidents",
        sa.Column("pk", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("alert_pk", sa.String(length=40), nullable=False),
        sa.Column("alert_version", sa.Integer(), nullable=False),
        sa.Column("template_id", sa.String(length=64), nullable=False),
        sa.Column("subject_type", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.String(length=255), nullable=False),
        sa.Column("level", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("active_key", sa.String(length=400), nullable=True),
        sa.Column("report_data", sa.Text(), nullable=False),
        sa.Column("valid_until", time(), nullable=True),
        sa.Column("last_checked_at", time(), nullable=False),
        sa.Column("resolved_at", time(), nullable=True),
        sa.Column("created_at", time(), nullable=False),
        sa.Column("updated_at", time(), nullable=False),
        _org("alert_incidents"),
        sa.ForeignKeyConstraint(
            ["alert_pk"], ["alerts.pk"], name=op.f("fk_alert_incidents_alert_pk_alerts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_alert_incidents")),
        sa.UniqueConstraint("active_key", name="uq_alert_incidents_active_key"),
    )
    op.create_index("ix_alert_incidents_alert_pk_active", "alert_incidents", ["alert_pk", "active_key"])
    op.create_index("ix_alert_incidents_org_id_pk", "alert_incidents", ["org_id", "pk"])


def downgrade() -> None:
    op.drop_index("ix_alert_incidents_org_id_pk", table_name="alert_incidents")
    op.drop_index("ix_alert_incidents_alert_pk_active", table_name="alert_incidents")
    op.drop_table("alert_incidents")
    op.drop_index("ix_alerts_org_id_pk", table_name="alerts")
    op.drop_index("ix_alerts_due", table_name="alerts")
    op.drop_table("alerts")
