"""Invoice groups: accounts billed together, on one COMPOSITE invoice (docs/invoicing.md, "Invoice groups")."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from meterline.core.db import Base, ExactDecimal, UTCDateTime


class InvoiceGroup(Base):
    """A group of 1 to 100 accounts of one currency, with the address, email and net terms its invoices go to.
    `pk` is the API's id. Removing its last account deletes it."""

    __tablename__ = "invoice_groups"

    pk: Mapped[str] = mapped_column(String(40), primary_key=True)  # `igroup.`
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str] = mapped_column(String(320))
    daily_consolidation: Mapped[bool]
    net_term_days: Mapped[int | None]
    currency: Mapped[str] = mapped_column(String(3))
    address: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class InvoiceGroupMember(Base):
    """An account in a group: at most one group per account (the primary key). `joined_at`: invoices finalized
    from then on are consolidated."""

    __tablename__ = "invoice_group_members"

    account_pk: Mapped[str] = mapped_column(ForeignKey("accounts.pk", ondelete="CASCADE"), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    group_pk: Mapped[str] = mapped_column(ForeignKey("invoice_groups.pk", ondelete="CASCADE"), index=True)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CompositeInvoice(Base):
    """A group's COMPOSITE invoice: its members' finalized invoices of one cycle (or one day), each a line, as
    they were finalized. It takes the next number of the organization's invoice sequence. It outlives its group
    (`group` keeps what the invoice was sent to); what is paid is read from the members' invoices."""

    __tablename__ = "composite_invoices"
    __table_args__ = (
        UniqueConstraint("org_id", "sequence_number", name="uq_composite_invoices_org_id_sequence_number"),
        Index("ix_composite_invoices_org_id_group_pk", "org_id", "group_pk"),
    )

    pk: Mapped[str] = mapped_column(String(40), primary_key=True)  # `inv.`, as every invoice
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    group_pk: Mapped[str] = mapped_column(String(40))  # not a foreign key: the invoice outlives its group
    period: Mapped[str] = mapped_column(String(80))  # CYCLE:<type>:<start>:<end> or DAY:<yyyy-mm-dd>
    currency: Mapped[str] = mapped_column(String(3))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime())
    end_at: Mapped[datetime] = mapped_column(UTCDateTime())
    invoice_date: Mapped[datetime] = mapped_column(UTCDateTime())
    due_date: Mapped[datetime] = mapped_column(UTCDateTime())
    net_term_days: Mapped[int]
    sequence_number: Mapped[int]
    sequence_id: Mapped[str] = mapped_column(String(64))
    total_amount: Mapped[Decimal] = mapped_column(ExactDecimal())
    lines: Mapped[str] = mapped_column(Text)  # revenueInfo: GRAND_TOTAL_AMOUNT > each member invoice's TOTAL_AMOUNT
    details: Mapped[str] = mapped_column(Text)  # invoiceDetails: the group, the organization
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CompositeMember(Base):
    """A member invoice of a composite: each invoice is in at most one (the primary key)."""

    __tablename__ = "composite_invoice_members"

    invoice_pk: Mapped[str] = mapped_column(ForeignKey("invoices.pk", ondelete="CASCADE"), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    composite_pk: Mapped[str] = mapped_column(ForeignKey("composite_invoices.pk", ondelete="CASCADE"), index=True)
