"""Pricing cycle math (billing-rules D2, D3, D7).

Pure: no I/O and no clock; every instant comes in as an argument. Every datetime in and out is timezone-aware
(naive ones are refused with ValueError) and every datetime out is in UTC.

Rules (D2, D3, D7):
- A cycle is the half-open window [start, end). Its boundaries fall at the start of the offset day in the
  organization's timezone `tz`.
- `dayOffset` is "1".."31" or LAST; for WEEKLY it is "1".."7" or LAST, with 1 = Monday and 7 = LAST = Sunday. When a
  month lacks the day, that month's last day is used. The anchor is worked out again in every month, so it never
  drifts: day 31 gives Jan 31, Feb 28/29, Mar 31, Apr 30.
- `monthOffset` is NIL for WEEKLY and MONTHLY. It is 1..3 (QUARTERLY), 1..6 (HALF_YEARLY) or 1..12 (ANNUALLY), plus
  FIRST = 1 and LAST = the period's last month (3, 6, 12). Cycles start in months offset, offset + period, ...:
  QUARTERLY {15, 2} gives 15 Feb, May, Aug, Nov.
- With `anniversaryCycle` the offsets come from the association's local date (`anniversary_offsets`).
- Grace (D3): the cycle [start, end) stays open until the start of the local day G days after end's local day. So
  the count is in local calendar days, not in multiples of 24 hours. MONTHLY, dayOffset 1, grace 5: Nov 1 00:00 to
  Dec 1 00:00, grace end Dec 6 00:00 local.
- Proration days (D7) are the organization's calendar days that [start, end) touches. A started day counts whole.

Decisions that D2/D3 leave open, taken here:
- The start of a local day is the first instant whose local wall time is on or after that day's 00:00.
  * Where 00:00 happens twice (a fall-back at 01:00 to 00:00: America/Havana, Atlantic/Azores), the day starts at
    the first 00:00 (fold=0).
  * Where 00:00 does not exist (a spring-forward at midnight: America/Santiago 2022-09-11, 00:00 became 01:00), the
    day starts at the first instant that exists after it (01:00 local, 04:00 UTC).
  * A day is the interval [start of D, start of D+1). It is not "the instants whose wall date is D". The two differ
    where a fall-back crosses midnight (America/St_Johns until 2010: 00:01 back to 23:01). There the hour after
    the change shows the previous date but belongs to the new day. With this rule cycles still tile time.
  * A date that a zone skipped entirely (Pacific/Apia 2011-12-30) is an empty day. Day counts do not subtract it.
- Offsets must be sent in their canonical spelling: "1".."31" with no sign, no leading zero and no spaces, or
  LAST/FIRST/NIL in upper case (the API layer upper-cases them). An empty monthOffset is refused, not read as NIL.
  Only "NIL" is valid there, so a stored config has a single spelling.
- `anniversary_offsets`: the last day of a month gives LAST, so 31 Oct, 30 Apr, 28 Feb 2023 and 29 Feb 2024 all give
  LAST. Associated 28 Feb 2023 on MONTHLY therefore renews on 31 Mar. WEEKLY gives the ISO weekday as a number
  ("7" for Sunday, never LAST). The month offset is the month's position in its period as a number, never
  FIRST/LAST: QUARTERLY 15 May gives ("15", "2").
- `schedule_pieces(..., until)` lists every piece that starts before `until`. A piece is clipped to the schedule
  and its cycle, never to `until`, so a piece is partial only when the schedule cuts it.
- A started day counts whole at both ends, so two schedules that meet at 13:00 both count that day.
- `retained_offsets` keeps the current offsets and takes the new plan's interval and grace period. The result
  is never an anniversary config: its offsets are concrete.
- Cycles that would end after 9999-12-31 are refused with CycleError, and so is a span of more than MAX_CYCLES
  cycles.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

from meterline.core.clock import UTC
from meterline.core.errors import BadRequest


class Interval(StrEnum):
    WEEKLY = "WEEKLY"
    MONTHLY = "MONTHLY"
    QUARTERLY = "QUARTERLY"
    HALF_YEARLY = "HALF_YEARLY"
    ANNUALLY = "ANNUALLY"


# Months per cycle; WEEKLY (0) is 7 days.
MONTHS: dict[str, int] = {
    Interval.WEEKLY: 0,
    Interval.MONTHLY: 1,
    Interval.QUARTERLY: 3,
    Interval.HALF_YEARLY: 6,
    Interval.ANNUALLY: 12,
}
MAX_CYCLES = 10_000
_WHERE = "pricingCycleConfig"
_ONE_MICROSECOND = timedelta(microseconds=1)
_ONE_DAY = timedelta(days=1)


class CycleError(BadRequest, ValueError):
    """A pricing cycle configuration or request that cannot work. The message names the field and how to fix it;
    wherever it surfaces (an association from a far past day, say) it is the client's 400, never a 500."""


@dataclass(frozen=True)
class CycleConfig:
    interval: str
    day_offset: str
    month_offset: str
    grace_period_days: int = 0
    anniversary: bool = False


# -- instants and local days -----------------------------------------------------------------------------------------
def _utc(value: datetime, what: str = "instant") -> datetime:
    if not isinstance(value, datetime):
        raise ValueError(f"{what}: expected a timezone-aware datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what}: naive datetime {value.isoformat()}; cycle math takes timezone-aware instants")
    return value.astimezone(UTC)


def _zone(tz: tzinfo) -> tzinfo:
    if not isinstance(tz, tzinfo):
        raise ValueError(f"tz: expected a timezone (zoneinfo.ZoneInfo), got {type(tz).__name__}")
    return tz


def local_start_of_day(day: date, tz: tzinfo) -> datetime:
    """The first instant of local `day` in `tz`, in UTC: its 00:00 (the first one if 00:00 happens twice), or the
    first instant that exists after it when a clock change skips 00:00."""
    if isinstance(day, datetime):
        raise ValueError("local_start_of_day takes a date, not a datetime")
    return _start_of_day(day, _zone(tz))


@lru_cache(maxsize=16384)  # pure, and called for the same days over and over (bill runs, daily usage totals)
def _start_of_day(day: date, tz: tzinfo) -> datetime:
    naive = datetime.combine(day, time())
    hi = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)  # ambiguous: the first; nonexistent: after the gap
    if hi.astimezone(tz).replace(tzinfo=None) == naive:
        return hi
    # 00:00 falls in a gap. With fold=1 the later offset is used, which gives an instant before the change. The
    # answer is the first instant whose wall time is >= 00:00. Bisect between the two, exactly to the microsecond.
    lo = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if lo >= hi or lo.astimezone(tz).replace(tzinfo=None) >= naive:  # not a plain gap (no known zone): take fold=0
        return hi
    while hi - lo > _ONE_MICROSECOND:
        mid = lo + (hi - lo) // 2
        if mid.astimezone(tz).replace(tzinfo=None) >= naive:
            hi = mid
        else:
            lo = mid
    return hi


def local_day(instant: datetime, tz: tzinfo) -> date:
    """The local day D with start(D) <= instant < start(D + 1). This is the wall date except in the hour after a
    fall-back that crosses midnight."""
    at = _utc(instant)
    day = at.astimezone(_zone(tz)).date()
    while day > date.min and at < local_start_of_day(day, tz):
        day -= _ONE_DAY
    while day < date.max and at >= local_start_of_day(day + _ONE_DAY, tz):
        day += _ONE_DAY
    return day


def calendar_days(start: datetime, end: datetime, tz: tzinfo) -> int:
    """The number of local calendar days in `tz` that [start, end) touches. A started day counts whole (D7)."""
    start, end = _utc(start, "start"), _utc(end, "end")
    if end <= start:
        return 0
    return (local_day(end - _ONE_MICROSECOND, tz) - local_day(start, tz)).days + 1


# -- configuration ---------------------------------------------------------------------------------------------------
def _number(value: object, low: int, high: int) -> int | None:
    """`value` as an int when it is the canonical decimal spelling of low..high, else None."""
    if not isinstance(value, str) or not value.isascii() or not value.isdigit() or value.startswith("0"):
        return None
    number = int(value)
    return number if low <= number <= high else None


def check_cycle_config(config: CycleConfig) -> None:
    """Raise CycleError, naming the field and saying what to send, unless `config` is usable."""
    if config.interval not in MONTHS:
        raise CycleError(
            f"{_WHERE}.interval: {config.interval!r} is not a pricing interval; send one of {', '.join(MONTHS)}"
        )
    period = MONTHS[config.interval]
    top = 7 if period == 0 else 31
    if config.day_offset != "LAST" and _number(config.day_offset, 1, top) is None:
        hint = " (1 = Monday, 7 = Sunday)" if period == 0 else ""
        raise CycleError(
            f"{_WHERE}.startOffset.dayOffset: {config.day_offset!r} is out of range for "
            f"{config.interval}; send 1 to {top}{hint} or LAST"
        )
    if period <= 1:
        if config.month_offset != "NIL":
            raise CycleError(
                f"{_WHERE}.startOffset.monthOffset: {config.month_offset!r} is not allowed for "
                f"{config.interval}; send NIL"
            )
    elif config.month_offset not in ("FIRST", "LAST") and _number(config.month_offset, 1, period) is None:
        raise CycleError(
            f"{_WHERE}.startOffset.monthOffset: {config.month_offset!r} is out of range for "
            f"{config.interval}; send 1 to {period}, FIRST or LAST"
        )
    grace = config.grace_period_days
    if isinstance(grace, bool) or not isinstance(grace, int):
        raise CycleError(f"{_WHERE}.gracePeriod: {grace!r} is not a whole number of days; send 0 or more")
    if grace < 0:
        raise CycleError(f"{_WHERE}.gracePeriod: {grace} is negative; send 0 or more days")


def _check_interval(interval: str) -> int:
    if interval not in MONTHS:
        raise CycleError(f"{_WHERE}.interval: {interval!r} is not a pricing interval; send one of {', '.join(MONTHS)}")
    return MONTHS[interval]


def anniversary_offsets(interval: str, start_local: date) -> tuple[str, str]:
    """(dayOffset, monthOffset) of a cycle anchored on `start_local`, the association's local date (D3).
    A month's last day gives LAST. The month offset is the month's position in its period."""
    period = _check_interval(interval)
    if isinstance(start_local, datetime) or not isinstance(start_local, date):
        raise ValueError("anniversary_offsets takes the association's local date, not a datetime")
    if period == 0:
        return str(start_local.isoweekday()), "NIL"
    last = calendar.monthrange(start_local.year, start_local.month)[1]
    day_offset = "LAST" if start_local.day == last else str(start_local.day)
    if period == 1:
        return day_offset, "NIL"
    return day_offset, str((start_local.month - 1) % period + 1)


def retained_offsets(current: CycleConfig | None, new: CycleConfig, current_anchor: date | None = None) -> CycleConfig:
    """retainStartOffsets (3.10): the new plan's interval and grace period with the current schedule's offsets.

    `current` is the config the account bills on at the switch. If it is an anniversary config,
    `current_anchor` is the local date its offsets come from (the current schedule's start).
    """
    if current is None:
        raise CycleError(
            "retainStartOffsets: the account has no pricing cycle at that date to keep; associate "
            "without retainStartOffsets"
        )
    if current.interval != new.interval:
        raise CycleError(
            f"retainStartOffsets needs the same pricing interval: current plan is {current.interval}, "
            f"new plan is {new.interval}"
        )
    day_offset, month_offset = current.day_offset, current.month_offset
    if current.anniversary:
        if current_anchor is None:
            raise CycleError(
                "retainStartOffsets: the current cycle is an anniversary cycle; pass the date it is anchored on"
            )
        day_offset, month_offset = anniversary_offsets(current.interval, current_anchor)
    kept = CycleConfig(new.interval, day_offset, month_offset, new.grace_period_days, anniversary=False)
    check_cycle_config(kept)
    return kept


# -- cycles ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cycle:
    """A pricing cycle [start, end) in UTC. `tz` is the organization's timezone, used to count grace days."""

    start: datetime
    end: datetime
    tz: tzinfo = field(compare=False, repr=False, default=ZoneInfo("UTC"))

    def __post_init__(self) -> None:
        start, end = _utc(self.start, "Cycle.start"), _utc(self.end, "Cycle.end")
        if not start < end:
            raise ValueError(f"Cycle: start {start.isoformat()} must be before end {end.isoformat()}")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)
        _zone(self.tz)

    def contains(self, instant: datetime) -> bool:
        return self.start <= _utc(instant) < self.end

    def grace_end(self, grace_days: int) -> datetime:
        """When late events stop being accepted and the invoice is finalized (D3). This is the start of the local
        day `grace_days` days after the local day on which the cycle ends."""
        if isinstance(grace_days, bool) or not isinstance(grace_days, int) or grace_days < 0:
            raise CycleError(f"{_WHERE}.gracePeriod: {grace_days!r} must be 0 or more whole days")
        if grace_days == 0:
            return self.end
        return local_start_of_day(local_day(self.end, self.tz) + timedelta(days=grace_days), self.tz)


def _day(day_offset: str, last: int) -> int:
    return last if day_offset == "LAST" else min(int(day_offset), last)


def _first_month(config: CycleConfig) -> int:
    """1-based month, within the period, in which cycles start."""
    if config.month_offset in ("NIL", "FIRST"):
        return 1
    if config.month_offset == "LAST":
        return MONTHS[config.interval]
    return int(config.month_offset)


def _anchor(config: CycleConfig, month_index: int) -> date:
    """The start date of a cycle in month `month_index` (year * 12 + month - 1), with the day clamped."""
    year, month = divmod(month_index, 12)
    if not 1 <= year <= 9999:
        raise CycleError("pricing cycles are only computed between the years 1 and 9999")
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, _day(config.day_offset, last))


def _local_bounds(config: CycleConfig, day: date) -> tuple[date, date]:
    """Local start and end dates of the cycle that contains local `day`."""
    if config.interval == Interval.WEEKLY:
        weekday = 7 if config.day_offset == "LAST" else int(config.day_offset)
        try:
            start = day - timedelta(days=(day.isoweekday() - weekday) % 7)
            return start, start + timedelta(days=7)
        except OverflowError:
            raise CycleError("pricing cycles are only computed between the years 1 and 9999") from None
    period = MONTHS[config.interval]
    index = day.year * 12 + day.month - 1
    index -= (index - (_first_month(config) - 1)) % period  # the latest start month not after `day`'s month
    start = _anchor(config, index)
    if start > day:  # the anchor in that month is later than `day` (the 15th, and `day` is the 3rd)
        index -= period
        start = _anchor(config, index)
    return start, _anchor(config, index + period)


def cycle_containing(config: CycleConfig, instant: datetime, tz: tzinfo) -> Cycle:
    """The cycle with start <= instant < end."""
    check_cycle_config(config)
    start, end = _local_bounds(config, local_day(instant, tz))
    return Cycle(local_start_of_day(start, tz), local_start_of_day(end, tz), tz)


def next_cycle(config: CycleConfig, cycle: Cycle, tz: tzinfo) -> Cycle:
    """The cycle that starts where `cycle` ends."""
    return cycle_containing(config, cycle.end, tz)


def cycles_overlapping(config: CycleConfig, start: datetime, end: datetime, tz: tzinfo) -> list[Cycle]:
    """Every cycle that intersects [start, end), in order. `end` must be finite: more than MAX_CYCLES is refused."""
    start, end = _utc(start, "start"), _utc(end, "end")
    if end <= start:
        return []
    found: list[Cycle] = []
    cycle = cycle_containing(config, start, tz)
    while cycle.start < end:
        if len(found) == MAX_CYCLES:
            raise CycleError(
                f"more than {MAX_CYCLES} {config.interval} pricing cycles between {start.isoformat()} "
                f"and {end.isoformat()}; ask for a shorter span"
            )
        found.append(cycle)
        cycle = next_cycle(config, cycle, tz)
    return found


# -- schedules and proration -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CyclePiece:
    """The part [start, end) of `cycle` that a schedule covers."""

    cycle: Cycle
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        start, end = _utc(self.start, "CyclePiece.start"), _utc(self.end, "CyclePiece.end")
        if not self.cycle.start <= start < end <= self.cycle.end:
            raise ValueError(
                f"CyclePiece: [{start.isoformat()}, {end.isoformat()}) is empty or outside its cycle "
                f"[{self.cycle.start.isoformat()}, {self.cycle.end.isoformat()})"
            )
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)

    @property
    def is_partial(self) -> bool:
        return (self.start, self.end) != (self.cycle.start, self.cycle.end)


def effective_config(config: CycleConfig, schedule_start: datetime, tz: tzinfo) -> CycleConfig:
    """`config` with anniversary offsets resolved from the schedule's local start date, else `config` itself."""
    if not config.anniversary:
        return config
    day_offset, month_offset = anniversary_offsets(config.interval, local_day(schedule_start, tz))
    return CycleConfig(config.interval, day_offset, month_offset, config.grace_period_days)


def schedule_pieces(
    config: CycleConfig, schedule_start: datetime, schedule_end: datetime, tz: tzinfo, until: datetime
) -> list[CyclePiece]:
    """The schedule [schedule_start, schedule_end) cut at cycle boundaries: every piece that starts before `until`.
    `until` is exclusive, and it is what bounds an open-ended schedule."""
    schedule_start = _utc(schedule_start, "schedule_start")
    schedule_end = _utc(schedule_end, "schedule_end")
    until = _utc(until, "until")
    config = effective_config(config, schedule_start, tz)
    return [
        CyclePiece(c, max(c.start, schedule_start), min(c.end, schedule_end))
        for c in cycles_overlapping(config, schedule_start, min(schedule_end, until), tz)
    ]


def cycle_days(cycle: Cycle, tz: tzinfo) -> int:
    """Local calendar days in the cycle: the proration denominator (D7)."""
    return calendar_days(cycle.start, cycle.end, tz)


def covered_days(piece: CyclePiece, tz: tzinfo) -> int:
    """Local calendar days the piece touches, a started day counting whole: the proration numerator (D7)."""
    return calendar_days(piece.start, piece.end, tz)
