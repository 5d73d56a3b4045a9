"""Purchases' and proposals' request and response models (Togai's), and their presenters."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, StrictInt

from meterline.core.schemas import (
    IsoDate,
    Number,
    NumberIn,
    PaginationOptions,
    RequestModel,
    ResponseModel,
    UtcDatetime,
)
from meterline.purchases.models import Purchase

PurchaseType = Literal["ENTITLEMENT_GRANT", "ASSOCIATION", "WALLET_TOPUP", "PREPAID"]
PurchaseStatus = Literal[
    "SUCCESS",
    "FAILURE",
    "PENDING",
    "IN_PROGRESS",
    "PROPOSAL_ACTIVE",
    "PROPOSAL_APPROVED",
    "PROPOSAL_DECLINED",
    "PROPOSAL_EXPIRED",
]
PaymentMode = Literal["PREPAID", "POSTPAID"]


class WalletTopupDetails(RequestModel):
    purchase_amount: NumberIn | None = None
    topup_amount: NumberIn


class WalletTopupDetailsOut(ResponseModel):
    purchase_amount: Number | None = None
    topup_amount: Number


class CreatePurchaseRequest(RequestModel):
    price_plan_id: str | None = Field(None, max_length=50)
    quantity: StrictInt | None = Field(None, ge=1, le=1_000_000)
    rate_card_quantities: dict[str, NumberIn] | None = None
    idempotency_key: str | None = Field(None, min_length=1, max_length=255)
    purchase_plan_override: dict[str, Any] | None = None
    association_override: dict[str, Any] | None = None
    wallet_topup_details: WalletTopupDetails | None = None
    effective_from: IsoDate | None = None
    effective_until: IsoDate | None = None
    expiry_date: UtcDatetime | None = None
    type: PurchaseType | None = None


class CreateProposalRequest(CreatePurchaseRequest):
    type: PurchaseType  # required in a proposal
    payment_mode: PaymentMode


class UpdateProposalStatus(RequestModel):
    status: Literal["APPROVE", "DECLINE"]


class PurchaseOut(ResponseModel):
    id: str
    account_id: str
    price_plan_id: str | None = None
    quantity: int | None = None
    rate_card_quantities: dict[str, Number] | None = None
    idempotency_key: str | None = None
    price_plan_version: int | None = None
    wallet_topup_details: WalletTopupDetailsOut | None = None
    created_at: datetime
    updated_at: datetime | None = None
    effective_from: str | None = None
    effective_until: str | None = None
    expiry_date: datetime | None = None
    price: Number | None = None
    invoice_id: str | None = None
    invoice_currency: str | None = None
    status: PurchaseStatus
    type: PurchaseType
    comment: str | None = None


class ProposalOut(PurchaseOut):
    payment_mode: PaymentMode
    proposal_response_date: datetime | None = None


class PurchaseListItem(ResponseModel):
    id: str
    price_plan_id: str | None = None
    quantity: int | None = None
    rate_card_quantities: dict[str, Number] | None = None
    price_plan_version: int | None = None
    status: PurchaseStatus
    idempotency_key: str | None = None
    wallet_topup_details: WalletTopupDetailsOut | None = None
    price: Number | None = None
    invoice_currency: str | None = None
    created_at: datetime
    updated_at: datetime | None = None
    type: PurchaseType


class PurchasePaginatedListData(ResponseModel):
    data: list[PurchaseListItem]
    next_token: str | None = None
    context: PaginationOptions | None = None


class ProposalListItem(ResponseModel):
    id: str
    price_plan_id: str | None = None
    price_plan_version: int | None = None
    status: PurchaseStatus
    wallet_topup_details: WalletTopupDetailsOut | None = None
    idempotency_key: str | None = None
    created_at: datetime
    updated_at: datetime
    expiry_date: datetime | None = None
    payment_mode: PaymentMode
    type: PurchaseType


class ProposalsPaginatedResponse(ResponseModel):
    data: list[ProposalListItem]
    next_token: str | None = None
    context: PaginationOptions | None = None


def _topup(p: Purchase) -> WalletTopupDetailsOut | None:
    if p.topup_amount is None:
        return None
    return WalletTopupDetailsOut(purchase_amount=p.purchase_amount, topup_amount=p.topup_amount)


def _quantities(p: Purchase) -> dict[str, Decimal] | None:
    found = json.loads(p.request).get("rateCardQuantities")
    return {k: Decimal(v) for k, v in found.items()} if found else None


def _fields(p: Purchase, account_id: str) -> dict[str, Any]:
    return dict(
        id=p.pk,
        account_id=account_id,
        price_plan_id=p.plan_id,
        quantity=p.quantity,
        rate_card_quantities=_quantities(p),
        idempotency_key=p.idempotency_key,
        price_plan_version=p.plan_version,
        wallet_topup_details=_topup(p),
        created_at=p.created_at,
        updated_at=p.updated_at,
        effective_from=p.effective_from.date().isoformat() if p.effective_from else None,
        effective_until=p.effective_until.date().isoformat() if p.effective_until else None,
        expiry_date=p.expiry_date,
        price=p.price,
        invoice_id=p.invoice_pk,
        invoice_currency=p.currency,
        status=p.status,
        type=p.type,
    )


def purchase_out(p: Purchase, account_id: str) -> PurchaseOut:
    return PurchaseOut(**_fields(p, account_id))


def proposal_out(p: Purchase, account_id: str, status: str) -> ProposalOut:
    fields = _fields(p, account_id) | {"status": status, "payment_mode": p.payment_mode}
    return ProposalOut(**fields, proposal_response_date=p.response_at)


def purchase_item(p: Purchase) -> PurchaseListItem:
    fields = _fields(p, "")
    for name in ("account_id", "effective_from", "effective_until", "expiry_date", "invoice_id", "comment"):
        fields.pop(name, None)
    return PurchaseListItem(**fields)


def proposal_item(p: Purchase, status: str) -> ProposalListItem:
    fields: dict[str, Any] = dict(
        id=p.pk,
        price_plan_id=p.plan_id,
        price_plan_version=p.plan_version,
        status=status,
        wallet_topup_details=_topup(p),
        idempotency_key=p.idempotency_key,
        created_at=p.created_at,
        updated_at=p.updated_at,
        expiry_date=p.expiry_date,
        payment_mode=p.payment_mode,
        type=p.type,
    )
    return ProposalListItem(**fields)
