"""A group's COMPOSITE invoice, pure: which member invoices go together, and the lines they make.

- `period_key`: the composite an invoice belongs in. A group without daily consolidation gathers its accounts'
  schedule invoices of one cycle (the in-arrears ones together, the in-advance ones together; CUSTOM invoices stay
  alone); with `dailyInvoiceConsolidation`, every invoice dated on one day of the organization's time zone.
- `lines`: GRAND_TOTAL_AMOUNT, whose lines are the member invoices as they were finalized (each its TOTAL_AMOUNT
  with its own tree under it), never computed again; the total is their exact sum.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from meterline.core.money import exact_sum
from meterline.invoicing.builder import Line

SCHEDULE_TYPES = ("STANDARD", "STANDARD_ADVANCED")


@dataclass(frozen=True)
class Member:
    """A finalized member invoice as the composite takes it."""

    invoice_pk: str
    account_id: str
    account_name: str
    sequence_id: str
    total: Decimal
    revenue: dict[str, Any]  # its frozen revenueInfo


def period_key(
    daily: bool, invoice_type: str, cycle: tuple[datetime, datetime] | None, invoice_date: datetime, tz: ZoneInfo
) -> str | None:
    """The composite an invoice goes into, or None when it stays alone."""
    if daily:
        return f"DAY:{invoice_date.astimezone(tz).date().isoformat()}"
    if invoice_type not in SCHEDULE_TYPES or cycle is None:
        return None
    return f"CYCLE:{invoice_type}:{cycle[0].isoformat()}:{cycle[1].isoformat()}"


def day_span(key: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The instants [start, end) of a DAY key's local day."""
    day = datetime.fromisoformat(key.removeprefix("DAY:")).date()
    start = datetime.combine(day, time(), tz)
    return start.astimezone(ZoneInfo("UTC")), datetime.combine(day + timedelta(days=1), time(), tz).astimezone(
        ZoneInfo("UTC")
    )


def total(members: list[Member]) -> Decimal:
    """The members' totals, summed exactly: each is already rounded to the currency's minor unit (D1)."""
    return exact_sum(m.total for m in members)


def lines(composite_pk: str, members: list[Member]) -> Line:
    """GRAND_TOTAL_AMOUNT > one TOTAL_AMOUNT per member invoice (its own lines under it, as finalized)."""
    children = []
    for m in members:
        frozen = Line.from_json(m.revenue)
        children.append(
            Line(
                id=m.invoice_pk,
                description=f"{m.account_name} ({m.account_id}), invoice {m.sequence_id}",
                type="TOTAL_AMOUNT",
                value=m.total,
                metadata={"accountId": m.account_id, "invoiceId": m.invoice_pk, "sequenceId": m.sequence_id},
                children=frozen.children,
            )
        )
    return Line(
        id=composite_pk,
        description="Grand total",
        type="GRAND_TOTAL_AMOUNT",
        value=total(members),
        children=tuple(children),
    )
