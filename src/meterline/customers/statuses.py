"""The status of customers and of their accounts, defined once (StrEnum: stored and sent as their text)."""

from __future__ import annotations

from enum import StrEnum


class CustomerStatus(StrEnum):
    """A customer's or an account's status: ARCHIVED ones are hidden from lists."""

    ACTIVE = "ACTIVE"
    ARCHIVED = "ARCHIVED"
