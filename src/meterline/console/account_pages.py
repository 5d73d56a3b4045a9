"""The console's customer and account pages: add an account, edit a customer, the account's tabs (Account
Summary, Price Plan Schedule, Credits, Invoices, Wallet, Entitlements: console/entitlement_tab.py reads it,
console/entitlement_pages.py holds its forms). Thin handlers over the services. (An invoice's page and its
actions are console/invoice_pages.py.)

Every form of the account's tabs goes through `_submit`: its reader and the service run in a savepoint; a refusal
rolls the savepoint back (nothing of it is shown or kept) and shows the tab again, status 400, with what was typed
and each mistake next to its field (console/account_forms.py); a success answers `feedback.saved` back to the tab,
saying what was saved. Removing a charge or an alias and voiding a credit ask first (`pages.confirm`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from pydantic import ValidationError
from starlette.responses import Response

from meterline.accounts.models import Account
from meterline.accounts.schemas import RemoveAccountAliasesRequest
from meterline.accounts.service import AccountService
from meterline.api.routing import UnitOfWorkRoute
from meterline.catalog.plan_repository import PricePlanRepository
from meterline.catalog.plan_service import PricePlanService
from meterline.console import account_forms as forms, entitlement_tab, feedback, words
from meterline.console.account_forms import Errors, Refused
from meterline.console.billing_notices import listed_total
from meterline.console.pages import User, check_csrf, confirm, context, local_day, local_last_day, render
from meterline.core.clock import END_OF_TIME
from meterline.core.errors import MeterlineError, NotFound
from meterline.core.money import EXACT, round_money
from meterline.core.pagination import page_request
from meterline.credits.models import Credit
from meterline.customers.service import CustomerService
from meterline.invoicing.models import Invoice
from meterline.invoicing.service import InvoiceService, UncomputableDraft
from meterline.schedules.service import ScheduleService
from meterline.tenancy.context import Context
from meterline.usecases import balances
from meterline.usecases.schedules import edit_schedules, preview_schedule_edits
from meterline.wallet.service import HoldEntry

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)
TABS = ("summary", "schedule", "credits", "invoices", "wallet", "entitlements")
# The currencies the price plan form offers first (plan_forms.py); Add Account offers every ISO 4217 code.
CURRENCIES = ("USD", "EUR", "GBP", "INR", "JPY", "CAD", "AUD", "CHF", "SGD", "BRL")


def _url(*parts: str) -> str:
    return "/" + "/".join(quote(p, safe="") for p in parts)


def _tab_url(account_id: str, tab: str) -> str:
    return f"{_url('accounts', account_id)}?tab={tab}"


def _period(ctx: Context, invoice: Invoice) -> str:
    """The invoice's days in the organization's time zone: "Dec 1 – Dec 31, 2026"."""
    return forms.period(local_day(invoice.start_at, ctx.org.timezone), local_last_day(invoice.end_at, ctx.org.timezone))


def _today(ctx: Context) -> date:
    return local_day(ctx.now, ctx.org.timezone)


# -- customers ---------------------------------------------------------------------------------------------------
@router.get("/customers/{customer_id}/edit")
def edit_customer_page(request: Request, user: User, customer_id: str) -> Response:
    customer = CustomerService(context(request, user)).get(customer_id)
    address = customer.address or {}
    values = {
        "name": customer.name,
        "email": customer.primary_email,
        **{k: address.get(k) or "" for k in ("line1", "city", "postalCode", "country")},
    }
    return render(request, "customer_edit.html", user, customer=customer, values=values, errors={})


@router.post("/customers/{customer_id}/edit")
def edit_customer(
    request: Request,
    user: User,
    customer_id: str,
    csrf: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    line1: Annotated[str, Form()] = "",
    city: Annotated[str, Form()] = "",
    postalCode: Annotated[str, Form()] = "",
    country: Annotated[str, Form()] = "",
) -> Response:  # noqa: N803
    check_csrf(user, csrf)
    service = CustomerService(context(request, user))
    customer = service.get(customer_id)
    values = {"name": name, "email": email, "line1": line1, "city": city, "postalCode": postalCode, "country": country}
    try:
        saved = service.update(customer_id, forms.customer_update_of(values))
    except Refused as exc:
        errors = exc.errors
    except MeterlineError as exc:
        if exc.status_code >= 500:
            raise
        errors = forms.customer_errors(exc)
    else:
        return feedback.saved(request, _url("customers", customer_id), f"Customer “{saved.name}” saved")
    return render(request, "customer_edit.html", user, status=400, customer=customer, values=values, errors=errors)


@router.get("/customers/{customer_id}/accounts/new")
def new_account_page(request: Request, user: User, customer_id: str) -> Response:
    customer = CustomerService(context(request, user)).get(customer_id)
    return render(
        request,
        "account_form.html",
        user,
        customer=customer,
        values={"currency": user.org.base_currency},
        errors={},
        currencies=forms.currency_choices(),
    )


@router.post("/customers/{customer_id}/accounts/new")
def new_account(
    request: Request,
    user: User,
    customer_id: str,
    csrf: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    id: Annotated[str, Form()] = "",
    currency: Annotated[str, Form()] = "",
    alias: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(user, csrf)
    ctx = context(request, user)
    customer = CustomerService(ctx).get(customer_id)
    values = {"name": name, "id": id, "currency": currency, "alias": alias}
    try:
        account = AccountService(ctx).create_for(customer, forms.account_of(values))
    except Refused as exc:
        errors = exc.errors
    except MeterlineError as exc:
        if exc.status_code >= 500:
            raise
        errors = forms.account_errors(exc, values)
    else:
        aliased = f", events may also name it {alias.strip()}" if alias.strip() else ""
        return feedback.saved(
            request,
            _url("accounts", account.id),
            f"Account “{account.name}” ({account.id}) added to {customer.name}, invoiced in "
            f"{account.invoice_currency}{aliased}",
        )
    return render(
        request,
        "account_form.html",
        user,
        status=400,
        customer=customer,
        values=values,
        errors=errors,
        currencies=forms.currency_choices(),
    )


# -- the account page --------------------------------------------------------------------------------------------
def _account_page(
    request: Request,
    user: Any,
    account_id: str,
    tab: str,
    status: int = 200,
    chosen: Mapping[str, str] | None = None,
    **extra: Any,
) -> Response:
    """The account's page on `tab`; `chosen`: what the Entitlements tab shows (its URL's feature, sort, page)."""
    ctx = context(request, user)
    accounts = AccountService(ctx)
    account = accounts.get(account_id)
    customer = CustomerService(ctx).repo.by_pk(account.customer_pk)
    tab = tab if tab in TABS else "summary"
    values: dict[str, Any] = {
        "account": account,
        "customer": customer,
        "tab": tab,
        "tabs": TABS,
        "today": _today(ctx),
        "now": ctx.now,
        "aliases": [a for a in accounts.aliases(account.id) if a.effective_until > ctx.now],
        "end_of_time": END_OF_TIME,
        "posted": None,
        "values": {},
        "errors": {},
    }
    if tab == entitlement_tab.TAB:
        values.update(entitlement_tab.tab_values(ctx, account, chosen or {}))
        if not values["entries_list"].ok:
            status = 400  # a sort or page that is not one: said in words above the entries, as every list does
    else:
        values.update(_TAB_LOADERS[tab](ctx, account))
    values.update(extra)
    return render(request, "account.html", user, status=status, **values)


def _summary(ctx: Context, account: Any) -> dict[str, Any]:
    service = InvoiceService(ctx)
    ongoing = service.ongoing(account)  # a GET: the sync it makes is not kept, the worker makes it for good
    if ongoing is None:
        return {"ongoing": None}
    plan = service.inputs.view(ongoing.schedule_pk) if ongoing.schedule_pk else None
    try:
        revenue, usage, _details, total = service.readable_view(ongoing)
    except UncomputableDraft as exc:  # say so (the bill run records it, docs/invoicing.md)
        return {
            "ongoing": ongoing,
            "period": _period(ctx, ongoing),
            "cards": [],
            "charges": [],
            "usage": [],
            "total": None,
            "credits_applied": None,
            "plan": plan,
            "error": f"The ongoing invoice cannot be computed: {exc.reason}.",
        }
    cards = [line for line in revenue.walk() if line.type.endswith("RATE_CARD_AMOUNT") or line.type == "TRUE_UP_AMOUNT"]
    charges = forms.charge_rows([line for line in revenue.walk() if line.type == "MISCELLANEOUS_CHARGE"])
    credits = revenue.find("TOTAL_CREDITS")
    return {
        "ongoing": ongoing,
        "period": _period(ctx, ongoing),
        "cards": cards,
        "charges": charges,
        "usage": usage,
        "total": total,
        "credits_applied": credits.value if credits else None,
        "plan": plan,
    }


def _schedule(ctx: Context, account: Any) -> dict[str, Any]:
    _, views = ScheduleService(ctx).of_account(account.id)
    plans = [p for p in PricePlanRepository(ctx.session, ctx.org_id).all_active()]
    return {"schedules": views, "plans": plans}


def _credits(ctx: Context, account: Any) -> dict[str, Any]:
    service = balances.credits(ctx)
    rows = service.repo.of_account(account.pk)
    return {"balance": service.balance(account.id), "credits": rows, "held": service.held(rows), "zero": Decimal(0)}


def _invoices(ctx: Context, account: Any) -> dict[str, Any]:
    service = InvoiceService(ctx)
    page = service.page(
        page_request(None, 50),
        status=None,
        account_id=account.id,
        customer_id=None,
        start=None,
        end=None,
        newest_first=True,
    )
    return {"invoices": [(i, listed_total(service, i)) for i in page.items]}


def _wallet(ctx: Context, account: Any) -> dict[str, Any]:
    """The wallet, and what holds its money: each DRAFT invoice that will take its share when it is finalized."""
    service = balances.wallet(ctx)
    items, _, _ = service.entries(account.id, page_request(None, 50))  # the first page: holds, then entries
    invoices = InvoiceService(ctx)
    holds = [(i, invoices.get(i.invoice_id)) for i in items if isinstance(i, HoldEntry)]
    entries = [i for i in items if not isinstance(i, HoldEntry)]
    view = service.view(account.id)
    return {
        "wallet": view,
        "in_wallet": EXACT.add(view.balance, view.hold),  # the holds never exceed what the wallet has
        "holds": [(hold, invoice, _period(ctx, invoice)) for hold, invoice in holds],
        "entries": list(reversed(entries)),
    }


_TAB_LOADERS = {
    "summary": _summary,
    "schedule": _schedule,
    "credits": _credits,
    "invoices": _invoices,
    "wallet": _wallet,
}


@router.get("/accounts/{account_id}")
def account_page(
    request: Request,
    user: User,
    account_id: str,
    tab: str = "summary",
    feature: str = "",
    sort: str = "",
    page: str = "",
) -> Response:
    return _account_page(request, user, account_id, tab, chosen={"feature": feature, "sort": sort, "page": page})


def _submit(
    request: Request,
    user: Any,
    account_id: str,
    tab: str,
    form: str,
    values: dict[str, str],
    action: Callable[[Context, Account], str],
    errors_of: Callable[[Exception, Account], Errors],
    *,
    back: str | None = None,
    chosen: Mapping[str, str] | None = None,
) -> Response:
    """Run a form of the account's `tab` in a savepoint. Saved: back to the tab (or to `back`) with the action's
    notice. Refused: the savepoint is rolled back (nothing of it stays in this unit of work, so the page shown again
    lists only what is saved) and the tab is shown again (as `chosen` says), status 400, the typed `values` kept and
    each mistake next to its field."""
    ctx = context(request, user)
    account = AccountService(ctx).get(account_id)
    savepoint = ctx.session.begin_nested()
    try:
        notice = action(ctx, account)
    except Refused as exc:
        errors = exc.errors
    except MeterlineError as exc:
        if exc.status_code >= 500:
            raise
        errors = errors_of(exc, account)
    else:
        savepoint.commit()
        return feedback.saved(request, back or _tab_url(account.id, tab), notice)
    savepoint.rollback()
    return _account_page(
        request, user, account_id, tab, status=400, chosen=chosen, posted=form, values=values, errors=errors
    )


def _money(value: Decimal, account: Account) -> str:
    return words.money(value, account.invoice_currency)


# -- Account Summary: charges and aliases ------------------------------------------------------------------------
@router.post("/accounts/{account_id}/charges")
def add_charge(
    request: Request,
    user: User,
    account_id: str,
    csrf: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    value: Annotated[str, Form()] = "",
) -> Response:
    """ "+ Add Customer Charges": Name and Value, in the account's currency, on the ongoing invoice (D11)."""
    check_csrf(user, csrf)

    def action(ctx: Context, account: Account) -> str:
        charge = forms.charge_of(name, value, account.invoice_currency)
        service = InvoiceService(ctx)
        ongoing = service.ongoing(account)
        if ongoing is None:
            raise Refused({"form": forms.NO_PLAN})
        service.add_account_charge(account.id, charge)
        amount = round_money(Decimal(str(charge.value)), account.invoice_currency)
        return (
            f"Charge “{charge.name}” of {_money(amount, account)} added to the draft invoice for "
            f"{_period(ctx, ongoing)}"
        )

    return _submit(
        request,
        user,
        account_id,
        "summary",
        "charge",
        {"name": name, "value": value},
        action,
        lambda exc, account: forms.charge_errors(exc, account.invoice_currency, name),
    )


def _charge_on(ctx: Context, account: Account, invoice_id: str, position: int) -> tuple[Invoice, forms.ChargeRow]:
    """The charge at `position` of the account's invoice, as its page lists it (NotFound when it is not there)."""
    service = InvoiceService(ctx)
    invoice = service.get(invoice_id)
    if invoice.account_pk != account.pk:
        raise NotFound(f"Invoice {invoice_id} not found")
    revenue, _usage, _details, _total = service.view(invoice)
    rows = forms.charge_rows([line for line in revenue.walk() if line.type == "MISCELLANEOUS_CHARGE"])
    row = next((r for r in rows if r.position == position), None)
    if row is None:
        raise NotFound(f"Invoice {invoice_id} has no charge {position} (any more)")
    return invoice, row


@router.get("/accounts/{account_id}/charges/{invoice_id}/{position}/remove")
def remove_charge_page(request: Request, user: User, account_id: str, invoice_id: str, position: int) -> Response:
    ctx = context(request, user)
    account = AccountService(ctx).get(account_id)
    invoice, row = _charge_on(ctx, account, invoice_id, position)
    back = _tab_url(account.id, "summary")
    draft = invoice.status == "DRAFT"
    return confirm(
        request,
        user,
        feedback.Confirmation(
            title=f"Remove the charge “{row.name}”?",
            words=(
                f"The charge comes off the draft invoice for {_period(ctx, invoice)}: its total changes by "
                f"{_money(EXACT.minus(row.value), account)}. Nothing else changes; while the invoice is a draft you "
                "can add the charge again."
            ),
            action=f"{_url('accounts', account.id, 'charges', invoice.pk, str(position), 'remove')}",
            button="Remove charge",
            back=back,
            section="customers",
            crumbs=[("/customers", "Customers"), (back, account.name)],
            facts=[
                ("Charge", row.name),
                ("Amount", _money(row.value, account)),
                ("Invoice", f"{words.invoice_status(invoice, ctx.now).label} · {_period(ctx, invoice)}"),
            ],
            hidden=[("name", row.name)],
        ),
        error=None if draft else "This invoice is no longer a draft: its charges cannot change.",
    )


@router.post("/accounts/{account_id}/charges/{invoice_id}/{position}/remove")
def remove_charge(
    request: Request,
    user: User,
    account_id: str,
    invoice_id: str,
    position: int,
    csrf: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
) -> Response:
    """Take a charge off a DRAFT invoice (named as the confirmation showed it: nothing is removed if it moved)."""
    check_csrf(user, csrf)

    def action(ctx: Context, account: Account) -> str:
        service = InvoiceService(ctx)
        invoice = service.get(invoice_id)
        if invoice.account_pk != account.pk:
            raise NotFound(f"Invoice {invoice_id} not found")
        removed = service.remove_charge(invoice.pk, position, name)
        try:
            amount = f" of {_money(round_money(Decimal(str(removed.value)), account.invoice_currency), account)}"
        except ArithmeticError:  # a charge made through the API: rate x quantity, or jsonLogic
            amount = ""
        return f"Charge “{removed.name}”{amount} removed from the draft invoice for {_period(ctx, invoice)}"

    return _submit(
        request,
        user,
        account_id,
        "summary",
        "charge",
        {},
        action,
        lambda exc, account: forms.charge_errors(exc, account.invoice_currency),
    )


@router.post("/accounts/{account_id}/aliases")
def add_alias(
    request: Request, user: User, account_id: str, csrf: Annotated[str, Form()] = "", alias: Annotated[str, Form()] = ""
) -> Response:
    """Another name events may use for the account (AccountService.add_aliases, as POST /accounts/{id}/add_aliases)."""
    check_csrf(user, csrf)

    def action(ctx: Context, account: Account) -> str:
        AccountService(ctx).add_aliases(account.id, forms.alias_of(alias))
        return f"Alias “{alias.strip()}” added: events may name account {account.id} by it"

    return _submit(
        request,
        user,
        account_id,
        "summary",
        "alias",
        {"alias": alias},
        action,
        lambda exc, _account: forms.alias_errors(exc, alias.strip()),
    )


@router.get("/accounts/{account_id}/aliases/{alias}/remove")
def remove_alias_page(request: Request, user: User, account_id: str, alias: str) -> Response:
    ctx = context(request, user)
    accounts = AccountService(ctx)
    account = accounts.get(account_id)
    rows = [a for a in accounts.aliases(account.id) if a.value == alias and a.effective_until > ctx.now]
    if not rows:
        raise NotFound(f"Account {account_id} has no current or future alias {alias}")
    back = _tab_url(account.id, "summary")
    since = min(r.effective_from for r in rows)
    return confirm(
        request,
        user,
        feedback.Confirmation(
            title=f"Remove the alias “{alias}”?",
            words=(
                f"From now on, events that name “{alias}” no longer reach account {account.id}: they are refused "
                "(account not found) unless another account takes the alias. Events already received, and events "
                "dated before now, keep this account."
            ),
            action=_url("accounts", account.id, "aliases", alias, "remove"),
            button="Remove alias",
            back=back,
            section="customers",
            crumbs=[("/customers", "Customers"), (back, account.name)],
            facts=[
                ("Alias", alias),
                ("Account", f"{account.name} ({account.id})"),
                ("In use", "always" if since.year < 1971 else f"since {words.when(since)}"),
            ],
        ),
    )


@router.post("/accounts/{account_id}/aliases/{alias}/remove")
def remove_alias(
    request: Request, user: User, account_id: str, alias: str, csrf: Annotated[str, Form()] = ""
) -> Response:
    check_csrf(user, csrf)

    def action(ctx: Context, account: Account) -> str:
        AccountService(ctx).remove_aliases(account.id, RemoveAccountAliasesRequest(aliases=[alias]))
        return f"Alias “{alias}” removed: events dated from now on that name it no longer reach account {account.id}"

    return _submit(
        request,
        user,
        account_id,
        "summary",
        "alias",
        {},
        action,
        lambda exc, _account: forms.alias_errors(exc, alias),
    )


# -- Price Plan Schedule -----------------------------------------------------------------------------------------
def _schedule_refused(request: Request, user: Any, account_id: str, values: dict[str, str], exc: Exception) -> Response:
    """A schedule edit the preview refused: the tab again, status 400, each mistake next to its field."""
    if isinstance(exc, Refused):
        errors = exc.errors
    else:
        if isinstance(exc, MeterlineError) and (exc.status_code >= 500 or exc.status_code == 404):
            raise exc
        account = AccountService(context(request, user)).get(account_id)
        errors = forms.schedule_errors(exc, account.invoice_currency)
    return _account_page(
        request, user, account_id, "schedule", status=400, posted="schedule", values=values, errors=errors
    )


@router.get("/accounts/{account_id}/schedule")
def schedule_preview(
    request: Request,
    user: User,
    account_id: str,
    plan_id: str = "",
    start: str = "",
    until: str = "",
    mode: str = "ASSOCIATE",
) -> Response:
    """Before a plan is attached (or the schedule ended): each open draft invoice's total before and after, computed
    by the edit itself in a savepoint that is rolled back (usecases.schedules.preview_schedule_edits)."""
    ctx = context(request, user)
    values = {"plan_id": plan_id, "start": start, "until": until}
    try:
        edit = forms.schedule_of(values, mode)
        preview = preview_schedule_edits(ctx, account_id, [edit])
    except (Refused, ValidationError, MeterlineError) as exc:
        return _schedule_refused(request, user, account_id, values, exc)
    account = AccountService(ctx).get(account_id)
    today = local_day(ctx.now, ctx.org.timezone)
    first = edit.effective_from
    last = until.strip() or None
    span = f"from {first}" + (f" until {last}" if last else "")
    back = _tab_url(account.id, "schedule")
    if edit.mode == "DISASSOCIATE":
        title, button = f"End the price plan of {account.name} {span}?", "End the schedule"
        consequence = f"{account.name} is on no price plan {span}: no plan prices its usage or fees for those days."
        facts = [("Account", f"{account.name} ({account.id})"), ("No plan", span)]
    else:
        plan = PricePlanService(ctx).get(plan_id).plan
        title, button = f"Attach {plan.name} to {account.name} {span}?", "Attach plan"
        consequence = (
            f"{account.name} is billed on {plan.name} (version {plan.latest_version}) {span}"
            f"{'' if last else ', with no end'}; whatever plan it had for those days is cut out."
        )
        facts = [
            ("Account", f"{account.name} ({account.id})"),
            ("Price plan", f"{plan.name}, version {plan.latest_version}"),
            ("From", first.isoformat()),
            ("Until (last day)", last or "no end"),
        ]
    past = None
    if first < today:
        past = (
            f"{first} is in the past: the open draft invoices from that day on are re-priced at once (below, each "
            "total before and after). Finalized invoices never change."
        )
    return confirm(
        request,
        user,
        feedback.Confirmation(
            title=title,
            words=consequence,
            action=_url("accounts", account_id, "schedule"),
            button=button,
            back=back,
            section="customers",
            crumbs=[("/customers", "Customers"), (back, account.name)],
            facts=facts,
            hidden=[("plan_id", plan_id), ("start", start), ("until", until), ("mode", edit.mode or "ASSOCIATE")],
            danger=bool(preview.changed),
            extra={"past": past},
        ),
        template="schedule_confirm.html",
        preview=preview,
    )


@router.post("/accounts/{account_id}/schedule")
def attach_plan(
    request: Request,
    user: User,
    account_id: str,
    csrf: Annotated[str, Form()] = "",
    plan_id: Annotated[str, Form()] = "",
    start: Annotated[str, Form()] = "",
    until: Annotated[str, Form()] = "",
    mode: Annotated[str, Form()] = "ASSOCIATE",
) -> Response:
    """Attach a price plan from a date (until a date, or open), or end the schedule from a date (confirmed on the
    page `schedule_preview` shows)."""
    check_csrf(user, csrf)
    values = {"plan_id": plan_id, "start": start, "until": until}

    def action(ctx: Context, account: Account) -> str:
        edit = forms.schedule_of(values, mode)
        _, views = edit_schedules(ctx, account.id, [edit])
        first = date.fromisoformat(start.strip())
        if edit.mode == "DISASSOCIATE":
            return f"Price plan schedule ended from {forms.day_words(first)}"
        name = next((v.plan_name for v in views if v.plan_id == plan_id), plan_id)
        last = f"until {forms.day_words(date.fromisoformat(until.strip()))}" if until.strip() else "with no end"
        return f"Price plan “{name}” attached from {forms.day_words(first)}, {last}"

    return _submit(
        request,
        user,
        account_id,
        "schedule",
        "schedule",
        values,
        action,
        lambda exc, account: forms.schedule_errors(exc, account.invoice_currency),
    )


# -- Credits -----------------------------------------------------------------------------------------------------
@router.post("/accounts/{account_id}/credits")
def add_credit(
    request: Request,
    user: User,
    account_id: str,
    csrf: Annotated[str, Form()] = "",
    amount: Annotated[str, Form()] = "",
    purpose: Annotated[str, Form()] = "",
    priority: Annotated[str, Form()] = "1",
    start: Annotated[str, Form()] = "",
    until: Annotated[str, Form()] = "",
    scope: Annotated[str, Form()] = "",
) -> Response:
    """ "Add Credits": amount, purpose, priority, effective dates, scope."""
    check_csrf(user, csrf)
    values = {
        "amount": amount,
        "purpose": purpose,
        "priority": priority,
        "start": start,
        "until": until,
        "scope": scope,
    }

    def action(ctx: Context, account: Account) -> str:
        grant = forms.credit_of(account.id, values, account.invoice_currency, _today(ctx))
        [credit] = balances.credits(ctx).grant([grant])
        last = f"until {forms.day_words(grant.effective_until)}" if grant.effective_until else "with no end"
        return (
            f"Credit “{credit.purpose}” of {_money(credit.amount, account)} added: it applies from "
            f"{forms.day_words(grant.effective_from)}, {last}"
        )

    return _submit(
        request,
        user,
        account_id,
        "credits",
        "credit",
        values,
        action,
        lambda exc, account: forms.credit_errors(exc, values, account.invoice_currency),
    )


def _credit_of(ctx: Context, account: Account, credit_id: str) -> Credit:
    credit = balances.credits(ctx).get(credit_id)
    if credit.account_pk != account.pk:
        raise NotFound(f"Credit {credit_id} not found")
    return credit


@router.get("/accounts/{account_id}/credits/{credit_id}/void")
def void_credit_page(request: Request, user: User, account_id: str, credit_id: str) -> Response:
    """Void credit asks first: the credit, what is left of it and what drafts hold of it, and what voiding does."""
    ctx = context(request, user)
    account = AccountService(ctx).get(account_id)
    credit = _credit_of(ctx, account, credit_id)
    held = balances.credits(ctx).held([credit]).get(credit.pk, Decimal(0))
    left = EXACT.subtract(credit.amount, credit.consumed_amount)
    back = _tab_url(account.id, "credits")
    until = f" to {forms.day_words(credit.effective_until)}" if credit.effective_until else ", with no end"
    drafts = (
        f" The draft invoices lose the {_money(held, account)} they hold of it now: their totals go up by that."
        if held > 0
        else ""
    )
    return confirm(
        request,
        user,
        feedback.Confirmation(
            title=f"Void the credit “{credit.purpose}”?",
            words=(
                f"Voiding ends the credit now: the {_money(left, account)} left of it will not apply to any invoice."
                f"{drafts} What finalized invoices consumed ({_money(credit.consumed_amount, account)}) stays. A "
                "voided credit cannot be made active again."
            ),
            action=_url("accounts", account.id, "credits", credit.pk, "void"),
            button="Void credit",
            back=back,
            section="customers",
            crumbs=[("/customers", "Customers"), (back, account.name)],
            facts=[
                ("Credit", credit.purpose),
                ("Amount", _money(credit.amount, account)),
                ("Consumed", _money(credit.consumed_amount, account)),
                ("Remaining", _money(left, account)),
                ("Held by draft invoices", _money(held, account)),
                ("Effective", f"{forms.day_words(credit.effective_from)}{until}"),
                ("Status", credit.status.title()),
            ],
        ),
        error=None if credit.status == "ACTIVE" else f"This credit is {credit.status.lower()}: it cannot be voided.",
    )


@router.post("/accounts/{account_id}/credits/{credit_id}/void")
def void_credit(
    request: Request, user: User, account_id: str, credit_id: str, csrf: Annotated[str, Form()] = ""
) -> Response:
    check_csrf(user, csrf)

    def action(ctx: Context, account: Account) -> str:
        _credit_of(ctx, account, credit_id)
        credit = balances.credits(ctx).void(credit_id)
        left = EXACT.subtract(credit.amount, credit.consumed_amount)
        return f"Credit “{credit.purpose}” voided: the {_money(left, account)} left of it no longer applies"

    return _submit(
        request,
        user,
        account_id,
        "credits",
        "void",
        {},
        action,
        lambda exc, account: forms.credit_errors(exc, {}, account.invoice_currency),
    )


# -- Wallet ------------------------------------------------------------------------------------------------------
@router.post("/accounts/{account_id}/wallet")
def top_up(
    request: Request,
    user: User,
    account_id: str,
    csrf: Annotated[str, Form()] = "",
    amount: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(user, csrf)

    def action(ctx: Context, account: Account) -> str:
        added = forms.top_up_of(amount, account.invoice_currency)
        view = balances.wallet(ctx).top_up(account.id, added)
        held = (
            f"; {_money(view.hold, account)} of the wallet is on hold for draft invoices until they are finalized"
            if view.hold > 0
            else ""
        )
        return f"Wallet topped up with {_money(added, account)}: balance {_money(view.balance, account)}{held}"

    return _submit(
        request,
        user,
        account_id,
        "wallet",
        "top_up",
        {"amount": amount},
        action,
        lambda exc, account: forms.top_up_errors(exc, amount, account.invoice_currency),
    )
