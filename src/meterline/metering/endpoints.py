"""EventSchemasApi and UsageMetersApi: thin routes over EventSchemaService and UsageMeterService."""

from __future__ import annotations

from enum import Enum

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from meterline.api.deps import api_context, page_params
from meterline.api.responses import respond
from meterline.api.routing import UnitOfWorkRoute
from meterline.core.pagination import PageRequest
from meterline.core.schemas import BaseSuccessResponse, PaginationOptions
from meterline.metering import schemas
from meterline.metering.meter_service import UsageMeterService
from meterline.metering.schema_service import EventSchemaService
from meterline.tenancy.context import Context

router = APIRouter(route_class=UnitOfWorkRoute)
SCHEMAS: list[str | Enum] = ["EventSchemas"]  # FastAPI takes tags as list[str | Enum]
METERS: list[str | Enum] = ["UsageMeters"]  # FastAPI takes tags as list[str | Enum]
MAX_VERSION = 2**31 - 1


# -- event schemas -------------------------------------------------------------------------------------------------
@router.post(
    "/event_schema",
    status_code=201,
    response_model=schemas.EventSchema,
    tags=SCHEMAS,
    operation_id="createEventSchema",
)
def create_event_schema(body: schemas.CreateEventSchemaRequest, ctx: Context = Depends(api_context)) -> Response:
    """Create a schema: DRAFT, version 1. Its name is unique in the organization (409), even after a delete."""
    return respond(schemas.event_schema_out(EventSchemaService(ctx).create(body)), 201)


@router.get(
    "/event_schema",
    response_model=schemas.EventSchemaListPaginatedResponse,
    tags=SCHEMAS,
    operation_id="listEventSchemas",
)
def list_event_schemas(
    status: str | None = Query(
        None, description="DRAFT, ACTIVE, INACTIVE or ARCHIVED (the deleted schemas); default: every schema not deleted"
    ),
    page: PageRequest = Depends(page_params),
    ctx: Context = Depends(api_context),
) -> Response:
    """Schemas (each as its newest version) in creation order, with the number of meters that use them."""
    service = EventSchemaService(ctx)
    result = service.page(page, status)
    counts = service.meter_counts(result.items)
    return respond(
        schemas.EventSchemaListPaginatedResponse(
            data=[schemas.event_schema_list_out(row, counts.get(row.id, 0)) for row in result.items],
            next_token=result.next_token,
            context=PaginationOptions(page_size=result.size),
        )
    )


@router.get(
    "/event_schema/{event_schema_name}",
    response_model=schemas.EventSchema,
    tags=SCHEMAS,
    operation_id="getEventSchema",
)
def get_event_schema(
    event_schema_name: str,
    version: int | None = Query(None, ge=1, le=MAX_VERSION, description="a version; default the newest"),
    ctx: Context = Depends(api_context),
) -> Response:
    return respond(schemas.event_schema_out(EventSchemaService(ctx).get(event_schema_name, version)))


@router.get(
    "/event_schema/{event_schema_name}/versions",
    response_model=schemas.EventSchemaVersionsResponse,
    tags=SCHEMAS,
    operation_id="listEventSchemaVersions",
)
def list_event_schema_versions(event_schema_name: str, ctx: Context = Depends(api_context)) -> Response:
    """Every version, oldest first."""
    rows = EventSchemaService(ctx).versions(event_schema_name)
    return respond(schemas.EventSchemaVersionsResponse(data=[schemas.event_schema_out(r) for r in rows]))


@router.patch(
    "/event_schema/{event_schema_name}",
    response_model=schemas.EventSchema,
    tags=SCHEMAS,
    operation_id="updateEventSchema",
)
def update_event_schema(
    event_schema_name: str, body: schemas.UpdateEventSchemaRequest, ctx: Context = Depends(api_context)
) -> Response:
    """Edit a DRAFT schema in place; editing an ACTIVE one makes a new ACTIVE version that may only add attributes
    and dimensions. Fields left out stay as they are."""
    return respond(schemas.event_schema_out(EventSchemaService(ctx).update(event_schema_name, body)))


@router.post(
    "/event_schema/{event_schema_name}/activate",
    response_model=schemas.EventSchema,
    tags=SCHEMAS,
    operation_id="activateEventSchema",
)
def activate_event_schema(event_schema_name: str, ctx: Context = Depends(api_context)) -> Response:
    """DRAFT or INACTIVE -> ACTIVE: events of the schema are accepted."""
    return respond(schemas.event_schema_out(EventSchemaService(ctx).activate(event_schema_name)))


@router.post(
    "/event_schema/{event_schema_name}/deactivate",
    response_model=schemas.EventSchema,
    tags=SCHEMAS,
    operation_id="deactivateEventSchema",
)
def deactivate_event_schema(event_schema_name: str, ctx: Context = Depends(api_context)) -> Response:
    """ACTIVE -> INACTIVE; refused while an ACTIVE usage meter uses the schema."""
    return respond(schemas.event_schema_out(EventSchemaService(ctx).deactivate(event_schema_name)))


@router.delete(
    "/event_schema/{event_schema_name}",
    response_model=BaseSuccessResponse,
    tags=SCHEMAS,
    operation_id="deleteEventSchema",
)
def delete_event_schema(event_schema_name: str, ctx: Context = Depends(api_context)) -> Response:
    """Archive the schema (readable by name, listed with status=ARCHIVED); refused while an ACTIVE meter uses it."""
    EventSchemaService(ctx).delete(event_schema_name)
    return respond(BaseSuccessResponse(success=True))


# -- usage meters --------------------------------------------------------------------------------------------------
def _meter(service: UsageMeterService, meter_id: str, *, include_schema: bool = False) -> Response:
    meter = service.get(meter_id)
    return respond(schemas.usage_meter_out(meter, service.schema_of(meter) if include_schema else None))


@router.post(
    "/usage_meters", status_code=201, response_model=schemas.UsageMeter, tags=METERS, operation_id="createUsageMeter"
)
def create_usage_meter(body: schemas.CreateUsageMeterRequest, ctx: Context = Depends(api_context)) -> Response:
    """Create a DRAFT meter of an event schema. COUNT takes the computation "1" (the default); SUM needs one."""
    return respond(schemas.usage_meter_out(UsageMeterService(ctx).create(body)), 201)


@router.get(
    "/usage_meters",
    response_model=schemas.UsageMeterPaginatedResponse,
    tags=METERS,
    operation_id="getUsageMetersForEventSchema",
)
def get_usage_meters_for_event_schema(
    status: str | None = Query(
        None,
        description="DRAFT, ACTIVE, INACTIVE or ARCHIVED, or several comma-separated; default: every meter not deleted",
    ),
    aggregations: str | None = Query(None, description="COUNT, SUM or COUNT,SUM"),
    page: PageRequest = Depends(page_params),
    ctx: Context = Depends(api_context),
) -> Response:
    """Meters in creation order."""
    result = UsageMeterService(ctx).page(page, status, aggregations)
    return respond(
        schemas.UsageMeterPaginatedResponse(
            data=[schemas.usage_meter_out(m) for m in result.items],
            next_token=result.next_token,
            context=PaginationOptions(page_size=result.size),
        )
    )


@router.get(
    "/usage_meters/{usage_meter_id}", response_model=schemas.UsageMeter, tags=METERS, operation_id="getUsageMeter"
)
def get_usage_meter(
    usage_meter_id: str,
    include_schema: bool | None = Query(None, alias="includeSchema", description="embed the event schema"),
    ctx: Context = Depends(api_context),
) -> Response:
    return _meter(UsageMeterService(ctx), usage_meter_id, include_schema=bool(include_schema))


@router.patch(
    "/usage_meters/{usage_meter_id}", response_model=schemas.UsageMeter, tags=METERS, operation_id="updateUsageMeter"
)
def update_usage_meter(
    usage_meter_id: str, body: schemas.UpdateUsageMeterRequest, ctx: Context = Depends(api_context)
) -> Response:
    """A DRAFT meter takes any change; an ACTIVE or INACTIVE one only name, billableName and description."""
    service = UsageMeterService(ctx)
    service.update(usage_meter_id, body)
    return _meter(service, usage_meter_id)


@router.post(
    "/usage_meters/{usage_meter_id}/activate",
    response_model=schemas.UsageMeter,
    tags=METERS,
    operation_id="activateUsageMeter",
)
def activate_usage_meter(usage_meter_id: str, ctx: Context = Depends(api_context)) -> Response:
    """DRAFT or INACTIVE -> ACTIVE (its schema must be ACTIVE): events of the schema feed it from now on."""
    service = UsageMeterService(ctx)
    service.activate(usage_meter_id)
    return _meter(service, usage_meter_id)


@router.post(
    "/usage_meters/{usage_meter_id}/deactivate",
    response_model=schemas.UsageMeter,
    tags=METERS,
    operation_id="deactivateUsageMeter",
)
def deactivate_usage_meter(usage_meter_id: str, ctx: Context = Depends(api_context)) -> Response:
    """ACTIVE -> INACTIVE: events no longer feed it."""
    service = UsageMeterService(ctx)
    service.deactivate(usage_meter_id)
    return _meter(service, usage_meter_id)


@router.delete(
    "/usage_meters/{usage_meter_id}", response_model=BaseSuccessResponse, tags=METERS, operation_id="deleteUsageMeter"
)
def delete_usage_meter(usage_meter_id: str, ctx: Context = Depends(api_context)) -> Response:
    """Archive a DRAFT or INACTIVE meter (deactivate an ACTIVE one first); its name becomes free."""
    UsageMeterService(ctx).delete(usage_meter_id)
    return respond(BaseSuccessResponse(success=True))
