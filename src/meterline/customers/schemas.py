"""Request and response models of CustomersApi, field for field as the SDK has them."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, StrictBool, StringConstraints

from meterline.accounts.schemas import Account, CreateAccountRequestWithoutCustomerId, setting_out
from meterline.core.schemas import (
    Address,
    AddressOut,
    CreateEntitySetting,
    Email,
    ExternalId,
    Name,
    PaginationOptions,
    RequestModel,
    ResponseModel,
    format_address,
)

if TYPE_CHECKING:
    from meterline.customers import models
    from meterline.settings.models import EntitySetting


class CreateCustomerRequest(RequestModel):
    id: ExternalId
    name: Name
    primary_email: Email
    address: Address
    settings: Annotated[list[CreateEntitySetting], Field(max_length=10)] | None = None
    account: CreateAccountRequestWithoutCustomerId | None = None


class UpdateCustomerRequest(RequestModel):
    name: Name | None = None
    primary_email: Email | None = None
    address: Address | None = None


class CreateCustomerResponse(ResponseModel):
    id: str
    togai_customer_id: str
    name: str
    primary_email: str
    billing_address: str | None = None
    address: AddressOut | None = None
    settings: list[CreateEntitySetting] | None = None
    account: Account | None = None


class Customer(ResponseModel):
    id: str
    togai_customer_id: str
    name: str
    primary_email: str
    billing_address: str
    address: AddressOut
    status: Literal["ACTIVE", "ARCHIVED"]
    created_at: datetime
    updated_at: datetime


class CustomerPaginatedResponse(ResponseModel):
    data: list[Customer]
    next_token: str | None = None
    context: PaginationOptions | None = None


class CreateCustomerContactRequest(RequestModel):
    preferred_username: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{3,50}$")] | None = None
    name: Annotated[str, StringConstraints(min_length=1, max_length=50)]
    password: Annotated[str, StringConstraints(min_length=8, max_length=100)] | None = None
    email: Annotated[str, StringConstraints(max_length=320, pattern=r"^\S+@\S+\.\S+$")]
    phone: Annotated[str, StringConstraints(max_length=20)] | None = None
    verified: StrictBool | None = None
    login_access: StrictBool = False


class CreateCustomerContactResponse(ResponseModel):
    username: str
    preferred_username: str | None = None
    name: str
    email: str | None = None
    phone: str | None = None
    login_access: bool
    created_by: str | None = None
    created_at: datetime
    verified: bool


# -- presenters: stored rows -> response models --------------------------------------------------------------------
def customer_out(row: models.Customer) -> Customer:
    return Customer(
        id=row.id,
        togai_customer_id=row.pk,
        name=row.name,
        primary_email=row.primary_email,
        billing_address=format_address(row.address),
        address=AddressOut.model_validate(row.address or {}),
        status=row.status,  # type: ignore[arg-type]
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def created_customer_out(
    row: models.Customer, account: Account, settings: list[EntitySetting]
) -> CreateCustomerResponse:
    customer = customer_out(row)
    return CreateCustomerResponse(
        **{
            name: getattr(customer, name)
            for name in CreateCustomerResponse.model_fields
            if name in Customer.model_fields
        },
        settings=[setting_out(s) for s in settings] or None,
        account=account,
    )


def contact_out(row: models.CustomerContact) -> CreateCustomerContactResponse:
    return CreateCustomerContactResponse(
        username=row.username,
        preferred_username=row.preferred_username,
        name=row.name,
        email=row.email,
        phone=row.phone,
        login_access=row.login_access,
        created_by=row.created_by,
        created_at=row.created_at,
        verified=row.verified,
    )
