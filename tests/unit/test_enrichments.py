"""Event schema enrichments and the event id template, pure: checked when a schema is written, applied per event
before the meters (metering/enrichments.py, events/pipeline.py)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest

from meterline.events import pipeline
from meterline.events.wire import Event, event_from
from meterline.metering import enrichments

NOW = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)
ATTRS, DIMS = ("distance", "time"), ("city",)
PER_KM = {"type": "SETTING", "key": "setting.user.meters_per_km", "name": "meters_per_km"}


def field(name: str, kind: str, value: Any, order: int = 1, type: str = "ATTRIBUTE") -> dict[str, Any]:
    text = value if isinstance(value, str) else json.dumps(value)
    return {"name": name, "type": type, "enrichmentType": kind, "value": text, "order": order}


def plan(fields: list[dict[str, Any]], dependencies: list[dict[str, Any]] | None = None, template: str | None = None):
    body = {"fields": fields, **({"dependencies": dependencies} if dependencies else {})}
    return enrichments.check(body, template, attributes=ATTRS, dimensions=DIMS)


def event(**kwargs: object) -> Event:
    base: dict[str, object] = {
        "schemaName": "rides",
        "timestamp": "2024-03-01T10:07:00Z",
        "accountId": "acc1",
        "attributes": [{"name": "distance", "value": "2500"}, {"name": "time", "value": "7.5"}],
        "dimensions": {"city": "Paris"},
    }
    base.update(kwargs)
    return event_from(base)


def rule(p: enrichments.Plan, *meters: pipeline.MeterRule) -> pipeline.SchemaRule:
    return pipeline.SchemaRule("rides", 1, frozenset(ATTRS), frozenset(DIMS), meters, plan=p)


def sum_meter(computation: str) -> pipeline.MeterRule:
    return pipeline.meter_rule(
        id="um.km", name="km", aggregation="SUM", filters=[], computations=[{"computation": computation, "order": 1}]
    )


# -- applied -------------------------------------------------------------------------------------------------------
def test_togais_example_in_order_feeds_the_meters() -> None:
    """Togai's own example: a JSON_LOGIC attribute over a dependency, then a dimension over that attribute."""
    p = plan(
        [
            # given second, ordered first: `order` decides
            field(
                "rideType",
                "JSON_LOGIC",
                {"if": [{"<=": [100, {"var": ["attribute.distanceInKM"]}]}, "long", "short"]},
                order=2,
                type="DIMENSION",
            ),
            field(
                "distanceInKM",
                "JSON_LOGIC",
                {"/": [{"var": ["attribute.distance"]}, {"var": "dependencies.meters_per_km"}]},
            ),
        ],
        [PER_KM],
    )
    settings = {"setting.user.meters_per_km": ("1000", Decimal(1000))}
    outcome = pipeline.evaluate(rule(p, sum_meter('{"var":"attribute.distanceInKM"}')), event(id="e1"), NOW, settings)
    assert not outcome.failed
    assert outcome.units == {"um.km": Decimal("2.5")}
    assert outcome.enriched.view() == {
        "attributes": [{"name": "distanceInKM", "type": "ATTRIBUTE", "value": "2.5"}],
        "dimensions": [{"name": "rideType", "type": "DIMENSION", "value": "short"}],
        "dependencies": [
            {"key": "setting.user.meters_per_km", "type": "SETTING", "name": "meters_per_km", "value": "1000"}
        ],
    }


@pytest.mark.parametrize(
    ("type", "value", "expected"),
    [("ATTRIBUTE", "12.50", Decimal("12.5")), ("DIMENSION", "gold", "gold")],
)
def test_a_value_is_a_constant(type: str, value: str, expected: object) -> None:
    p = plan([field("tier", "VALUE", value, type=type)])
    attributes, dimensions = {"distance": Decimal(1)}, {"city": "x"}
    enriched = enrichments.enrich(p, attributes, dimensions, {})
    assert (enriched.attributes if type == "ATTRIBUTE" else enriched.dimensions) == {"tier": expected}
    assert (attributes if type == "ATTRIBUTE" else dimensions)["tier"] == expected  # meters see it


def test_an_inexact_quotient_is_rounded_to_twelve_decimals() -> None:
    p = plan([field("third", "JSON_LOGIC", {"/": [{"var": "attribute.distance"}, 3]})])
    enriched = enrichments.enrich(p, {"distance": Decimal(1)}, {}, {})
    assert enriched.attributes == {"third": Decimal("0.333333333333")}


def test_a_dimension_takes_a_number_s_json_spelling() -> None:
    p = plan([field("km", "JSON_LOGIC", {"*": [{"var": "attribute.distance"}, "1.50"]}, type="DIMENSION")])
    assert enrichments.enrich(p, {"distance": Decimal(2)}, {}, {}).dimensions == {"km": "3"}


def test_json_logic_from_dependency_reads_its_rule_from_the_setting() -> None:
    """The rule itself is the dependency's setting: it may differ per account, customer or organization."""
    p = plan(
        [field("billable", "JSON_LOGIC_FROM_DEPENDENCY", "formula")],
        [{"type": "SETTING", "key": "setting.rides.formula", "name": "formula"}],
    )
    formula = '{"*":[{"var":"attribute.distance"},2]}'
    enriched = enrichments.enrich(p, {"distance": Decimal(3)}, {}, {"setting.rides.formula": (formula, formula)})
    assert enriched.attributes == {"billable": Decimal(6)}
    assert enriched.dependencies == {"formula": ("setting.rides.formula", formula)}


# -- failures at ingestion -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fields", "settings", "words"),
    [
        ([field("x", "JSON_LOGIC", {"/": [{"var": "attribute.distance"}, 0]})], {}, "enrichment x:"),
        ([field("x", "JSON_LOGIC", {"cat": ["a", "b"]})], {}, "an ATTRIBUTE needs a number"),
        ([field("x", "JSON_LOGIC", {"==": [1, 1]})], {}, "an ATTRIBUTE needs a number"),
        ([field("x", "JSON_LOGIC", {"*": [{"var": "attribute.distance"}, "1e20"]})], {}, r"below 10\^15"),
        ([field("x", "JSON_LOGIC", {"var": "dimension.city"}, type="DIMENSION")], {}, None),  # fine: control
        ([field("x", "JSON_LOGIC", {"var": "dependencies.meters_per_km"})], {}, "is not set for the account"),
        ([field("x", "JSON_LOGIC_FROM_DEPENDENCY", "meters_per_km")], {}, "its rule, is not set"),
        (
            [field("x", "JSON_LOGIC_FROM_DEPENDENCY", "meters_per_km")],
            {"setting.user.meters_per_km": ("{", "{")},
            "not valid jsonLogic",
        ),
        ([field("x", "JSON_LOGIC", {"cat": [{"var": "dimension.city"}, ""]}, type="DIMENSION")], {}, "1 to 200"),
    ],
)
def test_a_failing_enrichment_fails_the_event(fields: list, settings: dict, words: str | None) -> None:
    p = plan(fields, [PER_KM])
    dimensions = {"city": "" if words == "1 to 200" else "Paris"}
    if words is None:
        enrichments.enrich(p, {"distance": Decimal(1)}, dimensions, settings)
        return
    with pytest.raises(enrichments.EnrichmentFailed, match=words):
        enrichments.enrich(p, {"distance": Decimal(1)}, dimensions, settings)


def test_the_pipeline_marks_enrichment_failed_and_reaches_no_meter() -> None:
    p = plan([field("x", "JSON_LOGIC", {"/": [{"var": "attribute.distance"}, 0]})])
    outcome = pipeline.evaluate(rule(p, sum_meter('{"var":"attribute.x"}')), event(id="e1"), NOW)
    assert outcome.status == pipeline.ENRICHMENT_FAILED == "INGESTION_FAILED_ENRICHMENT_FAILED"
    assert outcome.message and outcome.message.startswith("enrichment x:")
    assert outcome.units == {}


def test_stored_content_that_no_longer_compiles_fails_events_not_the_call() -> None:
    p = enrichments.plan_of({"fields": [{"name": "x"}]}, None, ATTRS, DIMS)
    outcome = pipeline.evaluate(rule(p), event(id="e1"), NOW)
    assert outcome.status == pipeline.ENRICHMENT_FAILED
    assert "invalid" in (outcome.message or "")


# -- checked when the schema is written ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fields", "dependencies", "words"),
    [
        ([field("distance", "VALUE", "1")], None, "already an attribute or dimension"),
        ([field("city", "VALUE", "x", type="DIMENSION")], None, "already an attribute or dimension"),
        ([field("a", "VALUE", "1"), field("a", "VALUE", "x", type="DIMENSION")], None, "derived twice"),
        ([field("a", "VALUE", "ten")], None, "decimal number"),
        ([field("a", "VALUE", "1e3")], None, "decimal number"),
        ([field("a", "VALUE", "", type="DIMENSION")], None, "1 to 200"),
        ([field("a", "JSON_LOGIC", "{nope")], None, r"fields\[0\].value"),
        ([field("a", "JSON_LOGIC", {"bogus_op": [1]})], None, r"fields\[0\].value"),
        ([field("a", "JSON_LOGIC", {"var": "attribute.nope"})], None, "not an attribute or dimension"),
        ([field("a", "JSON_LOGIC", {"var": "dependencies.nope"})], None, "not an attribute or dimension"),
        (
            [field("a", "JSON_LOGIC", {"var": "attribute.b"}, order=1), field("b", "VALUE", "1", order=2)],
            None,
            "comes later",
        ),
        ([field("a", "JSON_LOGIC_FROM_DEPENDENCY", "nope")], None, "names one of enrichments.dependencies"),
        ([], [{"type": "SETTING", "key": "meters_per_km", "name": "m"}], "setting.<namespace>.<id>"),
        ([], [{"type": "SETTING", "key": "setting.a.b", "name": "with.dot"}], "letters, digits"),
        ([], [PER_KM, PER_KM], "given twice"),
        ([field(f"f{i}", "VALUE", "1") for i in range(51)], None, "at most 50 fields"),
    ],
)
def test_bad_enrichments_are_refused_when_written(fields: list, dependencies: list | None, words: str) -> None:
    with pytest.raises(enrichments.EnrichmentError, match=words):
        plan(fields, dependencies)


# -- the event id template -------------------------------------------------------------------------------------------
def test_the_template_gives_an_event_without_id_its_id() -> None:
    p = plan(
        [field("tier", "VALUE", "gold", type="DIMENSION")],
        template="{{accountId}}-{{dimension.city}}-{{ dimensions.tier }}-{{attribute.time}}-{{timestamp}}",
    )
    outcome = pipeline.evaluate(rule(p), event(), NOW)
    assert outcome.event_id == "acc1-Paris-gold-7.5-2024-03-01T10:07:00Z"
    assert pipeline.evaluate(rule(p), event(id="mine"), NOW).event_id is None  # an id sent is kept
    same = event(attributes=[{"name": "distance", "value": "1"}, {"name": "time", "value": "7.50"}])
    assert pipeline.evaluate(rule(p), same, NOW).event_id == outcome.event_id  # 7.50 is 7.5


@pytest.mark.parametrize(
    ("template", "words"),
    [
        ("fixed", "at least one placeholder"),
        ("{{dimension.nope}}", "is not attribute"),
        ("{{attribute.city}}", "is not attribute"),
        ("{{timestamp}}-{{", r"every \{\{"),
        ("{{timestamp}}}}", r"every \{\{"),
    ],
)
def test_bad_templates_are_refused_when_written(template: str, words: str) -> None:
    with pytest.raises(enrichments.EnrichmentError, match=words):
        plan([], template=template)


def test_a_template_giving_an_over_long_id_is_no_event_id() -> None:
    p = plan([], template="{{dimension.city}}" * 3)
    outcome = pipeline.evaluate(rule(p), event(dimensions={"city": "x" * 200}), NOW)
    assert outcome.status == pipeline.NO_EVENT_ID
    assert "1 to 512" in (outcome.message or "")


@pytest.mark.parametrize(
    ("data_type", "text", "value"),
    [
        ("NUMERIC", "0.001", Decimal("0.001")),
        ("STRING", "gold", "gold"),
        ("JSON", '{"rates": [1.5, 2]}', {"rates": [Decimal("1.5"), 2]}),
        ("JSON_LOGIC", '{"var":"attribute.x"}', '{"var":"attribute.x"}'),
    ],
)
def test_a_setting_is_read_by_its_data_type(data_type: str, text: str, value: object) -> None:
    assert enrichments.dependency_value(data_type, text) == value


def test_a_json_setting_is_data_for_a_rule() -> None:
    p = plan(
        [field("rate", "JSON_LOGIC", {"var": "dependencies.table.rates.1"})],
        [{"type": "SETTING", "key": "setting.user.table", "name": "table"}],
    )
    table = enrichments.dependency_value("JSON", '{"rates": [1.5, 2.25]}')
    assert enrichments.enrich(p, {}, {}, {"setting.user.table": ("...", table)}).attributes == {"rate": Decimal("2.25")}
    with pytest.raises(enrichments.EnrichmentFailed, match="dependency table"):  # unset: named, not a null
        enrichments.enrich(p, {}, {}, {})


# -- bounded, storable, recorded as read -----------------------------------------------------------------------------
def nested_reduce(depth: int) -> dict[str, Any]:
    logic: Any = {"var": "current"}
    for _ in range(depth):
        logic = {"reduce": [[1] * 50, {"+": [{"var": "accumulator"}, logic]}, 0]}
    return logic


def test_a_rule_that_works_too_much_fails_the_event() -> None:
    """50**6 elements of nested reduces: hours per event without the evaluation budget."""
    p = plan([field("x", "JSON_LOGIC", nested_reduce(6))])
    outcome = pipeline.evaluate(rule(p), event(id="e1"), NOW)
    assert outcome.status == pipeline.ENRICHMENT_FAILED
    assert outcome.message == "enrichment x: too much work: the rule took more than 100,000 steps on one event"


def test_a_meter_that_works_too_much_fails_the_event_as_units_invalid() -> None:
    outcome = pipeline.evaluate(rule(plan([]), sum_meter(json.dumps(nested_reduce(6)))), event(id="e1"), NOW)
    assert outcome.status == pipeline.UNITS_INVALID
    assert outcome.message == "usage meter km: too much work: the rule took more than 100,000 steps on one event"


def test_a_rule_doubling_text_fails_the_event() -> None:
    doubling = {"reduce": [[1] * 40, {"cat": [{"var": "accumulator"}, {"var": "accumulator"}]}, "x"]}
    p = plan([field("x", "JSON_LOGIC", doubling, type="DIMENSION")])
    with pytest.raises(enrichments.EnrichmentFailed, match="too much work: text of more than 10,000 characters"):
        enrichments.enrich(p, {}, {}, {})


@pytest.mark.parametrize("literal", ["a\\ud800", "a\\u0000"])
def test_nul_and_lone_surrogates_in_a_rule_are_refused(literal: str) -> None:
    text = '{"cat": ["' + literal + '"]}'
    with pytest.raises(enrichments.EnrichmentError, match=r"fields\[0\].value: a string may not contain NUL"):
        plan([field("x", "JSON_LOGIC", text, type="DIMENSION")])
    p = plan(  # the same rule in a setting: the event fails
        [field("x", "JSON_LOGIC_FROM_DEPENDENCY", "formula", type="DIMENSION")],
        [{"type": "SETTING", "key": "setting.rides.formula", "name": "formula"}],
    )
    with pytest.raises(enrichments.EnrichmentFailed, match="not valid jsonLogic: a string may not contain NUL"):
        enrichments.enrich(p, {}, {}, {"setting.rides.formula": (text, text)})


@pytest.mark.parametrize("bad", ["Par\x00is", "Par\ud800is"])
def test_a_derived_dimension_or_id_never_holds_nul_or_a_lone_surrogate(bad: str) -> None:
    """Data may still carry one (a JSON setting's text is checked for surrogates, not NUL): never into a dimension
    or an id, which the databases would cut or refuse."""
    table = {"type": "SETTING", "key": "setting.user.table", "name": "table"}
    p = plan([field("x", "JSON_LOGIC", {"var": "dependencies.table.name"}, type="DIMENSION")], [table])
    with pytest.raises(enrichments.EnrichmentFailed, match="enrichment x: a DIMENSION may not contain NUL"):
        enrichments.enrich(p, {}, {}, {"setting.user.table": ("...", {"name": bad})})
    templated = plan([], template="{{dimension.city}}-{{timestamp}}")
    outcome = pipeline.evaluate(rule(templated), event(dimensions={"city": bad}), NOW)
    assert outcome.status == pipeline.NO_EVENT_ID
    assert outcome.message == (
        "eventIdTemplate gave an id that may not contain NUL (\\u0000) or a lone UTF-16 surrogate (\\ud800 to \\udfff)"
    )


def test_a_json_setting_as_a_rule_keeps_its_decimals() -> None:
    p = plan(
        [field("billable", "JSON_LOGIC_FROM_DEPENDENCY", "formula")],
        [{"type": "SETTING", "key": "setting.rides.formula", "name": "formula"}],
    )
    # (a number, not the text "1.5": `===` tells them apart)
    text = '{"if": [{"===": [{"var": "attribute.distance"}, 1.5]}, 10, 20]}'
    value = enrichments.dependency_value("JSON", text)  # a JSON setting, parsed: 1.5 is a Decimal
    enriched = enrichments.enrich(p, {"distance": Decimal("1.5")}, {}, {"setting.rides.formula": (text, value)})
    assert enriched.attributes == {"billable": Decimal(10)}


def test_only_the_settings_read_are_recorded_and_bounded() -> None:
    deps = [
        PER_KM,
        {"type": "SETTING", "key": "setting.user.table", "name": "table"},
        {"type": "SETTING", "key": "setting.user.unread", "name": "unread"},
    ]
    p = plan([field("rate", "JSON_LOGIC", {"var": "dependencies.table.rates.0"})], deps)
    assert [d.name for d in p.queried] == ["table"]  # the only one looked up at ingestion
    big = json.dumps({"rates": [1], "padding": "x" * 900_000})
    settings = {
        "setting.user.table": (big, enrichments.dependency_value("JSON", big)),
        "setting.user.meters_per_km": ("1000", Decimal(1000)),
    }
    enriched = enrichments.enrich(p, {}, {}, settings)
    assert enriched.attributes == {"rate": Decimal(1)}
    [(name, (key, value))] = enriched.dependencies.items()
    assert (name, key) == ("table", "setting.user.table")
    assert len(value) == 200 and value == big[:197] + "..."


def test_a_computed_path_reads_every_dependency() -> None:
    deps = [PER_KM, {"type": "SETTING", "key": "setting.user.other", "name": "other"}]
    computed = {"var": {"cat": ["dependencies.", {"var": "dimension.city"}]}}
    p = plan([field("x", "JSON_LOGIC", computed)], deps)
    assert p.queried == p.dependencies
    settings = {"setting.user.meters_per_km": ("1000", Decimal(1000)), "setting.user.other": ("7", Decimal(7))}
    enriched = enrichments.enrich(p, {}, {"city": "other"}, settings)
    assert enriched.attributes == {"x": Decimal(7)}
    assert sorted(enriched.dependencies) == ["meters_per_km", "other"]


def test_a_template_s_literal_text_is_bounded_when_written() -> None:
    plan([], template="x" * 512 + "{{timestamp}}")
    with pytest.raises(enrichments.EnrichmentError, match="outside placeholders is 513 characters"):
        plan([], template="x" * 513 + "{{timestamp}}")


def test_an_attribute_value_that_is_not_a_decimal_is_named() -> None:
    with pytest.raises(enrichments.EnrichmentError, match="a decimal number that is a finite number below"):
        plan([field("a", "VALUE", "ten")])


def test_a_stored_meter_that_no_longer_compiles_fails_the_events_it_reaches() -> None:
    """A meter written before NUL and lone surrogates were refused: its events fail, ingestion goes on."""
    broken = sum_meter('{"cat": ["a\\u0000"]}')
    outcome = pipeline.evaluate(rule(plan([]), broken), event(id="e1"), NOW)
    assert outcome.status == pipeline.UNITS_INVALID
    assert outcome.message == (
        "usage meter km: its jsonLogic is invalid: a string may not contain NUL (\\u0000) or a lone UTF-16 "
        "surrogate (\\ud800 to \\udfff)"
    )
