"""The wallet of an account and its append-only entries (billing-rules D10)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from meterline.core.db import Base, ExactDecimal, UTCDateTime


class Wallet(Base):
    """`balance` is credited - debited, the sum of the entries, kept on the row (updated under its row lock with
    each entry); holds on DRAFT invoices are computed when read, never stored."""

    __tablename__ = "wallets"

    pk: Mapped[str] = mapped_column(String(40), primary_key=True)  # the wallet id (`wallet.`)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    account_pk: Mapped[str] = mapped_column(ForeignKey("accounts.pk", ondelete="CASCADE"), unique=True)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))  # ACTIVE | INACTIVE
    effective_from: Mapped[datetime] = mapped_column(UTCDateTime())
    balance: Mapped[Decimal] = mapped_column(ExactDecimal())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WalletEntry(Base):
    __tablename__ = "wallet_entries"
    __table_args__ = (Index("ix_wallet_entries_wallet_pk_pk", "wallet_pk", "pk"),)

    pk: Mapped[str] = mapped_column(String(40), primary_key=True)  # `wentry.`
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    wallet_pk: Mapped[str] = mapped_column(ForeignKey("wallets.pk", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(16))  # CREDITED | DEBITED
    entity_id: Mapped[str | None] = mapped_column(String(40))  # the invoice a debit paid
    description: Mapped[str | None] = mapped_column(String(50))
    amount: Mapped[Decimal] = mapped_column(ExactDecimal())
    closing_balance: Mapped[Decimal] = mapped_column(ExactDecimal())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
