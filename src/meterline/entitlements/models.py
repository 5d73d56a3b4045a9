"""Features, the (event schema, attribute) pairs they read, and feature credits: entries and what events consumed
(docs/entitlements.md).

An entry is a grant of units of one feature to one account, valid over [starts_at, ends_at). `used` is the sum of
its consumptions, kept on the row so that a balance reads one row per entry; the consumptions are the truth and the
tests check they agree. An entry is never deleted: it is VOIDED, or it expires (EXPIRED is read from `ends_at` and
the instant of the read, never stored).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, PrimaryKeyConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from meterline.core.db import Base, ExactDecimal, UTCDateTime


class Feature(Base):
    __tablename__ = "features"
    __table_args__ = (Index("ix_features_org_id_pk", "org_id", "pk"),)

    pk: Mapped[str] = mapped_column(String(40), primary_key=True)  # the feature id (`feature.`)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    billable_name: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FeatureSchema(Base):
    """A feature reads `attribute_name` of the events of `schema_name`. The key (org_id, schema_name) makes a schema
    feed at most one feature, so an event of it has one feature and one number of units."""

    __tablename__ = "feature_schemas"
    __table_args__ = (
        PrimaryKeyConstraint("org_id", "schema_name", name="pk_feature_schemas"),
        Index("ix_feature_schemas_feature_pk", "feature_pk"),
    )

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    schema_name: Mapped[str] = mapped_column(String(50))
    feature_pk: Mapped[str] = mapped_column(ForeignKey("features.pk", ondelete="CASCADE"))
    attribute_name: Mapped[str] = mapped_column(String(50))
    position: Mapped[int]  # the order the feature lists its associations in


class FeatureCreditEntry(Base):
    """A grant of `granted` units of a feature to an account, usable over [starts_at, ends_at).

    `pk` (`fce.`) orders entries by creation; `entry_id` is the id the API shows and takes (at most 50 characters,
    the SDK's limit; its forms are in docs/entitlements.md), unique per (account, feature). `status` is ACTIVE or
    VOIDED as stored; a read past `ends_at` shows EXPIRED. `origin` names what granted it: a schedule (PRICE_PLAN,
    OVERAGE), the reverted event (REFUND), nothing for a grant through the API (ENTITLEMENT)."""

    __tablename__ = "feature_credit_entries"
    __table_args__ = (
        UniqueConstraint("org_id", "account_pk", "feature_pk", "entry_id", name="uq_feature_credit_entries_entry_id"),
        UniqueConstraint("org_id", "idempotency_key", name="uq_feature_credit_entries_org_id_idempotency_key"),
        Index("ix_feature_credit_entries_account_feature", "org_id", "account_pk", "feature_pk", "status", "ends_at"),
    )

    pk: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    account_pk: Mapped[str] = mapped_column(ForeignKey("accounts.pk", ondelete="CASCADE"))
    feature_pk: Mapped[str] = mapped_column(ForeignKey("features.pk", ondelete="CASCADE"))
    entry_id: Mapped[str] = mapped_column(String(50))
    source: Mapped[str] = mapped_column(String(16))  # ENTITLEMENT | PRICE_PLAN | OVERAGE | REFUND
    status: Mapped[str] = mapped_column(String(16))  # ACTIVE | VOIDED (EXPIRED is read, never stored)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    granted: Mapped[Decimal | None] = mapped_column(ExactDecimal())  # None: no limit (an unlimited OVERAGE entry)
    used: Mapped[Decimal] = mapped_column(ExactDecimal())
    origin: Mapped[str | None] = mapped_column(String(255))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FeatureConsumption(Base):
    """`units` of an entry consumed by an entitled event (`event_pk`: the stored event, Togai's referenceId). An UNDO
    of the event sets `refunded_at`, and `refund_entry_pk` when the units came back as a REFUND entry (not when the
    entry had expired or been voided by then). Never deleted."""

    __tablename__ = "feature_consumptions"
    __table_args__ = (
        Index("ix_feature_consumptions_org_id_event_pk", "org_id", "event_pk"),
        Index("ix_feature_consumptions_entry_pk", "entry_pk"),
    )

    pk: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    entry_pk: Mapped[str] = mapped_column(ForeignKey("feature_credit_entries.pk", ondelete="CASCADE"))
    event_pk: Mapped[str] = mapped_column(String(40))
    units: Mapped[Decimal] = mapped_column(ExactDecimal())
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    refund_entry_pk: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
