"""The rating engine's values: what is priced (a rate plan in one currency) and what pricing gives back."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


class RatingError(ValueError):
    """A rate plan or a quantity that cannot be priced; the message says what to fix."""


@dataclass(frozen=True)
class Slab:
    order: int
    start_after: Decimal
    price_type: str  # FLAT | PER_UNIT | PACKAGE
    rate: Decimal  # in the currency being priced
    package_size: Decimal | None = None
    minimum_rate: Decimal | None = None  # slabRateConfig: clamp this slab's revenue when it received usage
    maximum_rate: Decimal | None = None


@dataclass(frozen=True)
class RatePlan:
    pricing_model: str  # TIERED | VOLUME
    slabs: tuple[Slab, ...]
    minimum_rate: Decimal | None = None  # rateConfig: clamp the card's revenue for the cycle
    maximum_rate: Decimal | None = None


@dataclass(frozen=True)
class SlabRevenue:
    order: int
    start_after: Decimal
    price_type: str
    usage: Decimal  # the quantity this slab received, never rounded
    revenue: Decimal  # rounded once to the currency's minor unit (D1), then clamped by slabRateConfig
    package_quantity: int | None
    minimum_rate_applied: bool
    maximum_rate_applied: bool


@dataclass(frozen=True)
class Priced:
    quantity: Decimal
    currency: str
    slabs: tuple[SlabRevenue, ...]  # every slab, in order, those that received nothing included
    slab_total: Decimal
    adjustment: Decimal  # RATE_CONFIG_ADJUSTMENT_AMOUNT: what the card's rateConfig min / max added or took
    revenue: Decimal  # slab_total + adjustment
    minimum_rate_applied: bool
    maximum_rate_applied: bool
