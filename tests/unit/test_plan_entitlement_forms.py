"""The plan builder's entitlement cards, pure (console/plan_forms.py, issue 21): a billing entitlement's and an
entitlement overage's form fields into the API's cards, checked by the catalog's own rules (plan_rules.normalize)
and back into the form's values; the rules' refusals next to the field they name, in words; the plan page's words."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError
from starlette.datastructures import FormData

from meterline.catalog import plan_rules, plan_schemas as schemas
from meterline.console.plan_forms import (
    Catalog,
    card_error,
    card_from_form,
    card_values,
    duration_words,
    overage_period_words,
    put_card,
    pydantic_words,
    validity_words,
)
from meterline.core.errors import BadRequest

D = Decimal
FEATURE = "feature.01jd8x3b5k9q2w7e4r6t1y0u8i"
OTHER = "feature.01jd8x3b5k9q2w7e4r6t1y0u9z"
FEATURES = {FEATURE: "API calls", OTHER: "Seats"}
CATALOG = Catalog(meters={}, addons={}, features=FEATURES)
BASE: dict[str, Any] = {
    "supportedCurrencies": ["USD"],
    "pricingCycleConfig": {
        "interval": "MONTHLY",
        "gracePeriod": 0,
        "startOffset": {"dayOffset": "1", "monthOffset": "NIL"},
    },
}


_RATE_PLAN = {"pricingModel": "TIERED", "slabs": [{"order": 1, "startAfter": 0, "priceType": "PER_UNIT"}]}
_RATE_VALUES = [{"currency": "USD", "slabRates": [{"order": 1, "rate": 1}]}]


def _form(**fields: str) -> FormData:
    return FormData(list(fields.items()))


def _entitlement_form(**fields: str) -> FormData:
    typed = {
        "feature": FEATURE,
        "units": "1,000",
        "valid_from": "P0D",
        "valid_until": "P1M",
        "timing": "IN_ADVANCE",
        "model": "TIERED",
        "rows": "1",
        "from_0": "0",
        "type_0": "PER_UNIT",
        "rate_0_USD": "0.125",
    }
    return _form(**{**typed, **fields})


def _overage_form(**fields: str) -> FormData:
    typed = {
        "feature": FEATURE,
        "max_quantity": "",
        "every": "1",
        "offset": "0",
        "model": "TIERED",
        "rows": "2",
        "from_0": "0",
        "to_0": "20",
        "type_0": "PER_UNIT",
        "rate_0_USD": "0.20",
        "type_1": "PER_UNIT",
        "rate_1_USD": "0.15",
    }
    return _form(**{**typed, **fields})


def _normalized(details: dict[str, Any]) -> dict[str, Any]:
    """The details as the service checks them: the API's request model, then the catalog's rules."""
    body = schemas.CreatePricePlanDetails.model_validate(details)
    catalog = plan_rules.CatalogView(meters={}, addons={}, features=FEATURES)
    return plan_rules.normalize(body.model_dump(by_alias=True, exclude_none=True), "BILLING", catalog)


def _saved(kind: str, form: FormData, details: dict[str, Any] | None = None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    card = card_from_form(kind, form, None, ["USD"], values, errors)
    assert errors == {}
    return _normalized(put_card(details or BASE, kind, card, None))


def test_a_billing_entitlement_form_becomes_the_card_and_reads_back() -> None:
    details = _saved("entitlement", _entitlement_form())
    [card] = details["billingEntitlementRateCards"]
    assert card["featureId"] == FEATURE
    assert card["featureConfigs"] == [{"featureCreditLimit": D(1000), "effectiveFrom": "P0D", "effectiveUntil": "P1M"}]
    assert card["invoiceTiming"] == "IN_ADVANCE"
    assert (card["name"], card["displayName"]) == (f"entitlement_{FEATURE}", "API calls")  # the rules' defaults
    assert card["ratePlan"] == {
        "pricingModel": "TIERED",
        "slabs": [{"order": 1, "startAfter": 0, "priceType": "PER_UNIT"}],
    }
    assert card["rateValues"] == [{"currency": "USD", "slabRates": [{"order": 1, "rate": D("0.125")}]}]

    values = card_values("entitlement", schemas.BillingEntitlementRateCard.model_validate(card), ["USD"], CATALOG)
    assert (values["feature"], values["units"], values["valid_from"], values["valid_until"], values["timing"]) == (
        FEATURE,
        "1000",
        "P0D",
        "P1M",
        "IN_ADVANCE",
    )
    assert [(r.start, r.end, r.rates) for r in values["rows"]] == [("0", "", {"USD": "0.125"})]


def test_a_new_billing_entitlement_starts_with_a_month_from_the_cycle_start() -> None:
    values = card_values("entitlement", None, ["USD"], CATALOG)
    assert (values["feature"], values["units"], values["valid_from"], values["valid_until"], values["timing"]) == (
        "",
        "",
        "P0D",
        "P1M",
        "IN_ADVANCE",
    )
    values = card_values("overage", None, ["USD"], CATALOG)
    assert (values["feature"], values["max_quantity"], values["every"], values["offset"]) == ("", "", "1", "0")


def test_an_empty_valid_from_is_left_to_the_rules_default_and_durations_are_read_in_capitals() -> None:
    details = _saved("entitlement", _entitlement_form(valid_from="", valid_until="p3m", timing="PREPAID"))
    [card] = details["billingEntitlementRateCards"]
    assert card["featureConfigs"][0] == {"featureCreditLimit": D(1000), "effectiveFrom": "P0D", "effectiveUntil": "P3M"}
    assert card["invoiceTiming"] == "PREPAID"


def test_an_overage_form_without_a_limit_has_no_max_quantity_and_bills_every_cycle() -> None:
    details = _saved("overage", _overage_form())
    [card] = details["entitlementOverageRateCards"]
    assert card["featureId"] == FEATURE and "maxQuantity" not in card
    assert card["billingConfig"] == {"interval": 1, "startOffset": 0}
    assert [s["startAfter"] for s in card["ratePlan"]["slabs"]] == [0, 20]
    assert card["rateValues"][0]["slabRates"] == [{"order": 1, "rate": D("0.20")}, {"order": 2, "rate": D("0.15")}]
    values = card_values("overage", schemas.EntitlementOverageRateCard.model_validate(card), ["USD"], CATALOG)
    assert (values["max_quantity"], values["every"], values["offset"]) == ("", "1", "0")


def test_an_overage_form_with_a_limit_a_period_and_a_maximum() -> None:
    details = _saved("overage", _overage_form(max_quantity="500.5", every="3", offset="1", max_USD="40"))
    [card] = details["entitlementOverageRateCards"]
    assert (card["maxQuantity"], card["billingConfig"]) == (D("500.5"), {"interval": 3, "startOffset": 1})
    assert card["rateValues"][0]["rateConfig"] == {"maximumRate": "40"}
    values = card_values("overage", schemas.EntitlementOverageRateCard.model_validate(card), ["USD"], CATALOG)
    assert (values["max_quantity"], values["every"], values["offset"], values["max_USD"]) == ("500.5", "3", "1", "40")


def test_both_cards_of_one_feature_live_side_by_side_and_editing_keeps_the_rest() -> None:
    details = _saved("overage", _overage_form(), _saved("entitlement", _entitlement_form()))
    assert [c["name"] for c in details["billingEntitlementRateCards"]] == [f"entitlement_{FEATURE}"]
    assert [c["name"] for c in details["entitlementOverageRateCards"]] == [f"overage_{FEATURE}"]
    # editing the entitlement: 2,000 units, a recurrence set through the API is kept
    original = schemas.BillingEntitlementRateCard.model_validate(
        {**details["billingEntitlementRateCards"][0], "recurrenceConfig": {"interval": 2, "offset": 0}}
    )
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    card = card_from_form("entitlement", _entitlement_form(units="2000"), original, ["USD"], values, errors)
    assert errors == {}
    assert (card["name"], card["recurrenceConfig"]) == (original.name, {"interval": 2, "offset": 0})
    assert card["featureConfigs"][0]["featureCreditLimit"] == D(2000)
    # another feature: a new automatic name
    card = card_from_form("entitlement", _entitlement_form(feature=OTHER), original, ["USD"], {}, {})
    assert "name" not in card


@pytest.mark.parametrize(
    ("kind", "form", "errors"),
    [
        (
            "entitlement",
            _entitlement_form(feature="", units="", valid_until=""),
            {
                "feature": "Choose the feature this card is about",
                "units": "Enter how many units each cycle grants, such as 1000",
                "valid_until": "Enter how long after the cycle's start the units can be used, such as P1M",
            },
        ),
        ("entitlement", _entitlement_form(units="lots"), {"units": "Enter a number of units, such as 1000"}),
        ("entitlement", _entitlement_form(timing="SOMETIME"), {"timing": "Choose when the units are billed"}),
        (
            "overage",
            _overage_form(max_quantity="many", every="x", offset="-1"),
            {
                "max_quantity": "Enter a number of units, or leave it empty",
                "every": "A whole number of cycles, 1 or more (1: every cycle)",
                "offset": "A whole number of cycles, 0 or more (0: from the first cycle)",
            },
        ),
    ],
)
def test_entitlement_form_mistakes_are_words_next_to_their_field(
    kind: str, form: FormData, errors: dict[str, str]
) -> None:
    found: dict[str, str] = {}
    values: dict[str, Any] = {}
    card_from_form(kind, form, None, ["USD"], values, found)
    assert found == errors
    assert values["feature"] == form.get("feature")  # what was typed stays


def _refusal(details: dict[str, Any]) -> str:
    """The service's refusal of these details, as the console receives it (pydantic's, or the rules')."""
    try:
        _normalized(details)
    except ValidationError as exc:
        return pydantic_words(exc)
    except BadRequest as exc:
        return exc.message
    raise AssertionError("not refused")


def _entitlement(**config: Any) -> dict[str, Any]:
    card = card_from_form("entitlement", _entitlement_form(), None, ["USD"], {}, {})
    card["featureConfigs"][0].update(config)
    return card


def _overage(**fields: Any) -> dict[str, Any]:
    card = card_from_form("overage", _overage_form(), None, ["USD"], {}, {})
    card.update(fields)
    return card


@pytest.mark.parametrize(
    ("details", "field", "words"),
    [
        (
            {**BASE, "billingEntitlementRateCards": [{**_entitlement(), "featureId": "feature.gone"}]},
            "feature",
            "No feature 'feature.gone': create the feature first (Features)",
        ),
        (
            {**BASE, "billingEntitlementRateCards": [_entitlement(), _entitlement()]},
            "feature",
            "This plan already has a billing entitlement card for API calls: one per feature (each cycle grants one "
            "entry of a feature per card kind); edit that card instead",
        ),
        (
            {**BASE, "entitlementOverageRateCards": [_overage(), _overage()]},
            "feature",
            "This plan already has an entitlement overage card for API calls: one per feature (each cycle grants one "
            "entry of a feature per card kind); edit that card instead",
        ),
        (
            {**BASE, "billingEntitlementRateCards": [_entitlement(effectiveFrom="P1X")]},
            "valid_from",
            "'P1X' is not an ISO 8601 duration of years, months, weeks and days (P0D, P30D, P1M): it counts from the "
            "cycle's start",
        ),
        (
            {**BASE, "billingEntitlementRateCards": [_entitlement(effectiveFrom="P1M", effectiveUntil="P30D")]},
            "valid_until",
            'Must be longer than "Valid from" (P1M)',
        ),
        (
            {**BASE, "billingEntitlementRateCards": [_entitlement(featureCreditLimit=D(-1))]},
            "units",
            "Must be >= 0",
        ),
        (
            {**BASE, "entitlementOverageRateCards": [_overage(maxQuantity=D(-5))]},
            "max_quantity",
            "Must be >= 0 (leave it empty for no limit)",
        ),
        (
            {**BASE, "entitlementOverageRateCards": [_overage(billingConfig={"interval": 2, "startOffset": 2})]},
            "offset",
            'Must be smaller than "Bill every"',
        ),
        (
            {**BASE, "entitlementOverageRateCards": [_overage(billingConfig={"interval": 121, "startOffset": 0})]},
            "every",
            "At most 120",
        ),
        (
            {**BASE, "entitlementOverageRateCards": [_overage(billingConfig={"interval": 0, "startOffset": 0})]},
            "every",
            "At least 1",
        ),
    ],
)
def test_a_rule_refusal_of_an_entitlement_card_goes_next_to_its_field_in_words(
    details: dict[str, Any], field: str, words: str
) -> None:
    errors: dict[str, str] = {}
    card_error(_refusal(details), ["USD"], errors, FEATURES)
    assert errors == {field: words}


def test_a_refusal_of_the_whole_card_goes_above_the_form() -> None:
    details = {**BASE, "deferredRevenue": True, "billingEntitlementRateCards": [_entitlement()]}
    errors: dict[str, str] = {}
    card_error(_refusal(details), ["USD"], errors, FEATURES)
    assert errors == {"form": "Billing entitlement 1: a plan with deferredRevenue cannot have entitlement cards"}


@pytest.mark.parametrize(
    ("duration", "words"),
    [("P0D", "0 days"), ("P1M", "1 month"), ("P30D", "30 days"), ("P1Y2M", "1 year 2 months"), ("P2W", "2 weeks")],
)
def test_durations_in_words(duration: str, words: str) -> None:
    assert duration_words(duration) == words


def test_the_plan_page_says_when_units_can_be_used_and_when_overage_bills() -> None:
    def validity(**config: Any) -> str:
        return validity_words(schemas.FeatureConfig.model_validate({"featureCreditLimit": 1, **config}))

    def period(**card: Any) -> str:
        priced = {"featureId": FEATURE, "ratePlan": _RATE_PLAN, "rateValues": _RATE_VALUES}
        return overage_period_words(schemas.EntitlementOverageRateCard.model_validate({**priced, **card}))

    assert validity(effectiveFrom="P0D", effectiveUntil="P1M") == "usable for 1 month from the cycle's start"
    assert validity(effectiveUntil="P3M") == "usable for 3 months from the cycle's start"
    assert validity(effectiveFrom="P7D", effectiveUntil="P1M") == (
        "usable from 7 days to 1 month after the cycle's start"
    )
    assert period(billingConfig={"interval": 1, "startOffset": 0}) == "billed every cycle"
    assert period() == "billed every cycle"
    assert (
        period(billingConfig={"interval": 3, "startOffset": 1})
        == "billed every 3 cycles from cycle 1 (counted from 0; the cycles before it are a shorter first period)"
    )
