"""Removing accounts and customers (billing-rules D13): with billing history they are archived, never erased."""

from __future__ import annotations

from meterline.accounts.models import Account
from meterline.accounts.service import AccountService
from meterline.customers.service import CustomerService
from meterline.invoice_groups.service import InvoiceGroupService
from meterline.invoicing.repository import InvoiceRepository
from meterline.payments.service import PaymentRepository
from meterline.tenancy.context import Context
from meterline.wallet.service import WalletRepository


def has_billing_history(ctx: Context, account: Account) -> bool:
    """Has the account anything issued or received that must be kept: a finalized invoice, a payment, a wallet
    entry? The account's invoice rows are locked while this is read (see InvoiceRepository.has_finalized)."""
    if InvoiceRepository(ctx.session, ctx.org_id).has_finalized([account.pk]):
        return True
    if PaymentRepository(ctx.session, ctx.org_id).any_of([account.pk]):
        return True
    return WalletRepository(ctx.session, ctx.org_id).has_entries(account.pk)


def delete_account(ctx: Context, account_id: str) -> None:
    """Erase or archive the account (D13); either way it leaves its invoice group first (the group goes with its
    last account)."""
    service = AccountService(ctx)
    account = service.get(account_id)
    InvoiceGroupService(ctx).leave(account)
    service.remove(account, has_history=has_billing_history)


def delete_customer(ctx: Context, customer_id: str) -> None:
    """Erase or archive the customer and its accounts (D13); its accounts leave their invoice groups first."""
    customer = CustomerService(ctx).get(customer_id)
    groups = InvoiceGroupService(ctx)
    for account in AccountService(ctx).of_customer(customer):
        groups.leave(account)
    CustomerService(ctx).delete(customer_id, has_history=has_billing_history)
