"""The invoice builder: rated rate cards, a commitment and charges -> Togai's line tree. Pure (no I/O, no clock).

Trees (Togai's invoice line items; every parent is the exact sum of its children, D1):

STANDARD (in arrears, one per account, schedule and cycle; D8, D11, D12)
    TOTAL_AMOUNT                      max(0, NET + charges): a discount never takes the invoice below 0
      NET_AMOUNT                      GROSS - TOTAL_CREDITS (SUB_CREDITS per credit, D9)
        GROSS_AMOUNT                  PRICE_PLAN - what the cycle's in-advance invoice already billed
          PRICE_PLAN_AMOUNT           SUB_TOTAL + TRUE_UP
            SUB_TOTAL_AMOUNT          every rate card of the cycle, in advance and in arrears (D8)
              USAGE_RATE_CARD_AMOUNT  (USAGE_RATE_CARD_SLAB_AMOUNT per slab, RATE_CONFIG_ADJUSTMENT_AMOUNT)
              FIXED_FEE_RATE_CARD_AMOUNT, LICENSE_RATE_CARD_AMOUNT (+ slabs), CREDIT_GRANT_RATE_CARD_AMOUNT,
              BILLING_ENTITLEMENT_RATE_CARD_AMOUNT, ENTITLEMENT_OVERAGE_RATE_CARD_AMOUNT (+ slabs)
              PRICING_RULE_*_UPDATE_AMOUNT  after the card an in-arrears pricing rule updated (revenue/pricing_rules.py)
              TOTAL_PRICING_RULE_ADDITION_AMOUNT  PRICING_RULE_ADDITION_AMOUNT per ADD rule that applied
              TOTAL_ADVANCED_FEES     the in-advance cards (ADVANCED_*), when the cycle has any, with the in-advance
                                      rules' lines as the cycle's in-advance invoice has them
            TRUE_UP_AMOUNT            max(0, commitment - SUB_TOTAL), prorated for a partial cycle
          CUSTOM_AMOUNT               minus TOTAL_ADVANCED_FEES: "Invoiced in advance"
      TOTAL_MISCELLANEOUS_CHARGES     MISCELLANEOUS_CHARGE per charge

STANDARD_ADVANCED (the in-advance cards of a cycle, finalized at its start; D7)
    TOTAL_AMOUNT > NET_AMOUNT > GROSS_AMOUNT > TOTAL_ADVANCED_FEES > ADVANCED_* (+ slabs)

CUSTOM (POST /invoices)
    TOTAL_AMOUNT > NET_AMOUNT > GROSS_AMOUNT > CUSTOM_AMOUNT per line; plus TOTAL_MISCELLANEOUS_CHARGES

Line ids are stable so that a charge's jsonLogic can name them: a card's line is its billable's id (the usage
meter or add-on id; an entitlement card's name), a slab `<card>:slab:<order>`, an aggregate its type.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from meterline.catalog import plan_model
from meterline.catalog.plan_model import SLAB_CARDS, SlabCard
from meterline.catalog.plan_schemas import (
    BillingEntitlementRateCard,
    CreditGrantRateCard,
    EntitlementOverageRateCard,
    PricingRule,
)
from meterline.core import numbers
from meterline.core.money import EXACT, exact_sum, round_money
from meterline.invoicing import credit_application
from meterline.invoicing.credit_application import Applied, Available
from meterline.metering import jsonlogic
from meterline.rating import amounts
from meterline.revenue import pricing_rules
from meterline.revenue.compute import CardRevenue
from meterline.revenue.pricing_rules import AccountFacts, Outcome

ZERO = Decimal(0)
NO_CREDITS: list[Available] = []
LIMIT = numbers.LIMIT  # no charge or custom line reaches 10^15 (core/numbers.py): larger is a mistake, refused

CARD_TYPES = {
    "USAGE": ("USAGE_RATE_CARD_AMOUNT", "USAGE_RATE_CARD_SLAB_AMOUNT"),
    "LICENSE": ("LICENSE_RATE_CARD_AMOUNT", "LICENSE_RATE_CARD_SLAB_AMOUNT"),
    "FIXED_FEE": ("FIXED_FEE_RATE_CARD_AMOUNT", None),
    "CREDIT_GRANT": ("CREDIT_GRANT_RATE_CARD_AMOUNT", None),
    "BILLING_ENTITLEMENT": ("BILLING_ENTITLEMENT_RATE_CARD_AMOUNT", None),
    "ENTITLEMENT_OVERAGE": ("ENTITLEMENT_OVERAGE_RATE_CARD_AMOUNT", "ENTITLEMENT_OVERAGE_RATE_CARD_SLAB_AMOUNT"),
}
ADVANCED_TYPES = {
    "LICENSE": "ADVANCED_LICENSE_RATE_CARD_AMOUNT",
    "FIXED_FEE": "ADVANCED_FIXED_FEE",
    "CREDIT_GRANT": "ADVANCED_CREDIT_GRANT_RATE_CARD_AMOUNT",
    "BILLING_ENTITLEMENT": "ADVANCED_BILLING_ENTITLEMENT_RATE_CARD_AMOUNT",
}


class ChargeError(ValueError):
    """A miscellaneous charge whose value is neither a number nor jsonLogic that gives one."""


@dataclass(frozen=True)
class Line:
    id: str
    description: str
    type: str
    value: Decimal
    quantity: Decimal | None = None
    value_per_quantity: Decimal | None = None
    metadata: dict[str, Any] | None = None
    children: tuple[Line, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "description": self.description, "type": self.type}
        if self.quantity is not None:
            out["quantity"] = self.quantity
        if self.value_per_quantity is not None:
            out["valuePerQuantity"] = self.value_per_quantity
        out["value"] = self.value
        if self.metadata:
            out["metadata"] = self.metadata
        out["lineItems"] = [c.to_json() for c in self.children]
        return out

    @staticmethod
    def from_json(data: dict[str, Any]) -> Line:
        return Line(
            id=data["id"],
            description=data["description"],
            type=data["type"],
            value=Decimal(data["value"]),
            quantity=None if data.get("quantity") is None else Decimal(data["quantity"]),
            value_per_quantity=None if data.get("valuePerQuantity") is None else Decimal(data["valuePerQuantity"]),
            metadata=data.get("metadata"),
            children=tuple(Line.from_json(c) for c in data.get("lineItems", ())),
        )

    def walk(self) -> Iterator[Line]:
        yield self
        for child in self.children:
            yield from child.walk()

    def find(self, line_type: str) -> Line | None:
        return next((line for line in self.walk() if line.type == line_type), None)


def _parent(line_id: str, description: str, line_type: str, children: list[Line], **extra: Any) -> Line:
    return Line(
        line_id, description, line_type, exact_sum(c.value for c in children), children=tuple(children), **extra
    )


# -- inputs ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Commitment:
    name: str
    amount: Decimal  # per full cycle, in the invoice currency
    covered_days: int | None = None  # set for a partial cycle: the true-up is prorated (D8)
    cycle_days: int | None = None


@dataclass(frozen=True)
class Charge:
    """A miscellaneous charge (D11): `value` (a number, or jsonLogic over line ids, as text) or rate x quantity."""

    name: str
    value: str | None = None
    rate: Decimal | None = None
    quantity: Decimal | None = None
    consider_for_revenue: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.rate is not None:
            out["rate"] = self.rate
        if self.quantity is not None:
            out["quantity"] = self.quantity
        if self.value is not None:
            out["value"] = self.value
        out["considerForRevenue"] = self.consider_for_revenue
        return out

    @staticmethod
    def from_json(data: dict[str, Any]) -> Charge:
        return Charge(
            name=data["name"],
            value=data.get("value"),
            rate=None if data.get("rate") is None else Decimal(data["rate"]),
            quantity=None if data.get("quantity") is None else Decimal(data["quantity"]),
            consider_for_revenue=bool(data.get("considerForRevenue", False)),
        )


@dataclass(frozen=True)
class CustomItem:
    description: str
    value: Decimal | None = None
    quantity: Decimal | None = None
    value_per_quantity: Decimal | None = None
    item_id: str | None = None
    billable_id: str | None = None


@dataclass(frozen=True)
class Rules:
    """A plan's pricing rules by invoice timing (each in order), and what they may read of the account."""

    in_arrears: tuple[PricingRule, ...] = ()
    in_advance: tuple[PricingRule, ...] = ()
    account: AccountFacts | None = None

    @staticmethod
    def of(model: plan_model.PlanModel, account: AccountFacts | None = None) -> Rules:
        return Rules(
            plan_model.rules_of(model, "IN_ARREARS"), plan_model.rules_of(model, "IN_ADVANCE"), account=account
        )


NO_RULES = Rules()


@dataclass(frozen=True)
class Built:
    revenue: Line  # the TOTAL_AMOUNT root
    total: Decimal
    charge_errors: list[str] = field(default_factory=list)
    credits: list[Applied] = field(default_factory=list)  # what each credit took off which line
    rule_errors: list[str] = field(default_factory=list)  # the pricing rules that failed (the invoice stands)


# -- rate cards --------------------------------------------------------------------------------------------------
def _slab_rates(card: SlabCard, currency: str) -> dict[int, Decimal]:
    value = plan_model.rate_value(card, currency)
    return {r.order: r.rate for r in value.slab_rates} if value else {}


def card_line(card: CardRevenue, currency: str, advanced: bool = False) -> Line:
    """One rate card's line; usage and license cards carry a line per slab that received a quantity or revenue."""
    line_type, slab_type = CARD_TYPES[card.kind]
    if advanced:
        line_type = ADVANCED_TYPES[card.kind]
    name = plan_model.label(card.card)
    if isinstance(card.card, BillingEntitlementRateCard):  # one line: the units granted, at the card's price
        units = card.quantity or Decimal(0)
        return Line(
            card.billable_id,
            name,
            line_type,
            card.revenue,
            quantity=units,
            metadata={"featureId": card.card.feature_id, "units": units},
        )
    if card.priced is None or slab_type is None or not isinstance(card.card, SLAB_CARDS):
        grant = card.card if isinstance(card.card, CreditGrantRateCard) else None
        metadata = {"creditAmount": _credit_amount(grant, currency)} if grant is not None else None
        return Line(
            card.billable_id,
            name,
            line_type,
            card.revenue,
            quantity=Decimal(1),
            value_per_quantity=card.revenue,
            metadata=metadata,
        )
    rates = _slab_rates(card.card, currency)
    children = [
        Line(
            f"{card.billable_id}:slab:{s.order}",
            f"{name}: slab {s.order} (above {s.start_after})",
            slab_type,
            s.revenue,
            quantity=s.usage,
            value_per_quantity=rates.get(s.order),
            metadata={"order": s.order, "priceType": s.price_type},
        )
        for s in card.priced.slabs
        if s.usage > 0 or s.revenue != 0
    ]
    if card.priced.adjustment != 0:
        children.append(
            Line(
                f"{card.billable_id}:adjustment",
                f"{name}: minimum / maximum rate",
                "RATE_CONFIG_ADJUSTMENT_AMOUNT",
                card.priced.adjustment,
            )
        )
    return _parent(
        card.billable_id,
        name,
        line_type,
        children,
        quantity=card.quantity,
        metadata={"pricingModel": card.card.rate_plan.pricing_model}
        | ({"featureId": card.card.feature_id} if isinstance(card.card, EntitlementOverageRateCard) else {}),
    )


def _credit_amount(card: CreditGrantRateCard, currency: str) -> Decimal:
    detail = plan_model.credit_detail(card, currency)
    if detail is None:  # pragma: no cover - only cards priced in the currency are rated
        raise ValueError(f"credit grant {card.id} has no rates in {currency}")
    return detail.credit_amount


def rule_line(change: pricing_rules.Change) -> Line:
    """A pricing rule's line: what it added, or how much its update changed the card (docs/pricing.md)."""
    return Line(
        change.line_id,
        change.description,
        change.line_type,
        change.amount,
        quantity=change.new_usage,
        metadata=change.metadata(),
    )


def _ruled_cards(cards: list[CardRevenue], outcome: Outcome, currency: str, advanced: bool = False) -> list[Line]:
    """The cards' lines, each followed by the lines of the rules that updated it, then the rules' additions."""
    lines: list[Line] = []
    for c in cards:
        lines.append(card_line(c, currency, advanced=advanced))
        lines.extend(rule_line(change) for change in outcome.updates_of(c.billable_id))
    if outcome.additions:
        lines.append(
            _parent(
                "TOTAL_PRICING_RULE_ADDITION_AMOUNT",
                "Added by pricing rules",
                "TOTAL_PRICING_RULE_ADDITION_AMOUNT",
                [rule_line(change) for change in outcome.additions],
            )
        )
    return lines


def _advanced_fees(cards: list[CardRevenue], outcome: Outcome, currency: str) -> Line:
    return _parent(
        "TOTAL_ADVANCED_FEES",
        "Fees billed in advance",
        "TOTAL_ADVANCED_FEES",
        _ruled_cards(cards, outcome, currency, True),
    )


def _with_log(built: Built, outcome: Outcome) -> Built:
    """The rules' log on the root line's metadata (`pricingRules`: kept with the lines when the invoice is
    finalized, read by GET /invoice/{id}/pricing_rules_logs), their failures in `rule_errors`."""
    if not outcome.log:
        return built
    metadata = dict(built.revenue.metadata or {})
    metadata["pricingRules"] = [entry.to_json() for entry in outcome.log]
    if outcome.errors:
        metadata["pricingRuleErrors"] = outcome.errors
    root = Line(
        built.revenue.id,
        built.revenue.description,
        built.revenue.type,
        built.revenue.value,
        metadata=metadata,
        children=built.revenue.children,
    )
    return Built(root, built.total, built.charge_errors, built.credits, outcome.errors)


# -- charges -----------------------------------------------------------------------------------------------------
def _line_data(root: Line) -> dict[str, Any]:
    """Every line's value by id, nested at the dots (jsonLogic's `var` reads `um.x` as data["um"]["x"])."""
    data: dict[str, Any] = {}
    for line in root.walk():
        *path, last = line.id.split(".")
        node = data
        for step in path:
            nxt = node.setdefault(step, {})
            if not isinstance(nxt, dict):
                break
            node = nxt
        else:
            node.setdefault(last, line.value)
    return data


def check_charge_value(value: str) -> None:
    """A charge's value must be a number or jsonLogic (ChargeError says why not)."""
    try:
        number = Decimal(value.strip())
    except ArithmeticError:
        number = None
    if number is not None:  # a number written as text: the one number rule (core/numbers.py)
        try:
            numbers.bounded(number)
        except numbers.NumberError as exc:
            raise ChargeError(f"value: {value[:40]!r} {exc}") from None
        return
    try:
        jsonlogic.compile_logic(value)
    except jsonlogic.JsonLogicError as exc:
        raise ChargeError(f"value {value[:60]!r} is neither a number nor jsonLogic: {exc}") from None


def charge_amount(charge: Charge, lines: Line, currency: str) -> Decimal:
    """D11: `value` (a number, or jsonLogic over the invoice's line ids), else rate x quantity; rounded once."""
    amount = _charge_amount(charge, lines, currency)
    if abs(amount) >= LIMIT:
        raise ChargeError(f"charge {charge.name!r}: {amount} is out of range (at most 15 digits before the point)")
    return amount


def _charge_amount(charge: Charge, lines: Line, currency: str) -> Decimal:
    if charge.value is None:
        if charge.rate is None or charge.quantity is None:
            raise ChargeError(f"charge {charge.name!r}: give value, or rate and quantity")
        return round_money(EXACT.multiply(charge.rate, charge.quantity), currency)
    check_charge_value(charge.value)
    try:
        return round_money(Decimal(charge.value.strip()), currency)
    except ArithmeticError:
        pass
    try:
        result = jsonlogic.compile_logic(charge.value)(_line_data(lines))
        return round_money(jsonlogic.to_units(result), currency)
    except (jsonlogic.EvaluationError, ArithmeticError) as exc:
        raise ChargeError(f"charge {charge.name!r}: {exc}") from None


def _total(gross: Line, credits: list[Available], charges: list[Charge], currency: str) -> Built:
    """NET = GROSS - credits (D9: after the true-up, before charges); TOTAL = max(0, NET + charges) (D11)."""
    applied = credit_application.apply(credit_application.targets(gross), credits)
    net_children = [gross]
    if applied:
        names = {c.credit_id: c.purpose for c in credits}
        per_credit: dict[str, list[Applied]] = {}
        for a in applied:
            per_credit.setdefault(a.credit_id, []).append(a)
        subs = [
            Line(
                f"SUB_CREDITS:{credit_id}",
                names[credit_id],
                "SUB_CREDITS",
                EXACT.minus(exact_sum(a.amount for a in items)),
                metadata={"creditId": credit_id, "lines": {a.line_id: a.amount for a in items}},
            )
            for credit_id, items in per_credit.items()
        ]
        net_children.append(_parent("TOTAL_CREDITS", "Credits", "TOTAL_CREDITS", subs))
    net = _parent("NET_AMOUNT", "Net amount", "NET_AMOUNT", net_children)
    children = [net]
    errors: list[str] = []
    if charges:
        items = []
        for i, charge in enumerate(charges):
            meta: dict[str, Any]
            try:
                value, meta = charge_amount(charge, net, currency), {"considerForRevenue": charge.consider_for_revenue}
            except ChargeError as exc:
                value, meta = round_money(ZERO, currency), {"error": str(exc)}
                errors.append(str(exc))
            items.append(
                Line(
                    f"MISCELLANEOUS_CHARGE:{i + 1}",
                    charge.name,
                    "MISCELLANEOUS_CHARGE",
                    value,
                    quantity=charge.quantity,
                    value_per_quantity=charge.rate,
                    metadata=meta,
                )
            )
        children.append(_parent("TOTAL_MISCELLANEOUS_CHARGES", "Charges", "TOTAL_MISCELLANEOUS_CHARGES", items))
    raw = exact_sum(c.value for c in children)
    total = max(round_money(ZERO, currency), raw)
    metadata = {"beforeFloor": raw} if total != raw else None
    root = Line("TOTAL_AMOUNT", "Total", "TOTAL_AMOUNT", total, metadata=metadata, children=tuple(children))
    return Built(root, total, errors, applied)


# -- invoices ----------------------------------------------------------------------------------------------------
def build_standard(
    arrears: list[CardRevenue],
    advanced: list[CardRevenue],
    commitment: Commitment | None,
    charges: list[Charge],
    currency: str,
    credits: list[Available] = NO_CREDITS,
    rules: Rules = NO_RULES,
) -> Built:
    """The in-arrears invoice of one cycle piece. `advanced` are the same piece's in-advance cards: they count in
    SUB_TOTAL (and so against the commitment) and are taken off again, having been invoiced already (with the
    in-advance rules applied as on their own invoice). The in-arrears rules apply to `arrears`."""
    outcome = pricing_rules.apply(rules.in_arrears, arrears, currency, rules.account)
    sub = _ruled_cards(arrears, outcome, currency)
    if advanced:
        sub.append(
            _advanced_fees(advanced, pricing_rules.apply(rules.in_advance, advanced, currency, rules.account), currency)
        )
    sub_total = _parent("SUB_TOTAL_AMOUNT", "Subtotal", "SUB_TOTAL_AMOUNT", sub)
    plan_children = [sub_total]
    if commitment is not None:
        owed = amounts.true_up(
            commitment.amount, sub_total.value, currency, commitment.covered_days, commitment.cycle_days
        )
        metadata: dict[str, Any] = {"commitment": commitment.amount}
        if commitment.covered_days is not None:
            metadata.update(coveredDays=commitment.covered_days, cycleDays=commitment.cycle_days)
        plan_children.append(Line("TRUE_UP_AMOUNT", commitment.name, "TRUE_UP_AMOUNT", owed, metadata=metadata))
    plan = _parent("PRICE_PLAN_AMOUNT", "Price plan amount", "PRICE_PLAN_AMOUNT", plan_children)
    gross_children = [plan]
    if advanced:
        paid_before = sub[-1].value
        gross_children.append(
            Line(
                "INVOICED_IN_ADVANCE",
                "Invoiced in advance",
                "CUSTOM_AMOUNT",
                EXACT.minus(paid_before) if paid_before else paid_before,
            )
        )
    gross = _parent("GROSS_AMOUNT", "Gross amount", "GROSS_AMOUNT", gross_children)
    return _with_log(_total(gross, credits, charges, currency), outcome)


def build_advanced(
    cards: list[CardRevenue], currency: str, credits: list[Available] = NO_CREDITS, rules: Rules = NO_RULES
) -> Built:
    """The in-advance invoice of one cycle piece: its cards, with the in-advance rules applied."""
    outcome = pricing_rules.apply(rules.in_advance, cards, currency, rules.account)
    gross = _parent("GROSS_AMOUNT", "Gross amount", "GROSS_AMOUNT", [_advanced_fees(cards, outcome, currency)])
    return _with_log(_total(gross, credits, [], currency), outcome)


def custom_value(item: CustomItem, currency: str) -> Decimal:
    if item.value is not None:
        return round_money(item.value, currency)
    if item.quantity is None or item.value_per_quantity is None:
        raise ValueError(f"line {item.description!r}: give value, or quantity and valuePerQuantity")
    return round_money(EXACT.multiply(item.quantity, item.value_per_quantity), currency)


def build_custom(
    items: list[CustomItem], charges: list[Charge], currency: str, credits: list[Available] = NO_CREDITS
) -> Built:
    lines = [
        Line(
            item.item_id or f"CUSTOM_AMOUNT:{i + 1}",
            item.description,
            "CUSTOM_AMOUNT",
            custom_value(item, currency),
            quantity=item.quantity,
            value_per_quantity=item.value_per_quantity,
            metadata={"billableId": item.billable_id} if item.billable_id else None,
        )
        for i, item in enumerate(items)
    ]
    gross = _parent("GROSS_AMOUNT", "Gross amount", "GROSS_AMOUNT", lines)
    return _total(gross, credits, charges, currency)


def usage_info(usage: list[tuple[str, str, Decimal]]) -> list[Line]:
    """usageInfo: one USAGE_METER_USAGE line per (meter id, name, usage)."""
    return [
        Line(meter_id, name, "USAGE_METER_USAGE", quantity, quantity=quantity) for meter_id, name, quantity in usage
    ]
