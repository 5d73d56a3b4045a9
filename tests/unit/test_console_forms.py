"""The console's form translations, pure (no server, no database): a price plan card's slab rows into the API's
ratePlan and rateValues with the From/To checks (console/plan_forms.py), and a usage meter's filter rows into
jsonLogic and a matcher back into lines of words (console/metering_forms.py)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from meterline.catalog.plan_schemas import UsageRateCard
from meterline.console.metering_forms import MeterForm, RowError, condition_of, filter_words, meter_body
from meterline.console.plan_forms import SlabRow, resize_rows, slab_plan

D = Decimal


def _rows(*rows: tuple[str, str, str]) -> list[SlabRow]:
    """Slab rows as typed: (From, To, rate in USD), per unit."""
    return [SlabRow(start=start, end=end, rates={"USD": rate}) for start, end, rate in rows]


# -- slab rows -> slabs ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rows", "starts", "rates"),
    [
        pytest.param(_rows(("0", "", "0.05")), [D(0)], [D("0.05")], id="one-open-slab"),
        pytest.param(
            _rows(("0", "1000", "0.05"), ("1000", "", "0.01")),
            [D(0), D(1000)],
            [D("0.05"), D("0.01")],
            id="to-is-the-next-from",
        ),
        pytest.param(
            _rows(("0", "500", "1"), ("", "2000", "0.5"), ("", "", "0")),
            [D(0), D(500), D(2000)],
            [D(1), D("0.5"), D(0)],
            id="empty-from-takes-the-previous-to",
        ),
        pytest.param(
            _rows(("0", "1,000", "0.05"), ("1,000", "", "1,250.5")),
            [D(0), D(1000)],
            [D("0.05"), D("1250.5")],
            id="thousands-separators",
        ),
    ],
)
def test_slab_rows_become_contiguous_slabs(rows: list[SlabRow], starts: list[Decimal], rates: list[Decimal]) -> None:
    errors: dict[str, str] = {}
    plan, values = slab_plan(rows, "TIERED", ["USD"], None, errors)
    assert errors == {}
    assert plan["pricingModel"] == "TIERED"
    assert [(s["order"], s["startAfter"], s["priceType"]) for s in plan["slabs"]] == [
        (i + 1, start, "PER_UNIT") for i, start in enumerate(starts)
    ]
    assert values == [{"currency": "USD", "slabRates": [{"order": i + 1, "rate": r} for i, r in enumerate(rates)]}]


@pytest.mark.parametrize(
    ("rows", "errors"),
    [
        pytest.param(
            _rows(("", "", "1")), {"from_0": "Where does this slab start? (0 for the first)"}, id="no-first-from"
        ),
        pytest.param(
            _rows(("0", "", "1"), ("", "", "2")),
            {"from_1": "Where does this slab start? (where the previous one ends)"},
            id="no-from-nor-previous-to",
        ),
        pytest.param(_rows(("zero", "", "1")), {"from_0": "Enter a number, such as 0 or 1000"}, id="from-not-a-number"),
        pytest.param(
            _rows(("0", "lots", "1"), ("100", "", "2")),
            {"to_0": "Enter a number, such as 1000, or leave it empty"},
            id="to-not-a-number",
        ),
        pytest.param(
            _rows(("0", "500", "1"), ("600", "", "2")),
            {"to_0": "Slabs must be contiguous: this slab ends at 500 but slab 2 starts after 600"},
            id="gap",
        ),
        pytest.param(
            _rows(("0", "1000", "1"), ("500", "", "2")),
            {"to_0": "Slabs must be contiguous: this slab ends at 1000 but slab 2 starts after 500"},
            id="overlap",
        ),
        pytest.param(
            _rows(("0", "100", "1")),
            {"to_0": "The last slab has no end: leave To empty (it prices all usage above its start)"},
            id="to-on-the-last-slab",
        ),
        pytest.param(_rows(("0", "", "")), {"rate_0_USD": "Enter a rate (0 if this slab is free)"}, id="no-rate"),
        pytest.param(
            _rows(("0", "", "cheap")), {"rate_0_USD": "Enter a number, such as 0.05 or 12"}, id="rate-not-a-number"
        ),
        pytest.param(
            _rows(("0", "", "Infinity")), {"rate_0_USD": "Enter a number, such as 0.05 or 12"}, id="rate-not-finite"
        ),
    ],
)
def test_slab_rows_mistakes_are_words_next_to_their_field(rows: list[SlabRow], errors: dict[str, str]) -> None:
    found: dict[str, str] = {}
    slab_plan(rows, "TIERED", ["USD"], None, found)
    assert found == errors


def test_slab_plan_keeps_what_the_form_does_not_show_and_checks_the_model() -> None:
    original = UsageRateCard.model_validate(
        {
            "usageMeterId": "um.x",
            "ratePlan": {
                "pricingModel": "TIERED",
                "slabs": [
                    {
                        "order": 1,
                        "startAfter": 0,
                        "priceType": "PACKAGE",
                        "slabConfig": {"packageSize": "10", "roundingMode": "UP"},
                    }
                ],
            },
            "rateValues": [
                {
                    "currency": "USD",
                    "rateConfig": {"minimumRate": "5"},
                    "slabRates": [{"order": 1, "rate": 1, "slabRateConfig": {"x": "1"}}],
                }
            ],
        }
    )
    rows = [SlabRow(start="0", price_type="PACKAGE", package="", rates={"USD": "2"})]
    errors: dict[str, str] = {}
    plan, values = slab_plan(rows, "STAIRS", ["USD"], original, errors)
    assert errors == {"model": "Choose a pricing model"}
    assert plan["slabs"] == [
        {"order": 1, "startAfter": D(0), "priceType": "PACKAGE", "slabConfig": {"roundingMode": "UP"}}
    ]  # the package size emptied, the rest kept
    assert values == [
        {
            "currency": "USD",
            "rateConfig": {"minimumRate": "5"},
            "slabRates": [{"order": 1, "rate": D(2), "slabRateConfig": {"x": "1"}}],
        }
    ]


@pytest.mark.parametrize(
    ("rows", "action", "after"),
    [
        pytest.param([("0", "100"), ("100", "")], "add_slab", [("0", "100"), ("100", ""), ("", "")], id="add"),
        pytest.param(
            [("0", "100"), ("100", "500"), ("500", "")],
            "remove_slab_0",
            [("0", "500"), ("500", "")],
            id="remove-the-first",
        ),
        pytest.param(
            [("0", "100"), ("100", "500"), ("500", "")],
            "remove_slab_1",
            [("0", "500"), ("500", "")],
            id="remove-a-middle-one",
        ),
        pytest.param(
            [("0", "100"), ("100", "500"), ("500", "")],
            "remove_slab_2",
            [("0", "100"), ("100", "")],
            id="remove-the-last",
        ),
        pytest.param([("0", "")], "remove_slab_0", [("0", "")], id="the-only-slab-stays"),
        pytest.param([("0", "100"), ("100", "")], "remove_slab_9", [("0", "100"), ("100", "")], id="no-such-row"),
        pytest.param([(str(i), "") for i in range(10)], "add_slab", [(str(i), "") for i in range(10)], id="at-most-10"),
    ],
)
def test_adding_and_removing_slab_rows_keeps_them_contiguous(
    rows: list[tuple[str, str]], action: str, after: list[tuple[str, str]]
) -> None:
    slabs = [SlabRow(start=start, end=end) for start, end in rows]
    resize_rows(slabs, action)
    assert [(s.start, s.end) for s in slabs] == after


# -- filter rows <-> jsonLogic -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "op", "value", "logic"),
    [
        pytest.param("dimension.region", "is", " eu ", {"==": [{"var": "dimension.region"}, "eu"]}, id="dimension-is"),
        pytest.param(
            "dimension.region", "is_not", "eu", {"!=": [{"var": "dimension.region"}, "eu"]}, id="dimension-is-not"
        ),
        pytest.param(
            "dimension.region",
            "in",
            "eu, us,,",
            {"in": [{"var": "dimension.region"}, ["eu", "us"]]},
            id="dimension-one-of",
        ),
        pytest.param(
            "attribute.tokens",
            "ge",
            "1,000.50",
            {">=": [{"var": "attribute.tokens"}, D("1000.50")]},
            id="attribute-at-least",
        ),
        pytest.param(
            "attribute.tokens", "lt", "1E+3", {"<": [{"var": "attribute.tokens"}, D(1000)]}, id="attribute-no-exponent"
        ),
        pytest.param(
            "attribute.tokens",
            "in",
            "1, 2.5",
            {"in": [{"var": "attribute.tokens"}, [D(1), D("2.5")]]},
            id="attribute-one-of",
        ),
    ],
)
def test_a_filter_row_becomes_jsonlogic(field: str, op: str, value: str, logic: dict[str, Any]) -> None:
    assert condition_of(field, op, value) == logic


@pytest.mark.parametrize(
    ("field", "op", "value", "words"),
    [
        pytest.param("", "is", "eu", "Pick the field to filter on", id="no-field"),
        pytest.param("region", "is", "eu", "Pick the field to filter on", id="not-a-schema-field"),
        pytest.param("dimension.region", "like", "eu", "Pick an operator", id="unknown-operator"),
        pytest.param(
            "dimension.region",
            "gt",
            "eu",
            "region is a dimension (text): use is, is not or is one of",
            id="dimension-compared",
        ),
        pytest.param("dimension.region", "is", "  ", "Enter the value of region to compare with", id="dimension-empty"),
        pytest.param(
            "attribute.tokens", "in", " , ", "Enter one value or more, separated by commas", id="one-of-empty"
        ),
        pytest.param(
            "attribute.tokens", "gt", "many", "tokens is a number attribute: enter a number", id="not-a-number"
        ),
        pytest.param("attribute.tokens", "in", "1, NaN", "tokens is a number attribute", id="one-of-not-a-number"),
    ],
)
def test_a_wrong_filter_row_is_refused_in_words(field: str, op: str, value: str, words: str) -> None:
    with pytest.raises(RowError, match=re.escape(words)):
        condition_of(field, op, value)


@pytest.mark.parametrize(
    ("rows", "advanced", "matcher", "lines"),
    [
        pytest.param([], "", None, [], id="no-filter"),
        pytest.param(
            [("dimension.region", "is", "eu")],
            "",
            '{"==":[{"var":"dimension.region"},"eu"]}',
            ["dimension.region is eu"],
            id="one-row",
        ),
        pytest.param(
            [("dimension.region", "in", "eu, us"), ("", "is", ""), ("attribute.tokens", "gt", "1,000.50")],
            "",
            '{"and":[{"in":[{"var":"dimension.region"},["eu","us"]]},{">":[{"var":"attribute.tokens"},1000.50]}]}',
            ["dimension.region is one of eu, us", "attribute.tokens greater than 1000.50"],
            id="rows-and-an-empty-one",
        ),
        pytest.param(
            [],
            ' {"===": [{"var": "dimension.plan"}, "pro"]} ',
            '{"===": [{"var": "dimension.plan"}, "pro"]}',
            ["dimension.plan is pro"],
            id="advanced-alone-as-typed",
        ),
        pytest.param(
            [("attribute.tokens", "le", "10")],
            '{"if": [true, 1, 2]}',
            '{"and":[{"<=":[{"var":"attribute.tokens"},10]},{"if":[true,1,2]}]}',
            None,
            id="rows-and-advanced-not-simple",
        ),
    ],
)
def test_filter_rows_become_a_matcher_and_back_into_words(
    rows: list[tuple[str, str, str]], advanced: str, matcher: str | None, lines: list[str] | None
) -> None:
    form = MeterForm(
        name="m", schema="s", rows=[{"field": f, "op": o, "value": v} for f, o, v in rows], advanced=advanced
    )
    errors: dict[str, str] = {}
    body = meter_body(form, errors)
    assert errors == {}
    computations = body["computations"]
    assert (computations[0]["matcher"] if computations else None) == matcher
    assert filter_words(matcher) == lines


@pytest.mark.parametrize(
    ("matcher", "lines"),
    [
        pytest.param(None, [], id="none"),
        pytest.param("", [], id="empty"),
        pytest.param("{not json", None, id="not-json"),
        pytest.param('{"!==":[{"var":"dimension.model"},"small"]}', ["dimension.model is not small"], id="strict"),
        pytest.param('{"<":[{"var":"attribute.ms"},true]}', None, id="a-boolean-is-not-a-value"),
        pytest.param('{"in":[{"var":"dimension.model"},[]]}', None, id="empty-list"),
        pytest.param('{"==":[{"var":"dimension.model"}]}', None, id="one-argument"),
        pytest.param('{"==":["small",{"var":"dimension.model"}]}', None, id="the-var-second"),
        pytest.param('{"or":[{"==":[{"var":"dimension.model"},"a"]}]}', None, id="or-is-not-rows"),
    ],
)
def test_only_simple_matchers_read_as_words(matcher: str | None, lines: list[str] | None) -> None:
    assert filter_words(matcher) == lines


@pytest.mark.parametrize(
    ("rows", "advanced", "aggregation", "sum_attribute", "errors"),
    [
        pytest.param(
            [("dimension.region", "gt", "eu")],
            "",
            "COUNT",
            "",
            {"filter.0": "region is a dimension (text): use is, is not or is one of"},
            id="row-mistake",
        ),
        pytest.param([], "{nope", "COUNT", "", {"advanced": "This is not valid JSON"}, id="advanced-not-json"),
        pytest.param(
            [], "", "SUM", "", {"sum_attribute": "Pick the attribute a SUM meter adds up"}, id="sum-of-nothing"
        ),
    ],
)
def test_meter_form_mistakes_go_next_to_their_field(
    rows: list[tuple[str, str, str]], advanced: str, aggregation: str, sum_attribute: str, errors: dict[str, str]
) -> None:
    form = MeterForm(
        name="m",
        schema="s",
        aggregation=aggregation,
        sum_attribute=sum_attribute,
        rows=[{"field": f, "op": o, "value": v} for f, o, v in rows],
        advanced=advanced,
    )
    found: dict[str, str] = {}
    meter_body(form, found)
    assert list(found) == list(errors)
    assert all(found[k].startswith(v) for k, v in errors.items())
