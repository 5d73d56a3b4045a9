"""InvoicesApi: thin routes over InvoiceService, and the invoice PDF.

The official SDK cannot read `revenueInfo` or `usageInfo` (its InvoiceLineItem requires at least one child, so no
finite tree validates). Requests whose User-Agent is the SDK's generator get invoices without them; every other
client (and the console, and the PDF) gets the whole tree. docs/api.md says so.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from meterline.api.deps import api_context, page_params
from meterline.api.responses import respond
from meterline.api.routing import UnitOfWorkRoute
from meterline.core.errors import BadRequest
from meterline.core.pagination import Page, PageRequest
from meterline.core.schemas import BaseSuccessResponse
from meterline.customers.repository import CustomerRepository
from meterline.invoice_groups.schemas import composite_out, composite_summary_out
from meterline.invoicing import schemas
from meterline.invoicing.models import Invoice
from meterline.invoicing.service import InvoiceService
from meterline.invoicing.statuses import InvoiceStatus
from meterline.tenancy.context import Context
from meterline.usecases.invoice_groups import ListedComposite, composite_invoice, invoice_page
from meterline.usecases.jobs import start_bill_run

router = APIRouter(route_class=UnitOfWorkRoute, tags=["Invoices"])
SDK_AGENT = "OpenAPI-Generator/"


def _owner_ids(ctx: Context, invoices: list[Invoice]) -> dict[str, tuple[str, str]]:
    """account pk -> (account id, customer id)."""
    service = InvoiceService(ctx)
    accounts = service.accounts.by_pks({i.account_pk for i in invoices})
    customers = CustomerRepository(ctx.session, ctx.org_id).by_pks({a.customer_pk for a in accounts.values()})
    return {pk: (a.id, customers[a.customer_pk].id) for pk, a in accounts.items()}


def present(ctx: Context, invoice: Invoice, with_lines: bool = True) -> schemas.InvoiceOut:
    revenue, usage, details, total = InvoiceService(ctx).readable_view(invoice)
    account_id, customer_id = _owner_ids(ctx, [invoice])[invoice.account_pk]
    return schemas.invoice_out(
        invoice, account_id, customer_id, total, details, revenue if with_lines else None, usage if with_lines else None
    )


def _lines_wanted(request: Request) -> bool:
    return not request.headers.get("user-agent", "").startswith(SDK_AGENT)


def _epoch_ms(value: int | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(value / 1000, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise BadRequest(f"{name}: {value} is not a time in epoch milliseconds") from None


def _list(
    ctx: Context,
    page: PageRequest,
    status: str | None,
    owner_id: str | None,
    customer_id: str | None,
    start_time: int | None,
    end_time: int | None,
    due_only: bool,
) -> Response:
    service = InvoiceService(ctx)
    start, end = _epoch_ms(start_time, "start_time"), _epoch_ms(end_time, "end_time")
    result: Page[Invoice] | Page[Invoice | ListedComposite]
    if due_only:  # what a bill run would finalize: DRAFTs, never a composite
        result = service.page(
            page, status=status, account_id=owner_id, customer_id=customer_id, start=start, end=end, due_only=True
        )
    else:  # the groups' COMPOSITE invoices among the rest (docs/invoicing.md, "The COMPOSITE invoice")
        result = invoice_page(
            ctx, page, status=status, owner_id=owner_id, customer_id=customer_id, start=start, end=end
        )
    accounts = [i for i in result.items if isinstance(i, Invoice)]
    owners = _owner_ids(ctx, accounts)
    service.inputs.prefetch([i for i in accounts if i.status == InvoiceStatus.DRAFT])  # drafts are computed: in one go
    data = []
    for invoice in result.items:
        if isinstance(invoice, ListedComposite):
            data.append(composite_summary_out(invoice.invoice, invoice.state.paid, invoice.state.status))
            continue
        _revenue, _usage, details, total = service.readable_view(invoice)
        data.append(schemas.summary_out(invoice, *owners[invoice.account_pk], total, details))
    return respond(schemas.ListInvoicesResponse(data=data, next_token=result.next_token))


Status = Annotated[schemas.InvoiceStatus | None, Query()]
Epoch = Annotated[int | None, Query(ge=0, le=253402214400000)]
Id = Annotated[str | None, Query(max_length=50)]


@router.get("/invoices", response_model=schemas.ListInvoicesResponse, operation_id="listInvoices")
def list_invoices(
    status: Status = None,
    owner_id: Id = None,
    customer_id: Id = None,
    start_time: Epoch = None,
    end_time: Epoch = None,
    page: PageRequest = Depends(page_params),
    ctx: Context = Depends(api_context),
) -> Response:
    """Invoices in creation order; `start_time` / `end_time` (epoch ms) keep those whose period overlaps."""
    return _list(ctx, page, status, owner_id, customer_id, start_time, end_time, due_only=False)


@router.get("/invoices/bill_runs", response_model=schemas.ListInvoicesResponse, operation_id="listInvoicesForBillRun")
def list_invoices_for_bill_run(
    status: Status = None,
    owner_id: Id = None,
    customer_id: Id = None,
    start_time: Epoch = None,
    end_time: Epoch = None,
    page: PageRequest = Depends(page_params),
    ctx: Context = Depends(api_context),
) -> Response:
    """The DRAFT invoices a bill run would finalize now (their cycle's grace period is over)."""
    if status not in (None, InvoiceStatus.DRAFT):
        return respond(schemas.ListInvoicesResponse(data=[]))
    return _list(ctx, page, InvoiceStatus.DRAFT, owner_id, customer_id, start_time, end_time, due_only=True)


@router.post("/invoices/bill_runs", response_model=BaseSuccessResponse, operation_id="createInvoiceBillRun")
def create_invoice_bill_run(
    require_confirmation: Annotated[bool, Query()] = False, ctx: Context = Depends(api_context)
) -> Response:
    """A BILL_RUN job over every invoice due now, in numbering order (with require_confirmation it waits for
    POST /jobs/{id}/confirm)."""
    start_bill_run(ctx, require_confirmation=require_confirmation)
    return respond(BaseSuccessResponse(success=True))


@router.post("/invoices", response_model=schemas.InvoiceOut, status_code=201, operation_id="createCustomInvoice")
def create_custom_invoice(
    body: schemas.CreateCustomInvoiceRequest, request: Request, ctx: Context = Depends(api_context)
) -> Response:
    """A CUSTOM invoice (201); a repeated idempotencyKey gives back the first one."""
    if body.owner_type == "INVOICE_GROUP":
        raise BadRequest("ownerType INVOICE_GROUP: invoice groups are not supported by Meterline yet")
    invoice, _created = InvoiceService(ctx).create_custom(
        body.account_id,
        body.start_date,
        body.end_date,
        body.status,
        [item.model_dump() for item in body.line_items],
        bool(body.auto_advance),
        body.apply_credits is not False,
        body.apply_wallet_balance is not False,
        body.idempotency_key,
    )
    return respond(present(ctx, invoice, _lines_wanted(request)), 201)


@router.get("/invoices/{invoice_id}", response_model=schemas.InvoiceOut, operation_id="getInvoice")
def get_invoice(invoice_id: str, request: Request, ctx: Context = Depends(api_context)) -> Response:
    """One invoice; a DRAFT is computed from the usage ingested so far. An invoice group's COMPOSITE invoice too
    (docs/invoicing.md, "Invoice groups")."""
    service = InvoiceService(ctx)
    if service.repo.by_pk(invoice_id) is None:
        composite = composite_invoice(ctx, invoice_id)
        if composite is not None:
            made, state = composite
            return respond(composite_out(made, state.paid, state.status, _lines_wanted(request)))
    return respond(present(ctx, service.get(invoice_id), _lines_wanted(request)))


@router.get(
    "/invoices/{invoice_id}/pdf",
    operation_id="getInvoicePdf",
    responses={200: {"content": {"application/pdf": {}}, "description": "The invoice as a PDF"}},
)
def get_invoice_pdf(invoice_id: str, ctx: Context = Depends(api_context)) -> Response:
    """The invoice as a PDF document (Meterline's own operation; Togai serves `pdfUrl`)."""
    from meterline.invoicing.pdf import render_composite_pdf, render_invoice_pdf

    service = InvoiceService(ctx)
    if service.repo.by_pk(invoice_id) is None:
        composite = composite_invoice(ctx, invoice_id)
        if composite is not None:  # an invoice group's COMPOSITE invoice
            made, state = composite
            presented = composite_out(made, state.paid, state.status, with_lines=True)
            return Response(
                render_composite_pdf(presented.model_dump(mode="python", by_alias=True), ctx.org.timezone),
                media_type="application/pdf",
                headers={"Content-Disposition": f'inline; filename="{made.sequence_id}.pdf"'},
            )
    invoice = service.get(invoice_id)
    document = present(ctx, invoice).model_dump(mode="python", by_alias=True)
    name = invoice.sequence_id or f"draft-{invoice.pk}"
    return Response(
        render_invoice_pdf(document, ctx.org.timezone, wallet=service.wallet_paid(invoice)),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}.pdf"'},
    )


@router.patch("/invoices/{invoice_id}", response_model=schemas.InvoiceOut, operation_id="updateInvoice")
def update_invoice(
    invoice_id: str, body: schemas.UpdateInvoiceRequest, request: Request, ctx: Context = Depends(api_context)
) -> Response:
    """A status change (D12), or the dates, lines and autoAdvance of a DRAFT custom invoice."""
    fields = body.model_dump(exclude_unset=True, exclude={"status"})
    if "line_items" in fields:
        fields["line_items"] = [item.model_dump() for item in body.line_items or []]
    invoice = InvoiceService(ctx).update(invoice_id, body.status, fields)
    return respond(present(ctx, invoice, _lines_wanted(request)))


@router.delete("/invoices/{invoice_id}", response_model=BaseSuccessResponse, operation_id="deleteCustomInvoice")
def delete_custom_invoice(invoice_id: str, ctx: Context = Depends(api_context)) -> Response:
    InvoiceService(ctx).delete_custom(invoice_id)
    return respond(BaseSuccessResponse(success=True))


@router.put(
    "/accounts/{account_id}/miscellaneous_charges",
    response_model=schemas.MiscellaneousChargesResponse,
    operation_id="manageMiscellaneousChargesInAccount",
)
def manage_miscellaneous_charges_in_account(
    account_id: str, body: schemas.ManageMiscellaneousChargesRequest, ctx: Context = Depends(api_context)
) -> Response:
    """Replace the charges on the account's ongoing in-arrears invoice (D11)."""
    charges = InvoiceService(ctx).set_account_charges(account_id, [i.charge() for i in body.items])
    return respond(schemas.charges_out(charges))


@router.put(
    "/invoices/{invoice_id}/miscellaneous_charges",
    response_model=schemas.MiscellaneousChargesResponse,
    operation_id="manageMiscellaneousChargesInInvoice",
)
def manage_miscellaneous_charges_in_invoice(
    invoice_id: str, body: schemas.ManageMiscellaneousChargesRequest, ctx: Context = Depends(api_context)
) -> Response:
    """Replace the charges of a DRAFT invoice (D11)."""
    service = InvoiceService(ctx)
    charges = service.set_charges(service.get(invoice_id), [i.charge() for i in body.items])
    return respond(schemas.charges_out(charges))


@router.get(
    "/invoice/{invoice_id}/pricing_rules_logs",
    response_model=schemas.PricingRulesLogsPaginatedResponse,
    operation_id="listPricingRuleLogs",
)
def list_pricing_rule_logs(invoice_id: str, ctx: Context = Depends(api_context)) -> Response:
    """What each pricing rule of the invoice's plan did on it (docs/pricing.md, "Pricing rules"): kept with the lines
    when the invoice is finalized, computed now while it is a DRAFT."""
    service = InvoiceService(ctx)
    invoice = service.get(invoice_id)
    revenue, _usage, _details, _total = service.view(invoice)
    return respond(schemas.rule_logs_out(invoice.pk, (revenue.metadata or {}).get("pricingRules") or []))
