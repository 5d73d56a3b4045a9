"""Calendar periods in an organization's time zone, as UTC instants. Pure: no I/O, no clock.

A period starts at a local wall-clock boundary: HOUR at HH:00, DAY at midnight, WEEK at Monday midnight, MONTH at
the 1st, midnight. Each boundary becomes the first instant at which the local clock reads it, so:
- a day with a DST change is 23 or 25 hours long (America/New_York 2024-03-10 is 23 hours);
- a midnight that does not exist (the clock jumps from 00:00 to 01:00) starts its day at the jump;
- in HOUR, a repeated wall-clock hour (clocks going back) is two periods, one per occurrence.
Offsets such as +05:30 or +05:45 just move the boundaries off the UTC hour.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

UTC = timezone.utc
PERIODS = ("HOUR", "DAY", "WEEK", "MONTH")
MAX_POINTS = 300


class TooManyPeriods(ValueError):
    """The range covers more than `limit` periods."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} periods")
        self.limit = limit


def _floor(local: datetime, period: str) -> datetime:
    """The wall-clock start of the period that holds `local` (naive local time)."""
    hour = local.replace(minute=0, second=0, microsecond=0)
    if period == "HOUR":
        return hour
    day = hour.replace(hour=0)
    if period == "DAY":
        return day
    if period == "WEEK":
        return day - timedelta(days=day.weekday())
    if period == "MONTH":
        return day.replace(day=1)
    raise ValueError(f"unknown period {period!r}")


def _step(local: datetime, period: str, n: int) -> datetime:
    """`local` moved by n periods of wall-clock time."""
    if period == "HOUR":
        return local + timedelta(hours=n)
    if period == "DAY":
        return local + timedelta(days=n)
    if period == "WEEK":
        return local + timedelta(weeks=n)
    months = local.year * 12 + local.month - 1 + n
    if not 1 <= months // 12 <= 9999:
        raise OverflowError("date value out of range")
    return local.replace(year=months // 12, month=months % 12 + 1)


def _instants(local: datetime, period: str, tz: ZoneInfo) -> list[datetime]:
    """The UTC instants at which the wall clock reads `local`: usually one; two for a repeated HOUR."""
    first = local.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if period != "HOUR":
        return [first]
    second = local.replace(tzinfo=tz, fold=1).astimezone(UTC)
    # fold=1 names a second occurrence only when the time is really repeated (it reads back as the same wall time);
    # for a time inside a gap it names an instant before the jump, which is no boundary.
    if second != first and second.astimezone(tz).replace(tzinfo=None) == local:
        return [first, second]
    return [first]


def _boundaries(local: datetime, period: str, tz: ZoneInfo) -> Iterator[datetime]:
    """Increasing period starts (UTC) from the wall-clock boundary `local` on; stops at the end of `datetime`."""
    last: datetime | None = None
    try:
        while True:
            for instant in _instants(local, period, tz):
                if last is None or instant > last:
                    last = instant
                    yield instant
            local = _step(local, period, 1)
    except OverflowError:  # past year 9999: the last period runs to the end of the range
        return


def period_starts(
    start: datetime, end: datetime, period: str, tz: ZoneInfo | str, *, limit: int = MAX_POINTS
) -> list[datetime]:
    """Starts (UTC) of the periods of `tz` that overlap [start, end), first the period that holds `start`.

    Period i runs from starts[i] to starts[i + 1] (the last one to its own end); the first start may be before
    `start` when `start` is not on a boundary. Raises TooManyPeriods beyond `limit` periods, ValueError when
    start >= end or the period is unknown.
    """
    if period not in PERIODS:
        raise ValueError(f"unknown period {period!r}")
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be aware datetimes")
    if start >= end:
        raise ValueError("start must be before end")
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    local = _floor(start.astimezone(zone).replace(tzinfo=None), period)
    # One period earlier, so that a start inside a repeated hour still finds the boundary before it.
    try:
        local = _step(local, period, -1)
    except OverflowError:
        pass
    starts: list[datetime] = []
    for instant in _boundaries(local, period, zone):
        if instant <= start:
            starts = [instant]
            continue
        if instant >= end:
            break
        starts.append(instant)
        if len(starts) > limit:
            raise TooManyPeriods(limit)
    return starts or [start]
