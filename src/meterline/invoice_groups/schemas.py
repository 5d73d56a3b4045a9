"""InvoiceGroupsApi's request and response models (Togai's), and their presenters."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field, StrictBool

from meterline.accounts.schemas import InvoiceGroupDetails
from meterline.core.schemas import Address, AddressOut, Days, Email, ExternalId, RequestModel, ResponseModel, trimmed
from meterline.invoice_groups.models import CompositeInvoice, InvoiceGroup
from meterline.invoicing.builder import Line
from meterline.invoicing.schemas import (
    InvoiceDetails,
    InvoiceDetailsInvoiceGroup,
    InvoiceDetailsOrganization,
    InvoiceOut,
    InvoiceSummary,
    line_out,
)

MAX_ACCOUNTS = 100  # accounts in a group, and in one request

if TYPE_CHECKING:  # a str to the type checker; pydantic gets the checked, trimmed text
    GroupName = str
else:
    GroupName = trimmed(1, 255)
AccountIds = Annotated[list[ExternalId], Field(min_length=1, max_length=MAX_ACCOUNTS)]


class CreateInvoiceGroupRequest(RequestModel):
    name: GroupName
    email: Email
    daily_invoice_consolidation: StrictBool
    account_ids: AccountIds
    net_term_days: Days | None = None
    address: Address


class UpdateInvoiceGroupAccounts(RequestModel):
    account_ids: AccountIds


class InvoiceGroups(ResponseModel):
    id: str
    name: str
    email: str
    daily_invoice_consolidation: bool
    net_term_days: int | None = None
    invoice_currency: str
    billing_address: AddressOut
    accounts_count: int
    created_at: datetime
    updated_at: datetime


class InvoiceGroupAccountsPaginatedResponse(InvoiceGroups):
    accounts: list[str]
    next_token: str | None = None


class InvoiceGroupPaginatedResponse(ResponseModel):
    data: list[InvoiceGroups]
    next_token: str | None = None


def group_out(group: InvoiceGroup, accounts_count: int) -> InvoiceGroups:
    return InvoiceGroups(
        id=group.pk,
        name=group.name,
        email=group.email,
        daily_invoice_consolidation=group.daily_consolidation,
        net_term_days=group.net_term_days,
        invoice_currency=group.currency,
        billing_address=AddressOut.model_validate(group.address),
        accounts_count=accounts_count,
        created_at=group.created_at,
        updated_at=group.updated_at,
    )


def group_with_accounts_out(group: InvoiceGroup, account_ids: list[str]) -> InvoiceGroupAccountsPaginatedResponse:
    return InvoiceGroupAccountsPaginatedResponse(
        **group_out(group, len(account_ids)).model_dump(), accounts=account_ids
    )


def group_details_out(group: InvoiceGroup) -> InvoiceGroupDetails:
    """An account's `invoiceGroupDetails` (GET /accounts/{id}?includeGroupDetails=true)."""
    return InvoiceGroupDetails(
        id=group.pk,
        name=group.name,
        email=group.email,
        daily_invoice_consolidation=group.daily_consolidation,
        net_term_days=group.net_term_days,
        invoice_currency=group.currency,
        billing_address=AddressOut.model_validate(group.address),
    )


def _composite_fields(composite: CompositeInvoice, paid: Decimal, status: str) -> dict[str, Any]:
    details = json.loads(composite.details)
    group, org = details["invoiceGroup"], details["organization"]
    return {
        "id": composite.pk,
        "owner_id": composite.group_pk,
        "status": status,
        "finalizing_status": "FINALIZED",
        "invoice_class": "INVOICE",
        "invoice_type": "COMPOSITE",
        "start_date": composite.start_at,
        "end_date": composite.end_at,
        "end_date_inclusive": composite.end_at - timedelta(microseconds=1),
        "invoice_date": composite.invoice_date,
        "due_date": composite.due_date,
        "generated_at": composite.created_at,
        "updated_at": composite.created_at,
        "sequence_id": composite.sequence_id,
        "pdf_url": f"/api/files/file.{composite.pk}",  # stored as issued (usecases/invoice_files.py)
        "total_amount": composite.total_amount,
        "paid_amount": paid,
        "invoice_details": InvoiceDetails(
            invoice_group=InvoiceDetailsInvoiceGroup(
                id=group["id"],
                name=group["name"],
                email=group["email"],
                daily_invoice_consolidation=group["dailyInvoiceConsolidation"],
                invoice_currency=group["invoiceCurrency"],
                address=AddressOut.model_validate(group["address"]),
            ),
            organization=InvoiceDetailsOrganization(
                business_name=org["businessName"],
                address=AddressOut.model_validate(org["address"]),
                primary_email=org["primaryEmail"],
            ),
        ),
        "net_term_days": composite.net_term_days,
    }


def composite_summary_out(composite: CompositeInvoice, paid: Decimal, status: str) -> InvoiceSummary:
    """A COMPOSITE invoice as GET /invoices lists it."""
    return InvoiceSummary(**_composite_fields(composite, paid, status))


def composite_out(composite: CompositeInvoice, paid: Decimal, status: str, with_lines: bool) -> InvoiceOut:
    """A COMPOSITE invoice as GET /invoices/{id} answers it: owner the group, paid and status from its members."""
    revenue = Line.from_json(json.loads(composite.lines, parse_float=Decimal, parse_int=Decimal))
    return InvoiceOut(
        **_composite_fields(composite, paid, status),
        revenue_info=line_out(revenue) if with_lines else None,
        auto_advance=False,
    )
