"""Failed steps of bill runs: what failed, how often, and when it is tried again (docs/invoicing.md, "When a bill
run fails").

A bill run isolates each organization, each chunk of invoices and, when a chunk fails, each invoice of it
(invoicing/billing.py). A step that fails is recorded here, in the database, so that every worker process and
every restart agree on it: it is left out of the following runs until `next_attempt_at`, then tried alone. The
delay doubles with each attempt (BACKOFF_BASE, 2x, 4x...) up to BACKOFF_MAX. Finalizing the invoice deletes its
row (InvoiceService.finalize), whoever finalizes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from meterline.core.errors import MeterlineError
from meterline.core.repository import OrgRepository
from meterline.invoicing.models import BillingFailure, Invoice

SYNC, FINALIZE, EXPIRE = "SYNC", "FINALIZE", "EXPIRE"  # the steps of a bill run, for each organization
GROUPS = "GROUPS"  # making the invoice groups' COMPOSITE invoices (usecases/invoice_groups.py)
ORGANIZATION = "ORGANIZATION"  # a failure outside those steps (say, a row of the organization that cannot be read)
STAGES = (ORGANIZATION, SYNC, FINALIZE, GROUPS, EXPIRE)
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=1)


class BillingFailed(MeterlineError):
    """An invoice that could not be finalized (a BILL_RUN job's entry fails with it)."""


def backoff(attempts: int) -> timedelta:
    """How long after its `attempts`-th failure a step waits: 1 min, 2, 4, 8... at most an hour."""
    if attempts >= 7:  # 2^6 minutes is past the maximum already
        return BACKOFF_MAX
    return min(BACKOFF_BASE * (1 << max(attempts - 1, 0)), BACKOFF_MAX)


@dataclass(frozen=True)
class Recorded:
    attempts: int
    next_attempt_at: datetime


class BillingFailureRepository(OrgRepository):
    def of_stage(self, stage: str) -> dict[str, datetime]:
        """subject -> next attempt, of the organization's failed steps of `stage`."""
        stmt = select(BillingFailure.subject, BillingFailure.next_attempt_at).where(
            BillingFailure.org_id == self.org_id, BillingFailure.stage == stage
        )
        return {subject: at for subject, at in self.session.execute(stmt)}

    def record(self, stage: str, subject: str, invoice_pk: str | None, message: str, now: datetime) -> Recorded:
        """One more failed attempt at the step; returns the attempts so far and when it is tried again. One row per
        step: concurrent recorders add up (the UPDATE takes the row lock)."""
        self.session.execute(
            self.insert(BillingFailure)
            .values(
                org_id=self.org_id,
                stage=stage,
                subject=subject,
                invoice_pk=invoice_pk,
                attempts=0,
                message=message,
                first_failed_at=now,
                last_failed_at=now,
                next_attempt_at=now,
            )
            .on_conflict_do_nothing()
        )
        key = (BillingFailure.org_id == self.org_id, BillingFailure.stage == stage, BillingFailure.subject == subject)
        attempts = int(
            self.session.execute(
                update(BillingFailure)
                .where(*key)
                .values(attempts=BillingFailure.attempts + 1, message=message, last_failed_at=now)
                .returning(BillingFailure.attempts)
            ).scalar_one()
        )
        next_at = now + backoff(attempts)
        self.session.execute(update(BillingFailure).where(*key).values(next_attempt_at=next_at))
        return Recorded(attempts, next_at)

    def clear(self, stage: str, subjects: list[str]) -> None:
        if subjects:
            self.session.execute(
                delete(BillingFailure).where(
                    BillingFailure.org_id == self.org_id,
                    BillingFailure.stage == stage,
                    BillingFailure.subject.in_(subjects),
                )
            )

    def clear_invoices(self, invoice_pks: list[str]) -> None:
        """The invoices were finalized: their failures are over."""
        if invoice_pks:
            self.session.execute(
                delete(BillingFailure).where(
                    BillingFailure.org_id == self.org_id, BillingFailure.invoice_pk.in_(invoice_pks)
                )
            )

    def listed(self, limit: int) -> tuple[list[tuple[BillingFailure, Invoice | None]], int]:
        """The organization's failures, those retried soonest first, each with its invoice (for the console), and
        how many there are in all."""
        stmt = (
            select(BillingFailure, Invoice)
            .outerjoin(Invoice, Invoice.pk == BillingFailure.invoice_pk)
            .where(BillingFailure.org_id == self.org_id)
            .order_by(BillingFailure.next_attempt_at, BillingFailure.stage, BillingFailure.subject)
        )
        rows: list[tuple[BillingFailure, Invoice | None]] = [
            (failure, invoice) for failure, invoice in self.session.execute(stmt.limit(limit))
        ]
        return rows, self.count(BillingFailure)

    def of_invoice(self, invoice_pk: str) -> BillingFailure | None:
        return self.session.scalar(
            select(BillingFailure).where(BillingFailure.org_id == self.org_id, BillingFailure.invoice_pk == invoice_pk)
        )
