"""Add-ons ("billable items"): what fixed-fee, license and credit-grant rate cards charge for."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from meterline.core.db import Base, UTCDateTime


class AddOn(Base):
    __tablename__ = "addons"
    __table_args__ = (UniqueConstraint("org_id", "id"),)

    pk: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    id: Mapped[str] = mapped_column(String(50))  # `addon.` + ULID: what rate cards name
    name: Mapped[str] = mapped_column(String(255))
    billable_name: Mapped[str | None] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
