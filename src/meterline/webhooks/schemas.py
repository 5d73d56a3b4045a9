"""Request and response models of the webhooks API (a Meterline extension: the SDK has no WebhooksApi)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field, StrictBool

from meterline.core.schemas import RequestModel, ResponseModel, UtcDatetime
from meterline.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookMessage


class CreateWebhookEndpointRequest(RequestModel):
    url: str = Field(max_length=2000)
    event_types: list[str] = Field(max_length=100)
    description: str | None = Field(default=None, max_length=500)


class UpdateWebhookEndpointRequest(RequestModel):
    url: str | None = Field(default=None, max_length=2000)
    event_types: list[str] | None = Field(default=None, max_length=100)
    description: str | None = Field(default=None, max_length=500)
    enabled: StrictBool | None = None


class ReplayRequest(RequestModel):
    since: UtcDatetime  # without an offset: UTC, as every date-time of the API
    until: UtcDatetime | None = None
    only_failed: StrictBool = True


class WebhookEndpointOut(ResponseModel):
    id: str
    url: str
    description: str | None = None
    event_types: list[str]
    status: str
    disabled_reason: str | None = None
    secret_rotated_until: datetime | None = None  # the previous secret signs too until then
    failing_since: datetime | None = None
    created_at: datetime
    updated_at: datetime


class WebhookEndpointWithSecret(WebhookEndpointOut):
    secret: str  # shown once: at creation and at rotation


class ListWebhookEndpointsResponse(ResponseModel):
    data: list[WebhookEndpointOut]
    next_token: str | None = None


class WebhookAttemptOut(ResponseModel):
    attempted_at: datetime
    status_code: int | None = None
    duration_ms: int
    error: str | None = None


class WebhookDeliveryOut(ResponseModel):
    id: str
    endpoint_id: str
    message_id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime | None = None
    last_attempt_at: datetime | None = None
    last_status_code: int | None = None
    created_at: datetime


class WebhookDeliveryDetails(WebhookDeliveryOut):
    payload: dict[str, Any]
    attempt_log: list[WebhookAttemptOut]


class ListWebhookDeliveriesResponse(ResponseModel):
    data: list[WebhookDeliveryOut]
    next_token: str | None = None


class ReplayResponse(ResponseModel):
    replayed: int


class EventTypesResponse(ResponseModel):
    data: list[str]


def endpoint_out(e: WebhookEndpoint, now: datetime) -> WebhookEndpointOut:
    overlap = e.previous_secret_until if e.previous_secret_until and e.previous_secret_until > now else None
    return WebhookEndpointOut(
        id=e.pk,
        url=e.url,
        description=e.description,
        event_types=list(e.event_types),
        status=e.status,
        disabled_reason=e.disabled_reason,
        secret_rotated_until=overlap,
        failing_since=e.failing_since,
        created_at=e.created_at,
        updated_at=e.updated_at,
    )


def with_secret(e: WebhookEndpoint, secret: str, now: datetime) -> WebhookEndpointWithSecret:
    return WebhookEndpointWithSecret(**endpoint_out(e, now).model_dump(), secret=secret)


def delivery_out(d: WebhookDelivery, m: WebhookMessage) -> WebhookDeliveryOut:
    return WebhookDeliveryOut(
        id=d.pk,
        endpoint_id=d.endpoint_pk,
        message_id=m.pk,
        event_type=m.event_type,
        status=d.status,
        attempts=d.attempts,
        next_attempt_at=d.next_attempt_at,
        last_attempt_at=d.last_attempt_at,
        last_status_code=d.last_status_code,
        created_at=d.created_at,
    )


def attempt_out(a: WebhookAttempt) -> WebhookAttemptOut:
    return WebhookAttemptOut(
        attempted_at=a.attempted_at, status_code=a.status_code, duration_ms=a.duration_ms, error=a.error
    )
