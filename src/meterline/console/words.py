"""How the console writes values a billing operator reads: money, unit prices, quantities, invoice statuses (with
overdue), instants. One place, used by every page and registered as template globals in `pages.py`, so the same
value reads the same everywhere (and as on the PDF, which formats amounts the same way).

- money: the currency code first, the sign on the number, the currency's minor unit or every digit the amount has
  if more (`USD 1,234.50`, `USD -25.00`, `JPY 1,234`, `USD 0.00025`). Never rounded for display: a value shown is
  the value stored.
- quantity: thousands grouped, every digit kept (`1,536,150`, `0.5`, `12,000.125`).
- rate: a unit price as money (at least the minor unit, more digits when the rate has them).
- invoice status: in words, and "Overdue" (with its days) for an open invoice whose due date has passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from meterline.core.money import is_currency, minor_units
from meterline.invoicing.statuses import OPEN, InvoiceStatus

INVOICE_STATUSES = {
    InvoiceStatus.DRAFT: "Draft",
    InvoiceStatus.DUE: "Due",
    InvoiceStatus.PARTIALLY_PAID: "Partially paid",
    InvoiceStatus.PAID: "Paid",
    InvoiceStatus.UN_COLLECTIBLE: "Uncollectible",
    InvoiceStatus.VOID: "Void",
}
INVOICE_TYPES = {"STANDARD": "Standard (in arrears)", "STANDARD_ADVANCED": "In advance", "CUSTOM": "Custom"}


def _digits(value: Decimal, at_least: int) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(at_least, -exponent if isinstance(exponent, int) and exponent < 0 else 0)


def money(value: Decimal | int | None, currency: str) -> str:
    """An amount in its currency, exact: the currency's minor unit, or every digit the amount has if more."""
    if value is None:
        return "—"
    value = Decimal(value)
    digits = _digits(value, minor_units(currency) if is_currency(currency) else 2)
    return f"{currency} {'-' if value < 0 else ''}{abs(value):,.{digits}f}"


def rate(value: Decimal | int | None, currency: str) -> str:
    """A unit price: as money, with every digit the rate has (0.00025 stays 0.00025)."""
    return money(value, currency)


def quantity(value: Decimal | int | None) -> str:
    """A quantity with thousands grouped and every digit kept."""
    if value is None:
        return ""
    number = Decimal(value)
    return f"{'-' if number < 0 else ''}{abs(number):,.{_digits(number, 0)}f}"


@dataclass(frozen=True)
class StatusWords:
    label: str  # "Due", "Overdue · 12 days", "Paid"
    tone: str  # a CSS class: draft, open, overdue, paid, closed
    overdue_days: int  # 0 unless overdue


def overdue_days(status: str, due_date: datetime | None, now: datetime) -> int:
    """Whole days an open invoice is past its due date (0 when it is not overdue)."""
    if status not in OPEN or status == InvoiceStatus.UN_COLLECTIBLE or due_date is None or now <= due_date:
        return 0
    return max(1, (now - due_date).days)


def invoice_status(invoice: Any, now: datetime) -> StatusWords:
    """An invoice's status in words; an open invoice past its due date reads "Overdue"."""
    status = str(invoice.status)
    days = overdue_days(status, invoice.due_date, now)
    if days:
        label = "Overdue · 1 day" if days == 1 else f"Overdue · {days} days"
        if status == InvoiceStatus.PARTIALLY_PAID:
            label = f"Partially paid · {label}"
        return StatusWords(label, "overdue", days)
    tone = {
        InvoiceStatus.DRAFT: "draft",
        InvoiceStatus.DUE: "open",
        InvoiceStatus.PARTIALLY_PAID: "open",
        InvoiceStatus.PAID: "paid",
    }.get(InvoiceStatus(status), "closed")
    return StatusWords(INVOICE_STATUSES.get(InvoiceStatus(status), status.title()), tone, 0)


def when(instant: datetime | None) -> str:
    """An instant, always in UTC and saying so: `2026-12-02 14:05 UTC`."""
    return "—" if instant is None else instant.strftime("%Y-%m-%d %H:%M UTC")
