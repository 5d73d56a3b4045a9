"""PricePlansApi (v1) through the official SDK against a live server, on both engines (docs/pricing.md)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import togai_client as tc
from togai_client.exceptions import ApiException, BadRequestException, NotFoundException

from tests.api.conftest import Sdk, message_of
from tests.conftest import Tenant


def tiered(meter_id: str, *currencies: str) -> tc.UsageRateCard:
    """D4's worked example: #1 after 0 PER_UNIT 1.00, #2 after 100 PER_UNIT 0.50, #3 after 1000 FLAT 200."""
    return tc.UsageRateCard(
        usage_meter_id=meter_id,
        rate_plan=tc.RatePlan(
            pricing_model="TIERED",
            slabs=[
                tc.Slab(order=1, start_after=0, price_type="PER_UNIT"),
                tc.Slab(order=2, start_after=100, price_type="PER_UNIT"),
                tc.Slab(order=3, start_after=1000, price_type="FLAT"),
            ],
        ),
        rate_values=[
            tc.RateValue(
                currency=c,
                slab_rates=[
                    tc.SlabRate(order=1, rate=1),
                    tc.SlabRate(order=2, rate=0.5),
                    tc.SlabRate(order=3, rate=200),
                ],
            )
            for c in currencies
        ],
    )


def monthly() -> tc.PricingCycleConfig:
    return tc.PricingCycleConfig(
        interval="MONTHLY",
        start_offset=tc.PricingCycleConfigStartOffset(day_offset="1", month_offset="NIL"),
        grace_period=3,
    )


@pytest.fixture
def addons(sdk: Sdk) -> dict[str, str]:
    made = {}
    for kind, name in (("FIXED_FEE", "Platform fee"), ("LICENSE", "Seats"), ("CREDIT_GRANT", "Prepaid credits")):
        made[kind] = sdk.add_ons.create_add_on(tc.CreateAddOnRequest(name=name, type=kind)).id
    return made


def full_plan(catalog: dict[str, str], addons: dict[str, str], name: str = "Growth") -> tc.CreatePricePlanRequest:
    return tc.CreatePricePlanRequest(
        name=name,
        description="usage, a platform fee, seats, a commitment and credits",
        type="BILLING",
        price_plan_details=tc.CreatePricePlanDetails(
            pricing_cycle_config=monthly(),
            supported_currencies=["USD", "EUR"],
            usage_rate_cards=[tiered(catalog["sum"], "USD")],
            fixed_fee_rate_cards=[
                tc.FixedFeeRateCard(
                    id=addons["FIXED_FEE"],
                    invoice_timing="IN_ADVANCE",
                    type="RECURRING",
                    enable_proration=True,
                    rate_values=[tc.CurrencyRateValue(currency="USD", rate=99)],
                )
            ],
            license_rate_cards=[
                tc.LicenseRateCard(
                    id=addons["LICENSE"],
                    enable_proration=False,
                    rate_plan=tc.RatePlan(
                        pricing_model="VOLUME", slabs=[tc.Slab(order=1, start_after=0, price_type="PER_UNIT")]
                    ),
                    rate_values=[tc.RateValue(currency="USD", slab_rates=[tc.SlabRate(order=1, rate=10)])],
                )
            ],
            minimum_commitment=tc.MinimumCommitment(
                display_name="Commitment", rate_values=[tc.CurrencyRateValue(currency="USD", rate=1000)]
            ),
            credit_grant_rate_cards=[
                tc.CreditGrantRateCard(
                    id=addons["CREDIT_GRANT"],
                    grant_details=tc.GrantDetails(priority=1, expiry_type="PRICING_CYCLE"),
                    rate_details=tc.CreditRateDetails(
                        pricing_model="TIERED",
                        currency_slab_rate_details=[
                            tc.CurrencySlabRateDetail(
                                currency="USD",
                                credit_amount=1000,
                                slab_details=[tc.SlabDetail(start_after=0, price_type="FLAT", rate=900)],
                            )
                        ],
                    ),
                )
            ],
        ),
    )


def test_create_get_list_activate(sdk: Sdk, catalog: dict[str, str], addons: dict[str, str]) -> None:
    plan = sdk.price_plans.create_price_plan(full_plan(catalog, addons))
    assert plan.id.startswith("pp.") and plan.status == "DRAFT" and plan.type == "BILLING"
    [v1] = plan.pricing_schedule
    assert v1.version == 1 and v1.is_overriden is False
    details = v1.price_plan_details
    assert details.supported_currencies == ["EUR", "USD"] and details.active_currencies == []
    usage = details.usage_rate_cards[0]
    assert usage.name == f"usage_{catalog['sum']}" and usage.display_name == "us_calls"
    assert [s.start_after for s in usage.rate_plan.slabs] == [0, 100, 1000]
    fee = details.fixed_fee_rate_cards[0]
    assert (fee.display_name, fee.invoice_timing, fee.type, fee.rate_values[0].rate) == (
        "Platform fee",
        "IN_ADVANCE",
        "RECURRING",
        99,
    )
    assert details.license_rate_cards[0].type == "LICENSE"
    assert details.credit_grant_rate_cards[0].invoice_timing == "IN_ADVANCE"
    assert details.pricing_cycle_config.grace_period == 3

    assert sdk.price_plans.get_price_plan(plan.id).name == "Growth"
    listed = sdk.price_plans.get_price_plans(page_size=10)
    [item] = listed.data
    assert (item.id, item.version, item.usage_meters, item.status) == (plan.id, 1, [catalog["sum"]], "DRAFT")

    with pytest.raises(BadRequestException) as refused:
        sdk.price_plans.activate_price_plan(plan.id, tc.ActivatePricePlanRequest(currencies=["EUR"]))
    assert "no rates in EUR" in message_of(refused.value)
    with pytest.raises(BadRequestException) as unsupported:
        sdk.price_plans.activate_price_plan(plan.id, tc.ActivatePricePlanRequest(currencies=["GBP"]))
    assert "supportedCurrencies" in message_of(unsupported.value)

    active = sdk.price_plans.activate_price_plan(plan.id, tc.ActivatePricePlanRequest(currencies=["usd"]))
    assert active.status == "ACTIVE" and active.pricing_schedule[0].price_plan_details.active_currencies == ["USD"]


def test_draft_edits_in_place_and_active_edits_make_versions(
    sdk: Sdk, catalog: dict[str, str], addons: dict[str, str]
) -> None:
    plan = sdk.price_plans.create_price_plan(full_plan(catalog, addons))
    edited = sdk.price_plans.update_price_plan(plan.id, tc.UpdatePricePlanRequest(description="draft edit"))
    assert edited.description == "draft edit" and [v.version for v in edited.pricing_schedule] == [1]
    in_place = sdk.price_plans.update_price_plan(
        plan.id,
        tc.UpdatePricePlanRequest(
            price_plan_details=tc.CreatePricePlanDetailsOverride(
                usage_rate_cards=[tiered(catalog["sum"], "USD", "EUR")]
            )
        ),
    )
    assert [v.version for v in in_place.pricing_schedule] == [1]
    sdk.price_plans.activate_price_plan(plan.id, tc.ActivatePricePlanRequest(currencies=["USD"]))

    cheaper = tiered(catalog["sum"], "USD", "EUR")
    cheaper.rate_values[0].slab_rates[0].rate = 0.8
    v2 = sdk.price_plans.update_price_plan(
        plan.id,
        tc.UpdatePricePlanRequest(
            migration_mode="NONE", price_plan_details=tc.CreatePricePlanDetailsOverride(usage_rate_cards=[cheaper])
        ),
    )
    first, second = v2.pricing_schedule
    assert (first.version, second.version) == (1, 2)
    assert first.end_date == second.start_date
    assert second.price_plan_details.active_currencies == ["USD"]
    assert second.price_plan_details.usage_rate_cards[0].rate_values[0].slab_rates[0].rate == 0.8
    only_v1 = sdk.price_plans.get_price_plan(plan.id, version=1)
    [v1] = only_v1.pricing_schedule
    assert v1.version == 1 and v1.price_plan_details.usage_rate_cards[0].rate_values[0].slab_rates[0].rate == 1
    assert sdk.price_plans.get_price_plans().data[0].version == 2
    with pytest.raises(NotFoundException, match=r"Price plan pp\.\w+ has no version 3 \(versions 1 to 2\)"):
        sdk.price_plans.get_price_plan(plan.id, version=3)


def test_archive_frees_the_name_and_freezes_the_plan(sdk: Sdk, catalog: dict[str, str], addons: dict[str, str]) -> None:
    plan = sdk.price_plans.create_price_plan(full_plan(catalog, addons))
    with pytest.raises(ApiException, match="A price plan named 'Growth' already exists") as duplicate:
        sdk.price_plans.create_price_plan(full_plan(catalog, addons))
    assert duplicate.value.status == 409
    assert sdk.price_plans.archive_price_plan(plan.id).success is True
    assert sdk.price_plans.get_price_plan(plan.id).status == "ARCHIVED"
    with pytest.raises(BadRequestException) as frozen:
        sdk.price_plans.update_price_plan(plan.id, tc.UpdatePricePlanRequest(description="x"))
    assert "archived" in message_of(frozen.value)
    assert sdk.price_plans.create_price_plan(full_plan(catalog, addons)).status == "DRAFT"


def test_exact_decimals_and_dry_run(tenant: Tenant, sdk: Sdk, catalog: dict[str, str]) -> None:
    rate = "98765432109876.123456789012"  # more digits than a float keeps (26), within the number rule
    body = json.dumps(
        {
            "name": "Micro",
            "pricePlanDetails": {
                "pricingCycleConfig": {
                    "interval": "MONTHLY",
                    "startOffset": {"dayOffset": "last", "monthOffset": "NIL"},
                    "gracePeriod": 0,
                },
                "supportedCurrencies": ["USD"],
                "usageRateCards": [
                    {
                        "usageMeterId": catalog["count"],
                        "ratePlan": {
                            "pricingModel": "VOLUME",
                            "slabs": [
                                {
                                    "order": 1,
                                    "startAfter": 0,
                                    "priceType": "PACKAGE",
                                    "slabConfig": {"packageSize": "10"},
                                }
                            ],
                        },
                        "rateValues": [
                            {
                                "currency": "USD",
                                "slabRates": [{"order": 1, "rate": "RATE"}],
                                "rateConfig": {"minimumRate": "5"},
                            }
                        ],
                    }
                ],
            },
        }
    ).replace('"RATE"', rate)
    with tenant.http() as http:
        dry = http.post("/price_plans?dry_run=true", content=body, headers=JSON)
        assert dry.status_code == 200, dry.text
        assert http.get("/price_plans").json()["data"] == []
        made = http.post("/price_plans", content=body, headers=JSON)
        assert made.status_code == 200, made.text
        assert f'"rate":{rate}' in made.text
        assert '"dayOffset":"LAST"' in made.text
        again = http.get(f"/price_plans/{made.json()['id']}")
        assert f'"rate":{rate}' in again.text
        as_text = http.post(
            "/price_plans", content=body.replace(rate, f'"{rate}"').replace("Micro", "Text"), headers=JSON
        )
        assert as_text.status_code == 400 and "must be a JSON number" in as_text.json()["message"]
    assert len(sdk.price_plans.get_price_plans().data) == 1


JSON = {"Content-Type": "application/json"}
BASE = {
    "pricingCycleConfig": {
        "interval": "MONTHLY",
        "startOffset": {"dayOffset": "1", "monthOffset": "NIL"},
        "gracePeriod": 0,
    },
    "supportedCurrencies": ["USD"],
}


def _usage(
    meter: str,
    slabs: list[tuple[int, Any, str]],
    rates: list[tuple[int, Any]] | None = None,
    currency: str = "USD",
    config: dict | None = None,
) -> dict[str, Any]:
    return {
        "usageMeterId": meter,
        "ratePlan": {
            "pricingModel": "TIERED",
            "slabs": [
                {"order": o, "startAfter": s, "priceType": p, **({"slabConfig": config} if config else {})}
                for o, s, p in slabs
            ],
        },
        "rateValues": [
            {
                "currency": currency,
                "slabRates": [{"order": o, "rate": r} for o, r in (rates or [(o, 1) for o, _, _ in slabs])],
            }
        ],
    }


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda m: {**BASE, "pricingCycleConfig": None}, "pricingCycleConfig is required for a BILLING plan"),
        (
            lambda m: {
                **BASE,
                "pricingCycleConfig": {
                    "interval": "MONTHLY",
                    "startOffset": {"dayOffset": "32", "monthOffset": "NIL"},
                    "gracePeriod": 0,
                },
            },
            "dayOffset",
        ),
        (
            lambda m: {
                **BASE,
                "pricingCycleConfig": {
                    "interval": "QUARTERLY",
                    "startOffset": {"dayOffset": "1", "monthOffset": "4"},
                    "gracePeriod": 0,
                },
            },
            "monthOffset",
        ),
        (lambda m: {**BASE, "supportedCurrencies": ["XYZ"]}, "not an ISO 4217 currency"),
        (lambda m: {**BASE, "usageRateCards": [_usage(m, [(1, 0, "PER_UNIT")])]}, "no usage meter 'nope'"),
        (lambda m: {**BASE, "usageRateCards": [_usage(m, [(1, 5, "PER_UNIT")])]}, "startAfter"),
        (
            lambda m: {
                **BASE,
                "usageRateCards": [_usage(m, [(1, 0, "PER_UNIT"), (2, 100, "PER_UNIT"), (3, 50, "PER_UNIT")])],
            },
            "startAfter",
        ),
        (
            lambda m: {**BASE, "usageRateCards": [_usage(m, [(1, 0, "PER_UNIT"), (2, 100, "PER_UNIT")], [(1, 1)])]},
            "no slabRate for slab order 2",
        ),
        (lambda m: {**BASE, "usageRateCards": [_usage(m, [(1, 0, "PACKAGE")])]}, "package"),
        (
            lambda m: {**BASE, "usageRateCards": [_usage(m, [(1, 0, "PER_UNIT")], config={"pkgSize": "10"})]},
            "unknown key pkgSize",
        ),
        (
            lambda m: {**BASE, "usageRateCards": [_usage(m, [(1, 0, "PER_UNIT")], currency="EUR")]},
            "not one of the plan's supportedCurrencies",
        ),
        (
            lambda m: {
                **BASE,
                "fixedFeeRateCards": [
                    {"id": "addon.none", "enableProration": False, "rateValues": [{"currency": "USD", "rate": 1}]}
                ],
            },
            "no add-on",
        ),
        (
            lambda m: {
                **BASE,
                "billingEntitlementRateCards": [
                    {
                        **{k: v for k, v in _usage(m, [(1, 0, "PER_UNIT")]).items() if k != "usageMeterId"},
                        "featureId": "feature.none",
                        "featureConfigs": [{"effectiveUntil": "P1M", "featureCreditLimit": 10}],
                        "invoiceTiming": "IN_ADVANCE",
                    }
                ],
            },
            "no feature 'feature.none'",
        ),
    ],
    ids=[
        "no-cycle",
        "day-offset",
        "month-offset",
        "currency",
        "unknown-meter",
        "first-slab-not-0",
        "overlapping-slabs",
        "missing-slab-rate",
        "package-size",
        "slab-config-key",
        "rate-currency",
        "unknown-addon",
        "entitlements",
    ],
)
def test_invalid_plans_are_refused_with_a_message(
    tenant: Tenant, catalog: dict[str, str], make: Any, words: str
) -> None:
    meter = "nope" if "no usage meter" in words else catalog["sum"]
    details = {k: v for k, v in make(meter).items() if v is not None}
    with tenant.http() as http:
        response = http.post("/price_plans", json={"name": "Bad", "pricePlanDetails": details})
    assert response.status_code == 400, response.text
    assert words.lower() in response.json()["message"].lower()


def test_incomplete_pricing_rules_are_refused_naming_the_field(tenant: Tenant, catalog: dict[str, str]) -> None:
    """(Pricing rules themselves: tests/api/test_pricing_rules_sdk.py.)"""
    with tenant.http() as http:
        rules = http.post("/price_plans", json={"name": "R", "pricePlanDetails": BASE, "pricingRules": [{"name": "x"}]})
        assert rules.status_code == 400 and "pricingRules[0]" in rules.json()["message"], rules.text
        plan = http.post("/price_plans", json={"name": "M", "pricePlanDetails": BASE}).json()
        patched = http.patch(f"/price_plans/{plan['id']}", json={"pricingRules": [{"name": "x"}]})
        assert patched.status_code == 400 and "pricingRules[0]" in patched.json()["message"], patched.text


def test_other_organizations_plans_are_not_found(sdk: Sdk, other_sdk: Sdk, catalog: dict[str, str]) -> None:
    plan = sdk.price_plans.create_price_plan(
        tc.CreatePricePlanRequest(
            name="Mine",
            price_plan_details=tc.CreatePricePlanDetails(pricing_cycle_config=monthly(), supported_currencies=["USD"]),
        )
    )
    for call in (
        lambda: other_sdk.price_plans.get_price_plan(plan.id),
        lambda: other_sdk.price_plans.archive_price_plan(plan.id),
        lambda: other_sdk.price_plans.activate_price_plan(plan.id, tc.ActivatePricePlanRequest(currencies=["USD"])),
    ):
        with pytest.raises(NotFoundException, match=r"Price plan pp\.\w+ not found"):
            call()
    assert other_sdk.price_plans.get_price_plans().data == []


def test_a_versions_pricing_rules(sdk: Sdk, catalog: dict[str, str], addons: dict[str, str]) -> None:
    plan = sdk.price_plans.create_price_plan(full_plan(catalog, addons))
    rules = tc.PricingRulesApi(sdk.client)
    assert rules.list_pricing_rules_by_schedule_id(plan.id, plan.pricing_schedule[0].id).data == []
    with pytest.raises(NotFoundException, match=r"Price plan pp\.\w+ has no pricing schedule ppv\.nope"):
        rules.list_pricing_rules_by_schedule_id(plan.id, "ppv.nope")


def test_a_credit_grant_expiry_past_the_calendar_is_refused(
    sdk: Sdk, catalog: dict[str, str], addons: dict[str, str]
) -> None:
    """P99999Y passed the check and failed the invoice that granted the credits (a 500, then a failed bill run)."""
    request = full_plan(catalog, addons)
    grant = request.price_plan_details.credit_grant_rate_cards[0].grant_details
    grant.expiry_type, grant.expiry_duration = "CUSTOM", "P99999Y"
    with pytest.raises(ApiException) as refused:
        sdk.price_plans.create_price_plan(request)
    assert refused.value.status == 400
    assert "expiryDuration: 'P99999Y' is longer than 100 years" in message_of(refused.value)
    grant.expiry_duration = "P100Y"
    assert sdk.price_plans.create_price_plan(request).id.startswith("pp.")
