"""The console's customer and account pages: add an account, edit a customer, the account's tabs (Account
Summary, Price Plan Schedule, Credits, Invoices, Wallet) and an invoice's page. Thin handlers over the services."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from meterline.accounts.repository import AccountRepository
from meterline.accounts.schemas import CreateAccountRequestWithoutCustomerId
from meterline.accounts.service import AccountService
from meterline.api.routing import UnitOfWorkRoute
from meterline.catalog.plan_repository import PricePlanRepository
from meterline.catalog.plan_service import PricePlanService
from meterline.console import feedback
from meterline.console.billing_notices import invoice_notice, listed_total
from meterline.console.pages import User, _field_errors, check_csrf, confirm, context, local_day, render
from meterline.core import numbers
from meterline.core.clock import LAST_DAY
from meterline.core.errors import BadRequest, MeterlineError, NotFound
from meterline.core.pagination import page_request
from meterline.core.schemas import Address
from meterline.credits.service import MAX_PRIORITY, Grant
from meterline.customers.schemas import UpdateCustomerRequest
from meterline.customers.service import CustomerService
from meterline.invoicing.builder import Charge
from meterline.invoicing.failures import describe
from meterline.invoicing.repository import InvoiceRepository
from meterline.invoicing.service import InvoiceService
from meterline.schedules.schemas import UpdatePricingScheduleRequest
from meterline.schedules.service import ScheduleService
from meterline.tenancy.context import Context
from meterline.usecases import balances
from meterline.usecases.schedules import edit_schedules, preview_schedule_edits
from meterline.wallet.service import HoldEntry

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)
TABS = ("summary", "schedule", "credits", "invoices", "wallet")
CURRENCIES = ("USD", "EUR", "GBP", "INR", "JPY", "CAD", "AUD", "CHF", "SGD", "BRL")


def _url(*parts: str) -> str:
    return "/" + "/".join(quote(p, safe="") for p in parts)


def _decimal(text: str, what: str) -> Decimal:
    """A typed number under the one number rule (core/numbers.py); BadRequest naming `what` otherwise."""
    try:
        return numbers.parse(text)
    except numbers.NumberError as exc:
        raise BadRequest(f"{what}: {exc}") from None


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
        address = Address(
            line1=line1 or None, city=city or None, postal_code=postalCode or None, country=country or None
        )
        service.update(customer_id, UpdateCustomerRequest(name=name, primary_email=email.strip(), address=address))
    except ValidationError as exc:
        return render(
            request, "customer_edit.html", user, status=400, customer=customer, values=values, errors=_field_errors(exc)
        )
    except MeterlineError as exc:
        return render(
            request,
            "customer_edit.html",
            user,
            status=400,
            customer=customer,
            values=values,
            errors={"form": exc.message},
        )
    return RedirectResponse(_url("customers", customer_id), status_code=303)


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
        currencies=CURRENCIES,
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
        body = CreateAccountRequestWithoutCustomerId(
            id=id.strip(),
            name=name,
            invoice_currency=currency or None,
            aliases=[alias.strip()] if alias.strip() else None,
        )
        account = AccountService(ctx).create_for(customer, body)
    except ValidationError as exc:
        return render(
            request,
            "account_form.html",
            user,
            status=400,
            customer=customer,
            values=values,
            errors=_field_errors(exc),
            currencies=CURRENCIES,
        )
    except MeterlineError as exc:
        return render(
            request,
            "account_form.html",
            user,
            status=400,
            customer=customer,
            values=values,
            errors={"form": exc.message},
            currencies=CURRENCIES,
        )
    return RedirectResponse(_url("accounts", account.id), status_code=303)


# -- the account page --------------------------------------------------------------------------------------------
def _account_page(request: Request, user: Any, account_id: str, tab: str, status: int = 200, **extra: Any) -> Response:
    ctx = context(request, user)
    account = AccountRepository(ctx.session, ctx.org_id).by_id(account_id)
    if account is None:
        raise NotFound(f"Account {account_id} not found")
    customer = CustomerService(ctx).repo.by_pk(account.customer_pk)
    tab = tab if tab in TABS else "summary"
    values: dict[str, Any] = {
        "account": account,
        "customer": customer,
        "tab": tab,
        "tabs": TABS,
        "today": ctx.now.date(),
    }
    values.update(_TAB_LOADERS[tab](ctx, account))
    values.update(extra)
    return render(request, "account.html", user, status=status, **values)


def _summary(ctx: Context, account: Any) -> dict[str, Any]:
    service = InvoiceService(ctx)
    ongoing = service.ongoing(account)  # a GET: the sync it makes is not kept, the worker makes it for good
    if ongoing is None:
        return {"ongoing": None}
    try:
        revenue, usage, _details, total = service.view(ongoing)
    except MeterlineError:
        raise
    except Exception as exc:  # its data breaks computing it: say so (the bill run records it, docs/invoicing.md)
        return {
            "ongoing": ongoing,
            "cards": [],
            "charges": [],
            "usage": [],
            "total": None,
            "credits_applied": None,
            "plan": service.inputs.view(ongoing.schedule_pk) if ongoing.schedule_pk else None,
            "error": f"The ongoing invoice cannot be computed: {describe(exc)}.",
        }
    cards = [line for line in revenue.walk() if line.type.endswith("RATE_CARD_AMOUNT") or line.type == "TRUE_UP_AMOUNT"]
    charges = [line for line in revenue.walk() if line.type == "MISCELLANEOUS_CHARGE"]
    credits = revenue.find("TOTAL_CREDITS")
    return {
        "ongoing": ongoing,
        "cards": cards,
        "charges": charges,
        "usage": usage,
        "total": total,
        "credits_applied": credits.value if credits else None,
        "plan": service.inputs.view(ongoing.schedule_pk) if ongoing.schedule_pk else None,
    }


def _schedule(ctx: Context, account: Any) -> dict[str, Any]:
    _, views = ScheduleService(ctx).of_account(account.id)
    plans = [p for p in PricePlanRepository(ctx.session, ctx.org_id).all_active()]
    return {"schedules": views, "plans": plans}


def _credits(ctx: Context, account: Any) -> dict[str, Any]:
    service = balances.credits(ctx)
    rows = service.repo.of_account(account.pk)
    return {"balance": service.balance(account.id), "credits": rows, "held": service.held(rows)}


def _invoices(ctx: Context, account: Any) -> dict[str, Any]:
    service = InvoiceService(ctx)
    page = InvoiceRepository(ctx.session, ctx.org_id).page(page_request(None, 50), account_pk=account.pk)
    return {"invoices": [(i, listed_total(service, i)) for i in reversed(page.items)]}


def _wallet(ctx: Context, account: Any) -> dict[str, Any]:
    service = balances.wallet(ctx)
    items, _, _ = service.entries(account.id, page_request(None, 50))  # the first page: holds, then entries
    holds = [i for i in items if isinstance(i, HoldEntry)]
    entries = [i for i in items if not isinstance(i, HoldEntry)]
    return {"wallet": service.view(account.id), "holds": holds, "entries": list(reversed(entries))}


_TAB_LOADERS = {
    "summary": _summary,
    "schedule": _schedule,
    "credits": _credits,
    "invoices": _invoices,
    "wallet": _wallet,
}


@router.get("/accounts/{account_id}")
def account_page(request: Request, user: User, account_id: str, tab: str = "summary") -> Response:
    return _account_page(request, user, account_id, tab)


def _act(request: Request, user: Any, account_id: str, tab: str, action: Any) -> Response:
    """Run a form's action; on a refusal show the tab again with the message, else go back to the tab."""
    try:
        action(context(request, user))
    except ValidationError as exc:
        return _account_page(request, user, account_id, tab, status=400, error=str(exc.errors()[0]["msg"]))
    except MeterlineError as exc:
        if exc.status_code >= 500 or exc.status_code == 404:
            raise
        field = _AMOUNT_FIELD.match(exc.message)
        if field:  # an amount's refusal goes next to the amount's field
            text = exc.message[field.end() :].strip()
            return _account_page(
                request,
                user,
                account_id,
                tab,
                status=400,
                errors={"value" if tab == "summary" else "amount": text[:1].upper() + text[1:]},
            )
        return _account_page(request, user, account_id, tab, status=400, error=exc.message)
    return RedirectResponse(f"{_url('accounts', account_id)}?tab={tab}", status_code=303)


# The messages about a form's amount: this page's own ("Value: ...", "Amount: ...") and the services' for the same
# field (credits' creditAmount, the wallet's topupAmount).
_AMOUNT_FIELD = re.compile(r"(Value|Amount|creditRequests\[0\]\.creditAmount|topupAmount):")


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

    def action(ctx: Context) -> None:
        if not name.strip():
            raise BadRequest("Name: give the charge a name, as the invoice will show it")
        amount = _decimal(value, "Value")
        InvoiceService(ctx).add_account_charge(account_id, Charge(name=name.strip()[:255], value=str(amount)))

    return _act(request, user, account_id, "summary", action)


def _schedule_edit(plan_id: str, start: str, until: str, mode: str) -> UpdatePricingScheduleRequest:
    """The schedule form's edit: attach a plan from a day (until a last day, or open), or end the schedule."""
    try:
        date.fromisoformat(start)
        # the form's "until" is the last day (inclusive); the schedule ends at the start of the next one
        last = date.fromisoformat(until) if until else None
    except ValueError:
        raise BadRequest("Dates: pick the dates from the calendar (YYYY-MM-DD)") from None
    if last is not None and last >= LAST_DAY:  # the day after it ends the schedule, and must be a stored day
        raise BadRequest(f"Until: pick a day up to {LAST_DAY - timedelta(days=1)}, or leave it empty for no end")
    end = (last + timedelta(days=1)).isoformat() if last is not None else "9999-01-01"
    return UpdatePricingScheduleRequest.model_validate(
        {
            "mode": "DISASSOCIATE" if mode == "DISASSOCIATE" else "ASSOCIATE",
            "pricePlanId": plan_id or None,
            "effectiveFrom": start,
            "effectiveUntil": end,
        }
    )


_SCHEDULE_WORDS = [("pricePlanId: ", "Price plan: "), ("effectiveFrom: ", "From: "), ("effectiveUntil", "Until")]


def _schedule_refused(request: Request, user: Any, account_id: str, exc: Exception) -> Response:
    if isinstance(exc, MeterlineError) and (exc.status_code >= 500 or exc.status_code == 404):
        raise exc
    message = str(exc.errors()[0]["msg"]) if isinstance(exc, ValidationError) else getattr(exc, "message", str(exc))
    for api, words in _SCHEDULE_WORDS:
        message = message.replace(api, words)
    return _account_page(request, user, account_id, "schedule", status=400, error=message)


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
    try:
        edit = _schedule_edit(plan_id, start, until, mode)
        preview = preview_schedule_edits(ctx, account_id, [edit])
    except (ValidationError, MeterlineError) as exc:
        return _schedule_refused(request, user, account_id, exc)
    account = AccountService(ctx).get(account_id)
    today = local_day(ctx.now, ctx.org.timezone)
    first = edit.effective_from
    last = until or None
    span = f"from {first}" + (f" until {last}" if last else "")
    back = f"{_url('accounts', account_id)}?tab=schedule"
    if edit.mode == "DISASSOCIATE":
        title, button = f"End the price plan of {account.name} {span}?", "End the schedule"
        words = f"{account.name} is on no price plan {span}: no plan prices its usage or fees for those days."
        facts = [("Account", f"{account.name} ({account.id})"), ("No plan", span)]
    else:
        plan = PricePlanService(ctx).get(plan_id).plan
        title, button = f"Attach {plan.name} to {account.name} {span}?", "Attach plan"
        words = (
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
            words=words,
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
    ctx = context(request, user)
    try:
        edit = _schedule_edit(plan_id, start, until, mode)
        account, _ = edit_schedules(ctx, account_id, [edit])
    except (ValidationError, MeterlineError) as exc:
        ctx.session.rollback()
        return _schedule_refused(request, user, account_id, exc)
    span = f"from {edit.effective_from}" + (f" until {until}" if until else "")
    if edit.mode == "DISASSOCIATE":
        notice = f"{account.name} is on no price plan {span}."
    else:
        notice = f"{PricePlanService(ctx).get(plan_id).plan.name} attached to {account.name} {span}."
    return feedback.saved(request, f"{_url('accounts', account_id)}?tab=schedule", notice)


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

    def action(ctx: Context) -> None:
        try:
            begin = date.fromisoformat(start) if start else ctx.now.date()
            end = date.fromisoformat(until) if until else None
            rank = int(priority)
        except ValueError:
            raise BadRequest("Priority is a whole number; dates come from the calendar (YYYY-MM-DD)") from None
        if not 0 <= rank <= MAX_PRIORITY:
            raise BadRequest(f"Priority: a whole number from 0 to {MAX_PRIORITY} (1 applies first)")
        balances.credits(ctx).grant(
            [
                Grant(
                    account_id=account_id,
                    purpose=purpose.strip() or "Credit",
                    amount=_decimal(amount, "Amount"),
                    priority=rank,
                    effective_from=begin,
                    effective_until=end,
                    scope=tuple(s.strip() for s in scope.split(",") if s.strip()),
                )
            ]
        )

    return _act(request, user, account_id, "credits", action)


@router.post("/accounts/{account_id}/credits/{credit_id}/void")
def void_credit(
    request: Request, user: User, account_id: str, credit_id: str, csrf: Annotated[str, Form()] = ""
) -> Response:
    check_csrf(user, csrf)
    return _act(request, user, account_id, "credits", lambda ctx: balances.credits(ctx).void(credit_id))


@router.post("/accounts/{account_id}/wallet")
def top_up(
    request: Request,
    user: User,
    account_id: str,
    csrf: Annotated[str, Form()] = "",
    amount: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(user, csrf)
    return _act(
        request,
        user,
        account_id,
        "wallet",
        lambda ctx: balances.wallet(ctx).top_up(account_id, _decimal(amount, "Amount")),
    )


# -- invoices ----------------------------------------------------------------------------------------------------
@router.get("/invoices/{invoice_id}")
def invoice_page(request: Request, user: User, invoice_id: str, error: str | None = None) -> Response:
    ctx = context(request, user)
    service = InvoiceService(ctx)
    invoice = service.get(invoice_id)
    failure = invoice_notice(ctx, invoice.pk) if invoice.status == "DRAFT" else None
    try:
        revenue, usage, details, total = service.view(invoice)
    except MeterlineError:
        raise
    except Exception as exc:  # a draft whose data breaks computing it: say so, with the bill run's failure
        if invoice.status != "DRAFT":
            raise
        failure = failure or f"This draft invoice cannot be computed: {describe(exc)}."
        return render(
            request,
            "invoice.html",
            user,
            invoice=invoice,
            rows=[],
            usage=[],
            details=None,
            total=None,
            account=service.account_of(invoice),
            error=error,
            billing_failure=failure,
        )
    account = service.account_of(invoice)
    rows = []

    def walk(line: Any, depth: int) -> None:
        rows.append((line, depth))
        for child in line.children:
            walk(child, depth + 1)

    walk(revenue, 0)
    return render(
        request,
        "invoice.html",
        user,
        invoice=invoice,
        rows=rows,
        usage=usage,
        details=details,
        total=total,
        account=account,
        error=error,
        billing_failure=failure,
    )


@router.post("/invoices/{invoice_id}/status")
def invoice_status(
    request: Request,
    user: User,
    invoice_id: str,
    csrf: Annotated[str, Form()] = "",
    status: Annotated[str, Form()] = "",
) -> Response:
    """Finalize (DUE), mark paid, void or mark uncollectible (D12)."""
    check_csrf(user, csrf)
    ctx = context(request, user)
    try:
        InvoiceService(ctx).update(invoice_id, status, {})
        ctx.session.flush()  # a value the database refuses fails here, not after the answer
    except MeterlineError as exc:
        if exc.status_code == 404:
            raise
        return invoice_page(request, user, invoice_id, error=exc.message)
    except Exception as exc:  # a draft whose data breaks finalizing it: nothing is written, the page says why
        ctx.session.rollback()
        return invoice_page(
            request, user, invoice_id, error=f"Invoice {invoice_id} could not be finalized: {describe(exc)}"
        )
    return RedirectResponse(_url("invoices", invoice_id), status_code=303)


@router.get("/invoices/{invoice_id}/pdf")
def invoice_pdf(request: Request, user: User, invoice_id: str) -> Response:
    from meterline.invoicing.endpoints import present
    from meterline.invoicing.pdf import render_invoice_pdf

    ctx = context(request, user)
    invoice = InvoiceService(ctx).get(invoice_id)
    document = present(ctx, invoice).model_dump(mode="python", by_alias=True)
    name = invoice.sequence_id or f"draft-{invoice.pk}"
    return Response(
        render_invoice_pdf(document, ctx.org.timezone),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'},
    )
