"""Billing set-ups shared by the invoice, credit and wallet SDK tests (the `billed` fixture is in conftest.py)."""

from __future__ import annotations

from datetime import date, datetime, timezone

import togai_client as tc

from tests.api.conftest import Sdk
from tests.api.test_price_plans_sdk import tiered
from tests.api.test_schedules_sdk import OPEN, associate

UTC = timezone.utc


def month_start(day: datetime, back: int = 0) -> date:
    year, month = divmod(day.year * 12 + day.month - 1 - back, 12)
    return date(year, month + 1, 1)


def growth_plan(sdk: Sdk, meter_id: str, fee: str, name: str = "Growth") -> str:
    """MONTHLY from the 1st, no grace: D4's tiered card and a 50.00 platform fee in arrears."""
    made = sdk.price_plans.create_price_plan(
        tc.CreatePricePlanRequest(
            name=name,
            price_plan_details=tc.CreatePricePlanDetails(
                pricing_cycle_config=tc.PricingCycleConfig(
                    interval="MONTHLY",
                    start_offset=tc.PricingCycleConfigStartOffset(day_offset="1", month_offset="NIL"),
                    grace_period=0,
                ),
                supported_currencies=["USD"],
                usage_rate_cards=[tiered(meter_id, "USD")],
                fixed_fee_rate_cards=[
                    tc.FixedFeeRateCard(
                        id=fee, rate_values=[tc.CurrencyRateValue(currency="USD", rate=50)], enable_proration=False
                    )
                ],
            ),
        )
    )
    sdk.price_plans.activate_price_plan(made.id, tc.ActivatePricePlanRequest(currencies=["USD"]))
    return made.id


def bill_acme(sdk: Sdk, catalog: dict[str, str]) -> dict[str, str]:
    """acme on Growth from the 1st of the month two months ago: two past cycles, and the current one."""
    fee = sdk.add_ons.create_add_on(tc.CreateAddOnRequest(name="Platform fee", type="FIXED_FEE")).id
    plan_id = growth_plan(sdk, catalog["sum"], fee)
    now = datetime.now(UTC)
    sdk.accounts.update_pricing_schedule("acme", associate(plan_id, month_start(now, 2), OPEN))
    return {"plan": plan_id, "fee": fee, **catalog}


def acme_invoices(sdk: Sdk) -> list[tc.InvoiceSummary]:
    return sorted(sdk.invoices.list_invoices(owner_id="acme").data, key=lambda i: i.start_date)
