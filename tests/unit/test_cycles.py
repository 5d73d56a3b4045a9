"""Pricing cycle math (billing-rules D2, D3, D7): tables and properties."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import FrozenInstanceError, replace
from datetime import date, datetime, timedelta, timezone, tzinfo
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import given, settings, strategies as st

from meterline.rating.cycles import (
    MAX_CYCLES,
    MONTHS,
    Cycle,
    CycleConfig,
    CycleError,
    CyclePiece,
    Interval,
    anniversary_offsets,
    calendar_days,
    check_cycle_config,
    covered_days,
    cycle_containing,
    cycle_days,
    cycles_overlapping,
    effective_config,
    local_day,
    local_start_of_day,
    next_cycle,
    retained_offsets,
    schedule_pieces,
)

UTC = timezone.utc
Z = ZoneInfo("UTC")
NEW_YORK = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")
KATHMANDU = ZoneInfo("Asia/Kathmandu")
FAR = datetime(2100, 1, 1, tzinfo=UTC)


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def starts_in(config: CycleConfig, year: int, tz: ZoneInfo = Z) -> list[str]:
    """Local dates of the cycle starts that fall in `year`."""
    first, last = local_start_of_day(date(year, 1, 1), tz), local_start_of_day(date(year + 1, 1, 1), tz)
    return [local_day(c.start, tz).isoformat() for c in cycles_overlapping(config, first, last, tz) if c.start >= first]


def monthly(day: str, year: int) -> list[str]:
    return [f"{year}-{m:02d}-{day}" for m in range(1, 13)]


# -- 3.2: the examples table, over several years --------------------------------------------------------------------
@pytest.mark.parametrize(
    "interval, day, month, year, expected",
    [
        ("MONTHLY", "12", "NIL", 2023, monthly("12", 2023)),
        ("MONTHLY", "12", "NIL", 2024, monthly("12", 2024)),
        ("QUARTERLY", "15", "FIRST", 2023, ["2023-01-15", "2023-04-15", "2023-07-15", "2023-10-15"]),
        ("QUARTERLY", "15", "FIRST", 2024, ["2024-01-15", "2024-04-15", "2024-07-15", "2024-10-15"]),
        ("QUARTERLY", "15", "1", 2024, ["2024-01-15", "2024-04-15", "2024-07-15", "2024-10-15"]),
        ("QUARTERLY", "15", "2", 2024, ["2024-02-15", "2024-05-15", "2024-08-15", "2024-11-15"]),
        ("QUARTERLY", "15", "LAST", 2024, ["2024-03-15", "2024-06-15", "2024-09-15", "2024-12-15"]),
        ("QUARTERLY", "15", "3", 2023, ["2023-03-15", "2023-06-15", "2023-09-15", "2023-12-15"]),
        ("HALF_YEARLY", "15", "4", 2023, ["2023-04-15", "2023-10-15"]),
        ("HALF_YEARLY", "15", "4", 2024, ["2024-04-15", "2024-10-15"]),
        ("HALF_YEARLY", "15", "FIRST", 2024, ["2024-01-15", "2024-07-15"]),
        ("HALF_YEARLY", "15", "LAST", 2024, ["2024-06-15", "2024-12-15"]),
        ("ANNUALLY", "LAST", "2", 2023, ["2023-02-28"]),
        ("ANNUALLY", "LAST", "2", 2024, ["2024-02-29"]),
        ("ANNUALLY", "LAST", "2", 2000, ["2000-02-29"]),
        ("ANNUALLY", "LAST", "2", 2100, ["2100-02-28"]),
        ("ANNUALLY", "15", "8", 2023, ["2023-08-15"]),
        ("ANNUALLY", "15", "8", 2024, ["2024-08-15"]),
        ("ANNUALLY", "1", "FIRST", 2024, ["2024-01-01"]),
        ("ANNUALLY", "LAST", "LAST", 2024, ["2024-12-31"]),
    ],
    ids=[
        "monthly-12-2023",
        "monthly-12-2024",
        "quarterly-15-first-2023",
        "quarterly-15-first-2024",
        "quarterly-15-1-is-first",
        "quarterly-15-2",
        "quarterly-15-last",
        "quarterly-15-3-is-last-2023",
        "half-yearly-15-4-2023",
        "half-yearly-15-4-2024",
        "half-yearly-15-first",
        "half-yearly-15-last",
        "annually-last-2-2023",
        "annually-last-2-leap-2024",
        "annually-last-2-leap-2000",
        "annually-last-2-2100-not-leap",
        "annually-15-8-2023",
        "annually-15-8-2024",
        "annually-1-first",
        "annually-last-last",
    ],
)
def test_examples_table(interval: str, day: str, month: str, year: int, expected: list[str]) -> None:
    assert starts_in(CycleConfig(interval, day, month), year) == expected


# -- D3: missing days fall back to the month's last day, anchor re-evaluated every month -----------------------------
@pytest.mark.parametrize(
    "interval, day, month, year, expected",
    [
        ("MONTHLY", "29", "NIL", 2023, ["2023-01-29", "2023-02-28", "2023-03-29"]),
        ("MONTHLY", "29", "NIL", 2024, ["2024-01-29", "2024-02-29", "2024-03-29"]),
        ("MONTHLY", "30", "NIL", 2023, ["2023-01-30", "2023-02-28", "2023-03-30"]),
        ("MONTHLY", "30", "NIL", 2024, ["2024-01-30", "2024-02-29", "2024-03-30"]),
        ("MONTHLY", "31", "NIL", 2023, ["2023-01-31", "2023-02-28", "2023-03-31"]),
        ("MONTHLY", "31", "NIL", 2024, ["2024-01-31", "2024-02-29", "2024-03-31"]),
        ("MONTHLY", "31", "NIL", 2100, ["2100-01-31", "2100-02-28", "2100-03-31"]),
        ("MONTHLY", "LAST", "NIL", 2023, ["2023-01-31", "2023-02-28", "2023-03-31"]),
        ("MONTHLY", "LAST", "NIL", 2024, ["2024-01-31", "2024-02-29", "2024-03-31"]),
    ],
    ids=[
        "29-2023",
        "29-2024-leap",
        "30-2023",
        "30-2024-leap",
        "31-2023",
        "31-2024-leap",
        "31-2100-not-leap",
        "last-2023",
        "last-2024-leap",
    ],
)
def test_missing_days_fall_back_to_the_last_day(
    interval: str, day: str, month: str, year: int, expected: list[str]
) -> None:
    assert starts_in(CycleConfig(interval, day, month), year)[:3] == expected


@pytest.mark.parametrize(
    "config, year, expected",
    [
        (
            CycleConfig("MONTHLY", "31", "NIL"),
            2023,
            [
                "2023-01-31",
                "2023-02-28",
                "2023-03-31",
                "2023-04-30",
                "2023-05-31",
                "2023-06-30",
                "2023-07-31",
                "2023-08-31",
                "2023-09-30",
                "2023-10-31",
                "2023-11-30",
                "2023-12-31",
            ],
        ),
        (
            CycleConfig("MONTHLY", "30", "NIL"),
            2023,
            [
                "2023-01-30",
                "2023-02-28",
                "2023-03-30",
                "2023-04-30",
                "2023-05-30",
                "2023-06-30",
                "2023-07-30",
                "2023-08-30",
                "2023-09-30",
                "2023-10-30",
                "2023-11-30",
                "2023-12-30",
            ],
        ),
        (CycleConfig("QUARTERLY", "31", "2"), 2023, ["2023-02-28", "2023-05-31", "2023-08-31", "2023-11-30"]),
        (CycleConfig("QUARTERLY", "31", "2"), 2024, ["2024-02-29", "2024-05-31", "2024-08-31", "2024-11-30"]),
        (CycleConfig("HALF_YEARLY", "31", "LAST"), 2024, ["2024-06-30", "2024-12-31"]),
        (CycleConfig("ANNUALLY", "30", "2"), 2024, ["2024-02-29"]),
    ],
    ids=[
        "monthly-31-never-drifts",
        "monthly-30-never-drifts",
        "quarterly-31-2",
        "quarterly-31-2-leap",
        "half-yearly-31-last",
        "annually-30-feb-leap",
    ],
)
def test_the_anchor_never_drifts(config: CycleConfig, year: int, expected: list[str]) -> None:
    assert starts_in(config, year) == expected


@pytest.mark.parametrize(
    "moment, start, end",
    [
        (at(2023, 2, 15), at(2023, 1, 31), at(2023, 2, 28)),
        (at(2023, 3, 15), at(2023, 2, 28), at(2023, 3, 31)),
        (at(2024, 3, 1), at(2024, 2, 29), at(2024, 3, 31)),
        (at(2024, 4, 30), at(2024, 4, 30), at(2024, 5, 31)),
    ],
    ids=["jan31-feb28", "feb28-mar31", "feb29-mar31-leap", "apr30-may31"],
)
def test_monthly_31_cycle_windows(moment: datetime, start: datetime, end: datetime) -> None:
    cycle = cycle_containing(CycleConfig("MONTHLY", "31", "NIL"), moment, Z)
    assert (cycle.start, cycle.end) == (start, end)


# -- WEEKLY ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "day, start",
    [
        ("1", date(2024, 5, 13)),
        ("2", date(2024, 5, 14)),
        ("3", date(2024, 5, 15)),
        ("4", date(2024, 5, 9)),
        ("5", date(2024, 5, 10)),
        ("6", date(2024, 5, 11)),
        ("7", date(2024, 5, 12)),
        ("LAST", date(2024, 5, 12)),
    ],
    ids=["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "last-is-sunday"],
)
def test_weekly_day_offsets(day: str, start: date) -> None:
    cycle = cycle_containing(CycleConfig("WEEKLY", day, "NIL"), at(2024, 5, 15, 12), Z)  # a Wednesday
    assert cycle.start == local_start_of_day(start, Z)
    assert cycle.end - cycle.start == timedelta(days=7)
    assert cycle.start.isoweekday() == (7 if day == "LAST" else int(day))


# -- half-open windows -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "config, boundary, tz",
    [
        (CycleConfig("MONTHLY", "1", "NIL"), at(2024, 3, 1), Z),
        (CycleConfig("MONTHLY", "LAST", "NIL"), at(2024, 2, 29), Z),
        (CycleConfig("WEEKLY", "1", "NIL"), at(2024, 5, 13), Z),
        (CycleConfig("QUARTERLY", "15", "2"), at(2024, 5, 15), Z),
        (CycleConfig("ANNUALLY", "LAST", "2"), at(2024, 2, 29), Z),
        (CycleConfig("MONTHLY", "1", "NIL"), at(2024, 2, 29, 18, 30), KOLKATA),
        (CycleConfig("MONTHLY", "1", "NIL"), at(2024, 3, 1, 5), NEW_YORK),
    ],
    ids=["monthly", "monthly-last", "weekly", "quarterly", "annually", "kolkata", "new-york"],
)
def test_boundaries_are_half_open(config: CycleConfig, boundary: datetime, tz: ZoneInfo) -> None:
    new = cycle_containing(config, boundary, tz)
    old = cycle_containing(config, boundary - timedelta(microseconds=1), tz)
    assert new.start == boundary and old.end == boundary
    assert new.contains(boundary) and not old.contains(boundary)
    assert next_cycle(config, old, tz) == new


# -- D3 grace ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "tz, start, end, grace, grace_end",
    [
        (Z, at(2024, 11, 1), at(2024, 12, 1), 5, at(2024, 12, 6)),
        (Z, at(2024, 11, 1), at(2024, 12, 1), 0, at(2024, 12, 1)),
        (KOLKATA, at(2024, 10, 31, 18, 30), at(2024, 11, 30, 18, 30), 5, at(2024, 12, 5, 18, 30)),
        # the cycle ends on 1 March EST; 10 local days later it is EDT: 04:00 UTC, not 05:00 (days, not 240 h)
        (NEW_YORK, at(2024, 2, 1, 5), at(2024, 3, 1, 5), 10, at(2024, 3, 11, 4)),
    ],
    ids=["d3-example", "no-grace", "kolkata", "new-york-across-dst"],
)
def test_grace_end(tz: ZoneInfo, start: datetime, end: datetime, grace: int, grace_end: datetime) -> None:
    cycle = cycle_containing(CycleConfig("MONTHLY", "1", "NIL", grace), start + timedelta(days=10), tz)
    assert (cycle.start, cycle.end) == (start, end)
    assert cycle.grace_end(grace) == grace_end


def test_grace_end_refuses_negative_days() -> None:
    with pytest.raises(CycleError, match=re.escape("pricingCycleConfig.gracePeriod: -1 must be 0 or more whole days")):
        Cycle(at(2024, 11, 1), at(2024, 12, 1)).grace_end(-1)


# -- organization timezones ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "tz, moment, start, end",
    [
        (Z, at(2024, 3, 10), at(2024, 3, 1), at(2024, 4, 1)),
        (KOLKATA, at(2024, 3, 10), at(2024, 2, 29, 18, 30), at(2024, 3, 31, 18, 30)),
        (KOLKATA, at(2024, 2, 29, 19), at(2024, 2, 29, 18, 30), at(2024, 3, 31, 18, 30)),  # already 1 March in India
        (KATHMANDU, at(2024, 3, 10), at(2024, 2, 29, 18, 15), at(2024, 3, 31, 18, 15)),
        (NEW_YORK, at(2024, 3, 10), at(2024, 3, 1, 5), at(2024, 4, 1, 4)),  # EST to EDT: 743 hours
        (NEW_YORK, at(2024, 11, 10), at(2024, 11, 1, 4), at(2024, 12, 1, 5)),  # EDT to EST: 721 hours
    ],
    ids=["utc", "kolkata", "kolkata-local-date-ahead", "kathmandu", "new-york-spring", "new-york-fall"],
)
def test_boundaries_fall_at_local_midnight(tz: ZoneInfo, moment: datetime, start: datetime, end: datetime) -> None:
    cycle = cycle_containing(CycleConfig("MONTHLY", "1", "NIL"), moment, tz)
    assert (cycle.start, cycle.end) == (start, end)
    assert cycle.start.tzinfo is UTC and cycle.start.astimezone(tz).time().isoformat() == "00:00:00"


@pytest.mark.parametrize(
    "tz, moment, hours",
    [
        ("America/New_York", at(2024, 3, 8), 167),
        ("America/New_York", at(2024, 11, 1), 169),
        ("Europe/London", at(2024, 3, 28), 167),
        ("Europe/London", at(2024, 10, 25), 169),
        ("Australia/Sydney", at(2024, 4, 3), 169),
        ("Australia/Sydney", at(2024, 10, 3), 167),
        ("Asia/Kolkata", at(2024, 3, 8), 168),
        ("UTC", at(2024, 3, 8), 168),
    ],
    ids=[
        "new-york-mar-10",
        "new-york-nov-3",
        "london-mar-31",
        "london-oct-27",
        "sydney-apr-7",
        "sydney-oct-6",
        "kolkata-no-dst",
        "utc",
    ],
)
def test_a_week_across_a_dst_change(tz: str, moment: datetime, hours: int) -> None:
    cycle = cycle_containing(CycleConfig("WEEKLY", "1", "NIL"), moment, ZoneInfo(tz))
    assert cycle.end - cycle.start == timedelta(hours=hours)
    assert cycle_days(cycle, ZoneInfo(tz)) == 7


# -- days whose midnight is skipped, doubled, or crossed backwards ---------------------------------------------------
@pytest.mark.parametrize(
    "tz, day, first_instant, local_time",
    [
        ("America/Santiago", date(2022, 9, 11), at(2022, 9, 11, 4), "01:00:00"),  # 00:00 -> 01:00
        ("America/Havana", date(2024, 3, 10), at(2024, 3, 10, 5), "01:00:00"),  # 00:00 -> 01:00
        ("America/Havana", date(2024, 11, 3), at(2024, 11, 3, 4), "00:00:00"),  # 01:00 -> 00:00: the first 00:00
        ("Atlantic/Azores", date(2024, 10, 27), at(2024, 10, 27, 0), "00:00:00"),  # 01:00 -> 00:00: the first
        ("America/St_Johns", date(2008, 11, 2), at(2008, 11, 2, 2, 30), "00:00:00"),  # 00:01 -> 23:01 the day before
        ("America/Toronto", date(1919, 3, 31), at(1919, 3, 31, 4, 30), "00:30:00"),  # 23:30 -> 00:30
        ("Pacific/Apia", date(2011, 12, 30), at(2011, 12, 30, 10), "00:00:00"),  # the whole day skipped
        ("America/New_York", date(2024, 3, 10), at(2024, 3, 10, 5), "00:00:00"),  # the change is at 02:00
    ],
    ids=[
        "santiago-skipped-midnight",
        "havana-skipped-midnight",
        "havana-doubled-midnight",
        "azores-doubled-midnight",
        "st-johns-backwards-over-midnight",
        "toronto-1919-gap-across-midnight",
        "apia-skipped-day",
        "new-york",
    ],
)
def test_the_first_instant_of_a_local_day(tz: str, day: date, first_instant: datetime, local_time: str) -> None:
    zone = ZoneInfo(tz)
    start = local_start_of_day(day, zone)
    assert start == first_instant and start.astimezone(zone).time().isoformat() == local_time
    assert (start - timedelta(microseconds=1)).astimezone(zone).date() < day


def test_a_cycle_boundary_on_a_skipped_midnight() -> None:
    santiago = ZoneInfo("America/Santiago")
    config = CycleConfig("MONTHLY", "11", "NIL")
    before = cycle_containing(config, at(2022, 9, 11, 3, 59, 59), santiago)  # 23:59:59 local on 10 September
    after = cycle_containing(config, at(2022, 9, 11, 4), santiago)
    assert before.end == after.start == at(2022, 9, 11, 4)
    assert after.end == at(2022, 10, 11, 3)  # 00:00 -03


def test_the_hour_after_a_backwards_change_belongs_to_the_new_day() -> None:
    st_johns = ZoneInfo("America/St_Johns")
    moment = at(2008, 11, 2, 2, 45)  # shows 1 November 23:15 NST, but 2 November's 00:00 NDT has passed
    assert moment.astimezone(st_johns).date() == date(2008, 11, 1)
    assert local_day(moment, st_johns) == date(2008, 11, 2)
    cycle = cycle_containing(CycleConfig("MONTHLY", "2", "NIL"), moment, st_johns)
    assert cycle.start == at(2008, 11, 2, 2, 30) and cycle.contains(moment)


def test_a_week_over_a_skipped_day() -> None:
    apia = ZoneInfo("Pacific/Apia")  # Friday 30 December 2011 never happened there
    cycle = cycle_containing(CycleConfig("WEEKLY", "5", "NIL"), at(2011, 12, 31, 12), apia)
    assert (cycle.start, cycle.end - cycle.start) == (at(2011, 12, 30, 10), timedelta(days=6))


# -- anniversary (3.2) -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "interval, day, expected",
    [
        ("MONTHLY", date(2023, 10, 12), ("12", "NIL")),
        ("MONTHLY", date(2023, 10, 31), ("LAST", "NIL")),
        ("MONTHLY", date(2023, 10, 30), ("30", "NIL")),
        ("MONTHLY", date(2024, 4, 30), ("LAST", "NIL")),
        ("MONTHLY", date(2023, 2, 28), ("LAST", "NIL")),
        ("MONTHLY", date(2024, 2, 28), ("28", "NIL")),
        ("MONTHLY", date(2024, 2, 29), ("LAST", "NIL")),
        ("MONTHLY", date(2024, 1, 1), ("1", "NIL")),
        ("WEEKLY", date(2023, 10, 25), ("3", "NIL")),
        ("WEEKLY", date(2023, 10, 23), ("1", "NIL")),
        ("WEEKLY", date(2023, 10, 29), ("7", "NIL")),
        ("QUARTERLY", date(2024, 1, 15), ("15", "1")),
        ("QUARTERLY", date(2024, 5, 15), ("15", "2")),
        ("QUARTERLY", date(2024, 3, 10), ("10", "3")),
        ("QUARTERLY", date(2024, 12, 31), ("LAST", "3")),
        ("HALF_YEARLY", date(2024, 4, 15), ("15", "4")),
        ("HALF_YEARLY", date(2024, 10, 15), ("15", "4")),
        ("HALF_YEARLY", date(2024, 6, 30), ("LAST", "6")),
        ("ANNUALLY", date(2024, 8, 15), ("15", "8")),
        ("ANNUALLY", date(2024, 2, 29), ("LAST", "2")),
        ("ANNUALLY", date(2023, 2, 28), ("LAST", "2")),
        ("ANNUALLY", date(2024, 1, 1), ("1", "1")),
    ],
    ids=[
        "monthly-12-oct",
        "monthly-31-oct",
        "monthly-30-oct",
        "monthly-30-apr-is-last",
        "monthly-28-feb-2023-is-last",
        "monthly-28-feb-2024-leap",
        "monthly-29-feb-2024",
        "monthly-1-jan",
        "weekly-wednesday",
        "weekly-monday",
        "weekly-sunday-is-7",
        "quarterly-15-jan",
        "quarterly-15-may",
        "quarterly-10-mar",
        "quarterly-31-dec",
        "half-yearly-15-apr",
        "half-yearly-15-oct",
        "half-yearly-30-jun",
        "annually-15-aug",
        "annually-29-feb",
        "annually-28-feb-2023",
        "annually-1-jan",
    ],
)
def test_anniversary_offsets(interval: str, day: date, expected: tuple[str, str]) -> None:
    assert anniversary_offsets(interval, day) == expected
    check_cycle_config(CycleConfig(interval, *expected))


@pytest.mark.parametrize(
    "interval, associated, expected",
    [
        ("MONTHLY", at(2024, 1, 31), ["2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30", "2024-05-31"]),
        ("MONTHLY", at(2023, 10, 30), ["2023-10-30", "2023-11-30", "2023-12-30", "2024-01-30", "2024-02-29"]),
        ("QUARTERLY", at(2024, 1, 15), ["2024-01-15", "2024-04-15", "2024-07-15", "2024-10-15", "2025-01-15"]),
        ("QUARTERLY", at(2024, 3, 10), ["2024-03-10", "2024-06-10", "2024-09-10", "2024-12-10", "2025-03-10"]),
        ("WEEKLY", at(2023, 10, 25), ["2023-10-25", "2023-11-01", "2023-11-08", "2023-11-15", "2023-11-22"]),
        ("ANNUALLY", at(2024, 2, 29), ["2024-02-29", "2025-02-28", "2026-02-28", "2027-02-28", "2028-02-29"]),
    ],
    ids=[
        "monthly-31-jan",
        "monthly-30-oct",
        "quarterly-15-jan",
        "quarterly-10-mar-three-months",
        "weekly-wednesday",
        "annually-29-feb",
    ],
)
def test_anniversary_schedules_start_their_cycles_on_the_association_day(
    interval: str, associated: datetime, expected: list[str]
) -> None:
    config = CycleConfig(interval, "1", "NIL" if MONTHS[interval] <= 1 else "1", anniversary=True)
    pieces = schedule_pieces(config, associated, FAR, Z, until=FAR)[:5]
    assert [local_day(p.cycle.start, Z).isoformat() for p in pieces] == expected
    assert not any(p.is_partial for p in pieces)


def test_anniversary_uses_the_local_association_date() -> None:
    associated = at(2024, 1, 31, 20)  # 1 February 01:30 in India
    config = CycleConfig("MONTHLY", "15", "NIL", 3, anniversary=True)
    assert effective_config(config, associated, KOLKATA) == CycleConfig("MONTHLY", "1", "NIL", 3)
    assert effective_config(config, associated, Z) == CycleConfig("MONTHLY", "LAST", "NIL", 3)
    assert effective_config(CycleConfig("MONTHLY", "15", "NIL"), associated, Z) == CycleConfig("MONTHLY", "15", "NIL")
    pieces = schedule_pieces(config, associated, FAR, KOLKATA, until=at(2024, 4, 1))
    assert [p.start for p in pieces] == [associated, at(2024, 2, 29, 18, 30), at(2024, 3, 31, 18, 30)]
    assert pieces[0].cycle.start == at(2024, 1, 31, 18, 30)  # 1 February 00:00 in India
    assert pieces[0].is_partial and covered_days(pieces[0], KOLKATA) == cycle_days(pieces[0].cycle, KOLKATA) == 29


def test_anniversary_offsets_refuse_bad_input() -> None:
    with pytest.raises(ValueError, match="local date, not a datetime"):
        anniversary_offsets("MONTHLY", at(2024, 1, 1))
    with pytest.raises(CycleError, match=re.escape("pricingCycleConfig.interval: 'DAILY' is not a pricing interval")):
        anniversary_offsets("DAILY", date(2024, 1, 1))


# -- schedules (section 5) and proration days (D7) --------------------------------------------------------------------
MONTHLY_1 = CycleConfig("MONTHLY", "1", "NIL")


@pytest.mark.parametrize(
    "schedule_start, schedule_end, until, expected",
    [
        # starts and ends mid-cycle: partial first and last pieces
        (
            at(2024, 4, 11),
            at(2024, 6, 20),
            FAR,
            [
                (at(2024, 4, 11), at(2024, 5, 1), True, 20, 30),
                (at(2024, 5, 1), at(2024, 6, 1), False, 31, 31),
                (at(2024, 6, 1), at(2024, 6, 20), True, 19, 30),
            ],
        ),
        # from 13:00: the started day counts whole; ending at 13:00 counts that day too
        (
            at(2024, 4, 11, 13),
            at(2024, 6, 20, 13),
            FAR,
            [
                (at(2024, 4, 11, 13), at(2024, 5, 1), True, 20, 30),
                (at(2024, 5, 1), at(2024, 6, 1), False, 31, 31),
                (at(2024, 6, 1), at(2024, 6, 20, 13), True, 20, 30),
            ],
        ),
        # inside one cycle
        (at(2024, 4, 11), at(2024, 4, 21), FAR, [(at(2024, 4, 11), at(2024, 4, 21), True, 10, 30)]),
        # on the boundaries exactly: whole cycles
        (
            at(2024, 4, 1),
            at(2024, 6, 1),
            FAR,
            [(at(2024, 4, 1), at(2024, 5, 1), False, 30, 30), (at(2024, 5, 1), at(2024, 6, 1), False, 31, 31)],
        ),
        # open-ended, enumerated up to `until` (exclusive: the cycle starting at `until` is not listed)
        (
            at(2024, 1, 15),
            datetime(9999, 1, 1, tzinfo=UTC),
            at(2024, 4, 1),
            [
                (at(2024, 1, 15), at(2024, 2, 1), True, 17, 31),
                (at(2024, 2, 1), at(2024, 3, 1), False, 29, 29),
                (at(2024, 3, 1), at(2024, 4, 1), False, 31, 31),
            ],
        ),
        # `until` inside a cycle: that piece is listed whole, not cut at `until`
        (
            at(2024, 1, 15),
            datetime(9999, 1, 1, tzinfo=UTC),
            at(2024, 2, 10),
            [(at(2024, 1, 15), at(2024, 2, 1), True, 17, 31), (at(2024, 2, 1), at(2024, 3, 1), False, 29, 29)],
        ),
        # nothing before `until`, and an empty schedule
        (at(2024, 1, 15), at(2024, 3, 1), at(2024, 1, 15), []),
        (at(2024, 1, 15), at(2024, 1, 15), FAR, []),
    ],
    ids=[
        "mid-cycle-start-and-end",
        "started-days-count-whole",
        "inside-one-cycle",
        "on-boundaries",
        "open-ended-until-boundary",
        "open-ended-until-mid-cycle",
        "until-at-start",
        "empty-schedule",
    ],
)
def test_schedule_pieces(
    schedule_start: datetime,
    schedule_end: datetime,
    until: datetime,
    expected: list[tuple[datetime, datetime, bool, int, int]],
) -> None:
    pieces = schedule_pieces(MONTHLY_1, schedule_start, schedule_end, Z, until=until)
    assert [(p.start, p.end, p.is_partial, covered_days(p, Z), cycle_days(p.cycle, Z)) for p in pieces] == expected


def test_schedule_pieces_in_an_org_timezone() -> None:
    # a schedule from 11 April 00:00 in New York, on a MONTHLY {1, NIL} plan, until 1 May 00:00 New York
    start, end = local_start_of_day(date(2024, 4, 11), NEW_YORK), local_start_of_day(date(2024, 5, 1), NEW_YORK)
    (piece,) = schedule_pieces(MONTHLY_1, start, end, NEW_YORK, until=FAR)
    assert (piece.cycle.start, piece.cycle.end) == (at(2024, 4, 1, 4), at(2024, 5, 1, 4))
    assert (covered_days(piece, NEW_YORK), cycle_days(piece.cycle, NEW_YORK)) == (20, 30)
    assert covered_days(piece, Z) == 21  # the same instants seen from UTC touch 11 April 04:00 .. 1 May 03:59


@pytest.mark.parametrize(
    "start, end, tz, days",
    [
        (at(2024, 1, 1), at(2024, 1, 1), Z, 0),
        (at(2024, 1, 2), at(2024, 1, 1), Z, 0),
        (at(2024, 1, 1), at(2024, 1, 1, 0, 0, 0, 1), Z, 1),
        (at(2024, 1, 1), at(2024, 1, 2), Z, 1),
        (at(2024, 1, 1), at(2024, 1, 2, 0, 0, 0, 1), Z, 2),
        (at(2024, 1, 1, 23), at(2024, 1, 2, 1), Z, 2),
        (at(2024, 1, 1, 23), at(2024, 1, 2, 1), KOLKATA, 1),  # 04:30 to 06:30 on 2 January
        (at(2024, 1, 1, 18, 15), at(2024, 1, 1, 18, 30), KATHMANDU, 1),  # 00:00 to 00:15 on 2 January
        (at(2024, 1, 1, 18), at(2024, 1, 1, 18, 30), KATHMANDU, 2),  # 23:45 to 00:15
        (at(2024, 4, 1), at(2024, 5, 1), Z, 30),
        (at(2024, 2, 1), at(2024, 3, 1), Z, 29),
        (at(2023, 2, 1), at(2023, 3, 1), Z, 28),
        (at(2024, 3, 10, 5), at(2024, 3, 11, 4), NEW_YORK, 1),  # a 23-hour day
        (at(2024, 11, 3, 4), at(2024, 11, 4, 5), NEW_YORK, 1),  # a 25-hour day
        (at(2024, 3, 1, 5), at(2024, 4, 1, 4), NEW_YORK, 31),
        (at(2024, 1, 1), at(2025, 1, 1), Z, 366),
    ],
    ids=[
        "empty",
        "reversed",
        "one-microsecond",
        "one-day",
        "one-day-and-a-microsecond",
        "two-hours-over-midnight",
        "two-hours-kolkata",
        "kathmandu-quarter-hour",
        "kathmandu-over-midnight",
        "april",
        "february-leap",
        "february",
        "new-york-23-hour-day",
        "new-york-25-hour-day",
        "new-york-march",
        "leap-year",
    ],
)
def test_calendar_days(start: datetime, end: datetime, tz: ZoneInfo, days: int) -> None:
    assert calendar_days(start, end, tz) == days


# -- retainStartOffsets (3.10) -----------------------------------------------------------------------------------------
def test_retained_offsets_keep_the_current_alignment() -> None:
    current = CycleConfig("MONTHLY", "1", "NIL", 2)
    new = CycleConfig("MONTHLY", "15", "NIL", 5, anniversary=True)
    assert retained_offsets(current, new) == CycleConfig("MONTHLY", "1", "NIL", 5)
    anniversary = CycleConfig("QUARTERLY", "1", "1", 0, anniversary=True)
    assert retained_offsets(anniversary, CycleConfig("QUARTERLY", "5", "LAST", 1), date(2024, 5, 20)) == CycleConfig(
        "QUARTERLY", "20", "2", 1
    )


@pytest.mark.parametrize(
    "current, new, anchor, message",
    [
        (
            CycleConfig("MONTHLY", "1", "NIL"),
            CycleConfig("WEEKLY", "1", "NIL"),
            None,
            "retainStartOffsets needs the same pricing interval: current plan is MONTHLY, new plan is WEEKLY",
        ),
        (
            CycleConfig("QUARTERLY", "1", "1"),
            CycleConfig("ANNUALLY", "1", "1"),
            None,
            "retainStartOffsets needs the same pricing interval: current plan is QUARTERLY, new plan is ANNUALLY",
        ),
        (
            None,
            CycleConfig("MONTHLY", "1", "NIL"),
            None,
            "retainStartOffsets: the account has no pricing cycle at that date to keep; associate without "
            "retainStartOffsets",
        ),
        (
            CycleConfig("MONTHLY", "1", "NIL", anniversary=True),
            CycleConfig("MONTHLY", "1", "NIL"),
            None,
            "retainStartOffsets: the current cycle is an anniversary cycle; pass the date it is anchored on",
        ),
    ],
    ids=["monthly-to-weekly", "quarterly-to-annually", "no-current-cycle", "anniversary-without-anchor"],
)
def test_retained_offsets_errors(
    current: CycleConfig | None, new: CycleConfig, anchor: date | None, message: str
) -> None:
    with pytest.raises(CycleError, match=f"^{re.escape(message)}$"):
        retained_offsets(current, new, anchor)


# -- configuration errors ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "config, message",
    [
        (
            CycleConfig("DAILY", "1", "NIL"),
            "pricingCycleConfig.interval: 'DAILY' is not a pricing interval; send one "
            "of WEEKLY, MONTHLY, QUARTERLY, HALF_YEARLY, ANNUALLY",
        ),
        (
            CycleConfig("monthly", "1", "NIL"),
            "pricingCycleConfig.interval: 'monthly' is not a pricing interval; send "
            "one of WEEKLY, MONTHLY, QUARTERLY, HALF_YEARLY, ANNUALLY",
        ),
        (
            CycleConfig("MONTHLY", "32", "NIL"),
            "pricingCycleConfig.startOffset.dayOffset: '32' is out of range for MONTHLY; send 1 to 31 or LAST",
        ),
        (
            CycleConfig("MONTHLY", "0", "NIL"),
            "pricingCycleConfig.startOffset.dayOffset: '0' is out of range for MONTHLY; send 1 to 31 or LAST",
        ),
        (
            CycleConfig("MONTHLY", "01", "NIL"),
            "pricingCycleConfig.startOffset.dayOffset: '01' is out of range for MONTHLY; send 1 to 31 or LAST",
        ),
        (
            CycleConfig("MONTHLY", "-1", "NIL"),
            "pricingCycleConfig.startOffset.dayOffset: '-1' is out of range for MONTHLY; send 1 to 31 or LAST",
        ),
        (
            CycleConfig("MONTHLY", " 1", "NIL"),
            "pricingCycleConfig.startOffset.dayOffset: ' 1' is out of range for MONTHLY; send 1 to 31 or LAST",
        ),
        (
            CycleConfig("MONTHLY", "last", "NIL"),
            "pricingCycleConfig.startOffset.dayOffset: 'last' is out of range for MONTHLY; send 1 to 31 or LAST",
        ),
        (
            CycleConfig("MONTHLY", "\u0663", "NIL"),
            "pricingCycleConfig.startOffset.dayOffset: '\u0663' is out of range for MONTHLY; send 1 to 31 or LAST",
        ),
        (
            CycleConfig("MONTHLY", "", "NIL"),
            "pricingCycleConfig.startOffset.dayOffset: '' is out of range for MONTHLY; send 1 to 31 or LAST",
        ),
        (
            CycleConfig("WEEKLY", "8", "NIL"),
            "pricingCycleConfig.startOffset.dayOffset: '8' is out of range for "
            "WEEKLY; send 1 to 7 (1 = Monday, 7 = Sunday) or LAST",
        ),
        (
            CycleConfig("WEEKLY", "0", "NIL"),
            "pricingCycleConfig.startOffset.dayOffset: '0' is out of range for "
            "WEEKLY; send 1 to 7 (1 = Monday, 7 = Sunday) or LAST",
        ),
        (
            CycleConfig("MONTHLY", "1", "3"),
            "pricingCycleConfig.startOffset.monthOffset: '3' is not allowed for MONTHLY; send NIL",
        ),
        (
            CycleConfig("MONTHLY", "1", ""),
            "pricingCycleConfig.startOffset.monthOffset: '' is not allowed for MONTHLY; send NIL",
        ),
        (
            CycleConfig("MONTHLY", "1", "LAST"),
            "pricingCycleConfig.startOffset.monthOffset: 'LAST' is not allowed for MONTHLY; send NIL",
        ),
        (
            CycleConfig("WEEKLY", "1", "FIRST"),
            "pricingCycleConfig.startOffset.monthOffset: 'FIRST' is not allowed for WEEKLY; send NIL",
        ),
        (
            CycleConfig("QUARTERLY", "1", "4"),
            "pricingCycleConfig.startOffset.monthOffset: '4' is out of range for QUARTERLY; send 1 to 3, FIRST or LAST",
        ),
        (
            CycleConfig("QUARTERLY", "1", "NIL"),
            "pricingCycleConfig.startOffset.monthOffset: 'NIL' is out of range for "
            "QUARTERLY; send 1 to 3, FIRST or LAST",
        ),
        (
            CycleConfig("QUARTERLY", "1", "0"),
            "pricingCycleConfig.startOffset.monthOffset: '0' is out of range for QUARTERLY; send 1 to 3, FIRST or LAST",
        ),
        (
            CycleConfig("HALF_YEARLY", "1", "7"),
            "pricingCycleConfig.startOffset.monthOffset: '7' is out of range for "
            "HALF_YEARLY; send 1 to 6, FIRST or LAST",
        ),
        (
            CycleConfig("ANNUALLY", "1", "13"),
            "pricingCycleConfig.startOffset.monthOffset: '13' is out of range for "
            "ANNUALLY; send 1 to 12, FIRST or LAST",
        ),
        (
            CycleConfig("ANNUALLY", "1", ""),
            "pricingCycleConfig.startOffset.monthOffset: '' is out of range for ANNUALLY; send 1 to 12, FIRST or LAST",
        ),
        (CycleConfig("MONTHLY", "1", "NIL", -1), "pricingCycleConfig.gracePeriod: -1 is negative; send 0 or more days"),
        (
            CycleConfig("MONTHLY", "1", "NIL", "5"),  # type: ignore[arg-type]
            "pricingCycleConfig.gracePeriod: '5' is not a whole number of days; send 0 or more",
        ),
        (
            CycleConfig("MONTHLY", "1", "NIL", True),
            "pricingCycleConfig.gracePeriod: True is not a whole number of days; send 0 or more",
        ),
    ],
    ids=[
        "interval",
        "interval-lower-case",
        "day-32",
        "day-0",
        "day-leading-zero",
        "day-negative",
        "day-space",
        "day-lower-case-last",
        "day-arabic-digit",
        "day-empty",
        "weekday-8",
        "weekday-0",
        "monthly-month-3",
        "monthly-month-empty",
        "monthly-month-last",
        "weekly-month-first",
        "quarter-4",
        "quarter-nil",
        "quarter-0",
        "half-7",
        "year-13",
        "year-empty",
        "grace-negative",
        "grace-text",
        "grace-bool",
    ],
)
def test_invalid_configs_name_the_field_and_the_fix(config: CycleConfig, message: str) -> None:
    with pytest.raises(CycleError, match=f"^{re.escape(message)}$"):
        check_cycle_config(config)
    with pytest.raises(CycleError, match=f"^{re.escape(message)}$"):
        cycle_containing(config, at(2024, 1, 1), Z)


@pytest.mark.parametrize(
    "config",
    [CycleConfig("WEEKLY", d, "NIL") for d in ("1", "7", "LAST")]
    + [CycleConfig("MONTHLY", d, "NIL", 30) for d in ("1", "31", "LAST")]
    + [CycleConfig(i, "LAST", m) for i in ("QUARTERLY", "HALF_YEARLY", "ANNUALLY") for m in ("1", "FIRST", "LAST")]
    + [
        CycleConfig("QUARTERLY", "1", "3"),
        CycleConfig("HALF_YEARLY", "1", "6"),
        CycleConfig("ANNUALLY", "1", "12"),
        CycleConfig(Interval.MONTHLY, "1", "NIL"),
    ],
    ids=lambda c: f"{c.interval}-{c.day_offset}-{c.month_offset}",
)
def test_valid_configs(config: CycleConfig) -> None:
    check_cycle_config(config)


def test_intervals() -> None:
    assert [i.value for i in Interval] == ["WEEKLY", "MONTHLY", "QUARTERLY", "HALF_YEARLY", "ANNUALLY"]
    assert MONTHS == {"WEEKLY": 0, "MONTHLY": 1, "QUARTERLY": 3, "HALF_YEARLY": 6, "ANNUALLY": 12}


def test_spans_are_bounded() -> None:
    weekly = CycleConfig("WEEKLY", "1", "NIL")
    with pytest.raises(
        CycleError,
        match=re.escape(
            f"more than {MAX_CYCLES} WEEKLY pricing cycles between "
            "1971-01-01T00:00:00+00:00 and 2200-01-01T00:00:00+00:00"
        ),
    ):
        cycles_overlapping(weekly, at(1971, 1, 1), at(2200, 1, 1), Z)
    with pytest.raises(CycleError, match="only computed between the years 1 and 9999"):
        cycle_containing(CycleConfig("ANNUALLY", "1", "1"), at(9999, 6, 1), Z)


# -- cycles_overlapping, values ----------------------------------------------------------------------------------------
def test_cycles_overlapping() -> None:
    found = cycles_overlapping(MONTHLY_1, at(2024, 1, 15), at(2024, 3, 1), Z)
    assert [(c.start, c.end) for c in found] == [(at(2024, 1, 1), at(2024, 2, 1)), (at(2024, 2, 1), at(2024, 3, 1))]
    assert len(cycles_overlapping(MONTHLY_1, at(2024, 1, 15), at(2024, 3, 1, 0, 0, 0, 1), Z)) == 3
    assert cycles_overlapping(MONTHLY_1, at(2024, 1, 15), at(2024, 1, 15), Z) == []
    assert cycles_overlapping(MONTHLY_1, at(2024, 1, 15), at(2024, 1, 1), Z) == []


def test_values_are_utc_and_checked() -> None:
    cycle = Cycle(datetime(2024, 1, 1, 5, 30, tzinfo=KOLKATA), datetime(2024, 2, 1, 5, 30, tzinfo=KOLKATA), KOLKATA)
    assert (cycle.start, cycle.end) == (at(2024, 1, 1), at(2024, 2, 1)) and cycle.start.tzinfo is UTC
    assert cycle == Cycle(at(2024, 1, 1), at(2024, 2, 1))  # the timezone does not take part in equality
    with pytest.raises(ValueError, match="must be before end"):
        Cycle(at(2024, 2, 1), at(2024, 2, 1))
    with pytest.raises(ValueError, match="empty or outside its cycle"):
        CyclePiece(cycle, at(2023, 12, 31), at(2024, 1, 5))
    with pytest.raises(ValueError, match="empty or outside its cycle"):
        CyclePiece(cycle, at(2024, 1, 5), at(2024, 1, 5))
    with pytest.raises(FrozenInstanceError, match="cannot assign to field 'start'"):
        cycle.start = at(2020, 1, 1)  # type: ignore[misc]


NAIVE = datetime(2024, 1, 1)
AWARE = at(2024, 1, 1)


@pytest.mark.parametrize(
    "call",
    [
        lambda: cycle_containing(MONTHLY_1, NAIVE, Z),
        lambda: cycles_overlapping(MONTHLY_1, NAIVE, AWARE, Z),
        lambda: cycles_overlapping(MONTHLY_1, AWARE, NAIVE, Z),
        lambda: schedule_pieces(MONTHLY_1, NAIVE, AWARE, Z, until=AWARE),
        lambda: schedule_pieces(MONTHLY_1, AWARE, AWARE, Z, until=NAIVE),
        lambda: calendar_days(NAIVE, AWARE, Z),
        lambda: local_day(NAIVE, Z),
        lambda: Cycle(NAIVE, at(2024, 2, 1)),
        lambda: CyclePiece(Cycle(AWARE, at(2024, 2, 1)), NAIVE, at(2024, 1, 2)),
    ],
    ids=[
        "cycle_containing",
        "cycles_overlapping-start",
        "cycles_overlapping-end",
        "schedule_pieces-start",
        "schedule_pieces-until",
        "calendar_days",
        "local_day",
        "Cycle",
        "CyclePiece",
    ],
)
def test_naive_datetimes_are_refused(call: Callable[[], Any]) -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        call()


# -- properties --------------------------------------------------------------------------------------------------------
ZONES = [
    "UTC",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "America/New_York",
    "Europe/London",
    "Australia/Sydney",
    "America/Santiago",
    "America/Havana",
    "America/St_Johns",
    "Atlantic/Azores",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Europe/Dublin",
    "Africa/Casablanca",
    "Asia/Beirut",
]
ALL_ZONES = sorted(available_timezones() - {"Factory", "localtime"})


@st.composite
def configs(draw: st.DrawFn) -> CycleConfig:
    interval = draw(st.sampled_from(list(Interval)))
    period = MONTHS[interval]
    day = draw(st.sampled_from([*map(str, range(1, (7 if period == 0 else 31) + 1)), "LAST"]))
    month = "NIL" if period <= 1 else draw(st.sampled_from([*map(str, range(1, period + 1)), "FIRST", "LAST"]))
    return CycleConfig(interval.value, day, month, draw(st.integers(0, 40)))


instants = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC))
old_instants = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC))


def assert_starts_a_day(instant: datetime, tz: ZoneInfo) -> None:
    """`instant` is the first instant of its local day: its 00:00, or the first instant after a skipped 00:00."""
    day = local_day(instant, tz)
    assert instant == local_start_of_day(day, tz)
    wall = instant.astimezone(tz)
    assert wall.time().isoformat() == "00:00:00" or (instant - timedelta(microseconds=1)).astimezone(tz).date() < day


def assert_tiles(config: CycleConfig, moment: datetime, tz: ZoneInfo) -> None:
    cycle = cycle_containing(config, moment, tz)
    assert cycle.start <= moment < cycle.end
    following = next_cycle(config, cycle, tz)
    assert following.start == cycle.end  # no gap, no overlap
    previous = cycle_containing(config, cycle.start - timedelta(microseconds=1), tz)
    assert previous.end == cycle.start
    for c in (previous, cycle, following):
        assert_starts_a_day(c.start, tz)
    assert cycle.grace_end(config.grace_period_days) >= cycle.end


@given(configs(), instants, st.sampled_from(ZONES))
def test_cycles_contain_their_instant_and_tile_time(config: CycleConfig, moment: datetime, zone: str) -> None:
    assert_tiles(config, moment, ZoneInfo(zone))


@settings(deadline=None)
@given(configs(), old_instants, st.sampled_from(ALL_ZONES))
def test_cycles_tile_time_in_every_zone(config: CycleConfig, moment: datetime, zone: str) -> None:
    assert_tiles(config, moment, ZoneInfo(zone))


@given(configs(), st.booleans(), instants, st.integers(0, 800), st.integers(0, 800), st.sampled_from(ZONES))
def test_schedule_pieces_tile_the_schedule(
    config: CycleConfig, anniversary: bool, start: datetime, days: int, until_days: int, zone: str
) -> None:
    tz = ZoneInfo(zone)
    config = replace(config, anniversary=anniversary)
    end, until = start + timedelta(days=days, hours=7), start + timedelta(days=until_days)
    pieces = schedule_pieces(config, start, end, tz, until=until)
    if until <= start:
        assert pieces == []
        return
    assert pieces[0].start == start
    assert all(a.end == b.start for a, b in pairwise(pieces))
    assert all(p.start < until for p in pieces)
    assert pieces[-1].end == end if end <= until else pieces[-1].end >= until
    if anniversary:
        assert local_day(pieces[0].cycle.start, tz) == local_day(start, tz)
    for p in pieces:
        assert 1 <= covered_days(p, tz) <= cycle_days(p.cycle, tz)
        assert p.is_partial or covered_days(p, tz) == cycle_days(p.cycle, tz)


@given(instants, st.integers(1, 10**12), st.integers(1, 10**12), st.sampled_from(ZONES))
def test_a_day_split_in_two_counts_once_in_each_half(start: datetime, first: int, second: int, zone: str) -> None:
    tz = ZoneInfo(zone)
    middle = start + timedelta(microseconds=first)
    end = middle + timedelta(microseconds=second)
    shared = 0 if middle == local_start_of_day(local_day(middle, tz), tz) else 1
    assert calendar_days(start, end, tz) == calendar_days(start, middle, tz) + calendar_days(middle, end, tz) - shared


class _NoOffset(tzinfo):
    """A timezone that does not know its offset: an instant in it is as naive as one without a timezone."""

    def utcoffset(self, dt: datetime | None) -> None:
        return None


def test_what_is_not_an_aware_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="^instant: expected a timezone-aware datetime, got date$"):
        cycle_containing(MONTHLY_1, date(2024, 1, 5), Z)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="naive datetime 2024-01-05T00:00:00; cycle math takes timezone-aware"):
        cycle_containing(MONTHLY_1, datetime(2024, 1, 5, tzinfo=_NoOffset()), Z)
    with pytest.raises(ValueError, match="^local_start_of_day takes a date, not a datetime$"):
        local_start_of_day(AWARE, Z)
