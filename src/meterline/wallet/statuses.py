"""A wallet's statuses and its entries' types, defined once (StrEnum: stored and sent as their text)."""

from __future__ import annotations

from enum import StrEnum


class WalletStatus(StrEnum):
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"


class WalletEntryType(StrEnum):
    CREDITED = "CREDITED"
    DEBITED = "DEBITED"
