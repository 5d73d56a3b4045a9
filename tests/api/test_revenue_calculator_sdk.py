"""The revenue calculator (PriceExperimentationApi) through the official SDK: the worked examples of
billing-rules D4 and D7 on inline plans, on saved plans, and on an account's schedule and usage."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
import togai_client as tc
from togai_client.exceptions import BadRequestException

from tests.api.conftest import Sdk, message_of
from tests.api.test_ingestion_sdk import ev
from tests.api.test_price_plans_sdk import full_plan, tiered
from tests.api.test_schedules_sdk import OPEN, associate, plan
from tests.conftest import Tenant

UTC = timezone.utc
NO_LICENSES = tc.LicenseEntriesConfig(mode="CUSTOM", custom=[])


def custom(details: tc.CreatePricePlanDetails, usage: dict[str, float], **kwargs: object) -> tc.CalculateRevenueRequest:
    return tc.CalculateRevenueRequest(
        currency_config=tc.CurrencyConfig(mode="CUSTOM", currency="USD"),
        price_plan_details_config=tc.PricePlanDetailsConfig(mode="CUSTOM", price_plan_details=details),
        usage_config=tc.UsageConfig(mode="CUSTOM", usage_map=usage),
        license_entries_config=kwargs.pop("licenses", NO_LICENSES),  # type: ignore[arg-type]
        **kwargs,
    )


def test_tiered_and_volume_on_an_inline_plan(sdk: Sdk, catalog: dict[str, str]) -> None:
    details = tc.CreatePricePlanDetails(
        supported_currencies=["USD"],
        usage_rate_cards=[tiered(catalog["sum"], "USD")],
        pricing_cycle_config=tc.PricingCycleConfig(
            interval="MONTHLY",
            start_offset=tc.PricingCycleConfigStartOffset(day_offset="1", month_offset="NIL"),
            grace_period=0,
        ),
    )
    answer = sdk.calculator.calculate_revenue(custom(details, {catalog["sum"]: 150}))
    [info] = answer.revenue_info
    assert answer.currency == "USD" and info.usages == {catalog["sum"]: 150}
    assert [(s.order, s.usage, s.revenue) for s in info.slab_revenue_summaries] == [
        (1, 100, 100),
        (2, 50, 25),
        (3, 0, 0),
    ]
    assert info.usage_rate_card.usage_meter_id == catalog["sum"]

    details.usage_rate_cards[0].rate_plan.pricing_model = "VOLUME"
    volume = sdk.calculator.calculate_revenue(custom(details, {catalog["sum"]: 1200}))
    assert [s.revenue for s in volume.revenue_info[0].slab_revenue_summaries] == [0, 0, 200]


def test_every_card_of_a_saved_plan_with_proration(sdk: Sdk, tenant: Tenant, catalog: dict[str, str]) -> None:
    addons = {
        kind: sdk.add_ons.create_add_on(tc.CreateAddOnRequest(name=name, type=kind)).id
        for kind, name in (("FIXED_FEE", "Platform"), ("LICENSE", "Seats"), ("CREDIT_GRANT", "Credits"))
    }
    body = full_plan(catalog, addons)
    body.price_plan_details.fixed_fee_rate_cards[0].rate_values[0].rate = 300
    made = sdk.price_plans.create_price_plan(body)
    request = tc.CalculateRevenueRequest(
        currency_config=tc.CurrencyConfig(mode="CUSTOM", currency="USD"),
        price_plan_details_config=tc.PricePlanDetailsConfig(mode="PRICE_PLAN", price_plan_id=made.id),
        usage_config=tc.UsageConfig(mode="CUSTOM", usage_map={catalog["sum"]: 1200}),
        license_entries_config=tc.LicenseEntriesConfig(
            mode="CUSTOM",
            custom=[
                tc.LicenseEntry(
                    license_id=addons["LICENSE"], quantity=3, effective_from=datetime(2024, 4, 1, tzinfo=UTC)
                ),
                tc.LicenseEntry(
                    license_id=addons["LICENSE"], quantity=5, effective_from=datetime(2024, 4, 9, tzinfo=UTC)
                ),
            ],
        ),
        # Togai's proration example: a $300 monthly fee from 11 April in a 1-30 April cycle -> 20/30 -> $200
        proration_config=tc.ProrationConfig(
            mode="CUSTOM",
            custom_config=tc.ProrationConfigCustomConfig(
                cycle_start_date=datetime(2024, 4, 1, tzinfo=UTC),
                cycle_end_date=datetime(2024, 5, 1, tzinfo=UTC),
                current_date=datetime(2024, 4, 11, tzinfo=UTC),
            ),
        ),
    )
    answer = sdk.calculator.calculate_revenue(request)
    by_kind = {
        (
            "usage"
            if i.usage_rate_card
            else "license"
            if i.license_rate_card
            else "fee"
            if i.fixed_fee_rate_card
            else "credit"
        ): i
        for i in answer.revenue_info
    }
    assert sum(s.revenue for s in by_kind["usage"].slab_revenue_summaries) == 750
    assert [(s.usage, s.revenue) for s in by_kind["license"].license_revenue_summary] == [(5, 50)]
    assert by_kind["fee"].fixed_fee_revenue_summary.revenue == 200
    assert by_kind["credit"].credit_grant_revenue_summary.revenue == 900
    assert answer.price_plan_details.minimum_commitment.rate_values[0].rate == 1000

    v2 = sdk.calculator.calculate_revenue_v2(request)
    cards = {i.rate_card.type: i.rate_card for i in v2.revenue_info}
    assert set(cards) == {"USAGE", "LICENSE", "FIXED_FEE", "CREDIT_GRANT"}
    assert cards["USAGE"].billable_id == catalog["sum"] and cards["USAGE"].price_plan_id == made.id
    assert cards["FIXED_FEE"].rate_card_details.fixed_fee_rate_card.id == addons["FIXED_FEE"]
    with tenant.http() as http:
        raw = http.post("/revenue_calculator", json=sdk.client.sanitize_for_serialization(request)).json()
    usage_info = next(i for i in raw["revenueInfo"] if "usageRateCard" in i)
    assert usage_info["revenue"] == 750 and usage_info["rateConfigAdjustment"] == 0  # Meterline's additions


def test_an_accounts_plan_and_usage_of_its_current_cycle(sdk: Sdk, catalog: dict[str, str]) -> None:
    plan_id = plan(sdk, catalog["sum"])
    sdk.accounts.update_pricing_schedule("acme", associate(plan_id, date(2024, 1, 1), OPEN))
    at = datetime.now(UTC) - timedelta(minutes=20)
    tc.EventIngestionApi(sdk.client).ingest_batch(
        tc.IngestBatchEventRequest(events=[ev(f"e{i}", calls="60", at=at) for i in range(3)])
    )
    request = tc.CalculateRevenueRequest(
        currency_config=tc.CurrencyConfig(mode="ACCOUNT_INVOICE", account_id="acme"),
        price_plan_details_config=tc.PricePlanDetailsConfig(mode="ACCOUNT", account_id="acme", effective_on=at),
        usage_config=tc.UsageConfig(
            mode="LOOKUP_CYCLE", lookup_cycle=tc.UsageConfigLookupCycle(account_id="acme", cycle_effective_on=at)
        ),
        license_entries_config=NO_LICENSES,
    )
    answer = sdk.calculator.calculate_revenue(request)
    [info] = answer.revenue_info
    assert info.usages == {catalog["sum"]: 180}
    assert [s.revenue for s in info.slab_revenue_summaries] == [100, 40, 0]
    assert answer.usage_lookup_range.start == datetime(at.year, at.month, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "change, words",
    [
        ({"currency_config": tc.CurrencyConfig(mode="CUSTOM", currency="EUR")}, "does not support EUR"),
        ({"currency_config": tc.CurrencyConfig(mode="CUSTOM", currency="ZZZ")}, "ISO 4217"),
        (
            {
                "license_entries_config": tc.LicenseEntriesConfig(
                    mode="LOOKUP_CYCLE", lookup_cycle=tc.LicenseEntriesConfigLookupCycle(account_id="acme")
                )
            },
            "has no price plan",
        ),
        (
            {
                "usage_config": tc.UsageConfig(
                    mode="LOOKUP_CYCLE", lookup_cycle=tc.UsageConfigLookupCycle(account_id="acme")
                )
            },
            "has no price plan",
        ),
        ({"price_plan_details_config": tc.PricePlanDetailsConfig(mode="CUSTOM")}, "pricePlanDetails is required"),
    ],
    ids=[
        "unsupported-currency",
        "unknown-currency",
        "license-cycle-without-plan",
        "usage-cycle-without-plan",
        "no-details",
    ],
)
def test_failures_say_what_to_fix(sdk: Sdk, catalog: dict[str, str], change: dict, words: str) -> None:
    details = tc.CreatePricePlanDetails(
        supported_currencies=["USD"],
        usage_rate_cards=[tiered(catalog["sum"], "USD")],
        pricing_cycle_config=tc.PricingCycleConfig(
            interval="MONTHLY",
            start_offset=tc.PricingCycleConfigStartOffset(day_offset="1", month_offset="NIL"),
            grace_period=0,
        ),
    )
    request = custom(details, {catalog["sum"]: 1})
    for name, value in change.items():
        setattr(request, name, value)
    with pytest.raises(BadRequestException) as refused:
        sdk.calculator.calculate_revenue(request)
    assert words in message_of(refused.value)
