"""Pricing cycle math (billing-decisions D2, D3, D7). Pure: every instant comes in as an argument.

- Cycles start at 00:00 in the organization's timezone on the offset day; windows are half-open [start, end).
- `dayOffset` "1".."31" or LAST ("1".."7" or LAST = Sunday for WEEKLY, 1 = Monday). A day a month lacks falls back
  to that month's last day, and the anchor is taken again in every month, so day 31 gives Jan 31, Feb 28/29,
  Mar 31, Apr 30: it never drifts.
- `monthOffset`: NIL for WEEKLY and MONTHLY; 1..3 (QUARTERLY), 1..6 (HALF_YEARLY), 1..12 (ANNUALLY), FIRST = 1,
  LAST = the period's last month. QUARTERLY {15, 2} starts on 15 Feb, May, Aug, Nov.
- Anniversary offsets come from the association date; its month's last day gives LAST (31 Oct, 30 Apr, 28 Feb).
- Grace: the cycle [start, end) stays open until 00:00 local of end's date + G days.
- Where 00:00 does not exist (a DST jump at midnight), the day starts at the first instant that exists; where it
  happens twice, at the first.
- Calendar days for proration are local dates touched by [start, end): a started day counts whole.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from meterline.core.clock import UTC

MONTHS = {"WEEKLY": 0, "MONTHLY": 1, "QUARTERLY": 3, "HALF_YEARLY": 6, "ANNUALLY": 12}
MAX_CYCLES = 10_000


class CycleError(ValueError):
    """A pricing cycle configuration that cannot work; the message names the field."""


@dataclass(frozen=True)
class CycleConfig:
    interval: str
    day_offset: str
    month_offset: str
    grace_period_days: int = 0
    anniversary: bool = False


@dataclass(frozen=True)
class Cycle:
    start: datetime  # UTC
    end: datetime  # UTC, exclusive
    tz: ZoneInfo = field(compare=False, repr=False, default=ZoneInfo("UTC"))

    def grace_end(self, grace_days: int) -> datetime:
        """When the cycle closes to late events and its invoice is final (D3)."""
        return local_start_of_day(self.end.astimezone(self.tz).date() + timedelta(days=grace_days), self.tz)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime: cycle math takes UTC-aware instants")
    return value


def local_start_of_day(day: date, tz: ZoneInfo) -> datetime:
    """00:00 of `day` in `tz` as a UTC instant; where 00:00 does not exist, the first instant that does."""
    return datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)


def _day(value: str, last: int) -> int:
    return last if value == "LAST" else min(int(value), last)


def _month_offset(config: CycleConfig) -> int:
    period = MONTHS[config.interval]
    if config.month_offset in ("NIL", "FIRST"):
        return 1
    if config.month_offset == "LAST":
        return period
    return int(config.month_offset)


def check_cycle_config(config: CycleConfig) -> None:
    where = "pricingCycleConfig"
    if config.interval not in MONTHS:
        raise CycleError(f"{where}.interval: {config.interval!r} is not one of {', '.join(MONTHS)}")
    top = 7 if config.interval == "WEEKLY" else 31
    if config.day_offset != "LAST" and not (config.day_offset.isdigit() and 1 <= int(config.day_offset) <= top):
        raise CycleError(f"{where}.startOffset.dayOffset: {config.day_offset!r} must be 1 to {top} or LAST for "
                         f"{config.interval}" + (" (1 = Monday)" if top == 7 else ""))
    period = MONTHS[config.interval]
    if period <= 1:
        if config.month_offset != "NIL":
            raise CycleError(f"{where}.startOffset.monthOffset: send NIL for {config.interval}, not "
                             f"{config.month_offset!r}")
    elif config.month_offset not in ("FIRST", "LAST") and not (
        config.month_offset.isdigit() and 1 <= int(config.month_offset) <= period
    ):
        raise CycleError(f"{where}.startOffset.monthOffset: {config.month_offset!r} must be 1 to {period}, FIRST or "
                         f"LAST for {config.interval}")
    if config.grace_period_days < 0:
        raise CycleError(f"{where}.gracePeriod: must be 0 or more days")


def anniversary_offsets(interval: str, day: date) -> tuple[str, str]:
    """The offsets of a cycle anchored on `day` (the association date)."""
    if interval == "WEEKLY":
        return str(day.isoweekday()), "NIL"
    last = calendar.monthrange(day.year, day.month)[1]
    day_offset = "LAST" if day.day == last else str(day.day)
    period = MONTHS[interval]
    if period == 1:
        return day_offset, "NIL"
    return day_offset, str((day.month - 1) % period + 1)


def _anchor(config: CycleConfig, month_index: int) -> date:
    year, month = divmod(month_index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, _day(config.day_offset, last))


def _local_bounds(config: CycleConfig, local: date) -> tuple[date, date]:
    if config.interval == "WEEKLY":
        weekday = 7 if config.day_offset == "LAST" else int(config.day_offset)
        start = local - timedelta(days=(local.isoweekday() - weekday) % 7)
        return start, start + timedelta(days=7)
    period = MONTHS[config.interval]
    index = local.year * 12 + local.month - 1
    index -= (index - (_month_offset(config) - 1)) % period  # the latest start month not after `local`'s month
    start = _anchor(config, index)
    if start > local:
        index -= period
        start = _anchor(config, index)
    return start, _anchor(config, index + period)


def cycle_containing(config: CycleConfig, instant: datetime, tz: ZoneInfo) -> Cycle:
    """The cycle with start <= instant < end."""
    local = _aware(instant).astimezone(tz).date()
    start, end = _local_bounds(config, local)
    cycle = Cycle(local_start_of_day(start, tz), local_start_of_day(end, tz), tz)
    if instant < cycle.start:  # only where a day's first instant is after its 00:00 (a jump at midnight)
        start, end = _local_bounds(config, start - timedelta(days=1))
        cycle = Cycle(local_start_of_day(start, tz), local_start_of_day(end, tz), tz)
    return cycle


def next_cycle(config: CycleConfig, cycle: Cycle, tz: ZoneInfo) -> Cycle:
    return cycle_containing(config, cycle.end, tz)


def cycles_overlapping(config: CycleConfig, start: datetime, end: datetime, tz: ZoneInfo) -> list[Cycle]:
    """Every cycle that intersects [start, end), in order."""
    found: list[Cycle] = []
    cycle = cycle_containing(config, start, tz)
    while cycle.start < _aware(end):
        if len(found) == MAX_CYCLES:
            raise CycleError(f"more than {MAX_CYCLES} pricing cycles between {start} and {end}")
        found.append(cycle)
        cycle = next_cycle(config, cycle, tz)
    return found


@dataclass(frozen=True)
class CyclePiece:
    """The part [start, end) of a cycle that a schedule covers."""

    cycle: Cycle
    start: datetime
    end: datetime

    @property
    def is_partial(self) -> bool:
        return (self.start, self.end) != (self.cycle.start, self.cycle.end)


def schedule_pieces(config: CycleConfig, schedule_start: datetime, schedule_end: datetime, tz: ZoneInfo,
                    until: datetime) -> list[CyclePiece]:
    """A schedule [schedule_start, schedule_end) cut at its cycle boundaries, up to `until` (exclusive)."""
    if config.anniversary:
        day, month = anniversary_offsets(config.interval, schedule_start.astimezone(tz).date())
        config = CycleConfig(config.interval, day, month, config.grace_period_days)
    end = min(schedule_end, until)
    return [
        CyclePiece(c, max(c.start, schedule_start), min(c.end, schedule_end))
        for c in cycles_overlapping(config, schedule_start, end, tz)
    ] if schedule_start < end else []


def calendar_days(start: datetime, end: datetime, tz: ZoneInfo) -> int:
    """Local calendar days touched by [start, end)."""
    if end <= start:
        return 0
    first = _aware(start).astimezone(tz).date()
    last = (_aware(end) - timedelta(microseconds=1)).astimezone(tz).date()
    return (last - first).days + 1


def covered_days(piece: CyclePiece, tz: ZoneInfo) -> tuple[int, int]:
    """(days the piece covers, days in its cycle), for proration (D7)."""
    return calendar_days(piece.start, piece.end, tz), calendar_days(piece.cycle.start, piece.cycle.end, tz)
