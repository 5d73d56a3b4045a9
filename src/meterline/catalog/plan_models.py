"""Price plans and their versions.

A plan's details (cycle, currencies, rate cards) live in its versions: a DRAFT plan edits version 1 in place; an
edit of an ACTIVE plan adds a version, and schedules keep the version they were made with. Details are stored as
the exact JSON the API speaks (decimals as JSON numbers), read back with decimals intact.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from meterline.core.db import Base, UTCDateTime


class PricePlan(Base):
    __tablename__ = "price_plans"
    __table_args__ = (
        UniqueConstraint("org_id", "id"),
        Index("ix_price_plans_org_id_name", "org_id", "name"),
    )

    pk: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    id: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(50))
    description: Mapped[str | None] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    latest_version: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PricePlanVersion(Base):
    __tablename__ = "price_plan_versions"
    __table_args__ = (UniqueConstraint("plan_pk", "version"),)

    pk: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    plan_pk: Mapped[str] = mapped_column(ForeignKey("price_plans.pk", ondelete="CASCADE"))
    version: Mapped[int]
    details: Mapped[str] = mapped_column(Text)  # JSON, exact decimals (catalog/plan_repository.py)
    active_currencies: Mapped[str] = mapped_column(String(255))  # comma-separated ISO codes
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
