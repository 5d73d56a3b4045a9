"""The statuses of price plans and add-ons, defined once (StrEnum: stored and sent as their text)."""

from __future__ import annotations

from enum import StrEnum


class PricePlanStatus(StrEnum):
    DRAFT = "DRAFT"
    ACTIVE = "ACTIVE"
    ARCHIVED = "ARCHIVED"


class AddOnStatus(StrEnum):
    ACTIVE = "ACTIVE"
    ARCHIVED = "ARCHIVED"
