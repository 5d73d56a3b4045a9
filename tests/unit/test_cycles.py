"""Pricing cycle math (billing-decisions D2, D3, D7; togai-billing-rules 3.2): table-driven, plus properties."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterline.rating.cycles import (
    CycleConfig,
    CycleError,
    anniversary_offsets,
    calendar_days,
    check_cycle_config,
    covered_days,
    cycle_containing,
    cycles_overlapping,
    local_start_of_day,
    schedule_pieces,
)

UTC = timezone.utc
Z = ZoneInfo("UTC")


def starts(interval: str, day: str, month: str, year: int, tz: ZoneInfo = Z) -> list[str]:
    config = CycleConfig(interval, day, month)
    first = local_start_of_day(date(year, 1, 1), tz)
    last = local_start_of_day(date(year + 1, 1, 1), tz)
    return [c.start.astimezone(tz).date().isoformat() for c in cycles_overlapping(config, first, last, tz) if c.start >= first]


@pytest.mark.parametrize(
    "interval, day, month, year, expected",
    [
        ("MONTHLY", "12", "NIL", 2024, [f"2024-{m:02d}-12" for m in range(1, 13)]),
        ("QUARTERLY", "15", "FIRST", 2024, ["2024-01-15", "2024-04-15", "2024-07-15", "2024-10-15"]),
        ("QUARTERLY", "15", "2", 2024, ["2024-02-15", "2024-05-15", "2024-08-15", "2024-11-15"]),
        ("QUARTERLY", "15", "LAST", 2024, ["2024-03-15", "2024-06-15", "2024-09-15", "2024-12-15"]),
        ("HALF_YEARLY", "15", "4", 2024, ["2024-04-15", "2024-10-15"]),
        ("ANNUALLY", "LAST", "2", 2024, ["2024-02-29"]),
        ("ANNUALLY", "LAST", "2", 2023, ["2023-02-28"]),
        ("ANNUALLY", "LAST", "2", 2100, ["2100-02-28"]),
        ("ANNUALLY", "15", "8", 2024, ["2024-08-15"]),
        ("MONTHLY", "31", "NIL", 2024, ["2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30", "2024-05-31", "2024-06-30",
                                        "2024-07-31", "2024-08-31", "2024-09-30", "2024-10-31", "2024-11-30", "2024-12-31"]),
        ("MONTHLY", "30", "NIL", 2023, ["2023-01-30", "2023-02-28", "2023-03-30", "2023-04-30", "2023-05-30", "2023-06-30",
                                        "2023-07-30", "2023-08-30", "2023-09-30", "2023-10-30", "2023-11-30", "2023-12-30"]),
        ("MONTHLY", "29", "NIL", 2024, [f"2024-{m:02d}-29" for m in range(1, 13)]),
        ("MONTHLY", "LAST", "NIL", 2023, ["2023-01-31", "2023-02-28", "2023-03-31", "2023-04-30", "2023-05-31", "2023-06-30",
                                          "2023-07-31", "2023-08-31", "2023-09-30", "2023-10-31", "2023-11-30", "2023-12-31"]),
    ],
    ids=["monthly-12", "quarterly-first", "quarterly-2", "quarterly-last", "half-yearly-4", "annual-last-feb-leap",
         "annual-last-feb", "annual-2100-not-leap", "annual-aug-15", "monthly-31", "monthly-30", "monthly-29-leap",
         "monthly-last"],
)
def test_cycle_starts(interval: str, day: str, month: str, year: int, expected: list[str]) -> None:
    assert starts(interval, day, month, year) == expected


@pytest.mark.parametrize("day, weekday", [(str(d), d) for d in range(1, 8)] + [("LAST", 7)],
                         ids=[f"weekly-{d}" for d in range(1, 8)] + ["weekly-last"])
def test_weekly_cycles_start_on_their_weekday(day: str, weekday: int) -> None:
    cycle = cycle_containing(CycleConfig("WEEKLY", day, "NIL"), datetime(2024, 5, 15, 12, tzinfo=UTC), Z)
    assert cycle.start.date().isoweekday() == weekday and cycle.end - cycle.start == timedelta(days=7)


def test_boundaries_are_half_open() -> None:
    config = CycleConfig("MONTHLY", "1", "NIL")
    boundary = datetime(2024, 3, 1, tzinfo=UTC)
    assert cycle_containing(config, boundary, Z).start == boundary
    assert cycle_containing(config, boundary - timedelta(microseconds=1), Z).end == boundary


def test_d3_grace_example() -> None:
    cycle = cycle_containing(CycleConfig("MONTHLY", "1", "NIL", 5), datetime(2024, 11, 20, tzinfo=UTC), Z)
    assert (cycle.start, cycle.end) == (datetime(2024, 11, 1, tzinfo=UTC), datetime(2024, 12, 1, tzinfo=UTC))
    assert cycle.grace_end(5) == datetime(2024, 12, 6, tzinfo=UTC)


@pytest.mark.parametrize(
    "tz, start_utc",
    [("Asia/Kolkata", datetime(2024, 2, 29, 18, 30, tzinfo=UTC)), ("Asia/Kathmandu", datetime(2024, 2, 29, 18, 15, tzinfo=UTC)),
     ("America/New_York", datetime(2024, 3, 1, 5, tzinfo=UTC))],
    ids=["+05:30", "+05:45", "new-york"],
)
def test_boundaries_fall_at_local_midnight(tz: str, start_utc: datetime) -> None:
    cycle = cycle_containing(CycleConfig("MONTHLY", "1", "NIL"), datetime(2024, 3, 10, tzinfo=UTC), ZoneInfo(tz))
    assert cycle.start == start_utc


@pytest.mark.parametrize(
    "tz, moment, hours",
    [("America/New_York", datetime(2024, 3, 8, tzinfo=UTC), 167), ("America/New_York", datetime(2024, 11, 1, tzinfo=UTC), 169),
     ("Europe/London", datetime(2024, 3, 28, tzinfo=UTC), 167), ("Australia/Sydney", datetime(2024, 4, 3, tzinfo=UTC), 169)],
    ids=["ny-spring", "ny-fall", "london-spring", "sydney-fall"],
)
def test_a_week_across_a_dst_change(tz: str, moment: datetime, hours: int) -> None:
    cycle = cycle_containing(CycleConfig("WEEKLY", "1", "NIL"), moment, ZoneInfo(tz))
    assert cycle.end - cycle.start == timedelta(hours=hours)


def test_a_day_without_midnight_starts_at_its_first_instant() -> None:
    santiago = ZoneInfo("America/Santiago")  # 2022-09-11 00:00 jumped to 01:00
    start = local_start_of_day(date(2022, 9, 11), santiago)
    assert start == datetime(2022, 9, 11, 4, tzinfo=UTC) and start.astimezone(santiago).hour == 1
    cycle = cycle_containing(CycleConfig("MONTHLY", "11", "NIL"), datetime(2022, 9, 11, 3, 59, tzinfo=UTC), santiago)
    assert cycle.end == start


@pytest.mark.parametrize(
    "interval, day, expected",
    [("MONTHLY", date(2024, 10, 12), ("12", "NIL")), ("MONTHLY", date(2024, 10, 31), ("LAST", "NIL")),
     ("MONTHLY", date(2024, 10, 30), ("30", "NIL")), ("WEEKLY", date(2023, 10, 25), ("3", "NIL")),
     ("QUARTERLY", date(2024, 1, 15), ("15", "1")), ("QUARTERLY", date(2024, 5, 15), ("15", "2")),
     ("HALF_YEARLY", date(2024, 10, 15), ("15", "4")), ("ANNUALLY", date(2024, 8, 15), ("15", "8")),
     ("ANNUALLY", date(2023, 2, 28), ("LAST", "2")), ("MONTHLY", date(2024, 4, 30), ("LAST", "NIL"))],
    ids=["12-oct", "31-oct", "30-oct", "wednesday", "15-jan", "15-may", "15-oct-half", "15-aug", "28-feb", "30-apr"],
)
def test_anniversary_offsets(interval: str, day: date, expected: tuple[str, str]) -> None:
    assert anniversary_offsets(interval, day) == expected


def test_schedule_pieces_and_covered_days() -> None:
    config = CycleConfig("MONTHLY", "1", "NIL")
    pieces = schedule_pieces(config, datetime(2024, 4, 11, 13, tzinfo=UTC), datetime(2024, 6, 20, tzinfo=UTC), Z,
                             until=datetime(2030, 1, 1, tzinfo=UTC))
    assert [(p.start.date(), p.end.date(), p.is_partial) for p in pieces] == [
        (date(2024, 4, 11), date(2024, 5, 1), True), (date(2024, 5, 1), date(2024, 6, 1), False),
        (date(2024, 6, 1), date(2024, 6, 20), True)]
    assert covered_days(pieces[0], Z) == (20, 30)  # from 11 April 13:00: a started day counts whole
    assert covered_days(pieces[2], Z) == (19, 30)
    open_ended = schedule_pieces(config, datetime(2024, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, tzinfo=UTC), Z,
                                 until=datetime(2024, 4, 1, tzinfo=UTC))
    assert len(open_ended) == 3
    anniversary = schedule_pieces(CycleConfig("MONTHLY", "1", "NIL", anniversary=True), datetime(2024, 1, 31, tzinfo=UTC),
                                  datetime(2024, 4, 1, tzinfo=UTC), Z, until=datetime(2030, 1, 1, tzinfo=UTC))
    assert [p.cycle.start.date() for p in anniversary] == [date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 31)]


def test_calendar_days() -> None:
    kolkata = ZoneInfo("Asia/Kolkata")
    assert calendar_days(datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC), Z) == 0
    assert calendar_days(datetime(2024, 1, 1, 23, tzinfo=UTC), datetime(2024, 1, 2, 1, tzinfo=UTC), Z) == 2
    assert calendar_days(datetime(2024, 1, 1, 23, tzinfo=UTC), datetime(2024, 1, 2, 1, tzinfo=UTC), kolkata) == 1


@pytest.mark.parametrize(
    "config, words",
    [
        (CycleConfig("DAILY", "1", "NIL"), "interval"),
        (CycleConfig("MONTHLY", "32", "NIL"), "dayOffset"),
        (CycleConfig("MONTHLY", "0", "NIL"), "dayOffset"),
        (CycleConfig("WEEKLY", "8", "NIL"), "1 to 7"),
        (CycleConfig("MONTHLY", "1", "3"), "send NIL"),
        (CycleConfig("QUARTERLY", "1", "4"), "1 to 3"),
        (CycleConfig("HALF_YEARLY", "1", "7"), "1 to 6"),
        (CycleConfig("ANNUALLY", "1", "13"), "1 to 12"),
        (CycleConfig("MONTHLY", "1", "NIL", -1), "gracePeriod"),
    ],
    ids=["interval", "day-32", "day-0", "weekday-8", "monthly-month", "quarter-4", "half-7", "year-13", "grace"],
)
def test_invalid_configs_name_the_field(config: CycleConfig, words: str) -> None:
    with pytest.raises(CycleError, match=words):
        check_cycle_config(config)


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        cycle_containing(CycleConfig("MONTHLY", "1", "NIL"), datetime(2024, 1, 1), Z)


# -- properties -------------------------------------------------------------------------------------------------------
ZONES = ["UTC", "Asia/Kolkata", "Asia/Kathmandu", "America/New_York", "Europe/London", "Australia/Sydney",
         "America/Santiago", "Pacific/Chatham"]


@st.composite
def configs(draw: st.DrawFn) -> CycleConfig:
    interval = draw(st.sampled_from(["WEEKLY", "MONTHLY", "QUARTERLY", "HALF_YEARLY", "ANNUALLY"]))
    top = 7 if interval == "WEEKLY" else 31
    day = draw(st.sampled_from([*map(str, range(1, top + 1)), "LAST"]))
    period = {"WEEKLY": 0, "MONTHLY": 1, "QUARTERLY": 3, "HALF_YEARLY": 6, "ANNUALLY": 12}[interval]
    month = "NIL" if period <= 1 else draw(st.sampled_from([*map(str, range(1, period + 1)), "FIRST", "LAST"]))
    return CycleConfig(interval, day, month)


instants = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC))


@given(configs(), instants, st.sampled_from(ZONES))
def test_the_containing_cycle_contains_and_cycles_tile_time(config: CycleConfig, moment: datetime, zone: str) -> None:
    tz = ZoneInfo(zone)
    check_cycle_config(config)
    cycle = cycle_containing(config, moment, tz)
    assert cycle.start <= moment < cycle.end
    following = cycle_containing(config, cycle.end, tz)
    assert following.start == cycle.end  # no gap, no overlap
    previous = cycle_containing(config, cycle.start - timedelta(microseconds=1), tz)
    assert previous.end == cycle.start
    assert cycle.start == local_start_of_day(cycle.start.astimezone(tz).date(), tz)  # starts at the day's first instant
