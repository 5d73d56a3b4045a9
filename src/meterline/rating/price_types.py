"""One function per slab price type: (quantity given to the slab, slab) -> (unrounded revenue, package quantity)."""

from __future__ import annotations

from decimal import Decimal

from meterline.core.money import EXACT
from meterline.rating.model import Slab


def per_unit(quantity: Decimal, slab: Slab) -> tuple[Decimal, int | None]:
    return EXACT.multiply(quantity, slab.rate), None


def flat(quantity: Decimal, slab: Slab) -> tuple[Decimal, int | None]:
    return (slab.rate if quantity > 0 else Decimal(0)), None


def package(quantity: Decimal, slab: Slab) -> tuple[Decimal, int | None]:
    size: Decimal = slab.package_size  # type: ignore[assignment]
    packages = EXACT.divide_int(quantity, size)
    if EXACT.subtract(quantity, EXACT.multiply(packages, size)) > 0:
        packages += 1  # a started package counts whole
    return EXACT.multiply(packages, slab.rate), int(packages)
