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

# The statuses as people read them (the console and the PDF): never the API's codes.
WORDS = {
    InvoiceStatus.DRAFT: "Draft",
    InvoiceStatus.DUE: "Due",
    InvoiceStatus.PARTIALLY_PAID: "Partially paid",
    InvoiceStatus.PAID: "Paid",
    InvoiceStatus.UN_COLLECTIBLE: "Uncollectible",
    InvoiceStatus.VOID: "Void",
}


def in_words(status: str) -> str:
    """`PARTIALLY_PAID` -> "Partially paid"; a code Meterline does not have (the API's REFUND_INITIATED) as words."""
    try:
        return WORDS[InvoiceStatus(status)]
    except ValueError:
        return status.replace("_", " ").capitalize()
