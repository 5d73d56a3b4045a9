"""Purchases and proposals (AccountsApi, deprecated in Togai's SDK but served): docs/invoicing.md, "Purchases and
proposals". A proposal is a purchase row in a PROPOSAL_* status; approving it performs the purchase on that row."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from meterline.core.db import Base, ExactDecimal, UTCDateTime


class Purchase(Base):
    __tablename__ = "purchases"
    __table_args__ = (
        UniqueConstraint("org_id", "idempotency_key", name="uq_purchases_org_id_idempotency_key"),
        Index("ix_purchases_org_id_account_pk", "org_id", "account_pk"),
    )

    pk: Mapped[str] = mapped_column(String(40), primary_key=True)  # `purchase.` or `proposal.`
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    account_pk: Mapped[str] = mapped_column(ForeignKey("accounts.pk", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(24))  # ENTITLEMENT_GRANT | ASSOCIATION | WALLET_TOPUP | PREPAID
    status: Mapped[str] = mapped_column(String(24))  # PurchaseStatus
    payment_mode: Mapped[str | None] = mapped_column(String(16))  # a proposal's PREPAID | POSTPAID
    plan_id: Mapped[str | None] = mapped_column(String(50))
    plan_version: Mapped[int | None] = mapped_column(Integer)
    quantity: Mapped[int | None] = mapped_column(Integer)
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    topup_amount: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    purchase_amount: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    price: Mapped[Decimal | None] = mapped_column(ExactDecimal())  # the ORDER invoice's total
    currency: Mapped[str] = mapped_column(String(3))
    invoice_pk: Mapped[str | None] = mapped_column(String(40))
    effective_from: Mapped[datetime | None] = mapped_column(UTCDateTime())
    effective_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expiry_date: Mapped[datetime | None] = mapped_column(UTCDateTime())
    response_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # a proposal's approval or decline
    request: Mapped[str] = mapped_column(Text)  # the request as received (JSON), replayed on approval
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
