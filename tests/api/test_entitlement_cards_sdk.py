"""Entitlements in price plans through the official SDK against a live server, on both engines: billing entitlement
cards grant each cycle's feature credits and bill them, overage cards let entitled events go past them up to
maxQuantity and bill what was used; invoices and the revenue calculator checked to the cent by hand
(docs/entitlements.md, "Entitlements in price plans")."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
import togai_client as tc
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from togai_client.exceptions import ApiException

from meterline.core.db import unit_of_work
from meterline.entitlements.models import FeatureCreditEntry
from tests.api.billing_setup import month_start
from tests.api.conftest import Sdk, message_of
from tests.api.test_entitlements_sdk import entries, event, feature
from tests.api.test_price_plans_sdk import monthly
from tests.api.test_schedules_sdk import OPEN, associate
from tests.conftest import Tenant

UTC = timezone.utc
D = Decimal


def per_unit(*slabs: tuple[int, int, str]) -> tuple[tc.RatePlan, list[tc.RateValue]]:
    """TIERED slabs (order, startAfter, USD rate per unit)."""
    return (
        tc.RatePlan(
            pricing_model="TIERED",
            slabs=[tc.Slab(order=o, start_after=after, price_type="PER_UNIT") for o, after, _ in slabs],
        ),
        [tc.RateValue(currency="USD", slab_rates=[tc.SlabRate(order=o, rate=float(r)) for o, _, r in slabs])],
    )


def entitlement_card(
    feature_id: str, units: int, timing: str = "IN_ADVANCE", **config: Any
) -> tc.BillingEntitlementRateCard:
    plan, rates = per_unit((1, 0, "0.125"))  # 100 units: 12.50
    return tc.BillingEntitlementRateCard(
        feature_id=feature_id,
        feature_configs=[tc.FeatureConfig(effective_until="P1M", feature_credit_limit=units, **config)],
        invoice_timing=timing,
        rate_plan=plan,
        rate_values=rates,
    )


def overage_card(feature_id: str, max_quantity: int | None = 50, **billing: int) -> tc.EntitlementOverageRateCard:
    plan, rates = per_unit((1, 0, "0.20"), (2, 20, "0.15"))  # 30 units: 20 x 0.20 + 10 x 0.15 = 5.50
    return tc.EntitlementOverageRateCard(
        feature_id=feature_id,
        max_quantity=max_quantity,
        rate_plan=plan,
        rate_values=rates,
        billing_config=tc.BillingConfig(**billing) if billing else None,
    )


def gated_plan(sdk: Sdk, feature_id: str, name: str = "Gated", grace: int = 0, **cards: Any) -> str:
    cycle = monthly()
    cycle.grace_period = grace
    made = sdk.price_plans.create_price_plan(
        tc.CreatePricePlanRequest(
            name=name,
            price_plan_details=tc.CreatePricePlanDetails(
                pricing_cycle_config=cycle,
                supported_currencies=["USD"],
                billing_entitlement_rate_cards=cards.get("entitlements", [entitlement_card(feature_id, 100)]),
                entitlement_overage_rate_cards=cards.get("overage", [overage_card(feature_id)]),
            ),
        )
    )
    sdk.price_plans.activate_price_plan(made.id, tc.ActivatePricePlanRequest(currencies=["USD"]))
    return str(made.id)


def raw_invoice(tenant: Tenant, invoice_id: str) -> dict[str, Any]:
    with tenant.http() as http:
        r = http.get(f"/invoices/{invoice_id}")
    assert r.status_code == 200, r.text
    return dict(r.json())


def lines(root: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every line of a tree by type (the first of each type)."""
    found: dict[str, dict[str, Any]] = {}

    def walk(line: dict[str, Any]) -> None:
        found.setdefault(line["type"], line)
        for child in line["lineItems"]:
            walk(child)

    walk(root)
    return found


def test_a_plan_grants_feature_credits_each_cycle_and_bills_them_and_the_overage(
    tenant: Tenant, sdk: Sdk, catalog: dict[str, str]
) -> None:
    # Given a feature and a plan: 100 units a month for 12.50 (in advance), overage up to 50 units, tiered
    f = feature(sdk)
    plan_id = gated_plan(sdk, f.id)
    got = sdk.price_plans.get_price_plan(plan_id).pricing_schedule[0].price_plan_details
    [card] = got.billing_entitlement_rate_cards
    assert (card.name, card.display_name, card.feature_configs[0].effective_from) == (
        f"entitlement_{f.id}",
        "API calls",
        "P0D",
    )
    [over] = got.entitlement_overage_rate_cards
    assert (over.name, over.max_quantity, over.billing_config.interval, over.billing_config.start_offset) == (
        f"overage_{f.id}",
        50,
        1,
        0,
    )

    # When acme is on it from the 1st of this month
    now = datetime.now(UTC)
    start = month_start(now)
    answer = sdk.accounts.update_pricing_schedule("acme", associate(plan_id, start, OPEN))
    schedule_id = answer.pricing_schedules[0].id
    cycle_start = datetime.combine(start, datetime.min.time(), UTC)
    cycle_end = datetime.combine(
        date(start.year + start.month // 12, start.month % 12 + 1, 1), datetime.min.time(), UTC
    )

    # Then the cycle's credits are there on the first read: 100 units, overage room 50
    credits = sdk.entitlements.get_feature_credits("acme", f.id)
    assert (credits.granted, credits.balance, credits.overage_limit, credits.used_overage) == (100, 100, 50, 0)
    day = f"{start:%Y%m%d}"
    made = entries(sdk, f.id)
    assert set(made) == {f"{schedule_id}#{day}$PRICE_PLAN", f"{schedule_id}#{day}$OVERAGE"}
    grant = made[f"{schedule_id}#{day}$PRICE_PLAN"]
    assert (grant.source, grant.status, grant.granted, grant.balance) == ("PRICE_PLAN", "ACTIVE", 100, 100)
    assert (grant.effective_from, grant.effective_until) == (cycle_start, cycle_end)
    room = made[f"{schedule_id}#{day}$OVERAGE"]
    assert (room.source, room.granted, room.effective_from, room.effective_until) == (
        "OVERAGE",
        50,
        cycle_start,
        cycle_end,
    )
    assert len(entries(sdk, f.id)) == 2  # read again: granted once

    # When entitled events use the 100 units and 30 of overage
    at = max(now - timedelta(minutes=1), cycle_start)
    assert sdk.entitlements.ingest_entitled_event(event("e1", "90", at)).success is True
    assert (
        sdk.entitlements.ingest_entitled_event(event("e2", "40", at)).success is True
    )  # 10 from the grant, 30 overage
    credits = sdk.entitlements.get_feature_credits("acme", f.id)
    assert (credits.balance, credits.used_overage, credits.overage_limit) == (0, 30, 50)
    # the check says what /entitled would do: 20 units of overage are left
    assert sdk.entitlements.validate_entitlement_value(
        "acme", f.id, tc.ValidateEntitlementValueRequest(value="20")
    ).success
    assert not sdk.entitlements.validate_entitlement_value(
        "acme", f.id, tc.ValidateEntitlementValueRequest(value="21")
    ).success
    with pytest.raises(ApiException) as refused:
        sdk.entitlements.ingest_entitled_event(event("e3", "21", at))
    assert refused.value.status == 422 and "nothing was stored" in message_of(refused.value)
    assert sdk.entitlements.ingest_entitled_event(event("e4", "20", at)).success is True
    assert sdk.entitlements.get_feature_credits("acme", f.id).used_overage == 50
    # an UNDO of overage lowers the overage used (it is billed): no free units instead
    undone = tc.EventManagementApi(sdk.client).event_correction(
        action="UNDO", event_correction_request=tc.EventCorrectionRequest(event=event("e4", "20", at).event)
    )
    assert undone.data[0].status == "REVERTED"
    credits = sdk.entitlements.get_feature_credits("acme", f.id)
    assert (credits.balance, credits.used_overage) == (0, 30)
    assert {e.source for e in entries(sdk, f.id).values()} == {"PRICE_PLAN", "OVERAGE"}

    # Then the cycle's in-advance invoice bills the 100 units: 100 x 0.125 = 12.50
    invoices = sorted(sdk.invoices.list_invoices(owner_id="acme").data, key=lambda i: i.invoice_type)
    assert [(i.invoice_type, i.status) for i in invoices] == [("STANDARD", "DRAFT"), ("STANDARD_ADVANCED", "DRAFT")]
    standard, advanced = invoices
    advance_lines = lines(raw_invoice(tenant, advanced.id)["revenueInfo"])
    line = advance_lines["ADVANCED_BILLING_ENTITLEMENT_RATE_CARD_AMOUNT"]
    assert (line["id"], line["value"], line["quantity"], line["metadata"]["featureId"]) == (
        f"entitlement_{f.id}",
        12.5,
        100,
        f.id,
    )
    assert sdk.invoices.create_invoice_bill_run().success is True
    advanced = sdk.invoices.get_invoice(advanced.id)
    assert (advanced.status, advanced.total_amount) == ("DUE", 12.5)

    # And the cycle's draft bills the overage used, 30 units: 20 x 0.20 + 10 x 0.15 = 5.50
    tree = lines(raw_invoice(tenant, standard.id)["revenueInfo"])
    overage = tree["ENTITLEMENT_OVERAGE_RATE_CARD_AMOUNT"]
    assert (overage["id"], overage["value"], overage["quantity"]) == (f"overage_{f.id}", 5.5, 30)
    assert [(s["quantity"], s["valuePerQuantity"], s["value"]) for s in overage["lineItems"]] == [
        (20, 0.2, 4),
        (10, 0.15, 1.5),
    ]
    assert tree["SUB_TOTAL_AMOUNT"]["value"] == 18  # 5.50 + 12.50 in advance
    assert sdk.invoices.get_invoice(standard.id).total_amount == 5.5  # the 12.50 was invoiced in advance

    # And the revenue calculator prices the same: the overage given, or looked up for the cycle
    def calculate(overage_config: tc.EntitlementOverageConfig) -> dict[str, Decimal]:
        answer = sdk.calculator.calculate_revenue(
            tc.CalculateRevenueRequest(
                currency_config=tc.CurrencyConfig(mode="CUSTOM", currency="USD"),
                price_plan_details_config=tc.PricePlanDetailsConfig(mode="PRICE_PLAN", price_plan_id=plan_id),
                usage_config=tc.UsageConfig(mode="CUSTOM", usage_map={}),
                license_entries_config=tc.LicenseEntriesConfig(mode="CUSTOM", custom=[]),
                entitlement_overage_config=overage_config,
            )
        )
        out = {}
        for info in answer.revenue_info:
            if info.billing_entitlement_revenue_summary is not None:
                out["entitlement"] = D(str(info.billing_entitlement_revenue_summary.revenue))
            if info.entitlement_overage_revenue_summary is not None:
                out["overage"] = D(str(info.entitlement_overage_revenue_summary.revenue))
                out["units"] = D(str(info.usages[f.id]))
        return out

    custom = tc.EntitlementOverageConfig(
        mode="CUSTOM", custom=[tc.EntitlementOverageEntry(feature_id=f.id, quantity=30)]
    )
    assert calculate(custom) == {"entitlement": D("12.5"), "overage": D("5.5"), "units": 30}
    looked_up = tc.EntitlementOverageConfig(
        mode="LOOKUP_CYCLE",
        lookup_cycle=tc.EntitlementOverageConfigLookupCycle(billing_cycle_end_date=cycle_end, account_id="acme"),
    )
    assert calculate(looked_up) == {"entitlement": D("12.5"), "overage": D("5.5"), "units": 30}


def test_unlimited_overage_and_prepaid_entitlements(tenant: Tenant, sdk: Sdk, catalog: dict[str, str]) -> None:
    # Given a plan whose units are granted once its in-advance invoice is paid, with overage without a limit
    f = feature(sdk)
    plan_id = gated_plan(
        sdk,
        f.id,
        entitlements=[entitlement_card(f.id, 10, timing="PREPAID")],
        overage=[overage_card(f.id, max_quantity=None)],
    )
    start = month_start(datetime.now(UTC))
    sdk.accounts.update_pricing_schedule("acme", associate(plan_id, start, OPEN))

    # Then before payment only the overage entry is there, without a limit (no granted, no balance)
    credits = sdk.entitlements.get_feature_credits("acme", f.id)
    assert (credits.granted, credits.balance, credits.overage_limit, credits.used_overage) == (0, 0, None, 0)
    [room] = entries(sdk, f.id).values()
    assert (room.source, room.granted, room.balance) == ("OVERAGE", None, None)
    assert sdk.entitlements.ingest_entitled_event(event("u1", "1000", datetime.now(UTC))).success is True
    assert sdk.entitlements.get_feature_credits("acme", f.id).used_overage == 1000

    # When the in-advance invoice (10 units: 1.25) is finalized and paid
    [advanced] = [i for i in sdk.invoices.list_invoices(owner_id="acme").data if i.invoice_type == "STANDARD_ADVANCED"]
    assert sdk.invoices.create_invoice_bill_run().success is True
    assert sdk.invoices.get_invoice(advanced.id).total_amount == 1.25
    sdk.invoices.update_invoice(advanced.id, tc.UpdateInvoiceRequest(status="PAID"))

    # Then the 10 units are granted, and used before the overage
    credits = sdk.entitlements.get_feature_credits("acme", f.id)
    assert (credits.granted, credits.balance) == (10, 10)
    assert sdk.entitlements.ingest_entitled_event(event("u2", "4", datetime.now(UTC))).success is True
    credits = sdk.entitlements.get_feature_credits("acme", f.id)
    assert (credits.balance, credits.used_overage) == (6, 1000)


def test_entitlement_cards_are_checked(sdk: Sdk, catalog: dict[str, str]) -> None:
    f = feature(sdk)

    def refused(name: str, **cards: Any) -> str:
        with pytest.raises(ApiException) as caught:
            gated_plan(sdk, f.id, name=name, **cards)
        assert caught.value.status == 400, caught.value.body
        return message_of(caught.value)

    assert "no feature 'feature.nope'" in refused("a", entitlements=[entitlement_card("feature.nope", 1)])
    two = entitlement_card(f.id, 1)
    two.feature_configs = two.feature_configs * 2
    assert "featureConfigs: give exactly one" in refused("b", entitlements=[two])
    assert "already has its entitlement card" in refused(
        "c", entitlements=[entitlement_card(f.id, 1), entitlement_card(f.id, 2)]
    )
    assert "not an ISO 8601 duration" in refused("d", entitlements=[entitlement_card(f.id, 1, effective_from="soon")])
    late = entitlement_card(f.id, 1, effective_from="P1M")
    assert "effectiveUntil: must be longer than effectiveFrom" in refused("e", entitlements=[late])
    assert "startOffset: must be smaller than interval" in refused(
        "f", overage=[overage_card(f.id, interval=2, start_offset=2)]
    )
    assert "maxQuantity: must be >= 0" in refused("g", overage=[overage_card(f.id, max_quantity=-1)])
    # a validity that would move a date past the calendar's end: 400 saying so (was a 500), as are durations that
    # would pass the check from 2001 and overflow from a later cycle
    for i, long in enumerate(("P99999Y", "P3000000D", "P7990Y", "P99999999999999999999Y")):
        card = entitlement_card(f.id, 1)
        card.feature_configs[0].effective_until = long
        message = refused(f"h{i}", entitlements=[card])
        assert f"effectiveUntil: '{long}' is longer than 100 years" in message, message
    assert "effectiveFrom: 'P101Y' is longer than 100 years" in refused(
        "i", entitlements=[entitlement_card(f.id, 1, effective_from="P101Y")]
    )


def stored_entries(factory: sessionmaker[Session], tenant: Tenant) -> dict[str, FeatureCreditEntry]:
    """The organization's entries as stored (what reads may not write)."""
    with unit_of_work(factory, write=False) as s:
        rows = s.scalars(select(FeatureCreditEntry).where(FeatureCreditEntry.org_id == tenant.org.id))
        return {e.entry_id: e for e in rows}


def test_reads_write_nothing_and_schedule_changes_fit_the_plan_s_entries(
    tenant: Tenant, sdk: Sdk, catalog: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    f = feature(sdk)
    plan_a = gated_plan(sdk, f.id, name="Plan A")
    plan_b = gated_plan(sdk, f.id, name="Plan B")
    now = datetime.now(UTC)
    start = month_start(now)
    schedule_a = sdk.accounts.update_pricing_schedule("acme", associate(plan_a, start, OPEN)).pricing_schedules[0].id

    # Reads show the cycle's entries as they will be made, and store nothing (a GET takes no write lock)
    credits = sdk.entitlements.get_feature_credits("acme", f.id)
    assert (credits.granted, credits.overage_limit) == (100, 50)
    assert set(entries(sdk, f.id)) == {
        f"{schedule_a}#{start:%Y%m%d}$PRICE_PLAN",
        f"{schedule_a}#{start:%Y%m%d}$OVERAGE",
    }
    assert sdk.entitlements.get_entitlement_value("acme", f.id).data[0].value == "100"
    assert stored_entries(session_factory, tenant) == {}
    # the first entitled event makes them
    assert sdk.entitlements.ingest_entitled_event(event("m1", "120", now)).success is True  # 100 + 20 overage
    assert set(stored_entries(session_factory, tenant)) == set(entries(sdk, f.id))

    # When acme moves to plan B from tomorrow: A's credits stay (they were sold), A's overage ends with A
    tomorrow = now.date() + timedelta(days=1)
    moved = sdk.accounts.update_pricing_schedule("acme", associate(plan_b, tomorrow, OPEN))
    assert {s.id for s in moved.pricing_schedules} >= {schedule_a}
    by_id = entries(sdk, f.id)
    a_overage = by_id[f"{schedule_a}#{start:%Y%m%d}$OVERAGE"]
    assert a_overage.status == "ACTIVE"
    assert a_overage.effective_until == min(
        datetime.combine(tomorrow, datetime.min.time(), UTC),
        datetime.combine(date(start.year + start.month // 12, start.month % 12 + 1, 1), datetime.min.time(), UTC),
    )
    assert by_id[f"{schedule_a}#{start:%Y%m%d}$PRICE_PLAN"].status == "ACTIVE"

    # When the plans are taken off the account altogether: every entry of theirs is VOIDED, nothing more passes
    sdk.accounts.update_pricing_schedule(
        "acme",
        tc.UpdatePricingScheduleRequestWithActions(mode="DISASSOCIATE", effective_from=start, effective_until=OPEN),
    )
    assert {e.status for e in entries(sdk, f.id).values()} == {"VOIDED"}
    credits = sdk.entitlements.get_feature_credits("acme", f.id)
    assert (credits.granted, credits.balance, credits.overage_limit) == (0, 0, None)
    with pytest.raises(
        ApiException,
        match=r"Insufficient feature credits: account 'acme' has 0 units of feature feature\.\w+ \(API calls\) "
        r"for an event at .+, and the event needs 1; nothing was stored",
    ) as refused:
        sdk.entitlements.ingest_entitled_event(event("m2", "1", datetime.now(UTC)))
    assert refused.value.status == 422
