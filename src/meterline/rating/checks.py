"""What makes a rate plan valid (billing-rules D4); each error names the field and says what to fix."""

from __future__ import annotations

from decimal import Decimal

from meterline.rating.model import RatePlan, RatingError
from meterline.rating.registry import PRICE_TYPES, PRICING_MODELS

MAX_SLABS = 100


def check_rate_plan(plan: RatePlan) -> None:
    if plan.pricing_model not in PRICING_MODELS:
        raise RatingError(f"pricingModel: {plan.pricing_model!r} is not one of {', '.join(sorted(PRICING_MODELS))}")
    if not plan.slabs:
        raise RatingError("ratePlan.slabs: at least one slab is needed")
    if len(plan.slabs) > MAX_SLABS:
        raise RatingError(f"ratePlan.slabs: at most {MAX_SLABS} slabs")
    slabs = sorted(plan.slabs, key=lambda s: s.order)
    for i, slab in enumerate(slabs):
        where = f"ratePlan.slabs[{i}]"
        for value in (slab.start_after, slab.rate, slab.package_size, slab.minimum_rate, slab.maximum_rate):
            _exact(value)
        if slab.order != i + 1:
            raise RatingError(
                f"{where}.order: slab orders must run 1, 2, 3... without gaps or repeats "
                f"(found {[s.order for s in slabs]})"
            )
        if slab.price_type not in PRICE_TYPES:
            raise RatingError(f"{where}.priceType: {slab.price_type!r} is not one of {', '.join(sorted(PRICE_TYPES))}")
        if i == 0 and slab.start_after != 0:
            raise RatingError(f"{where}.startAfter: the first slab must start after 0, not {slab.start_after}")
        if i > 0 and slab.start_after <= slabs[i - 1].start_after:
            raise RatingError(
                f"{where}.startAfter: {slab.start_after} must be greater than the previous slab's "
                f"{slabs[i - 1].start_after} (slabs may not overlap)"
            )
        if slab.rate < 0:
            raise RatingError(f"{where}: the rate {slab.rate} is negative; rates are >= 0")
        if slab.price_type == "PACKAGE":
            if slab.package_size is None or slab.package_size <= 0:
                raise RatingError(f"{where}.slabConfig.packageSize: a PACKAGE slab needs a package size > 0")
        elif slab.package_size is not None:
            raise RatingError(f"{where}.slabConfig.packageSize: only PACKAGE slabs take a package size")
        _check_bounds(slab.minimum_rate, slab.maximum_rate, f"{where}.slabRateConfig")
    _check_bounds(plan.minimum_rate, plan.maximum_rate, "rateConfig")


def _exact(value: object) -> None:
    if value is not None and not isinstance(value, Decimal):
        raise TypeError(f"refusing {type(value).__name__} for an exact amount: {value!r}")


def _check_bounds(minimum: Decimal | None, maximum: Decimal | None, where: str) -> None:
    for name, value in (("minimumRate", minimum), ("maximumRate", maximum)):
        if value is not None and value < 0:
            raise RatingError(f"{where}.{name}: must be >= 0")
    if minimum is not None and maximum is not None and minimum > maximum:
        raise RatingError(f"{where}: minimumRate {minimum} is above maximumRate {maximum}")
