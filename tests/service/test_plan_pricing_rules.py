"""A plan's pricing rules at the service level, on both engines: the console's builder (set_details) keeps a
version's rules, and refuses a card change that leaves a rule without its target (docs/pricing.md, "Pricing rules")."""

from __future__ import annotations

import pytest

from meterline.catalog.addon_schemas import CreateAddOnRequest
from meterline.catalog.addon_service import AddOnService
from meterline.catalog.plan_schemas import CreatePricePlanDetails, CreatePricePlanRequest
from meterline.catalog.plan_service import PricePlanService
from meterline.core.errors import BadRequest
from meterline.tenancy.context import Context

CYCLE = {"interval": "MONTHLY", "gracePeriod": 0, "startOffset": {"dayOffset": "1", "monthOffset": "NIL"}}
RULE = {
    "name": "Fee waiver",
    "order": 1,
    "condition": '{"in": ["vip", {"var": "account.tags"}]}',
    "computation": "0",
    "action": {"type": "UPDATE", "target": "revenue.platform"},
}


def fee(addon_id: str, name: str) -> dict[str, object]:
    return {"id": addon_id, "name": name, "enableProration": False, "rateValues": [{"currency": "USD", "rate": 100}]}


def test_the_builder_keeps_rules_and_a_rule_keeps_its_card(ctx: Context) -> None:
    addons = AddOnService(ctx)
    platform = addons.create(CreateAddOnRequest(name="Platform", type="FIXED_FEE")).id
    other = addons.create(CreateAddOnRequest(name="Other", type="FIXED_FEE")).id
    plans = PricePlanService(ctx)
    details = {
        "pricingCycleConfig": CYCLE,
        "supportedCurrencies": ["USD"],
        "fixedFeeRateCards": [fee(platform, "platform")],
    }
    made = plans.create(
        CreatePricePlanRequest.model_validate({"name": "P", "pricePlanDetails": details, "pricingRules": [RULE]})
    )
    plan_id = made.plan.id
    assert [r.name for r in plans.get(plan_id).latest.model.pricing_rules] == ["Fee waiver"]

    # the console's builder sends the cards only: the rules stay
    more = {**details, "fixedFeeRateCards": [fee(platform, "platform"), fee(other, "other")]}
    plans.set_details(plan_id, CreatePricePlanDetails.model_validate(more))
    latest = plans.get(plan_id).latest
    assert len(latest.model.fixed_fee_cards) == 2
    assert [(r.id, r.action.target) for r in latest.model.pricing_rules] == [("rule_1", "revenue.platform")]

    # a change that removes the card a rule updates is refused, naming the rule
    with pytest.raises(BadRequest, match=r"pricingRules\[0\]\.action\.target: the plan has no rate card 'platform'"):
        plans.set_details(
            plan_id, CreatePricePlanDetails.model_validate({**details, "fixedFeeRateCards": [fee(other, "other")]})
        )
    # rules given twice (beside the details and in them) are refused
    with pytest.raises(BadRequest, match="give the pricing rules once"):
        plans.create(
            CreatePricePlanRequest.model_validate(
                {"name": "Q", "pricePlanDetails": {**details, "pricingRules": [RULE]}, "pricingRules": [RULE]}
            )
        )
