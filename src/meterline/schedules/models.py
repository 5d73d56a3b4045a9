"""Price plan schedules: which plan (and version, and account overrides) an account is on, over [start, end)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from meterline.core.db import Base, UTCDateTime


class PricingSchedule(Base):
    __tablename__ = "pricing_schedules"
    __table_args__ = (Index("ix_pricing_schedules_org_id_account_pk_start_at", "org_id", "account_pk", "start_at"),)

    pk: Mapped[str] = mapped_column(String(40), primary_key=True)  # the schedule id (`ps.`)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    account_pk: Mapped[str] = mapped_column(ForeignKey("accounts.pk", ondelete="CASCADE"))
    plan_pk: Mapped[str] = mapped_column(ForeignKey("price_plans.pk"))
    plan_version: Mapped[int]
    start_at: Mapped[datetime] = mapped_column(UTCDateTime())
    end_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The account's pricePlanDetailsOverride as given (JSON, exact decimals), or null.
    override: Mapped[str | None] = mapped_column(Text)
    # The cycle this schedule bills on, offsets resolved (anniversary, retainStartOffsets): JSON, null for PURCHASE.
    cycle: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ScheduleDraft(Base):
    """An account's staged schedule edits (SchedulesApi v2): kept until finalize applies them or discard drops them.
    One row per account (its pk is the account's)."""

    __tablename__ = "schedule_drafts"

    account_pk: Mapped[str] = mapped_column(ForeignKey("accounts.pk", ondelete="CASCADE"), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    # The staged edits in order, as v1 edit requests (JSON list, by alias, exact decimals).
    edits: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
