"""The data sources a report reads: a FIXED set, each a SELECT over the organization's rows with named, typed
columns (docs/reports.md lists them). A query names only these sources and columns: nothing of a request ever
becomes SQL text; each name is looked up here and turned into a SQLAlchemy expression."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_
from sqlalchemy.orm import aliased

from meterline.accounts.models import Account
from meterline.credits.models import Credit, CreditTransaction
from meterline.customers.models import Customer
from meterline.events.models import Event, UsageRollup
from meterline.invoicing.models import Invoice
from meterline.metering.models import UsageMeter
from meterline.wallet.models import Wallet, WalletEntry

TEXT, NUMBER, INTEGER, TIME, DATE = "text", "number", "integer", "time", "date"


@dataclass(frozen=True)
class Source:
    name: str
    description: str
    columns: dict[str, tuple[Any, str]]  # column name -> (SQL expression, kind)
    joins: Callable[[Any], Any]  # a SELECT -> the same with this source's FROM and joins
    org_filter: Callable[[str], Any]  # the organization's rows only


def _invoices() -> Source:
    account, customer = aliased(Account), aliased(Customer)
    return Source(
        "invoices",
        "Invoices (DRAFT ones have no totalAmount: they are computed when read)",
        {
            "id": (Invoice.pk, TEXT),
            "invoiceNumber": (Invoice.sequence_id, TEXT),
            "status": (Invoice.status, TEXT),
            "invoiceType": (Invoice.invoice_type, TEXT),
            "currency": (Invoice.currency, TEXT),
            "accountId": (account.id, TEXT),
            "customerId": (customer.id, TEXT),
            "customerName": (customer.name, TEXT),
            "pricePlanId": (Invoice.plan_id, TEXT),
            "startDate": (Invoice.start_at, TIME),
            "endDate": (Invoice.end_at, TIME),
            "invoiceDate": (Invoice.invoice_date, TIME),
            "dueDate": (Invoice.due_date, TIME),
            "totalAmount": (Invoice.total_amount, NUMBER),
            "paidAmount": (Invoice.paid_amount, NUMBER),
            "finalizedAt": (Invoice.finalized_at, TIME),
        },
        lambda stmt: (
            stmt.select_from(Invoice)
            .join(account, account.pk == Invoice.account_pk)
            .join(customer, customer.pk == account.customer_pk)
        ),
        lambda org_id: Invoice.org_id == org_id,
    )


def _usage() -> Source:
    account, customer = aliased(Account), aliased(Customer)
    return Source(
        "usage",
        "Usage per account and meter in 15-minute buckets (what the meters counted, corrections applied)",
        {
            "accountId": (account.id, TEXT),
            "customerId": (customer.id, TEXT),
            "usageMeterId": (UsageRollup.meter_id, TEXT),
            "usageMeterName": (UsageMeter.name, TEXT),
            "bucketStart": (UsageRollup.bucket_start, TIME),
            "usage": (UsageRollup.quantity, NUMBER),
            "events": (UsageRollup.events, INTEGER),
        },
        lambda stmt: (
            stmt.select_from(UsageRollup)
            .join(account, account.pk == UsageRollup.account_pk)
            .join(customer, customer.pk == account.customer_pk)
            .outerjoin(UsageMeter, and_(UsageMeter.org_id == UsageRollup.org_id, UsageMeter.id == UsageRollup.meter_id))
        ),
        lambda org_id: UsageRollup.org_id == org_id,
    )


def _credits() -> Source:
    account = aliased(Account)
    return Source(
        "credits",
        "Credit grants with what was consumed of each",
        {
            "id": (Credit.pk, TEXT),
            "accountId": (account.id, TEXT),
            "purpose": (Credit.purpose, TEXT),
            "status": (Credit.status, TEXT),
            "currency": (Credit.currency, TEXT),
            "amount": (Credit.amount, NUMBER),
            "consumedAmount": (Credit.consumed_amount, NUMBER),
            "effectiveFrom": (Credit.effective_from, DATE),
            "effectiveUntil": (Credit.effective_until, DATE),
            "createdAt": (Credit.created_at, TIME),
        },
        lambda stmt: stmt.select_from(Credit).join(account, account.pk == Credit.account_pk),
        lambda org_id: Credit.org_id == org_id,
    )


def _credit_transactions() -> Source:
    account = aliased(Account)
    return Source(
        "credit_transactions",
        "The credits' ledger: grants, consumption, give-backs, expiries and voids",
        {
            "id": (CreditTransaction.pk, TEXT),
            "creditId": (CreditTransaction.credit_pk, TEXT),
            "accountId": (account.id, TEXT),
            "type": (CreditTransaction.type, TEXT),
            "currency": (Credit.currency, TEXT),
            "amount": (CreditTransaction.amount, NUMBER),
            "invoiceId": (CreditTransaction.invoice_pk, TEXT),
            "createdAt": (CreditTransaction.created_at, TIME),
        },
        lambda stmt: (
            stmt.select_from(CreditTransaction)
            .join(Credit, Credit.pk == CreditTransaction.credit_pk)
            .join(account, account.pk == Credit.account_pk)
        ),
        lambda org_id: CreditTransaction.org_id == org_id,
    )


def _wallet_entries() -> Source:
    account = aliased(Account)
    return Source(
        "wallet_entries",
        "The wallets' ledger: top-ups and debits with the balance after each",
        {
            "id": (WalletEntry.pk, TEXT),
            "accountId": (account.id, TEXT),
            "type": (WalletEntry.type, TEXT),
            "currency": (Wallet.currency, TEXT),
            "amount": (WalletEntry.amount, NUMBER),
            "closingBalance": (WalletEntry.closing_balance, NUMBER),
            "description": (WalletEntry.description, TEXT),
            "invoiceId": (WalletEntry.entity_id, TEXT),
            "createdAt": (WalletEntry.created_at, TIME),
        },
        lambda stmt: (
            stmt.select_from(WalletEntry)
            .join(Wallet, Wallet.pk == WalletEntry.wallet_pk)
            .join(account, account.pk == Wallet.account_pk)
        ),
        lambda org_id: WalletEntry.org_id == org_id,
    )


def _events() -> Source:
    return Source(
        "events",
        "Ingested events with their status (failed ones included)",
        {
            "referenceId": (Event.pk, TEXT),
            "eventId": (Event.event_id, TEXT),
            "schemaName": (Event.schema_name, TEXT),
            "accountId": (Event.account_ref, TEXT),
            "status": (Event.status, TEXT),
            "statusDescription": (Event.status_description, TEXT),
            "timestamp": (Event.timestamp, TIME),
            "ingestedAt": (Event.created_at, TIME),
        },
        lambda stmt: stmt.select_from(Event),
        lambda org_id: Event.org_id == org_id,
    )


def _accounts() -> Source:
    customer = aliased(Customer)
    return Source(
        "accounts",
        "Accounts with their customer",
        {
            "id": (Account.id, TEXT),
            "name": (Account.name, TEXT),
            "customerId": (customer.id, TEXT),
            "customerName": (customer.name, TEXT),
            "status": (Account.status, TEXT),
            "invoiceCurrency": (Account.invoice_currency, TEXT),
            "createdAt": (Account.created_at, TIME),
        },
        lambda stmt: stmt.select_from(Account).join(customer, customer.pk == Account.customer_pk),
        lambda org_id: Account.org_id == org_id,
    )


SOURCES: dict[str, Source] = {
    s.name: s
    for s in (_invoices(), _usage(), _credits(), _credit_transactions(), _wallet_entries(), _events(), _accounts())
}
