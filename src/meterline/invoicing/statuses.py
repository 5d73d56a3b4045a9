"""An invoice's statuses, defined once. StrEnum members equal their text, so rows and JSON are unchanged."""

from __future__ import annotations

from enum import StrEnum


class InvoiceStatus(StrEnum):
    DRAFT = "DRAFT"  # computed whenever read (live); finalization freezes and numbers it
    DUE = "DUE"
    PARTIALLY_PAID = "PARTIALLY_PAID"
    PAID = "PAID"
    UN_COLLECTIBLE = "UN_COLLECTIBLE"
    VOID = "VOID"


FINAL = frozenset({InvoiceStatus.PAID, InvoiceStatus.VOID})  # no status change after these
OPEN = frozenset({InvoiceStatus.DUE, InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.UN_COLLECTIBLE})  # take payments
