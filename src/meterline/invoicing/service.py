"""Invoices: live drafts, finalization with gapless numbers, status changes, custom invoices and charges.

- Each schedule's cycle pieces get a STANDARD invoice (D12) and, when the piece has in-advance cards, a
  STANDARD_ADVANCED one (D7). `sync` creates the rows of the pieces that have started, and drops drafts whose piece
  a schedule edit removed. A DRAFT's lines are computed whenever it is read: it is live.
- `finalize` freezes the lines, takes the next numbers of the organization's sequence, and sets DUE (PAID when the
  total is 0). A STANDARD invoice is due for it at its cycle's end + grace (D3), an advanced one at its piece's
  start, a CUSTOM one with autoAdvance at its end date.
- Nothing here reads the clock: `now` comes from the Context (a request) or from the bill run (`as_of`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import simplejson

from meterline.accounts.models import Account
from meterline.accounts.repository import AccountRepository
from meterline.accounts.service import ARCHIVED
from meterline.catalog import plan_model, plan_rules, rate_cards
from meterline.catalog.plan_model import PlanModel
from meterline.catalog.plan_schemas import PricingRule
from meterline.core.clock import END_OF_TIME
from meterline.core.errors import BadRequest, Conflict, MeterlineError, NotFound
from meterline.core.ids import new_id
from meterline.core.money import EXACT
from meterline.core.observability import describe
from meterline.core.pagination import Counted, Page, PageRequest, Slice
from meterline.core.schemas import format_address
from meterline.core.settings import load_settings
from meterline.credits.service import CreditService, Grant
from meterline.customers.repository import CustomerRepository
from meterline.entitlements import plan_grants
from meterline.invoicing import builder, schemas
from meterline.invoicing.builder import Built, Charge, CustomItem, Line
from meterline.invoicing.credit_application import Available
from meterline.invoicing.failures import BillingFailureRepository
from meterline.invoicing.inputs import BillingInputs
from meterline.invoicing.models import Invoice
from meterline.invoicing.repository import DRAFT, InvoiceRepository, due_order
from meterline.invoicing.statuses import FINAL, InvoiceStatus
from meterline.purchases import grants as purchase_grants
from meterline.rating import cycles, licenses
from meterline.revenue.compute import CardRevenue, LicenseDays, Proration, plan_revenue
from meterline.revenue.pricing_rules import AccountFacts, account_facts, setting_keys
from meterline.schedules.repository import ScheduleRepository
from meterline.schedules.service import ScheduleService, ScheduleView
from meterline.settings.repository import SettingRepository
from meterline.tenancy.context import Context
from meterline.wallet.service import WalletRepository, WalletService
from meterline.wallet.statuses import WalletStatus
from meterline.webhooks import outbox

T = TypeVar("T")


class UncomputableDraft(Conflict):
    """A DRAFT invoice whose stored data breaks computing it: readers get the reason (409), not a 500."""

    def __init__(self, invoice_pk: str, reason: str) -> None:
        super().__init__(
            f"Draft invoice {invoice_pk} cannot be computed now: {reason}. Nothing was changed; the bill run "
            "records the same failure until its plan, usage or charges are fixed."
        )
        self.reason = reason


STANDARD, ADVANCED, CUSTOM = "STANDARD", "STANDARD_ADVANCED", "CUSTOM"
DUE, PAID, PARTIALLY_PAID = InvoiceStatus.DUE, InvoiceStatus.PAID, InvoiceStatus.PARTIALLY_PAID
VOID, UN_COLLECTIBLE = InvoiceStatus.VOID, InvoiceStatus.UN_COLLECTIBLE
TICK = timedelta(microseconds=1)


def dumps(value: Any) -> str:
    return simplejson.dumps(value, use_decimal=True, separators=(",", ":"), ensure_ascii=False)


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text, parse_float=Decimal, parse_int=Decimal)


@lru_cache(maxsize=8)
def _number_format(text: str) -> str:
    try:
        text.format(number=1)
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        raise ValueError(f"METERLINE_INVOICE_NUMBER_FORMAT {text!r} must use only {{number}}: {exc}") from None
    return text


def number_format() -> str:
    """How invoice numbers are written: METERLINE_INVOICE_NUMBER_FORMAT (default INV-000001), checked."""
    return _number_format(load_settings().invoice_number_format)


@dataclass(frozen=True)
class Owed:
    """What a set of accounts still owes in one currency: the amount due (total - paid) of their DUE and
    PARTIALLY_PAID invoices, and the part of it past its due date."""

    currency: str
    amount: Decimal
    invoices: int
    overdue: Decimal
    overdue_invoices: int


@dataclass(frozen=True)
class Computed:
    built: Built
    usage: list[Line]
    details: dict[str, Any]
    wallet: Decimal = Decimal(0)  # what the wallet pays at finalization (held while DRAFT)


@dataclass(frozen=True)
class Piece:
    view: ScheduleView
    piece: cycles.CyclePiece
    index: int  # the cycle's number in its schedule, from 0


def _in_advance(card: CardRevenue) -> bool:
    return plan_model.timing(card.card) in plan_model.BILLED_AT_START


def credit_holds(ctx: Context, account: Account) -> dict[str, Decimal]:
    """credit id -> what the account's DRAFT invoices hold of it (CreditService's `holds`)."""
    service = InvoiceService(ctx)
    held: dict[str, Decimal] = {}
    for draft in service.inputs.drafts(account.pk):
        for applied in service.readable_compute(draft).built.credits:
            held[applied.credit_id] = EXACT.add(held.get(applied.credit_id, Decimal(0)), applied.amount)
    return held


def wallet_holds(ctx: Context, account: Account) -> list[tuple[str, Decimal]]:
    """(DRAFT invoice id, what the wallet would pay it) in due order (WalletService's `holds`)."""
    service = InvoiceService(ctx)
    computed = [(d.pk, service.readable_compute(d).wallet) for d in service.inputs.drafts(account.pk)]
    return [(pk, amount) for pk, amount in computed if amount > 0]


def invoiced_until(ctx: Context, account: Account) -> datetime | None:
    """The end of the last period of the account's finalized in-arrears invoices (ScheduleService's guard)."""
    last = InvoiceRepository(ctx.session, ctx.org_id).invoiced_until(account.pk)
    return last.end_at if last is not None else None


def invoiced_until_of(ctx: Context, account_pks: set[str]) -> dict[str, datetime]:
    """`invoiced_until` of many accounts at once, by account pk (ingestion's and corrections' guard): one query."""
    return InvoiceRepository(ctx.session, ctx.org_id).invoiced_until_of(account_pks) if account_pks else {}


class InvoiceService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.repo = InvoiceRepository(ctx.session, ctx.org_id)
        self.accounts = AccountRepository(ctx.session, ctx.org_id)
        self.schedules = ScheduleRepository(ctx.session, ctx.org_id)
        self.tz = ZoneInfo(ctx.org.timezone)
        self.inputs = BillingInputs(ctx)
        self._computed: dict[str, Computed] = {}  # DRAFT invoices computed in this unit of work

    # -- reading ---------------------------------------------------------------------------------------------------
    def get(self, invoice_id: str) -> Invoice:
        invoice = self.repo.by_pk(invoice_id)
        if invoice is None:
            raise NotFound(f"Invoice {invoice_id} not found")
        return invoice

    def account_of(self, invoice: Invoice) -> Account:
        return self.inputs.account(invoice.account_pk)

    def page(
        self,
        request: PageRequest,
        *,
        status: str | None,
        account_id: str | None,
        customer_id: str | None,
        start: datetime | None,
        end: datetime | None,
        due_only: bool = False,
        invoice_type: str | None = None,
        newest_first: bool = False,
    ) -> Page[Invoice]:
        """The API's list (and the console's): filtered by status, account, customer, type and period."""
        empty: Page[Invoice] = Page(items=[], next_token=None, size=request.size)
        account_pk = customer_pk = None
        if account_id is not None:
            account = self.accounts.by_id(account_id)
            if account is None:
                return empty
            account_pk = account.pk
        if customer_id is not None:
            customer = CustomerRepository(self.ctx.session, self.ctx.org_id).by_id(customer_id)
            if customer is None:
                return empty
            customer_pk = customer.pk
        return self.repo.page(
            request,
            status=status,
            account_pk=account_pk,
            customer_pk=customer_pk,
            start=start,
            end=end,
            due_by=self.ctx.now if due_only else None,
            invoice_type=invoice_type,
            newest_first=newest_first,
        )

    def listed(
        self,
        request: Slice,
        *,
        statuses: Collection[str] | None,
        overdue: bool = False,
        account_id: str | None = None,
        customer_id: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        invoice_type: str | None = None,
        account_pks: Collection[str] | None = None,
    ) -> Counted[Invoice]:
        """The console's list: a sorted slice and the count of the invoices `page` would filter (`overdue`: those
        still owed whose due day has passed, `overdue_before`). Drafts are returned as stored: `view` computes them."""
        account_pk = customer_pk = None
        if account_id is not None:
            account = self.accounts.by_id(account_id)
            if account is None:
                return Counted(items=[], total=0)
            account_pk = account.pk
        if customer_id is not None:
            customer = CustomerRepository(self.ctx.session, self.ctx.org_id).by_id(customer_id)
            if customer is None:
                return Counted(items=[], total=0)
            customer_pk = customer.pk
        return self.repo.listed(
            request,
            statuses=statuses,
            overdue_at=self.overdue_before() if overdue else None,
            account_pk=account_pk,
            customer_pk=customer_pk,
            start=start,
            end=end,
            invoice_type=invoice_type,
            account_pks=account_pks,
        )

    def overdue_before(self) -> datetime:
        """An invoice still owed is overdue once its due day has passed, days being the organization's (as the pages
        show the due date and `console.words.overdue_days` counts them): when it was due before today's midnight."""
        return cycles.local_start_of_day(self.ctx.now.astimezone(self.tz).date(), self.tz)

    def owed(self, account_pks: set[str]) -> list[Owed]:
        """What the accounts still owe, per currency (A to Z; amounts of two currencies are never added), and of it
        what is overdue (`overdue_before`)."""
        found: dict[str, Owed] = {}
        cutoff = self.overdue_before()
        for _, currency, total, paid, due in self.repo.owed(account_pks):
            amount = EXACT.subtract(total, paid)
            late = due is not None and due < cutoff
            was = found.get(currency, Owed(currency, Decimal(0), 0, Decimal(0), 0))
            found[currency] = Owed(
                currency,
                EXACT.add(was.amount, amount),
                was.invoices + 1,
                EXACT.add(was.overdue, amount) if late else was.overdue,
                was.overdue_invoices + (1 if late else 0),
            )
        return [found[c] for c in sorted(found)]

    def view(self, invoice: Invoice) -> tuple[Line, list[Line], dict[str, Any], Decimal]:
        """(revenueInfo, usageInfo, invoiceDetails, total): frozen once final, computed now while DRAFT."""
        if invoice.status != DRAFT and invoice.lines is not None:
            usage = [Line.from_json(u) for u in loads(invoice.usage) or []]
            return (
                Line.from_json(loads(invoice.lines)),
                usage,
                loads(invoice.details),
                invoice.total_amount or Decimal(0),
            )
        computed = self.compute(invoice)
        return computed.built.revenue, computed.usage, computed.details, computed.built.total

    def readable_view(self, invoice: Invoice) -> tuple[Line, list[Line], dict[str, Any], Decimal]:
        """`view` for those who read an invoice (the API, the console, the portal): a DRAFT whose stored data breaks
        computing it (a rate or usage out of range, damaged charges) is UncomputableDraft, a 409 with the reason,
        never a 500; the bill run records the same failure (docs/invoicing.md)."""
        return self._reading(invoice, self.view)

    def readable_compute(self, invoice: Invoice) -> Computed:
        """`compute` of a DRAFT for the credits' and the wallet's holds, with `readable_view`'s UncomputableDraft."""
        return self._reading(invoice, self.compute)

    def _reading(self, invoice: Invoice, read: Callable[[Invoice], T]) -> T:
        try:
            return read(invoice)
        except MeterlineError:
            raise
        except Exception as exc:
            if invoice.status != DRAFT:
                raise
            raise UncomputableDraft(invoice.pk, describe(exc)) from exc

    def presented(self, invoice: Invoice) -> schemas.InvoiceOut:
        """The invoice as GET /invoices/{id} answers it (lines and usage included)."""
        revenue, usage, details, total = self.readable_view(invoice)
        account = self.account_of(invoice)
        customer = CustomerRepository(self.ctx.session, self.ctx.org_id).by_pks({account.customer_pk})
        return schemas.invoice_out(
            invoice, account.id, customer[account.customer_pk].id, total, details, revenue, usage
        )

    def announce(self, invoice: Invoice, event_type: str) -> None:
        """The invoice's webhook (docs/webhooks.md), written in this transaction: the invoice as the API returns it
        now, built only when an endpoint wants `event_type`."""
        outbox.emit(self.ctx, event_type, lambda: self.presented(invoice), object_id=invoice.pk)

    def wallet_paid(self, invoice: Invoice) -> Decimal:
        """What the wallet paid of the invoice (part of its paidAmount); for a DRAFT, what finalizing it would take
        (the wallet's hold for it, D10); for a VOID one nothing (its wallet payments went back to the wallet)."""
        if invoice.status == DRAFT:
            return self.compute(invoice).wallet
        if invoice.status == VOID:
            return Decimal(0)
        debits = WalletRepository(self.ctx.session, self.ctx.org_id).debits_of_invoice(invoice.pk)
        return sum((d.amount for d in debits), Decimal(0))

    # -- computing -------------------------------------------------------------------------------------------------
    def _piece(self, invoice: Invoice) -> Piece | None:
        view = self.inputs.view(invoice.schedule_pk) if invoice.schedule_pk else None
        if view is None or view.cycle is None or invoice.cycle_start is None or invoice.cycle_end is None:
            return None
        cycle = cycles.Cycle(invoice.cycle_start, invoice.cycle_end, self.tz)
        start, end = max(cycle.start, view.start), min(cycle.end, view.end)
        if start >= end:
            return None
        model = view.model
        scheduled = (  # whether the cycle's number matters: then compute it
            model.has_entitlement_cards
            or any(card.type == "ONE_TIME" or card.recurrence_config is not None for card in model.fixed_fee_cards)
            or any(card.type == "ONE_TIME" or card.recurrence_config is not None for card in model.credit_grant_cards)
        )
        return Piece(view, cycles.CyclePiece(cycle, start, end), self._index(view, cycle) if scheduled else 0)

    def _cards(
        self, account: Account, piece: Piece, usage: dict[str, Decimal]
    ) -> tuple[list[CardRevenue], list[CardRevenue]]:
        """The piece's rate cards that bill in it: (in arrears, in advance)."""
        p = piece.piece
        cycle_days = cycles.cycle_days(p.cycle, self.tz)
        covered = cycles.covered_days(p, self.tz)
        proration = Proration(covered, cycle_days) if p.is_partial else None
        steps = self.inputs.license_steps(account.pk)
        largest = {lid: licenses.largest(s, p.start, p.end) for lid, s in steps.items()}
        days = LicenseDays(
            {lid: [q for _, q in licenses.daily_maximums(s, p.start, p.end, self.tz)] for lid, s in steps.items()},
            cycle_days,
        )
        model, currency = piece.view.model, account.invoice_currency
        overage = self._overage(account, piece)
        last_piece = p.end >= piece.view.end  # overage of a period the schedule cuts short bills on its last piece
        arrears = [
            c
            for c in plan_revenue(model, currency, usage, largest, proration, days, self.inputs.rate_plans, overage)
            if not _in_advance(c)
            and (rate_cards.applies(c.card, piece.index) or (c.kind == "ENTITLEMENT_OVERAGE" and last_piece))
        ]
        if not model.billed_at_start(currency):
            return arrears, []
        # In advance, a license bills the quantity in force when its piece starts (for each covered day if prorated).
        at_start = {lid: licenses.in_force(s, p.start) for lid, s in steps.items()}
        start_days = LicenseDays({k: [q] * covered for k, q in at_start.items()}, cycle_days)
        advance = [
            c
            for c in plan_revenue(model, currency, usage, at_start, proration, start_days, self.inputs.rate_plans)
            if _in_advance(c) and rate_cards.applies(c.card, piece.index)
        ]
        return arrears, advance

    def _overage(self, account: Account, piece: Piece) -> dict[str, Decimal]:
        """feature id -> the overage units used in the billing period of each overage card (its OVERAGE entry)."""
        cards = piece.view.model.entitlement_overage_cards
        if not cards:
            return {}
        used = self.inputs.overage_used(account.pk)
        out = {}
        for card in cards:
            entry_id, _, _ = plan_grants.overage_window(piece.view, piece.piece.cycle, piece.index, card, self.tz)
            out[card.feature_id] = used.get((card.feature_id, entry_id), Decimal(0))
        return out

    def _commitment(self, model: PlanModel, currency: str, piece: cycles.CyclePiece) -> builder.Commitment | None:
        card = model.minimum_commitment
        if card is None or not plan_model.priced_in(card, currency):
            return None
        amount = rate_cards.flat_rate(card, currency, "minimumCommitment")
        if piece.is_partial:
            return builder.Commitment(
                card.display_name or "Minimum commitment",
                amount,
                cycles.covered_days(piece, self.tz),
                cycles.cycle_days(piece.cycle, self.tz),
            )
        return builder.Commitment(card.display_name or "Minimum commitment", amount)

    def compute(self, invoice: Invoice) -> Computed:
        """The invoice as it stands: lines, credits applied, and what the wallet pays. Credits and the wallet go to
        the account's DRAFT invoices in the order they are due (D9, D10): earlier ones are computed first."""
        if invoice.pk in self._computed:
            return self._computed[invoice.pk]
        account = self.inputs.account(invoice.account_pk)
        credits, wallet_left = self._money_left(invoice)
        charges = [Charge.from_json(c) for c in loads(invoice.charges) or []]
        currency = invoice.currency
        usage_lines: list[Line] = []
        plan_name = None
        piece = self._piece(invoice) if invoice.invoice_type != CUSTOM else None
        if piece is None:  # a custom invoice, or a draft whose schedule was edited away (the next sync drops it)
            items = [CustomItem(**i) for i in _custom_items(loads(invoice.custom_lines) or [])]
            built = builder.build_custom(items, charges, currency, credits)
        else:
            plan_name = piece.view.plan_name
            usage = self.inputs.usage(account.pk, (piece.piece.start, piece.piece.end))
            arrears, advance = self._cards(account, piece, usage)
            rules = (
                builder.Rules.of(piece.view.model, self._rule_facts(account, piece.view.model.pricing_rules))
                if piece.view.model.pricing_rules
                else None
            )
            if invoice.invoice_type == ADVANCED:
                built = builder.build_advanced(advance, currency, credits, rules or builder.NO_RULES)
            else:
                commitment = self._commitment(piece.view.model, currency, piece.piece)
                built = builder.build_standard(
                    arrears, advance, commitment, charges, currency, credits, rules or builder.NO_RULES
                )
                priced = set(piece.view.model.usage_meter_ids)
                usage_lines = builder.usage_info(
                    [(m.id, m.name, usage[m.id]) for m in self.inputs.meters() if m.id in priced]
                )
        paid = min(wallet_left, built.total) if wallet_left > 0 else Decimal(0)
        result = Computed(built, usage_lines, self._details(account, plan_name), paid)
        self._computed[invoice.pk] = result
        return result

    def _money_left(self, invoice: Invoice) -> tuple[list[Available], Decimal]:
        """The credits this invoice may use, with what remains of each, and what the wallet can still pay, after the
        account's DRAFT invoices due before it took their share."""
        pool = self.inputs.credits(invoice.account_pk) if invoice.apply_credits else []
        wallet = self.inputs.wallet(invoice.account_pk) if invoice.apply_wallet else None
        # the wallet pays invoices finalized once it is effective (a draft is finalized at finalize_at, or now)
        when = max(self.ctx.now, invoice.finalize_at or self.ctx.now)
        usable_wallet = wallet is not None and wallet.status == WalletStatus.ACTIVE and wallet.effective_from <= when
        if not pool and not (usable_wallet and wallet.balance > 0):  # type: ignore[union-attr]
            return [], Decimal(0)
        used: dict[str, Decimal] = {}
        wallet_used = Decimal(0)
        for earlier in self.inputs.drafts(invoice.account_pk):
            if earlier.pk == invoice.pk or due_order(earlier) >= due_order(invoice):
                break
            taken = self.compute(earlier)
            for applied in taken.built.credits:
                used[applied.credit_id] = EXACT.add(used.get(applied.credit_id, Decimal(0)), applied.amount)
            wallet_used = EXACT.add(wallet_used, taken.wallet)
        available = [
            Available(
                c.pk,
                c.purpose,
                EXACT.subtract(EXACT.subtract(c.amount, c.consumed_amount), used.get(c.pk, Decimal(0))),
                c.priority,
                None if c.ends_at >= END_OF_TIME else c.ends_at,
                c.created_at,
                tuple(c.scope),
            )
            for c in pool
            if c.starts_at < invoice.end_at and c.ends_at > invoice.start_at
        ]
        left = EXACT.subtract(wallet.balance, wallet_used) if usable_wallet else Decimal(0)  # type: ignore[union-attr]
        return available, left

    def _rule_facts(self, account: Account, rules: Iterable[PricingRule]) -> AccountFacts:
        """What the rules read of the account: its row, and the settings they name (one query, none when they name
        none): docs/pricing.md, "Pricing rules"."""
        keys = setting_keys(rules)
        if not keys:
            return account_facts(account)
        customer = self.inputs.customer(account.customer_pk)
        levels = [("ACCOUNT", account.id), ("CUSTOMER", customer.id), ("ORGANIZATION", self.ctx.org_id)]
        return account_facts(account, SettingRepository(self.ctx.session, self.ctx.org_id).nearest(keys, levels))

    def _details(self, account: Account, plan_name: str | None) -> dict[str, Any]:
        customer = self.inputs.customer(account.customer_pk)
        address = customer.address or {}
        return {
            "customer": {
                "name": customer.name,
                "primaryEmail": customer.primary_email,
                "billingAddress": format_address(address) or None,
                "address": address,
            },
            "account": {
                "name": account.name,
                "invoiceCurrency": account.invoice_currency,
                "address": account.address or address,
                "primaryEmail": account.primary_email or customer.primary_email,
            },
            "pricePlanName": plan_name,
            "organization": {"businessName": self.ctx.org.name, "address": {}, "primaryEmail": ""},
        }

    # -- drafts ----------------------------------------------------------------------------------------------------
    def net_term_days(self, account: Account) -> int:
        return account.net_term_days if account.net_term_days is not None else self.ctx.org.net_term_days

    def sync(self, account: Account, now: datetime) -> None:
        self.sync_many([account], now)

    def sync_many(self, accounts: list[Account], now: datetime) -> None:
        """Create the invoices of the accounts' cycle pieces that have started by `now`; fit the drafts to schedule
        edits (a piece that changed is re-dated, one that went away is deleted). Each schedule is walked from its
        oldest draft (else its newest invoice) on, so the work does not grow with an account's history."""
        by_pk = {a.pk: a for a in accounts}
        existing: dict[str, dict[tuple[str | None, datetime | None, str], Invoice]] = {pk: {} for pk in by_pk}
        for invoice in self.repo.of_accounts(set(by_pk)):
            existing[invoice.account_pk][(invoice.schedule_pk, invoice.cycle_start, invoice.invoice_type)] = invoice
        schedules = [s for rows in self.schedules.of_accounts(set(by_pk)).values() for s in rows if s.start_at <= now]
        views = ScheduleService(self.ctx).views(schedules)
        owner = {s.pk: s.account_pk for s in schedules}
        wanted: set[tuple[str | None, datetime | None, str]] = set()
        new: list[dict[str, Any]] = []
        moved: list[dict[str, Any]] = []
        spans: dict[tuple[cycles.CycleConfig, datetime, datetime], list[cycles.Cycle]] = {}
        for view in views:
            if view.cycle is None:
                continue
            account = by_pk[owner[view.id]]
            starts = [
                (i.cycle_start, i.status)
                for k, i in existing[account.pk].items()
                if k[0] == view.id and i.cycle_start is not None
            ]
            drafts = [start for start, status in starts if status == DRAFT]
            resume = min(drafts) if drafts else max((start for start, _ in starts), default=view.start)
            config = cycles.effective_config(view.cycle, view.start, self.tz)
            advance = view.model.billed_at_start(account.invoice_currency)
            span = (config, max(view.start, resume), min(view.end, now + TICK))
            if span not in spans:  # accounts on the same plan from the same day share their cycles
                spans[span] = cycles.cycles_overlapping(*span, self.tz)
            for cycle in spans[span]:
                p = cycles.CyclePiece(cycle, max(cycle.start, view.start), min(cycle.end, view.end))
                kinds = [(STANDARD, cycle.grace_end(config.grace_period_days))]
                if advance and any(rate_cards.applies(card, self._index(view, cycle)) for card in advance):
                    kinds.append((ADVANCED, p.start))
                for kind, finalize_at in kinds:
                    key = (view.id, cycle.start, kind)
                    wanted.add(key)
                    found = existing[account.pk].get(key)
                    if found is None:
                        new.append(self._new_piece_invoice(account, view, p, kind, finalize_at))
                    elif found.status == DRAFT and (found.start_at, found.end_at, found.finalize_at) != (
                        p.start,
                        p.end,
                        finalize_at,
                    ):
                        moved.append(self._redated(found, p, finalize_at, account))
        gone = [
            i.pk for rows in existing.values() for key, i in rows.items() if key not in wanted and i.status == DRAFT
        ]
        self.repo.apply_sync(
            sorted(new, key=lambda r: (r["schedule_pk"], r["cycle_start"], r["invoice_type"])), moved, gone
        )
        if new and outbox.wants(self.ctx, "invoice.created"):  # those this sync inserted (not another worker's)
            for invoice in sorted(self.repo.by_pks({r["pk"] for r in new}).values(), key=lambda i: i.pk):
                self.announce(invoice, "invoice.created")

    def _redated(
        self, invoice: Invoice, p: cycles.CyclePiece, finalize_at: datetime, account: Account
    ) -> dict[str, Any]:
        net_terms = self.net_term_days(account)
        return {
            "pk": invoice.pk,
            "start_at": p.start,
            "end_at": p.end,
            "finalize_at": finalize_at,
            "invoice_date": finalize_at,
            "net_term_days": net_terms,
            "due_date": finalize_at + timedelta(days=net_terms),
            "updated_at": self.ctx.now,
        }

    def _index(self, view: ScheduleView, cycle: cycles.Cycle) -> int:
        """The cycle's number in its schedule, from 0 (`view` has a cycle)."""
        config = cycles.effective_config(view.cycle, view.start, self.tz)  # type: ignore[arg-type]
        return len(cycles.cycles_overlapping(config, view.start, cycle.start, self.tz))

    def _dates(self, invoice: Invoice, finalize_at: datetime, account: Account) -> None:
        invoice.finalize_at = invoice.invoice_date = finalize_at
        invoice.net_term_days = self.net_term_days(account)
        invoice.due_date = finalize_at + timedelta(days=invoice.net_term_days)

    def _new_piece_invoice(
        self, account: Account, view: ScheduleView, p: cycles.CyclePiece, kind: str, finalize_at: datetime
    ) -> dict[str, Any]:
        """The row of a new DRAFT (sync inserts them all at once)."""
        net_terms = self.net_term_days(account)
        return dict(
            pk=new_id("inv"),
            org_id=self.ctx.org_id,
            account_pk=account.pk,
            invoice_type=kind,
            status=DRAFT,
            currency=account.invoice_currency,
            schedule_pk=view.id,
            plan_id=view.plan_id,
            cycle_start=p.cycle.start,
            cycle_end=p.cycle.end,
            start_at=p.start,
            end_at=p.end,
            finalize_at=finalize_at,
            invoice_date=finalize_at,
            net_term_days=net_terms,
            due_date=finalize_at + timedelta(days=net_terms),
            paid_amount=Decimal(0),
            auto_advance=True,
            apply_credits=True,
            apply_wallet=True,
            created_at=self.ctx.now,
            updated_at=self.ctx.now,
        )

    def ongoing(self, account: Account) -> Invoice | None:
        """The account's in-arrears DRAFT whose period holds now (after a sync)."""
        self.sync(account, self.ctx.now)
        self.ctx.session.flush()
        now = self.ctx.now
        return next(
            (
                i
                for i in self.repo.of_account(account.pk)
                if i.invoice_type == STANDARD and i.status == DRAFT and i.start_at <= now < i.end_at
            ),
            None,
        )

    # -- finalizing ------------------------------------------------------------------------------------------------
    def finalize(self, invoices: list[Invoice], now: datetime) -> None:
        """Freeze these DRAFT invoices, in the order given, with the next numbers of the sequence."""
        if not invoices:
            return
        self._computed.clear()
        self.inputs.prefetch(invoices, lock=True)
        computed = [self.compute(i) for i in invoices]
        number = number_format()
        first = self.repo.take_numbers(len(invoices))
        credits, wallets = CreditService(self.ctx, holds=credit_holds), WalletService(self.ctx, holds=wallet_holds)
        for offset, (invoice, result) in enumerate(zip(invoices, computed, strict=True)):
            invoice.lines = dumps(result.built.revenue.to_json())
            invoice.usage = dumps([u.to_json() for u in result.usage])
            invoice.details = dumps(result.details)
            invoice.total_amount = total = result.built.total
            invoice.sequence_number = first + offset
            invoice.sequence_id = number.format(number=first + offset)
            invoice.finalized_at = invoice.updated_at = now
            by_id = {c.pk: c for c in self.inputs.credits(invoice.account_pk)}
            for applied in result.built.credits:  # held until now, consumed from now on (D9)
                credits.consume(by_id[applied.credit_id], applied.amount, invoice.pk, applied.line_id)
            if result.wallet > 0:  # the wallet pays what it can (D10)
                wallets.debit(self.inputs.wallet(invoice.account_pk), result.wallet, invoice.pk)  # type: ignore[arg-type]
                invoice.paid_amount = EXACT.add(invoice.paid_amount, result.wallet)
            invoice.status = (
                PAID if invoice.paid_amount >= total else PARTIALLY_PAID if invoice.paid_amount > 0 else DUE
            )
            self.grant_credits(invoice, result.built.revenue)
            if self._dated_at_finalization(invoice, now):
                self._dates(invoice, now, self.account_of(invoice))
            self.announce(invoice, "invoice.finalized")
            if invoice.status == PAID:
                self.announce(invoice, "invoice.paid")
        BillingFailureRepository(self.ctx.session, self.ctx.org_id).clear_invoices([i.pk for i in invoices])

    @staticmethod
    def _dated_at_finalization(invoice: Invoice, now: datetime) -> bool:
        """Finalized before its time (by hand, or a custom invoice): dated `now`, due net term days later."""
        return invoice.invoice_type == CUSTOM or invoice.finalize_at is None or invoice.finalize_at > now

    def finalization_dates(self, invoice: Invoice, now: datetime) -> tuple[datetime, datetime | None]:
        """(invoice date, due date) that finalizing the DRAFT `invoice` at `now` gives it (the console's
        confirmation says them before it acts)."""
        if self._dated_at_finalization(invoice, now):
            return now, now + timedelta(days=self.net_term_days(self.account_of(invoice)))
        return invoice.invoice_date, invoice.due_date

    def prepare_bill_run(self, as_of: datetime) -> list[str]:
        """Sync every account with a schedule; the ids of the invoices due by `as_of`, in numbering order."""
        self.sync_many(list(self.accounts.by_pks(set(self.repo.accounts_with_schedules())).values()), as_of)
        return [i.pk for i in self.repo.due_drafts(as_of, limit=1_000_000, skip_locked=False)]

    def finalize_due(self, as_of: datetime, limit: int, skip_locked: bool = False) -> int:
        """Finalize up to `limit` invoices due by `as_of`; returns how many."""
        due = self.repo.due_drafts(as_of, limit, skip_locked)
        self.finalize(due, as_of)
        return len(due)

    def announce_overdue(self, as_of: datetime, limit: int) -> int:
        """Mark the invoices that became overdue by `as_of` (still owed past their due date) and announce each once
        (`invoice.overdue`); how many (at most `limit`: the bill run calls it until none is left)."""
        found = self.repo.newly_overdue(as_of, limit)
        for invoice in found:
            invoice.overdue_at = as_of
            self.announce(invoice, "invoice.overdue")
        return len(found)

    # -- credit grants (credit-grant rate cards) -------------------------------------------------------------------
    def grant_credits(self, invoice: Invoice, revenue: Line | None = None) -> None:
        """The credits the invoice's credit-grant cards give (billing-rules D9): at finalization, or for a
        PREPAID card once the invoice is PAID; and a PREPAID purchase's feature credits once its ORDER invoice is PAID
        (purchases/grants.py). Idempotent (one idempotency key per invoice and card, one entry id per purchase card)."""
        if invoice.invoice_class == "ORDER" and invoice.status == PAID:
            purchase_grants.grant_paid(self.ctx, invoice.pk, self.inputs.account(invoice.account_pk).id)
        if invoice.schedule_pk is None or invoice.status not in (DUE, PAID, PARTIALLY_PAID, UN_COLLECTIBLE):
            return
        revenue = revenue or Line.from_json(loads(invoice.lines))
        view = self.inputs.view(invoice.schedule_pk)
        if view is not None and invoice.status == PAID and invoice.invoice_type == ADVANCED and invoice.cycle_start:
            plan_grants.PlanGrants(self.ctx).grant_prepaid(  # PREPAID billing entitlement cards
                self.inputs.account(invoice.account_pk), view, invoice.cycle_start
            )
        if self.inputs.account(invoice.account_pk).status == ARCHIVED:
            return  # never billed again: a credit would serve no invoice (accounts.service.refuse_archived)
        cards = {c.id: c for c in (view.model.credit_grant_cards if view else ())}
        for line in revenue.walk():
            card = cards.get(line.id) if line.type.endswith("CREDIT_GRANT_RATE_CARD_AMOUNT") else None
            if card is None or (card.invoice_timing == "PREPAID" and invoice.status != PAID):
                continue
            amount = Decimal((line.metadata or {}).get("creditAmount", 0))
            if amount <= 0:
                continue
            grant = card.grant_details
            start = cycles.local_day(invoice.start_at, self.tz)
            until = None
            if grant.expiry_type == "PRICING_CYCLE" and invoice.cycle_end is not None:
                until = cycles.local_day(invoice.cycle_end, self.tz) - timedelta(days=1)
            elif grant.expiry_type == "CUSTOM" and grant.expiry_duration:  # plan_rules: CUSTOM has a duration
                until = plan_rules.add_duration(start, grant.expiry_duration) - timedelta(days=1)
            CreditService(self.ctx, holds=credit_holds).grant(
                [
                    Grant(
                        account_id=self.inputs.account(invoice.account_pk).id,
                        purpose=card.display_name or card.id,
                        amount=amount,
                        priority=grant.priority,
                        effective_from=start,
                        effective_until=until,
                        scope=tuple(grant.applicable_entity_ids or ()),
                        grantor_id=card.id,
                        idempotency_key=f"grant:{invoice.pk}:{card.id}",
                    )
                ]
            )

    # -- changes ---------------------------------------------------------------------------------------------------
    def update(self, invoice_id: str, status: str | None, fields: dict[str, Any]) -> Invoice:
        invoice = self.repo.locked(invoice_id)  # two changes of one invoice (say, two finalizations) take turns
        if invoice is None:
            raise NotFound(f"Invoice {invoice_id} not found")
        if fields:
            if invoice.invoice_type != CUSTOM or invoice.status != DRAFT:
                raise BadRequest(
                    f"Invoice {invoice.pk} is {invoice.status} {invoice.invoice_type}: only a DRAFT "
                    "CUSTOM invoice's dates, lines and autoAdvance can change; send status alone"
                )
            self._edit_custom(invoice, fields)
        if status is not None and status != invoice.status:
            self._change_status(invoice, status)
        invoice.updated_at = self.ctx.now
        return invoice

    def _change_status(self, invoice: Invoice, status: str) -> None:
        before = self._set_status(invoice, status)
        if invoice.status != before and invoice.status in (PAID, VOID):
            self.announce(invoice, "invoice.paid" if invoice.status == PAID else "invoice.voided")

    def _set_status(self, invoice: Invoice, status: str) -> str:
        """Change the status; returns the status the change started from (after finalizing, which announces its
        own events)."""
        current = invoice.status
        if current in FINAL:
            raise BadRequest(f"Invoice {invoice.pk} is {current}, which is final: its status cannot change")
        if status == "REFUND_INITIATED":
            raise BadRequest("status REFUND_INITIATED: refunds are not tracked by Meterline; a PAID invoice is final")
        if current == DRAFT:
            if status not in (DUE, PAID):
                raise BadRequest(
                    f"Invoice {invoice.pk} is DRAFT: finalize it (status DUE or PAID) before setting {status}"
                )
            self.finalize([invoice], self.ctx.now)
            if status == DUE:  # finalizing decided: DUE, or PAID / PARTIALLY_PAID by the wallet
                return invoice.status
            current = invoice.status
        if status == PAID:
            invoice.paid_amount = invoice.total_amount or Decimal(0)
            invoice.status = PAID
            self.grant_credits(invoice)
        if status == VOID and current != PAID:  # what credits and the wallet gave goes back to them (D9, D10)
            CreditService(self.ctx, holds=credit_holds).give_back(invoice.pk)
            refunded = WalletService(self.ctx, holds=wallet_holds).give_back(invoice.pk, self.account_of(invoice))
            invoice.paid_amount = EXACT.subtract(invoice.paid_amount, refunded)
        if status in (DUE, PAID, VOID, UN_COLLECTIBLE) and current != PAID:
            invoice.status = status
        return current

    # -- custom invoices -------------------------------------------------------------------------------------------
    def create_custom(
        self,
        account_id: str,
        start: datetime,
        end: datetime,
        status: str,
        items: list[dict[str, Any]],
        auto_advance: bool,
        apply_credits: bool,
        apply_wallet: bool,
        idempotency_key: str | None,
        invoice_class: str | None = None,
    ) -> tuple[Invoice, bool]:
        """(invoice, created): a repeated idempotencyKey gives back the first invoice. `invoice_class` ORDER: a
        purchase's invoice (usecases/purchases.py)."""
        if idempotency_key is not None:
            self.repo.lock_key("invoice-idempotency", idempotency_key)  # a twin waits, then gets this one back
            found = self.repo.by_idempotency_key(idempotency_key)
            if found is not None:
                return found, False
        account = self.accounts.by_id(account_id)
        if account is None:
            raise NotFound(f"Account {account_id} not found")
        if end <= start:
            raise BadRequest("endDate must be after startDate")
        invoice = Invoice(
            pk=new_id("inv"),
            org_id=self.ctx.org_id,
            account_pk=account.pk,
            invoice_type=CUSTOM,
            invoice_class=invoice_class,
            status=DRAFT,
            currency=account.invoice_currency,
            start_at=start,
            end_at=end,
            paid_amount=Decimal(0),
            custom_lines=dumps(_checked_items(items)),
            auto_advance=auto_advance,
            apply_credits=apply_credits,
            apply_wallet=apply_wallet,
            idempotency_key=idempotency_key,
            created_at=self.ctx.now,
            updated_at=self.ctx.now,
        )
        self._dates(invoice, end, account)
        invoice.finalize_at = end if auto_advance else None
        self.repo.add(invoice)
        self.announce(invoice, "invoice.created")
        if status in (DUE, PAID):
            self._change_status(invoice, status)
        return invoice, True

    def _edit_custom(self, invoice: Invoice, fields: dict[str, Any]) -> None:
        self._computed.clear()
        start, end = fields.get("start_date", invoice.start_at), fields.get("end_date", invoice.end_at)
        if end <= start:
            raise BadRequest("endDate must be after startDate")
        invoice.start_at, invoice.end_at = start, end
        if "line_items" in fields:
            invoice.custom_lines = dumps(_checked_items(fields["line_items"]))
        if "auto_advance" in fields:
            invoice.auto_advance = fields["auto_advance"]
        self._dates(invoice, end, self.account_of(invoice))
        invoice.finalize_at = end if invoice.auto_advance else None

    def delete_custom(self, invoice_id: str) -> None:
        self.get(invoice_id)  # 404 for an unknown id
        invoice = self.repo.locked(invoice_id)  # not while it is finalized: its status is read again under the lock
        if invoice is None:
            raise NotFound(f"Invoice {invoice_id} not found")
        if invoice.invoice_type != CUSTOM or invoice.status != DRAFT:
            raise BadRequest(
                f"Invoice {invoice.pk} is a {invoice.status} {invoice.invoice_type} invoice: only DRAFT "
                "CUSTOM invoices can be deleted (void a finalized one)"
            )
        self.repo.delete(invoice)

    # -- miscellaneous charges (D11) -------------------------------------------------------------------------------
    def set_charges(self, invoice: Invoice, charges: list[Charge]) -> list[Charge]:
        locked = self.repo.locked(invoice.pk)  # not while it is finalized: its status is read again under the lock
        invoice = locked if locked is not None else invoice
        if invoice.status != DRAFT:
            raise BadRequest(f"Invoice {invoice.pk} is {invoice.status}: charges change only on a DRAFT invoice")
        if invoice.invoice_type == ADVANCED:
            raise BadRequest(f"Invoice {invoice.pk} bills fees in advance: put charges on the in-arrears invoice")
        for i, charge in enumerate(charges):
            if charge.value is None and (charge.rate is None or charge.quantity is None):
                raise BadRequest(f"items[{i}]: give value, or rate and quantity")
            if charge.value is not None:
                try:
                    builder.check_charge_value(charge.value)
                except builder.ChargeError as exc:
                    raise BadRequest(f"items[{i}].{exc}") from None
        # A refused set leaves the invoice as it was: the same unit of work may show the invoice again (the console
        # answers a refused charge with the account's page), and must not list a charge that was never saved.
        previous = invoice.charges
        invoice.charges = dumps([c.to_json() for c in charges]) if charges else None
        self._computed.clear()
        try:
            errors = self.compute(invoice).built.charge_errors
        except BaseException:
            invoice.charges = previous
            self._computed.clear()
            raise
        if errors:
            invoice.charges = previous
            self._computed.clear()
            raise BadRequest(f"items: {errors[0]}")
        invoice.updated_at = self.ctx.now
        return charges

    def remove_charge(self, invoice_id: str, position: int, name: str) -> Charge:
        """Take one miscellaneous charge off a DRAFT invoice (the console's Remove; the API replaces the whole set).
        `position` counts from 1, as the charge's line id (`MISCELLANEOUS_CHARGE:<position>`); `name` must still be
        the charge's there, else the charges changed since they were shown and nothing is removed (Conflict)."""
        invoice = self.repo.locked(invoice_id)  # the charges are read under the lock, as set_charges writes them
        if invoice is None:
            raise NotFound(f"Invoice {invoice_id} not found")
        if invoice.status != DRAFT:
            raise BadRequest(f"Invoice {invoice.pk} is {invoice.status}: charges change only on a DRAFT invoice")
        charges = [Charge.from_json(c) for c in loads(invoice.charges) or []]
        if not 1 <= position <= len(charges) or charges[position - 1].name != name:
            raise Conflict(
                f"Invoice {invoice.pk} has no charge {name!r} at position {position}: its charges changed meanwhile"
            )
        removed = charges.pop(position - 1)
        self.set_charges(invoice, charges)
        return removed

    def _ongoing_of(self, account_id: str) -> Invoice:
        account = self.accounts.by_id(account_id)
        if account is None:
            raise NotFound(f"Account {account_id} not found")
        invoice = self.ongoing(account)
        if invoice is None:
            raise BadRequest(
                f"Account {account_id} has no ongoing invoice: it has no price plan with a pricing "
                f"cycle on {self.ctx.now.date().isoformat()}"
            )
        return invoice

    def set_account_charges(self, account_id: str, charges: list[Charge]) -> list[Charge]:
        """PUT /accounts/{id}/miscellaneous_charges: replace the charges of the ongoing invoice (D11)."""
        return self.set_charges(self._ongoing_of(account_id), charges)

    def add_account_charge(self, account_id: str, charge: Charge) -> list[Charge]:
        """The console's "+ Add Customer Charges": one more charge on the ongoing invoice."""
        invoice = self.repo.locked(self._ongoing_of(account_id).pk)  # the charges are read under the lock: none lost
        if invoice is None:
            raise NotFound(f"Account {account_id} has no ongoing invoice")
        return self.set_charges(invoice, [*(Charge.from_json(c) for c in loads(invoice.charges) or []), charge])


def _custom_items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    keys = {"description", "value", "quantity", "value_per_quantity", "item_id", "billable_id"}
    return [{k: v for k, v in item.items() if k in keys} for item in items]


def _checked_items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for i, item in enumerate(items):
        value, quantity, per = item.get("value"), item.get("quantity"), item.get("value_per_quantity")
        if value is not None:
            amount = value
        elif quantity is not None and per is not None:
            amount = EXACT.multiply(quantity, per)
        else:
            raise BadRequest(f"lineItems[{i}]: give value, or quantity and valuePerQuantity")
        if any(abs(v) >= builder.LIMIT for v in (amount, quantity or 0, per or 0)):
            raise BadRequest(f"lineItems[{i}]: amounts and quantities must be below 10^15")
        out.append(
            {
                "description": item.get("description") or f"Item {i + 1}",
                "value": value,
                "quantity": quantity,
                "value_per_quantity": per,
                "item_id": item.get("id"),
                "billable_id": item.get("billable_id"),
            }
        )
    return out
