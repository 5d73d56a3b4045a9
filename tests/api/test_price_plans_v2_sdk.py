"""PricePlanV2Api through the official SDK against a live server, on both engines (docs/pricing.md, "Price plans
v2"): v2 is a view of v1's plans, so what one makes the other reads, and both bill alike."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
import togai_client as tc
from togai_client.exceptions import ApiException, BadRequestException, NotFoundException

from meterline.core.pagination import encode_token
from tests.api.billing_setup import month_start
from tests.api.conftest import Sdk, message_of
from tests.api.test_ingestion_sdk import ev
from tests.api.test_migrations_jobs_sdk import cycle_bounds
from tests.api.test_price_plans_sdk import monthly, tiered
from tests.api.test_schedules_sdk import OPEN, associate
from tests.conftest import Tenant

UTC = timezone.utc
END = datetime(9999, 12, 31, tzinfo=UTC)  # an open schedule's end


@pytest.fixture
def v2(sdk: Sdk) -> tc.PricePlanV2Api:
    return tc.PricePlanV2Api(sdk.client)


@pytest.fixture
def things(sdk: Sdk, catalog: dict[str, str]) -> dict[str, str]:
    """The meters of `catalog`, an add-on of each kind and a feature."""
    made = dict(catalog)
    for kind, name in (("FIXED_FEE", "Platform fee"), ("LICENSE", "Seats"), ("CREDIT_GRANT", "Prepaid credits")):
        made[kind] = sdk.add_ons.create_add_on(tc.CreateAddOnRequest(name=name, type=kind)).id
    made["feature"] = sdk.features.create_feature(
        tc.CreateFeatureRequest(
            name="Exports",
            schema_associations=[tc.EventSchemasForFeature(schema_name="api_calls", attribute_name="calls")],
        )
    ).id
    return made


def slab_plan() -> tc.RatePlan:
    return tc.RatePlan(pricing_model="TIERED", slabs=[tc.Slab(order=1, start_after=0, price_type="PER_UNIT")])


def slab_rates(rate: float, *currencies: str) -> list[tc.RateValue]:
    return [tc.RateValue(currency=c, slab_rates=[tc.SlabRate(order=1, rate=rate)]) for c in currencies]


def op(action: str, name: str, kind: str, billable: str, timing: str, **card: Any) -> tc.RateCardOperation:
    field = {
        "USAGE": "usage_rate_card",
        "FIXED_FEE": "fixed_fee_rate_card",
        "LICENSE": "license_rate_card",
        "CREDIT_GRANT": "credit_grant_rate_card",
        "BILLING_ENTITLEMENT": "billing_entitlement_rate_card",
        "ENTITLEMENT_OVERAGE": "entitlement_overage_rate_card",
        "MINIMUM_COMMITMENT": "minimum_commitment_rate_card",
    }[kind]
    return tc.RateCardOperation(
        action_type=action,
        rate_card_name=name,
        rate_card=tc.RateCardData(
            billable_id=billable,
            type=kind,
            invoice_timing=timing,
            rate_card_details=tc.RateCardDetails(**{field: card[field]}),
            display_name=card.get("display_name"),
            tag=card.get("tag"),
        ),
    )


def usage_op(
    meter: str, name: str = "calls", rate: float = 1, action: str = "CREATE", *cur: str
) -> tc.RateCardOperation:
    card = tc.UsageRateCard(
        usage_meter_id=meter, rate_plan=slab_plan(), rate_values=slab_rates(rate, *(cur or ("USD",)))
    )
    return op(action, name, "USAGE", meter, "IN_ARREARS", usage_rate_card=card)


def fee_op(addon: str, name: str = "platform", amount: float = 50, action: str = "CREATE") -> tc.RateCardOperation:
    card = tc.FixedFeeRateCard(
        id=addon, rate_values=[tc.CurrencyRateValue(currency="USD", rate=amount)], enable_proration=False
    )
    return op(action, name, "FIXED_FEE", addon, "IN_ARREARS", fixed_fee_rate_card=card)


def all_seven(t: dict[str, str]) -> list[tc.RateCardOperation]:
    """One card of each of the seven types."""
    return [
        usage_op(t["sum"]),
        fee_op(t["FIXED_FEE"]),
        op(
            "CREATE",
            "seats",
            "LICENSE",
            t["LICENSE"],
            "IN_ADVANCE",
            tag="team",
            license_rate_card=tc.LicenseRateCard(
                id=t["LICENSE"], enable_proration=False, rate_plan=slab_plan(), rate_values=slab_rates(10, "USD")
            ),
        ),
        op(
            "CREATE",
            "credits",
            "CREDIT_GRANT",
            t["CREDIT_GRANT"],
            "IN_ADVANCE",
            credit_grant_rate_card=tc.CreditGrantRateCard(
                id=t["CREDIT_GRANT"],
                grant_details=tc.GrantDetails(priority=1, expiry_type="NO_EXPIRY"),
                rate_details=tc.CreditRateDetails(
                    pricing_model="TIERED",
                    currency_slab_rate_details=[
                        tc.CurrencySlabRateDetail(
                            currency="USD",
                            credit_amount=100,
                            slab_details=[tc.SlabDetail(start_after=0, price_type="FLAT", rate=90)],
                        )
                    ],
                ),
            ),
        ),
        op(
            "CREATE",
            "exports",
            "BILLING_ENTITLEMENT",
            t["feature"],
            "IN_ADVANCE",
            billing_entitlement_rate_card=tc.BillingEntitlementRateCard(
                feature_id=t["feature"],
                feature_configs=[tc.FeatureConfig(effective_until="P1M", feature_credit_limit=100)],
                invoice_timing="IN_ADVANCE",
                rate_plan=slab_plan(),
                rate_values=slab_rates(0.125, "USD"),
            ),
        ),
        op(
            "CREATE",
            "exports_overage",
            "ENTITLEMENT_OVERAGE",
            t["feature"],
            "IN_ARREARS",
            entitlement_overage_rate_card=tc.EntitlementOverageRateCard(
                feature_id=t["feature"], rate_plan=slab_plan(), rate_values=slab_rates(0.5, "USD")
            ),
        ),
        op(
            "CREATE",
            "commitment",
            "MINIMUM_COMMITMENT",
            "commitment",
            "IN_ARREARS",
            minimum_commitment_rate_card=tc.MinimumCommitment(
                display_name="Monthly minimum", rate_values=[tc.CurrencyRateValue(currency="USD", rate=500)]
            ),
        ),
    ]


def create(v2: tc.PricePlanV2Api, name: str = "Growth v2", *currencies: str, **kwargs: Any) -> tc.PricePlanV2:
    return v2.create_price_plan_v2(
        tc.CreatePricePlanV2Request(
            name=name,
            type=kwargs.pop("type", "BILLING"),
            pricing_cycle_config=kwargs.pop("cycle", monthly()),
            supported_currencies=list(currencies or ("USD",)),
            **kwargs,
        )
    )


def errors(v2: tc.PricePlanV2Api, plan_id: str) -> list[tuple[str, str, str]]:
    return [(e.entity_type, e.entity_id, e.error_message) for e in v2.list_price_plan_errors(plan_id).data]


# -- create, get, list, versions, update -------------------------------------------------------------------------
def test_create_get_list_versions_and_update(sdk: Sdk, v2: tc.PricePlanV2Api, catalog: dict[str, str]) -> None:
    made = create(v2, "Growth v2", "usd", description="first", allow_ongoing_cycle_updates=True)
    assert (made.name, made.type, made.status, made.version, made.supported_currencies) == (
        "Growth v2",
        "BILLING",
        "DRAFT",
        1,
        ["USD"],
    )
    assert made.allow_ongoing_cycle_updates is True and made.pricing_cycle_config.interval == "MONTHLY"
    for version in (None, "LATEST", "1"):
        got = v2.get_price_plan_v2(made.id, version=version)
        assert (got.id, got.status, got.version, got.reference_id) == (made.id, "DRAFT", 1, made.reference_id)
    with pytest.raises(NotFoundException) as no_active:
        v2.get_price_plan_v2(made.id, version="ACTIVE")
    assert "no ACTIVE version" in message_of(no_active.value)
    for bad, words in (("2", "no version 2"), ("soon", "not LATEST, ACTIVE or a version number")):
        with pytest.raises((NotFoundException, BadRequestException)) as refused:
            v2.get_price_plan_v2(made.id, version=bad)
        assert words in message_of(refused.value)

    purchase = create(v2, "Packs", type="PURCHASE", cycle=None)
    assert (purchase.type, purchase.pricing_cycle_config) == ("PURCHASE", None)
    listed = v2.list_price_plans_v2(page_size=1)
    second = v2.list_price_plans_v2(next_token=listed.next_token)
    assert [p.name for p in listed.data + second.data] == ["Growth v2", "Packs"] and second.next_token is None
    assert [(p.version, p.status) for p in v2.list_price_plan_versions(made.id).data] == [(1, "DRAFT")]

    updated = v2.update_price_plan_v2(
        made.id, tc.UpdatePricePlanV2Request(description="second", supported_currencies=["USD", "EUR"])
    )
    assert (updated.description, updated.supported_currencies, updated.version) == ("second", ["EUR", "USD"], 1)
    # the same plan through v1
    v1 = sdk.price_plans.get_price_plan(made.id)
    assert (v1.status, v1.description, v1.pricing_schedule[0].price_plan_details.supported_currencies) == (
        "DRAFT",
        "second",
        ["EUR", "USD"],
    )

    for request, words in (
        (tc.CreatePricePlanV2Request(name="No cycle", type="BILLING", supported_currencies=["USD"]), "required"),
        (tc.CreatePricePlanV2Request(name="Bad", type="BILLING", supported_currencies=["XXQ"]), "ISO 4217"),
    ):
        with pytest.raises(BadRequestException) as bad_plan:
            v2.create_price_plan_v2(request)
        assert words in message_of(bad_plan.value)
        assert "pricePlanDetails" not in message_of(bad_plan.value)  # v2's request has these fields at the top
    with pytest.raises(ApiException) as taken:
        create(v2, "Growth v2")
    assert taken.value.status == 409 and "already exists" in message_of(taken.value)
    with pytest.raises(BadRequestException) as bad_cycle:
        v2.update_price_plan_v2(
            made.id,
            tc.UpdatePricePlanV2Request(
                pricing_cycle_config=tc.PricingCycleConfig(
                    interval="MONTHLY",
                    start_offset=tc.PricingCycleConfigStartOffset(day_offset="40", month_offset="NIL"),
                    grace_period=0,
                )
            ),
        )
    assert "dayOffset" in message_of(bad_cycle.value)
    with pytest.raises(NotFoundException, match="Price plan pp.nope not found"):
        v2.get_price_plan_v2("pp.nope")


# -- rate cards --------------------------------------------------------------------------------------------------
def test_rate_cards_of_all_seven_types(sdk: Sdk, v2: tc.PricePlanV2Api, things: dict[str, str]) -> None:
    plan = create(v2)
    answer = v2.bulk_price_plan_rate_card_operations(
        plan.id, tc.BulkRateCardOperationsRequest(operations=all_seven(things))
    )
    expected = [
        ("calls", "USAGE", things["sum"], "IN_ARREARS"),
        ("platform", "FIXED_FEE", things["FIXED_FEE"], "IN_ARREARS"),
        ("seats", "LICENSE", things["LICENSE"], "IN_ADVANCE"),
        ("credits", "CREDIT_GRANT", things["CREDIT_GRANT"], "IN_ADVANCE"),
        ("exports", "BILLING_ENTITLEMENT", things["feature"], "IN_ADVANCE"),
        ("exports_overage", "ENTITLEMENT_OVERAGE", things["feature"], "IN_ARREARS"),
        ("commitment", "MINIMUM_COMMITMENT", "commitment", "IN_ARREARS"),
    ]
    assert sorted((c.name, c.type, c.billable_id, c.invoice_timing) for c in answer.rate_cards) == sorted(expected)
    listed = v2.list_price_plan_rate_cards(plan.id, page_size=4)
    rest = v2.list_price_plan_rate_cards(plan.id, next_token=listed.next_token)
    cards = listed.data + rest.data
    assert rest.next_token is None and len(cards) == 7
    assert {(c.name, c.type, c.billable_id, c.invoice_timing) for c in cards} == set(expected)
    by_name = {c.name: c for c in cards}
    seats = by_name["seats"]
    assert (seats.tag, seats.display_name, seats.currencies, seats.price_plan_id, seats.reference_type) == (
        "team",
        "Seats",
        ["USD"],
        plan.id,
        "PRICE_PLAN",
    )
    assert seats.rate_card_details.license_rate_card.rate_values[0].slab_rates[0].rate == 10
    assert by_name["commitment"].rate_card_details.minimum_commitment_rate_card.rate_values[0].rate == 500
    assert by_name["calls"].display_name == "us_calls"  # the meter's name, as v1 fills it in
    assert errors(v2, plan.id) == []

    # v1 reads the same cards inside the details
    details = sdk.price_plans.get_price_plan(plan.id).pricing_schedule[0].price_plan_details
    assert [c.name for c in details.usage_rate_cards] == ["calls"]
    assert details.minimum_commitment.display_name == "Monthly minimum"
    assert details.billing_entitlement_rate_cards[0].feature_configs[0].feature_credit_limit == 100

    # UPDATE replaces a card in place, DELETE removes one; all or nothing
    changed = v2.bulk_price_plan_rate_card_operations(
        plan.id,
        tc.BulkRateCardOperationsRequest(
            operations=[
                fee_op(things["FIXED_FEE"], amount=75, action="UPDATE"),
                tc.RateCardOperation(action_type="DELETE", rate_card_name="exports_overage"),
            ]
        ),
    )
    assert [(c.name, c.rate_card_details.fixed_fee_rate_card.rate_values[0].rate) for c in changed.rate_cards] == [
        ("platform", 75)
    ]
    names = [c.name for c in v2.list_price_plan_rate_cards(plan.id).data]
    assert "exports_overage" not in names and len(names) == 6
    for operations, words in (
        ([tc.RateCardOperation(action_type="DELETE", rate_card_name="nope")], "no rate card 'nope'"),
        ([fee_op(things["FIXED_FEE"], name="   ")], "rateCardName: must not be blank"),
        ([usage_op(things["count"], name="platform")], "already has a rate card 'platform'"),
        ([tc.RateCardOperation(action_type="UPDATE", rate_card_name="calls")], "rateCard is required"),
        ([fee_op(things["FIXED_FEE"], name="fee2"), fee_op(things["FIXED_FEE"], name="fee2")], "already has"),
        (
            [
                op(
                    "CREATE",
                    "c2",
                    "MINIMUM_COMMITMENT",
                    "c2",
                    "IN_ARREARS",
                    minimum_commitment_rate_card=tc.MinimumCommitment(
                        display_name="x", rate_values=[tc.CurrencyRateValue(currency="USD", rate=1)]
                    ),
                )
            ],
            "already has its minimum commitment, 'commitment'",
        ),
        (
            [
                op(
                    "CREATE",
                    "odd",
                    "USAGE",
                    "other_meter",
                    "IN_ARREARS",
                    usage_rate_card=tc.UsageRateCard(
                        usage_meter_id=things["sum"], rate_plan=slab_plan(), rate_values=slab_rates(1, "USD")
                    ),
                )
            ],
            "billableId: 'other_meter' is not what its usageRateCard bills",
        ),
        (
            [
                op(
                    "CREATE",
                    "early",
                    "USAGE",
                    things["count"],
                    "IN_ADVANCE",
                    usage_rate_card=tc.UsageRateCard(
                        usage_meter_id=things["count"], rate_plan=slab_plan(), rate_values=slab_rates(1, "USD")
                    ),
                )
            ],
            "a USAGE rate card is billed IN_ARREARS",
        ),
    ):
        with pytest.raises(BadRequestException) as refused:
            v2.bulk_price_plan_rate_card_operations(plan.id, tc.BulkRateCardOperationsRequest(operations=operations))
        assert words in message_of(refused.value)
    assert [c.name for c in v2.list_price_plan_rate_cards(plan.id).data] == names  # nothing changed


# -- errors ------------------------------------------------------------------------------------------------------
def test_errors_list_every_card_and_block_finalizing(sdk: Sdk, v2: tc.PricePlanV2Api, things: dict[str, str]) -> None:
    plan = create(v2, "Growth v2", "USD", "EUR")
    v2.bulk_price_plan_rate_card_operations(
        plan.id,
        tc.BulkRateCardOperationsRequest(
            operations=[
                usage_op(things["sum"], "calls", 1, "CREATE", "USD", "EUR"),
                usage_op(things["sum"], "calls_again", 1, "CREATE", "USD", "EUR"),  # the same meter twice
                usage_op("um.nope", "ghost", 1, "CREATE", "USD", "EUR"),  # no such meter
                op(  # an add-on of another kind
                    "CREATE",
                    "wrong_kind",
                    "FIXED_FEE",
                    things["LICENSE"],
                    "IN_ARREARS",
                    fixed_fee_rate_card=tc.FixedFeeRateCard(
                        id=things["LICENSE"],
                        rate_values=[tc.CurrencyRateValue(currency="USD", rate=1)],
                        enable_proration=False,
                    ),
                ),
                fee_op(things["FIXED_FEE"]),  # valid, but priced in USD only
                usage_op(things["count"], "in_yen", 1, "CREATE", "JPY"),  # a currency the plan does not support
            ]
        ),
    )
    found = errors(v2, plan.id)
    by_card = {entity: message for _, entity, message in found}
    assert {kind for kind, _, _ in found} == {"RATE_CARD"}
    assert set(by_card) == {"calls_again", "ghost", "wrong_kind", "in_yen"}
    assert (
        "usageMeterId: meter '{}' is already priced by rate card 'calls'".format(things["sum"])
        == by_card["calls_again"]
    )
    assert "no usage meter 'um.nope'" in by_card["ghost"]
    assert "is a LICENSE add-on; this card needs FIXED_FEE" in by_card["wrong_kind"]
    assert "JPY is not one of the plan's supportedCurrencies" in by_card["in_yen"]
    assert all(e.reference_id == plan.reference_id for e in v2.list_price_plan_errors(plan.id).data)
    with pytest.raises(BadRequestException) as blocked:
        v2.finalize_price_plan(plan.id, tc.FinalizePricePlanRequest())
    assert "cannot be finalized: 4 error(s)" in message_of(blocked.value)
    with pytest.raises(BadRequestException) as v1_blocked:  # v1's activation runs the same rules
        sdk.price_plans.activate_price_plan(plan.id, tc.ActivatePricePlanRequest(currencies=["USD"]))
    assert "already priced by" in message_of(v1_blocked.value)

    # once those are gone, what activation needs: every card priced in every supported currency
    v2.bulk_price_plan_rate_card_operations(
        plan.id,
        tc.BulkRateCardOperationsRequest(
            operations=[
                tc.RateCardOperation(action_type="DELETE", rate_card_name=name)
                for name in ("calls_again", "ghost", "wrong_kind", "in_yen")
            ]
        ),
    )
    assert errors(v2, plan.id) == [("RATE_CARD", "platform", "rateValues: no rates in EUR (a supported currency)")]
    euro_fee = tc.FixedFeeRateCard(
        id=things["FIXED_FEE"],
        rate_values=[tc.CurrencyRateValue(currency=c, rate=50) for c in ("USD", "EUR")],
        enable_proration=False,
    )
    v2.bulk_price_plan_rate_card_operations(
        plan.id,
        tc.BulkRateCardOperationsRequest(
            operations=[
                op("UPDATE", "platform", "FIXED_FEE", things["FIXED_FEE"], "IN_ARREARS", fixed_fee_rate_card=euro_fee)
            ]
        ),
    )
    assert errors(v2, plan.id) == []
    assert v2.finalize_price_plan(plan.id, tc.FinalizePricePlanRequest()).success is True
    active = v2.get_price_plan_v2(plan.id, version="ACTIVE")
    assert (active.status, active.version) == ("ACTIVE", 1)
    assert sdk.price_plans.get_price_plan(plan.id).pricing_schedule[0].price_plan_details.active_currencies == [
        "EUR",
        "USD",
    ]


# -- finalize, migrations, discard -------------------------------------------------------------------------------
def finalized_plan(v2: tc.PricePlanV2Api, things: dict[str, str], name: str = "Growth v2") -> str:
    plan = create(v2, name)
    v2.bulk_price_plan_rate_card_operations(
        plan.id, tc.BulkRateCardOperationsRequest(operations=[usage_op(things["sum"]), fee_op(things["FIXED_FEE"])])
    )
    v2.finalize_price_plan(plan.id, tc.FinalizePricePlanRequest(migration_mode="IMMEDIATE"))  # nothing to move yet
    return plan.id


def versions_of(sdk: Sdk, account: str = "acme") -> list[tuple[int, datetime, datetime]]:
    return [(s.version, s.start_date, s.end_date) for s in sdk.accounts.get_pricing_schedules(account).data]


@pytest.mark.parametrize(
    "mode",
    [
        "NONE",
        "IMMEDIATE",
        "IMMEDIATE_IGNORE_OVERRIDE",
        "NEXT_CYCLE",
        "NEXT_CYCLE_IGNORE_OVERRIDE",
        "START_OF_CURRENT_CYCLE",
    ],
)
def test_finalize_moves_accounts_as_the_mode_says(
    sdk: Sdk, v2: tc.PricePlanV2Api, things: dict[str, str], mode: str
) -> None:
    plan_id = finalized_plan(v2, things)
    sdk.accounts.update_pricing_schedule("acme", associate(plan_id, date(2024, 1, 1), OPEN))
    v2.bulk_price_plan_rate_card_operations(
        plan_id, tc.BulkRateCardOperationsRequest(operations=[fee_op(things["FIXED_FEE"], amount=60, action="UPDATE")])
    )
    # the draft is version 2, read by v2 only: v1 and the account still see version 1
    assert [(p.version, p.status) for p in v2.list_price_plan_versions(plan_id).data] == [(1, "ACTIVE"), (2, "DRAFT")]
    assert v2.get_price_plan_v2(plan_id, version="ACTIVE").version == 1
    assert [s.version for s in sdk.price_plans.get_price_plan(plan_id).pricing_schedule] == [1]
    with pytest.raises(BadRequestException) as v1_edit:
        sdk.price_plans.update_price_plan(
            plan_id,
            tc.UpdatePricePlanRequest(
                price_plan_details=tc.CreatePricePlanDetailsOverride(supported_currencies=["USD"])
            ),
        )
    assert "has a v2 draft (version 2)" in message_of(v1_edit.value)

    before = datetime.now(UTC)
    v2.finalize_price_plan(plan_id, tc.FinalizePricePlanRequest(migration_mode=mode))
    assert [(p.version, p.status) for p in v2.list_price_plan_versions(plan_id).data] == [(1, "ACTIVE"), (2, "ACTIVE")]
    assert v2.get_price_plan_v2(plan_id, version="ACTIVE").version == 2
    v1 = sdk.price_plans.get_price_plan(plan_id)
    assert [
        (s.version, s.price_plan_details.fixed_fee_rate_cards[0].rate_values[0].rate) for s in v1.pricing_schedule
    ] == [
        (1, 50),
        (2, 60),
    ]
    start, end = cycle_bounds(datetime.now(UTC))
    since = datetime(2024, 1, 1, tzinfo=UTC)
    schedules = versions_of(sdk)
    if mode == "NONE":
        assert schedules == [(1, since, END)]
        assert sdk.jobs.get_jobs().data == []
        return
    [job] = sdk.jobs.get_jobs().data
    assert (job.type, job.status) == ("PRICE_PLAN", "COMPLETED")
    (old, old_start, cut), (new, moved_at, until) = schedules
    assert (old, new, old_start, until) == (1, 2, since, END) and cut == moved_at
    if mode.startswith("IMMEDIATE"):
        assert before <= cut <= datetime.now(UTC)
    else:
        assert cut == (end if mode.startswith("NEXT_CYCLE") else start)


def test_all_versions_discard_and_the_v2_migration(sdk: Sdk, v2: tc.PricePlanV2Api, things: dict[str, str]) -> None:
    plan_id = finalized_plan(v2, things)
    sdk.accounts.update_pricing_schedule("acme", associate(plan_id, date(2024, 1, 1), OPEN))
    # a v1 edit makes version 2 (no migration); a v2 draft then makes version 3
    sdk.price_plans.update_price_plan(
        plan_id,
        tc.UpdatePricePlanRequest(
            price_plan_details=tc.CreatePricePlanDetailsOverride(usage_rate_cards=[tiered(things["sum"], "USD")])
        ),
    )
    assert v2.get_price_plan_v2(plan_id).version == 2
    with pytest.raises(BadRequestException) as nothing:
        v2.finalize_price_plan(plan_id, tc.FinalizePricePlanRequest())
    assert "no draft to finalize" in message_of(nothing.value)
    with pytest.raises(BadRequestException) as nothing_to_drop:
        v2.discard_price_plan(plan_id)
    assert "no draft to discard" in message_of(nothing_to_drop.value)

    # a draft discarded leaves the plan as it was
    v2.update_price_plan_v2(plan_id, tc.UpdatePricePlanV2Request(supported_currencies=["USD", "EUR"]))
    assert (v2.get_price_plan_v2(plan_id).version, v2.get_price_plan_v2(plan_id).status) == (3, "DRAFT")
    assert v2.discard_price_plan(plan_id).success is True
    latest = v2.get_price_plan_v2(plan_id)
    assert (latest.version, latest.status, latest.supported_currencies) == (2, "ACTIVE", ["USD"])

    # ALL_VERSION moves the accounts of every earlier version
    v2.bulk_price_plan_rate_card_operations(
        plan_id, tc.BulkRateCardOperationsRequest(operations=[fee_op(things["FIXED_FEE"], amount=70, action="UPDATE")])
    )
    v2.finalize_price_plan(
        plan_id, tc.FinalizePricePlanRequest(migration_mode="IMMEDIATE", versions_to_migrate="ALL_VERSION")
    )
    assert [v for v, _, _ in versions_of(sdk)] == [1, 3]

    # the v2 migration (201) is the v1 one: back to version 2 for the accounts of version 3
    response = v2.price_plan_migration_v2_with_http_info(
        tc.CreatePricePlanMigrationRequest(
            source_id=plan_id,
            source_version=3,
            target_version=2,
            migration_mode="IMMEDIATE",
            is_price_plan_v2_migration=True,
        )
    )
    assert response.status_code == 201 and response.data.success is True
    assert [v for v, _, _ in versions_of(sdk)] == [1, 3, 2]
    with pytest.raises(BadRequestException) as same:
        v2.price_plan_migration_v2(
            tc.CreatePricePlanMigrationRequest(source_id=plan_id, source_version=3, migration_mode="IMMEDIATE")
        )
    assert "target is the source" in message_of(same.value)

    # discarding a plan never finalized archives it: v2 no longer finds it, v1 reads it ARCHIVED
    draft = create(v2, "Never")
    v2.discard_price_plan(draft.id)
    with pytest.raises(NotFoundException) as gone:
        v2.get_price_plan_v2(draft.id)
    assert "archived" in message_of(gone.value)
    assert sdk.price_plans.get_price_plan(draft.id).status == "ARCHIVED"
    assert draft.id not in [p.id for p in v2.list_price_plans_v2().data]


# -- pricing rules -----------------------------------------------------------------------------------------------
def rule(name: str, order: int) -> tc.CreatePricingRule:
    return tc.CreatePricingRule(
        name=name,
        order=order,
        invoice_timing="IN_ARREARS",
        condition='{">":[{"var":"usage.calls"},100]}',
        computation='{"*":[{"var":"revenue.calls"},0.9]}',
        action=tc.PricingRuleAction(type="UPDATE", target="revenue.calls", description="10% off past 100"),
    )


def test_pricing_rules_are_the_drafts(sdk: Sdk, v2: tc.PricePlanV2Api, things: dict[str, str]) -> None:
    plan_id = finalized_plan(v2, things)
    assert v2.list_price_plan_pricing_rules(plan_id).data == []
    put = v2.update_price_plan_pricing_rules(
        plan_id, tc.UpdatePricingRulesRequest(pricing_rules=[rule("cap", 2), rule("discount", 1)])
    )
    assert [(r.id, r.name, r.order, r.version, r.invoice_timing) for r in put.data] == [
        ("rule_1", "discount", 1, 2, "IN_ARREARS"),
        ("rule_2", "cap", 2, 2, "IN_ARREARS"),
    ]
    assert put.data[0].action.target == "revenue.calls" and put.data[0].condition.startswith('{">"')
    assert [r.name for r in v2.list_price_plan_pricing_rules(plan_id, version="LATEST").data] == ["discount", "cap"]
    assert v2.list_price_plan_pricing_rules(plan_id, version="ACTIVE").data == []  # the draft's, until finalized
    assert v2.list_price_plan_pricing_rules(plan_id, version="1").data == []
    for rules, words in (
        ([rule("cap", 1), rule("again", 1)], "order: 1 is already the order of"),
        ([rule("x", 0)], "order"),
    ):
        with pytest.raises(BadRequestException) as refused:
            v2.update_price_plan_pricing_rules(plan_id, tc.UpdatePricingRulesRequest(pricing_rules=rules))
        assert words in message_of(refused.value)
    bad_target = rule("ghost", 3)
    bad_target.action.target = "revenue.nope"
    with pytest.raises(BadRequestException) as no_card:
        v2.update_price_plan_pricing_rules(plan_id, tc.UpdatePricingRulesRequest(pricing_rules=[bad_target]))
    assert "the plan has no rate card 'nope'" in message_of(no_card.value)

    # a card a rule targets, deleted from the draft: the rule's error, listed, blocks finalizing
    v2.bulk_price_plan_rate_card_operations(
        plan_id,
        tc.BulkRateCardOperationsRequest(
            operations=[tc.RateCardOperation(action_type="DELETE", rate_card_name="calls")]
        ),
    )
    assert errors(v2, plan_id) == [
        ("PRICING_RULE", name, "action.target: the plan has no rate card 'calls' (a card's name, meter or add-on id)")
        for name in ("discount", "cap")
    ]
    with pytest.raises(BadRequestException, match=rf"Price plan {plan_id} cannot be finalized: 2 error\(s\)"):
        v2.finalize_price_plan(plan_id, tc.FinalizePricePlanRequest())
    v2.bulk_price_plan_rate_card_operations(
        plan_id, tc.BulkRateCardOperationsRequest(operations=[usage_op(things["sum"])])
    )
    assert errors(v2, plan_id) == []
    v2.finalize_price_plan(plan_id, tc.FinalizePricePlanRequest(migration_mode="NONE"))
    assert [r.name for r in v2.list_price_plan_pricing_rules(plan_id, version="ACTIVE").data] == ["discount", "cap"]
    schedule = sdk.price_plans.get_price_plan(plan_id, version=2).pricing_schedule[0]  # v1 reads them too
    assert [r.name for r in schedule.pricing_rules] == ["discount", "cap"]
    listed = tc.PricingRulesApi(sdk.client).list_pricing_rules_by_schedule_id(plan_id, schedule.id).data
    assert [(r.name, r.order, r.version, r.action.type) for r in listed] == [
        ("discount", 1, 2, "UPDATE"),
        ("cap", 2, 2, "UPDATE"),
    ]
    assert v2.update_price_plan_pricing_rules(plan_id, tc.UpdatePricingRulesRequest(pricing_rules=[])).data == []
    assert v2.get_price_plan_v2(plan_id).version == 3


# -- v1 and v2: one model ----------------------------------------------------------------------------------------
def test_a_plan_made_through_v1_or_v2_reads_and_bills_the_same(
    tenant: Tenant, sdk: Sdk, v2: tc.PricePlanV2Api, things: dict[str, str]
) -> None:
    # Given Growth made through v1 (D4's tiered card, a 50.00 fee, a 300.00 commitment) and the same through v2
    v1_id = sdk.price_plans.create_price_plan(
        tc.CreatePricePlanRequest(
            name="Growth v1",
            price_plan_details=tc.CreatePricePlanDetails(
                pricing_cycle_config=monthly(),
                supported_currencies=["USD"],
                usage_rate_cards=[tiered(things["sum"], "USD")],
                fixed_fee_rate_cards=[
                    tc.FixedFeeRateCard(
                        id=things["FIXED_FEE"],
                        rate_values=[tc.CurrencyRateValue(currency="USD", rate=50)],
                        enable_proration=False,
                    )
                ],
                minimum_commitment=tc.MinimumCommitment(
                    display_name="Minimum", rate_values=[tc.CurrencyRateValue(currency="USD", rate=300)]
                ),
            ),
        )
    ).id
    sdk.price_plans.activate_price_plan(v1_id, tc.ActivatePricePlanRequest(currencies=["USD"]))
    v1_cards = v2.list_price_plan_rate_cards(v1_id).data
    assert [(c.name, c.type) for c in v1_cards] == [
        (f"usage_{things['sum']}", "USAGE"),
        (f"fixed_fee_{things['FIXED_FEE']}", "FIXED_FEE"),
        ("minimum_commitment", "MINIMUM_COMMITMENT"),
    ]
    made = create(v2, "Growth v2")
    v2.bulk_price_plan_rate_card_operations(
        made.id,
        tc.BulkRateCardOperationsRequest(
            operations=[
                tc.RateCardOperation(
                    action_type="CREATE",
                    rate_card_name=c.name,
                    rate_card=tc.RateCardData(
                        billable_id=c.billable_id,
                        type=c.type,
                        invoice_timing=c.invoice_timing,
                        rate_card_details=c.rate_card_details,
                    ),
                )
                for c in v1_cards
            ]
        ),
    )
    v2.finalize_price_plan(made.id, tc.FinalizePricePlanRequest())
    # Then v1 reads the same details of both, and v2 the same cards
    details = [
        sdk.price_plans.get_price_plan(p).pricing_schedule[0].price_plan_details.to_dict() for p in (v1_id, made.id)
    ]
    assert details[0] == details[1]
    assert [
        c.to_dict() | {"referenceId": "", "pricePlanId": ""} for c in v2.list_price_plan_rate_cards(made.id).data
    ] == [c.to_dict() | {"referenceId": "", "pricePlanId": ""} for c in v1_cards]
    v1_view = v2.get_price_plan_v2(v1_id)
    assert (v1_view.status, v1_view.version, v1_view.supported_currencies) == ("ACTIVE", 1, ["USD"])

    # And two accounts on them with the same usage get the same invoices
    sdk.customers.create_customer(
        tc.CreateCustomerRequest(id="beta", name="Beta Co", primary_email="b@beta.test", address=tc.Address())
    )
    now = datetime.now(UTC)
    sdk.accounts.update_pricing_schedule("acme", associate(v1_id, month_start(now, 1), OPEN))
    sdk.accounts.update_pricing_schedule("beta", associate(made.id, month_start(now, 1), OPEN))
    at = max(now - timedelta(minutes=1), datetime.combine(month_start(now), datetime.min.time(), UTC))
    events = [ev(f"{a}{n}", calls, account=a, at=at) for a in ("acme", "beta") for n, calls in enumerate(("100", "50"))]
    tc.EventIngestionApi(sdk.client).ingest_batch(tc.IngestBatchEventRequest(events=events))

    def figures(account: str) -> list[tuple[date, float, Any]]:
        invoices = sorted(sdk.invoices.list_invoices(owner_id=account).data, key=lambda i: i.start_date)
        with tenant.http() as http:
            lines = [http.get(f"/invoices/{i.id}").json()["revenueInfo"] for i in invoices]
        return [(i.start_date.date(), i.total_amount, _amounts(line)) for i, line in zip(invoices, lines, strict=True)]

    acme, beta = figures("acme"), figures("beta")
    assert acme == beta
    # last month: 300.00 (the commitment tops 50.00 up); this month 100 + 25 + 50 = 175 → 300.00 too
    assert [total for _, total, _ in acme] == [300, 300]


def _amounts(tree: dict[str, Any]) -> list[tuple[str, Any]]:
    """Each line's type and value, depth first (ids differ between the plans)."""
    out: list[tuple[str, Any]] = []

    def walk(node: dict[str, Any]) -> None:
        out.append((str(node.get("type")), node.get("value")))
        for child in node.get("lineItems") or []:
            walk(child)

    for line in tree.get("lineItems") or []:
        walk(line)
    return out


def test_a_purchase_plan_is_finalized_without_a_cycle(sdk: Sdk, v2: tc.PricePlanV2Api, things: dict[str, str]) -> None:
    plan = create(v2, "Packs", type="PURCHASE", cycle=None)
    pack = tc.FixedFeeRateCard(
        id=things["FIXED_FEE"],
        type="ONE_TIME",
        rate_values=[tc.CurrencyRateValue(currency="USD", rate=20)],
        enable_proration=False,
    )
    v2.bulk_price_plan_rate_card_operations(
        plan.id,
        tc.BulkRateCardOperationsRequest(
            operations=[
                op("CREATE", "pack", "FIXED_FEE", things["FIXED_FEE"], "IN_ADVANCE", fixed_fee_rate_card=pack),
                usage_op(things["sum"]),
            ]
        ),
    )
    assert errors(v2, plan.id) == [
        ("RATE_CARD", "calls", "a PURCHASE plan has no pricing cycle, so it cannot price usage")
    ]
    v2.bulk_price_plan_rate_card_operations(
        plan.id,
        tc.BulkRateCardOperationsRequest(
            operations=[tc.RateCardOperation(action_type="DELETE", rate_card_name="calls")]
        ),
    )
    v2.finalize_price_plan(plan.id, tc.FinalizePricePlanRequest(migration_mode="START_OF_CURRENT_CYCLE"))
    got = v2.get_price_plan_v2(plan.id, version="ACTIVE")
    assert (got.type, got.status, got.pricing_cycle_config) == ("PURCHASE", "ACTIVE", None)
    [card] = v2.list_price_plan_rate_cards(plan.id).data
    assert (card.name, card.invoice_timing, card.rate_card_details.fixed_fee_rate_card.type) == (
        "pack",
        "IN_ADVANCE",
        "ONE_TIME",
    )
    v1 = sdk.price_plans.get_price_plan(plan.id)
    assert (v1.type, v1.status, v1.pricing_schedule[0].price_plan_details.fixed_fee_rate_cards[0].name) == (
        "PURCHASE",
        "ACTIVE",
        "pack",
    )


def test_a_plan_takes_at_most_fifty_cards_of_a_type(v2: tc.PricePlanV2Api, catalog: dict[str, str]) -> None:
    """v1's bound (50 cards of each type) holds for a v2 draft: a bulk operation passing it was a 500 (the stored
    draft could not be read back); it is a 400 naming the operation, and the draft is left as it was."""
    plan = create(v2)
    fifty = [usage_op(catalog["sum"], f"calls_{n}") for n in range(50)]
    v2.bulk_price_plan_rate_card_operations(plan.id, tc.BulkRateCardOperationsRequest(operations=fifty))
    with pytest.raises(BadRequestException) as raised:
        v2.bulk_price_plan_rate_card_operations(
            plan.id, tc.BulkRateCardOperationsRequest(operations=[usage_op(catalog["count"], "one_more")])
        )
    assert message_of(raised.value) == "operations[0]: a plan has at most 50 USAGE rate cards"
    assert len(v2.list_price_plan_rate_cards(plan.id, page_size=50).data) == 50
    # deleting one makes room (the bound counts the cards after every operation of the request)
    replace_one = [usage_op(catalog["sum"], "calls_0", action="DELETE"), usage_op(catalog["count"], "one_more")]
    v2.bulk_price_plan_rate_card_operations(plan.id, tc.BulkRateCardOperationsRequest(operations=replace_one))
    names = [c.name for c in v2.list_price_plan_rate_cards(plan.id, page_size=50).data]
    assert len(names) == 50 and "calls_0" not in names and "one_more" in names


def test_a_version_or_token_of_non_ascii_digits_is_a_400(sdk: Sdk, v2: tc.PricePlanV2Api, tenant: Tenant) -> None:
    """`str.isdigit` takes "¹" (superscript one), which `int` refuses: the version and the page tokens were a 500.
    A version or a token is ASCII digits only. (The wallet's page token had the same check.)"""
    plan = create(v2)
    with pytest.raises(BadRequestException) as raised:
        v2.get_price_plan_v2(plan.id, version="¹")
    assert message_of(raised.value) == "version: '¹' is not LATEST, ACTIVE or a version number"
    with pytest.raises(BadRequestException) as raised:
        v2.get_price_plan_v2(plan.id, version="٣")  # an Arabic-Indic 3, which int() reads: not a version either
    assert message_of(raised.value) == "version: '٣' is not LATEST, ACTIVE or a version number"
    token = encode_token("¹")
    with tenant.http() as http:
        for path in (f"/v2/price_plans/{plan.id}/versions", f"/v2/price_plans/{plan.id}/rate_cards"):
            answer = http.get(path, params={"nextToken": token})
            assert answer.status_code == 400, answer.text
            assert answer.json()["message"] == "nextToken is not valid: pass the nextToken of a previous page unchanged"
        sdk.customers.create_customer(
            tc.CreateCustomerRequest(id="acme", name="Acme Inc", primary_email="a@acme.test", address=tc.Address())
        )
        answer = http.get("/accounts/acme/wallet/entries", params={"nextToken": encode_token("hold:¹")})
        assert answer.status_code == 400, answer.text
        assert answer.json()["message"] == "nextToken is not valid: pass the nextToken of a previous page unchanged"
