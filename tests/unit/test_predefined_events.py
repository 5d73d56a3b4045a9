"""Togai's predefined event types, evaluated without I/O (events/predefined.py): what each accepts and refuses; and
the named seats that accepted events make (licenses/named.py's `fold`)."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from meterline.events import pipeline, predefined
from meterline.events.wire import Event, event_from
from meterline.licenses import named

NOW = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)
USAGE_RULE = pipeline.SchemaRule(
    predefined.USAGE,
    1,
    frozenset(),
    frozenset(),
    (pipeline.MeterRule(id="um.a", name="calls", aggregation="SUM"), pipeline.MeterRule("um.b", "other", "COUNT")),
    special=predefined._Usage({"um.a": "calls", "um.b": "other"}),
)
SEAT_RULE = pipeline.SchemaRule(
    predefined.NAMED_LICENSE, 1, frozenset(), frozenset(), special=predefined._NamedLicense(frozenset({"addon.n"}))
)


def event(schema: str, attributes: dict[str, str], dimensions: dict[str, str]) -> Event:
    return event_from(
        {
            "schemaName": schema,
            "id": "e1",
            "timestamp": "2024-03-01T10:00:00Z",
            "accountId": "acc1",
            "attributes": [{"name": n, "value": v} for n, v in attributes.items()],
            "dimensions": dimensions,
        }
    )


def test_usage_goes_to_the_one_meter_named() -> None:
    outcome = pipeline.evaluate(USAGE_RULE, event("togai-usage", {"usage": "12.75"}, {"usage_meter_id": "um.a"}), NOW)
    assert not outcome.failed and outcome.units == {"um.a": Decimal("12.75")}
    # the event records that meter alone (the others did not filter it out: it never went to them)
    assert pipeline.meter_outcomes(USAGE_RULE, outcome.units) == [("um.a", "calls", pipeline.UNITS_COMPUTED, "12.75")]
    zero = pipeline.evaluate(USAGE_RULE, event("togai-usage", {"usage": "0"}, {"usage_meter_id": "um.b"}), NOW)
    assert zero.units == {"um.b": Decimal(0)}


@pytest.mark.parametrize(
    ("attributes", "dimensions", "status", "words"),
    [
        ({"usage": "1"}, {}, pipeline.FAILED, "usage_meter_id is required"),
        ({"usage": "1"}, {"usage_meter_id": "um.gone"}, pipeline.FAILED, "no ACTIVE usage meter has id 'um.gone'"),
        ({}, {"usage_meter_id": "um.a"}, pipeline.FAILED, "attributes.usage is required"),
        ({"usage": "1", "x": "2"}, {"usage_meter_id": "um.a"}, pipeline.FAILED, "not x"),
        ({"usage": "-0.5"}, {"usage_meter_id": "um.a"}, pipeline.UNITS_INVALID, "must not be negative"),
        ({"usage": "1e5"}, {"usage_meter_id": "um.a"}, pipeline.FAILED, "is not a decimal number"),
    ],
)
def test_usage_refusals(attributes: dict[str, str], dimensions: dict[str, str], status: str, words: str) -> None:
    outcome = pipeline.evaluate(USAGE_RULE, event("togai-usage", attributes, dimensions), NOW)
    assert outcome.status == status and words in str(outcome.message) and not outcome.units


@pytest.mark.parametrize("action", ["1", "-1", "1.0"])
def test_a_seat_change_is_applied_with_no_units(action: str) -> None:
    outcome = pipeline.evaluate(
        SEAT_RULE, event("togai-named-license", {"action": action}, {"license_id": "addon.n", "name": "ann"}), NOW
    )
    assert not outcome.failed and outcome.applied and outcome.units == {}


@pytest.mark.parametrize(
    ("attributes", "dimensions", "words"),
    [
        ({"action": "1"}, {"license_id": "addon.n"}, "dimensions.license_id and dimensions.name are required"),
        ({"action": "1"}, {"license_id": "addon.x", "name": "a"}, "no ACTIVE NAMED_LICENSE add-on has id 'addon.x'"),
        ({"action": "1"}, {"license_id": "addon.n", "name": "a" * 51}, "at most 50"),
        ({}, {"license_id": "addon.n", "name": "a"}, "attributes.action is required"),
        ({"action": "0"}, {"license_id": "addon.n", "name": "a"}, "must be 1 (add the seat) or -1"),
        ({"action": "2"}, {"license_id": "addon.n", "name": "a"}, "must be 1 (add the seat) or -1"),
        ({"action": "1", "n": "1"}, {"license_id": "addon.n", "name": "a"}, "takes one attribute, action"),
    ],
)
def test_seat_refusals(attributes: dict[str, str], dimensions: dict[str, str], words: str) -> None:
    outcome = pipeline.evaluate(SEAT_RULE, event("togai-named-license", attributes, dimensions), NOW)
    assert outcome.status == predefined.INVALID_NAMED_LICENSE and words in str(outcome.message)


def at(hour: int) -> datetime:
    return datetime(2024, 3, 1, hour, tzinfo=timezone.utc)


def seat_row(pk: str, name: str, action: str, hour: int, account: str = "acc1") -> named.Row:
    return (
        pk,
        account,
        at(hour),
        [{"name": "action", "value": action}],
        {"license_id": "addon.n", "name": name},
        at(20),
    )


def test_seats_follow_event_time_and_ignore_what_changes_nothing() -> None:
    rows = [
        seat_row("ev1", "ann", "1", 1),
        seat_row("ev2", "ann", "1", 2),  # ann holds a seat: nothing changes
        seat_row("ev3", "bob", "-1", 2),  # bob holds none: nothing changes
        seat_row("ev4", "bob", "1", 3),
        seat_row("ev5", "ann", "-1", 4),
        seat_row("ev6", "cy", "1", 5),
        seat_row("ev7", "cy", "-1", 5),  # added and removed at one instant: held nothing, left out
        seat_row("ev8", "ann", "1", 6),  # ann again: a seat of its own
        seat_row("ev9", "ann", "1", 1, account="acc2"),  # another account's ann
    ]
    seats = named.fold(sorted(rows, key=lambda r: (r[2], r[0])))
    assert [(s.id, s.account_pk, s.name, s.effective_from, s.effective_until) for s in seats] == [
        ("ev1", "acc1", "ann", at(1), at(4)),
        ("ev4", "acc1", "bob", at(3), None),
        ("ev8", "acc1", "ann", at(6), None),
        ("ev9", "acc2", "ann", at(1), None),
    ]
