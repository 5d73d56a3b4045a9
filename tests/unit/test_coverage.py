"""Ingestion's coverage (billing-rules D3, D5), pure: is an account on a plan at an instant, and is that instant's
cycle still open? A schedule covers [start, end); a cycle stays open until the start of the grace period's last day."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from meterline.schedules.coverage import CLOSED, OPEN, UNSCHEDULED, Coverage
from meterline.schedules.models import PricingSchedule

UTC = timezone.utc
EPSILON = timedelta(microseconds=1)


def at(month: int, day: int) -> datetime:
    return datetime(2024, month, day, tzinfo=UTC)


def schedule(start: datetime, end: datetime, grace: int | None = 3) -> PricingSchedule:
    cycle = (
        None
        if grace is None
        else json.dumps({"interval": "MONTHLY", "gracePeriod": grace, "dayOffset": "1", "monthOffset": "NIL"})
    )
    return PricingSchedule(pk=f"ps.{start:%m%d}", account_pk="acc", start_at=start, end_at=end, cycle=cycle)


def state(now: datetime, at_: datetime, *schedules: PricingSchedule) -> str:
    return Coverage({"acc": list(schedules)}, ZoneInfo("UTC"), now).state("acc", at_)


@pytest.mark.parametrize(
    "now, expected",
    [
        (at(4, 4) - EPSILON, OPEN),  # the last instant of the grace period (3 days after the cycle ends on 1 April)
        (at(4, 4), CLOSED),  # exactly at the end of grace: the cycle is finalized, its events are refused
        (at(4, 4) + EPSILON, CLOSED),
    ],
)
def test_a_cycle_closes_exactly_at_the_end_of_its_grace_period(now: datetime, expected: str) -> None:
    assert state(now, at(3, 31), schedule(at(3, 1), at(6, 1))) == expected


def test_without_grace_a_cycle_closes_as_it_ends() -> None:
    plan = schedule(at(3, 1), at(6, 1), grace=0)
    assert state(at(4, 1) - EPSILON, at(3, 31), plan) == OPEN
    assert state(at(4, 1), at(3, 31), plan) == CLOSED
    assert state(at(4, 1), at(4, 1), plan) == OPEN  # the next cycle has begun


@pytest.mark.parametrize(
    "event_at, expected",
    [
        (at(3, 1) - EPSILON, UNSCHEDULED),
        (at(3, 1), OPEN),  # the schedule's start is inside it
        (at(5, 1) - EPSILON, OPEN),
        (at(5, 1), UNSCHEDULED),  # its end is not
    ],
)
def test_a_schedule_covers_its_start_and_not_its_end(event_at: datetime, expected: str) -> None:
    assert state(at(4, 2), event_at, schedule(at(3, 1), at(5, 1), grace=30)) == expected


def test_at_the_end_of_one_schedule_the_next_one_answers() -> None:
    # March on a plan with 30 days of grace, from April on one without grace: an event at exactly 1 April belongs to
    # the second schedule (its cycle open until 1 May), an event just before to the first (open until 1 May too)
    first = schedule(at(3, 1), at(4, 1), grace=30)
    second = schedule(at(4, 1), at(9, 1), grace=0)
    assert state(at(4, 2), at(4, 1), first, second) == OPEN
    assert state(at(5, 1), at(4, 1), first, second) == CLOSED
    assert state(at(4, 30), at(4, 1) - EPSILON, first, second) == OPEN


def test_a_purchase_plan_has_no_cycle_to_close() -> None:
    assert state(at(12, 1), at(3, 2), schedule(at(3, 1), at(6, 1), grace=None)) == OPEN


def test_one_batch_with_events_of_several_cycles_judges_each_in_its_own_cycle() -> None:
    # One Coverage answers a whole ingest call, remembering the cycle it found last; on 4 April (grace 3 days) March
    # is closed and April open, whichever order the events come in, and at exactly 1 April the cycle is April's
    coverage = Coverage({"acc": [schedule(at(3, 1), at(6, 1))]}, ZoneInfo("UTC"), at(4, 4))
    events = [at(3, 31), at(4, 1), at(3, 15), at(4, 1) - EPSILON, at(4, 1), at(4, 20), at(3, 1)]
    assert [coverage.state("acc", e) for e in events] == [CLOSED, OPEN, CLOSED, CLOSED, OPEN, OPEN, CLOSED]
