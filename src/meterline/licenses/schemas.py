"""LicensesApi models, field for field as the SDK has them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from meterline.core.schemas import Number, NumberIn, RequestModel, ResponseModel, UtcDatetime
from meterline.licenses.models import LicenseUpdate
from meterline.licenses.named import NamedSeat

Id50 = Annotated[str, StringConstraints(min_length=1, max_length=50)]
Metadata = Annotated[
    dict[Annotated[str, StringConstraints(max_length=100)], Annotated[str, StringConstraints(max_length=500)]],
    Field(max_length=50),
]


class LicenseUpdateRequest(RequestModel):
    license_id: Id50
    account_id: Id50
    update_type: Literal["RELATIVE", "ABSOLUTE"]
    quantity: NumberIn
    effective_from: UtcDatetime | None = None
    idempotency_key: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None
    metadata: Metadata | None = None


class LicenseEntryDetailsUpdateRequest(RequestModel):
    account_id: Id50
    effective_from: UtcDatetime
    metadata: Metadata


class LicenseUpdateResponse(ResponseModel):
    license_id: str
    account_id: str
    quantity: Number
    effective_from: datetime
    metadata: dict[str, str] | None = None
    created_at: datetime


class GetLicenseUpdatesResponse(ResponseModel):
    data: list[LicenseUpdateResponse]
    next_token: str | None = None


def update_out(update: LicenseUpdate) -> LicenseUpdateResponse:
    return LicenseUpdateResponse(
        license_id=update.license_id,
        account_id=update.account_id,
        quantity=update.quantity,
        effective_from=update.effective_from,
        metadata=update.metadata_,
        created_at=update.created_at,
    )


class NamedLicenseUpdate(ResponseModel):
    id: str
    license_id: str
    account_id: str
    name: str
    effective_from: datetime | None = None
    effective_until: datetime | None = None
    created_at: datetime
    updated_at: datetime


class NamedLicenseUpdatesPaginatedResponse(ResponseModel):
    data: list[NamedLicenseUpdate]
    next_token: str | None = None


def seat_out(seat: NamedSeat, account_id: str) -> NamedLicenseUpdate:
    return NamedLicenseUpdate(
        id=seat.id,
        license_id=seat.license_id,
        account_id=account_id,
        name=seat.name,
        effective_from=seat.effective_from,
        effective_until=seat.effective_until,
        created_at=seat.created_at,
        updated_at=seat.updated_at,
    )
