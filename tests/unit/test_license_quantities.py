"""License quantities over time (billing-rules D7): a day's quantity is the largest in force that day."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal as D
from zoneinfo import ZoneInfo

from meterline.rating.licenses import daily_maximums, in_force, largest, largest_per_period

UTC = timezone.utc
STEPS = [
    (datetime(2024, 4, 1, tzinfo=UTC), D(3)),
    (datetime(2024, 4, 2, 10, tzinfo=UTC), D(7)),
    (datetime(2024, 4, 2, 15, tzinfo=UTC), D(2)),
]


def test_in_force_and_largest() -> None:
    assert in_force(STEPS, datetime(2024, 3, 31, tzinfo=UTC)) == 0
    assert in_force(STEPS, datetime(2024, 4, 2, 12, tzinfo=UTC)) == 7
    assert largest(STEPS, datetime(2024, 4, 1, tzinfo=UTC), datetime(2024, 5, 1, tzinfo=UTC)) == 7
    assert largest(STEPS, datetime(2024, 4, 3, tzinfo=UTC), datetime(2024, 5, 1, tzinfo=UTC)) == 2


def test_several_changes_in_a_day_count_as_its_largest() -> None:
    days = daily_maximums(STEPS, datetime(2024, 4, 1, tzinfo=UTC), datetime(2024, 4, 4, tzinfo=UTC), ZoneInfo("UTC"))
    assert days == [(date(2024, 4, 1), D(3)), (date(2024, 4, 2), D(7)), (date(2024, 4, 3), D(2))]


def test_days_are_local_days() -> None:
    kolkata = ZoneInfo("Asia/Kolkata")  # 2 April 15:00 UTC is 20:30 local: still the 2nd
    days = daily_maximums(
        STEPS, datetime(2024, 4, 1, 18, 30, tzinfo=UTC), datetime(2024, 4, 3, 18, 30, tzinfo=UTC), kolkata
    )
    assert days == [(date(2024, 4, 2), D(7)), (date(2024, 4, 3), D(2))]


def test_of_two_updates_at_one_instant_the_later_is_in_force() -> None:
    # 9 then 4 at the same instant: 9 is never in force, at the window's start or inside it
    at = datetime(2024, 4, 10, tzinfo=UTC)
    steps = [(datetime(2024, 4, 1, tzinfo=UTC), D(3)), (at, D(9)), (at, D(4))]
    assert in_force(steps, at) == 4
    assert largest(steps, at, datetime(2024, 5, 1, tzinfo=UTC)) == 4
    assert largest(steps, datetime(2024, 4, 1, tzinfo=UTC), datetime(2024, 5, 1, tzinfo=UTC)) == 4
    assert largest(steps, datetime(2024, 4, 1, tzinfo=UTC), at) == 3  # the window ends as they happen


def test_the_sweep_is_largest_of_each_period() -> None:
    """largest_per_period gives what largest gives period by period (the metrics' license series), updates on the
    bounds too."""
    t = [datetime(2026, 3, 1, h, tzinfo=UTC) for h in range(12)]
    steps = [(t[1], D(5)), (t[3], D(2)), (t[3], D(9)), (t[4], D(1)), (t[6], D(3)), (t[6], D(0)), (t[9], D(4))]
    bounds = [t[0], t[2], t[3], t[4], t[6], t[7], t[11]]
    periods = zip(bounds, bounds[1:], strict=False)
    assert largest_per_period(steps, bounds) == [largest(steps, lo, hi) for lo, hi in periods]
    assert largest_per_period(steps, bounds) == [5, 5, 9, 1, 0, 4]  # of two at one instant, the later
    assert largest_per_period(steps, bounds[:1]) == []  # one bound: no period
