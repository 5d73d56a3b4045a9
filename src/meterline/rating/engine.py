"""`price(plan, quantity, currency)`: a rate plan's revenue for a quantity, with its per-slab breakdown.

Exact (billing-decisions D1, D4): each slab's revenue is rounded once, half up, to the currency's minor unit; a
slab's slabRateConfig min / max then clamps it when the slab received usage; the card's revenue is the exact sum
of its slabs, clamped by the card's rateConfig (the minimum applies even at zero usage), the difference being the
adjustment (RATE_CONFIG_ADJUSTMENT_AMOUNT). Clamp values are rounded to the minor unit as well. Quantities are
never rounded. Pure: no I/O, no clock.
"""

from __future__ import annotations

from decimal import Decimal

from meterline.core.money import EXACT, exact_sum, is_currency, round_money
from meterline.rating.checks import check_rate_plan
from meterline.rating.model import Priced, RatePlan, RatingError, SlabRevenue
from meterline.rating.registry import PRICE_TYPES, PRICING_MODELS

ZERO = Decimal(0)


def _clamp(value: Decimal, minimum: Decimal | None, maximum: Decimal | None, currency: str) -> tuple[Decimal, bool, bool]:
    if minimum is not None and value < round_money(minimum, currency):
        return round_money(minimum, currency), True, False
    if maximum is not None and value > round_money(maximum, currency):
        return round_money(maximum, currency), False, True
    return value, False, False


def price(plan: RatePlan, quantity: Decimal, currency: str) -> Priced:
    if not isinstance(quantity, Decimal):
        raise TypeError(f"refusing {type(quantity).__name__} for an exact quantity: {quantity!r}")
    if not quantity.is_finite() or quantity < 0:
        raise RatingError(f"usage must be a finite number >= 0, not {quantity}")
    if not is_currency(currency):
        raise RatingError(f"{currency!r} is not an ISO 4217 currency")
    check_rate_plan(plan)
    slabs = tuple(sorted(plan.slabs, key=lambda s: s.order))
    quantities = PRICING_MODELS[plan.pricing_model](slabs, quantity)
    priced = []
    for slab, given in zip(slabs, quantities, strict=True):
        raw, packages = PRICE_TYPES[slab.price_type](given, slab)
        revenue, low, high = round_money(raw, currency), False, False
        if given > 0:
            revenue, low, high = _clamp(revenue, slab.minimum_rate, slab.maximum_rate, currency)
        priced.append(SlabRevenue(slab.order, slab.start_after, slab.price_type, given, revenue, packages, low, high))
    slab_total = exact_sum(s.revenue for s in priced)
    revenue, low, high = _clamp(slab_total, plan.minimum_rate, plan.maximum_rate, currency)
    return Priced(
        quantity=quantity, currency=currency, slabs=tuple(priced), slab_total=slab_total,
        adjustment=EXACT.subtract(revenue, slab_total), revenue=revenue, minimum_rate_applied=low, maximum_rate_applied=high,
    )
