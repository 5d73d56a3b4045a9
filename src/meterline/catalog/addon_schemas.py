"""AddOnsApi models, field for field as the SDK has them."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from meterline.catalog.models import AddOn as StoredAddOn
from meterline.core.schemas import PaginationOptions, RequestModel, ResponseModel, trimmed

AddOnType = Literal["LICENSE", "FIXED_FEE", "CREDIT_GRANT", "NAMED_LICENSE"]
if TYPE_CHECKING:  # a str to the type checker; pydantic gets the checked, trimmed text
    AddOnName = str
else:
    AddOnName = trimmed(1, 255)


class CreateAddOnRequest(RequestModel):
    name: AddOnName
    type: AddOnType
    billable_name: AddOnName | None = None


class UpdateAddOnRequest(RequestModel):
    name: AddOnName | None = None
    billable_name: AddOnName | None = None


class AddOn(ResponseModel):
    name: str
    type: AddOnType
    billable_name: str | None = None
    id: str
    created_at: datetime
    status: Literal["ACTIVE", "ARCHIVED"]
    display_name: str


class AddOnPaginatedResponse(ResponseModel):
    data: list[AddOn]
    next_token: str | None = None
    context: PaginationOptions | None = None


def addon_out(addon: StoredAddOn) -> AddOn:
    return AddOn(
        name=addon.name,
        billable_name=addon.billable_name,
        id=addon.id,
        created_at=addon.created_at,
        type=addon.type,  # type: ignore[arg-type]  # stored text, one of AddOnType
        status=addon.status,  # type: ignore[arg-type]  # stored text, ACTIVE or ARCHIVED
        display_name=addon.billable_name or addon.name,
    )
