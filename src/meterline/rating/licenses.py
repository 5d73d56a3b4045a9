"""License quantities over time (billing-rules D7). Pure.

A license's quantity for an account is a step function: each update sets it from its instant on. Pricing reads
the largest quantity in force over a window (a day, or a whole cycle without proration).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from meterline.rating.cycles import local_start_of_day

Step = tuple[datetime, Decimal]  # (effective from, absolute quantity), sorted by instant


def in_force(steps: Sequence[Step], at: datetime) -> Decimal:
    """The quantity at instant `at` (0 before the first update)."""
    quantity = Decimal(0)
    for effective_from, value in steps:
        if effective_from > at:
            break
        quantity = value
    return quantity


def largest(steps: Sequence[Step], start: datetime, end: datetime) -> Decimal:
    """The largest quantity in force at some instant of [start, end). Of updates at one instant only the last is ever
    in force (steps are sorted: a dict keeps each instant's last value)."""
    values = [in_force(steps, start)] + [v for t, v in dict(steps).items() if start < t < end]
    return max(values)


def largest_per_period(steps: Sequence[Step], bounds: Sequence[datetime]) -> list[Decimal]:
    """`largest(steps, bounds[i], bounds[i + 1])` for each i, in one sweep: O(steps + periods). `steps` sorted
    (of two at one instant, the later wins), `bounds` increasing."""
    out: list[Decimal] = []
    current, j = Decimal(0), 0
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        while j < len(steps) and steps[j][0] <= lo:  # in force at lo
            current = steps[j][1]
            j += 1
        best = current
        while j < len(steps) and steps[j][0] < hi:  # set inside (lo, hi)
            current = steps[j][1]
            best = max(best, current)
            j += 1
        out.append(best)
    return out


def daily_maximums(steps: Sequence[Step], start: datetime, end: datetime, tz: ZoneInfo) -> list[tuple[date, Decimal]]:
    """Each local day touched by [start, end) with the largest quantity in force during its part of the window."""
    out = []
    day = start.astimezone(tz).date()
    while True:
        day_start = max(start, local_start_of_day(day, tz))
        day_end = min(end, local_start_of_day(day + timedelta(days=1), tz))
        if day_start >= end:
            break
        out.append((day, largest(steps, day_start, day_end)))
        day += timedelta(days=1)
    return out
