"""Webhook endpoints' and deliveries' statuses, and the event types (StrEnum: stored and sent as their text)."""

from __future__ import annotations

from enum import StrEnum


class EndpointStatus(StrEnum):
    ENABLED = "ENABLED"
    DISABLED = "DISABLED"  # by hand, or after failing for METERLINE_WEBHOOK_DISABLE_AFTER: deliveries wait
    DELETED = "DELETED"  # gone from every list; the row stays for its deliveries' log


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"  # waiting for its first attempt or its next retry
    SUCCEEDED = "SUCCEEDED"  # the endpoint answered 2xx
    FAILED = "FAILED"  # every attempt failed: replay it to send it again (a disabled endpoint's deliveries wait)


# The event types an endpoint may subscribe to (docs/webhooks.md). `alert.*` are sent by alerts.
EVENT_TYPES: tuple[str, ...] = (
    "invoice.created",
    "invoice.finalized",
    "invoice.paid",
    "invoice.voided",
    "invoice.overdue",
    "payment.created",
    "credit.granted",
    "credit.expired",
    "wallet.low",
    "alert.triggered",
    "alert.resolved",
    "entitlement.exhausted",
)
