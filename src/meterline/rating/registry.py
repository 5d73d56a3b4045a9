"""Pricing models and price types by name: adding one is a module and a line here."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from meterline.rating import price_types, slabs
from meterline.rating.model import Slab

PRICING_MODELS: dict[str, slabs.Splitter] = {"TIERED": slabs.split_tiered, "VOLUME": slabs.pick_volume}
PRICE_TYPES: dict[str, Callable[[Decimal, Slab], tuple[Decimal, int | None]]] = {
    "PER_UNIT": price_types.per_unit,
    "FLAT": price_types.flat,
    "PACKAGE": price_types.package,
}
