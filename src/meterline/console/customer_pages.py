"""The Customers list and a customer's page (docs/console.md). Thin handlers over the services.

- `/customers`: sorted by name, id or when created, 25 a page with counts, searched by a part of the name, id or
  email (console/listing.py), all in SQL.
- `/customers/{id}`: the customer, its balance (what its accounts still owe per currency, and of it what is overdue;
  their wallets' and credits' balances), its five latest finalized invoices and its accounts.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from meterline.accounts.models import Account
from meterline.accounts.repository import AccountRepository
from meterline.api.routing import UnitOfWorkRoute
from meterline.console import feedback, listing, words
from meterline.console.invoice_list import FINALIZED, invoice_rows
from meterline.console.pages import User, check_csrf, context, render
from meterline.core.errors import BadRequest, Conflict, NotFound
from meterline.core.pagination import Slice
from meterline.credits.service import CreditRepository
from meterline.customers.repository import CustomerRepository
from meterline.customers.service import CustomerService
from meterline.customers.statuses import CustomerStatus
from meterline.invoice_groups.models import CompositeInvoice, InvoiceGroup
from meterline.invoice_groups.service import InvoiceGroupService
from meterline.invoicing.service import InvoiceService, Owed
from meterline.invoicing.statuses import InvoiceStatus, in_words
from meterline.portal.service import MAX_ACCOUNTS, PortalService
from meterline.tenancy.context import Context
from meterline.usecases import balances
from meterline.usecases.invoice_groups import recent_composites
from meterline.wallet.service import WalletRepository

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

CUSTOMERS = listing.Spec(
    path="/customers",
    columns={
        "name": listing.Column("Name"),
        "id": listing.Column("Customer ID"),
        "created": listing.Column("Created", descending_first=True),
    },
    default="name",
    noun=("customer", "customers"),
)
RECENT = 5  # invoices on a customer's page


@router.get("/customers")
def customers(request: Request, user: User, q: str = "", sort: str = "", page: str = "") -> Response:
    rows: list = []
    counts: dict[str, int] = {}
    found = listing.Listing.read(CUSTOMERS, sort=sort, page=page, filters={"q": q})
    if found.ok:
        ctx = context(request, user)
        result = CustomerService(ctx).listed(found.slice(), q)
        found.found(result)
        rows = result.items
        counts = AccountRepository(ctx.session, ctx.org_id).count_by_customer({c.pk for c in rows})
    return render(
        request,
        "customers.html",
        user,
        status=200 if found.ok else 400,
        customers=rows,
        counts=counts,
        q=q,
        list=found,
    )


@dataclass(frozen=True)
class Balance:
    """A customer's money, per currency (A to Z), across its accounts."""

    owed: list[Owed]  # what is still owed, and of it what is overdue
    wallets: dict[str, Decimal]  # what the wallets can still pay (after what drafts hold)
    held: dict[str, Decimal]  # what drafts hold of them
    credits: dict[str, Decimal]  # credits' closing balance (not yet consumed)


def _add(into: dict[str, Decimal], currency: str, amount: Decimal) -> None:
    into[currency] = into.get(currency, Decimal(0)) + amount


def customer_balance(ctx: Context, accounts: list[Account]) -> Balance:
    """Through the services the API answers with (`GET /accounts/{id}/wallet`, `.../credit_balance`): only for the
    accounts that have a wallet or an active credit, as computing their holds computes the account's drafts."""
    pks = {a.pk for a in accounts}
    with_wallet = WalletRepository(ctx.session, ctx.org_id).of_accounts(pks)
    with_credits = {pk for pk, rows in CreditRepository(ctx.session, ctx.org_id).of_accounts(pks).items() if rows}
    wallets: dict[str, Decimal] = {}
    held: dict[str, Decimal] = {}
    credits: dict[str, Decimal] = {}
    for account in sorted(accounts, key=lambda a: a.pk):
        if account.pk in with_wallet:
            view = balances.wallet(ctx).view(account.id)
            _add(wallets, account.invoice_currency, view.balance)
            _add(held, account.invoice_currency, view.hold)
        if account.pk in with_credits:
            _add(credits, account.invoice_currency, balances.credits(ctx).balance(account.id).available)
    return Balance(
        owed=InvoiceService(ctx).owed(pks),
        wallets=dict(sorted(wallets.items())),
        held={c: v for c, v in sorted(held.items()) if v},
        credits=dict(sorted(credits.items())),
    )


@dataclass(frozen=True)
class GroupInvoiceRow:
    """A COMPOSITE invoice of a group one of the customer's accounts is in: its amounts and status in words."""

    invoice: CompositeInvoice
    group: InvoiceGroup | None
    total: str
    paid: str
    status: str


@router.get("/customers/{customer_id}")
def customer_page(request: Request, user: User, customer_id: str) -> Response:
    return _customer_page(request, user, customer_id)


def _customer_page(request: Request, user: Any, customer_id: str, status: int = 200, **extra: Any) -> Response:
    ctx = context(request, user)
    customer = CustomerRepository(ctx.session, ctx.org_id).by_id(customer_id)
    if customer is None:
        raise NotFound(f"Customer {customer_id} not found")
    accounts = AccountRepository(ctx.session, ctx.org_id).of_customer(customer.pk)
    service = InvoiceService(ctx)
    groups = InvoiceGroupService(ctx).of_accounts(accounts)
    groups_by_pk = {g.pk: g for g in groups.values()}
    recent = service.listed(Slice(0, RECENT, "date", True), statuses=FINALIZED, customer_id=customer.id)
    drafts = service.listed(Slice(0, 1, "date", True), statuses={InvoiceStatus.DRAFT}, customer_id=customer.id)
    return render(
        request,
        "customer.html",
        user,
        customer=customer,
        accounts=accounts,
        groups=groups,
        group_invoices=[
            GroupInvoiceRow(
                listed.invoice,
                groups_by_pk.get(listed.invoice.group_pk),
                words.money(listed.invoice.total_amount, listed.invoice.currency),
                words.money(listed.state.paid, listed.invoice.currency),
                in_words(listed.state.status),
            )
            for listed in recent_composites(ctx, set(groups_by_pk), RECENT)
        ],
        balance=customer_balance(ctx, accounts),
        recent=invoice_rows(ctx, service, recent.items),
        finalized=recent.total,
        drafts=drafts.total,
        now=ctx.now,
        status=status,
        portal_expiries=PORTAL_EXPIRIES,
        portal_accounts=[a for a in accounts if a.status != CustomerStatus.ARCHIVED],  # an archived one ends tokens
        portal_links=PortalService(ctx).live_links(customer.id),
        **{"portal_error": None, "portal_values": {}, **extra},
    )


# -- the customer portal's link (docs/portal.md) ------------------------------------------------------------------
PORTAL_EXPIRIES = {"3600": "1 hour", "86400": "1 day", "604800": "7 days"}


@router.post("/customers/{customer_id}/portal-link")
def portal_link(
    request: Request,
    user: User,
    customer_id: str,
    csrf: Annotated[str, Form()] = "",
    scope: Annotated[str, Form()] = "",
    accounts: Annotated[list[str] | None, Form()] = None,
    expiry: Annotated[str, Form()] = "3600",
) -> Response:
    """A delegate token for the customer's portal, through the service `POST /api/portal/token` uses: all the
    customer's accounts, or the ticked ones (an explicit choice, `scope`), for the chosen time; its link is shown
    once. The issuer is the signed-in user: removing the user ends the link."""
    check_csrf(user, csrf)
    chosen = accounts or []
    try:
        if expiry not in PORTAL_EXPIRIES:
            raise BadRequest("Choose how long the link works: 1 hour, 1 day or 7 days")
        if scope not in ("all", "some"):
            raise BadRequest("Choose which accounts the link opens: All accounts, or These accounts")
        if scope == "all" and chosen:
            raise BadRequest("You chose All accounts and ticked some: choose These accounts, or untick them")
        if scope == "some" and not chosen:
            raise BadRequest("Tick the accounts the link opens, or choose All accounts")
        if scope == "some" and len(set(chosen)) > MAX_ACCOUNTS:
            raise BadRequest(f"A link opens at most {MAX_ACCOUNTS} accounts: choose All accounts for more")
        issued = PortalService(context(request, user)).issue(
            customer_id=customer_id,
            account_ids=chosen if scope == "some" else None,
            all_accounts=scope == "all",
            expiry=int(expiry),
            issued_by_user=user.user.id,
        )
    except (BadRequest, Conflict) as exc:
        typed = {"scope": scope, "accounts": chosen, "expiry": expiry}
        return _customer_page(request, user, customer_id, status=400, portal_error=exc.message, portal_values=typed)
    link = f"{str(request.base_url).rstrip('/')}/portal?{urlencode({'token': issued.token})}"
    which = "all its accounts" if scope == "all" else ", ".join(dict.fromkeys(chosen))
    return feedback.show_once(
        request,
        kind="portal link",
        owner=customer_id,
        secret=link,
        back=f"/customers/{quote(customer_id, safe='')}",
        note=f"It opens the billing portal of {customer_id} ({which}) until it expires, in "
        f"{PORTAL_EXPIRIES[expiry]}, or until it is revoked on this customer's page; anyone holding it can read what "
        "it shows.",
    )


@router.post("/customers/{customer_id}/portal-links/{link_id}/revoke")
def revoke_portal_link(
    request: Request, user: User, customer_id: str, link_id: str, csrf: Annotated[str, Form()] = ""
) -> Response:
    """End one live portal link of the customer: it then opens nothing (and a page opened with it, on its next
    request)."""
    check_csrf(user, csrf)
    PortalService(context(request, user)).revoke(customer_id, link_id)
    back = f"/customers/{quote(customer_id, safe='')}"
    return feedback.saved(request, back, "The portal link is revoked: it opens nothing any more.")


@router.post("/customers/{customer_id}/portal-links/revoke-all")
def revoke_portal_links(request: Request, user: User, customer_id: str, csrf: Annotated[str, Form()] = "") -> Response:
    """End every live portal link of the customer."""
    check_csrf(user, csrf)
    PortalService(context(request, user)).revoke(customer_id)
    back = f"/customers/{quote(customer_id, safe='')}"
    return feedback.saved(request, back, f"Every portal link of {customer_id} is revoked: they open nothing any more.")
