from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from meterline.core.db import Base, UTCDateTime


class Customer(Base):
    """`pk` is Meterline's own id (Togai's `togaiCustomerId`); `id` is the caller's, unique per organization."""

    __tablename__ = "customers"
    __table_args__ = (UniqueConstraint("org_id", "id", name="uq_customers_org_id_id"),)

    pk: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    id: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(255))
    primary_email: Mapped[str] = mapped_column(String(320))
    address: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CustomerContact(Base):
    """A person of the customer who may use the customer portal (which comes later)."""

    __tablename__ = "customer_contacts"
    __table_args__ = (UniqueConstraint("org_id", "username", name="uq_customer_contacts_org_id_username"),)

    pk: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    customer_pk: Mapped[str] = mapped_column(ForeignKey("customers.pk", ondelete="CASCADE"), index=True)
    username: Mapped[str] = mapped_column(String(50))
    preferred_username: Mapped[str | None] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(50))
    email: Mapped[str] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(30))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    login_access: Mapped[bool]
    verified: Mapped[bool]
    created_by: Mapped[str | None] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
