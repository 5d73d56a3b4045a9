"""A plan's revenue per rate card for given usage, license quantities and proration. Pure (no I/O, no clock).

The revenue calculator answers with it, and the invoice builder will build its lines from the same results.
- Usage cards: the meter's usage priced by the card's slabs in the currency (billing-rules D4).
- License cards: the license's quantity priced by the card's slabs; with `enableProration` and daily quantities,
  each day is priced on its largest quantity and counts 1 / days of the cycle (D7).
- Fixed fees: the rate; with `enableProration` and a partial period, prorated by calendar days (D7).
- Credit grants: one grant priced by the card's slabs (it grants `creditAmount`).
- Billing entitlements: the units a cycle grants (`featureCreditLimit`) priced by the card's slabs.
- Entitlement overage: the overage used (units of the feature beyond its credits) priced by the card's slabs.
The minimum commitment is not a rate card here: its true-up is an invoice line (D8), computed there.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

from meterline import rating
from meterline.catalog import rate_cards

ONE = Decimal(1)


@dataclass(frozen=True)
class Proration:
    covered_days: int
    cycle_days: int


@dataclass(frozen=True)
class LicenseDays:
    """For prorated license cards: each day's largest quantity per license, and the days in the cycle."""

    daily: dict[str, list[Decimal]]
    cycle_days: int


@dataclass(frozen=True)
class CardRevenue:
    kind: str  # USAGE | LICENSE | FIXED_FEE | CREDIT_GRANT | BILLING_ENTITLEMENT | ENTITLEMENT_OVERAGE
    card: dict[str, Any]  # the rate card as the plan has it
    billable_id: str  # the meter id (usage), the add-on id, or the card's name (entitlement cards)
    quantity: Decimal | None  # usage, license quantity, units of a feature; None for fixed fees and credit grants
    priced: rating.Priced | None  # slab pricing (usage, license, credit grant)
    revenue: Decimal


def plan_revenue(
    details: dict[str, Any],
    currency: str,
    usage: dict[str, Decimal],
    licenses: dict[str, Decimal],
    proration: Proration | None = None,
    license_days: LicenseDays | None = None,
    memo: dict[tuple[int, str], tuple[Any, Any]] | None = None,
    overage: dict[str, Decimal] | None = None,
) -> list[CardRevenue]:
    """Every rate card's revenue in `currency`; cards not priced in it are left out. `memo` keeps the cards'
    parsed rate plans between calls on the same details (a bill run prices thousands of invoices on one plan).
    `overage`: feature id -> overage units used, for the entitlement overage cards."""
    out: list[CardRevenue] = []

    def parsed(card: dict[str, Any], make: Any) -> Any:
        if memo is None:
            return make()
        found = memo.get((id(card), currency))
        if found is None or found[0] is not card:  # the card itself is kept, so its id cannot be reused
            found = memo[(id(card), currency)] = (card, make())
        return found[1]

    for kind, key, billable, quantities in (
        ("USAGE", "usageRateCards", "usageMeterId", usage),
        ("LICENSE", "licenseRateCards", "id", licenses),
    ):
        for i, card in enumerate(details.get(key, [])):
            if rate_cards.rate_value_for(card, currency) is None:
                continue
            qty = quantities.get(card[billable], Decimal(0))
            plan = parsed(card, partial(rate_cards.slab_rate_plan, card, currency, f"{key}[{i}]"))
            if kind == "LICENSE" and card.get("enableProration") and license_days is not None:
                days = license_days.daily.get(card[billable], [])
                priced = rating.price_days(plan, days, license_days.cycle_days, currency)
            else:
                priced = rating.price(plan, qty, currency)
            out.append(CardRevenue(kind, card, card[billable], qty, priced, priced.revenue))
    for i, card in enumerate(details.get("fixedFeeRateCards", [])):
        if rate_cards.rate_value_for(card, currency) is None:
            continue
        rate = rate_cards.flat_rate(card, currency, f"fixedFeeRateCards[{i}]")
        if card.get("enableProration") and proration is not None:
            amount = rating.prorate(rate, proration.covered_days, proration.cycle_days, currency)
        else:
            amount = rating.fixed_amount(rate, currency)
        out.append(CardRevenue("FIXED_FEE", card, card["id"], None, None, amount))
    for i, card in enumerate(details.get("creditGrantRateCards", [])):
        if not any(d["currency"] == currency for d in card["rateDetails"]["currencySlabRateDetails"]):
            continue
        where = f"creditGrantRateCards[{i}]"
        plan, _credit = parsed(card, partial(rate_cards.credit_grant_rate_plan, card, currency, where))
        priced = rating.price(plan, ONE, currency)
        out.append(CardRevenue("CREDIT_GRANT", card, card["id"], None, priced, priced.revenue))
    for kind, key in (
        ("BILLING_ENTITLEMENT", "billingEntitlementRateCards"),
        ("ENTITLEMENT_OVERAGE", "entitlementOverageRateCards"),
    ):
        for i, card in enumerate(details.get(key, [])):
            if rate_cards.rate_value_for(card, currency) is None:
                continue
            if kind == "BILLING_ENTITLEMENT":
                qty = Decimal(card["featureConfigs"][0]["featureCreditLimit"])
            else:
                qty = (overage or {}).get(card["featureId"], Decimal(0))
            plan = parsed(card, partial(rate_cards.slab_rate_plan, card, currency, f"{key}[{i}]"))
            priced = rating.price(plan, qty, currency)
            out.append(CardRevenue(kind, card, card["name"], qty, priced, priced.revenue))
    return out
