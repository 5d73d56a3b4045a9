"""Togai's predefined event types through the official SDK, on both engines: `togai-usage` (usage sent straight to
a meter) and `togai-named-license` (named seats of a NAMED_LICENSE add-on, `GET /named_license_updates`), each
deduplicated, corrected, and priced on an invoice with hand-computed amounts (docs/billing-rules.md D6 and D7,
docs/pricing.md)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
import togai_client as tc
from togai_client.exceptions import BadRequestException

from tests.api.billing_setup import acme_invoices, month_start
from tests.api.conftest import Sdk
from tests.api.test_event_corrections_sdk import correct, stored
from tests.api.test_schedules_sdk import OPEN, associate
from tests.conftest import Tenant

UTC = timezone.utc


def base_time() -> datetime:
    """A few minutes ago, inside the current month (the cycle of the draft invoice)."""
    now = datetime.now(UTC)
    return max(now - timedelta(minutes=10), datetime.combine(month_start(now), datetime.min.time(), UTC))


def usage_event(event_id: str, meter_id: str, usage: str, at: datetime, account: str = "acme") -> tc.Event:
    return tc.Event(
        schema_name="togai-usage",
        id=event_id,
        timestamp=at,
        account_id=account,
        attributes=[tc.Attribute(name="usage", value=usage)],
        dimensions={"usage_meter_id": meter_id},
    )


def seat_event(event_id: str, license_id: str, name: str, action: str, at: datetime) -> tc.Event:
    return tc.Event(
        schema_name="togai-named-license",
        id=event_id,
        timestamp=at,
        account_id="acme",
        attributes=[tc.Attribute(name="action", value=action)],
        dimensions={"license_id": license_id, "name": name},
    )


def ingest_one(sdk: Sdk, event: tc.Event) -> None:
    tc.EventIngestionApi(sdk.client).ingest(tc.IngestEventRequest(event=event))


def ingest_batch(sdk: Sdk, *events: tc.Event) -> None:
    tc.EventIngestionApi(sdk.client).ingest_batch(tc.IngestBatchEventRequest(events=list(events)))


def status_of(sdk: Sdk, event_id: str) -> tuple[str, str | None]:
    [event] = tc.EventManagementApi(sdk.client).get_single_event(event_id).events
    return event.ingestion_status.status, event.ingestion_status.status_description


def current_total(sdk: Sdk) -> Decimal:
    current = acme_invoices(sdk)[-1]
    return Decimal(str(sdk.invoices.get_invoice(current.id).total_amount))


def test_togai_usage_is_metered_deduplicated_corrected_and_invoiced(
    sdk: Sdk, tenant: Tenant, billed: dict[str, str]
) -> None:
    """Growth (D4's tiered card on us_calls: 1.00 up to 100, 0.50 beyond; a 50.00 fee). 120 + 30.5 sent straight to
    us_calls: 100 x 1.00 + 50.5 x 0.50 + 50.00 = 175.25. The 30.5 undone: 100 + 20 x 0.50 + 50 = 160.00."""
    at = base_time()
    meter = billed["sum"]
    ingest_one(sdk, usage_event("tu-1", meter, "120", at))
    ingest_batch(
        sdk, usage_event("tu-2", meter, "30.5", at + timedelta(seconds=1)), usage_event("tu-1", meter, "120", at)
    )
    assert [s for _, s in stored(sdk, "tu-1")] == [
        "INGESTION_COMPLETED_EVENT_METERED",
        "INGESTION_FAILED_DUPLICATE_EVENT",
    ]
    assert current_total(sdk) == Decimal("175.25")

    # the event's pipeline: the predefined schema (version 1) and the one meter it named, with the usage it added
    [event] = tc.EventManagementApi(sdk.client).get_single_event("tu-2").events
    info = event.event_pipeline_info
    assert (info.event_schema.name, info.event_schema.version) == ("togai-usage", 1)
    assert [(m.id, m.name, m.status, m.units) for m in info.usage_meters] == [
        (meter, "us_calls", "PROCESSED_UNITS_COMPUTED", 30.5)
    ]
    assert info.account.id == "acme"

    undone = correct(sdk, "UNDO", usage_event("tu-2", meter, "30.5", at))
    assert undone.ingestion_status.status == "REVERTED"
    assert current_total(sdk) == Decimal("160.00")

    # refused: an unknown meter, a negative or malformed usage, a missing dimension (nothing metered)
    ingest_batch(
        sdk,
        usage_event("tu-bad-meter", "um.nope", "1", at),
        usage_event("tu-negative", meter, "-5", at),
        usage_event("tu-huge", meter, "9" * 40, at),
        tc.Event(
            schema_name="togai-usage",
            id="tu-no-meter",
            timestamp=at,
            account_id="acme",
            attributes=[tc.Attribute(name="usage", value="1")],
            dimensions={},
        ),
    )
    assert status_of(sdk, "tu-bad-meter") == (
        "INGESTION_FAILED",
        "togai-usage: no ACTIVE usage meter has id 'um.nope'",
    )
    negative = status_of(sdk, "tu-negative")
    assert negative[0] == "INGESTION_FAILED_UNITS_INVALID" and "must not be negative" in str(negative[1])
    assert status_of(sdk, "tu-huge")[0] == "INGESTION_FAILED"
    assert "usage_meter_id is required" in str(status_of(sdk, "tu-no-meter")[1])
    assert current_total(sdk) == Decimal("160.00")


def named_plan_on_acme(sdk: Sdk, license_id: str) -> None:
    """10.00 a seat (PER_UNIT, one slab), not prorated, on acme from the 1st of this month."""
    plan = sdk.price_plans.create_price_plan(
        tc.CreatePricePlanRequest(
            name="Per named seat",
            price_plan_details=tc.CreatePricePlanDetails(
                pricing_cycle_config=tc.PricingCycleConfig(
                    interval="MONTHLY",
                    start_offset=tc.PricingCycleConfigStartOffset(day_offset="1", month_offset="NIL"),
                    grace_period=0,
                ),
                supported_currencies=["USD"],
                license_rate_cards=[
                    tc.LicenseRateCard(
                        id=license_id,
                        enable_proration=False,
                        rate_plan=tc.RatePlan(
                            pricing_model="TIERED", slabs=[tc.Slab(order=1, start_after=0, price_type="PER_UNIT")]
                        ),
                        rate_values=[tc.RateValue(currency="USD", slab_rates=[tc.SlabRate(order=1, rate=10)])],
                    )
                ],
            ),
        )
    )
    sdk.price_plans.activate_price_plan(plan.id, tc.ActivatePricePlanRequest(currencies=["USD"]))
    sdk.accounts.update_pricing_schedule("acme", associate(plan.id, month_start(datetime.now(UTC)), OPEN))


def seats(sdk: Sdk) -> list[tuple[str, datetime | None, datetime | None]]:
    return [(u.name, u.effective_from, u.effective_until) for u in sdk.licenses.get_named_license_updates().data]


def test_named_seats_are_listed_deduplicated_corrected_and_invoiced(
    sdk: Sdk, other_sdk: Sdk, tenant: Tenant, catalog: dict[str, str]
) -> None:
    """alice and bob added, bob removed, then carol added: at most 2 seats in force this cycle, 2 x 10.00 = 20.00.
    The removal of bob undone: alice, bob and carol together, 3 x 10.00 = 30.00."""
    named = sdk.add_ons.create_add_on(tc.CreateAddOnRequest(name="Named seats", type="NAMED_LICENSE")).id
    named_plan_on_acme(sdk, named)
    at = base_time()
    t1, t2, t3, t4 = (at + timedelta(seconds=s) for s in (1, 2, 3, 4))
    ingest_one(sdk, seat_event("s-alice", named, "alice", "1", t1))
    ingest_batch(
        sdk,
        seat_event("s-bob", named, "bob", "1", t2),
        seat_event("s-bob-out", named, "bob", "-1", t3),
        seat_event("s-carol", named, "carol", "1", t4),
        seat_event("s-alice", named, "alice", "1", t1),  # a retry: a duplicate, no second seat
    )
    assert [s for _, s in stored(sdk, "s-alice")] == [
        "INGESTION_COMPLETED_EVENT_METERED",
        "INGESTION_FAILED_DUPLICATE_EVENT",
    ]
    assert seats(sdk) == [("alice", t1, None), ("bob", t2, t3), ("carol", t4, None)]
    [alice, _, _] = sdk.licenses.get_named_license_updates().data
    assert (alice.license_id, alice.account_id) == (named, "acme")
    assert alice.id == stored(sdk, "s-alice")[0][0]  # a seat's id is the event that added it
    assert current_total(sdk) == Decimal("20.00")

    correct(sdk, "UNDO", seat_event("s-bob-out", named, "bob", "-1", t3))
    assert seats(sdk) == [("alice", t1, None), ("bob", t2, None), ("carol", t4, None)]
    assert current_total(sdk) == Decimal("30.00")

    # paged like the other lists (the SDK sends no parameters; pageSize and nextToken as everywhere)
    with tenant.http() as http:
        first = http.get("/named_license_updates", params={"pageSize": 2}).json()
        rest = http.get("/named_license_updates", params={"pageSize": 2, "nextToken": first["nextToken"]}).json()
    assert [u["name"] for u in first["data"]] + [u["name"] for u in rest["data"]] == ["alice", "bob", "carol"]
    assert "nextToken" not in rest or rest["nextToken"] is None

    # refused as INGESTION_FAILED_INVALID_NAMED_LICENSE_EVENT, changing nothing
    plain = sdk.add_ons.create_add_on(tc.CreateAddOnRequest(name="Plain seats", type="LICENSE")).id
    ingest_batch(
        sdk,
        seat_event("s-bad-action", named, "dave", "2", t4),
        seat_event("s-not-named", plain, "dave", "1", t4),
        seat_event("s-no-addon", "addon.nope", "dave", "1", t4),
        seat_event("s-long", named, "d" * 51, "1", t4),
    )
    for event_id, words in (
        ("s-bad-action", "must be 1 (add the seat) or -1"),
        ("s-not-named", "no ACTIVE NAMED_LICENSE add-on"),
        ("s-no-addon", "no ACTIVE NAMED_LICENSE add-on"),
        ("s-long", "at most 50"),
    ):
        status, description = status_of(sdk, event_id)
        assert status == "INGESTION_FAILED_INVALID_NAMED_LICENSE_EVENT" and words in str(description), event_id
    assert len(seats(sdk)) == 3 and current_total(sdk) == Decimal("30.00")
    # another organization sees no seat
    assert other_sdk.licenses.get_named_license_updates().data == []

    # the revenue calculator's namedLicenseEntriesConfig: the account's seats over its cycle or a range, or given
    def calculate(named_config: tc.NamedLicenseEntriesConfig) -> tc.RevenueInfo:
        request = tc.CalculateRevenueRequest(
            currency_config=tc.CurrencyConfig(mode="ACCOUNT_INVOICE", account_id="acme"),
            price_plan_details_config=tc.PricePlanDetailsConfig(mode="ACCOUNT", account_id="acme"),
            usage_config=tc.UsageConfig(mode="CUSTOM", usage_map={}),
            license_entries_config=tc.LicenseEntriesConfig(mode="CUSTOM", custom=[]),
            named_license_entries_config=named_config,
        )
        [info] = sdk.calculator.calculate_revenue(request).revenue_info
        return info

    cycle = calculate(
        tc.NamedLicenseEntriesConfig(
            mode="LOOKUP_CYCLE", lookup_cycle=tc.NamedLicenseEntriesConfigLookupCycle(account_id="acme")
        )
    )
    assert cycle.usages == {named: 3} and [s.revenue for s in cycle.license_revenue_summary] == [30]
    before_carol = calculate(
        tc.NamedLicenseEntriesConfig(
            mode="LOOKUP_RANGE",
            lookup_range=tc.NamedLicenseEntriesConfigLookupRange(start=t1, end=t4, account_id="acme"),
        )
    )
    assert before_carol.usages == {named: 2}  # alice and bob; carol comes at t4, the range's end
    # given: seats 1 and 2 overlap, seat 3 comes after seat 1 left: at most 2 at once, 20.00
    given = calculate(
        tc.NamedLicenseEntriesConfig(
            mode="CUSTOM",
            custom=[
                tc.NamedLicenseEntry(license_id=named, name=1, effective_from=t1, effective_until=t3),
                tc.NamedLicenseEntry(license_id=named, name=2, effective_from=t2),
                tc.NamedLicenseEntry(license_id=named, name=3, effective_from=t3),
            ],
        )
    )
    assert given.usages == {named: 2} and [s.revenue for s in given.license_revenue_summary] == [20]


def test_no_event_schema_takes_a_predefined_name(sdk: Sdk) -> None:
    for name in ("togai-usage", "togai-named-license"):
        with pytest.raises(BadRequestException, match="one of Togai's predefined event types"):
            sdk.event_schemas.create_event_schema(tc.CreateEventSchemaRequest(name=name, attributes=[], dimensions=[]))
