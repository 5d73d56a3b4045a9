"""A feature credit entry's sources and statuses, defined once (StrEnum: stored and sent as their text)."""

from __future__ import annotations

from enum import StrEnum


class EntrySource(StrEnum):
    ENTITLEMENT = "ENTITLEMENT"  # granted through the API (Meterline's extension) or a later purchase
    PRICE_PLAN = "PRICE_PLAN"  # a schedule's billing entitlement rate card, each cycle (the plan-cards step)
    OVERAGE = "OVERAGE"  # a schedule's entitlement overage rate card, each cycle (the plan-cards step)
    REFUND = "REFUND"  # units an UNDO gave back


class EntryStatus(StrEnum):
    ACTIVE = "ACTIVE"
    EXPIRED = "EXPIRED"  # read from the entry's end and the instant of the read, never stored
    VOIDED = "VOIDED"
