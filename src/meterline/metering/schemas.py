"""Request and response models of EventSchemasApi and UsageMetersApi, field for field as the SDK has them."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AfterValidator, Field, StrictInt, StringConstraints

from meterline.core.schemas import PaginationOptions, RequestModel, ResponseModel
from meterline.metering.enrichments import MAX_DEPENDENCIES, MAX_FIELDS

if TYPE_CHECKING:
    from meterline.metering import models

# Togai's pattern for schema, attribute, dimension and meter names (the SDK checks it on both sides)...
NAME_PATTERN = r"^[\sa-zA-Z0-9_-]*$"
# ...and what Meterline also asks of a name: not blank, plain spaces only, and none at either end, so that
# "calls" and "calls " are never two different things.
_TIDY_NAME = re.compile(r"[a-zA-Z0-9_-]+(?: +[a-zA-Z0-9_-]+)*")


def _tidy_name(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    if not _TIDY_NAME.fullmatch(value):
        raise ValueError(
            "must be letters, digits, '_', '-' and spaces (no tab or line break), with no space at either end"
        )
    return value


CatalogName = Annotated[
    str, StringConstraints(min_length=1, max_length=50, pattern=NAME_PATTERN), AfterValidator(_tidy_name)
]
Description = Annotated[str, StringConstraints(max_length=255)]
Order = Annotated[StrictInt, Field(ge=-(2**31), le=2**31 - 1)]
SchemaStatus = Literal["DRAFT", "ACTIVE", "INACTIVE", "ARCHIVED"]
MeterStatus = Literal["DRAFT", "ACTIVE", "INACTIVE", "ARCHIVED"]
Aggregation = Literal["COUNT", "SUM"]


# -- event schemas ---------------------------------------------------------------------------------------------
class EventAttributeSchema(RequestModel):
    name: CatalogName
    default_unit: Annotated[str, StringConstraints(max_length=10)] | None = None


class DimensionsSchema(RequestModel):
    name: CatalogName


class Dependency(RequestModel):
    type: Literal["SETTING"]
    key: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    name: Annotated[str, StringConstraints(min_length=1, max_length=255)]


class ModelField(RequestModel):
    name: CatalogName
    type: Literal["ATTRIBUTE", "DIMENSION"]
    enrichment_type: Literal["VALUE", "JSON_LOGIC", "JSON_LOGIC_FROM_DEPENDENCY"]
    value: Annotated[str, StringConstraints(max_length=1500)]
    order: Order


class Enrichments(RequestModel):
    # (the limits enrichments.check applies to what the console sends: one limit, whichever path)
    dependencies: Annotated[list[Dependency], Field(max_length=MAX_DEPENDENCIES)] | None = None
    fields: Annotated[list[ModelField], Field(max_length=MAX_FIELDS)]


FilterFields = Annotated[list[Annotated[str, StringConstraints(max_length=50)]], Field(max_length=100)]
EventIdTemplate = Annotated[str, StringConstraints(max_length=1000)]


class CreateEventSchemaRequest(RequestModel):
    name: CatalogName
    description: Description | None = None
    attributes: Annotated[list[EventAttributeSchema], Field(max_length=50)]
    dimensions: Annotated[list[DimensionsSchema], Field(max_length=50)]
    enrichments: Enrichments | None = None
    filter_fields: FilterFields | None = None
    event_id_template: EventIdTemplate | None = None


class UpdateEventSchemaRequest(RequestModel):
    description: Description | None = None
    attributes: Annotated[list[EventAttributeSchema], Field(max_length=50)] | None = None
    dimensions: Annotated[list[DimensionsSchema], Field(max_length=50)] | None = None
    enrichments: Enrichments | None = None
    filter_fields: FilterFields | None = None
    event_id_template: EventIdTemplate | None = None


class FeatureDetails(ResponseModel):
    feature_id: str
    attribute_name: str


class EventSchema(ResponseModel):
    name: str
    description: str | None = None
    version: int
    status: SchemaStatus | None = None
    attributes: list[EventAttributeSchema] | None = None
    dimensions: list[DimensionsSchema] | None = None
    filter_fields: list[str] | None = None
    feature_details: FeatureDetails | None = None
    enrichments: Enrichments | None = None
    event_id_template: str | None = None
    event_level_revenue: bool | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class EventSchemaListData(EventSchema):
    usage_meters_count: int | None = None


class EventSchemaListPaginatedResponse(ResponseModel):
    data: list[EventSchemaListData] | None = None
    next_token: str | None = None
    context: PaginationOptions | None = None


class EventSchemaVersionsResponse(ResponseModel):
    data: list[EventSchema]


# -- usage meters ----------------------------------------------------------------------------------------------
class UsageMeterFilterEntry(RequestModel):
    field: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    value: Annotated[str, StringConstraints(max_length=512)]


class Computation(RequestModel):
    id: Annotated[str, StringConstraints(max_length=50)] | None = None
    matcher: Annotated[str, StringConstraints(max_length=1500)] | None = None
    computation: Annotated[str, StringConstraints(max_length=500)]
    order: Order


Filters = Annotated[list[UsageMeterFilterEntry], Field(max_length=100)]
Computations = Annotated[list[Computation], Field(max_length=100)]
SchemaRef = Annotated[str, StringConstraints(min_length=1, max_length=50)]


class CreateUsageMeterRequest(RequestModel):
    name: CatalogName
    billable_name: Description | None = None
    description: Description | None = None
    filters: Filters | None = None
    type: Literal["COUNTER"]
    aggregation: Aggregation
    computations: Computations | None = None
    # Optional in Togai's SDK; Meterline meters always belong to one event schema.
    event_schema_name: SchemaRef


class UpdateUsageMeterRequest(RequestModel):
    name: CatalogName | None = None
    billable_name: Description | None = None
    description: Description | None = None
    event_schema_name: SchemaRef | None = None
    type: Literal["COUNTER"] | None = None
    aggregation: Aggregation | None = None
    computations: Computations | None = None
    filters: Filters | None = None


class UsageMeter(ResponseModel):
    id: str
    name: str
    billable_name: str | None = None
    display_name: str
    description: str | None = None
    filters: list[UsageMeterFilterEntry] | None = None
    type: Literal["COUNTER"]
    status: MeterStatus | None = None
    aggregation: Aggregation
    computations: Annotated[list[Computation], Field(max_length=1)] | None = None
    event_schema: EventSchema | None = None
    created_at: datetime | None = None
    last_activated_at: datetime | None = None
    updated_at: datetime | None = None


class UsageMeterPaginatedResponse(ResponseModel):
    data: list[UsageMeter] | None = None
    next_token: str | None = None
    context: PaginationOptions | None = None


# -- presenters: stored rows -> response models --------------------------------------------------------------------
def _schema_fields(row: models.EventSchema) -> dict[str, object]:
    return {
        "name": row.name,
        "description": row.description,
        "version": row.version,
        "status": row.status,
        "attributes": [EventAttributeSchema.model_validate(a) for a in row.attributes or []],
        "dimensions": [DimensionsSchema.model_validate(d) for d in row.dimensions or []],
        "filter_fields": row.filter_fields,
        "enrichments": Enrichments.model_validate(row.enrichments) if row.enrichments else None,
        "event_id_template": row.event_id_template,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def event_schema_out(row: models.EventSchema) -> EventSchema:
    return EventSchema(**_schema_fields(row))  # type: ignore[arg-type]


def event_schema_list_out(row: models.EventSchema, usage_meters_count: int) -> EventSchemaListData:
    return EventSchemaListData(**_schema_fields(row), usage_meters_count=usage_meters_count)  # type: ignore[arg-type]


def usage_meter_out(row: models.UsageMeter, schema: models.EventSchema | None = None) -> UsageMeter:
    return UsageMeter(
        id=row.id,
        name=row.name,
        billable_name=row.billable_name,
        display_name=row.billable_name or row.name,
        description=row.description,
        filters=[UsageMeterFilterEntry.model_validate(f) for f in row.filters or []],
        type=row.type,  # type: ignore[arg-type]
        status=row.status,  # type: ignore[arg-type]
        aggregation=row.aggregation,  # type: ignore[arg-type]
        computations=[Computation.model_validate(c) for c in row.computations or []][:1],
        event_schema=event_schema_out(schema) if schema is not None else None,
        created_at=row.created_at,
        last_activated_at=row.last_activated_at,
        updated_at=row.updated_at,
    )
