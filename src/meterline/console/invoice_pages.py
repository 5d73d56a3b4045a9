"""The console's invoice page, its PDF, and its actions (docs/console.md).

The page reads like the PDF, in the PDF's order, from the same document the API presents and through the same
`invoicing.pdf.rows` and `totals`: header (number, status in words with overdue, seller, bill to, dates, period),
the lines, the totals (subtotal, credits, charges, total, wallet, paid, amount due), the usage. An invoice group's
COMPOSITE invoice opens at the same address, laid out like its PDF (`render_composite_pdf`): billed to the group, each
member invoice's lines under its account and number (linking to their pages), the totals, paid and status as read
from the members; it has no actions (its members are paid).

Every action goes through a confirmation page that says what will happen (a GET of the action's URL), and the POST
acts: "Finalize now" (`/finalize`), "Void" (`/void`), "Mark uncollectible" (`/uncollectible`) through the invoice
service's status change, as `PATCH /api/invoices/{id}` does; "Mark paid" (`/pay`) asks the amount and the day it was
received and records a payment through the payments service, as `POST /api/payments` does. Thin handlers: the rules
are the services'.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from meterline.accounts.models import Account
from meterline.accounts.repository import AccountRepository
from meterline.api.routing import UnitOfWorkRoute
from meterline.console import feedback, invoice_forms, words
from meterline.console.billing_notices import invoice_notice
from meterline.console.pages import User, check_csrf, confirm, context, local_day, local_last_day, render
from meterline.core.errors import Conflict, MeterlineError
from meterline.core.money import EXACT
from meterline.core.numbers import plain
from meterline.core.observability import describe
from meterline.invoice_groups.models import CompositeInvoice
from meterline.invoice_groups.schemas import composite_out
from meterline.invoicing import pdf, schemas
from meterline.invoicing.models import Invoice
from meterline.invoicing.service import InvoiceService, UncomputableDraft
from meterline.invoicing.statuses import OPEN, InvoiceStatus
from meterline.payments.service import PaymentService
from meterline.tenancy.context import Context
from meterline.usecases.invoice_groups import CompositeState, composite_invoice

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)
DRAFT, VOID, UN_COLLECTIBLE = InvoiceStatus.DRAFT, InvoiceStatus.VOID, InvoiceStatus.UN_COLLECTIBLE


def _url(invoice_id: str, *rest: str) -> str:
    return "/" + "/".join(quote(p, safe="") for p in ("invoices", invoice_id, *rest))


@dataclass
class InvoiceView:
    """An invoice as its page (and its PDF) shows it; `document` is None for a draft that cannot be computed."""

    ctx: Context
    service: InvoiceService
    invoice: Invoice
    account: Account
    document: dict[str, Any] | None
    wallet: Decimal = Decimal(0)
    failure: str | None = None
    rows: list[pdf.Row] = field(default_factory=list)
    totals: list[pdf.Total] = field(default_factory=list)

    @property
    def currency(self) -> str:
        return self.invoice.currency

    @property
    def number(self) -> str:
        return self.invoice.sequence_id or "Draft"

    @property
    def title(self) -> str:
        return self.invoice.sequence_id or "Draft invoice"

    def total(self, label: str) -> Decimal | None:
        return next((t.amount for t in self.totals if t.label == label), None)

    @property
    def amount_due(self) -> Decimal:
        due = self.total("Amount due")
        if due is not None:
            return due
        return EXACT.subtract(self.invoice.total_amount or Decimal(0), self.invoice.paid_amount)

    def money(self, amount: Decimal | None) -> str:
        return words.money(amount, self.currency)

    def day(self, instant: datetime | None) -> str:
        return "—" if instant is None else local_day(instant, self.ctx.org.timezone).isoformat()

    @property
    def period(self) -> str:
        zone = self.ctx.org.timezone
        return f"{local_day(self.invoice.start_at, zone)} to {local_last_day(self.invoice.end_at, zone)}"

    @property
    def status(self) -> words.StatusWords:
        return words.invoice_status(self.invoice, self.ctx.now, self.ctx.org.timezone)


def invoice_view(ctx: Context, invoice_id: str) -> InvoiceView:
    """The invoice as the API presents it (`GET /api/invoices/{id}`, the PDF's input), with what its wallet paid,
    its rows and totals; a draft whose data breaks computing it comes with the reason instead of lines."""
    service = InvoiceService(ctx)
    invoice = service.get(invoice_id)
    account = service.account_of(invoice)
    failure = invoice_notice(ctx, invoice.pk) if invoice.status == DRAFT else None
    try:
        revenue, usage, details, total = service.readable_view(invoice)
    except UncomputableDraft as exc:  # say so, with the bill run's failure
        reason = failure or f"This draft invoice cannot be computed: {exc.reason}."
        return InvoiceView(ctx, service, invoice, account, None, failure=reason)
    wallet = service.wallet_paid(invoice)
    customer = service.inputs.customer(account.customer_pk)
    document = schemas.invoice_out(invoice, account.id, customer.id, total, details, revenue, usage).model_dump(
        mode="python", by_alias=True
    )
    return InvoiceView(
        ctx,
        service,
        invoice,
        account,
        document,
        wallet,
        failure,
        pdf.rows(document["revenueInfo"]),
        pdf.totals(document, wallet),
    )


# -- the page and its PDF ----------------------------------------------------------------------------------------
def document_parts(view: InvoiceView, org_name: str) -> dict[str, Any]:
    """What the invoice page shows around its lines (the console's and the portal's): the seller, the customer,
    the bill-to lines and the usage."""
    details = (view.document or {}).get("invoiceDetails") or {}
    seller = details.get("organization") or {"businessName": org_name}
    return {
        "seller": seller,
        "seller_lines": pdf.seller_lines(seller),
        "customer": details.get("customer") or {},
        "bill_to": pdf.bill_to_lines(details),
        "usage": (view.document or {}).get("usageInfo") or [],
    }


def _page(request: Request, user: Any, view: InvoiceView, error: str | None = None, status: int = 200) -> Response:
    details = (view.document or {}).get("invoiceDetails") or {}
    return render(
        request,
        "invoice.html",
        user,
        status=status,
        view=view,
        invoice=view.invoice,
        account=view.account,
        plan_name=details.get("pricePlanName"),
        **document_parts(view, user.org.name),
        error=error,
        billing_failure=view.failure,
        rule_errors=rule_errors(view.document),
        now=view.ctx.now,
    )


def rule_errors(document: dict[str, Any] | None) -> list[str]:
    """The pricing rules that failed on the invoice (it was computed without them): docs/pricing.md."""
    root = (document or {}).get("revenueInfo") or {}
    return list((root.get("metadata") or {}).get("pricingRuleErrors") or [])


@router.get("/invoices/{invoice_id}")
def invoice_page(request: Request, user: User, invoice_id: str) -> Response:
    ctx = context(request, user)
    if InvoiceService(ctx).repo.by_pk(invoice_id) is None and (found := composite_invoice(ctx, invoice_id)):
        return render(request, "composite_invoice.html", user, view=composite_view(ctx, *found), now=ctx.now)
    return _page(request, user, invoice_view(ctx, invoice_id))


# -- an invoice group's COMPOSITE invoice ------------------------------------------------------------------------
@dataclass(frozen=True)
class CompositeMember:
    """A member invoice on its composite's page: its heading (account and number, linking to their pages when the
    account is still there), its own lines as finalized and its total."""

    line: dict[str, Any]
    account_id: str | None
    account_name: str | None
    invoice_id: str | None
    sequence_id: str
    rows: list[pdf.Row]

    @property
    def total(self) -> Decimal:
        return Decimal(self.line["value"])


@dataclass(frozen=True)
class CompositeView:
    """A COMPOSITE invoice as its page shows it: laid out like its PDF (`render_composite_pdf`), from the document
    the API presents, its paid amount and status read from its members as they stand."""

    ctx: Context
    invoice: CompositeInvoice
    document: dict[str, Any]
    members: list[CompositeMember]
    totals: list[pdf.Total]

    @property
    def currency(self) -> str:
        return self.invoice.currency

    @property
    def title(self) -> str:
        return self.invoice.sequence_id

    @property
    def group(self) -> dict[str, Any]:
        return (self.document.get("invoiceDetails") or {}).get("invoiceGroup") or {}

    @property
    def seller(self) -> dict[str, Any]:
        return (self.document.get("invoiceDetails") or {}).get("organization") or {}

    @property
    def seller_lines(self) -> list[str]:
        return pdf.seller_lines(self.seller)

    @property
    def group_lines(self) -> list[str]:
        return pdf.group_lines(self.group, self.invoice.net_term_days)

    @property
    def period(self) -> str:
        zone = self.ctx.org.timezone
        return f"{local_day(self.invoice.start_at, zone)} to {local_last_day(self.invoice.end_at, zone)}"

    @property
    def status(self) -> words.StatusWords:
        state = SimpleNamespace(status=self.document["status"], due_date=self.invoice.due_date)
        return words.invoice_status(state, self.ctx.now, self.ctx.org.timezone)


def composite_view(ctx: Context, made: CompositeInvoice, state: CompositeState) -> CompositeView:
    document = composite_out(made, state.paid, state.status, with_lines=True).model_dump(mode="python", by_alias=True)
    invoices = {i.pk: i for i in state.members}
    accounts = AccountRepository(ctx.session, ctx.org_id).by_pks({i.account_pk for i in state.members})
    members = []
    for line in (document.get("revenueInfo") or {}).get("lineItems") or []:
        meta = line.get("metadata") or {}
        member = invoices.get(line["id"])
        account = accounts.get(member.account_pk) if member is not None else None
        members.append(
            CompositeMember(
                line=line,
                account_id=account.id if account is not None else None,
                account_name=account.name if account is not None else None,
                invoice_id=member.pk if member is not None else None,
                sequence_id=str(meta.get("sequenceId") or ""),
                rows=pdf.rows(line),
            )
        )
    return CompositeView(ctx, made, document, members, pdf.composite_totals(document))


@router.get("/invoices/{invoice_id}/pdf")
def invoice_pdf(request: Request, user: User, invoice_id: str) -> Response:
    ctx = context(request, user)
    if InvoiceService(ctx).repo.by_pk(invoice_id) is None and (found := composite_invoice(ctx, invoice_id)):
        made, state = found  # an invoice group's COMPOSITE invoice: the PDF the API serves
        document = composite_out(made, state.paid, state.status, with_lines=True)
        return Response(
            pdf.render_composite_pdf(document.model_dump(mode="python", by_alias=True), ctx.org.timezone),
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{made.sequence_id}.pdf"'},
        )
    view = invoice_view(ctx, invoice_id)
    if view.document is None:
        raise Conflict(f"The PDF of this draft cannot be made: {view.failure}")
    name = view.invoice.sequence_id or f"draft-{view.invoice.pk}"
    return Response(
        pdf.render_invoice_pdf(view.document, view.ctx.org.timezone, wallet=view.wallet),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'},
    )


# -- confirmations -----------------------------------------------------------------------------------------------
def _facts(view: InvoiceView, *extra: tuple[str, str]) -> list[tuple[str, str]]:
    """What the confirmation acts on: the invoice, its status (overdue included), account, period, total..."""
    facts = [
        ("Invoice", view.number),
        ("Status", view.status.label),
        ("Account", f"{view.account.name} ({view.account.id})"),
        ("Period", view.period),
    ]
    if view.document is None:
        return [*facts, ("Total", "cannot be computed")]
    return [*facts, ("Total", view.money(view.total("Total"))), *extra]


def _confirmation(
    view: InvoiceView, action: str, title: str, said: str, button: str, **more: Any
) -> feedback.Confirmation:
    return feedback.Confirmation(
        title=title,
        words=said,
        action=_url(view.invoice.pk, action),
        button=button,
        back=_url(view.invoice.pk),
        section="invoices",
        crumbs=[("/invoices", "Invoices"), (_url(view.invoice.pk), view.title)],
        **more,
    )


def _credits_used(view: InvoiceView) -> Decimal:
    line = pdf.find_line((view.document or {}).get("revenueInfo"), "TOTAL_CREDITS")
    return abs(line["value"]) if line is not None else Decimal(0)


def _cannot(view: InvoiceView, action: str) -> str | None:
    """Why `action` does not apply to the invoice as it is now (its page may have been read before it changed)."""
    status, number = view.invoice.status, view.number
    if action == "finalize":
        return None if status == DRAFT else f"Invoice {number} is finalized already: nothing was changed."
    if status == DRAFT:
        return "This invoice is a draft: finalize it first. Nothing was changed."
    if status not in OPEN:
        return f"Invoice {number} is {view.status.label.lower()}, which is final: nothing was changed."
    if action == "uncollectible" and status == UN_COLLECTIBLE:
        return f"Invoice {number} is uncollectible already: nothing was changed."
    return None


def _finalize_confirmation(view: InvoiceView) -> feedback.Confirmation:
    title, button = "Finalize this draft invoice?", "Finalize invoice"
    if view.document is None:
        said = "Finalizing numbers this invoice and freezes its lines, but its lines cannot be computed now."
        return _confirmation(view, "finalize", title, said, button, facts=_facts(view), danger=False)
    _, due = view.service.finalization_dates(view.invoice, view.ctx.now)
    terms = view.service.net_term_days(view.account)
    parts = [
        "Finalizing gives this invoice the next invoice number and freezes its lines: usage, charges and price "
        "changes from now on no longer change it, and it cannot go back to draft."
    ]
    credits = _credits_used(view)
    if credits:
        parts.append(f"The credits it uses ({view.money(credits)}) are consumed.")
    if view.wallet:
        parts.append(f"The wallet pays {view.money(view.wallet)} of it at once.")
    parts.append(f"It will be due on {view.day(due)} ({terms} days' net terms).")
    facts = _facts(
        view,
        *([("Credits applied", view.money(-credits))] if credits else []),
        *([("Paid from the wallet", view.money(view.wallet))] if view.wallet else []),
        ("Amount due", view.money(view.amount_due)),
        ("Due date", view.day(due)),
    )
    return _confirmation(view, "finalize", title, " ".join(parts), button, facts=facts, danger=False)


def _void_confirmation(view: InvoiceView) -> feedback.Confirmation:
    parts = [
        f"Voiding cancels invoice {view.number} for good: it keeps its number, nobody owes it any more, and it "
        "cannot be undone."
    ]
    credits = _credits_used(view)
    if credits:
        parts.append(f"The credits it used ({view.money(credits)}) go back to the account.")
    if view.wallet:
        parts.append(f"What the wallet paid ({view.money(view.wallet)}) goes back to the wallet.")
    payments = EXACT.subtract(view.invoice.paid_amount, view.wallet)
    if payments > 0:
        parts.append(f"Payments recorded on it ({view.money(payments)}) stay recorded: refund them outside Meterline.")
    facts = _facts(view, ("Paid", view.money(view.invoice.paid_amount)), ("Amount due", view.money(view.amount_due)))
    title = f"Void invoice {view.number}?"
    return _confirmation(view, "void", title, " ".join(parts), "Void invoice", facts=facts)


def _uncollectible_confirmation(view: InvoiceView) -> feedback.Confirmation:
    said = (
        f"Marking invoice {view.number} uncollectible records that the {view.money(view.amount_due)} still due is "
        "not expected to be paid: it no longer counts as outstanding or overdue. It still takes a payment if one "
        "comes (Mark paid), and can be voided later."
    )
    facts = _facts(view, ("Paid", view.money(view.invoice.paid_amount)), ("Amount due", view.money(view.amount_due)))
    title = f"Mark invoice {view.number} uncollectible?"
    return _confirmation(view, "uncollectible", title, said, "Mark uncollectible", facts=facts)


def _ask(request: Request, user: Any, invoice_id: str, action: str, confirmation_of: Any) -> Response:
    """GET of an action's URL: its confirmation; an action that no longer applies sends back to the invoice."""
    view = invoice_view(context(request, user), invoice_id)
    refusal = _cannot(view, action)
    if refusal:
        return _page(request, user, view, error=refusal, status=409)
    return confirm(request, user, confirmation_of(view))


def _change_status(
    request: Request, user: Any, invoice_id: str, action: str, status: str, confirmation_of: Any
) -> Response:
    """POST of an action's URL: the status change, as `PATCH /api/invoices/{id}` makes it; the notice says what
    happened. A refusal (or a draft that cannot be finalized) shows the confirmation again with the reason."""
    ctx = context(request, user)
    view = invoice_view(ctx, invoice_id)
    refusal = _cannot(view, action)
    if refusal:
        return _page(request, user, view, error=refusal, status=409)
    try:
        invoice = view.service.update(invoice_id, status, {})
        ctx.session.flush()  # a value the database refuses fails here, not after the answer
    except Exception as exc:
        if isinstance(exc, MeterlineError) and exc.status_code in (404, 503):
            raise
        ctx.session.rollback()  # nothing is written; the page says why
        message = exc.message if isinstance(exc, MeterlineError) else describe(exc)
        view = invoice_view(context(request, user), invoice_id)
        return confirm(
            request,
            user,
            confirmation_of(view),
            error=f"Invoice {invoice_id} could not be {'finalized' if action == 'finalize' else 'changed'}: {message}",
            status=400,
        )
    after = invoice_view(ctx, invoice_id)
    number = invoice.sequence_id
    if action == "finalize":
        paid = f"; the wallet paid {after.money(after.wallet)}" if after.wallet else ""
        message = (
            f"Invoice {number} finalized: {after.money(after.total('Total'))}, due on {after.day(invoice.due_date)}"
            f"{paid}. It is {after.status.label.lower()}."
        )
    elif action == "void":
        message = f"Invoice {number} voided: nobody owes it any more."
    else:
        message = f"Invoice {number} marked uncollectible: {after.money(after.amount_due)} will not be asked for."
    return feedback.saved(request, _url(invoice_id), message)


@router.get("/invoices/{invoice_id}/finalize")
def finalize_page(request: Request, user: User, invoice_id: str) -> Response:
    return _ask(request, user, invoice_id, "finalize", _finalize_confirmation)


@router.post("/invoices/{invoice_id}/finalize")
def finalize(request: Request, user: User, invoice_id: str, csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(user, csrf)
    return _change_status(request, user, invoice_id, "finalize", InvoiceStatus.DUE, _finalize_confirmation)


@router.get("/invoices/{invoice_id}/void")
def void_page(request: Request, user: User, invoice_id: str) -> Response:
    return _ask(request, user, invoice_id, "void", _void_confirmation)


@router.post("/invoices/{invoice_id}/void")
def void(request: Request, user: User, invoice_id: str, csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(user, csrf)
    return _change_status(request, user, invoice_id, "void", VOID, _void_confirmation)


@router.get("/invoices/{invoice_id}/uncollectible")
def uncollectible_page(request: Request, user: User, invoice_id: str) -> Response:
    return _ask(request, user, invoice_id, "uncollectible", _uncollectible_confirmation)


@router.post("/invoices/{invoice_id}/uncollectible")
def uncollectible(request: Request, user: User, invoice_id: str, csrf: Annotated[str, Form()] = "") -> Response:
    check_csrf(user, csrf)
    return _change_status(request, user, invoice_id, "uncollectible", UN_COLLECTIBLE, _uncollectible_confirmation)


# -- mark paid: a payment ----------------------------------------------------------------------------------------
def _pay_confirmation(view: InvoiceView) -> feedback.Confirmation:
    said = (
        f"The payment is recorded against invoice {view.number}, as the API's payments are. The whole "
        f"{view.money(view.amount_due)} due makes it paid, which is final (it can no longer be voided); less makes "
        "it partially paid."
    )
    facts = _facts(
        view,
        ("Paid so far", view.money(view.invoice.paid_amount)),
        ("Amount due", view.money(view.amount_due)),
    )
    return _confirmation(
        view, "pay", f"Record a payment of invoice {view.number}", said, "Record payment", facts=facts, danger=False
    )


def _pay_form(
    request: Request,
    user: Any,
    view: InvoiceView,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    today = local_day(view.ctx.now, view.ctx.org.timezone)
    return confirm(
        request,
        user,
        _pay_confirmation(view),
        template="invoice_pay.html",
        values=values,
        errors=errors or {},
        error=error,
        status=status,
        today=today.isoformat(),
        currency=view.currency,
        methods=invoice_forms.METHODS,
    )


@router.get("/invoices/{invoice_id}/pay")
def pay_page(request: Request, user: User, invoice_id: str) -> Response:
    view = invoice_view(context(request, user), invoice_id)
    refusal = _cannot(view, "pay")
    if refusal:
        return _page(request, user, view, error=refusal, status=409)
    today = local_day(view.ctx.now, view.ctx.org.timezone)
    values = {"amount": plain(view.amount_due), "day": today.isoformat(), "method": "BANK_TRANSFER", "reference": ""}
    return _pay_form(request, user, view, values)


@router.post("/invoices/{invoice_id}/pay")
def pay(
    request: Request,
    user: User,
    invoice_id: str,
    csrf: Annotated[str, Form()] = "",
    amount: Annotated[str, Form()] = "",
    day: Annotated[str, Form()] = "",
    method: Annotated[str, Form()] = "",
    reference: Annotated[str, Form()] = "",
) -> Response:
    """Records the payment through the payments service (`POST /api/payments`): the invoice becomes PAID when it
    covers what is due, else PARTIALLY_PAID."""
    check_csrf(user, csrf)
    ctx = context(request, user)
    view = invoice_view(ctx, invoice_id)
    refusal = _cannot(view, "pay")
    if refusal:
        return _page(request, user, view, error=refusal, status=409)
    values = {"amount": amount, "day": day, "method": method, "reference": reference}
    today = local_day(ctx.now, ctx.org.timezone)
    form, errors = invoice_forms.read_payment(
        amount=amount,
        day=day,
        method=method,
        reference=reference,
        currency=view.currency,
        due=view.amount_due,
        today=today,
    )
    if form is None:
        return _pay_form(request, user, view, values, errors, status=400)
    body = invoice_forms.payment_request(
        form,
        account_id=view.account.id,
        invoice_id=view.invoice.pk,
        invoice_number=view.number,
        currency=view.currency,
    )
    try:
        PaymentService(ctx).create(body)
        ctx.session.flush()
    except MeterlineError as exc:
        if exc.status_code in (404, 503):
            raise
        ctx.session.rollback()
        view = invoice_view(context(request, user), invoice_id)
        message = f"The payment was not recorded: {exc.message}"
        return _pay_form(request, user, view, values, error=message, status=400)
    after = invoice_view(ctx, invoice_id)
    received = f"Payment of {after.money(form.amount)} received on {form.day.isoformat()} recorded"
    if after.invoice.status == InvoiceStatus.PAID:
        message = f"{received}: invoice {after.number} is paid in full."
    else:
        message = f"{received}: invoice {after.number} is partially paid, {after.money(after.amount_due)} still due."
    return feedback.saved(request, _url(invoice_id), message)
