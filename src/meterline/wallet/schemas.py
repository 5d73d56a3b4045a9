"""WalletApi request and response models (the SDK's WalletApi), and the presenters."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, cast

from meterline.core.schemas import Number, NumberIn, RequestModel, ResponseModel, UtcDatetime
from meterline.wallet.models import WalletEntry
from meterline.wallet.service import HoldEntry, WalletView

Status = Literal["ACTIVE", "INACTIVE"]
EntryType = Literal["CREDITED", "DEBITED"]


class TopupWalletRequest(RequestModel):
    topup_amount: NumberIn


class UpdateWalletRequest(RequestModel):
    effective_from: UtcDatetime | None = None
    status: Status | None = None


class WalletBalanceResponse(ResponseModel):
    id: str
    account_id: str
    customer_id: str
    balance: Number
    credit_unit: str
    status: Status
    hold_amount: Number
    effective_from: datetime
    created_at: datetime | None = None
    updated_at: datetime | None = None
    metadata: dict[str, Any] | None = None


class WalletEntryOut(ResponseModel):
    id: str
    description: str | None = None
    wallet_id: str
    transaction_type: EntryType
    status: Literal["COMPLETED", "ON_HOLD"]
    entity_id: str | None = None
    amount: Number
    created_at: datetime
    closing_balance: Number


class WalletEntriesPaginatedResponse(ResponseModel):
    data: list[WalletEntryOut]
    next_token: str | None = None


def wallet_out(view: WalletView, customer_id: str) -> WalletBalanceResponse:
    return WalletBalanceResponse(
        id=view.id,
        account_id=view.account.id,
        customer_id=customer_id,
        balance=view.balance,
        credit_unit=view.account.invoice_currency,
        status=cast(Status, view.status),
        hold_amount=view.hold,
        effective_from=view.effective_from,
        created_at=view.created_at,
        updated_at=view.updated_at,
    )


def entry_out(entry: WalletEntry) -> WalletEntryOut:
    return WalletEntryOut(
        id=entry.pk,
        description=entry.description,
        wallet_id=entry.wallet_pk,
        transaction_type=cast(EntryType, entry.type),
        status="COMPLETED",
        entity_id=entry.entity_id,
        amount=entry.amount,
        created_at=entry.created_at,
        closing_balance=entry.closing_balance,
    )


def hold_out(hold: HoldEntry, wallet_id: str) -> WalletEntryOut:
    return WalletEntryOut(
        id=f"hold.{hold.invoice_id.split('.', 1)[-1]}",
        description="On hold for a draft invoice",
        wallet_id=wallet_id,
        transaction_type="DEBITED",
        status="ON_HOLD",
        entity_id=hold.invoice_id,
        amount=hold.amount,
        created_at=hold.created_at,
        closing_balance=hold.closing_balance,
    )
