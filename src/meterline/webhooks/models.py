"""Webhooks: endpoints, the outbox's messages, their deliveries to each endpoint, and each delivery's attempts.

A message is written in the transaction of the change it reports (webhooks/outbox.py), with one delivery per
endpoint subscribed to its type at that moment; the delivery worker (webhooks/delivery.py) sends them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from meterline.core.db import Base, UTCDateTime


class WebhookEndpoint(Base):
    """Where an organization wants its events, which ones, and the secret they are signed with. The secrets are
    stored as they are (they sign every delivery, so they must be readable): whoever reads the database can sign."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_org_id_status", "org_id", "status"),)

    pk: Mapped[str] = mapped_column(String(40), primary_key=True)  # `whep.`
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(String(500))
    event_types: Mapped[list[Any]]  # JSON list of event type names
    status: Mapped[str] = mapped_column(String(16))  # EndpointStatus
    disabled_reason: Mapped[str | None] = mapped_column(String(300))
    secret: Mapped[str] = mapped_column(String(100))  # whsec_ + base64 of 24 random bytes
    previous_secret: Mapped[str | None] = mapped_column(String(100))  # still signs until previous_secret_until
    previous_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime())  # first failure since the last success
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WebhookMessage(Base):
    """One event, as it is sent: `payload` is the exact body (signed as it is, the same at every attempt)."""

    __tablename__ = "webhook_messages"
    __table_args__ = (Index("ix_webhook_messages_org_id_created_at", "org_id", "created_at"),)

    pk: Mapped[str] = mapped_column(String(40), primary_key=True)  # `msg_` + time-ordered id: the webhook-id header
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(100))  # the object the event is about, when it has an id
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WebhookDelivery(Base):
    """One message to one endpoint: attempted until a 2xx, then SUCCEEDED; FAILED after the last retry."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),  # what the worker claims
        Index("ix_webhook_deliveries_endpoint", "endpoint_pk", "pk"),  # an endpoint's log, newest first
        Index("ix_webhook_deliveries_message_pk", "message_pk"),
    )

    pk: Mapped[str] = mapped_column(String(40), primary_key=True)  # `whdl.`
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    message_pk: Mapped[str] = mapped_column(ForeignKey("webhook_messages.pk", ondelete="CASCADE"))
    endpoint_pk: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.pk", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))  # DeliveryStatus
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # PENDING only
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WebhookAttempt(Base):
    """One try of a delivery: when, the answer's status code (none when no answer came), how long, what went wrong."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery_pk", "delivery_pk", "pk"),)

    pk: Mapped[str] = mapped_column(String(40), primary_key=True)  # `what.`
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    delivery_pk: Mapped[str] = mapped_column(ForeignKey("webhook_deliveries.pk", ondelete="CASCADE"))
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status_code: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(300))
