"""Defects found by the review of purchases (docs/invoicing.md, "Purchases and proposals"), through the official SDK
against a live server, on both engines."""

from __future__ import annotations

import pytest
import togai_client as tc
from togai_client.exceptions import BadRequestException

from tests.api.conftest import Sdk, message_of


def _pack(sdk: Sdk, credits: int, fee: int) -> str:
    """A PURCHASE plan granting `credits` of a feature for nothing, with a one-time fee of `fee` USD."""
    feature = sdk.features.create_feature(tc.CreateFeatureRequest(name="Flag", schema_associations=[]))
    made = sdk.price_plans.create_price_plan(
        tc.CreatePricePlanRequest(
            name="Big pack",
            type="PURCHASE",
            price_plan_details=tc.CreatePricePlanDetails(
                supported_currencies=["USD"],
                billing_entitlement_rate_cards=[
                    tc.BillingEntitlementRateCard(
                        feature_id=feature.id,
                        feature_configs=[tc.FeatureConfig(effective_until="P1M", feature_credit_limit=credits)],
                        invoice_timing="IN_ADVANCE",
                        rate_plan=tc.RatePlan(
                            pricing_model="TIERED", slabs=[tc.Slab(order=1, start_after=0, price_type="PER_UNIT")]
                        ),
                        rate_values=[tc.RateValue(currency="USD", slab_rates=[tc.SlabRate(order=1, rate=0)])],
                    )
                ],
                fixed_fee_rate_cards=[
                    tc.FixedFeeRateCard(
                        id=sdk.add_ons.create_add_on(tc.CreateAddOnRequest(name="Setup", type="FIXED_FEE")).id,
                        invoice_timing="IN_ADVANCE",
                        type="ONE_TIME",
                        enable_proration=False,
                        rate_values=[tc.CurrencyRateValue(currency="USD", rate=fee)],
                    )
                ],
            ),
        )
    )
    sdk.price_plans.activate_price_plan(made.id, tc.ActivatePricePlanRequest(currencies=["USD"]))
    return str(made.id)


def test_a_quantity_past_the_number_bound_is_refused_naming_quantity(sdk: Sdk) -> None:
    """The 400 named `granted` (a feature credit entry's field) or `lineItems[1]` (the ORDER invoice's), neither a
    field of the request: it names `quantity`, and nothing is bought."""
    sdk.customers.create_customer(
        tc.CreateCustomerRequest(id="acme", name="Acme Inc", primary_email="a@acme.test", address=tc.Address())
    )
    credits_plan = _pack(sdk, credits=10**14, fee=1)
    with pytest.raises(BadRequestException) as raised:
        sdk.accounts.initiate_one_time_entitlement_plan(
            "acme", tc.CreatePurchaseRequest(type="ENTITLEMENT_GRANT", price_plan_id=credits_plan, quantity=10)
        )
    assert message_of(raised.value) == (
        f"quantity: 10 purchases of price plan {credits_plan} would grant or bill 10^15 or more (at most 10^15 - 1 "
        "of anything)"
    )
    priced = sdk.price_plans.create_price_plan(
        tc.CreatePricePlanRequest(
            name="Dear pack",
            type="PURCHASE",
            price_plan_details=tc.CreatePricePlanDetails(
                supported_currencies=["USD"],
                fixed_fee_rate_cards=[
                    tc.FixedFeeRateCard(
                        id=sdk.add_ons.create_add_on(tc.CreateAddOnRequest(name="Dear", type="FIXED_FEE")).id,
                        invoice_timing="IN_ADVANCE",
                        type="ONE_TIME",
                        enable_proration=False,
                        rate_values=[tc.CurrencyRateValue(currency="USD", rate=10**14)],
                    )
                ],
            ),
        )
    )
    sdk.price_plans.activate_price_plan(priced.id, tc.ActivatePricePlanRequest(currencies=["USD"]))
    with pytest.raises(BadRequestException) as raised:
        sdk.accounts.initiate_one_time_entitlement_plan(
            "acme", tc.CreatePurchaseRequest(type="ENTITLEMENT_GRANT", price_plan_id=priced.id, quantity=10)
        )
    assert message_of(raised.value).startswith("quantity: 10 purchases of price plan")
    assert sdk.accounts.list_account_purchases("acme").data == []
    made = sdk.accounts.initiate_one_time_entitlement_plan(
        "acme", tc.CreatePurchaseRequest(type="ENTITLEMENT_GRANT", price_plan_id=credits_plan, quantity=9)
    )
    assert made.status == "SUCCESS" and made.quantity == 9
