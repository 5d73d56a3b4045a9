"""CreditsApi request and response models (the SDK's CreditsApi), and the presenters."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal, cast

from pydantic import Field, StrictInt, StringConstraints

from meterline.core.schemas import IsoDate, Number, NumberIn, RequestModel, ResponseModel
from meterline.credits.models import Credit, CreditTransaction
from meterline.credits.service import MAX_PRIORITY, Balance, Grant

Id = Annotated[str, StringConstraints(min_length=1, max_length=100)]


CreditStatus = Literal["ACTIVE", "CONSUMED", "EXPIRED", "VOIDED"]


class CreditRequest(RequestModel):
    account_id: Annotated[str, StringConstraints(min_length=1, max_length=50)]
    purpose: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    applicable_entity_ids: Annotated[list[Id], Field(max_length=100)] | None = None
    effective_from: IsoDate
    effective_until: IsoDate | None = None
    credit_amount: NumberIn
    priority: Annotated[StrictInt, Field(ge=0, le=MAX_PRIORITY)]
    grantor_id: Annotated[str, StringConstraints(max_length=255)] | None = None
    idempotency_key: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None

    def grant(self) -> Grant:
        return Grant(
            account_id=self.account_id,
            purpose=self.purpose,
            amount=self.credit_amount,
            priority=self.priority,
            effective_from=self.effective_from,
            effective_until=self.effective_until,
            scope=tuple(self.applicable_entity_ids or ()),
            grantor_id=self.grantor_id,
            idempotency_key=self.idempotency_key,
        )


class CreateCreditRequest(RequestModel):
    credit_requests: Annotated[list[CreditRequest], Field(min_length=1, max_length=100)]


CreditStatusOut = Literal["ACTIVE", "CONSUMED", "EXPIRED", "VOIDED"]
CreditTransactionTypeOut = Literal["CREDITED", "DEBITED", "EXPIRED", "VOIDED"]


class CreditOut(ResponseModel):
    account_id: str
    purpose: str
    applicable_entity_ids: list[str] | None = None
    effective_from: date
    effective_until: date | None = None
    credit_amount: Number
    priority: int
    grantor_id: str | None = None
    idempotency_key: str | None = None
    id: str
    customer_id: str
    status: CreditStatusOut
    credit_unit: str
    hold_amount: Number
    consumed_amount: Number
    created_at: datetime
    updated_at: datetime


class CreditTransactionOut(ResponseModel):
    id: str
    credit_id: str
    transaction_type: CreditTransactionTypeOut
    invoice_id: str | None = None
    entity_id: str | None = None
    amount: Number
    created_at: datetime


class CreditDetailsResponse(CreditOut):
    transactions: list[CreditTransactionOut]


class CreateCreditResponse(ResponseModel):
    credits: list[CreditOut]


class ListCreditsResponse(ResponseModel):
    data: list[CreditOut]
    next_token: str | None = None


class CreditBalanceResponse(ResponseModel):
    active_credits: Number
    available_balance: Number
    running_balance: Number
    inapplicable_credits: Number
    unit: str
    last_updated_at: datetime


def credit_out(credit: Credit, account_id: str, customer_id: str, hold: Decimal) -> CreditOut:
    return CreditOut(
        account_id=account_id,
        purpose=credit.purpose,
        applicable_entity_ids=list(credit.scope) or None,
        effective_from=credit.effective_from,
        effective_until=credit.effective_until,
        credit_amount=credit.amount,
        priority=credit.priority,
        grantor_id=credit.grantor_id,
        idempotency_key=credit.idempotency_key,
        id=credit.pk,
        customer_id=customer_id,
        status=cast(CreditStatusOut, credit.status),
        credit_unit=credit.currency,
        hold_amount=hold,
        consumed_amount=credit.consumed_amount,
        created_at=credit.created_at,
        updated_at=credit.updated_at,
    )


def transaction_out(t: CreditTransaction) -> CreditTransactionOut:
    return CreditTransactionOut(
        id=t.pk,
        credit_id=t.credit_pk,
        transaction_type=cast(CreditTransactionTypeOut, t.type),
        invoice_id=t.invoice_pk,
        entity_id=t.entity_id,
        amount=t.amount,
        created_at=t.created_at,
    )


def balance_out(b: Balance) -> CreditBalanceResponse:
    return CreditBalanceResponse(
        active_credits=b.active,
        available_balance=b.available,
        running_balance=b.running,
        inapplicable_credits=b.inapplicable,
        unit=b.unit,
        last_updated_at=b.updated_at,
    )
