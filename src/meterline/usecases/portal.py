"""What the customer portal shows (console/portal_pages.py; docs/portal.md): reads across accounts, invoicing,
credits, the wallet and entitlements, every one of them limited to what one delegate token opens (`Access`: one
customer and its accounts). Read-only: nothing here writes (the ongoing invoice's sync, as on the console's GET
pages, is not kept: the worker makes it for good).

An invoice, its PDF and every figure are reached only through the token's accounts: an invoice of any other account
(another customer's, or an account of the same customer the token does not name) is 404, as an unknown id."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from meterline.accounts.models import Account
from meterline.core.errors import BadRequest, NotFound
from meterline.core.money import EXACT
from meterline.core.pagination import Counted, Slice
from meterline.credits.service import CreditRepository
from meterline.entitlements.feature_service import FeatureService
from meterline.entitlements.service import FeatureCreditService
from meterline.invoicing.builder import Line
from meterline.invoicing.models import Invoice
from meterline.invoicing.service import InvoiceService, UncomputableDraft
from meterline.invoicing.statuses import InvoiceStatus
from meterline.portal.service import Access
from meterline.tenancy.context import Context
from meterline.usecases import balances
from meterline.wallet.service import WalletRepository

ACCOUNTS = 10  # accounts per page of the overview: each is priced (its ongoing invoice computed) when shown
INVOICES = 25  # finalized invoices per page, of all the token's accounts together (one query and its count)
MAX_PAGE = 100_000
UNAVAILABLE = "The ongoing invoice cannot be shown right now. Please try again later."
log = logging.getLogger("meterline.portal")
FINALIZED = frozenset(s for s in InvoiceStatus if s != InvoiceStatus.DRAFT)


@dataclass(frozen=True)
class Ongoing:
    """The account's ongoing (DRAFT) invoice, computed now: its billing components, usage and total so far."""

    invoice: Invoice
    cards: list[Line]
    usage: list[Line]
    total: Decimal | None
    error: str | None = None
    saved: bool = True  # False: computed for this page only (the worker has not saved it yet): no page of its own


@dataclass(frozen=True)
class FeatureCredits:
    name: str
    granted: Decimal
    balance: Decimal


@dataclass(frozen=True)
class AccountOverview:
    account: Account
    ongoing: Ongoing | None
    wallet: Decimal | None  # what is in the wallet (what drafts hold of it included); None: no wallet
    wallet_held: Decimal  # of it, what DRAFT invoices will take when they are finalized
    credits: Decimal | None  # the credits' available balance; None: no active credit
    features: list[FeatureCredits]


@dataclass(frozen=True)
class Overview:
    accounts: list[AccountOverview]  # the accounts of this page (ACCOUNTS a page)
    invoices: list[tuple[Invoice, Account, Decimal]]  # finalized, newest first: this page of them (INVOICES a page)
    page: int
    pages: int  # pages of accounts
    first: int  # the number of the page's first account (1-based)
    account_count: int
    invoices_page: int
    invoices_pages: int
    invoice_count: int

    @property
    def invoices_first(self) -> int:
        """The number of the page's first invoice (1-based)."""
        return (self.invoices_page - 1) * INVOICES + 1


def pages_of(count: int, size: int) -> int:
    return max(1, -(-count // size))


def page_number(text: str, what: str) -> int:
    """A page number from the address (empty: 1); anything else than 1 to MAX_PAGE is a BadRequest in words."""
    if not text:
        return 1
    if not (text.isascii() and text.isdigit() and len(text) <= 6 and 1 <= int(text) <= MAX_PAGE):
        raise BadRequest(f"{what} must be a page number from 1")
    return int(text)


def _ongoing(service: InvoiceService, account: Account) -> Ongoing | None:
    saved = service.repo.draft_pks(account.pk)  # before the sync, which this read-only page does not keep
    invoice = service.ongoing(account)
    if invoice is None:
        return None
    kept = invoice.pk in saved
    try:
        revenue, usage, _details, total = service.readable_view(invoice)
    except UncomputableDraft as exc:  # the operator's words go to the log, not to the customer
        log.warning(
            "portal: the ongoing invoice cannot be computed",
            extra={"fields": {"account_id": account.id, "invoice_id": invoice.pk, "error": exc.reason}},
        )
        return Ongoing(invoice, [], [], None, UNAVAILABLE, kept)
    cards = [line for line in revenue.walk() if line.type.endswith("RATE_CARD_AMOUNT") or line.type == "TRUE_UP_AMOUNT"]
    return Ongoing(invoice, cards, usage, total, None, kept)


def overview(ctx: Context, access: Access, page: int = 1, invoices_page: int = 1) -> Overview:
    """One page of the token's accounts (ACCOUNTS, by id), each with its ongoing invoice, wallet, credits and
    feature credits; and one page of the finalized invoices of all the token's accounts (INVOICES, newest first).
    What a page computes is bounded whatever the customer has (docs/portal.md); a page past the last is the last."""
    service = InvoiceService(ctx)
    pages = pages_of(len(access.accounts), ACCOUNTS)
    page = min(page, pages)
    shown = access.accounts[(page - 1) * ACCOUNTS : page * ACCOUNTS]
    pks = {a.pk for a in shown}
    with_wallet = WalletRepository(ctx.session, ctx.org_id).of_accounts(pks)
    with_credits = {pk for pk, rows in CreditRepository(ctx.session, ctx.org_id).of_accounts(pks).items() if rows}
    names = {view.feature.pk: view.feature.name for view in FeatureService(ctx).all()}
    feature_credits = FeatureCreditService(ctx)
    accounts = []
    for account in shown:
        try:
            view = balances.wallet(ctx).view(account.id) if account.pk in with_wallet else None
            wallet = EXACT.add(view.balance, view.hold) if view is not None else None
            held = view.hold if view is not None else Decimal(0)
            credits = balances.credits(ctx).balance(account.id).available if account.pk in with_credits else None
        except UncomputableDraft:  # what drafts hold is unknown: the stored wallet, no credit figure (_ongoing logs it)
            stored = with_wallet.get(account.pk)
            wallet, held, credits = (stored.balance if stored is not None else None), Decimal(0), None
        features = [
            FeatureCredits(names.get(pk, pk), c.granted, c.balance)
            for pk, c in sorted(feature_credits.credits_of(account, None).items(), key=lambda i: names.get(i[0], i[0]))
        ]
        accounts.append(AccountOverview(account, _ongoing(service, account), wallet, held, credits, features))
    by_pk = {a.pk: a for a in access.accounts}

    def window(n: int) -> Counted[Invoice]:
        return service.listed(Slice((n - 1) * INVOICES, INVOICES, "date", True), statuses=FINALIZED, account_pks=by_pk)

    listed = window(invoices_page)
    invoices_pages = pages_of(listed.total, INVOICES)
    if invoices_page > invoices_pages:
        invoices_page = invoices_pages
        listed = window(invoices_page)
    invoices = [(i, by_pk[i.account_pk], i.total_amount or Decimal(0)) for i in listed.items]
    return Overview(
        accounts,
        invoices,
        page,
        pages,
        (page - 1) * ACCOUNTS + 1,
        len(access.accounts),
        invoices_page,
        invoices_pages,
        listed.total,
    )


def invoice_of(ctx: Context, access: Access, invoice_id: str) -> Invoice:
    """An invoice of the token's accounts; any other is 404 with the message of an unknown one."""
    invoice = InvoiceService(ctx).repo.by_pk(invoice_id)
    if invoice is None or invoice.account_pk not in access.account_pks:
        raise NotFound(f"Invoice {invoice_id} not found")
    return invoice


def expires_in(access: Access, now: datetime) -> int:
    """Whole seconds until the token expires (a cookie's max-age)."""
    return max(0, int((access.expires_at - now).total_seconds()))
