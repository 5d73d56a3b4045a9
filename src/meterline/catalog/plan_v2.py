"""Price plans v2 as a view of the v1 details (docs/pricing.md, "Price plans v2"): pure, no I/O.

A v2 plan is the same plan and version rows as v1; its named rate cards are the details' cards, each under its
`name` (plan_rules.normalize gives every card one; the minimum commitment is `minimum_commitment` unless v2 named
it). This module reads cards through the typed `PlanModel` and makes the details' JSON back from typed cards (it is
one of the places where plan JSON is made, as the console's builder is); `settle` runs catalog/plan_rules.py on each
card of a draft, so that every card's error is known, not only the first one.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from meterline.catalog import plan_model, plan_rules
from meterline.catalog.plan_model import PlanModel, RateCard
from meterline.catalog.plan_schemas import (
    BillingEntitlementRateCard,
    CreditGrantRateCard,
    EntitlementOverageRateCard,
    FixedFeeRateCard,
    InvoiceTiming,
    LicenseRateCard,
    MinimumCommitment,
    UsageRateCard,
)
from meterline.core.errors import BadRequest, MeterlineError

RateCardType = Literal[
    "USAGE",
    "FIXED_FEE",
    "LICENSE",
    "CREDIT_GRANT",
    "BILLING_ENTITLEMENT",
    "ENTITLEMENT_OVERAGE",
    "MINIMUM_COMMITMENT",
]
AnyCard = RateCard | MinimumCommitment

# v2 type -> (the v1 details' key, the field of v2's rateCardDetails, the card's model); in the order invoices list
# the cards (plan_model.PlanModel.cards), the commitment last
KINDS: dict[RateCardType, tuple[str, str, type[AnyCard]]] = {
    "USAGE": ("usageRateCards", "usage_rate_card", UsageRateCard),
    "LICENSE": ("licenseRateCards", "license_rate_card", LicenseRateCard),
    "FIXED_FEE": ("fixedFeeRateCards", "fixed_fee_rate_card", FixedFeeRateCard),
    "CREDIT_GRANT": ("creditGrantRateCards", "credit_grant_rate_card", CreditGrantRateCard),
    "BILLING_ENTITLEMENT": ("billingEntitlementRateCards", "billing_entitlement_rate_card", BillingEntitlementRateCard),
    "ENTITLEMENT_OVERAGE": ("entitlementOverageRateCards", "entitlement_overage_rate_card", EntitlementOverageRateCard),
    "MINIMUM_COMMITMENT": ("minimumCommitment", "minimum_commitment_rate_card", MinimumCommitment),
}
MAX_CARDS_OF_A_TYPE = 50  # v1's bound on each list of cards (catalog/plan_schemas.py), which stored details are read by
COMMITMENT_NAME = "minimum_commitment"  # the name of a commitment stored before commitments had one
ARREARS_ONLY = ("USAGE", "ENTITLEMENT_OVERAGE", "MINIMUM_COMMITMENT")
WITH_TIMING = ("FIXED_FEE", "LICENSE", "CREDIT_GRANT", "BILLING_ENTITLEMENT")


@dataclass(frozen=True)
class NamedCard:
    """A plan card as v2 sees it."""

    type: RateCardType
    card: AnyCard

    @property
    def name(self) -> str:
        if isinstance(self.card, MinimumCommitment):
            return self.card.name or COMMITMENT_NAME
        return plan_model.card_name(self.card)

    @property
    def billable_id(self) -> str:
        """The meter, the add-on or the feature; a commitment bills nothing and answers its name."""
        card = self.card
        if isinstance(card, MinimumCommitment):
            return self.name
        if isinstance(card, (BillingEntitlementRateCard, EntitlementOverageRateCard)):
            return card.feature_id
        return plan_model.billable_id(card)

    @property
    def display_name(self) -> str:
        if isinstance(self.card, MinimumCommitment):
            return self.card.display_name
        return self.card.display_name or self.name or self.billable_id

    @property
    def invoice_timing(self) -> InvoiceTiming:
        if isinstance(self.card, MinimumCommitment):
            return "IN_ARREARS"
        return plan_model.timing(self.card)

    @property
    def tag(self) -> str | None:
        return None if isinstance(self.card, MinimumCommitment) else self.card.tag

    def currencies(self) -> list[str]:
        """The currencies the card has a price in."""
        card = self.card
        if isinstance(card, CreditGrantRateCard):
            return [d.currency for d in card.rate_details.currency_slab_rate_details]
        return [v.currency for v in card.rate_values]


def named_cards(model: PlanModel) -> list[NamedCard]:
    """Every card of the plan with its v2 type, in invoice order, the minimum commitment last."""
    out: list[NamedCard] = []
    for card in model.cards():
        kind = next(k for k, (_, _, m) in KINDS.items() if isinstance(card, m))
        out.append(NamedCard(kind, card))
    if model.minimum_commitment is not None:
        out.append(NamedCard("MINIMUM_COMMITMENT", model.minimum_commitment))
    return out


def details_with(model: PlanModel, cards: Sequence[NamedCard], **changes: Any) -> dict[str, Any]:
    """The details' JSON with these cards (grouped by type, each group in the given order) in place of the model's,
    and `changes` (JSON keys) applied to the rest."""
    details = model.details.model_dump(by_alias=True, exclude_none=True)
    for key, _, _ in KINDS.values():
        details.pop(key, None)
    details.update(changes)
    details = {k: v for k, v in details.items() if v is not None}
    for kind, (key, _, _) in KINDS.items():
        group = [c.card.model_dump(by_alias=True, exclude_none=True) for c in cards if c.type == kind]
        if kind == "MINIMUM_COMMITMENT":
            if group:
                details[key] = group[0]
        elif group:
            details[key] = group
    return details


# -- bulk operations ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CardInput:
    """What a v2 operation gives for a card (RateCardData, typed by the endpoint's schema)."""

    type: RateCardType
    billable_id: str
    display_name: str | None
    invoice_timing: InvoiceTiming
    tag: str | None
    details: dict[str, AnyCard | None]  # rateCardDetails' fields (snake_case) -> the card given in each


@dataclass(frozen=True)
class Operation:
    action: Literal["CREATE", "UPDATE", "DELETE"]
    name: str
    card: CardInput | None


def card_from_input(name: str, given: CardInput, where: str) -> NamedCard:
    """The v1 card a v2 rate card stands for: its one sub-card, named, with the outer displayName, tag and
    invoiceTiming; BadRequest when the parts disagree."""
    field = KINDS[given.type][1]
    present = [f for f, card in given.details.items() if card is not None]
    card = given.details.get(field)
    if card is None or len(present) != 1:
        raise BadRequest(
            f"{where}.rateCardDetails: a {given.type} rate card gives exactly one card, "
            f"{_camel(field)} (got {', '.join(map(_camel, present)) or 'none'})"
        )
    update: dict[str, Any] = {"name": name}
    if given.display_name is not None:
        update["display_name"] = given.display_name
    if given.type in ARREARS_ONLY:
        if given.invoice_timing != "IN_ARREARS":
            raise BadRequest(f"{where}.invoiceTiming: a {given.type} rate card is billed IN_ARREARS")
    else:
        update["invoice_timing"] = given.invoice_timing
    if given.type != "MINIMUM_COMMITMENT":
        if given.tag is not None:
            update["tag"] = given.tag
        inner = NamedCard(given.type, card).billable_id
        if inner != given.billable_id:
            raise BadRequest(
                f"{where}.billableId: {given.billable_id!r} is not what its {_camel(field)} bills ({inner!r})"
            )
    return NamedCard(given.type, card.model_copy(update=update))


def apply(cards: list[NamedCard], operations: Sequence[Operation]) -> tuple[list[NamedCard], list[str]]:
    """The cards after the operations, in order, and the names of those created or updated (in operation order)."""
    out = list(cards)
    touched: list[str] = []
    for i, op in enumerate(operations):
        where = f"operations[{i}]"
        at = next((n for n, c in enumerate(out) if c.name == op.name), None)
        if op.action == "DELETE":
            if at is None:
                raise BadRequest(f"{where}.rateCardName: the plan has no rate card {op.name!r}")
            del out[at]
            touched = [t for t in touched if t != op.name]
            continue
        if op.card is None:
            raise BadRequest(f"{where}.rateCard is required for {op.action}")
        card = card_from_input(op.name, op.card, f"{where}.rateCard")
        if op.action == "CREATE":
            if at is not None:
                raise BadRequest(f"{where}.rateCardName: the plan already has a rate card {op.name!r}")
            if card.type == "MINIMUM_COMMITMENT":
                other = next((c.name for c in out if c.type == "MINIMUM_COMMITMENT"), None)
                if other is not None:
                    raise BadRequest(f"{where}: the plan already has its minimum commitment, {other!r}")
            out.append(card)
        else:
            if at is None:
                raise BadRequest(f"{where}.rateCardName: the plan has no rate card {op.name!r}")
            out[at] = card
        if sum(1 for c in out if c.type == card.type) > MAX_CARDS_OF_A_TYPE:
            raise BadRequest(f"{where}: a plan has at most {MAX_CARDS_OF_A_TYPE} {card.type} rate cards")
        if op.name not in touched:
            touched.append(op.name)
    return out, touched


# -- validation, per card ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CardError:
    entity_type: Literal["PRICE_PLAN", "RATE_CARD", "PRICING_RULE"]
    entity_id: str  # the plan's id, the card's name or the rule's name
    message: str


_WHERE = re.compile(r"pricePlanDetails\.(\w+)(?:\[(\d+)\])?(\.?\s?)")


def _card_message(message: str, trial: dict[str, Any]) -> str:
    """plan_rules' message in v2's words: without the v1 path of the card (the error names the card), and any
    other card it names by its name."""
    first = True

    def word(match: re.Match[str]) -> str:
        nonlocal first
        if first:
            first = False
            return ""
        key, index, tail = match.groups()
        cards = trial.get(key)
        if index is not None and isinstance(cards, list) and int(index) < len(cards):
            return f"rate card {cards[int(index)].get('name')!r}{tail}"
        return match.group(0)

    return _WHERE.sub(word, message).lstrip(": ") or message


def _card_dicts(details: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    for key, _, _ in KINDS.values():
        value = details.get(key)
        if isinstance(value, dict):
            out.append((key, value))
        elif isinstance(value, list):
            out.extend((key, card) for card in value)
    return out


def _assemble(base: dict[str, Any], cards: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    details = copy.deepcopy(base)
    for key, card in cards:
        if key == "minimumCommitment":
            details[key] = copy.deepcopy(card)
        else:
            details.setdefault(key, []).append(copy.deepcopy(card))
    return details


@dataclass(frozen=True)
class Settled:
    details: dict[str, Any]  # normalized where valid; the invalid cards as given
    errors: list[CardError]


def settle(details: dict[str, Any], plan_type: str, catalog: plan_rules.CatalogView, plan_id: str) -> Settled:
    """Run catalog/plan_rules.py over a draft: the plan's own fields first (their error is the plan's), then each
    card with the cards before it that passed (a card's error is its own, and a clash is the later card's), then
    each pricing rule against the valid cards. The details come back normalized where they are valid."""
    try:
        return Settled(plan_rules.normalize(copy.deepcopy(details), plan_type, catalog), [])
    except MeterlineError:
        pass
    cards = _card_dicts(details)
    rules = details.get("pricingRules") or []
    base = {k: v for k, v in details.items() if k not in {key for key, _ in cards} and k != "pricingRules"}
    try:
        plan_rules.normalize(copy.deepcopy(base), plan_type, catalog)
    except MeterlineError as exc:
        return Settled(details, [CardError("PRICE_PLAN", plan_id, exc.message)])
    accepted: list[tuple[str, dict[str, Any]]] = []
    errors: list[CardError] = []
    for key, card in cards:
        trial = _assemble(base, [*accepted, (key, card)])
        try:
            plan_rules.normalize(copy.deepcopy(trial), plan_type, catalog)
            accepted.append((key, card))
        except MeterlineError as exc:
            name = str(card.get("name") or (COMMITMENT_NAME if key == "minimumCommitment" else key))
            errors.append(CardError("RATE_CARD", name, _card_message(exc.message, trial)))
    valid_details = plan_rules.normalize(_assemble(base, accepted), plan_type, catalog)
    valid = iter(_card_dicts(valid_details))
    accepted_ids = {id(card) for _, card in accepted}
    out = [(key, next(valid)[1] if id(card) in accepted_ids else card) for key, card in cards]
    settled = _assemble(plan_rules.normalize(copy.deepcopy(base), plan_type, catalog), out)
    if rules:
        checked, rule_errors = _check_rules(rules, plan_model.parse(valid_details).cards())
        errors.extend(rule_errors)
        settled["pricingRules"] = checked
    return Settled(settled, errors)


def _check_rules(
    rules: list[dict[str, Any]], cards: tuple[RateCard, ...]
) -> tuple[list[dict[str, Any]], list[CardError]]:
    """The rules checked one by one against the valid cards (each rule's error its own), then together (orders
    given twice); normalized when all pass, else as given."""
    errors: list[CardError] = []
    for rule in rules:
        try:
            plan_rules.check_pricing_rules([copy.deepcopy(rule)], cards, "rule")
        except MeterlineError as exc:
            name = str(rule.get("name") or rule.get("id") or "pricingRules")
            errors.append(CardError("PRICING_RULE", name, re.sub(r"^rule\[0\]\.?\s?", "", exc.message).lstrip(": ")))
    if errors:
        return rules, errors
    try:
        return plan_rules.check_pricing_rules(copy.deepcopy(rules), cards), []
    except MeterlineError as exc:
        return rules, [CardError("PRICING_RULE", "pricingRules", exc.message)]


def activation_errors(
    model: PlanModel, active_before: Sequence[str], meters: dict[str, str], plan_id: str
) -> list[CardError]:
    """What else blocks finalizing (v2 activates every supported currency): each card must be priced in each of
    them, its usage meter ACTIVE, and the currencies active before must stay supported."""
    errors: list[CardError] = []
    missing = sorted(set(active_before) - set(model.currencies))
    if missing:
        errors.append(
            CardError("PRICE_PLAN", plan_id, f"supportedCurrencies: {', '.join(missing)} is active and must stay")
        )
    for card in named_cards(model):
        unpriced = [c for c in model.currencies if c not in card.currencies()]
        if unpriced:
            errors.append(
                CardError(
                    "RATE_CARD", card.name, f"rateValues: no rates in {', '.join(unpriced)} (a supported currency)"
                )
            )
        if isinstance(card.card, UsageRateCard) and meters.get(card.card.usage_meter_id) != "ACTIVE":
            errors.append(
                CardError(
                    "RATE_CARD",
                    card.name,
                    f"usageMeterId: usage meter {card.card.usage_meter_id} is not ACTIVE: activate it first",
                )
            )
    return errors


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(p.title() for p in rest)
