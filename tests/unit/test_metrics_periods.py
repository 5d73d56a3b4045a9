"""The calendar periods of MetricsApi: pure, table-driven."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from meterline.metrics.periods import TooManyPeriods, period_starts

UTC = timezone.utc


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def hhmm(starts: list[datetime]) -> list[str]:
    return [s.strftime("%Y-%m-%dT%H:%M") for s in starts]


CASES = [
    # (zone, period, start, end, expected starts in UTC)
    (
        "UTC",
        "DAY",
        "2024-03-01T00:00",
        "2024-03-04T00:00",
        ["2024-03-01T00:00", "2024-03-02T00:00", "2024-03-03T00:00"],
    ),
    (
        "UTC",
        "HOUR",
        "2024-03-01T10:00",
        "2024-03-01T13:00",
        ["2024-03-01T10:00", "2024-03-01T11:00", "2024-03-01T12:00"],
    ),
    # +05:30: local midnight is 18:30 UTC the day before
    ("Asia/Kolkata", "DAY", "2024-02-29T18:30", "2024-03-02T18:30", ["2024-02-29T18:30", "2024-03-01T18:30"]),
    ("Asia/Kolkata", "HOUR", "2024-03-01T00:30", "2024-03-01T02:30", ["2024-03-01T00:30", "2024-03-01T01:30"]),
    (
        "Asia/Kolkata",
        "MONTH",
        "2023-12-31T18:30",
        "2024-03-31T18:30",
        ["2023-12-31T18:30", "2024-01-31T18:30", "2024-02-29T18:30"],
    ),
    # +05:45
    ("Asia/Kathmandu", "DAY", "2024-02-29T18:15", "2024-03-02T18:15", ["2024-02-29T18:15", "2024-03-01T18:15"]),
    ("Asia/Kathmandu", "HOUR", "2024-03-01T00:15", "2024-03-01T02:15", ["2024-03-01T00:15", "2024-03-01T01:15"]),
    # America/New_York 2024-03-10 is 23 hours long (EST -05:00 -> EDT -04:00 at 02:00 local)
    (
        "America/New_York",
        "DAY",
        "2024-03-09T05:00",
        "2024-03-12T04:00",
        ["2024-03-09T05:00", "2024-03-10T05:00", "2024-03-11T04:00"],
    ),
    # ... its 02:00 local does not exist: 01:00 EST is followed by 03:00 EDT
    (
        "America/New_York",
        "HOUR",
        "2024-03-10T05:00",
        "2024-03-10T09:00",
        ["2024-03-10T05:00", "2024-03-10T06:00", "2024-03-10T07:00", "2024-03-10T08:00"],
    ),
    # 2024-11-03 is 25 hours long, and 01:00 local comes twice: two HOUR periods
    ("America/New_York", "DAY", "2024-11-03T04:00", "2024-11-05T05:00", ["2024-11-03T04:00", "2024-11-04T05:00"]),
    (
        "America/New_York",
        "HOUR",
        "2024-11-03T04:00",
        "2024-11-03T08:00",
        ["2024-11-03T04:00", "2024-11-03T05:00", "2024-11-03T06:00", "2024-11-03T07:00"],
    ),
    # weeks start on Monday (2024-03-04), local midnight
    ("UTC", "WEEK", "2024-03-04T00:00", "2024-03-18T00:00", ["2024-03-04T00:00", "2024-03-11T00:00"]),
    ("Asia/Kolkata", "WEEK", "2024-03-03T18:30", "2024-03-17T18:30", ["2024-03-03T18:30", "2024-03-10T18:30"]),
    # America/Santiago 2024-09-08: midnight does not exist (00:00 -> 01:00); the day starts at the jump
    (
        "America/Santiago",
        "DAY",
        "2024-09-07T04:00",
        "2024-09-10T03:00",
        ["2024-09-07T04:00", "2024-09-08T04:00", "2024-09-09T03:00"],
    ),
    # months of different lengths, UTC
    (
        "UTC",
        "MONTH",
        "2024-01-01T00:00",
        "2024-04-01T00:00",
        ["2024-01-01T00:00", "2024-02-01T00:00", "2024-03-01T00:00"],
    ),
]


@pytest.mark.parametrize(("zone", "period", "start", "end", "expected"), CASES)
def test_period_starts(zone: str, period: str, start: str, end: str, expected: list[str]) -> None:
    assert hhmm(period_starts(utc(start), utc(end), period, zone)) == expected


@pytest.mark.parametrize(
    ("zone", "period", "start", "end", "expected"),
    [
        # an unaligned start: the first period is the one that holds it (counted only from the start)
        ("Asia/Kolkata", "DAY", "2024-03-01T12:00", "2024-03-02T00:00", ["2024-02-29T18:30", "2024-03-01T18:30"]),
        ("UTC", "MONTH", "2024-02-15T08:00", "2024-03-01T00:01", ["2024-02-01T00:00", "2024-03-01T00:00"]),
        ("UTC", "HOUR", "2024-03-01T10:59", "2024-03-01T11:00", ["2024-03-01T10:00"]),
        # a start in the second 01:00 of a repeated hour: that occurrence's period
        ("America/New_York", "HOUR", "2024-11-03T06:10", "2024-11-03T07:30", ["2024-11-03T06:00", "2024-11-03T07:00"]),
        ("America/New_York", "WEEK", "2024-03-13T12:00", "2024-03-14T00:00", ["2024-03-11T04:00"]),
    ],
)
def test_a_start_off_a_boundary_belongs_to_its_period(
    zone: str, period: str, start: str, end: str, expected: list[str]
) -> None:
    assert hhmm(period_starts(utc(start), utc(end), period, zone)) == expected


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata", "Asia/Kathmandu", "America/New_York", "Australia/Lord_Howe"])
@pytest.mark.parametrize("period", ["HOUR", "DAY", "WEEK", "MONTH"])
def test_starts_increase_and_sit_on_15_minute_boundaries(zone: str, period: str) -> None:
    """Usage is kept in 15-minute buckets; every period start of these zones is a bucket start."""
    span = {"HOUR": timedelta(days=12), "DAY": timedelta(days=290), "WEEK": timedelta(weeks=290)}.get(
        period, timedelta(days=366 * 24)
    )
    start = utc("2024-01-01T00:00")
    starts = period_starts(start, start + span, period, zone)
    assert starts == sorted(set(starts))
    assert all(s.minute % 15 == 0 and s.second == 0 and s.microsecond == 0 for s in starts)
    assert starts[0] <= start < (starts[1] if len(starts) > 1 else start + span)


def test_at_most_300_periods() -> None:
    start = utc("2024-01-01T00:00")
    assert len(period_starts(start, start + timedelta(hours=300), "HOUR", "UTC")) == 300
    with pytest.raises(TooManyPeriods, match="more than 300 periods"):
        period_starts(start, start + timedelta(hours=301), "HOUR", "UTC")
    # the whole storable range: refused without walking it
    with pytest.raises(TooManyPeriods, match="more than 300 periods"):
        period_starts(utc("1970-01-01T00:00"), utc("9999-12-31T00:00"), "HOUR", "Asia/Kolkata")
    # +05:30: a UTC-midnight start sits inside the local hour 05:00, so 300 UTC hours touch 301 local ones
    with pytest.raises(TooManyPeriods, match="more than 300 periods"):
        period_starts(start, start + timedelta(hours=300), "HOUR", "Asia/Kolkata")


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "America/Los_Angeles", "Etc/GMT+12"])
@pytest.mark.parametrize("period", ["HOUR", "DAY", "WEEK", "MONTH"])
def test_the_edges_of_the_storable_range(zone: str, period: str) -> None:
    """A period that would end after year 9999 runs to the end of the range instead of overflowing."""
    end = utc("9999-12-31T00:00")
    starts = period_starts(end - timedelta(days=40 if period != "HOUR" else 2), end, period, zone)
    assert starts and starts[-1] < end
    first = period_starts(utc("1970-01-01T00:00"), utc("1970-01-03T00:00"), period, zone)
    assert first[0] <= utc("1970-01-01T00:00")


@pytest.mark.parametrize(
    ("start", "end", "period"),
    [
        ("2024-03-01T00:00", "2024-03-01T00:00", "DAY"),
        ("2024-03-02T00:00", "2024-03-01T00:00", "DAY"),
        ("2024-03-01T00:00", "2024-03-02T00:00", "YEAR"),
    ],
)
def test_refuses_an_empty_range_or_an_unknown_period(start: str, end: str, period: str) -> None:
    words = "unknown period 'YEAR'" if period == "YEAR" else "start must be before end"
    with pytest.raises(ValueError, match=words):
        period_starts(utc(start), utc(end), period, "UTC")
