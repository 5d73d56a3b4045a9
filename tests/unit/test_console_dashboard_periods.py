"""The dashboard's pure parts (console/dashboard.py): the range picked and its bars in the organization's time zone,
their words, and the unit each meter's chart is in."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from meterline.console.dashboard import RANGES, in_unit, meter_unit, periods_of, span
from meterline.metering.models import EventSchema, UsageMeter

UTC = timezone.utc
NOW = datetime(2026, 3, 16, 10, 0, tzinfo=UTC)  # a Monday


@pytest.mark.parametrize(
    ("first", "last", "words"),
    [
        (date(2026, 3, 12), date(2026, 3, 12), "12 Mar 2026"),
        (date(2026, 3, 2), date(2026, 3, 8), "2–8 Mar 2026"),
        (date(2026, 2, 23), date(2026, 3, 1), "23 Feb – 1 Mar 2026"),
        (date(2025, 12, 29), date(2026, 1, 4), "29 Dec 2025 – 4 Jan 2026"),
        (date(2026, 2, 1), date(2026, 2, 28), "February 2026"),
        (date(2024, 2, 1), date(2024, 2, 29), "February 2024"),
        (date(2024, 2, 1), date(2024, 2, 28), "1–28 Feb 2024"),  # a leap February cut short is no whole month
    ],
)
def test_a_bar_says_which_days_it_holds(first: date, last: date, words: str) -> None:
    assert span(first, last) == words


def test_the_ranges_and_their_bars() -> None:
    assert RANGES == {"7": "DAY", "30": "DAY", "90": "WEEK", "365": "MONTH"}


def test_seven_days_are_seven_bars_ending_today() -> None:
    p = periods_of(NOW, "UTC", 7, "DAY")
    assert p.start == datetime(2026, 3, 10, tzinfo=UTC) and p.end == datetime(2026, 3, 17, tzinfo=UTC)
    assert p.labels == ["10 Mar", "11 Mar", "12 Mar", "13 Mar", "14 Mar", "15 Mar", "16 Mar"]
    assert p.tips[0] == "10 Mar 2026" and p.tips[-1] == "16 Mar 2026"
    assert p.every == 1 and p.noun == "day"
    assert p.words == "Last 7 days, 10–16 Mar 2026, a bar per day; days in UTC."


def test_thirty_days_are_thirty_bars_labelled_one_in_four() -> None:
    p = periods_of(NOW, "UTC", 30, "DAY")
    assert len(p.bounds) == 30 and p.firsts[0] == date(2026, 2, 15) and p.lasts[-1] == date(2026, 3, 16)
    assert p.every == 4  # at most 8 labels under the bars
    assert p.words.startswith("Last 30 days, 15 Feb – 16 Mar 2026, a bar per day")


def test_ninety_days_are_weeks_from_monday_the_first_and_last_cut_to_the_range() -> None:
    p = periods_of(NOW, "UTC", 90, "WEEK")
    assert p.firsts[0] == date(2025, 12, 17)  # a Wednesday: 89 days before the 16th
    assert p.tips[:3] == ["17–21 Dec 2025", "22–28 Dec 2025", "29 Dec 2025 – 4 Jan 2026"]
    assert p.tips[-2:] == ["9–15 Mar 2026", "16 Mar 2026"]  # today is a Monday: its week has one day so far
    assert len(p.bounds) == 14 and p.noun == "week" and p.every == 2
    assert all(d.weekday() == 0 for d in p.firsts[1:])
    assert sum((la - f).days + 1 for f, la in zip(p.firsts, p.lasts, strict=True)) == 90  # every day once
    assert p.labels[:2] == ["17 Dec", "22 Dec"]


def test_a_year_is_months_the_first_and_last_cut_to_the_range() -> None:
    p = periods_of(NOW, "UTC", 365, "MONTH")
    assert p.tips[0] == "17–31 Mar 2025" and p.tips[1] == "April 2025" and p.tips[-1] == "1–16 Mar 2026"
    assert p.labels[0] == "Mar 2025" and p.labels[-1] == "Mar 2026" and len(p.labels) == 13
    assert sum((la - f).days + 1 for f, la in zip(p.firsts, p.lasts, strict=True)) == 365


@pytest.mark.parametrize("zone", ["Asia/Kolkata", "America/New_York", "Asia/Kathmandu", "Pacific/Chatham"])
@pytest.mark.parametrize("days", [7, 30, 90, 365])
def test_bars_start_at_local_midnights_of_the_organizations_time_zone(zone: str, days: int) -> None:
    p = periods_of(NOW, zone, days, RANGES[str(days)])
    tz = ZoneInfo(zone)
    assert NOW.astimezone(tz).date() == p.lasts[-1]
    assert p.end > NOW >= p.end - timedelta(days=1, hours=1)
    for bound, first in zip(p.bounds, p.firsts, strict=True):
        local = bound.astimezone(tz)
        assert (local.date(), local.hour, local.minute) == (first, 0, 0)
    assert sum((la - f).days + 1 for f, la in zip(p.firsts, p.lasts, strict=True)) == days


def _meter(aggregation: str, computation: str) -> UsageMeter:
    return UsageMeter(aggregation=aggregation, computations=[{"computation": computation, "order": 1}])


SCHEMA = EventSchema(attributes=[{"name": "gigabytes", "defaultUnit": "GB"}, {"name": "requests"}])


@pytest.mark.parametrize(
    ("meter", "unit"),
    [
        (_meter("COUNT", "1"), "events"),
        (_meter("SUM", '{"var":"attribute.gigabytes"}'), "GB"),
        (_meter("SUM", '{ "var" : "attributes.gigabytes" }'), "GB"),
        (_meter("SUM", '{"var":"attribute.requests"}'), "requests"),  # no unit: the attribute's name
        (_meter("SUM", '{"*":[{"var":"attribute.requests"},2]}'), "units"),  # a computation of its own
    ],
    ids=["count", "sum-with-unit", "spaced", "sum-without-unit", "computed"],
)
def test_each_meter_is_charted_in_its_unit(meter: UsageMeter, unit: str) -> None:
    assert meter_unit(meter, SCHEMA) == unit


def test_quantities_are_written_with_their_unit() -> None:
    assert in_unit("events")(Decimal(1)) == "1 event"
    assert in_unit("events")(Decimal(1536150)) == "1,536,150 events"
    assert in_unit("GB")(Decimal("12.5")) == "12.5 GB"
