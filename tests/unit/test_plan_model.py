"""Plan details as typed values (catalog/plan_model.py): parsed once per stored text, numbers read as stored, a
schedule's override and offsets applied, and what every consumer asks of a card. Pure, no database."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from meterline.catalog import plan_model
from meterline.catalog.plan_model import StoredDetails
from meterline.catalog.plan_repository import encode_details
from meterline.catalog.plan_schemas import CreatePricePlanDetails

D = Decimal
RATE_PLAN = {"pricingModel": "TIERED", "slabs": [{"order": 1, "startAfter": 0, "priceType": "PER_UNIT"}]}
USD_RATES = [{"currency": "USD", "slabRates": [{"order": 1, "rate": D("0.05")}]}]
PLAN: dict[str, Any] = {
    "supportedCurrencies": ["EUR", "USD"],
    "pricingCycleConfig": {
        "interval": "MONTHLY",
        "gracePeriod": 0,
        "startOffset": {"dayOffset": "1", "monthOffset": "NIL"},
    },
    "usageRateCards": [
        {
            "name": "usage_um.calls",
            "displayName": "Calls",
            "usageMeterId": "um.calls",
            "ratePlan": RATE_PLAN,
            "rateValues": USD_RATES,
        }
    ],
    "fixedFeeRateCards": [
        {
            "id": "addon.fee",
            "name": "fixed_fee_addon.fee",
            "displayName": "Platform fee",
            "type": "RECURRING",
            "invoiceTiming": "IN_ADVANCE",
            "enableProration": False,
            "rateValues": [{"currency": "USD", "rate": 49}],
        }
    ],
    "billingEntitlementRateCards": [
        {
            "featureId": "feature.a",
            "name": "entitlement_feature.a",
            "invoiceTiming": "PREPAID",
            "featureConfigs": [{"effectiveFrom": "P0D", "effectiveUntil": "P1M", "featureCreditLimit": 100}],
            "ratePlan": RATE_PLAN,
            "rateValues": USD_RATES,
        }
    ],
    "entitlementOverageRateCards": [
        {
            "featureId": "feature.a",
            "name": "overage_feature.a",
            "displayName": "Overage",
            "billingConfig": {"interval": 1, "startOffset": 0},
            "ratePlan": RATE_PLAN,
            "rateValues": USD_RATES,
        }
    ],
    "minimumCommitment": {"displayName": "Commitment", "rateValues": [{"currency": "USD", "rate": 100}]},
}


def test_the_cards_by_type_and_what_consumers_ask_of_them() -> None:
    model = plan_model.parse(PLAN)
    assert model.currencies == ("EUR", "USD") and model.cycle is not None and model.cycle.interval == "MONTHLY"
    assert model.usage_meter_ids == ["um.calls"] and model.has_entitlement_cards
    cards = model.cards()
    assert [plan_model.billable_id(c) for c in cards] == [
        "um.calls",
        "addon.fee",
        "entitlement_feature.a",
        "overage_feature.a",
    ]
    assert [plan_model.label(c) for c in cards] == ["Calls", "Platform fee", "entitlement_feature.a", "Overage"]
    assert [plan_model.timing(c) for c in cards] == ["IN_ARREARS", "IN_ADVANCE", "PREPAID", "IN_ARREARS"]
    assert all(plan_model.priced_in(c, "USD") for c in cards) and not any(plan_model.priced_in(c, "EUR") for c in cards)
    assert model.minimum_commitment is not None and plan_model.priced_in(model.minimum_commitment, "USD")
    assert model.billed_at_start("USD") == [model.fixed_fee_cards[0], model.billing_entitlement_cards[0]]
    assert model.billed_at_start("EUR") == []
    # exact decimals: the rates are the stored digits
    assert plan_model.rate_value(model.usage_cards[0], "USD").slab_rates[0].rate == D("0.05")
    assert model.billing_entitlement_cards[0].feature_configs[0].feature_credit_limit == D(100)


def test_stored_numbers_are_read_as_stored_where_a_request_would_be_refused() -> None:
    """A rate stored before the number rule (issue 14) parses as it is: it fails where it is priced, as before."""
    huge = {
        **PLAN,
        "fixedFeeRateCards": [{**PLAN["fixedFeeRateCards"][0], "rateValues": [{"currency": "USD", "rate": D("1e20")}]}],
    }
    with pytest.raises(ValidationError, match="must be below 10"):
        CreatePricePlanDetails.model_validate(huge)
    fee = plan_model.parse(huge).fixed_fee_cards[0]
    assert fee.rate_values[0].rate == D("1e20") and str(fee.rate_values[0].rate) == "1E+20"


def test_parsed_once_per_stored_text() -> None:
    text = encode_details(PLAN)
    assert plan_model.parse_stored(text) is plan_model.parse_stored(encode_details(PLAN))
    edited = encode_details({**PLAN, "supportedCurrencies": ["USD"]})  # a DRAFT version edited in place
    assert plan_model.parse_stored(edited).currencies == ("USD",)
    assert plan_model.parse_stored(text).currencies == ("EUR", "USD")


def test_a_schedule_reads_its_override_and_the_offsets_it_bills_on() -> None:
    override = {"usageRateCards": [{**PLAN["usageRateCards"][0], "displayName": "API calls"}]}
    stored = StoredDetails(encode_details(PLAN), encode_details(override), ("15", "NIL"))
    model = stored.model
    assert [c.display_name for c in model.usage_cards] == ["API calls"]  # the override's list replaces the plan's
    assert [c.display_name for c in model.fixed_fee_cards] == ["Platform fee"]  # the rest is the plan's
    assert model.cycle is not None and model.cycle.start_offset is not None
    assert (model.cycle.start_offset.day_offset, model.cycle.grace_period) == ("15", 0)
    assert StoredDetails(encode_details(PLAN), encode_details(override), ("15", "NIL")).model is model
    assert StoredDetails(encode_details(PLAN)).model.usage_cards[0].display_name == "Calls"
