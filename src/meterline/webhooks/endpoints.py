"""The webhooks API (a Meterline extension, docs/webhooks.md): endpoints, their secrets, deliveries and replays.
Thin routes over WebhookService."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from meterline.api.deps import api_context, page_params
from meterline.api.responses import respond
from meterline.api.routing import UnitOfWorkRoute
from meterline.core import text
from meterline.core.pagination import PageRequest
from meterline.core.schemas import BaseSuccessResponse
from meterline.tenancy.context import Context
from meterline.usecases import webhooks
from meterline.webhooks import schemas
from meterline.webhooks.service import WebhookService
from meterline.webhooks.statuses import EVENT_TYPES, DeliveryStatus

router = APIRouter(route_class=UnitOfWorkRoute, tags=["Webhooks (Meterline)"])


@router.get("/webhooks/event_types", response_model=schemas.EventTypesResponse, operation_id="listWebhookEventTypes")
def list_event_types(ctx: Context = Depends(api_context)) -> Response:
    return respond(schemas.EventTypesResponse(data=list(EVENT_TYPES)))


@router.post(
    "/webhooks/endpoints",
    response_model=schemas.WebhookEndpointWithSecret,
    status_code=201,
    operation_id="createWebhookEndpoint",
)
def create_endpoint(body: schemas.CreateWebhookEndpointRequest, ctx: Context = Depends(api_context)) -> Response:
    """A new endpoint; the answer holds its secret, shown this once."""
    endpoint, secret = webhooks.create_endpoint(ctx, body.url, body.event_types, body.description)
    return respond(schemas.with_secret(endpoint, secret, ctx.now), 201)


@router.get(
    "/webhooks/endpoints", response_model=schemas.ListWebhookEndpointsResponse, operation_id="listWebhookEndpoints"
)
def list_endpoints(page: PageRequest = Depends(page_params), ctx: Context = Depends(api_context)) -> Response:
    result = WebhookService(ctx).page(page)
    return respond(
        schemas.ListWebhookEndpointsResponse(
            data=[schemas.endpoint_out(e, ctx.now) for e in result.items], next_token=result.next_token
        )
    )


@router.get(
    "/webhooks/endpoints/{endpoint_id}", response_model=schemas.WebhookEndpointOut, operation_id="getWebhookEndpoint"
)
def get_endpoint(endpoint_id: str, ctx: Context = Depends(api_context)) -> Response:
    return respond(schemas.endpoint_out(WebhookService(ctx).get(endpoint_id), ctx.now))


@router.patch(
    "/webhooks/endpoints/{endpoint_id}",
    response_model=schemas.WebhookEndpointOut,
    operation_id="updateWebhookEndpoint",
)
def update_endpoint(
    endpoint_id: str, body: schemas.UpdateWebhookEndpointRequest, ctx: Context = Depends(api_context)
) -> Response:
    """Change the URL, event types or description; `enabled` false disables it, true enables it again."""
    endpoint = WebhookService(ctx).update(
        endpoint_id, url=body.url, event_types=body.event_types, description=body.description, enabled=body.enabled
    )
    return respond(schemas.endpoint_out(endpoint, ctx.now))


@router.delete(
    "/webhooks/endpoints/{endpoint_id}", response_model=BaseSuccessResponse, operation_id="deleteWebhookEndpoint"
)
def delete_endpoint(endpoint_id: str, ctx: Context = Depends(api_context)) -> Response:
    WebhookService(ctx).delete(endpoint_id)
    return respond(BaseSuccessResponse(success=True))


@router.post(
    "/webhooks/endpoints/{endpoint_id}/rotate_secret",
    response_model=schemas.WebhookEndpointWithSecret,
    operation_id="rotateWebhookEndpointSecret",
)
def rotate_secret(endpoint_id: str, ctx: Context = Depends(api_context)) -> Response:
    """A new secret, shown this once; the previous one keeps signing until `secretRotatedUntil`."""
    endpoint, secret = WebhookService(ctx).rotate_secret(endpoint_id)
    return respond(schemas.with_secret(endpoint, secret, ctx.now))


@router.get(
    "/webhooks/endpoints/{endpoint_id}/deliveries",
    response_model=schemas.ListWebhookDeliveriesResponse,
    operation_id="listWebhookDeliveries",
)
def list_deliveries(
    endpoint_id: str,
    status: Annotated[DeliveryStatus | None, Query()] = None,
    page: PageRequest = Depends(page_params),
    ctx: Context = Depends(api_context),
) -> Response:
    """The endpoint's delivery log, newest first."""
    result = WebhookService(ctx).deliveries(endpoint_id, page, status)
    return respond(
        schemas.ListWebhookDeliveriesResponse(
            data=[schemas.delivery_out(d, m) for d, m in result.items], next_token=result.next_token
        )
    )


@router.post(
    "/webhooks/endpoints/{endpoint_id}/replay",
    response_model=schemas.ReplayResponse,
    operation_id="replayWebhookMessages",
)
def replay_range(endpoint_id: str, body: schemas.ReplayRequest, ctx: Context = Depends(api_context)) -> Response:
    """Send again the messages of the endpoint's deliveries made from `since` to before `until` (default now):
    those never delivered, or all with onlyFailed false."""
    count = WebhookService(ctx).replay_range(endpoint_id, body.since, body.until, body.only_failed)
    return respond(schemas.ReplayResponse(replayed=count))


@router.get(
    "/webhooks/deliveries/{delivery_id}",
    response_model=schemas.WebhookDeliveryDetails,
    operation_id="getWebhookDelivery",
)
def get_delivery(delivery_id: str, ctx: Context = Depends(api_context)) -> Response:
    """One delivery with its payload and every attempt."""
    view = WebhookService(ctx).delivery(delivery_id)
    out = schemas.delivery_out(view.delivery, view.message)
    return respond(
        schemas.WebhookDeliveryDetails(
            **out.model_dump(),
            payload=text.parse_json(view.message.payload, where="payload"),
            attempt_log=[schemas.attempt_out(a) for a in view.attempts],
        )
    )


@router.post(
    "/webhooks/deliveries/{delivery_id}/replay",
    response_model=schemas.WebhookDeliveryOut,
    status_code=201,
    operation_id="replayWebhookDelivery",
)
def replay_delivery(delivery_id: str, ctx: Context = Depends(api_context)) -> Response:
    """The delivery's message sent again to its endpoint, as a new delivery (same message id)."""
    service = WebhookService(ctx)
    delivery = service.replay(delivery_id)
    return respond(schemas.delivery_out(delivery, service.delivery(delivery.pk).message), 201)
