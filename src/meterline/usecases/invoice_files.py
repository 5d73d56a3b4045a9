"""Invoice PDFs in the file store (docs/invoicing.md, "The PDF"): a rule spanning invoicing, the wallet and files.

- A finalized invoice's PDF is a file of its own, `file.<invoice id>` (so the invoice's `pdfUrl`,
  `/api/files/file.<invoice id>`, is known before the file exists). It is generated lazily, on the first
  `GET /files/{id}` or `download_url` that names it, stored, and served from the store from then on: bill runs
  render nothing, and an invoice nobody downloads costs no storage.
- It is the invoice **as issued**, so it never changes and does not depend on when it was first asked for: the
  status and paid amount it shows are those finalization left (what the wallet paid at finalization: PAID,
  PARTIALLY_PAID or DUE), never a later payment, status change or void (the API and the console show those). The
  rendering is deterministic (`invoicing.pdf.render_invoice_pdf`, whose interface this module keeps): two first
  requests at once write the same bytes under the same key, and the file's row is inserted once (a key lock on
  PostgreSQL; a savepoint that takes a twin's row otherwise).
- A DRAFT invoice's PDF is never stored (it changes with every event): `GET /api/invoices/{id}/pdf` renders it live,
  and `file.<draft id>` is 404.
- An invoice group's COMPOSITE invoice (born finalized, an `inv.` id too) is stored the same way, as issued: its
  members' totals and lines as frozen in it, paid = what the members' wallets paid at their finalization, and the
  status read from the members as issued (`issued_composite_document`), so it agrees with its members' own stored
  PDFs. `GET /api/invoices/{id}/pdf` still renders it live, with its state as it stands.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import Any

from sqlalchemy.exc import IntegrityError

from meterline.core.errors import NotFound
from meterline.customers.repository import CustomerRepository
from meterline.files import storage
from meterline.files.models import StoredFile
from meterline.files.service import FileService
from meterline.invoice_groups.models import CompositeInvoice
from meterline.invoice_groups.repository import InvoiceGroupRepository
from meterline.invoice_groups.schemas import composite_out
from meterline.invoicing import schemas
from meterline.invoicing.models import Invoice
from meterline.invoicing.pdf import render_composite_pdf, render_invoice_pdf
from meterline.invoicing.repository import DRAFT
from meterline.invoicing.service import InvoiceService
from meterline.invoicing.statuses import InvoiceStatus
from meterline.tenancy.context import Context
from meterline.usecases import invoice_groups
from meterline.wallet.service import WalletRepository

PREFIX = "file."
INVOICE_PREFIX = "file.inv."  # the files that are invoice PDFs (kept: never swept by the file retention)


def pdf_file_id(invoice_pk: str) -> str:
    return f"{PREFIX}{invoice_pk}"


def issued_document(ctx: Context, invoice: Invoice) -> tuple[dict[str, Any], Decimal]:
    """The invoice as the API presents it (Python values), with the status and paid amount finalization left; and
    what the wallet paid of it at finalization."""
    service = InvoiceService(ctx)
    revenue, usage, details, total = service.readable_view(invoice)
    account = service.accounts.by_pks({invoice.account_pk})[invoice.account_pk]
    customer = CustomerRepository(ctx.session, ctx.org_id).by_pks({account.customer_pk})[account.customer_pk]
    document = schemas.invoice_out(invoice, account.id, customer.id, total, details, revenue, usage).model_dump(
        mode="python", by_alias=True
    )
    wallet = _wallet_paid(ctx, invoice.pk)
    document["status"], document["paidAmount"] = _issued_status(invoice, wallet), wallet
    return document, wallet


def _wallet_paid(ctx: Context, invoice_pk: str) -> Decimal:
    debits = WalletRepository(ctx.session, ctx.org_id).debits_of_invoice(invoice_pk)
    return sum((d.amount for d in debits), Decimal(0))


def _issued_status(invoice: Invoice, wallet: Decimal) -> InvoiceStatus:
    """The status finalization left: what the wallet paid of the invoice's total."""
    amount = invoice.total_amount or Decimal(0)
    return InvoiceStatus.PAID if wallet >= amount else InvoiceStatus.PARTIALLY_PAID if wallet > 0 else InvoiceStatus.DUE


def issued_composite_document(ctx: Context, made: CompositeInvoice) -> dict[str, Any]:
    """A COMPOSITE invoice as issued (Python values, lines included): its frozen lines and total; paid = what its
    members' wallets paid at their finalization; its status read from its members as issued (each as its own stored
    PDF shows it), never a later payment, status change or void."""
    member_pks = InvoiceGroupRepository(ctx.session, ctx.org_id).members_of({made.pk})[made.pk]
    members = InvoiceService(ctx).repo.by_pks(set(member_pks))
    paid = {pk: _wallet_paid(ctx, pk) for pk in sorted(members)}
    total_paid = sum(paid.values(), Decimal(0))
    status = invoice_groups.status_of({_issued_status(m, paid[pk]) for pk, m in members.items()}, total_paid)
    return composite_out(made, total_paid, status, with_lines=True).model_dump(mode="python", by_alias=True)


def ensure_pdf(ctx: Context, file_id: str, store: storage.FileStore) -> None:
    """When `file_id` names a finalized (or COMPOSITE) invoice's PDF not stored yet: render and store it. Other ids:
    nothing."""
    if not file_id.startswith(INVOICE_PREFIX):
        return
    files = FileService(ctx, store)
    if files.repo.by_id(file_id) is not None:
        return
    invoices = InvoiceService(ctx)
    invoice = invoices.repo.by_pk(file_id.removeprefix(PREFIX))
    if invoice is None:
        made = InvoiceGroupRepository(ctx.session, ctx.org_id).composite(file_id.removeprefix(PREFIX))
        if made is None:
            raise NotFound(f"File {file_id} not found")
        _store_once(ctx, files, file_id, f"{made.sequence_id}.pdf", partial(_composite_pdf, ctx, made))
        return
    if invoice.status == DRAFT:
        raise NotFound(
            f"File {file_id} not found: invoice {invoice.pk} is a DRAFT, whose PDF is not stored "
            f"(GET /api/invoices/{invoice.pk}/pdf renders it)"
        )
    _store_once(ctx, files, file_id, f"{invoice.sequence_id or invoice.pk}.pdf", partial(_invoice_pdf, ctx, invoice))


def _invoice_pdf(ctx: Context, invoice: Invoice) -> bytes:
    document, wallet = issued_document(ctx, invoice)
    return render_invoice_pdf(document, ctx.org.timezone, wallet=wallet)


def _composite_pdf(ctx: Context, made: CompositeInvoice) -> bytes:
    return render_composite_pdf(issued_composite_document(ctx, made), ctx.org.timezone)


def _store_once(ctx: Context, files: FileService, file_id: str, name: str, render: Callable[[], bytes]) -> None:
    """Render and store the PDF under `file_id` unless a twin request has (the same bytes under the same key)."""
    files.repo.lock_key("invoice-pdf", file_id)  # PostgreSQL: a twin waits, then finds the row
    if files.repo.by_id(file_id) is not None:
        return
    data = render()
    try:
        with ctx.session.begin_nested():
            files.save(name, "application/pdf", data, pk=file_id)
    except IntegrityError:  # a twin stored it first (the same bytes, under the same key)
        pass


def found(ctx: Context, file_id: str, store: storage.FileStore) -> StoredFile:
    ensure_pdf(ctx, file_id, store)
    return FileService(ctx, store).get(file_id)


def download_url(ctx: Context, file_id: str, store: storage.FileStore, *, expiry: int | None, base_url: str) -> str:
    """A signed link to the file (an invoice PDF generated first when it is not stored yet)."""
    storage.checked_expiry(expiry)  # a bad expiry is refused before anything is rendered
    ensure_pdf(ctx, file_id, store)
    return FileService(ctx, store).download_url(file_id, expiry=expiry, base_url=base_url)
