"""`price(plan, quantity, currency)`: a rate plan's revenue for a quantity, with its per-slab breakdown.

Exact (billing-rules D1, D4): each slab's revenue is rounded once, half up, to the currency's minor unit; a
slab's slabRateConfig min / max then clamps it when the slab received usage; the card's revenue is the exact sum
of its slabs, clamped by the card's rateConfig (the minimum applies even at zero usage), the difference being the
adjustment (RATE_CONFIG_ADJUSTMENT_AMOUNT). Clamp values are rounded to the minor unit as well. Quantities are
never rounded. Pure: no I/O, no clock.
"""

from __future__ import annotations

from decimal import Decimal

from meterline.core.money import EXACT, divide, exact_sum, is_currency, round_money
from meterline.rating.checks import check_rate_plan
from meterline.rating.model import Priced, RatePlan, RatingError, Slab, SlabRevenue
from meterline.rating.registry import PRICE_TYPES, PRICING_MODELS

ZERO = Decimal(0)


def _clamp(
    value: Decimal, minimum: Decimal | None, maximum: Decimal | None, currency: str
) -> tuple[Decimal, bool, bool]:
    if minimum is not None and value < round_money(minimum, currency):
        return round_money(minimum, currency), True, False
    if maximum is not None and value > round_money(maximum, currency):
        return round_money(maximum, currency), False, True
    return value, False, False


def _check(plan: RatePlan, quantities: list[Decimal], currency: str) -> tuple[Slab, ...]:
    for quantity in quantities:
        if not isinstance(quantity, Decimal):
            raise TypeError(f"refusing {type(quantity).__name__} for an exact quantity: {quantity!r}")
        if not quantity.is_finite() or quantity < 0:
            raise RatingError(f"usage must be a finite number >= 0, not {quantity}")
    if not is_currency(currency):
        raise RatingError(f"{currency!r} is not an ISO 4217 currency")
    check_rate_plan(plan)
    return tuple(sorted(plan.slabs, key=lambda s: s.order))


def _finish(
    plan: RatePlan,
    slabs: tuple[Slab, ...],
    quantity: Decimal,
    given: list[Decimal],
    raw: list[Decimal],
    packages: list[int | None],
    currency: str,
) -> Priced:
    """Round each slab once, clamp it (slabRateConfig) when it received usage, sum, clamp the card (rateConfig)."""
    priced = []
    for slab, got, amount, count in zip(slabs, given, raw, packages, strict=True):
        revenue, low, high = round_money(amount, currency), False, False
        if got > 0:
            revenue, low, high = _clamp(revenue, slab.minimum_rate, slab.maximum_rate, currency)
        priced.append(SlabRevenue(slab.order, slab.start_after, slab.price_type, got, revenue, count, low, high))
    slab_total = exact_sum(s.revenue for s in priced)
    revenue, low, high = _clamp(slab_total, plan.minimum_rate, plan.maximum_rate, currency)
    return Priced(
        quantity=quantity,
        currency=currency,
        slabs=tuple(priced),
        slab_total=slab_total,
        adjustment=EXACT.subtract(revenue, slab_total),
        revenue=revenue,
        minimum_rate_applied=low,
        maximum_rate_applied=high,
    )


def _raw(plan: RatePlan, slabs: tuple[Slab, ...], quantity: Decimal) -> list[tuple[Decimal, Decimal, int | None]]:
    """(quantity given, unrounded revenue, packages) per slab."""
    quantities = PRICING_MODELS[plan.pricing_model](slabs, quantity)
    return [(given, *PRICE_TYPES[slab.price_type](given, slab)) for slab, given in zip(slabs, quantities, strict=True)]


def price(plan: RatePlan, quantity: Decimal, currency: str) -> Priced:
    slabs = _check(plan, [quantity], currency)
    given, raw, packages = zip(*_raw(plan, slabs, quantity), strict=True)
    return _finish(plan, slabs, quantity, list(given), list(raw), list(packages), currency)


def price_days(plan: RatePlan, daily: list[Decimal], cycle_days: int, currency: str) -> Priced:
    """A prorated license card (D7): each day is priced on its quantity and counts 1 / cycle_days; a slab's revenue
    is the sum over the days, rounded once. The slabs report the largest quantity they received on any day."""
    if cycle_days <= 0 or len(daily) > cycle_days:
        raise RatingError(f"cannot prorate {len(daily)} days over a cycle of {cycle_days}")
    slabs = _check(plan, daily, currency)
    given = [Decimal(0)] * len(slabs)
    totals = [Decimal(0)] * len(slabs)
    packages: list[int | None] = [None] * len(slabs)
    for quantity in daily:
        for i, (got, amount, count) in enumerate(_raw(plan, slabs, quantity)):
            given[i] = max(given[i], got)
            totals[i] = EXACT.add(totals[i], amount)
            if count is not None:
                packages[i] = max(packages[i] or 0, count)
    raw = [divide(total, Decimal(cycle_days)) for total in totals]
    return _finish(plan, slabs, max(daily, default=Decimal(0)), given, raw, packages, currency)
