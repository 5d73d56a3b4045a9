"""The event pipeline, pure: validation against the schema, then units per meter (billing-rules D5, D6)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from meterline.events import pipeline
from meterline.events.wire import Event, event_from

NOW = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)


def event(**kwargs: object) -> Event:
    base: dict[str, object] = {
        "schemaName": "api_calls",
        "id": "e1",
        "timestamp": "2024-03-01T10:07:00Z",
        "accountId": "acc1",
        "attributes": [{"name": "calls", "value": "120"}, {"name": "bytes", "value": "0.5"}],
        "dimensions": {"region": "us", "plan": "pro"},
    }
    base.update(kwargs)
    return event_from(base)


def meter(
    id: str,
    aggregation: str = "SUM",
    filters: list | None = None,
    matcher: str | None = None,
    computation: str = '{"*":[{"var":"attribute.calls"},1]}',
) -> pipeline.MeterRule:
    comp = {"computation": computation if aggregation == "SUM" else "1", "order": 1}
    if matcher:
        comp["matcher"] = matcher
    return pipeline.meter_rule(id=id, name=id, aggregation=aggregation, filters=filters or [], computations=[comp])


def schema(*meters: pipeline.MeterRule) -> pipeline.SchemaRule:
    return pipeline.SchemaRule("api_calls", 1, frozenset({"calls", "bytes"}), frozenset({"region", "plan"}), meters)


def test_sum_and_count_meters_compute_units() -> None:
    rule = schema(meter("um.sum"), meter("um.count", "COUNT"))
    outcome = pipeline.evaluate(rule, event(), NOW)
    assert not outcome.failed
    assert outcome.units == {"um.sum": Decimal("120"), "um.count": Decimal(1)}


@pytest.mark.parametrize(
    ("filters", "matcher", "reached"),
    [
        ([{"field": "region", "value": "us"}], None, True),
        ([{"field": "dimension.region", "value": "eu"}], None, False),
        ([{"field": "attribute.calls", "value": "120.0"}], None, True),  # decimal equality
        ([{"field": "attribute.calls", "value": "121"}], None, False),
        ([{"field": "region", "value": "us"}, {"field": "plan", "value": "free"}], None, False),  # all must match
        ([], '{"==":[{"var":"dimensions.plan"},"pro"]}', True),  # both spellings work
        ([], '{">":[{"var":"attribute.bytes"},1]}', False),
    ],
    ids=[
        "dimension",
        "dimension-miss",
        "attribute-decimal",
        "attribute-miss",
        "all-filters",
        "matcher",
        "matcher-miss",
    ],
)
def test_filters_and_matcher_select_events(filters: list, matcher: str | None, reached: bool) -> None:
    outcome = pipeline.evaluate(schema(meter("um.x", filters=filters, matcher=matcher)), event(), NOW)
    assert ("um.x" in outcome.units) is reached


def test_exact_decimals() -> None:
    rule = schema(meter("um.x", computation='{"*":[{"var":"attribute.bytes"},"0.1"]}'))
    assert pipeline.evaluate(rule, event(), NOW).units == {"um.x": Decimal("0.05")}


@pytest.mark.parametrize(
    ("kwargs", "status", "message"),
    [
        ({"schemaName": "other"}, pipeline.SCHEMA_NOT_DEFINED, "'other' is not defined"),
        ({"timestamp": (NOW + timedelta(hours=24, seconds=1)).isoformat()}, pipeline.FAILED, "24 hours in the future"),
        (
            {"attributes": [{"name": "calls", "value": "12a"}, {"name": "bytes", "value": "1"}]},
            pipeline.FAILED,
            "'calls': '12a' is not a decimal number that is a finite number below 10^15",
        ),
        ({"attributes": [{"name": "calls", "value": "1"}]}, pipeline.FAILED, "missing attribute bytes"),
        ({"dimensions": {"region": "us"}}, pipeline.FAILED, "missing dimension plan"),
        (
            {
                "attributes": [
                    {"name": "calls", "value": "1"},
                    {"name": "calls", "value": "2"},
                    {"name": "bytes", "value": "1"},
                ]
            },
            pipeline.FAILED,
            "given twice",
        ),
    ],
    ids=["unknown-schema", "future", "not-decimal", "missing-attribute", "missing-dimension", "twice"],
)
def test_invalid_events_fail_with_a_message_that_says_which(kwargs: dict, status: str, message: str) -> None:
    rule = None if kwargs.get("schemaName") == "other" else schema(meter("um.x"))
    outcome = pipeline.evaluate(rule, event(**kwargs), NOW)
    assert outcome.status == status
    assert message in (outcome.message or "")


def test_a_failing_computation_marks_units_invalid() -> None:
    rule = schema(meter("um.x", computation='{"/":[{"var":"attribute.calls"},0]}'))
    outcome = pipeline.evaluate(rule, event(), NOW)
    assert outcome.status == pipeline.UNITS_INVALID and "um.x" in (outcome.message or "")


def test_no_meter_reached_gives_no_units() -> None:
    outcome = pipeline.evaluate(schema(meter("um.x", filters=[{"field": "region", "value": "eu"}])), event(), NOW)
    assert not outcome.failed and outcome.units == {}


@pytest.mark.parametrize(
    ("moment", "bucket"),
    [("10:07:59.999999", "10:00"), ("10:15:00", "10:15"), ("10:44:00", "10:30"), ("23:59:59", "23:45")],
)
def test_buckets_are_15_minutes(moment: str, bucket: str) -> None:
    ts = datetime.fromisoformat(f"2024-03-01T{moment}+00:00")
    assert pipeline.bucket_of(ts) == datetime.fromisoformat(f"2024-03-01T{bucket}:00+00:00")
