"""Every invoice query, scoped to one organization."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Float, bindparam, cast, delete, func, select, update

from meterline.accounts.models import Account
from meterline.core.clock import END_OF_TIME
from meterline.core.pagination import Counted, Page, PageRequest, Slice
from meterline.core.prepared import Prepared
from meterline.core.repository import OrgRepository, sort_column, sorted_by
from meterline.invoicing.models import Invoice, InvoiceSequence
from meterline.invoicing.statuses import InvoiceStatus
from meterline.schedules.models import PricingSchedule

DRAFT = InvoiceStatus.DRAFT  # the status most queries name, by its short name


def due_order(invoice: Invoice) -> tuple[datetime, datetime, str, str]:
    """The order DRAFT invoices take credits and the wallet in: the order they are finalized."""
    return (invoice.finalize_at or END_OF_TIME, invoice.start_at, invoice.invoice_type, invoice.pk)


# Ingestion's guard for an event sent alone (usecases/events.py): built once, run through the driver.
_INVOICED_UNTIL_OF_ONE = Prepared(
    select(func.max(Invoice.end_at)).where(
        Invoice.org_id == bindparam("org_id"),
        Invoice.account_pk == bindparam("account_pk"),
        Invoice.invoice_type == "STANDARD",
        Invoice.status != DRAFT,
    )
)


class InvoiceRepository(OrgRepository):
    def by_pk(self, pk: str) -> Invoice | None:
        return self.session.scalar(self.scoped(Invoice).where(Invoice.pk == pk))

    def locked(self, pk: str) -> Invoice | None:
        """The invoice, its row locked until the transaction ends (PostgreSQL; SQLite has one writer)."""
        rows = self.lock_rows(Invoice, [pk])
        return rows[0] if rows else None

    def by_pks(self, pks: set[str]) -> dict[str, Invoice]:
        if not pks:
            return {}
        stmt = select(Invoice).where(Invoice.org_id == self.org_id, Invoice.pk.in_(pks))
        return {i.pk: i for i in self.session.scalars(stmt)}

    def newly_overdue(self, as_of: datetime, limit: int) -> list[Invoice]:
        """DUE and PARTIALLY_PAID invoices whose due date passed by `as_of` and that were not found overdue before,
        locked (PostgreSQL: other workers skip them), in pk order."""
        stmt = (
            self.scoped(Invoice)
            .where(
                Invoice.status.in_((InvoiceStatus.DUE, InvoiceStatus.PARTIALLY_PAID)),
                Invoice.due_date < as_of,
                Invoice.overdue_at.is_(None),
            )
            .order_by(Invoice.pk)
            .limit(limit)
        )
        if self.postgres:
            stmt = stmt.with_for_update(skip_locked=True, key_share=True)
        return list(self.session.scalars(stmt))

    def lock_many(self, pks: set[str]) -> dict[str, Invoice]:
        """The organization's invoices among `pks`, locked in pk order until the transaction ends."""
        return {i.pk: i for i in self.lock_rows(Invoice, pks)}

    def by_idempotency_key(self, key: str) -> Invoice | None:
        return self.session.scalar(self.scoped(Invoice).where(Invoice.idempotency_key == key))

    def draft_pks(self, account_pk: str) -> set[str]:
        """The pks of the account's DRAFT invoices as saved (a sync of this transaction included)."""
        stmt = select(Invoice.pk).where(
            Invoice.org_id == self.org_id, Invoice.account_pk == account_pk, Invoice.status == InvoiceStatus.DRAFT
        )
        return set(self.session.scalars(stmt))

    def of_account(self, account_pk: str) -> list[Invoice]:
        return self.of_accounts({account_pk})

    def of_accounts(self, account_pks: set[str]) -> list[Invoice]:
        """The accounts' schedule invoices (STANDARD and STANDARD_ADVANCED)."""
        if not account_pks:
            return []
        stmt = self.scoped(Invoice).where(Invoice.account_pk.in_(account_pks), Invoice.schedule_pk.is_not(None))
        return list(self.session.scalars(stmt))

    def of_group_accounts(self, account_pks: set[str], finalized_since: datetime) -> list[Invoice]:
        """The accounts' DRAFT invoices, and those finalized since `finalized_since` (what an invoice group's
        composite invoices are made of: usecases/invoice_groups.py)."""
        if not account_pks:
            return []
        stmt = self.scoped(Invoice).where(
            Invoice.account_pk.in_(account_pks),
            (Invoice.status == DRAFT) | (Invoice.finalized_at >= finalized_since),
        )
        return list(self.session.scalars(stmt.order_by(Invoice.pk)))

    def page(
        self,
        request: PageRequest,
        *,
        status: str | None = None,
        account_pk: str | None = None,
        customer_pk: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        due_by: datetime | None = None,
        invoice_type: str | None = None,
        newest_first: bool = False,
    ) -> Page[Invoice]:
        """Invoices in id order (creation order, or newest first); the time filters keep those whose period
        overlaps [start, end)."""
        stmt = self._filtered(
            [status] if status is not None else None, account_pk, customer_pk, start, end, invoice_type
        )
        if due_by is not None:
            stmt = stmt.where(Invoice.finalize_at <= due_by)
        return self.keyset_page(stmt, Invoice.pk, request, descending=newest_first)

    def _filtered(
        self,
        statuses: Collection[str] | None,
        account_pk: str | None,
        customer_pk: str | None,
        start: datetime | None,
        end: datetime | None,
        invoice_type: str | None,
        account_pks: Collection[str] | None = None,
    ) -> Any:
        stmt = self.scoped(Invoice)
        if account_pks is not None:
            stmt = stmt.where(Invoice.account_pk.in_(sorted(account_pks)))
        if statuses is not None:
            stmt = stmt.where(Invoice.status.in_(sorted(statuses)))
        if invoice_type is not None:
            stmt = stmt.where(Invoice.invoice_type == invoice_type)
        if account_pk is not None:
            stmt = stmt.where(Invoice.account_pk == account_pk)
        if customer_pk is not None:
            stmt = stmt.where(Invoice.account_pk.in_(select(Account.pk).where(Account.customer_pk == customer_pk)))
        if start is not None:
            stmt = stmt.where(Invoice.end_at > start)
        if end is not None:
            stmt = stmt.where(Invoice.start_at < end)
        return stmt

    def listed(
        self,
        request: Slice,
        *,
        statuses: Collection[str] | None = None,
        overdue_at: datetime | None = None,
        account_pk: str | None = None,
        customer_pk: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        invoice_type: str | None = None,
        account_pks: Collection[str] | None = None,
    ) -> Counted[Invoice]:
        """The console's list: a slice of the invoices in `statuses` (all without), sorted in SQL, and their count.
        `account_pks`: only these accounts' (the customer portal's).
        `overdue_at`: only those still owed (DUE, PARTIALLY_PAID) due before that instant.
        Sorts: `number`, `date` (invoice date), `due` (due date), `total`. A draft has no number and no frozen total
        (it is computed when read): by those, drafts come after the finalized invoices either way; totals are
        compared within a currency (currencies A to Z), never across."""
        stmt = self._filtered(statuses, account_pk, customer_pk, start, end, invoice_type, account_pks)
        if overdue_at is not None:
            stmt = stmt.where(
                Invoice.status.in_([InvoiceStatus.DUE, InvoiceStatus.PARTIALLY_PAID]), Invoice.due_date < overdue_at
            )
        down = request.descending
        total = Invoice.total_amount if self.postgres else cast(Invoice.total_amount, Float)  # SQLite keeps text
        sorts: dict[str, list[Any]] = {
            "number": sorted_by(Invoice.sequence_number, down, nulls_last=True),
            "date": sorted_by(Invoice.invoice_date, down, nulls_last=True),
            "due": sorted_by(Invoice.due_date, down, nulls_last=True),
            "total": [
                *sorted_by(Invoice.total_amount.is_(None), False),
                Invoice.currency.asc(),
                *sorted_by(total, down),
            ],
        }
        order = [*sort_column(sorts, request), *sorted_by(Invoice.pk, down)]
        return self.counted_page(stmt, order, request)

    def owed(self, account_pks: set[str]) -> list[tuple[str, str, Decimal, Decimal, datetime | None]]:
        """(status, currency, total, paid, due date) of the accounts' invoices still owed: DUE and PARTIALLY_PAID."""
        if not account_pks:
            return []
        columns = (Invoice.status, Invoice.currency, Invoice.total_amount, Invoice.paid_amount, Invoice.due_date)
        stmt = select(*columns).where(
            Invoice.org_id == self.org_id,
            Invoice.account_pk.in_(sorted(account_pks)),
            Invoice.status.in_([InvoiceStatus.DUE, InvoiceStatus.PARTIALLY_PAID]),
        )
        return [(s, c, t or Decimal(0), p, d) for s, c, t, p, d in self.session.execute(stmt)]

    def overdue_of(self, account_pks: set[str] | None, before: datetime) -> list[Invoice]:
        """The invoices still owed (DUE, PARTIALLY_PAID) due before `before`, of these accounts (None: of all), in pk
        order (alerts' invoice_overdue)."""
        stmt = self.scoped(Invoice).where(
            Invoice.status.in_((InvoiceStatus.DUE, InvoiceStatus.PARTIALLY_PAID)), Invoice.due_date < before
        )
        if account_pks is not None:
            if not account_pks:
                return []
            stmt = stmt.where(Invoice.account_pk.in_(sorted(account_pks)))
        return list(self.session.scalars(stmt.order_by(Invoice.pk)))

    def finalized_totals(self, since: datetime, statuses: tuple[str, ...]) -> list[tuple[datetime, str, Any, Any]]:
        """(invoiceDate, currency, total, paid) of the invoices in `statuses` dated from `since` on."""
        stmt = select(Invoice.invoice_date, Invoice.currency, Invoice.total_amount, Invoice.paid_amount).where(
            Invoice.org_id == self.org_id, Invoice.status.in_(statuses), Invoice.invoice_date >= since
        )
        return [tuple(row) for row in self.session.execute(stmt)]  # type: ignore[misc]

    def unpaid(self, statuses: tuple[str, ...]) -> list[tuple[str, Any, Any]]:
        """(currency, total, paid) of the invoices in `statuses` (those still owed)."""
        stmt = select(Invoice.currency, Invoice.total_amount, Invoice.paid_amount).where(
            Invoice.org_id == self.org_id, Invoice.status.in_(statuses)
        )
        return [tuple(row) for row in self.session.execute(stmt)]  # type: ignore[misc]

    def apply_sync(self, new: list[dict[str, Any]], moved: list[dict[str, Any]], gone: list[str]) -> None:
        """Write what a sync decided. Other workers may sync or finalize the same accounts at the same time: a row
        another one inserted first is skipped, and only rows still DRAFT are re-dated or deleted."""
        if new:  # one multi-row INSERT: a bill run creates thousands
            self.session.execute(self.insert(Invoice).on_conflict_do_nothing(), new)
        for values in moved:
            self.session.execute(
                update(Invoice)
                .where(Invoice.pk == values["pk"], Invoice.status == DRAFT)
                .values({k: v for k, v in values.items() if k != "pk"})
            )
        if gone:
            self.session.execute(
                delete(Invoice).where(Invoice.org_id == self.org_id, Invoice.pk.in_(gone), Invoice.status == DRAFT)
            )
        if moved or gone:
            self.session.expire_all()  # loaded invoices were changed or deleted behind the ORM's back

    def drafts_of_accounts(self, account_pks: set[str]) -> dict[str, list[Invoice]]:
        """Each account's DRAFT invoices in the order they are due (those never due by themselves last)."""
        found: dict[str, list[Invoice]] = {pk: [] for pk in account_pks}
        stmt = self.scoped(Invoice).where(Invoice.account_pk.in_(account_pks), Invoice.status == DRAFT)
        for invoice in self.session.scalars(stmt):
            found[invoice.account_pk].append(invoice)
        for rows in found.values():
            rows.sort(key=due_order)
        return found

    def still_billing(self, account_pk: str, start: datetime, end: datetime) -> bool:
        """Is a DRAFT invoice of the account over part of [start, end)?"""
        stmt = select(Invoice.pk).where(
            Invoice.org_id == self.org_id,
            Invoice.account_pk == account_pk,
            Invoice.status == DRAFT,
            Invoice.start_at < end,
            Invoice.end_at > start,
        )
        return self.session.scalar(stmt.limit(1)) is not None

    def due_drafts(
        self, as_of: datetime, limit: int, skip_locked: bool, *, exclude: Collection[str] = (), only: str | None = None
    ) -> list[Invoice]:
        """DRAFT invoices whose finalization is due by `as_of`, in numbering order: when due, then account, period
        and type (a rerun numbers them as an uninterrupted run would). On PostgreSQL the rows are locked, and rows
        another worker holds are skipped. The bill run leaves out invoices whose finalizing failed (`exclude`) and
        tries them alone (`only`)."""
        stmt = (
            self.scoped(Invoice)
            .where(Invoice.status == DRAFT, Invoice.finalize_at <= as_of)
            .order_by(Invoice.finalize_at, Invoice.account_pk, Invoice.start_at, Invoice.invoice_type, Invoice.pk)
            .limit(limit)
        )
        if exclude:
            stmt = stmt.where(Invoice.pk.not_in(sorted(exclude)))
        if only is not None:
            stmt = stmt.where(Invoice.pk == only)
        if skip_locked:
            stmt = stmt.with_for_update(skip_locked=True)
        return list(self.session.scalars(stmt))

    def count_due(self, as_of: datetime) -> int:
        from sqlalchemy import func

        stmt = (
            select(func.count())
            .select_from(Invoice)
            .where(Invoice.org_id == self.org_id, Invoice.status == DRAFT, Invoice.finalize_at <= as_of)
        )
        return int(self.session.scalar(stmt) or 0)

    def invoiced_until(self, account_pk: str) -> Invoice | None:
        """The account's finalized in-arrears invoice whose period ends last."""
        stmt = (
            self.scoped(Invoice)
            .where(Invoice.account_pk == account_pk, Invoice.invoice_type == "STANDARD", Invoice.status != DRAFT)
            .order_by(Invoice.end_at.desc())
            .limit(1)
        )
        return self.session.scalar(stmt)

    def invoiced_until_of(self, account_pks: set[str]) -> dict[str, datetime]:
        """Per account, the end of its finalized in-arrears invoice that ends last (one query for every account)."""
        if len(account_pks) == 1:  # an event sent alone (/ingest of one event, /entitled): a prepared statement
            [account_pk] = account_pks
            row = _INVOICED_UNTIL_OF_ONE.first(self.session, {"org_id": self.org_id, "account_pk": account_pk})
            return {account_pk: row[0]} if row is not None and row[0] is not None else {}
        stmt = (
            select(Invoice.account_pk, func.max(Invoice.end_at))
            .where(
                Invoice.org_id == self.org_id,
                self.among(Invoice.account_pk, account_pks),
                Invoice.invoice_type == "STANDARD",
                Invoice.status != DRAFT,
            )
            .group_by(Invoice.account_pk)
        )
        return {pk: end for pk, end in self.session.execute(stmt) if end is not None}

    def has_finalized(self, account_pks: list[str]) -> bool:
        """Has any of the accounts a finalized invoice? Every invoice row of the accounts is locked first
        (PostgreSQL; SQLite has one writer), so a finalizer running at the same time either finished before (and is
        seen) or waits until this transaction ends: a removal never erases an invoice finalized under it."""
        stmt = (
            select(Invoice.pk, Invoice.status)
            .where(Invoice.org_id == self.org_id, Invoice.account_pk.in_(account_pks))
            .order_by(Invoice.pk)
        )
        if self.session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        return any(status != DRAFT for _, status in self.session.execute(stmt))

    def accounts_with_schedules(self) -> list[str]:
        stmt = (
            select(PricingSchedule.account_pk)
            .where(PricingSchedule.org_id == self.org_id)
            .distinct()
            .order_by(PricingSchedule.account_pk)
        )
        return list(self.session.scalars(stmt))

    def take_numbers(self, count: int) -> int:
        """Reserve `count` numbers of the organization's sequence; returns the first. The row lock (PostgreSQL) or
        the single writer (SQLite) holds other finalizers until this transaction ends: numbers stay gapless."""
        self.session.execute(
            self.insert(InvoiceSequence).values(org_id=self.org_id, last_number=0).on_conflict_do_nothing()
        )
        last = self.session.execute(
            update(InvoiceSequence)
            .where(InvoiceSequence.org_id == self.org_id)
            .values(last_number=InvoiceSequence.last_number + count)
            .returning(InvoiceSequence.last_number)
        ).scalar_one()
        return int(last) - count + 1
