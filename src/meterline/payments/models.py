"""Payments recorded against an account, spread over its invoices (PaymentsApi)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from meterline.core.db import Base, ExactDecimal, UTCDateTime


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (Index("ix_payments_org_id_pk", "org_id", "pk"),)

    pk: Mapped[str] = mapped_column(String(40), primary_key=True)  # the payment id (`pay.`)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    account_pk: Mapped[str] = mapped_column(ForeignKey("accounts.pk", ondelete="CASCADE"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    total_amount: Mapped[Decimal] = mapped_column(ExactDecimal())
    description: Mapped[str | None] = mapped_column(String(512))
    notes: Mapped[str | None] = mapped_column(String(512))
    reference: Mapped[dict[str, Any]]  # externalPaymentReference
    records: Mapped[list[Any]]  # lineItemRecords (amounts as strings: exact)
    version: Mapped[int]
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
