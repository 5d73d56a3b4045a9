"""What has been invoiced and what is owed, for the dashboard: each figure one grouped SQL statement, scoped to the
organization, per currency (amounts in different currencies are never added).

- Invoiced: finalized invoices that are not voided (DUE, PAID, PARTIALLY_PAID, UN_COLLECTIBLE), by invoice date,
  their totals. A period's bounds are instants (`metrics.periods` gives those of the organization's time zone).
- Owed: what DUE and PARTIALLY_PAID invoices still wait for (total - paid); overdue when their due date is past.
- Top customers: a customer's invoices in a range added up per currency, the largest first.

Sums are exact. PostgreSQL adds the NUMERIC totals; SQLite keeps decimals as text, which its SQL cannot add exactly,
so there each group's totals come back as one string and are added here (one row per group either way). A period
of a row is a CASE over the period starts (no date functions: the same on both engines, any time zone), computed in
a subquery and grouped outside, as `metrics.repository` does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, String, and_, case, func, literal_column, select

from meterline.accounts.models import Account
from meterline.core.money import EXACT, exact_sum
from meterline.core.repository import OrgRepository
from meterline.customers.models import Customer
from meterline.customers.statuses import CustomerStatus
from meterline.invoicing.models import Invoice
from meterline.invoicing.service import DUE, PAID, PARTIALLY_PAID, UN_COLLECTIBLE
from meterline.tenancy.context import Context

INVOICED = (DUE, PAID, PARTIALLY_PAID, UN_COLLECTIBLE)  # finalized and not voided
OWED = (DUE, PARTIALLY_PAID)
TOP = 5


@dataclass(frozen=True)
class TopCustomer:
    customer_id: str  # the caller's id, which the customer's page is addressed by
    name: str
    amount: Decimal
    invoices: int


@dataclass(frozen=True)
class Owed:
    amount: Decimal  # total - paid of DUE and PARTIALLY_PAID invoices
    overdue: Decimal  # the part of it whose due date has passed
    invoices: int


def _period_of(column: Any, starts: Sequence[datetime], lo: int = 0, hi: int | None = None) -> ColumnElement[Any]:
    """Index of the period that holds `column` (rows already inside [starts[0], end)): a CASE that halves the
    periods at each level, about log2(periods) comparisons a row."""
    hi = len(starts) if hi is None else hi
    if hi - lo == 1:
        return literal_column(str(lo))
    mid = (lo + hi) // 2
    return case((column < starts[mid], _period_of(column, starts, lo, mid)), else_=_period_of(column, starts, mid, hi))


class _Reports(OrgRepository):
    def sum_of(self, column: Any) -> ColumnElement[Any]:
        """The aggregate that adds `column` exactly: SUM on PostgreSQL, the values as one string on SQLite."""
        return func.sum(column) if self.postgres else func.group_concat(column, " ", type_=String)

    def total(self, value: Any) -> Decimal:
        """What `sum_of` gave, as an exact Decimal."""
        if value is None:
            return Decimal(0)
        if isinstance(value, str):
            return exact_sum(map(Decimal, value.split(" ")))
        return Decimal(value)

    def invoiced(self, start: datetime, end: datetime) -> Any:
        """The organization's invoiced invoices dated in [start, end)."""
        return and_(
            Invoice.org_id == self.org_id,
            Invoice.status.in_(INVOICED),
            Invoice.invoice_date >= start,
            Invoice.invoice_date < end,
        )


def invoiced_by_period(ctx: Context, starts: Sequence[datetime], end: datetime) -> dict[str, list[Decimal]]:
    """currency -> the totals of invoices dated in each period (period i runs from starts[i] to starts[i + 1], the
    last one to `end`), for invoices finalized and not voided. Currencies with nothing invoiced are left out."""
    if not starts or starts[0] >= end:
        return {}
    repo = _Reports(ctx.session, ctx.org_id)
    inner = (
        select(_period_of(Invoice.invoice_date, starts).label("period"), Invoice.currency, Invoice.total_amount)
        .where(repo.invoiced(starts[0], end))
        .subquery()
    )
    stmt = select(inner.c.period, inner.c.currency, repo.sum_of(inner.c.total_amount)).group_by(
        inner.c.period, inner.c.currency
    )
    totals: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * len(starts))
    for period, currency, total in ctx.session.execute(stmt):
        totals[currency][int(period)] = repo.total(total)
    return dict(sorted(totals.items()))


def invoiced_between(ctx: Context, start: datetime, end: datetime) -> dict[str, Decimal]:
    """currency -> the total of the invoices finalized and not voided, dated in [start, end)."""
    repo = _Reports(ctx.session, ctx.org_id)
    stmt = (
        select(Invoice.currency, repo.sum_of(Invoice.total_amount))
        .where(repo.invoiced(start, end))
        .group_by(Invoice.currency)
    )
    return dict(sorted((currency, repo.total(total)) for currency, total in ctx.session.execute(stmt)))


def top_customers(ctx: Context, start: datetime, end: datetime, limit: int = TOP) -> dict[str, list[TopCustomer]]:
    """currency -> the `limit` customers invoiced the most in [start, end) in that currency (all their accounts in
    it together), the largest first; ties by name, then id. Only customers with an invoice in the range."""
    repo = _Reports(ctx.session, ctx.org_id)
    stmt = (
        select(
            Invoice.currency,
            Customer.id,
            Customer.name,
            repo.sum_of(Invoice.total_amount),
            func.count(),
        )
        .join(Account, and_(Account.pk == Invoice.account_pk, Account.org_id == ctx.org_id))
        .join(Customer, and_(Customer.pk == Account.customer_pk, Customer.org_id == ctx.org_id))
        .where(repo.invoiced(start, end))
        .group_by(Invoice.currency, Customer.pk, Customer.id, Customer.name)
    )
    found: dict[str, list[TopCustomer]] = defaultdict(list)
    for currency, customer_id, name, total, n in ctx.session.execute(stmt):
        found[currency].append(TopCustomer(customer_id, name, repo.total(total), int(n)))
    return {
        currency: sorted(rows, key=lambda r: (-r.amount, r.name, r.customer_id))[:limit]
        for currency, rows in sorted(found.items())
    }


def owed(ctx: Context) -> dict[str, Decimal]:
    """currency -> what DUE and PARTIALLY_PAID invoices still wait for (total - paid)."""
    return {currency: o.amount for currency, o in owed_in_detail(ctx).items()}


def owed_in_detail(ctx: Context) -> dict[str, Owed]:
    """currency -> what DUE and PARTIALLY_PAID invoices still wait for, the part of it overdue (due before
    `ctx.now`), and how many invoices."""
    repo = _Reports(ctx.session, ctx.org_id)
    # The lateness is computed in a subquery and grouped outside: PostgreSQL cannot tell that the same comparison
    # with a freshly bound `now` in GROUP BY is the selected one.
    inner = (
        select(
            Invoice.currency,
            case((Invoice.due_date < ctx.now, 1), else_=0).label("late"),
            Invoice.total_amount,
            Invoice.paid_amount,
        )
        .where(Invoice.org_id == ctx.org_id, Invoice.status.in_(OWED))
        .subquery()
    )
    stmt = select(
        inner.c.currency,
        inner.c.late,
        repo.sum_of(inner.c.total_amount),
        repo.sum_of(inner.c.paid_amount),
        func.count(),
    ).group_by(inner.c.currency, inner.c.late)
    amounts: dict[str, tuple[Decimal, Decimal, int]] = {}
    for currency, late, totals, paids, n in ctx.session.execute(stmt):
        left = EXACT.subtract(repo.total(totals), repo.total(paids))
        amount, overdue, count = amounts.get(currency, (Decimal(0), Decimal(0), 0))
        amounts[currency] = (
            EXACT.add(amount, left),
            EXACT.add(overdue, left) if int(late) else overdue,
            count + int(n),
        )
    return {c: Owed(*amounts[c]) for c in sorted(amounts)}


def live_counts(ctx: Context) -> tuple[int, int]:
    """(customers, accounts) the lists show: those not archived."""
    repo = _Reports(ctx.session, ctx.org_id)
    customers = select(func.count()).where(Customer.org_id == ctx.org_id, Customer.status != CustomerStatus.ARCHIVED)
    accounts = select(func.count()).where(Account.org_id == ctx.org_id, Account.status != CustomerStatus.ARCHIVED)
    return int(repo.session.scalar(customers) or 0), int(repo.session.scalar(accounts) or 0)
