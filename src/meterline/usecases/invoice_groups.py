"""Invoice groups' COMPOSITE invoices, made from their members' invoices as finalized (docs/invoicing.md,
"Invoice groups"). It spans invoice groups and invoicing, so it lives here, called by every bill run (the worker,
`meterline bill-run`, a BILL_RUN job) after the organization's invoices are finalized.

- Each group is taken under its row lock, then its member invoices (the lock order: group, then invoices).
- A composite is made once every member invoice it gathers is finalized: for a cycle, when no member has a DRAFT of
  that cycle left; for a day (`dailyInvoiceConsolidation`), when the day is over at `as_of` and no member has a
  DRAFT due that day. An account's invoices finalized before it joined the group are not gathered.
- It takes the next number of the organization's sequence; its member invoices keep theirs (payments, credits and
  the wallet act on them, per account). Its date is its latest member's; it is due the group's `netTermDays` (else
  the organization's) later, and so are its member invoices from then on.
- What it has been paid, and its status, are read from the member invoices (`composite_state`).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from meterline.accounts.repository import AccountRepository
from meterline.core.ids import new_id
from meterline.core.money import exact_sum
from meterline.core.pagination import Page, PageRequest, encode_token
from meterline.invoice_groups import composite
from meterline.invoice_groups.models import CompositeInvoice, InvoiceGroup
from meterline.invoice_groups.repository import InvoiceGroupRepository
from meterline.invoice_groups.schemas import composite_out
from meterline.invoicing import billing
from meterline.invoicing.models import Invoice
from meterline.invoicing.repository import DRAFT, InvoiceRepository
from meterline.invoicing.schemas import InvoiceOut
from meterline.invoicing.service import InvoiceService, dumps, number_format
from meterline.invoicing.statuses import InvoiceStatus
from meterline.tenancy.context import Context
from meterline.webhooks import outbox

GATHERED = frozenset(
    {InvoiceStatus.DUE, InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.PAID, InvoiceStatus.UN_COLLECTIBLE}
)


def consolidate(ctx: Context, as_of: datetime) -> list[billing.Composite]:
    """Make the COMPOSITE invoices of every group of the organization that are ready at `as_of`; which."""
    groups = InvoiceGroupRepository(ctx.session, ctx.org_id)
    return [made for pk in groups.all_pks() for made in consolidate_group(ctx, pk, as_of)]


def consolidate_group(ctx: Context, group_pk: str, as_of: datetime) -> list[billing.Composite]:
    groups = InvoiceGroupRepository(ctx.session, ctx.org_id)
    group = groups.locked(group_pk)  # two runs never gather one cycle twice; members wait for this to end
    if group is None:
        return []
    joined = {m.account_pk: m.joined_at for m in groups.members(group.pk)}
    if not joined:
        return []
    invoices = InvoiceRepository(ctx.session, ctx.org_id)
    tz = ZoneInfo(ctx.org.timezone)
    rows = invoices.of_group_accounts(set(joined), min(joined.values()))
    drafts = [i for i in rows if i.status == DRAFT]
    finalized = [
        i
        for i in rows
        if i.status in GATHERED and i.finalized_at is not None and i.finalized_at >= joined[i.account_pk]
    ]
    done = groups.consolidated({i.pk for i in finalized})
    buckets: dict[str, list[Invoice]] = defaultdict(list)
    for invoice in finalized:
        if invoice.pk in done:
            continue
        key = _key(group, invoice, tz)
        if key is not None:
            buckets[key].append(invoice)
    made = []
    for key in sorted(buckets):
        if _ready(key, drafts, as_of, group, tz):
            c = _make(ctx, group, key, buckets[key], as_of)
            made.append(billing.Composite(ctx.org_id, c.pk, c.sequence_id, c.group_pk, c.total_amount, c.currency))
    return made


def _key(group: InvoiceGroup, invoice: Invoice, tz: ZoneInfo) -> str | None:
    cycle = (invoice.cycle_start, invoice.cycle_end) if invoice.cycle_start and invoice.cycle_end else None
    return composite.period_key(group.daily_consolidation, invoice.invoice_type, cycle, invoice.invoice_date, tz)


def _ready(key: str, drafts: list[Invoice], as_of: datetime, group: InvoiceGroup, tz: ZoneInfo) -> bool:
    """No member invoice that belongs in this composite is still a DRAFT (and, for a day, the day is over)."""
    if key.startswith("DAY:"):
        start, end = composite.day_span(key, tz)
        return as_of >= end and not any(d.finalize_at is not None and start <= d.finalize_at < end for d in drafts)
    return not any(_key(group, d, tz) == key for d in drafts)


def _make(ctx: Context, group: InvoiceGroup, key: str, gathered: list[Invoice], as_of: datetime) -> CompositeInvoice:
    invoices = InvoiceRepository(ctx.session, ctx.org_id)
    locked = invoices.lock_many({i.pk for i in gathered})  # their due dates change: no payment in between
    accounts = AccountRepository(ctx.session, ctx.org_id).by_pks({i.account_pk for i in gathered})
    ordered = sorted(locked.values(), key=lambda i: (accounts[i.account_pk].id, i.sequence_number or 0))
    pk = new_id("inv")
    members = [
        composite.Member(
            invoice_pk=i.pk,
            account_id=accounts[i.account_pk].id,
            account_name=accounts[i.account_pk].name,
            sequence_id=i.sequence_id or "",
            total=i.total_amount or Decimal(0),
            revenue=json.loads(i.lines or "{}", parse_float=Decimal, parse_int=Decimal),
        )
        for i in ordered
    ]
    net_terms = group.net_term_days if group.net_term_days is not None else ctx.org.net_term_days
    invoice_date = max(i.invoice_date for i in ordered)
    due = invoice_date + timedelta(days=net_terms)
    number = invoices.take_numbers(1)
    for i in ordered:  # the group's terms: its invoices are due when the composite is
        i.net_term_days, i.due_date, i.updated_at = net_terms, due, as_of
    details = {
        "invoiceGroup": {
            "id": group.pk,
            "name": group.name,
            "email": group.email,
            "dailyInvoiceConsolidation": group.daily_consolidation,
            "invoiceCurrency": group.currency,
            "address": group.address,
        },
        "organization": {"businessName": ctx.org.name, "address": {}, "primaryEmail": ""},
    }
    made = CompositeInvoice(
        pk=pk,
        org_id=ctx.org_id,
        group_pk=group.pk,
        period=key,
        currency=group.currency,
        start_at=min(i.start_at for i in ordered),
        end_at=max(i.end_at for i in ordered),
        invoice_date=invoice_date,
        due_date=due,
        net_term_days=net_terms,
        sequence_number=number,
        sequence_id=number_format().format(number=number),
        total_amount=composite.total(members),
        lines=dumps(composite.lines(pk, members).to_json()),
        details=dumps(details),
        created_at=as_of,
    )
    InvoiceGroupRepository(ctx.session, ctx.org_id).add_composite(made, [i.pk for i in ordered])
    announce(ctx, made)
    return made


def announce(ctx: Context, made: CompositeInvoice) -> None:
    """A new composite's webhooks (docs/webhooks.md), in the transaction that makes it: `invoice.created` and
    `invoice.finalized` (it is born finalized, as a custom invoice created DUE), each with the composite as
    GET /invoices/{id} answers it, lines included."""

    def data() -> InvoiceOut:
        state = composite_state(ctx, made)
        return composite_out(made, state.paid, state.status, with_lines=True)

    for event_type in ("invoice.created", "invoice.finalized"):
        outbox.emit(ctx, event_type, data, object_id=made.pk)


@dataclass(frozen=True)
class CompositeState:
    """What a composite invoice has been paid and its status, from its member invoices."""

    paid: Decimal
    status: str
    members: list[Invoice]


def composite_state(ctx: Context, invoice: CompositeInvoice) -> CompositeState:
    """PAID when every member is paid (or void), PARTIALLY_PAID when something was paid, VOID when every member
    is void, else DUE (UN_COLLECTIBLE when every unpaid member is)."""
    return composite_states(ctx, [invoice])[invoice.pk]


def composite_states(ctx: Context, made: list[CompositeInvoice]) -> dict[str, CompositeState]:
    """Each composite's state (`composite_state`), read in two queries for all of them."""
    members_of = InvoiceGroupRepository(ctx.session, ctx.org_id).members_of({c.pk for c in made})
    wanted = {pk for pks in members_of.values() for pk in pks}
    invoices = InvoiceRepository(ctx.session, ctx.org_id).by_pks(wanted)
    return {pk: _state([invoices[i] for i in pks if i in invoices]) for pk, pks in members_of.items()}


def _state(members: list[Invoice]) -> CompositeState:
    members = sorted(members, key=lambda i: i.pk)
    paid = exact_sum(i.paid_amount for i in members)
    return CompositeState(paid, status_of({i.status for i in members}, paid), members)


def status_of(statuses: set[str], paid: Decimal) -> str:
    """A composite's status from its members' statuses and what they were paid in all (`composite_state`)."""
    if statuses == {InvoiceStatus.VOID}:
        return InvoiceStatus.VOID
    if statuses <= {InvoiceStatus.PAID, InvoiceStatus.VOID}:
        return InvoiceStatus.PAID
    if statuses - {InvoiceStatus.PAID, InvoiceStatus.VOID} == {InvoiceStatus.UN_COLLECTIBLE}:
        return InvoiceStatus.UN_COLLECTIBLE
    return InvoiceStatus.PARTIALLY_PAID if paid > 0 else InvoiceStatus.DUE


def recent_composites(ctx: Context, group_pks: set[str], limit: int) -> list[ListedComposite]:
    """The groups' newest COMPOSITE invoices with their state, newest first (the console's customer page)."""
    made = InvoiceGroupRepository(ctx.session, ctx.org_id).recent_of_groups(group_pks, limit)
    states = composite_states(ctx, made)
    return [ListedComposite(c, states[c.pk]) for c in made]


def composites_of(ctx: Context, group_pk: str) -> list[CompositeInvoice]:
    return InvoiceGroupRepository(ctx.session, ctx.org_id).composites_of(group_pk)


def composite_invoice(ctx: Context, invoice_id: str) -> tuple[CompositeInvoice, CompositeState] | None:
    """The COMPOSITE invoice with this id and its state (GET /invoices/{id}), or None."""
    found = InvoiceGroupRepository(ctx.session, ctx.org_id).composite(invoice_id)
    return None if found is None else (found, composite_state(ctx, found))


# -- GET /invoices: the account invoices and the composites, in one list ---------------------------------------------
@dataclass(frozen=True)
class ListedComposite:
    invoice: CompositeInvoice
    state: CompositeState


SCAN = 200  # composites read at a time while a status filter looks for a page's worth


def invoice_page(
    ctx: Context,
    request: PageRequest,
    *,
    status: str | None,
    owner_id: str | None,
    customer_id: str | None,
    start: datetime | None,
    end: datetime | None,
) -> Page[Invoice | ListedComposite]:
    """GET /invoices: the accounts' invoices (InvoiceService.page) and the groups' COMPOSITE invoices, merged in id
    order (creation order; both are `inv.` ids), one cursor for both. A composite is listed by no account's or
    customer's filter (its owner is its group: `ownerId` = the group's id lists its composites); `status` is the
    composite's as read from its members; the time filters keep those whose period overlaps, as for any invoice."""
    service = InvoiceService(ctx)
    invoices = service.page(request, status=status, account_id=owner_id, customer_id=customer_id, start=start, end=end)
    composites: list[ListedComposite] = []
    if customer_id is None:
        composites = _composites_after(ctx, request, status, owner_id, start, end)
    merged: list[Invoice | ListedComposite] = sorted(
        [*invoices.items, *composites], key=lambda i: i.invoice.pk if isinstance(i, ListedComposite) else i.pk
    )
    more = len(merged) > request.size or invoices.next_token is not None
    items = merged[: request.size]
    last = items[-1] if items else None
    token = None
    if more and last is not None:
        token = encode_token(last.invoice.pk if isinstance(last, ListedComposite) else last.pk)
    return Page(items=items, next_token=token, size=request.size)


def _composites_after(
    ctx: Context,
    request: PageRequest,
    status: str | None,
    owner_id: str | None,
    start: datetime | None,
    end: datetime | None,
) -> list[ListedComposite]:
    """Up to a page and one of composites after the cursor that pass the filters."""
    repo = InvoiceGroupRepository(ctx.session, ctx.org_id)
    wanted = request.size + 1
    found: list[ListedComposite] = []
    after = request.after
    while len(found) < wanted:
        batch = repo.composites_after(
            after, wanted if status is None else SCAN, group_pk=owner_id, start=start, end=end
        )
        if not batch:
            break
        states = composite_states(ctx, batch)
        found += [ListedComposite(c, states[c.pk]) for c in batch if status is None or states[c.pk].status == status]
        if status is None:
            break
        after = batch[-1].pk
    return found[:wanted]
