"""The shipped alert templates, their schemas, the levels' pure evaluation and the console's alert form (pure)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import jsonschema_rs
import pytest

from meterline.alerts.evaluation import Reading, crossings, is_crossed, level_text
from meterline.alerts.json_schema import errors
from meterline.alerts.statuses import Basis, Direction
from meterline.alerts.templates import TEMPLATES
from meterline.console import alert_forms

D = Decimal


@pytest.mark.parametrize("template_id", sorted(TEMPLATES))
def test_each_templates_example_is_valid_for_a_full_json_schema_implementation_and_for_ours(template_id: str) -> None:
    t = TEMPLATES[template_id]
    for which, value in (("parameters", t.example), ("entity", {}), ("owner", {"user": {"email": "a@b.test"}})):
        schema = json.loads(t.schema_text(which))
        assert jsonschema_rs.is_valid(schema, value), (which, value)
        assert errors(schema, value, which) == []


BAD: list[tuple[str, Any]] = [
    ("usage_threshold", {"meter": {"id": "m"}}),  # no threshold
    ("usage_threshold", {"meter": {"id": ""}, "threshold": {"levels": [1]}}),  # empty id
    ("usage_threshold", {"meter": {"id": "m"}, "threshold": {"levels": []}}),  # no level
    ("usage_threshold", {"meter": {"id": "m"}, "threshold": {"levels": [-1]}}),  # negative
    ("usage_threshold", {"meter": {"id": "m"}, "threshold": {"levels": ["1"]}}),  # text
    ("usage_threshold", {"meter": {"id": "m"}, "threshold": {"levels": [1], "basis": "HALF"}}),
    ("spend_threshold", {"threshold": {"levels": [1]}, "extra": {}}),
    ("spend_threshold", {"threshold": {"levels": list(range(11))}}),  # more than 10 levels
    ("invoice_overdue", {"overdue": {"days": 1.5}}),
    ("webhook_endpoint_disabled", {"x": {}}),
]


@pytest.mark.parametrize(("template_id", "value"), BAD)
def test_what_a_full_implementation_refuses_ours_refuses(template_id: str, value: Any) -> None:
    schema = json.loads(TEMPLATES[template_id].schema_text("parameters"))
    assert not jsonschema_rs.is_valid(schema, value)
    assert errors(schema, value, "parameters")


def test_our_messages_name_the_field() -> None:
    schema = TEMPLATES["usage_threshold"].parameters_schema
    assert errors(schema, {"meter": {"id": "m"}, "threshold": {"levels": [True]}}, "parameters") == [
        "parameters.threshold.levels[0]: must be a number"
    ]
    assert errors(schema, {"threshold": {"levels": [1]}}, "parameters") == ["parameters.meter: is required"]
    assert errors(
        TEMPLATES["spend_threshold"].entity_schema, {"account": {"id": "a"}, "customer": {"id": "c"}}, "e"
    ) == ["e: must have at most 1 key(s)"]


@pytest.mark.parametrize(
    ("value", "level", "basis", "base", "direction", "crossed"),
    [
        (D("100"), D("100"), Basis.ABSOLUTE, None, Direction.ABOVE, True),  # reaching the level crosses it
        (D("99.999"), D("100"), Basis.ABSOLUTE, None, Direction.ABOVE, False),
        (D("800"), D("80"), Basis.PERCENT_OF_ENTITLEMENT, D("1000"), Direction.ABOVE, True),  # exactly 80%
        (D("799.99"), D("80"), Basis.PERCENT_OF_ENTITLEMENT, D("1000"), Direction.ABOVE, False),
        (D("1"), D("80"), Basis.PERCENT_OF_ENTITLEMENT, D("0"), Direction.ABOVE, False),  # nothing granted
        (D("1"), D("80"), Basis.PERCENT_OF_COMMITMENT, None, Direction.ABOVE, False),  # no commitment
        (D("50"), D("50"), Basis.ABSOLUTE, None, Direction.BELOW, True),  # at the level: low
        (D("50.01"), D("50"), Basis.ABSOLUTE, None, Direction.BELOW, False),
        (D("0"), D("0"), Basis.PERCENT_OF_GRANTED, D("10"), Direction.BELOW, True),  # exhausted
        (D("2"), D("20"), Basis.PERCENT_OF_GRANTED, D("10"), Direction.BELOW, True),
        (D("2.01"), D("20"), Basis.PERCENT_OF_GRANTED, D("10"), Direction.BELOW, False),
        (None, D("0"), Basis.ABSOLUTE, None, Direction.BELOW, False),  # no figure: never crossed
    ],
)
def test_levels_are_crossed_exactly(
    value: Decimal | None, level: Decimal, basis: Basis, base: Decimal | None, direction: Direction, crossed: bool
) -> None:
    assert is_crossed(value, level, basis, base, direction) is crossed


def test_crossings_give_one_per_subject_and_level_with_their_report() -> None:
    t = TEMPLATES["feature_credits_low"]
    parameters = {"feature": {"id": "f"}, "threshold": {"basis": "PERCENT_OF_GRANTED", "levels": [D(20), D("0.0")]}}
    found = crossings(t, parameters, [Reading("ACCOUNT", "a", D(1), "units", D(10)), Reading("ACCOUNT", "b", None)])
    assert [(c.subject_id, level_text(c.level), c.crossed) for c in found] == [
        ("a", "0", False),
        ("a", "20", True),
        ("b", "0", False),
        ("b", "20", False),
    ]
    assert found[1].report["figures"] == {"value": D(1), "unit": "units", "base": D(10), "percent": D("10.00")}
    assert found[1].report["threshold"]["limit"] == D(2)
    assert [level_text(v) for v in (D("80.0"), D("8E+1"), D("0.50"), D("-0"))] == ["80", "80", "0.5", "0"]


# -- the console's form ----------------------------------------------------------------------------------------------
def test_the_form_is_generated_from_the_parameter_schema() -> None:
    fields = alert_forms.fields_of(TEMPLATES["usage_threshold"].parameters_schema, {"meter.id": [("um.1", "Calls")]})
    assert [(f.name, f.kind, f.required) for f in fields] == [
        ("p.meter.id", "choice", True),
        ("p.threshold.basis", "choice", False),
        ("p.threshold.levels", "numbers", True),
        ("p.threshold.featureId", "text", False),
    ]
    assert fields[0].choices == [("um.1", "Calls")] and fields[1].choices[1] == (
        "PERCENT_OF_ENTITLEMENT",
        "% of the feature credits granted",
    )
    assert [f.kind for f in alert_forms.fields_of(TEMPLATES["invoice_overdue"].parameters_schema)] == ["integer"]
    assert alert_forms.fields_of(TEMPLATES["webhook_endpoint_disabled"].parameters_schema) == []
    assert [f.name for f in alert_forms.fields_of(TEMPLATES["wallet_balance_below"].parameters_schema)] == [
        "p.threshold.levels"  # one basis only: nothing to choose
    ]


def test_what_is_typed_becomes_the_parameters_or_errors_in_words() -> None:
    fields = alert_forms.fields_of(TEMPLATES["usage_threshold"].parameters_schema)
    typed = {"p.meter.id": "um.1", "p.threshold.basis": "ABSOLUTE", "p.threshold.levels": "50, 80;100 1000.5"}
    parameters, problems = alert_forms.body(alert_forms.fill(fields, typed))
    assert problems == {}
    assert parameters == {
        "meter": {"id": "um.1"},
        "threshold": {"basis": "ABSOLUTE", "levels": [D(50), D(80), D(100), D("1000.5")]},
    }
    _, problems = alert_forms.body(alert_forms.fill(fields, {**typed, "p.threshold.levels": "50, ten"}))
    assert problems == {"p.threshold.levels": "enter a number, such as 25 or 19.99"}
    days = alert_forms.fields_of(TEMPLATES["invoice_overdue"].parameters_schema)
    assert alert_forms.body(alert_forms.fill(days, {"p.overdue.days": "7"}))[0] == {"overdue": {"days": D(7)}}
    assert alert_forms.body(alert_forms.fill(days, {"p.overdue.days": "1.5"}))[1] == {
        "p.overdue.days": "enter a whole number"
    }


def test_the_services_refusals_go_next_to_their_fields() -> None:
    fields = alert_forms.fields_of(TEMPLATES["usage_threshold"].parameters_schema)
    message = (
        "parameters.threshold.levels[0]: must be at least 0; parameters.meter: is required "
        "(template usage_threshold, GET /alert_templates/usage_threshold)"
    )
    assert alert_forms.field_errors(message, fields) == {
        "p.threshold.levels": "must be at least 0",
        "form": "parameters.meter: is required",
    }
    assert alert_forms.field_errors("Usage meter um.x not found", fields) == {"form": "Usage meter um.x not found"}
    assert alert_forms.field_errors("interval: must be a whole number of minutes from 1 to 525600", fields) == {
        "interval": "must be a whole number of minutes from 1 to 525600"
    }
    assert alert_forms.entity_details("ACCOUNT", " acme ") == ({"account": {"id": "acme"}}, None)
    assert alert_forms.entity_details("CUSTOMER", "") == ({}, "enter the customer's id")
    assert alert_forms.entity_details("ORGANIZATION", "ignored") == ({}, None)
    assert alert_forms.minutes("", optional=True) == (None, None)
    assert alert_forms.minutes("", optional=False) == (None, "enter a number of minutes")
    assert alert_forms.minutes("90", optional=False) == (90, None)
