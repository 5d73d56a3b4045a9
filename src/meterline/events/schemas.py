"""EventIngestionApi and EventManagementApi models, field for field as the SDK has them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from meterline.core.schemas import Number, RequestModel, ResponseModel, UtcDatetime

IngestionStatusName = Literal[
    "INGESTION_IN_PROGRESS",
    "INGESTION_FAILED",
    "INGESTION_FAILED_SCHEMA_NOT_DEFINED",
    "INGESTION_FAILED_ENRICHMENT_FAILED",
    "INGESTION_FAILED_UNITS_INVALID",
    "INGESTION_COMPLETED_NO_MATCHING_METERS",
    "INGESTION_COMPLETED_EVENT_METERED",
    "INGESTION_COMPLETED_EVENT_NOT_METERED",
    "INGESTION_FAILED_PAST_GRACE_PERIOD",
    "INGESTION_FAILED_ACCOUNT_NOT_FOUND",
    "INGESTION_FAILED_DUPLICATE_EVENT",
    "INGESTION_FAILED_NO_EVENT_ID",
    "INGESTION_FAILED_INVALID_NAMED_LICENSE_EVENT",
    "INGESTION_FAILED_INSUFFICIENT_CREDITS",
    "REVERTED",
    "UNKNOWN",
]


class Attribute(RequestModel):
    name: Annotated[str, StringConstraints(min_length=1, max_length=50)]
    # The decimal pattern is checked per event (a bad value fails that event, not the whole batch).
    value: Annotated[str, StringConstraints(max_length=1100)]
    unit: Annotated[str, StringConstraints(min_length=1, max_length=50)] | None = None


class IngestError(ResponseModel):
    index: int
    event_id: str | None = None
    status: IngestionStatusName
    message: str


class IngestEventResponse(ResponseModel):
    success: bool | None = None
    status_code: int | None = None
    name: str | None = None
    message: str | None = None
    code: str | None = None
    details: dict[str, Any] | None = None
    # D6: a partly rejected batch (207) names the rejected events here; `details.errors` repeats them for SDK users.
    errors: list[IngestError] | None = None


# -- events as ingested --------------------------------------------------------------------------------------------
class EventPayload(ResponseModel):
    schema_name: str
    id: str | None = None
    timestamp: datetime
    account_id: str
    attributes: list[dict[str, str]]
    dimensions: dict[str, str]


class IngestionStatus(ResponseModel):
    status: IngestionStatusName
    status_description: str | None = None


class EventWithStatus(ResponseModel):
    reference_id: str
    event_payload: EventPayload
    ingestion_status: IngestionStatus
    customer_id: str | None = None
    created_at: datetime


class GetEventsResponse(ResponseModel):
    events: list[EventWithStatus]
    next_token: str | None = None


class PipelineSchema(ResponseModel):
    name: str
    version: int


class PipelineUsageMeter(ResponseModel):
    id: str
    name: str
    version: int
    status: Literal["PROCESSED_FILTERED_OUT", "PROCESSED_UNITS_COMPUTED"]
    units: Number | None = None


class PipelineAccount(ResponseModel):
    id: str
    name: str
    alias: str | None = None


class PipelineCustomer(ResponseModel):
    id: str
    name: str


class EnrichedField(ResponseModel):
    name: str
    type: Literal["ATTRIBUTE", "DIMENSION"]
    value: str


class EnrichmentDependency(ResponseModel):
    key: str
    type: Literal["SETTING"]
    name: str | None = None
    value: str


class PipelineEnrichments(ResponseModel):
    """What the schema's enrichments derived, and the settings they read (Togai's EventPipelineInfoEnrichments)."""

    attributes: list[EnrichedField] | None = None
    dimensions: list[EnrichedField] | None = None
    dependencies: list[EnrichmentDependency] | None = None


class EventPipelineInfo(ResponseModel):
    event_schema: PipelineSchema | None = None
    usage_meters: list[PipelineUsageMeter] | None = None
    account: PipelineAccount | None = None
    customer: PipelineCustomer | None = None
    enrichments: PipelineEnrichments | None = None
    invoice_currency: str | None = None


class EventWithPipeline(EventWithStatus):
    event_pipeline_info: EventPipelineInfo


class GetEventResponse(ResponseModel):
    events: list[EventWithPipeline]


# -- usage (a Meterline addition) ------------------------------------------------------------------------------
class MeterUsage(ResponseModel):
    usage_meter_id: str
    name: str
    aggregation: str
    usage: Number
    events: int


class AccountUsageResponse(ResponseModel):
    account_id: str
    start: datetime
    end: datetime
    meters: list[MeterUsage]


# -- corrections (EventManagementApi.event_correction) ---------------------------------------------------------
CorrectionAction = Literal["UNDO", "REDO", "REDO_EVENT"]


class CorrectionEvent(RequestModel):
    """Togai's `Event`, with only `id` required: it names the event to correct. UNDO and REDO read nothing else;
    REDO_EVENT takes the whole corrected payload (the SDK always sends every field)."""

    schema_name: Annotated[str, StringConstraints(min_length=1, max_length=50)] | None = None
    id: Annotated[str, StringConstraints(min_length=1, max_length=512)]
    timestamp: UtcDatetime | None = None
    account_id: Annotated[str, StringConstraints(min_length=1, max_length=512)] | None = None
    attributes: Annotated[list[Attribute], Field(max_length=10)] | None = None
    dimensions: (
        Annotated[
            dict[
                Annotated[str, StringConstraints(min_length=1, max_length=50)],
                Annotated[str, StringConstraints(min_length=1, max_length=200)],
            ],
            Field(max_length=50),
        ]
        | None
    ) = None  # the limits of events/wire.py's Event


class EventCorrectionRequest(RequestModel):
    event: CorrectionEvent | None = None


class EventCorrectionInfo(EventWithStatus):
    status: Literal["REVERTED", "REVERTED_AND_REINGESTED", "FAILED"]
    reason: str


class EventsCorrectionResponse(ResponseModel):
    data: list[EventCorrectionInfo]
