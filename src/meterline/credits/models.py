"""Credits and their append-only ledger (billing-rules D9)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from meterline.core.db import Base, ExactDecimal, UTCDateTime


class Credit(Base):
    """A grant. `consumed_amount` is the sum of its ledger (DEBITED minus CREDITED back), kept on the row so that
    balances read one row; the ledger is the truth and the tests check they agree."""

    __tablename__ = "credits"
    __table_args__ = (
        UniqueConstraint("org_id", "idempotency_key", name="uq_credits_org_id_idempotency_key"),
        Index("ix_credits_org_id_account_pk_status", "org_id", "account_pk", "status"),
    )

    pk: Mapped[str] = mapped_column(String(40), primary_key=True)  # the credit id (`credit.`)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    account_pk: Mapped[str] = mapped_column(ForeignKey("accounts.pk", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(255))
    scope: Mapped[list[Any]]  # applicableEntityIds; empty: every rate card and the true-up
    effective_from: Mapped[date] = mapped_column(Date())
    effective_until: Mapped[date | None] = mapped_column(Date())  # inclusive; none: no expiry
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())  # 00:00 of effective_from, organization time
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())  # 00:00 after effective_until, or the end of time
    amount: Mapped[Decimal] = mapped_column(ExactDecimal())
    currency: Mapped[str] = mapped_column(String(3))
    priority: Mapped[int]
    grantor_id: Mapped[str | None] = mapped_column(String(255))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))  # ACTIVE | CONSUMED | EXPIRED | VOIDED
    consumed_amount: Mapped[Decimal] = mapped_column(ExactDecimal())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CreditTransaction(Base):
    """CREDITED (the grant, or an amount given back by a voided invoice), DEBITED (consumed by a finalized invoice),
    EXPIRED and VOIDED (the remainder, when the credit ends). Never updated or deleted."""

    __tablename__ = "credit_transactions"
    __table_args__ = (Index("ix_credit_transactions_credit_pk_pk", "credit_pk", "pk"),)

    pk: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    credit_pk: Mapped[str] = mapped_column(ForeignKey("credits.pk", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(16))
    invoice_pk: Mapped[str | None] = mapped_column(String(40), index=True)
    entity_id: Mapped[str | None] = mapped_column(String(255))
    amount: Mapped[Decimal] = mapped_column(ExactDecimal())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
