"""Request and response models of AccountsApi and AliasesApi, field for field as the SDK has them."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, StringConstraints

from meterline.core.schemas import (
    Address,
    AddressOut,
    CreateEntitySetting,
    CurrencyCode,
    Days,
    Email,
    ExternalId,
    Name,
    PaginationOptions,
    RequestModel,
    ResponseModel,
    UtcDatetime,
)

if TYPE_CHECKING:
    from meterline.accounts import models
    from meterline.accounts.models import AccountView
    from meterline.settings.models import EntitySetting

AliasValue = Annotated[str, StringConstraints(min_length=3, max_length=50, pattern=r"^[^\s/\\?#]+$")]
RegistryAliasValue = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^[^\s/\\?#]+$")]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=255)]


class CreateAccountAliasRequest(RequestModel):
    value: AliasValue
    effective_from: UtcDatetime | None = None
    effective_until: UtcDatetime | None = None


class AccountsBillingInformation(RequestModel):
    email_recipients: list[Annotated[str, StringConstraints(max_length=320)]] | None = None
    additional_email_recipients: list[Annotated[str, StringConstraints(max_length=320)]] | None = None


class CreateAccountRequestWithoutCustomerId(RequestModel):
    id: ExternalId
    name: Name
    invoice_currency: CurrencyCode | None = None
    aliases: Annotated[list[AliasValue], Field(max_length=10)] | None = None
    account_aliases: Annotated[list[CreateAccountAliasRequest], Field(max_length=10)] | None = None
    address: Address | None = None
    primary_email: Email | None = None
    billing_information: AccountsBillingInformation | None = None
    settings: Annotated[list[CreateEntitySetting], Field(max_length=10)] | None = None
    net_term_days: Days | None = None
    metadata: dict[str, str] | None = None
    tags: list[Tag] | None = None
    status: Literal["ACTIVE", "DRAFT"] | None = None


class CreateAccountRequest(CreateAccountRequestWithoutCustomerId):
    customer_id: Annotated[str, StringConstraints(min_length=1, max_length=255)]


class UpdateAccountRequest(RequestModel):
    name: Name | None = None
    status: Literal["ACTIVE", "DRAFT"] | None = None
    invoice_currency: CurrencyCode | None = None
    net_term_days: Days | None = None
    primary_email: Email | None = None
    billing_information: AccountsBillingInformation | None = None
    address: Address | None = None
    metadata: dict[str, str] | None = None
    tags: list[Tag] | None = None


class AddAccountAliasesRequest(RequestModel):
    aliases: Annotated[list[AliasValue], Field(min_length=1, max_length=10)] | None = None
    account_aliases: Annotated[list[CreateAccountAliasRequest], Field(min_length=1, max_length=10)] | None = None


class RemoveAccountAliasRequest(RequestModel):
    id: str
    from_: UtcDatetime | None = Field(default=None, alias="from")


class RemoveAccountAliasesRequest(RequestModel):
    aliases: list[str] | None = None
    account_aliases: list[RemoveAccountAliasRequest] | None = None


class AccountAliases(ResponseModel):
    alias: str


class InvoiceGroupDetails(ResponseModel):
    id: str
    name: str
    email: str
    daily_invoice_consolidation: bool
    net_term_days: int | None = None
    invoice_currency: str
    billing_address: AddressOut


class Account(ResponseModel):
    id: str
    togai_account_id: str
    togai_customer_id: str
    name: str
    customer_id: str
    invoice_currency: str | None = None
    aliases: list[AccountAliases] | None = None
    net_term_days: int | None = None
    address: AddressOut | None = None
    primary_email: str | None = None
    billing_information: AccountsBillingInformation | None = None
    status: Literal["ACTIVE", "DRAFT", "ARCHIVED"]
    settings: list[CreateEntitySetting] | None = None
    invoice_group_details: InvoiceGroupDetails | None = None
    metadata: dict[str, str] | None = None
    tags: list[str] | None = None


class AccountPaginatedResponse(ResponseModel):
    data: list[Account]
    next_token: str | None = None
    context: PaginationOptions | None = None


class AccountAlias(ResponseModel):
    id: str
    value: str
    effective_from: datetime
    effective_until: datetime
    created_at: datetime
    updated_at: datetime | None = None


class AccountAliasesPaginatedResponse(ResponseModel):
    data: list[AccountAlias]
    next_token: str | None = None


class CreateAliasRequest(RequestModel):
    value: RegistryAliasValue


class CreateBulkAliasRequest(RequestModel):
    aliases: Annotated[list[CreateAliasRequest], Field(min_length=1, max_length=100)]


class Alias(ResponseModel):
    value: str
    created_at: datetime


class AliasPaginatedResponse(ResponseModel):
    data: list[Alias]
    next_token: str | None = None


# -- presenters: stored rows -> response models --------------------------------------------------------------------
def setting_out(row: EntitySetting) -> CreateEntitySetting:
    return CreateEntitySetting(
        id=row.id,
        value=row.value,
        namespace=row.namespace,
        name=row.name,
        data_type=row.data_type,  # type: ignore[arg-type]
    )


def account_out(view: AccountView) -> Account:
    a, customer = view.account, view.customer
    return Account(
        id=a.id,
        togai_account_id=a.pk,
        togai_customer_id=customer.pk,
        name=a.name,
        customer_id=customer.id,
        invoice_currency=a.invoice_currency,
        aliases=[AccountAliases(alias=row.value) for row in view.aliases],  # at most 10 at any instant
        net_term_days=a.net_term_days,
        address=AddressOut.model_validate(a.address) if a.address else None,
        primary_email=a.primary_email,
        billing_information=(
            AccountsBillingInformation.model_validate(a.billing_information) if a.billing_information else None
        ),
        status=a.status,  # type: ignore[arg-type]
        settings=[setting_out(s) for s in view.settings][:10] or None,
        metadata=a.metadata_,
        tags=a.tags,
    )


def account_alias_out(row: models.AccountAlias) -> AccountAlias:
    return AccountAlias(
        id=row.id,
        value=row.value,
        effective_from=row.effective_from,
        effective_until=row.effective_until,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def alias_out(row: models.Alias) -> Alias:
    return Alias(value=row.value, created_at=row.created_at)
