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
`with_rules` then applies the plan's pricing rules (revenue/pricing_rules.py) to those results, as invoices do.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

from meterline import rating
from meterline.catalog import plan_model, rate_cards
from meterline.catalog.plan_model import PlanModel, RateCard, SlabCard
from meterline.catalog.plan_schemas import LicenseRateCard
from meterline.revenue import pricing_rules
from meterline.revenue.pricing_rules import AccountFacts

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
    card: RateCard  # the rate card as the plan has it
    billable_id: str  # the meter id (usage), the add-on id, or the card's name (entitlement cards)
    quantity: Decimal | None  # usage, license quantity, units of a feature; None for fixed fees and credit grants
    priced: rating.Priced | None  # slab pricing (usage, license, credit grant)
    revenue: Decimal


def plan_revenue(
    model: PlanModel,
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

    def parsed(card: RateCard, make: Any) -> Any:
        if memo is None:
            return make()
        found = memo.get((id(card), currency))
        if found is None or found[0] is not card:  # the card itself is kept, so its id cannot be reused
            found = memo[(id(card), currency)] = (card, make())
        return found[1]

    def slab_card(kind: str, key: str, i: int, card: SlabCard, billable: str, qty: Decimal) -> CardRevenue:
        plan = parsed(card, partial(rate_cards.slab_rate_plan, card, currency, f"{key}[{i}]"))
        if isinstance(card, LicenseRateCard) and card.enable_proration and license_days is not None:
            days = license_days.daily.get(billable, [])
            priced = rating.price_days(plan, days, license_days.cycle_days, currency)
        else:
            priced = rating.price(plan, qty, currency)
        return CardRevenue(kind, card, billable, qty, priced, priced.revenue)

    for i, usage_card in enumerate(model.usage_cards):
        if plan_model.priced_in(usage_card, currency):
            meter = usage_card.usage_meter_id
            out.append(slab_card("USAGE", "usageRateCards", i, usage_card, meter, usage.get(meter, Decimal(0))))
    for i, license_card in enumerate(model.license_cards):
        if plan_model.priced_in(license_card, currency):
            seats = licenses.get(license_card.id, Decimal(0))
            out.append(slab_card("LICENSE", "licenseRateCards", i, license_card, license_card.id, seats))
    for i, fee in enumerate(model.fixed_fee_cards):
        if not plan_model.priced_in(fee, currency):
            continue
        rate = rate_cards.flat_rate(fee, currency, f"fixedFeeRateCards[{i}]")
        if fee.enable_proration and proration is not None:
            amount = rating.prorate(rate, proration.covered_days, proration.cycle_days, currency)
        else:
            amount = rating.fixed_amount(rate, currency)
        out.append(CardRevenue("FIXED_FEE", fee, fee.id, None, None, amount))
    for i, grant in enumerate(model.credit_grant_cards):
        if not plan_model.priced_in(grant, currency):
            continue
        where = f"creditGrantRateCards[{i}]"
        plan, _credit = parsed(grant, partial(rate_cards.credit_grant_rate_plan, grant, currency, where))
        priced = rating.price(plan, ONE, currency)
        out.append(CardRevenue("CREDIT_GRANT", grant, grant.id, None, priced, priced.revenue))
    for i, entitlement in enumerate(model.billing_entitlement_cards):
        if plan_model.priced_in(entitlement, currency):
            units = entitlement.feature_configs[0].feature_credit_limit
            name = plan_model.card_name(entitlement)
            out.append(slab_card("BILLING_ENTITLEMENT", "billingEntitlementRateCards", i, entitlement, name, units))
    for i, card in enumerate(model.entitlement_overage_cards):
        if plan_model.priced_in(card, currency):
            used = (overage or {}).get(card.feature_id, Decimal(0))
            name = plan_model.card_name(card)
            out.append(slab_card("ENTITLEMENT_OVERAGE", "entitlementOverageRateCards", i, card, name, used))
    return out


@dataclass(frozen=True)
class Ruled:
    """Cards after the plan's pricing rules (in their order), and what the rules did (in arrears, in advance)."""

    cards: list[CardRevenue]
    before: list[CardRevenue]  # as rated, before the rules
    outcomes: tuple[pricing_rules.Outcome, ...]

    @property
    def changes(self) -> list[pricing_rules.Change]:
        return [c for o in self.outcomes for c in o.changes]

    @property
    def log(self) -> list[pricing_rules.LogEntry]:
        return [e for o in self.outcomes for e in o.log]


def with_rules(model: PlanModel, cards: list[CardRevenue], currency: str, account: AccountFacts | None = None) -> Ruled:
    """The plan's pricing rules over its rated cards: the in-arrears rules over the cards billed in arrears, the
    in-advance rules over those billed at the cycle's start, each timing as its invoice applies them."""
    if not model.pricing_rules:
        return Ruled(cards, cards, ())
    at_start = [plan_model.timing(c.card) in plan_model.BILLED_AT_START for c in cards]
    arrears = pricing_rules.apply(
        plan_model.rules_of(model, "IN_ARREARS"),
        [c for c, a in zip(cards, at_start, strict=True) if not a],
        currency,
        account,
    )
    advance = pricing_rules.apply(
        plan_model.rules_of(model, "IN_ADVANCE"),
        [c for c, a in zip(cards, at_start, strict=True) if a],
        currency,
        account,
    )
    left_arrears, left_advance = iter(arrears.cards), iter(advance.cards)
    ruled = [next(left_advance) if a else next(left_arrears) for a in at_start]
    return Ruled(ruled, cards, (arrears, advance))
