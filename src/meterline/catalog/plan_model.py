"""A price plan's details as typed values: parsed once, where they are read (docs/architecture.md, "Plan details").

Plan details are stored and answered as the API's JSON (camelCase, exact decimals: catalog/plan_repository.py);
code reads them as a `PlanModel`. There is one description of every field, the API's own models
(catalog/plan_schemas.py: `CreatePricePlanDetails` and its cards), so parsing is their validation; the model groups
the cards by type and adds what every consumer asks of a card (its billable id, its timing, its rates in a
currency). The rule: no plan-detail dictionary is read by key outside this module, catalog/plan_rules.py (which
makes the JSON valid and complete before it is stored) and catalog/rate_cards.py (which turns a card's config
strings into the rating engine's numbers).

Parsing is cached by the stored text: a plan version's details do not change once the plan is ACTIVE, and a DRAFT
plan's version 1, edited in place, gets a new text (so a new entry). The models are shared between callers: read
them, never change them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from meterline.catalog.plan_repository import decode_details
from meterline.catalog.plan_schemas import (
    BillingEntitlementRateCard,
    CreatePricePlanDetails,
    CreditGrantRateCard,
    CurrencyRateValue,
    CurrencySlabRateDetail,
    EntitlementOverageRateCard,
    FixedFeeRateCard,
    InvoiceTiming,
    LicenseRateCard,
    MinimumCommitment,
    PricingCycleConfig,
    PricingRule,
    RateValue,
    UsageRateCard,
)
from meterline.core.numbers import STORED

# the cards priced by slabs (a ratePlan and rateValues per currency)
SlabCard = UsageRateCard | LicenseRateCard | BillingEntitlementRateCard | EntitlementOverageRateCard
RateCard = SlabCard | FixedFeeRateCard | CreditGrantRateCard
SLAB_CARDS = (UsageRateCard, LicenseRateCard, BillingEntitlementRateCard, EntitlementOverageRateCard)
IN_ARREARS: InvoiceTiming = "IN_ARREARS"
BILLED_AT_START = ("IN_ADVANCE", "PREPAID")  # the timings whose cards an in-advance invoice bills


@dataclass(frozen=True)
class PlanModel:
    """A plan version's details (with a schedule's override applied, when read through a schedule)."""

    details: CreatePricePlanDetails
    cycle: PricingCycleConfig | None
    currencies: tuple[str, ...]  # supportedCurrencies
    usage_cards: tuple[UsageRateCard, ...]
    fixed_fee_cards: tuple[FixedFeeRateCard, ...]
    license_cards: tuple[LicenseRateCard, ...]
    credit_grant_cards: tuple[CreditGrantRateCard, ...]
    billing_entitlement_cards: tuple[BillingEntitlementRateCard, ...]
    entitlement_overage_cards: tuple[EntitlementOverageRateCard, ...]
    minimum_commitment: MinimumCommitment | None
    deferred_revenue: bool
    pricing_rules: tuple[PricingRule, ...] = ()  # in evaluation order (`order`): docs/pricing.md, "Pricing rules"

    @property
    def has_entitlement_cards(self) -> bool:
        return bool(self.billing_entitlement_cards or self.entitlement_overage_cards)

    @property
    def usage_meter_ids(self) -> list[str]:
        return [card.usage_meter_id for card in self.usage_cards]

    def cards(self) -> tuple[RateCard, ...]:
        """Every rate card, in the order invoices list them (the minimum commitment is not a card)."""
        return (
            *self.usage_cards,
            *self.license_cards,
            *self.fixed_fee_cards,
            *self.credit_grant_cards,
            *self.billing_entitlement_cards,
            *self.entitlement_overage_cards,
        )

    def billed_at_start(self, currency: str) -> list[RateCard]:
        """The cards billed in advance (IN_ADVANCE or PREPAID) that have a price in `currency`."""
        cards: list[RateCard] = [
            *self.fixed_fee_cards,
            *self.license_cards,
            *self.credit_grant_cards,
            *self.billing_entitlement_cards,
        ]
        return [c for c in cards if priced_in(c, currency) and timing(c) in BILLED_AT_START]


def _model(details: CreatePricePlanDetails) -> PlanModel:
    return PlanModel(
        details=details,
        cycle=details.pricing_cycle_config,
        currencies=tuple(details.supported_currencies),
        usage_cards=tuple(details.usage_rate_cards or ()),
        fixed_fee_cards=tuple(details.fixed_fee_rate_cards or ()),
        license_cards=tuple(details.license_rate_cards or ()),
        credit_grant_cards=tuple(details.credit_grant_rate_cards or ()),
        billing_entitlement_cards=tuple(details.billing_entitlement_rate_cards or ()),
        entitlement_overage_cards=tuple(details.entitlement_overage_rate_cards or ()),
        minimum_commitment=details.minimum_commitment,
        deferred_revenue=bool(details.deferred_revenue),
        pricing_rules=tuple(sorted(details.pricing_rules or (), key=lambda rule: rule.order)),
    )


def parse(details: Mapping[str, Any]) -> PlanModel:
    """Details as stored and answered (camelCase, exact decimals) as a model; uncached (inline details). Numbers
    are read exactly as they are: stored ones passed the number rule of their day (core/numbers.py)."""
    return _model(CreatePricePlanDetails.model_validate(details, context={STORED: True}))


@lru_cache(maxsize=512)
def parse_stored(text: str) -> PlanModel:
    """A stored version's details (their exact JSON text), parsed once per text."""
    return parse(decode_details(text))


def with_override(
    details: Mapping[str, Any], override: Mapping[str, Any] | None, offsets: tuple[str, str] | None
) -> dict[str, Any]:
    """A schedule's details: its plan version's, with the account's override (whole lists replace the plan's) and
    the cycle offsets the schedule really bills on (anniversary, retained), as JSON."""
    merged = {**details, **(override or {})}
    if offsets is not None:
        day_offset, month_offset = offsets
        merged["pricingCycleConfig"] = {
            **merged["pricingCycleConfig"],
            "startOffset": {"dayOffset": day_offset, "monthOffset": month_offset},
        }
    return merged


@dataclass(frozen=True)
class StoredDetails:
    """What a schedule's details are made of, as stored: its plan version's text, the account's override, the
    cycle offsets it bills on. Parsed when first read (a plan that cannot be parsed fails what reads it, not every
    read of the account), once per combination."""

    version: str
    override: str | None = None
    offsets: tuple[str, str] | None = None

    @property
    def model(self) -> PlanModel:
        return _parse_schedule(self)


@lru_cache(maxsize=1024)
def _parse_schedule(stored: StoredDetails) -> PlanModel:
    override = decode_details(stored.override) if stored.override is not None else None
    return parse(with_override(decode_details(stored.version), override, stored.offsets))


# -- what every consumer asks of a card ------------------------------------------------------------------------------
def billable_id(card: RateCard) -> str:
    """What a card bills: the usage meter (usage cards), the add-on (fixed fee, license, credit grant), the card's
    name (entitlement cards: a feature may have one card of each kind)."""
    if isinstance(card, UsageRateCard):
        return card.usage_meter_id
    if isinstance(card, (BillingEntitlementRateCard, EntitlementOverageRateCard)):
        return card_name(card)
    return card.id


def rules_of(model: PlanModel, timing: str) -> tuple[PricingRule, ...]:
    """The model's pricing rules applied on invoices of one timing (IN_ADVANCE or IN_ARREARS, the default)."""
    return tuple(r for r in model.pricing_rules if (r.invoice_timing or IN_ARREARS) == timing)


RULE_KEY_PREFIXES = {"USAGE": "urc.", "FIXED_FEE": "ff."}  # Togai's keys: `revenue.urc.<meter>`, `revenue.ff.<add-on>`


def card_kind(card: RateCard) -> str:
    """USAGE, LICENSE, FIXED_FEE, CREDIT_GRANT, BILLING_ENTITLEMENT or ENTITLEMENT_OVERAGE."""
    if isinstance(card, UsageRateCard):
        return "USAGE"
    if isinstance(card, LicenseRateCard):
        return "LICENSE"
    if isinstance(card, FixedFeeRateCard):
        return "FIXED_FEE"
    if isinstance(card, CreditGrantRateCard):
        return "CREDIT_GRANT"
    if isinstance(card, BillingEntitlementRateCard):
        return "BILLING_ENTITLEMENT"
    return "ENTITLEMENT_OVERAGE"


def rule_keys(card: RateCard) -> tuple[str, ...]:
    """The names a pricing rule may call a card by (`usage.<key>`, `revenue.<key>`): its name, what it bills, and
    Togai's key for usage (`urc.<meter id>`) and fixed-fee (`ff.<add-on id>`) cards; the name comes first."""
    keys = [card_name(card), billable_id(card)]
    prefix = RULE_KEY_PREFIXES.get(card_kind(card))
    if prefix is not None:
        keys.append(prefix + billable_id(card))
    return tuple(dict.fromkeys(k for k in keys if k))


def card_name(card: RateCard) -> str:
    """The card's name (plan_rules.normalize gives every stored card one)."""
    return card.name or ""


def label(card: RateCard) -> str:
    """How invoices name a card: its display name, else its name, else what it bills."""
    return card.display_name or card.name or billable_id(card)


def timing(card: RateCard) -> InvoiceTiming:
    """When the card is invoiced; usage and overage cards always in arrears."""
    if isinstance(card, (UsageRateCard, EntitlementOverageRateCard)):
        return IN_ARREARS
    return card.invoice_timing or IN_ARREARS


def rate_value(card: SlabCard, currency: str) -> RateValue | None:
    return next((v for v in card.rate_values if v.currency == currency), None)


def flat_rate_value(card: FixedFeeRateCard | MinimumCommitment, currency: str) -> CurrencyRateValue | None:
    return next((v for v in card.rate_values if v.currency == currency), None)


def credit_detail(card: CreditGrantRateCard, currency: str) -> CurrencySlabRateDetail | None:
    return next((d for d in card.rate_details.currency_slab_rate_details if d.currency == currency), None)


def priced_in(card: RateCard | MinimumCommitment, currency: str) -> bool:
    """Whether the card has a price in `currency`."""
    if isinstance(card, CreditGrantRateCard):
        return credit_detail(card, currency) is not None
    if isinstance(card, (FixedFeeRateCard, MinimumCommitment)):
        return flat_rate_value(card, currency) is not None
    return rate_value(card, currency) is not None
