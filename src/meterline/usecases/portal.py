"""What the customer portal shows (console/portal_pages.py; docs/portal.md): reads across accounts, invoicing,
credits, the wallet and entitlements, every one of them limited to what one delegate token opens (`Access`: one
customer and its accounts). Read-only: nothing here writes (the ongoing invoice's sync, as on the console's GET
pages, is not kept: the worker makes it for good).

An invoice, its PDF and every figure are reached only through the token's accounts: an invoice of any other account
(another customer's, or an account of the same customer the token does not name) is 404, as an unknown id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from meterline.accounts.models import Account
from meterline.core.errors import MeterlineError, NotFound
from meterline.core.money import EXACT
from meterline.core.observability import describe
from meterline.core.pagination import Slice
from meterline.credits.service import CreditRepository
from meterline.entitlements.feature_service import FeatureService
from meterline.entitlements.service import FeatureCreditService
from meterline.invoicing.builder import Line
from meterline.invoicing.models import Invoice
from meterline.invoicing.service import InvoiceService
from meterline.invoicing.statuses import InvoiceStatus
from meterline.portal.service import Access
from meterline.tenancy.context import Context
from meterline.usecases import balances
from meterline.wallet.service import WalletRepository

INVOICES = 50  # the latest finalized invoices of each account that the portal lists
FINALIZED = frozenset(s for s in InvoiceStatus if s != InvoiceStatus.DRAFT)


@dataclass(frozen=True)
class Ongoing:
    """The account's ongoing (DRAFT) invoice, computed now: its billing components, usage and total so far."""

    invoice: Invoice
    cards: list[Line]
    usage: list[Line]
    total: Decimal | None
    error: str | None = None


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
    accounts: list[AccountOverview]
    invoices: list[tuple[Invoice, Account, Decimal]]  # finalized, newest first


def _ongoing(service: InvoiceService, account: Account) -> Ongoing | None:
    invoice = service.ongoing(account)
    if invoice is None:
        return None
    try:
        revenue, usage, _details, total = service.view(invoice)
    except MeterlineError:
        raise
    except Exception as exc:  # its data breaks computing it: said in words, as the console does
        return Ongoing(invoice, [], [], None, f"The ongoing invoice cannot be computed now: {describe(exc)}.")
    cards = [line for line in revenue.walk() if line.type.endswith("RATE_CARD_AMOUNT") or line.type == "TRUE_UP_AMOUNT"]
    return Ongoing(invoice, cards, usage, total)


def overview(ctx: Context, access: Access) -> Overview:
    """Each of the token's accounts with its ongoing invoice, wallet, credits and feature credits; and their
    finalized invoices."""
    service = InvoiceService(ctx)
    pks = access.account_pks
    with_wallet = WalletRepository(ctx.session, ctx.org_id).of_accounts(pks)
    with_credits = {pk for pk, rows in CreditRepository(ctx.session, ctx.org_id).of_accounts(pks).items() if rows}
    names = {view.feature.pk: view.feature.name for view in FeatureService(ctx).all()}
    feature_credits = FeatureCreditService(ctx)
    accounts = []
    invoices: list[tuple[Invoice, Account, Decimal]] = []
    for account in access.accounts:
        view = balances.wallet(ctx).view(account.id) if account.pk in with_wallet else None
        wallet = EXACT.add(view.balance, view.hold) if view is not None else None
        credits = balances.credits(ctx).balance(account.id).available if account.pk in with_credits else None
        features = [
            FeatureCredits(names.get(pk, pk), c.granted, c.balance)
            for pk, c in sorted(feature_credits.credits_of(account, None).items(), key=lambda i: names.get(i[0], i[0]))
        ]
        held = view.hold if view is not None else Decimal(0)
        accounts.append(AccountOverview(account, _ongoing(service, account), wallet, held, credits, features))
        listed = service.listed(Slice(0, INVOICES, "date", True), statuses=FINALIZED, account_id=account.id)
        invoices.extend((i, account, i.total_amount or Decimal(0)) for i in listed.items)
    invoices.sort(key=lambda row: (row[0].invoice_date, row[0].pk), reverse=True)
    return Overview(accounts, invoices)


def invoice_of(ctx: Context, access: Access, invoice_id: str) -> Invoice:
    """An invoice of the token's accounts; any other is 404 with the message of an unknown one."""
    invoice = InvoiceService(ctx).repo.by_pk(invoice_id)
    if invoice is None or invoice.account_pk not in access.account_pks:
        raise NotFound(f"Invoice {invoice_id} not found")
    return invoice


def expires_in(access: Access, now: datetime) -> int:
    """Whole seconds until the token expires (a cookie's max-age)."""
    return max(0, int((access.expires_at - now).total_seconds()))
