"""The figures alerts evaluate, read from the domains that own them (invoicing, events, credits, the wallet,
entitlements, webhooks), and the evaluation run that the worker starts (alerts/evaluator.py) with them.

Each template reads one figure per subject (docs/alerts.md):
- usage_threshold: the meter's usage over the ongoing invoice's period (the account's current cycle), from the usage
  rollups (events.UsageService); with PERCENT_OF_ENTITLEMENT the base is the feature credits granted now; with
  PERCENT_OF_COMMITMENT the figure is the meter's charge on the ongoing invoice and the base the plan's minimum
  commitment (InvoiceService.compute, as the invoice shows them).
- spend_threshold: what the account spent on the ongoing invoice: its total (InvoiceService.compute: charges in,
  credits off) without the minimum commitment's true-up (spent(); the true-up is owed, not spent).
- credit_balance_below: the running credit balance (CreditService.balance: after what DRAFT invoices hold);
  accounts that never had a credit have no figure.
- wallet_balance_below: the wallet's balance as finalized invoices left it (as wallet.low); no wallet, no figure.
- feature_credits_low: the feature's credits now (FeatureCreditService.credits_of); nothing granted, no figure.
- invoice_overdue: the invoices still owed whose due day passed `days` days ago (one subject per invoice).
- webhook_endpoint_disabled: the organization's DISABLED webhook endpoints (one subject per endpoint).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from meterline.accounts.models import Account
from meterline.accounts.repository import AccountRepository
from meterline.alerts import evaluator
from meterline.alerts.evaluation import Reading
from meterline.alerts.models import Alert, loads
from meterline.alerts.statuses import Basis, EntityType
from meterline.alerts.templates import basis_of
from meterline.core.clock import isoformat_z
from meterline.core.errors import BadRequest, NotFound
from meterline.core.money import EXACT, exact_sum, round_money
from meterline.core.pagination import PageRequest
from meterline.credits.service import CreditRepository
from meterline.customers.repository import CustomerRepository
from meterline.entitlements.service import FeatureCreditService
from meterline.events.service import UsageService
from meterline.invoicing.builder import Built, Line
from meterline.invoicing.repository import InvoiceRepository
from meterline.invoicing.service import InvoiceService
from meterline.tenancy.context import Context
from meterline.usecases import balances
from meterline.wallet.service import WalletRepository
from meterline.webhooks.repository import WebhookRepository
from meterline.webhooks.statuses import EndpointStatus

ACCOUNT = "ACCOUNT"
ACCOUNTS_PAGE = 500


def accounts_of(ctx: Context, alert: Alert) -> Iterator[Account]:
    """The accounts an alert watches: its account, its customer's accounts, or every account of the organization."""
    repo = AccountRepository(ctx.session, ctx.org_id)
    if alert.entity_type == EntityType.ACCOUNT:
        account = repo.by_id(alert.entity_id or "")
        if account is None:
            raise NotFound(f"Account {alert.entity_id} not found")
        yield account
    elif alert.entity_type == EntityType.CUSTOMER:
        customer = CustomerRepository(ctx.session, ctx.org_id).by_id(alert.entity_id or "")
        if customer is None:
            raise NotFound(f"Customer {alert.entity_id} not found")
        yield from repo.of_customer(customer.pk)
    else:
        after: str | None = None
        while True:
            page = repo.page(PageRequest(size=ACCOUNTS_PAGE, after=after))
            yield from page.items
            if page.next_token is None or not page.items:
                return
            after = page.items[-1].pk


def read(ctx: Context, alert: Alert) -> list[Reading]:
    """The alert's figures at ctx.now, one Reading per subject."""
    parameters: dict[str, Any] = loads(alert.parameters)
    reader = READERS[alert.template_id]
    return reader(ctx, alert, parameters)


def _line(root: Line, line_id: str) -> Decimal:
    return next((line.value for line in root.walk() if line.id == line_id), Decimal(0))


def _commitment(root: Line) -> Decimal | None:
    true_up = root.find("TRUE_UP_AMOUNT")
    if true_up is None or not true_up.metadata:
        return None
    return Decimal(str(true_up.metadata["commitment"]))


def _usage(ctx: Context, alert: Alert, parameters: dict[str, Any]) -> list[Reading]:
    meter_id = str(parameters["meter"]["id"])
    basis = basis_of(parameters)
    invoices = InvoiceService(ctx)
    feature = None
    if basis == Basis.PERCENT_OF_ENTITLEMENT:
        feature = FeatureCreditService(ctx).feature(str(parameters["threshold"]["featureId"]))
    out = []
    for account in accounts_of(ctx, alert):
        invoice = invoices.ongoing(account)
        if invoice is None:
            out.append(Reading(ACCOUNT, account.id, None))
            continue
        period = (invoice.start_at, invoice.end_at)
        if basis == Basis.PERCENT_OF_COMMITMENT:
            root = invoices.compute(invoice).built.revenue
            value, base, unit = _line(root, meter_id), _commitment(root), invoice.currency
        else:
            usage = {u.meter_id: u for u in UsageService(ctx).of_account(account.id, *period)}
            if meter_id not in usage:
                raise BadRequest(f"Usage meter {meter_id} is not an active meter")
            value, base, unit = usage[meter_id].usage, None, usage[meter_id].name
            if feature is not None:
                base = FeatureCreditService(ctx).credits_of(account, {feature.pk})[feature.pk].granted
        details = {"meterId": meter_id, "invoiceId": invoice.pk}
        out.append(Reading(ACCOUNT, account.id, value, unit, base, period, details))
    return out


def _spend(ctx: Context, alert: Alert, parameters: dict[str, Any]) -> list[Reading]:
    invoices = InvoiceService(ctx)
    out = []
    for account in accounts_of(ctx, alert):
        invoice = invoices.ongoing(account)
        if invoice is None:
            out.append(Reading(ACCOUNT, account.id, None))
            continue
        built = invoices.compute(invoice).built
        period = (invoice.start_at, invoice.end_at)
        details = {"invoiceId": invoice.pk}
        value = spent(built, invoice.currency)
        out.append(Reading(ACCOUNT, account.id, value, invoice.currency, _commitment(built.revenue), period, details))
    return out


def spent(built: Built, currency: str) -> Decimal:
    """What the account has spent on an invoice: its total (charges in, credits off) without the commitment's
    true-up, which is not spending but what the account will owe if it spends less than the commitment. The true-up
    comes off as it counts in the total: its line less what credits took off it. Never below 0."""
    true_up = built.revenue.find("TRUE_UP_AMOUNT")
    if true_up is None:
        return built.total
    credited = exact_sum(a.amount for a in built.credits if a.line_id == true_up.id)
    return max(EXACT.subtract(built.total, EXACT.subtract(true_up.value, credited)), round_money(Decimal(0), currency))


def _credits(ctx: Context, alert: Alert, parameters: dict[str, Any]) -> list[Reading]:
    service, repo = balances.credits(ctx), CreditRepository(ctx.session, ctx.org_id)
    out = []
    for account in accounts_of(ctx, alert):
        if not repo.of_account(account.pk):
            out.append(Reading(ACCOUNT, account.id, None))
            continue
        balance = service.balance(account.id)
        details = {"available": balance.available, "active": balance.active}
        out.append(Reading(ACCOUNT, account.id, balance.running, balance.unit, details=details))
    return out


def _wallet(ctx: Context, alert: Alert, parameters: dict[str, Any]) -> list[Reading]:
    repo = WalletRepository(ctx.session, ctx.org_id)
    out = []
    for account in accounts_of(ctx, alert):
        wallet = repo.of_account(account.pk)
        value = None if wallet is None else wallet.balance
        out.append(Reading(ACCOUNT, account.id, value, account.invoice_currency))
    return out


def _feature_credits(ctx: Context, alert: Alert, parameters: dict[str, Any]) -> list[Reading]:
    service = FeatureCreditService(ctx)
    feature = service.feature(str(parameters["feature"]["id"]))
    out = []
    for account in accounts_of(ctx, alert):
        credits = service.credits_of(account, {feature.pk})[feature.pk]
        if credits.granted <= 0:
            out.append(Reading(ACCOUNT, account.id, None))
            continue
        details = {"featureId": feature.pk, "granted": credits.granted, "usedOverage": credits.used_overage}
        out.append(Reading(ACCOUNT, account.id, credits.balance, "units", credits.granted, details=details))
    return out


def _overdue(ctx: Context, alert: Alert, parameters: dict[str, Any]) -> list[Reading]:
    days = int(parameters.get("overdue", {}).get("days", 0))
    today = InvoiceService(ctx).overdue_before()  # the organization's midnight today: due before it, overdue
    pks = None if alert.entity_type == EntityType.ORGANIZATION else {a.pk for a in accounts_of(ctx, alert)}
    accounts = AccountRepository(ctx.session, ctx.org_id)
    out = []
    invoices = InvoiceRepository(ctx.session, ctx.org_id).overdue_of(pks, today - timedelta(days=days))
    ids = accounts.by_pks({i.account_pk for i in invoices})
    for invoice in invoices:
        late = Decimal((today - invoice.due_date).days) if invoice.due_date else Decimal(0)
        details = {
            "invoiceId": invoice.pk,
            "accountId": ids[invoice.account_pk].id if invoice.account_pk in ids else None,
            "dueDate": isoformat_z(invoice.due_date) if invoice.due_date else None,
            "owed": (invoice.total_amount or Decimal(0)) - invoice.paid_amount,
        }
        out.append(Reading("INVOICE", invoice.pk, late, "days", details=details))
    return out


def _endpoints(ctx: Context, alert: Alert, parameters: dict[str, Any]) -> list[Reading]:
    out = []
    for endpoint in WebhookRepository(ctx.session, ctx.org_id).all_endpoints():
        if endpoint.status == EndpointStatus.DISABLED:
            details = {"url": endpoint.url, "reason": endpoint.disabled_reason}
            out.append(Reading("WEBHOOK_ENDPOINT", endpoint.pk, Decimal(1), details=details))
    return out


READERS = {
    "usage_threshold": _usage,
    "spend_threshold": _spend,
    "credit_balance_below": _credits,
    "wallet_balance_below": _wallet,
    "feature_credits_low": _feature_credits,
    "invoice_overdue": _overdue,
    "webhook_endpoint_disabled": _endpoints,
}


def run(factory: sessionmaker[Session], now: datetime, org_id: str | None = None) -> evaluator.RunResult:
    """Evaluate every alert due by `now` (of one organization, or all), as the worker does with the wall clock."""
    return evaluator.run(factory, now, read=read, org_id=org_id)


def worker(factory: sessionmaker[Session], interval: float) -> evaluator.Evaluator:
    return evaluator.Evaluator(factory, interval, read=read)
