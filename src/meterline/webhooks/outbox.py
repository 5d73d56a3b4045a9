"""The outbox: what every domain calls, inside the transaction of the change it reports, to announce it by webhook.

    from meterline.webhooks import outbox
    outbox.emit(ctx, "invoice.paid", lambda: present(invoice), object_id=invoice.pk)

`emit` writes one message (`msg_` + a time-ordered id: the `webhook-id` every attempt carries, for receivers to
deduplicate) and one PENDING delivery per enabled endpoint of the organization subscribed to the type, in the
caller's transaction: the change and its webhooks commit together or not at all, and nothing is sent from the
request (the delivery worker sends them, webhooks/delivery.py). With no subscribed endpoint it writes nothing:
the endpoints are read once per transaction, and `data` (a callable, so that building the object's API shape costs
nothing then) is not even called.

The body is Standard Webhooks' shape: {"type": ..., "timestamp": ..., "data": <the object as the API returns it>}.
It is serialized once, here, and sent byte for byte the same at every attempt.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel

from meterline.api.responses import dumps
from meterline.core.clock import isoformat_z, utc_now
from meterline.core.ids import new_id
from meterline.tenancy.context import Context
from meterline.webhooks.models import WebhookMessage
from meterline.webhooks.repository import WebhookRepository
from meterline.webhooks.statuses import EVENT_TYPES

Data = Mapping[str, Any] | BaseModel
MESSAGE_PREFIX = "msg_"


def message_id() -> str:
    """`msg_` + 26 characters, sortable by creation time (Standard Webhooks' id form)."""
    return MESSAGE_PREFIX + new_id("m").split(".", 1)[1]


def wants(ctx: Context, event_type: str) -> bool:
    """Does any enabled endpoint of the organization want `event_type`? For a caller whose check itself costs
    something (the wallet reading its low threshold)."""
    return bool(WebhookRepository(ctx.session, ctx.org_id).subscribed(event_type))


def emit(ctx: Context, event_type: str, data: Data | Callable[[], Data], *, object_id: str | None = None) -> str | None:
    """Announce `event_type` with `data` (or what the callable returns) to every subscribed endpoint, in the caller's
    transaction. Returns the message id, or None when no endpoint wants it. Any event type may be emitted
    (alerts add theirs); an endpoint receives the types it subscribed to."""
    repo = WebhookRepository(ctx.session, ctx.org_id)
    endpoints = repo.subscribed(event_type)
    if not endpoints:
        return None
    value = data() if callable(data) else data
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="python", by_alias=True, exclude_none=True)
    now = utc_now()
    message = WebhookMessage(
        pk=message_id(),
        org_id=ctx.org_id,
        event_type=event_type,
        object_id=object_id,
        payload=dumps({"type": event_type, "timestamp": isoformat_z(now), "data": value}).decode("utf-8"),
        created_at=now,
    )
    repo.add_message(message, endpoints, now)
    return message.pk


def known(event_type: str) -> bool:
    return event_type in EVENT_TYPES
