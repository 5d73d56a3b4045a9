"""PaymentsApi request and response models (the SDK's PaymentsApi)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, StrictInt, StringConstraints

from meterline.core.schemas import Number, NumberIn, RequestModel, ResponseModel
from meterline.payments.models import Payment

Text512 = Annotated[str, StringConstraints(max_length=512)]


class ExternalPaymentReference(RequestModel):
    source_name: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    source_type: Literal["GATEWAY", "CASH", "CHEQUE", "BANK_TRANSFER", "CARD"]
    transaction_number: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    description: Text512 | None = None
    metadata: dict[str, Any] | None = None


class PaymentLineItemRecord(RequestModel):
    type: Literal["INVOICE", "CREDIT", "WALLET_CREDIT"]
    togai_id: Annotated[str, StringConstraints(min_length=1, max_length=50)] | None = None
    amount: NumberIn | None = None
    order: Annotated[StrictInt, Field(ge=0, le=1000)]  # a record's place among at most 50 (0-based or 1-based): bounded


class CreatePaymentRequest(RequestModel):
    description: Text512 | None = None
    notes: Text512 | None = None
    account_id: Annotated[str, StringConstraints(min_length=1, max_length=512)]
    external_payment_reference: ExternalPaymentReference
    line_item_records: Annotated[list[PaymentLineItemRecord], Field(min_length=1, max_length=50)]
    currency: Annotated[str, StringConstraints(min_length=3, max_length=3)]
    total_amount: NumberIn


class ExternalPaymentReferenceOut(ResponseModel):
    source_name: str
    source_type: str
    transaction_number: str
    description: str | None = None
    metadata: dict[str, Any] | None = None


class PaymentLineItemRecordOut(ResponseModel):
    type: str
    togai_id: str | None = None
    amount: Number | None = None
    order: int


class PaymentOut(ResponseModel):
    id: str
    description: str | None = None
    notes: str | None = None
    account_id: str
    external_payment_references: ExternalPaymentReferenceOut
    line_item_records: list[PaymentLineItemRecordOut]
    total_amount: Number
    currency: str
    version: int
    created_by: str
    created_at: datetime


class ListPaymentResponse(ResponseModel):
    data: list[PaymentOut]
    next_token: str | None = None


def payment_out(payment: Payment, account_id: str) -> PaymentOut:
    return PaymentOut(
        id=payment.pk,
        description=payment.description,
        notes=payment.notes,
        account_id=account_id,
        external_payment_references=ExternalPaymentReferenceOut(**payment.reference),
        line_item_records=[
            PaymentLineItemRecordOut(
                type=r["type"],
                togai_id=r.get("togaiId"),
                amount=Decimal(r["amount"]) if r.get("amount") is not None else None,
                order=r["order"],
            )
            for r in payment.records
        ],
        total_amount=payment.total_amount,
        currency=payment.currency,
        version=payment.version,
        created_by=payment.created_by,
        created_at=payment.created_at,
    )
