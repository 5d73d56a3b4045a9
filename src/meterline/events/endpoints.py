"""EventIngestionApi, EventManagementApi (list, get) and the account usage read path."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from meterline.api.deps import api_context, page_params
from meterline.api.errors import error_response
from meterline.api.responses import respond
from meterline.api.routing import UnitOfWorkRoute, keep_writes
from meterline.core.observability import count_events
from meterline.core.pagination import PageRequest
from meterline.core.schemas import UtcDatetime
from meterline.events import schemas, wire
from meterline.events.models import Event as StoredEvent
from meterline.events.service import EventQueryService, Result, UsageService
from meterline.events.statuses import IngestionStatus
from meterline.tenancy.context import Context
from meterline.usecases.events import corrections, ingestion
from meterline.usecases.jobs import request_correction

router = APIRouter(route_class=UnitOfWorkRoute)


async def _body(request: Request) -> bytes:
    return await request.body()


def _error(result: Result) -> schemas.IngestError:
    return schemas.IngestError(
        index=result.index,
        event_id=result.event_id,
        message=result.message or result.status,
        status=result.status,  # type: ignore[arg-type]
    )


@router.post(
    "/ingest",
    status_code=202,
    response_model=schemas.IngestEventResponse,
    tags=["EventIngestion"],
    operation_id="ingest",
    openapi_extra=wire.request_body("IngestEventRequest"),
)
def ingest(body: bytes = Depends(_body), ctx: Context = Depends(api_context)) -> Response:
    """Ingest one event. 202 once it is stored and counted; a rejected event is stored too, with its status, and
    answered 400 (409 for an id already ingested)."""
    result = ingestion(ctx).ingest([wire.decode_event(body)])[0]
    count_events([result.status])
    if not result.accepted:
        # The rejected event is kept in the event log (committed), and the caller gets an error.
        status = 409 if result.status == IngestionStatus.DUPLICATE else 400
        return keep_writes(error_response(status, result.message or result.status))
    return respond(schemas.IngestEventResponse(success=True, status_code=202, code=result.status), 202)


@router.post(
    "/ingestBatch",
    status_code=202,
    response_model=schemas.IngestEventResponse,
    tags=["EventIngestion"],
    operation_id="ingestBatch",
    openapi_extra=wire.request_body("IngestBatchEventRequest"),
    responses={207: {"model": schemas.IngestEventResponse, "description": "Some events were rejected"}},
)
def ingest_batch(body: bytes = Depends(_body), ctx: Context = Depends(api_context)) -> Response:
    """Ingest 1 to 1000 events: 202 when all were accepted, 207 naming the rejected ones in `errors`."""
    results = ingestion(ctx).ingest(wire.decode_batch(body))
    count_events(r.status for r in results)
    rejected = [_error(r) for r in results if not r.accepted]
    if not rejected:
        return respond(
            schemas.IngestEventResponse(success=True, status_code=202, message=f"{len(results)} events accepted"), 202
        )
    return respond(
        schemas.IngestEventResponse(
            success=False,
            status_code=207,
            message=f"{len(results) - len(rejected)} of {len(results)} events accepted; {len(rejected)} rejected",
            details={"errors": [e.model_dump(by_alias=True, exclude_none=True) for e in rejected]},
            errors=rejected,
        ),
        207,
    )


def _with_status(event: StoredEvent) -> dict:
    return {
        "reference_id": event.pk,
        "event_payload": schemas.EventPayload(
            schema_name=event.schema_name,
            id=event.event_id,
            timestamp=event.timestamp,
            account_id=event.account_ref,
            attributes=event.attributes,
            dimensions=event.dimensions,
        ),
        "ingestion_status": schemas.IngestionStatus(status=event.status, status_description=event.status_description),  # type: ignore[arg-type]
        "created_at": event.created_at,
    }


@router.get("/events", response_model=schemas.GetEventsResponse, tags=["EventManagement"], operation_id="getEvents")
def get_events(
    account_id: str | None = Query(None),
    status: Annotated[schemas.IngestionStatusName | None, Query(description="an ingestion status")] = None,
    schema_name: str | None = Query(None),
    start_time: UtcDatetime | None = Query(None, description="Meterline: events with timestamp at or after"),
    end_time: UtcDatetime | None = Query(None, description="Meterline: events with timestamp before"),
    page: PageRequest = Depends(page_params),
    ctx: Context = Depends(api_context),
) -> Response:
    """Events as ingested, newest last. (The SDK cannot parse an empty list: Togai answers the same way.)"""
    service = EventQueryService(ctx)
    result = service.page(
        page, account_id=account_id, status=status, schema_name=schema_name, start=start_time, end=end_time
    )
    return respond(
        schemas.GetEventsResponse(
            events=[schemas.EventWithStatus(**_with_status(e)) for e in result.items],
            next_token=result.next_token,
        )
    )


@router.get(
    "/events/{event_id}",
    response_model=schemas.GetEventResponse,
    tags=["EventManagement"],
    operation_id="getSingleEvent",
)
def get_single_event(event_id: str, ctx: Context = Depends(api_context)) -> Response:
    """Every event stored with this id (a duplicate is stored too), with its pipeline."""
    out = []
    for item in EventQueryService(ctx).pipelines(event_id):
        event, account = item.event, item.account
        info = schemas.EventPipelineInfo(
            event_schema=schemas.PipelineSchema(name=event.schema_name, version=event.schema_version)
            if event.schema_version
            else None,
            usage_meters=[
                schemas.PipelineUsageMeter(
                    id=meter_id,
                    name=name,
                    version=1,
                    units=units,
                    status="PROCESSED_FILTERED_OUT" if units is None else "PROCESSED_UNITS_COMPUTED",
                )
                for meter_id, name, units in item.meters
            ],
            account=schemas.PipelineAccount(
                id=account.id, name=account.name, alias=event.account_ref if event.account_ref != account.id else None
            )
            if account
            else None,
            invoice_currency=account.invoice_currency if account else None,
            enrichments=schemas.PipelineEnrichments.model_validate(event.enrichments) if event.enrichments else None,
        )
        out.append(schemas.EventWithPipeline(**_with_status(event), event_pipeline_info=info))
    return respond(schemas.GetEventResponse(events=out))


@router.get(
    "/accounts/{account_id}/usage",
    response_model=schemas.AccountUsageResponse,
    tags=["Usage"],
    operation_id="getAccountUsage",
)
def get_account_usage(
    account_id: str,
    # Annotated form: with `= Query(...)` FastAPI drops the type's before-validator on a required parameter.
    start: Annotated[UtcDatetime, Query(description="window start, on a 15-minute boundary")],
    end: Annotated[UtcDatetime, Query(description="window end (excluded), on a 15-minute boundary")],
    ctx: Context = Depends(api_context),
) -> Response:
    """Meterline: the account's usage per meter over [start, end), from the rollups (events by timestamp)."""
    usage = UsageService(ctx).of_account(account_id, start, end)
    return respond(
        schemas.AccountUsageResponse(
            account_id=account_id,
            start=start,
            end=end,
            meters=[
                schemas.MeterUsage(
                    usage_meter_id=u.meter_id, name=u.name, aggregation=u.aggregation, usage=u.usage, events=u.events
                )
                for u in usage
            ],
        )
    )


# -- corrections -------------------------------------------------------------------------------------------------


@router.post(
    "/events/correction",
    response_model=schemas.EventsCorrectionResponse,
    tags=["EventManagement"],
    operation_id="eventCorrection",
)
def event_correction(
    action: Annotated[schemas.CorrectionAction, Query(description="UNDO, REDO or REDO_EVENT")],
    require_confirmation: bool | None = Query(
        None, description="true: an EVENT_CORRECTIONS job shows what would change and waits for POST /jobs/{id}/confirm"
    ),
    body: schemas.EventCorrectionRequest | None = None,
    ctx: Context = Depends(api_context),
) -> Response:
    """Correct an accepted event named by `event.id`: UNDO reverts its usage and frees its id; REDO reverts it and
    ingests its payload again; REDO_EVENT reverts it and ingests the corrected `event` of the body. All or nothing.
    With require_confirmation nothing changes yet: the answer describes the event as it stands, with the status the
    correction will have and, in `reason`, the job that waits for confirmation."""
    event = body.event if body is not None else None
    if require_confirmation:
        pending = request_correction(ctx, action, event, expected_reference=None)  # whichever is in force
        expires = pending.job.params["expiresAt"]
        info = schemas.EventCorrectionInfo(
            **_with_status(pending.event),
            status=pending.status,  # type: ignore[arg-type]
            reason=(
                f"waiting for confirmation: job {pending.job.pk} (POST /jobs/{pending.job.pk}/confirm applies it, "
                f"/reject discards it; it expires at {expires}); nothing changed yet"
            ),
        )
        return respond(schemas.EventsCorrectionResponse(data=[info]))
    correction = corrections(ctx).correct(action, event, expected_reference=None)
    info = schemas.EventCorrectionInfo(
        **_with_status(correction.event),
        status=correction.status,  # type: ignore[arg-type]
        reason=correction.reason,
    )
    return respond(schemas.EventsCorrectionResponse(data=[info]))
