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
from meterline.invoicing.builder import Line
from meterline.invoicing.credit_application import CARD_LINES, RULE_ADDITION, RULE_UPDATES, USAGE_LINES
from meterline.invoicing.models import Invoice
from meterline.invoicing.repository import DRAFT
from meterline.invoicing.service import (
    ADVANCED,
    DUE,
    PAID,
    PARTIALLY_PAID,
    STANDARD,
    UN_COLLECTIBLE,
    InvoiceService,
)
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
    totals: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * len(starts))
    for (period, _, currency), total in revenue_totals(ctx, starts, starts[0], end, BY_INVOICE_DATE).items():
        totals[currency][period] = EXACT.add(totals[currency][period], total)
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


# -- revenue for POST /metrics (metrics.service) -------------------------------------------------------------------
# REVENUE counts invoices by invoice date; REVENUE_FOR_CYCLE counts the invoices of pricing cycles (STANDARD and
# STANDARD_ADVANCED) by cycle start, the ongoing DRAFTs included (computed as they stand now).
CYCLE_TYPES = (STANDARD, ADVANCED)
BY_INVOICE_DATE, BY_CYCLE_START = "INVOICE_DATE", "CYCLE_START"
OTHER_PARTS = {
    "TRUE_UP_AMOUNT": "TRUE_UP",
    "MISCELLANEOUS_CHARGE": "MISCELLANEOUS_CHARGES",
    RULE_ADDITION: "PRICING_RULES",  # lines a pricing rule added (its updates count with the card they change)
}
ADJUSTMENT = "ADJUSTMENT"  # what no line explains: the floor at 0 (a discount larger than the invoice)
CUSTOM = "CUSTOM"  # a custom line without a billableId; with one: CUSTOM:<billableId>, which no system part nor
# rate card's billable can be (a user's billableId "TRUE_UP" or a meter's id stays apart from those)


class TooManyInvoices(ValueError):
    """More invoices than a metric may read one by one."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} invoices")
        self.limit = limit


@dataclass(frozen=True)
class InvoiceRevenue:
    """One invoice's revenue, for a metric: its total, split per billable when asked."""

    account_pk: str
    currency: str
    at: datetime  # its invoice date, or its cycle's start
    total: Decimal
    parts: dict[str, Decimal] | None  # billable -> amount, adding up exactly to `total`
    usage: frozenset[str] = frozenset()  # the billables of `parts` that are usage meters (usage rate cards)


def billable_parts(root: Line) -> tuple[dict[str, Decimal], frozenset[str]]:
    """An invoice's total split per billable: each rate card's line under its billable (the usage meter or add-on
    id; an entitlement card's name), a custom line under CUSTOM:<its billableId> (else CUSTOM: never one of the
    other parts, whatever the billableId), the true-up under TRUE_UP,
    charges under MISCELLANEOUS_CHARGES; a credit is taken off the lines it was applied to. What no line explains
    (the floor at 0) is ADJUSTMENT, so the parts add up exactly to the total. On an in-arrears invoice the in-advance
    fees shown again are left out, with the line that takes them off (they were invoiced before). Also: which
    billables are usage meters."""
    parts: dict[str, Decimal] = defaultdict(Decimal)
    usage: set[str] = set()
    owner: dict[str, str] = {}
    in_arrears = root.find("PRICE_PLAN_AMOUNT") is not None

    def walk(line: Line) -> None:
        if (in_arrears and line.type == "TOTAL_ADVANCED_FEES") or line.id == "INVOICED_IN_ADVANCE":
            return
        if line.type in CARD_LINES or line.type == "CUSTOM_AMOUNT" or line.type in OTHER_PARTS:
            if line.type == "CUSTOM_AMOUNT":
                billable_id = (line.metadata or {}).get("billableId")
                key = f"{CUSTOM}:{billable_id}" if billable_id else CUSTOM
            else:
                key = OTHER_PARTS.get(line.type, line.id)
            if line.type in USAGE_LINES:
                usage.add(key)
            owner[line.id] = key
            parts[key] = EXACT.add(parts[key], line.value)
            return
        if line.type in RULE_UPDATES:  # `<card line id>:rule:<rule id>`, right after its card: the card's billable
            card_id = line.id.rsplit(":rule:", 1)[0]
            key = owner.get(card_id, card_id)
            parts[key] = EXACT.add(parts[key], line.value)
            return
        if line.type == "SUB_CREDITS":
            for line_id, amount in ((line.metadata or {}).get("lines") or {}).items():
                key = owner.get(line_id, "CREDITS")
                parts[key] = EXACT.subtract(parts[key], Decimal(str(amount)))
            return
        for child in line.children:
            walk(child)

    walk(root)
    rest = EXACT.subtract(root.value, exact_sum(parts.values()))
    if rest != 0:
        parts[ADJUSTMENT] = EXACT.add(parts.get(ADJUSTMENT, Decimal(0)), rest)
    return dict(parts), frozenset(usage)


def _revenue_where(repo: _Reports, basis: str, start: datetime, end: datetime, account_pks: set[str] | None) -> Any:
    column = Invoice.invoice_date if basis == BY_INVOICE_DATE else Invoice.cycle_start
    where = [Invoice.org_id == repo.org_id, column >= start, column < end]
    if basis == BY_CYCLE_START:
        where.append(Invoice.invoice_type.in_(CYCLE_TYPES))
    if account_pks is not None:
        where.append(Invoice.account_pk.in_(sorted(account_pks)))
    return and_(*where)


def revenue_totals(
    ctx: Context,
    starts: Sequence[datetime],
    start: datetime,
    end: datetime,
    basis: str,
    account_pks: set[str] | None = None,
) -> dict[tuple[int, str, str], Decimal]:
    """(period index, account pk, currency) -> the totals of the finalized, not voided invoices dated (or whose
    cycle starts) in [start, end), per period (period i from starts[i]; starts[0] <= start): one grouped
    statement."""
    if account_pks is not None and not account_pks:
        return {}
    repo = _Reports(ctx.session, ctx.org_id)
    column = Invoice.invoice_date if basis == BY_INVOICE_DATE else Invoice.cycle_start
    inner = (
        select(_period_of(column, starts).label("period"), Invoice.account_pk, Invoice.currency, Invoice.total_amount)
        .where(_revenue_where(repo, basis, start, end, account_pks), Invoice.status.in_(INVOICED))
        .subquery()
    )
    stmt = select(inner.c.period, inner.c.account_pk, inner.c.currency, repo.sum_of(inner.c.total_amount)).group_by(
        inner.c.period, inner.c.account_pk, inner.c.currency
    )
    return {(int(p), a, c): repo.total(t) for p, a, c, t in ctx.session.execute(stmt)}


class InvoiceReads:
    """The invoices one request reads one by one (`InvoiceService.view`: a DRAFT computed now, or an invoice's lines
    to split): each at most once, whatever the number of queries that need it, and at most `limit` in all."""

    def __init__(self, ctx: Context, limit: int) -> None:
        self.service = InvoiceService(ctx)
        self.limit = limit
        self.views = 0  # InvoiceService.view calls made: one per invoice at most
        self._views: dict[str, tuple[Line, Decimal]] = {}
        self._parts: dict[str, tuple[dict[str, Decimal], frozenset[str]]] = {}

    def reserve(self, invoices: Sequence[Invoice]) -> None:
        """Count the invoices not read yet against the budget: TooManyInvoices beyond it, before any is read."""
        new = {i.pk for i in invoices} - self._views.keys()
        if len(self._views) + len(new) > self.limit:
            raise TooManyInvoices(self.limit)

    def view(self, invoice: Invoice) -> tuple[Line, Decimal]:
        found = self._views.get(invoice.pk)
        if found is None:
            root, _, _, total = self.service.view(invoice)
            self.views += 1
            found = self._views[invoice.pk] = (root, total)
        return found

    def parts(self, invoice: Invoice) -> tuple[dict[str, Decimal], frozenset[str]]:
        found = self._parts.get(invoice.pk)
        if found is None:
            found = self._parts[invoice.pk] = billable_parts(self.view(invoice)[0])
        return found


def revenue_groups(
    ctx: Context,
    start: datetime,
    end: datetime,
    basis: str,
    account_pks: set[str] | None,
    *,
    drafts: bool,
    by_customer: bool,
    limit: int,
) -> int:
    """How many accounts (or their customers, `by_customer`) have an invoice `revenue_totals` (and, `drafts`,
    `invoice_revenue`'s DRAFTs) would count: counted in SQL up to `limit` + 1 and no further."""
    if account_pks is not None and not account_pks:
        return 0
    repo = _Reports(ctx.session, ctx.org_id)
    statuses = [*INVOICED, *((DRAFT,) if drafts else ())]
    key: Any = Invoice.account_pk
    if by_customer:
        customer = (
            select(Account.customer_pk)
            .where(Account.org_id == ctx.org_id, Account.pk == Invoice.account_pk)
            .scalar_subquery()
        )
        key = func.coalesce(customer, Invoice.account_pk)
    inner = (
        select(key.label("k"))
        .where(_revenue_where(repo, basis, start, end, account_pks), Invoice.status.in_(statuses))
        .distinct()
        .limit(limit + 1)
        .subquery()
    )
    return int(ctx.session.scalar(select(func.count()).select_from(inner)) or 0)


def invoice_revenue(
    ctx: Context,
    start: datetime,
    end: datetime,
    basis: str,
    *,
    account_pks: set[str] | None,
    finalized: bool,
    drafts: bool,
    split: bool,
    reads: InvoiceReads,
) -> list[InvoiceRevenue]:
    """The invoices one by one (finalized and not voided, and/or DRAFT computed now), dated (or whose cycle starts)
    in [start, end), each split per billable when `split`. The invoices it must read (`reads`: shared by a
    request's queries) count against their budget: TooManyInvoices beyond it, before any is read."""
    if account_pks is not None and not account_pks:
        return []
    statuses = [*(INVOICED if finalized else ()), *((DRAFT,) if drafts else ())]
    repo = _Reports(ctx.session, ctx.org_id)
    stmt = (
        select(Invoice)
        .where(_revenue_where(repo, basis, start, end, account_pks), Invoice.status.in_(statuses))
        .order_by(Invoice.pk)
        .limit(reads.limit + 1)  # more than the whole budget is over it, whatever was read before
    )
    invoices = list(ctx.session.scalars(stmt))
    reads.reserve([i for i in invoices if i.status == DRAFT or split])
    out = []
    for invoice in invoices:
        at = invoice.invoice_date if basis == BY_INVOICE_DATE else invoice.cycle_start
        if invoice.status == DRAFT or split:
            total = reads.view(invoice)[1]
        else:
            total = invoice.total_amount or Decimal(0)
        parts, usage = reads.parts(invoice) if split else (None, frozenset[str]())
        out.append(InvoiceRevenue(invoice.account_pk, invoice.currency, at, total, parts, usage))  # type: ignore[arg-type]
    return out
