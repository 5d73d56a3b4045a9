"""Price plan schedules (AccountsApi: price_plans, edit_schedules, pricing_schedules) through the official SDK."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
import togai_client as tc
from togai_client.exceptions import BadRequestException, NotFoundException

from tests.api.conftest import Sdk, message_of
from tests.api.test_price_plans_sdk import monthly, tiered
from tests.conftest import Tenant

UTC = timezone.utc
OPEN = date(9999, 1, 1)


def plan(
    sdk: Sdk,
    meter_id: str,
    name: str = "Standard",
    cycle: tc.PricingCycleConfig | None = None,
    currencies: tuple[str, ...] = ("USD",),
) -> str:
    made = sdk.price_plans.create_price_plan(
        tc.CreatePricePlanRequest(
            name=name,
            price_plan_details=tc.CreatePricePlanDetails(
                pricing_cycle_config=cycle or monthly(),
                supported_currencies=list(currencies),
                usage_rate_cards=[tiered(meter_id, *currencies)],
            ),
        )
    )
    sdk.price_plans.activate_price_plan(made.id, tc.ActivatePricePlanRequest(currencies=list(currencies)))
    return made.id


def associate(
    plan_id: str | None, start: date, until: date, **kwargs: object
) -> tc.UpdatePricingScheduleRequestWithActions:
    return tc.UpdatePricingScheduleRequestWithActions(
        mode="ASSOCIATE", price_plan_id=plan_id, effective_from=start, effective_until=until, **kwargs
    )


def test_associate_then_read_the_schedule(sdk: Sdk, catalog: dict[str, str]) -> None:
    plan_id = plan(sdk, catalog["sum"])
    answer = sdk.accounts.update_pricing_schedule("acme", associate(plan_id, date(2024, 3, 1), OPEN))
    assert (answer.account_id, answer.account_name) == ("acme", "Acme Inc")
    [made] = answer.pricing_schedules
    assert (made.price_plan_id, made.price_plan_name) == (plan_id, "Standard")
    assert made.start_date == datetime(2024, 3, 1, tzinfo=UTC)
    assert made.end_date == datetime(9999, 12, 31, tzinfo=UTC)  # open: the end of time Meterline stores

    listed = sdk.accounts.get_pricing_schedules("acme", include_price_plan_info=True)
    [schedule] = listed.data
    assert (schedule.id, schedule.version, schedule.is_overriden) == (made.id, 1, False)
    assert schedule.price_plan_info.name == "Standard"
    assert schedule.price_plan_details.active_currencies == ["USD"]
    assert schedule.price_plan_details.usage_rate_cards[0].usage_meter_id == catalog["sum"]
    compact = sdk.accounts.get_pricing_schedules("acme", compact=True)
    assert compact.data[0].price_plan_details is None
    assert sdk.accounts.get_pricing_schedules("acme", start_date="2023-01-01", end_date="2024-03-01").data == []


def test_the_bulk_example_gives_plan_gap_plan(sdk: Sdk, catalog: dict[str, str]) -> None:
    plan_id = plan(sdk, catalog["sum"])
    edits = tc.EditPricingScheduleRequest(
        edits=[
            tc.UpdatePricingScheduleRequest(
                mode="ASSOCIATE",
                price_plan_id=plan_id,
                effective_from=date(2022, 7, 4),
                effective_until=date(2022, 10, 4),
            ),
            tc.UpdatePricingScheduleRequest(
                mode="DISASSOCIATE", effective_from=date(2022, 8, 4), effective_until=date(2022, 9, 4)
            ),
        ]
    )
    dry = sdk.accounts.update_pricing_schedule_batch("acme", edits, dry_run=True)
    assert len(dry.pricing_schedules) == 2
    assert sdk.accounts.get_pricing_schedules("acme").data == []  # a dry run keeps nothing

    done = sdk.accounts.update_pricing_schedule_batch("acme", edits)
    spans = [(s.start_date.date(), s.end_date.date()) for s in done.pricing_schedules]
    assert spans == [(date(2022, 7, 4), date(2022, 8, 4)), (date(2022, 9, 4), date(2022, 10, 4))]
    assert [s.price_plan_id for s in done.pricing_schedules] == [plan_id, plan_id]


def test_a_new_association_replaces_what_it_covers(sdk: Sdk, catalog: dict[str, str]) -> None:
    first, second = plan(sdk, catalog["sum"], "First"), plan(sdk, catalog["sum"], "Second")
    sdk.accounts.update_pricing_schedule("acme", associate(first, date(2024, 1, 1), OPEN))
    answer = sdk.accounts.update_pricing_schedule("acme", associate(second, date(2024, 2, 15), date(2024, 3, 1)))
    names = [(s.price_plan_name, s.start_date.date(), s.end_date.date()) for s in answer.pricing_schedules]
    assert names == [
        ("First", date(2024, 1, 1), date(2024, 2, 15)),
        ("Second", date(2024, 2, 15), date(2024, 3, 1)),
        ("First", date(2024, 3, 1), date(9999, 12, 31)),
    ]


def test_account_overrides(sdk: Sdk, catalog: dict[str, str]) -> None:
    plan_id = plan(sdk, catalog["sum"])
    cheaper = tiered(catalog["sum"], "USD")
    cheaper.rate_values[0].slab_rates[0].rate = 0.75
    answer = sdk.accounts.update_pricing_schedule(
        "acme",
        associate(
            plan_id,
            date(2024, 1, 1),
            OPEN,
            price_plan_details_override=tc.CreatePricePlanDetailsOverride(usage_rate_cards=[cheaper]),
        ),
    )
    assert (
        answer.pricing_schedules[0].price_plan_details_override.usage_rate_cards[0].rate_values[0].slab_rates[0].rate
        == 0.75
    )
    [schedule] = sdk.accounts.get_pricing_schedules("acme").data
    assert schedule.is_overriden is True
    assert schedule.price_plan_details.usage_rate_cards[0].rate_values[0].slab_rates[0].rate == 0.75
    # the plan itself is untouched
    plan_now = sdk.price_plans.get_price_plan(plan_id)
    assert plan_now.pricing_schedule[0].price_plan_details.usage_rate_cards[0].rate_values[0].slab_rates[0].rate == 1


def test_anniversary_and_retained_offsets(sdk: Sdk, catalog: dict[str, str]) -> None:
    anniversary = tc.PricingCycleConfig(interval="MONTHLY", anniversary_cycle=True, grace_period=0)
    a = plan(sdk, catalog["sum"], "Anniversary", cycle=anniversary)
    weekly = plan(
        sdk,
        catalog["sum"],
        "Weekly",
        cycle=tc.PricingCycleConfig(
            interval="WEEKLY",
            start_offset=tc.PricingCycleConfigStartOffset(day_offset="1", month_offset="NIL"),
            grace_period=0,
        ),
    )
    fixed = plan(sdk, catalog["sum"], "Fixed")
    sdk.accounts.update_pricing_schedule("acme", associate(a, date(2024, 1, 31), OPEN))
    [schedule] = sdk.accounts.get_pricing_schedules("acme").data
    offset = schedule.price_plan_details.pricing_cycle_config.start_offset
    assert (offset.day_offset, offset.month_offset) == ("LAST", "NIL")

    with pytest.raises(BadRequestException) as other_interval:
        sdk.accounts.update_pricing_schedule(
            "acme", associate(weekly, date(2024, 3, 10), OPEN, retain_start_offsets=True)
        )
    assert "same pricing interval" in message_of(other_interval.value)
    sdk.accounts.update_pricing_schedule("acme", associate(fixed, date(2024, 3, 10), OPEN, retain_start_offsets=True))
    kept = sdk.accounts.get_pricing_schedules("acme").data[-1].price_plan_details.pricing_cycle_config.start_offset
    assert (kept.day_offset, kept.month_offset) == ("LAST", "NIL")


def test_failures(tenant: Tenant, sdk: Sdk, catalog: dict[str, str]) -> None:
    plan_id = plan(sdk, catalog["sum"])
    draft = sdk.price_plans.create_price_plan(
        tc.CreatePricePlanRequest(
            name="Draft",
            price_plan_details=tc.CreatePricePlanDetails(pricing_cycle_config=monthly(), supported_currencies=["USD"]),
        )
    ).id
    euro = plan(sdk, catalog["sum"], "Euro only", currencies=("EUR",))
    cases = [
        (associate(draft, date(2024, 1, 1), OPEN), "activate it first"),
        (associate(euro, date(2024, 1, 1), OPEN), "not active in USD"),
        (associate("pp.nope", date(2024, 1, 1), OPEN), "no price plan"),
        (associate(plan_id, date(2024, 1, 1), date(2024, 1, 1)), "effectiveUntil must be after effectiveFrom"),
        (associate(None, date(2024, 1, 1), OPEN), "pricePlanId is required"),
        (associate(plan_id, date(2024, 1, 1), OPEN, retain_start_offsets=True), "no pricing cycle on 2024-01-01"),
        (
            tc.UpdatePricingScheduleRequestWithActions(
                mode="DISASSOCIATE", effective_from=date(2024, 1, 1), effective_until=OPEN
            ),
            "has no price plan",
        ),
        (
            associate(
                plan_id,
                date(2024, 1, 1),
                OPEN,
                pre_actions=[tc.PreAction(type="GRANT_LICENSE", config={"quantity": "1"})],
            ),
            "POST /license_updates",
        ),
    ]
    for request, words in cases:
        with pytest.raises(BadRequestException) as refused:
            sdk.accounts.update_pricing_schedule("acme", request)
        assert words in message_of(refused.value), message_of(refused.value)
    with pytest.raises(NotFoundException, match="Account nobody not found"):
        sdk.accounts.update_pricing_schedule("nobody", associate(plan_id, date(2024, 1, 1), OPEN))
    with tenant.http() as http:
        as_datetime = http.post(
            "/accounts/acme/price_plans",
            json={
                "mode": "ASSOCIATE",
                "pricePlanId": plan_id,
                "effectiveFrom": "2024-01-01T00:00:00Z",
                "effectiveUntil": "9999-01-01",
            },
        )
        assert as_datetime.status_code == 400 and "YYYY-MM-DD" in as_datetime.json()["message"]
    assert sdk.accounts.get_pricing_schedules("acme").data == []


def test_other_organizations_cannot_see_or_change_schedules(sdk: Sdk, other_sdk: Sdk, catalog: dict[str, str]) -> None:
    plan_id = plan(sdk, catalog["sum"])
    sdk.accounts.update_pricing_schedule("acme", associate(plan_id, date(2024, 1, 1), OPEN))
    with pytest.raises(NotFoundException, match="Account acme not found"):
        other_sdk.accounts.get_pricing_schedules("acme")
    with pytest.raises(NotFoundException, match="Account acme not found"):
        other_sdk.accounts.update_pricing_schedule("acme", associate(plan_id, date(2024, 1, 1), OPEN))


def test_schedules_decide_metered_and_past_grace(tenant: Tenant, sdk: Sdk, catalog: dict[str, str]) -> None:
    from tests.api.test_ingestion_sdk import ev, usage

    now = datetime.now(UTC)
    short = plan(sdk, catalog["sum"], "Short grace")  # MONTHLY from the 1st, 3 days of grace
    long = plan(
        sdk,
        catalog["sum"],
        "Long grace",
        cycle=tc.PricingCycleConfig(
            interval="MONTHLY",
            start_offset=tc.PricingCycleConfigStartOffset(day_offset="1", month_offset="NIL"),
            grace_period=365,
        ),
    )
    sdk.accounts.update_pricing_schedule("acme", associate(short, date(2024, 1, 1), date(2025, 1, 1)))
    sdk.accounts.update_pricing_schedule("acme", associate(long, date(2025, 1, 1), OPEN))
    ingestion = tc.EventIngestionApi(sdk.client)
    events = tc.EventManagementApi(sdk.client)

    moments = {
        "current": now - timedelta(minutes=5),  # the open cycle
        "in-grace": now - timedelta(days=70),  # a closed cycle still in its 365 days of grace
        "closed": datetime(2024, 3, 1, 10, tzinfo=UTC),  # March 2024 closed on 4 April 2024
        "unplanned": datetime(2023, 6, 1, tzinfo=UTC),  # before any schedule
    }
    answer = ingestion.ingest_batch_with_http_info(
        tc.IngestBatchEventRequest(events=[ev(name, calls="7", at=at) for name, at in moments.items()])
    )
    assert answer.status_code == 207
    [rejected] = answer.data.details["errors"]
    assert (rejected["eventId"], rejected["status"]) == ("closed", "INGESTION_FAILED_PAST_GRACE_PERIOD")
    status = {name: events.get_single_event(name).events[0].ingestion_status.status for name in moments}
    assert status == {
        "current": "INGESTION_COMPLETED_EVENT_METERED",
        "in-grace": "INGESTION_COMPLETED_EVENT_METERED",
        "closed": "INGESTION_FAILED_PAST_GRACE_PERIOD",
        "unplanned": "INGESTION_COMPLETED_EVENT_NOT_METERED",
    }
    march = datetime(2024, 3, 1, tzinfo=UTC)
    assert usage(tenant, march, march + timedelta(days=31))["us_calls"] == (0, 0)  # a refused event counts nothing
    with pytest.raises(BadRequestException) as single:
        ingestion.ingest(tc.IngestEventRequest(event=ev("closed-2", at=moments["closed"])))
    assert "grace period has ended" in message_of(single.value)


def test_an_override_with_empty_unsupported_lists_is_fine(tenant: Tenant, sdk: Sdk, catalog: dict[str, str]) -> None:
    plan_id = plan(sdk, catalog["sum"])
    with tenant.http() as http:
        response = http.post(
            "/accounts/acme/price_plans",
            json={
                "mode": "ASSOCIATE",
                "pricePlanId": plan_id,
                "effectiveFrom": "2024-01-01",
                "effectiveUntil": "9999-01-01",
                "pricePlanDetailsOverride": {
                    "billingEntitlementRateCards": [],
                    "entitlementOverageRateCards": [],
                    "minimumCommitment": {"displayName": "Floor", "rateValues": [{"currency": "usd", "rate": 10}]},
                },
            },
        )
        assert response.status_code == 200, response.text
        override = response.json()["pricingSchedules"][0]["pricePlanDetailsOverride"]
        assert override == {
            "minimumCommitment": {"displayName": "Floor", "rateValues": [{"currency": "USD", "rate": 10}]}
        }
