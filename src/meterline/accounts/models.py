from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from meterline.core.db import Base, UTCDateTime

if TYPE_CHECKING:
    from meterline.customers.models import Customer
    from meterline.settings.models import EntitySetting


class Account(Base):
    """`pk` is Meterline's id (`togaiAccountId`); `id` is the caller's, unique per organization."""

    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("org_id", "id", name="uq_accounts_org_id_id"),)

    pk: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    id: Mapped[str] = mapped_column(String(50))
    customer_pk: Mapped[str] = mapped_column(ForeignKey("customers.pk", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    invoice_currency: Mapped[str] = mapped_column(String(3))
    net_term_days: Mapped[int | None]
    address: Mapped[dict[str, Any] | None]
    primary_email: Mapped[str | None] = mapped_column(String(320))
    billing_information: Mapped[dict[str, Any] | None]
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata")
    tags: Mapped[list[Any] | None]
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AccountAlias(Base):
    """An alias of an account over [effective_from, effective_until); open ends are stored as the sentinels of
    `core.clock`. At any instant a value names at most one account of the organization."""

    __tablename__ = "account_aliases"
    __table_args__ = (Index("ix_account_aliases_org_id_value", "org_id", "value"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    account_pk: Mapped[str] = mapped_column(ForeignKey("accounts.pk", ondelete="CASCADE"), index=True)
    value: Mapped[str] = mapped_column(String(50))
    effective_from: Mapped[datetime] = mapped_column(UTCDateTime())
    effective_until: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Alias(Base):
    """The organization's alias registry (`/aliases`). Account aliases register their values here."""

    __tablename__ = "aliases"
    __table_args__ = (UniqueConstraint("org_id", "value", name="uq_aliases_org_id_value"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    value: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


@dataclass(frozen=True)
class AccountView:
    """An account with what its API and console views show beside it."""

    account: Account
    customer: Customer
    aliases: list[AccountAlias]
    settings: list[EntitySetting]
