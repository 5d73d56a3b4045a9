"""What has been invoiced, for the dashboard: totals of finalized invoices per month and currency, and what is still
owed. Exact decimals; months are those of the organization's time zone (`metrics.periods`)."""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from meterline.core.money import EXACT
from meterline.invoicing.repository import InvoiceRepository
from meterline.invoicing.service import DUE, PAID, PARTIALLY_PAID, UN_COLLECTIBLE
from meterline.tenancy.context import Context

INVOICED = (DUE, PAID, PARTIALLY_PAID, UN_COLLECTIBLE)  # finalized and not voided
OWED = (DUE, PARTIALLY_PAID)


def invoiced_by_period(ctx: Context, starts: list[datetime]) -> dict[str, list[Decimal]]:
    """currency -> the totals of invoices dated in each period (period i runs from starts[i] to starts[i + 1], the
    last one without end), for invoices finalized and not voided."""
    if not starts:
        return {}
    totals: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * len(starts))
    for invoice_date, currency, total, _paid in InvoiceRepository(ctx.session, ctx.org_id).finalized_totals(
        starts[0], INVOICED
    ):
        i = bisect_right(starts, invoice_date) - 1
        totals[currency][i] = EXACT.add(totals[currency][i], Decimal(total or 0))
    return dict(sorted(totals.items()))


def owed(ctx: Context) -> dict[str, Decimal]:
    """currency -> what DUE and PARTIALLY_PAID invoices still wait for (total - paid)."""
    out: dict[str, Decimal] = {}
    for currency, total, paid in InvoiceRepository(ctx.session, ctx.org_id).unpaid(OWED):
        out[currency] = EXACT.add(
            out.get(currency, Decimal(0)), EXACT.subtract(Decimal(total or 0), Decimal(paid or 0))
        )
    return dict(sorted(out.items()))
