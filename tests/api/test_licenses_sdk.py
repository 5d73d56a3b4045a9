"""LicensesApi through the official SDK: quantities over time, RELATIVE / ABSOLUTE, idempotency, and the
revenue calculator reading them."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
import togai_client as tc
from togai_client.exceptions import ApiException, BadRequestException, NotFoundException

from tests.api.conftest import Sdk, message_of
from tests.api.test_price_plans_sdk import monthly
from tests.api.test_schedules_sdk import OPEN, associate

UTC = timezone.utc
JAN, FEB, MAR = (datetime(2024, m, 1, tzinfo=UTC) for m in (1, 2, 3))


def update(
    license_id: str, quantity: int, at: datetime, kind: str = "ABSOLUTE", account: str = "acme", **kwargs: object
) -> tc.LicenseUpdateRequest:
    return tc.LicenseUpdateRequest(
        license_id=license_id, account_id=account, update_type=kind, quantity=quantity, effective_from=at, **kwargs
    )


@pytest.fixture
def seats(sdk: Sdk, catalog: dict[str, str]) -> str:
    return sdk.add_ons.create_add_on(tc.CreateAddOnRequest(name="Seats", type="LICENSE")).id


def test_quantities_over_time(sdk: Sdk, seats: str) -> None:
    first = sdk.licenses.add_license_update_entry(update(seats, 5, JAN, metadata={"by": "sales"}))
    assert (first.license_id, first.account_id, first.quantity, first.effective_from) == (seats, "acme", 5, JAN)
    assert sdk.licenses.add_license_update_entry(update(seats, 3, FEB, "RELATIVE")).quantity == 8
    assert sdk.licenses.add_license_update_entry(update(seats, -6, MAR, "RELATIVE")).quantity == 2
    with pytest.raises(BadRequestException) as negative:
        sdk.licenses.add_license_update_entry(update(seats, -3, MAR, "RELATIVE"))
    assert "below 0" in message_of(negative.value)

    listed = sdk.licenses.get_license_updates(account_id="acme", license_id=seats)
    assert [u.quantity for u in listed.data] == [5, 8, 2]
    assert [u.quantity for u in sdk.licenses.get_license_updates(effective_from=FEB).data] == [8, 2]
    assert sdk.licenses.get_license_updates(account_id="nobody").data == []

    # The SDK sends PATCH /license_updates/{license_id} literally, with the id in ?licenseId=
    patched = sdk.licenses.update_license_entry_details(
        license_id=seats,
        license_entry_details_update_request=tc.LicenseEntryDetailsUpdateRequest(
            account_id="acme", effective_from=JAN, metadata={"by": "support"}
        ),
    )
    assert patched.metadata == {"by": "support"} and patched.quantity == 5


def test_idempotency_and_aliases(sdk: Sdk, seats: str) -> None:
    sdk.accounts.add_aliases("acme", tc.AddAccountAliasesRequest(aliases=["acme-billing"]))
    made = sdk.licenses.add_license_update_entry(
        update(seats, 2, JAN, "RELATIVE", account="acme-billing", idempotency_key="k1")
    )
    again = sdk.licenses.add_license_update_entry(
        update(seats, 2, JAN, "RELATIVE", account="acme-billing", idempotency_key="k1")
    )
    assert (made.quantity, again.quantity, again.created_at) == (2, 2, made.created_at)
    assert made.account_id == "acme"
    assert len(sdk.licenses.get_license_updates().data) == 1


def test_failures(sdk: Sdk, other_sdk: Sdk, seats: str) -> None:
    named = sdk.add_ons.create_add_on(tc.CreateAddOnRequest(name="Named seats", type="NAMED_LICENSE")).id
    fee = sdk.add_ons.create_add_on(tc.CreateAddOnRequest(name="Fee", type="FIXED_FEE")).id
    for license_id, words in ((named, "togai-named-license"), (fee, "not a LICENSE"), ("addon.nope", "no add-on")):
        with pytest.raises(BadRequestException) as refused:
            sdk.licenses.add_license_update_entry(update(license_id, 1, JAN))
        assert words in message_of(refused.value)
    with pytest.raises(NotFoundException, match="No account has id or alias 'nobody'"):
        sdk.licenses.add_license_update_entry(update(seats, 1, JAN, account="nobody"))
    sdk.licenses.add_license_update_entry(update(seats, 1, JAN, idempotency_key="shared"))
    other_license = sdk.add_ons.create_add_on(tc.CreateAddOnRequest(name="Other seats", type="LICENSE")).id
    with pytest.raises(ApiException, match="idempotencyKey 'shared' was used for another license update") as reused:
        sdk.licenses.add_license_update_entry(update(other_license, 1, JAN, idempotency_key="shared"))
    assert reused.value.status == 409
    # another organization sees nothing and cannot use this organization's add-on or account
    assert other_sdk.licenses.get_license_updates().data == []
    with pytest.raises(BadRequestException, match=f"licenseId: no add-on '{seats}'"):
        other_sdk.licenses.add_license_update_entry(update(seats, 1, JAN))


def seat_plan_on_acme(sdk: Sdk, seats: str, *, prorated: bool) -> None:
    """A plan of 10.00 a seat up to 10 seats and 8.00 beyond (TIERED), on acme from 2024-01-01."""
    plan = sdk.price_plans.create_price_plan(
        tc.CreatePricePlanRequest(
            name=f"Per seat{', prorated' if prorated else ''}",
            price_plan_details=tc.CreatePricePlanDetails(
                pricing_cycle_config=monthly(),
                supported_currencies=["USD"],
                license_rate_cards=[
                    tc.LicenseRateCard(
                        id=seats,
                        enable_proration=prorated,
                        rate_plan=tc.RatePlan(
                            pricing_model="TIERED",
                            slabs=[
                                tc.Slab(order=1, start_after=0, price_type="PER_UNIT"),
                                tc.Slab(order=2, start_after=10, price_type="PER_UNIT"),
                            ],
                        ),
                        rate_values=[
                            tc.RateValue(
                                currency="USD", slab_rates=[tc.SlabRate(order=1, rate=10), tc.SlabRate(order=2, rate=8)]
                            )
                        ],
                    )
                ],
            ),
        )
    )
    sdk.price_plans.activate_price_plan(plan.id, tc.ActivatePricePlanRequest(currencies=["USD"]))
    sdk.accounts.update_pricing_schedule("acme", associate(plan.id, date(2024, 1, 1), OPEN))


def february_licenses(sdk: Sdk) -> list[tc.RevenueInfo]:
    """The revenue calculator on acme's plan and license updates of its February 2024 cycle."""
    request = tc.CalculateRevenueRequest(
        currency_config=tc.CurrencyConfig(mode="ACCOUNT_INVOICE", account_id="acme"),
        price_plan_details_config=tc.PricePlanDetailsConfig(mode="ACCOUNT", account_id="acme", effective_on=FEB),
        usage_config=tc.UsageConfig(mode="CUSTOM", usage_map={}),
        license_entries_config=tc.LicenseEntriesConfig(
            mode="LOOKUP_CYCLE",
            lookup_cycle=tc.LicenseEntriesConfigLookupCycle(
                account_id="acme", cycle_effective_on=datetime(2024, 2, 15, tzinfo=UTC)
            ),
        ),
    )
    return sdk.calculator.calculate_revenue(request).revenue_info


def test_the_calculator_reads_the_largest_quantity_of_the_cycle(sdk: Sdk, catalog: dict[str, str], seats: str) -> None:
    seat_plan_on_acme(sdk, seats, prorated=False)
    sdk.licenses.add_license_update_entry(update(seats, 4, JAN))
    sdk.licenses.add_license_update_entry(update(seats, 12, datetime(2024, 2, 10, tzinfo=UTC)))
    sdk.licenses.add_license_update_entry(update(seats, 6, datetime(2024, 2, 20, tzinfo=UTC)))
    [info] = february_licenses(sdk)
    assert info.usages == {seats: 12}  # February's largest quantity
    assert [(s.usage, s.revenue) for s in info.license_revenue_summary] == [(10, 100), (2, 16)]


def test_a_prorated_license_card_prices_each_day(sdk: Sdk, catalog: dict[str, str], seats: str) -> None:
    """February 2024 (29 days): 4 seats from January, 12 from the 10th, 6 from noon on the 20th; 10.00 a seat up to
    10 seats, 8.00 beyond. Days: 9 at 4 (40.00), 11 at 12 (the 20th counts its largest: 116.00), 9 at 6 (60.00).
    Slab 1: (9 x 40 + 11 x 100 + 9 x 60) / 29 = 68.97; slab 2: 11 x 16 / 29 = 6.07."""
    seat_plan_on_acme(sdk, seats, prorated=True)
    for quantity, at in ((4, JAN), (12, datetime(2024, 2, 10, tzinfo=UTC)), (6, datetime(2024, 2, 20, 12, tzinfo=UTC))):
        sdk.licenses.add_license_update_entry(update(seats, quantity, at))
    [info] = february_licenses(sdk)
    assert [s.revenue for s in info.license_revenue_summary] == [68.97, 6.07]
