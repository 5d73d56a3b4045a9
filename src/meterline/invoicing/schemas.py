"""InvoicesApi request and response models (the SDK's InvoicesApi), and the presenters."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, StringConstraints

from meterline.core.schemas import AddressOut, Number, NumberIn, RequestModel, ResponseModel, UtcDatetime
from meterline.invoicing import statuses
from meterline.invoicing.builder import Charge, Line
from meterline.invoicing.models import Invoice

InvoiceStatus = Literal[
    "DRAFT", "DUE", "PAID", "VOID", "UN_COLLECTIBLE", "REFUND_INITIATED", "REFUND_COMPLETED", "MERGED", "PARTIALLY_PAID"
]


# -- requests ----------------------------------------------------------------------------------------------------
class CustomInvoiceLineItem(RequestModel):
    id: Annotated[str, StringConstraints(min_length=1, max_length=50)] | None = None
    description: Annotated[str, StringConstraints(max_length=255)] | None = None
    value_per_quantity: NumberIn | None = None
    quantity: NumberIn | None = None
    value: NumberIn | None = None
    billable_id: Annotated[str, StringConstraints(max_length=50)] | None = None


LineItems = Annotated[list[CustomInvoiceLineItem], Field(min_length=1, max_length=50)]


class CreateCustomInvoiceRequest(RequestModel):
    account_id: Annotated[str, StringConstraints(min_length=1, max_length=50)]
    owner_type: Literal["ACCOUNT", "INVOICE_GROUP"] | None = None
    start_date: UtcDatetime
    end_date: UtcDatetime
    idempotency_key: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None
    status: Literal["DRAFT", "DUE", "PAID"]
    line_items: LineItems
    auto_advance: StrictBool | None = None
    apply_credits: StrictBool | None = None
    apply_wallet_balance: StrictBool | None = None


class UpdateInvoiceRequest(RequestModel):
    start_date: UtcDatetime | None = None
    end_date: UtcDatetime | None = None
    status: Literal["DUE", "PAID", "VOID", "UN_COLLECTIBLE", "REFUND_INITIATED"] | None = None
    line_items: LineItems | None = None
    auto_advance: StrictBool | None = None


class MiscellaneousCharge(RequestModel):
    name: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    rate: NumberIn | None = None
    quantity: NumberIn | None = None
    value: Annotated[str, StringConstraints(min_length=1, max_length=10_000)] | None = None
    consider_for_revenue: StrictBool | None = None

    def charge(self) -> Charge:
        return Charge(
            name=self.name,
            value=self.value,
            rate=self.rate,
            quantity=self.quantity,
            consider_for_revenue=bool(self.consider_for_revenue),
        )


class ManageMiscellaneousChargesRequest(RequestModel):
    items: Annotated[list[MiscellaneousCharge], Field(max_length=50)]


# -- responses ---------------------------------------------------------------------------------------------------
class InvoiceDetailsCustomer(ResponseModel):
    name: str
    primary_email: str
    billing_address: str | None = None
    address: AddressOut | None = None


class InvoiceDetailsAccount(ResponseModel):
    name: str
    invoice_currency: str
    address: AddressOut
    primary_email: str


class InvoiceDetailsOrganization(ResponseModel):
    business_name: str
    address: AddressOut
    primary_email: str


class InvoiceDetailsInvoiceGroup(ResponseModel):
    id: str
    name: str
    email: str | None = None
    daily_invoice_consolidation: bool
    invoice_currency: str
    address: AddressOut


class InvoiceDetails(ResponseModel):
    customer: InvoiceDetailsCustomer | None = None
    account: InvoiceDetailsAccount | None = None
    price_plan_name: str | None = None
    invoice_group: InvoiceDetailsInvoiceGroup | None = None
    organization: InvoiceDetailsOrganization | None = None


class InvoiceLineItem(ResponseModel):
    id: str | None = None
    description: str
    type: str
    value_per_quantity: Number | None = None
    quantity: Number | None = None
    units: str | None = None
    value: Number
    metadata: dict[str, Any] | None = None
    line_items: list[InvoiceLineItem]


class InvoiceSummary(ResponseModel):
    id: str
    customer_id: str | None = None
    owner_id: str | None = None
    price_plan_id: str | None = None
    status: InvoiceStatus
    finalizing_status: Literal["FINALIZING", "FINALIZED"] | None = None
    invoice_class: Literal["INVOICE", "ORDER", "BILLABLE"]
    invoice_type: Literal["STANDARD", "AD_HOC", "CUSTOM", "COMPOSITE", "STANDARD_ADVANCED", "ADHOC_ADVANCED"]
    start_date: datetime | None = None
    end_date: datetime | None = None
    end_date_inclusive: datetime | None = None
    invoice_date: datetime
    due_date: datetime | None = None
    generated_at: datetime | None = None
    updated_at: datetime
    sequence_id: str | None = None
    pdf_url: str | None = None
    total_amount: Number
    paid_amount: Number
    invoice_details: InvoiceDetails | None = None
    net_term_days: int


class InvoiceOut(InvoiceSummary):
    usage_info: list[InvoiceLineItem] | None = None
    revenue_info: InvoiceLineItem | None = None
    auto_advance: bool | None = None
    metadata: dict[str, Any] | None = None


class ListInvoicesResponse(ResponseModel):
    data: list[InvoiceSummary]
    next_token: str | None = None


class MiscellaneousChargeOut(ResponseModel):
    name: str
    rate: Number | None = None
    quantity: Number | None = None
    value: str | None = None
    consider_for_revenue: bool | None = None


class MiscellaneousChargesResponse(ResponseModel):
    data: list[MiscellaneousChargeOut]


class PricingRuleChangesLog(ResponseModel):
    key: str
    key_name: str | None = None
    old_revenue: Number
    new_revenue: Number
    old_usage: Number | None = None
    new_usage: Number | None = None
    error_message: str | None = None


class PricingRuleInfo(ResponseModel):
    id: str
    name: str | None = None
    condition: str | None = None
    computation: str | None = None


class PricingRulesLog(ResponseModel):
    id: str
    type: Literal["CONDITION_TRUE", "CONDITION_FALSE", "CONDITION_ERROR", "COMPUTATION_ERROR"] | None = None
    order: int
    changes: PricingRuleChangesLog
    rule: PricingRuleInfo | None = None


class PricingRulesLogsPaginatedResponse(ResponseModel):
    data: list[PricingRulesLog]


# -- presenters --------------------------------------------------------------------------------------------------
def rule_logs_out(invoice_id: str, log: list[dict[str, Any]]) -> PricingRulesLogsPaginatedResponse:
    """The invoice's pricing rule log (the root line's `pricingRules`, revenue/pricing_rules.LogEntry.to_json); a
    rule that changed nothing shows no revenue change (0 -> 0)."""
    zero = Decimal(0)
    return PricingRulesLogsPaginatedResponse(
        data=[
            PricingRulesLog(
                id=f"{invoice_id}:{entry['ruleId']}",
                type=entry["type"],
                order=entry["order"],
                changes=PricingRuleChangesLog.model_validate(
                    {"oldRevenue": zero, "newRevenue": zero, **entry["changes"]}
                ),
                rule=PricingRuleInfo(
                    id=entry["ruleId"],
                    name=entry["name"],
                    condition=entry.get("condition"),
                    computation=entry.get("computation"),
                ),
            )
            for entry in log
        ]
    )


def _address(value: dict[str, Any] | None) -> AddressOut:
    return AddressOut.model_validate(value or {})


def details_out(details: dict[str, Any]) -> InvoiceDetails:
    c, a, o = details["customer"], details["account"], details["organization"]
    return InvoiceDetails(
        customer=InvoiceDetailsCustomer(
            name=c["name"],
            primary_email=c["primaryEmail"],
            billing_address=c.get("billingAddress"),
            address=_address(c.get("address")),
        ),
        account=InvoiceDetailsAccount(
            name=a["name"],
            invoice_currency=a["invoiceCurrency"],
            address=_address(a.get("address")),
            primary_email=a["primaryEmail"],
        ),
        price_plan_name=details.get("pricePlanName"),
        organization=InvoiceDetailsOrganization(
            business_name=o["businessName"], address=_address(o.get("address")), primary_email=o["primaryEmail"]
        ),
    )


def line_out(line: Line) -> InvoiceLineItem:
    return InvoiceLineItem(
        id=line.id,
        description=line.description,
        type=line.type,
        value_per_quantity=line.value_per_quantity,
        quantity=line.quantity,
        value=line.value,
        metadata=line.metadata,
        line_items=[line_out(c) for c in line.children],
    )


def _common(
    invoice: Invoice, account_id: str, customer_id: str, total: Decimal, details: dict[str, Any]
) -> dict[str, Any]:
    final = invoice.status != statuses.InvoiceStatus.DRAFT
    return dict(
        id=invoice.pk,
        customer_id=customer_id,
        owner_id=account_id,
        price_plan_id=invoice.plan_id,
        status=invoice.status,
        finalizing_status="FINALIZED" if final else None,
        invoice_class=invoice.invoice_class or "INVOICE",
        invoice_type=invoice.invoice_type,
        start_date=invoice.start_at,
        end_date=invoice.end_at,
        end_date_inclusive=invoice.end_at - timedelta(microseconds=1) if invoice.end_at else None,
        invoice_date=invoice.invoice_date,
        due_date=invoice.due_date,
        generated_at=invoice.finalized_at,
        updated_at=invoice.updated_at,
        sequence_id=invoice.sequence_id,
        pdf_url=f"/api/invoices/{invoice.pk}/pdf" if invoice.status == "DRAFT" else f"/api/files/file.{invoice.pk}",
        total_amount=total,
        paid_amount=invoice.paid_amount,
        invoice_details=details_out(details),
        net_term_days=invoice.net_term_days,
    )


def summary_out(
    invoice: Invoice, account_id: str, customer_id: str, total: Decimal, details: dict[str, Any]
) -> InvoiceSummary:
    return InvoiceSummary(**_common(invoice, account_id, customer_id, total, details))


def invoice_out(
    invoice: Invoice,
    account_id: str,
    customer_id: str,
    total: Decimal,
    details: dict[str, Any],
    revenue: Line | None,
    usage: list[Line] | None,
) -> InvoiceOut:
    return InvoiceOut(
        **_common(invoice, account_id, customer_id, total, details),
        revenue_info=line_out(revenue) if revenue is not None else None,
        usage_info=[line_out(u) for u in usage] if usage is not None else None,
        auto_advance=invoice.auto_advance,
        metadata=invoice.metadata_,
    )


def charges_out(charges: list[Charge]) -> MiscellaneousChargesResponse:
    return MiscellaneousChargesResponse(
        data=[
            MiscellaneousChargeOut(
                name=c.name,
                rate=c.rate,
                quantity=c.quantity,
                value=c.value,
                consider_for_revenue=c.consider_for_revenue,
            )
            for c in charges
        ]
    )
