"""FeatureApi and EntitlementsApi models, field for field as the SDK has them, Meterline's grant extension, and the
presenters."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal, cast

from pydantic import Field, StringConstraints

from meterline.core.schemas import (
    Number,
    NumberIn,
    PaginationOptions,
    RequestModel,
    ResponseModel,
    UtcDatetime,
    trimmed,
)
from meterline.entitlements.feature_service import Association, FeatureView
from meterline.entitlements.models import Feature as FeatureRow, FeatureCreditEntry as EntryRow
from meterline.entitlements.service import Credits, entry_balance, entry_status
from meterline.metering.schemas import CatalogName

if TYPE_CHECKING:  # a str to the type checker; pydantic gets the checked, trimmed text
    FeatureName = str
else:
    FeatureName = trimmed(1, 255)
MAX_ASSOCIATIONS = 50  # the SDK's SchemaFeature


# -- features ----------------------------------------------------------------------------------------------------
class EventSchemasForFeature(RequestModel):
    schema_name: CatalogName
    attribute_name: Annotated[str, StringConstraints(min_length=1, max_length=50)]

    def pair(self) -> Association:
        return Association(self.schema_name, self.attribute_name)


class CreateFeatureRequest(RequestModel):
    name: FeatureName
    billable_name: FeatureName | None = None
    schema_associations: Annotated[list[EventSchemasForFeature], Field(max_length=MAX_ASSOCIATIONS)]


class UpdateFeatureRequest(RequestModel):
    name: FeatureName | None = None
    billable_name: FeatureName | None = None
    schema_associations: Annotated[list[EventSchemasForFeature], Field(max_length=MAX_ASSOCIATIONS)] | None = None


class EventSchemasForFeatureOut(ResponseModel):
    schema_name: str
    attribute_name: str


class Feature(ResponseModel):
    id: str
    name: str
    billable_name: str | None = None
    display_name: str
    schema_associations: list[EventSchemasForFeatureOut]
    created_at: datetime
    updated_at: datetime | None = None


class FeatureListResponse(ResponseModel):
    id: str
    name: str
    billable_name: str | None = None
    display_name: str
    schema_count: int
    created_at: datetime
    updated_at: datetime | None = None


class FeaturePaginatedListData(ResponseModel):
    data: list[FeatureListResponse]
    next_token: str | None = None
    context: PaginationOptions | None = None


def feature_out(view: FeatureView) -> Feature:
    row = view.feature
    return Feature(
        id=row.pk,
        name=row.name,
        billable_name=row.billable_name,
        display_name=row.billable_name or row.name,
        schema_associations=[
            EventSchemasForFeatureOut(schema_name=a.schema_name, attribute_name=a.attribute_name)
            for a in view.associations
        ],
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def feature_list_out(row: FeatureRow, schema_count: int) -> FeatureListResponse:
    return FeatureListResponse(
        id=row.pk,
        name=row.name,
        billable_name=row.billable_name,
        display_name=row.billable_name or row.name,
        schema_count=schema_count,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


# -- entitlement values ------------------------------------------------------------------------------------------
class ValidateEntitlementValueRequest(RequestModel):
    value: Annotated[str, StringConstraints(max_length=1000)]


class EntitlementValue(ResponseModel):
    feature_id: str
    value: str


class GetEntitlementValuesResponse(ResponseModel):
    data: list[EntitlementValue]


# -- feature credits ---------------------------------------------------------------------------------------------
class GetFeatureCreditsResponse(ResponseModel):
    account_id: str
    feature_id: str
    granted: Number
    balance: Number
    overage_limit: Number | None = None
    used_overage: Number


EntrySourceOut = Literal["ENTITLEMENT", "PRICE_PLAN", "OVERAGE", "REFUND"]
EntryStatusOut = Literal["ACTIVE", "EXPIRED", "VOIDED"]


class FeatureCreditEntry(ResponseModel):
    id: str
    source: EntrySourceOut
    status: EntryStatusOut
    effective_from: datetime
    effective_until: datetime
    granted: Number | None = None
    balance: Number | None = None
    used: Number


class GetFeatureCreditEntriesPaginatedResponse(ResponseModel):
    data: list[FeatureCreditEntry]
    next_token: str | None = None


class UpdateFeatureCreditsRequest(RequestModel):
    effective_until: UtcDatetime | None = None
    granted: NumberIn | None = None


class GrantFeatureCreditsRequest(RequestModel):
    """Meterline's extension (`POST /accounts/{account_id}/features/{feature_id}/entries`): an ENTITLEMENT entry."""

    granted: NumberIn
    effective_from: UtcDatetime | None = None
    effective_until: UtcDatetime | None = None
    idempotency_key: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None


def credits_out(account_id: str, feature_id: str, credits: Credits) -> GetFeatureCreditsResponse:
    return GetFeatureCreditsResponse(
        account_id=account_id,
        feature_id=feature_id,
        granted=credits.granted,
        balance=credits.balance,
        overage_limit=credits.overage_limit,
        used_overage=credits.used_overage,
    )


def entry_out(entry: EntryRow, now: datetime) -> FeatureCreditEntry:
    return FeatureCreditEntry(
        id=entry.entry_id,
        source=cast(EntrySourceOut, entry.source),
        status=cast(EntryStatusOut, entry_status(entry, now)),
        effective_from=entry.starts_at,
        effective_until=entry.ends_at,
        granted=entry.granted,  # None: an OVERAGE entry without a limit
        balance=None if entry.granted is None else entry_balance(entry, now),
        used=entry.used,
    )
