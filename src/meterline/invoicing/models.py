"""Invoices and each organization's invoice number sequence (billing-rules D11, D12)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from meterline.core.db import Base, ExactDecimal, UTCDateTime


class Invoice(Base):
    """One invoice. A STANDARD or STANDARD_ADVANCED invoice belongs to one (schedule, cycle) piece and is unique
    there; while DRAFT its lines are computed when read (live), at finalization they are frozen in `lines`."""

    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("org_id", "schedule_pk", "cycle_start", "invoice_type", name="uq_invoices_piece"),
        UniqueConstraint("org_id", "sequence_number", name="uq_invoices_org_id_sequence_number"),
        UniqueConstraint("org_id", "idempotency_key", name="uq_invoices_org_id_idempotency_key"),
        # the bill run's order (InvoiceRepository.due_drafts): each chunk reads its 200 rows off the index, unsorted
        Index(
            "ix_invoices_due_order", "org_id", "status", "finalize_at", "account_pk", "start_at", "invoice_type", "pk"
        ),
        Index("ix_invoices_org_id_account_pk", "org_id", "account_pk"),
    )

    pk: Mapped[str] = mapped_column(String(40), primary_key=True)  # the invoice id (`inv.`)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    account_pk: Mapped[str] = mapped_column(ForeignKey("accounts.pk", ondelete="CASCADE"))
    invoice_type: Mapped[str] = mapped_column(String(24))  # STANDARD | STANDARD_ADVANCED | CUSTOM
    invoice_class: Mapped[str | None] = mapped_column(String(16))  # ORDER: a purchase's (else null: INVOICE)
    status: Mapped[str] = mapped_column(String(24))
    currency: Mapped[str] = mapped_column(String(3))
    # The schedule and cycle a STANDARD / STANDARD_ADVANCED invoice bills (null for CUSTOM). The schedule is not a
    # foreign key: a draft outlives the edit that removes its schedule until the next sync deletes it.
    schedule_pk: Mapped[str | None] = mapped_column(String(40))
    plan_id: Mapped[str | None] = mapped_column(String(50))
    cycle_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cycle_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    start_at: Mapped[datetime] = mapped_column(UTCDateTime())  # the billed period [start_at, end_at)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finalize_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # when it leaves DRAFT by itself
    invoice_date: Mapped[datetime] = mapped_column(UTCDateTime())
    due_date: Mapped[datetime | None] = mapped_column(UTCDateTime())
    net_term_days: Mapped[int]
    sequence_number: Mapped[int | None]
    sequence_id: Mapped[str | None] = mapped_column(String(64))
    total_amount: Mapped[Decimal | None] = mapped_column(ExactDecimal())  # frozen at finalization
    paid_amount: Mapped[Decimal] = mapped_column(ExactDecimal())
    lines: Mapped[str | None] = mapped_column(Text)  # revenueInfo, frozen (JSON, exact decimals)
    usage: Mapped[str | None] = mapped_column(Text)  # usageInfo, frozen
    details: Mapped[str | None] = mapped_column(Text)  # invoiceDetails (seller, buyer), frozen
    custom_lines: Mapped[str | None] = mapped_column(Text)  # a CUSTOM invoice's line items as given
    charges: Mapped[str | None] = mapped_column(Text)  # miscellaneous charges on this invoice (D11)
    auto_advance: Mapped[bool]
    apply_credits: Mapped[bool]
    apply_wallet: Mapped[bool]
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finalized_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When the worker found it past its due date and still owed (the `invoice.overdue` webhook: once per invoice)
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class InvoiceSequence(Base):
    """The organization's last invoice number: incremented in the transaction that finalizes (gapless)."""

    __tablename__ = "invoice_sequences"

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    last_number: Mapped[int]


class BillingFailure(Base):
    """A step of the bill run that failed for one organization, kept until it succeeds (docs/invoicing.md, "When
    a bill run fails"): finalizing an invoice (`subject` is the invoice), syncing an account's invoices (the
    account), expiring credits or anything else of the organization's run (the organization). Every worker process
    reads it: a step is tried again once `next_attempt_at` has passed, with exponential backoff; finalizing the
    invoice deletes its row."""

    __tablename__ = "billing_failures"
    __table_args__ = (Index("ix_billing_failures_invoice_pk", "invoice_pk"),)

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    stage: Mapped[str] = mapped_column(String(16), primary_key=True)  # SYNC | FINALIZE | EXPIRE | ORGANIZATION
    subject: Mapped[str] = mapped_column(String(40), primary_key=True)  # the invoice, account or organization
    invoice_pk: Mapped[str | None] = mapped_column(ForeignKey("invoices.pk", ondelete="CASCADE"))
    attempts: Mapped[int]
    message: Mapped[str] = mapped_column(Text)  # what failed, in one line (no SQL, no parameters)
    first_failed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_failed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())


class BillingLease(Base):
    """A part of one organization's bill run held by one worker until `expires_at` (invoicing/leases.py): the
    accounts whose crc32(pk) % parts is `part`, and with part 0 the organization's own steps. A worker renews its
    leases as it works; a dead worker's expire and another worker takes them over."""

    __tablename__ = "billing_leases"

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    part: Mapped[int] = mapped_column(primary_key=True)
    holder: Mapped[str] = mapped_column(String(80))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
