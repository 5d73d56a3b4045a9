"""Fixed amounts, proration and the minimum commitment's true-up (billing-rules D1, D7, D8). Pure."""

from __future__ import annotations

from decimal import Decimal

from meterline.core.money import EXACT, divide, round_money
from meterline.rating.model import RatingError


def fixed_amount(rate: Decimal, currency: str) -> Decimal:
    """A fixed fee, credit grant or commitment amount: rounded once to the currency's minor unit."""
    return round_money(rate, currency)


def prorate(amount: Decimal, covered_days: int, cycle_days: int, currency: str) -> Decimal:
    """D7: amount x covered days / days in the cycle, rounded once."""
    if cycle_days <= 0 or not 0 <= covered_days <= cycle_days:
        raise RatingError(f"cannot prorate {covered_days} of {cycle_days} days")
    if covered_days == cycle_days:
        return round_money(amount, currency)
    return round_money(divide(EXACT.multiply(amount, Decimal(covered_days)), Decimal(cycle_days)), currency)


def true_up(
    commitment: Decimal,
    sub_total: Decimal,
    currency: str,
    covered_days: int | None = None,
    cycle_days: int | None = None,
) -> Decimal:
    """D8: max(0, commitment - SUB_TOTAL). For a partial cycle the commitment is prorated first (rounded once):
    true_up = max(0, round(commitment x covered / cycle days) - SUB_TOTAL)."""
    owed = round_money(commitment, currency)
    if covered_days is not None and cycle_days is not None:
        owed = prorate(commitment, covered_days, cycle_days, currency)
    return max(round_money(Decimal(0), currency), EXACT.subtract(owed, sub_total))
