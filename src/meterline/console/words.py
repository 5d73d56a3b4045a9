"""How the console writes values a billing operator reads: money, unit prices, quantities, invoice statuses (with
overdue), instants. One place, used by every page and registered as template globals in `pages.py`, so the same
value reads the same everywhere; money and quantities are written by the same functions as the invoice PDF
(`core.money.display`, `core.numbers.grouped`), so the page and the PDF show the same text.

- money: the currency code first, the sign on the number, the currency's minor unit or every digit the amount has
  if more (`USD 1,234.50`, `USD -25.00`, `JPY 1,234`, `USD 0.00025`). Never rounded for display: a value shown is
  the value stored.
- quantity: thousands grouped, every digit kept (`1,536,150`, `0.5`, `12,000.125`).
- rate: a unit price as money (at least the minor unit, more digits when the rate has them).
- invoice status: in words, and "Overdue" (with its days) for an open invoice whose due day has passed (days of
  the organization's time zone; in templates `invoice_status(invoice, now)` uses the signed-in organization's).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from meterline.core.money import display
from meterline.core.numbers import grouped
from meterline.invoicing.statuses import OPEN, WORDS, InvoiceStatus, in_words

INVOICE_STATUSES = WORDS
INVOICE_TYPES = {"STANDARD": "Standard (in arrears)", "STANDARD_ADVANCED": "In advance", "CUSTOM": "Custom"}


def money(value: Decimal | int | None, currency: str) -> str:
    """An amount in its currency, exact: the currency's minor unit, or every digit the amount has if more."""
    return "—" if value is None else display(Decimal(value), currency)


def rate(value: Decimal | int | None, currency: str) -> str:
    """A unit price: as money, with every digit the rate has (0.00025 stays 0.00025)."""
    return money(value, currency)


def quantity(value: Decimal | int | None) -> str:
    """A quantity with thousands grouped and every digit kept; "no limit" for an infinite one (an OVERAGE entry of
    an overage card without maxQuantity)."""
    if isinstance(value, Decimal) and value.is_infinite():
        return "no limit"
    return "" if value is None else grouped(value)


@dataclass(frozen=True)
class StatusWords:
    label: str  # "Due", "Overdue · 12 days", "Paid"
    tone: str  # a CSS class: draft, open, overdue, paid, closed
    overdue_days: int  # 0 unless overdue


def _day(instant: datetime, zone: str) -> date:
    try:
        return instant.astimezone(ZoneInfo(zone)).date()
    except (OverflowError, ZoneInfoNotFoundError, ValueError):
        return instant.date()


def overdue_days(status: str, due_date: datetime | None, now: datetime, zone: str = "UTC") -> int:
    """Whole days an open invoice is past its due day (0 when it is not overdue). Days are the organization's
    (`zone`), as the pages show the due date: an invoice due on 2026-12-01 is "Due" all that day and "Overdue · 1
    day" on the 2nd. An uncollectible invoice is not overdue: nobody waits for it any more."""
    if status not in OPEN or status == InvoiceStatus.UN_COLLECTIBLE or due_date is None:
        return 0
    return max(0, (_day(now, zone) - _day(due_date, zone)).days)


def invoice_status(invoice: Any, now: datetime, zone: str = "UTC") -> StatusWords:
    """An invoice's status in words; an open invoice past its due day reads "Overdue" (see `overdue_days`)."""
    status = str(invoice.status)
    days = overdue_days(status, invoice.due_date, now, zone)
    if days:
        label = "Overdue · 1 day" if days == 1 else f"Overdue · {days} days"
        if status == InvoiceStatus.PARTIALLY_PAID:
            label = f"Partially paid · {label}"
        return StatusWords(label, "overdue", days)
    tones: dict[str, str] = {
        InvoiceStatus.DRAFT: "draft",
        InvoiceStatus.DUE: "open",
        InvoiceStatus.PARTIALLY_PAID: "open",
        InvoiceStatus.PAID: "paid",
    }
    tone = tones.get(status, "closed")
    return StatusWords(in_words(status), tone, 0)


def when(instant: datetime | None) -> str:
    """An instant, always in UTC and saying so: `2026-12-02 14:05 UTC`."""
    return "—" if instant is None else instant.strftime("%Y-%m-%d %H:%M UTC")
