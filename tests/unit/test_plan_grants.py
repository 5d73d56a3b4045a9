"""What a schedule's plan grants each cycle (entitlements/plan_grants.py) and when an overage card bills
(catalog/rate_cards.py): pure, no database (docs/entitlements.md, "Entitlements in price plans")."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from meterline.catalog import rate_cards
from meterline.catalog.plan_model import StoredDetails
from meterline.catalog.plan_repository import encode_details
from meterline.catalog.plan_schemas import EntitlementOverageRateCard
from meterline.entitlements.plan_grants import cycle_grants, shifted
from meterline.rating import cycles
from meterline.schedules.service import ScheduleView

UTC = timezone.utc
PARIS = ZoneInfo("Europe/Paris")
MONTHLY = cycles.CycleConfig(interval="MONTHLY", day_offset="1", month_offset="NIL", grace_period_days=0)


def view(details: dict[str, Any], start: datetime, end: datetime = datetime(9999, 1, 1, tzinfo=UTC)) -> ScheduleView:
    return ScheduleView(
        id="ps.01TESTTESTTESTTESTTESTTEST",
        plan_id="pp.x",
        plan_name="Gated",
        plan_description=None,
        plan_type="BILLING",
        version=1,
        active_currencies=["USD"],
        start=start,
        end=end,
        override=None,
        details=details,
        cycle=MONTHLY,
        stored=StoredDetails(encode_details({"supportedCurrencies": ["USD"], **details})),
    )


# what every slab card has besides (its price: these tests read only what the cards grant)
PRICED = {
    "ratePlan": {"pricingModel": "TIERED", "slabs": [{"order": 1, "startAfter": 0, "priceType": "PER_UNIT"}]},
    "rateValues": [{"currency": "USD", "slabRates": [{"order": 1, "rate": 1}]}],
}


def entitlement(until: str = "P1M", units: int = 100, timing: str = "IN_ADVANCE", **extra: Any) -> dict[str, Any]:
    return {
        **PRICED,
        "featureId": "feature.a",
        "featureConfigs": [{"effectiveFrom": "P0D", "effectiveUntil": until, "featureCreditLimit": units}],
        "invoiceTiming": timing,
        **extra,
    }


def overage(max_quantity: int | None = 50, interval: int = 1, start_offset: int = 0) -> dict[str, Any]:
    card: dict[str, Any] = {
        **PRICED,
        "featureId": "feature.a",
        "billingConfig": {"interval": interval, "startOffset": start_offset},
    }
    if max_quantity is not None:
        card["maxQuantity"] = max_quantity
    return card


def cycle_at(v: ScheduleView, at: datetime, tz: Any = UTC) -> tuple[cycles.Cycle, int]:
    config = cycles.effective_config(MONTHLY, v.start, tz)
    cycle = cycles.cycle_containing(config, at, tz)
    return cycle, len(cycles.cycles_overlapping(config, v.start, cycle.start, tz))


@pytest.mark.parametrize(
    ("interval", "offset", "periods"),
    [
        (1, 0, [(0, 1), (1, 2), (2, 3), (3, 4)]),
        (2, 0, [(0, 2), (0, 2), (2, 4), (2, 4)]),
        (2, 1, [(0, 1), (1, 3), (1, 3), (3, 5)]),
        (3, 2, [(0, 2), (0, 2), (2, 5), (2, 5)]),
    ],
)
def test_overage_periods_and_the_cycle_that_bills_them(
    interval: int, offset: int, periods: list[tuple[int, int]]
) -> None:
    card = EntitlementOverageRateCard.model_validate(overage(interval=interval, start_offset=offset))
    assert [rate_cards.overage_period(card, i) for i in range(4)] == periods
    # the cycle that ends its period bills it
    assert [rate_cards.applies(card, i) for i in range(4)] == [i == end - 1 for i, (_, end) in enumerate(periods)]


def test_a_cycle_grants_its_entitlement_and_the_overage_of_its_period() -> None:
    v = view(
        {"billingEntitlementRateCards": [entitlement()], "entitlementOverageRateCards": [overage()]},
        datetime(2024, 1, 15, tzinfo=UTC),
    )
    cycle, index = cycle_at(v, datetime(2024, 3, 10, tzinfo=UTC))
    assert index == 2  # 15-31 Jan (partial), Feb, Mar
    grant, room = cycle_grants(v, cycle, index, UTC)
    assert (grant.entry_id, grant.source, grant.granted) == (f"{v.id}#20240301$PRICE_PLAN", "PRICE_PLAN", Decimal(100))
    assert (grant.starts, grant.ends) == (datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 4, 1, tzinfo=UTC))
    assert (room.entry_id, room.granted) == (f"{v.id}#20240301$OVERAGE", Decimal(50))
    assert (room.starts, room.ends) == (datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 4, 1, tzinfo=UTC))
    # the partial first cycle grants from the schedule's start, its id names the cycle's start
    first, zero = cycle_at(v, datetime(2024, 1, 20, tzinfo=UTC))
    grant, room = cycle_grants(v, first, zero, UTC)
    assert grant.entry_id == f"{v.id}#20240101$PRICE_PLAN"
    assert (grant.starts, grant.ends) == (datetime(2024, 1, 15, tzinfo=UTC), datetime(2024, 2, 15, tzinfo=UTC))
    assert (room.starts, room.ends) == (datetime(2024, 1, 15, tzinfo=UTC), datetime(2024, 2, 1, tzinfo=UTC))


def test_an_overage_period_of_two_cycles_is_one_entry_and_a_schedule_end_cuts_it() -> None:
    v = view(
        {"entitlementOverageRateCards": [overage(max_quantity=None, interval=2, start_offset=1)]},
        datetime(2024, 1, 1, tzinfo=UTC),
        end=datetime(2024, 3, 20, tzinfo=UTC),
    )
    seen = []
    for month in (1, 2, 3):
        cycle, index = cycle_at(v, datetime(2024, month, 5, tzinfo=UTC))
        [room] = cycle_grants(v, cycle, index, UTC)
        seen.append((room.entry_id.split("#")[1], room.starts, room.ends, room.granted))
    assert seen == [
        ("20240101$OVERAGE", datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 2, 1, tzinfo=UTC), None),
        ("20240201$OVERAGE", datetime(2024, 2, 1, tzinfo=UTC), datetime(2024, 3, 20, tzinfo=UTC), None),
        ("20240201$OVERAGE", datetime(2024, 2, 1, tzinfo=UTC), datetime(2024, 3, 20, tzinfo=UTC), None),
    ]


def test_what_a_cycle_does_not_grant() -> None:
    details = {
        "billingEntitlementRateCards": [
            entitlement(timing="PREPAID"),
            {**entitlement(units=0), "featureId": "feature.zero"},
            {**entitlement(), "featureId": "feature.odd", "recurrenceConfig": {"interval": 2, "offset": 1}},
        ],
        "entitlementOverageRateCards": [overage(max_quantity=0)],
    }
    v = view(details, datetime(2024, 1, 1, tzinfo=UTC))
    cycle, index = cycle_at(v, datetime(2024, 1, 5, tzinfo=UTC))
    assert cycle_grants(v, cycle, index, UTC) == []  # PREPAID waits, 0 units and 0 overage grant nothing, cycle 0 odd
    [prepaid] = cycle_grants(v, cycle, index, UTC, prepaid=True)
    assert prepaid.feature_id == "feature.a"
    cycle, index = cycle_at(v, datetime(2024, 2, 5, tzinfo=UTC))
    assert [g.feature_id for g in cycle_grants(v, cycle, index, UTC)] == ["feature.odd"]


def test_windows_follow_the_organization_calendar() -> None:
    # 31 January + P1M is the last day of February; the local time of day is kept across a DST change
    assert shifted(datetime(2024, 1, 31, tzinfo=UTC), "P1M", UTC) == datetime(2024, 2, 29, tzinfo=UTC)
    midnight_paris = datetime(2024, 3, 1, tzinfo=PARIS)
    assert shifted(midnight_paris, "P1M", PARIS) == datetime(2024, 4, 1, tzinfo=PARIS)
    assert shifted(midnight_paris, "P1M", PARIS).astimezone(UTC).hour == 22  # 00:00 CEST
    assert shifted(datetime(2024, 1, 1, 6, tzinfo=UTC), "P1Y2W3D", UTC) == datetime(2025, 1, 18, 6, tzinfo=UTC)


def test_a_window_past_the_calendar_end_ends_at_the_end_of_time() -> None:
    """A plan saved before durations were bounded (P7990Y passed the check from 2001): its entries end at
    9999-12-31, rather than every read of the account failing."""
    assert shifted(datetime(2026, 12, 1, tzinfo=UTC), "P7990Y", UTC) == datetime(9999, 12, 31, tzinfo=UTC)
    assert shifted(datetime(9999, 11, 1, tzinfo=UTC), "P2M", PARIS) == datetime(9999, 12, 31, tzinfo=UTC)
