"""The console's Invoices list (docs/console.md): the organization's invoices, 25 a page with counts, sorted and
filtered in SQL (`InvoiceService.listed`), drafts' totals computed live in one go as `GET /api/invoices` does.

- Columns: number (or Draft) and type, account, customer, invoice date, due date, period, status in words ("Overdue ·
  12 days" for an invoice still owed 12 days after its due day, in the organization's days: `words.invoice_status`),
  total.
- By default the list shows the finalized invoices (every status but Draft), newest invoice date first: drafts are
  invoices still being computed (the ongoing period of every account on a plan), which would otherwise fill the
  first page; "Draft" or "All, drafts too" in the status filter lists them, and the page says how many are left out.
- Filters: status (Overdue included), type, account id, customer id, a range of days the period overlaps.
- Sorts: number, invoice date, due date, total. A draft has no number and no frozen total (computed when read):
  sorted by either, drafts come last; totals are compared within a currency (currencies A to Z), never across.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from starlette.responses import Response

from meterline.accounts.models import Account
from meterline.accounts.repository import AccountRepository
from meterline.api.routing import UnitOfWorkRoute
from meterline.console import listing, words
from meterline.console.billing_notices import listed_total
from meterline.console.pages import User, context, render
from meterline.core.pagination import Counted, Slice
from meterline.customers.models import Customer
from meterline.customers.repository import CustomerRepository
from meterline.invoicing.models import Invoice
from meterline.invoicing.service import InvoiceService
from meterline.invoicing.statuses import InvoiceStatus
from meterline.rating import cycles
from meterline.tenancy.context import Context

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

FINALIZED = frozenset(s for s in InvoiceStatus if s != InvoiceStatus.DRAFT)
ALL, OVERDUE = "ALL", "OVERDUE"
STATUS_FILTERS = {
    "": "Finalized (all but drafts)",
    ALL: "All, drafts too",
    InvoiceStatus.DRAFT: "Draft",
    InvoiceStatus.DUE: "Due",
    OVERDUE: "Overdue",
    InvoiceStatus.PARTIALLY_PAID: "Partially paid",
    InvoiceStatus.PAID: "Paid",
    InvoiceStatus.UN_COLLECTIBLE: "Uncollectible",
    InvoiceStatus.VOID: "Void",
}
TYPES = words.INVOICE_TYPES
INVOICES = listing.Spec(
    path="/invoices",
    columns={
        "number": listing.Column("Number", descending_first=True),
        "date": listing.Column("Invoice date", descending_first=True),
        "due": listing.Column("Due date", descending_first=True),
        "total": listing.Column("Total", descending_first=True),
    },
    default="-date",
    noun=("invoice", "invoices"),
)


@dataclass(frozen=True)
class InvoiceRow:
    invoice: Invoice
    account: Account | None
    customer: Customer | None
    total: str  # in words: the invoice's currency, exact (a draft's computed now)
    status: words.StatusWords


def invoice_rows(ctx: Context, service: InvoiceService, invoices: list[Invoice]) -> list[InvoiceRow]:
    """The rows of a list of invoices: their account and customer, total and status in words."""
    service.inputs.prefetch([i for i in invoices if i.status == InvoiceStatus.DRAFT])  # as GET /api/invoices
    accounts = AccountRepository(ctx.session, ctx.org_id).by_pks({i.account_pk for i in invoices})
    customers = CustomerRepository(ctx.session, ctx.org_id).by_pks({a.customer_pk for a in accounts.values()})
    rows = []
    for invoice in invoices:
        owner = accounts.get(invoice.account_pk)
        total = listed_total(service, invoice)
        rows.append(
            InvoiceRow(
                invoice=invoice,
                account=owner,
                customer=customers.get(owner.customer_pk) if owner else None,
                total=words.money(total, invoice.currency) if total is not None else "cannot be computed",
                status=words.invoice_status(invoice, ctx.now, ctx.org.timezone),
            )
        )
    return rows


def _day(text: str, label: str, errors: dict[str, str], key: str) -> date | None:
    if not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        errors[key] = f"{label}: pick a day from the calendar (YYYY-MM-DD), not {text.strip()!r}"
        return None


def _statuses(status: str) -> frozenset[str] | None:
    if status == ALL:
        return None
    if status in ("", OVERDUE):
        return FINALIZED
    return frozenset({status})


@router.get("/invoices")
def invoices(
    request: Request,
    user: User,
    status: str = "",
    account: str = "",
    customer: str = "",
    type: str = "",
    start: str = "",
    end: str = "",
    sort: str = "",
    page: str = "",
) -> Response:
    """The organization's invoices, sorted and paged in SQL; drafts computed live."""
    ctx = context(request, user)
    filters = {
        "status": status,
        "account": account.strip(),
        "customer": customer.strip(),
        "type": type,
        "start": start.strip(),
        "end": end.strip(),
    }
    found = listing.Listing.read(INVOICES, sort=sort, page=page, filters=filters)
    errors: dict[str, str] = {}
    if status not in STATUS_FILTERS:
        errors["status"] = "Status: choose one from the list"
    if type and type not in TYPES:
        errors["type"] = "Type: choose one from the list"
    first, last = _day(start, "From", errors, "start"), _day(end, "To", errors, "end")
    if first and last and last < first:
        errors["end"] = "To: the last day comes on or after the first"
    rows: list[InvoiceRow] = []
    drafts_left_out = 0
    if not errors and found.ok:
        service = InvoiceService(ctx)
        # a period overlapping [first day, last day], days of the organization's time zone as the pages show them
        zone = ZoneInfo(ctx.org.timezone)
        end_at = last + timedelta(days=1) if last and last < date.max - timedelta(days=1) else None

        def ask(slice_: Slice, statuses: frozenset[str] | None, overdue: bool = False) -> Counted[Invoice]:
            return service.listed(
                slice_,
                statuses=statuses,
                overdue=overdue,
                account_id=filters["account"] or None,
                customer_id=filters["customer"] or None,
                start=cycles.local_start_of_day(first, zone) if first else None,
                end=cycles.local_start_of_day(end_at, zone) if end_at else None,
                invoice_type=type or None,
            )

        result = ask(found.slice(), _statuses(status), overdue=status == OVERDUE)
        found.found(result)
        rows = invoice_rows(ctx, service, result.items)
        if not status:  # how many drafts the default filter leaves out (a count, no row read)
            drafts_left_out = ask(found.count_only(), frozenset({InvoiceStatus.DRAFT})).total
    drafts_url = listing.Listing.read(INVOICES, filters={**filters, "status": InvoiceStatus.DRAFT}).url()
    return render(
        request,
        "invoices.html",
        user,
        status=400 if errors or not found.ok else 200,
        rows=rows,
        filters=filters,
        errors=errors,
        statuses=STATUS_FILTERS,
        types=TYPES,
        list=found,
        filtered=bool({k: v for k, v in filters.items() if v}),
        drafts_left_out=drafts_left_out,
        drafts_url=drafts_url,
        drafts_sorted_last=found.sort in ("number", "total") and status == ALL,
    )
