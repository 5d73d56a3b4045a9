"""Pricing rules over a cycle's rated cards. Pure (no I/O, no clock): docs/pricing.md, "Pricing rules".

A plan's rules of one invoice timing run in `order` over the cards that timing bills (IN_ARREARS: the in-arrears
cards; IN_ADVANCE: the cards billed at the cycle's start). Each rule sees the results as the rules before it left
them, as jsonLogic data:

- `usage.<card>` and `revenue.<card>` for every card, `<card>` being its name, what it bills (meter or add-on id)
  or Togai's key (`urc.<meter id>`, `ff.<add-on id>`); a card without a quantity (a fixed fee, a credit grant) has
  usage 1, as its line says;
- `total.revenue`: every card's revenue plus the lines the rules before added;
- `account.id`, `account.name`, `account.currency`, `account.metadata.<key>`, `account.tags`, and
  `account.settings.<namespace>.<id>`: the setting of that namespace and id nearest the account (the account's, its
  customer's, the organization's), as enrichments read settings (`setting_keys` names those the rules read; the
  caller looks them up in one query).

The condition (none: always) decides; the computation gives a number, which the action uses: ADD makes a line of
that amount, UPDATE `revenue.<card>` sets the card's revenue, UPDATE `usage.<card>` sets a usage card's usage and
prices it again with the card's slabs. Amounts are rounded once, half up, to the currency's minor unit; usage is not
rounded. A rule that fails (its condition or computation cannot be evaluated on this data, or gives something that
is not a number in range) changes nothing and is reported in the log, with its reason: an invoice is never refused
for a rule. Conditions and computations are compiled once per text (metering/jsonlogic.py, with its budget).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from meterline import rating
from meterline.catalog import plan_model, rate_cards
from meterline.catalog.plan_model import SlabCard
from meterline.catalog.plan_schemas import PricingRule
from meterline.core import numbers
from meterline.core.money import EXACT, exact_sum, round_money
from meterline.metering import jsonlogic

if TYPE_CHECKING:
    from meterline.accounts.models import Account
    from meterline.revenue.compute import CardRevenue

ONE = Decimal(1)
ADDITION = "PRICING_RULE_ADDITION_AMOUNT"
USAGE_UPDATE = "PRICING_RULE_USAGE_UPDATE_AMOUNT"
REVENUE_UPDATE = "PRICING_RULE_REVENUE_UPDATE_AMOUNT"
# Togai's PricingRulesLog types
CONDITION_TRUE, CONDITION_FALSE = "CONDITION_TRUE", "CONDITION_FALSE"
CONDITION_ERROR, COMPUTATION_ERROR = "CONDITION_ERROR", "COMPUTATION_ERROR"


@dataclass(frozen=True)
class AccountFacts:
    """What rules may read of the account (`account.*`)."""

    id: str = ""
    name: str = ""
    currency: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    settings: Mapping[str, Any] = field(default_factory=dict)  # "<namespace>.<id>" -> the value as rules read it

    def data(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "currency": self.currency,
            "metadata": dict(self.metadata),
            "tags": list(self.tags),
            "settings": _settings_data(self.settings),
        }


def account_facts(account: Account, settings: Mapping[str, Any] | None = None) -> AccountFacts:
    """What rules read of an account row: its id, name, currency, metadata (text values) and tags, with the
    settings the caller looked up (`setting_keys`)."""
    metadata = account.metadata_ if isinstance(account.metadata_, dict) else {}
    tags = tuple(str(t) for t in account.tags or () if isinstance(t, (str, int)))
    return AccountFacts(account.id, account.name, account.invoice_currency, metadata, tags, dict(settings or {}))


SETTINGS_PATH = "account.settings."
MAX_SETTING_KEYS = 100


def setting_keys(rules: Iterable[PricingRule]) -> tuple[str, ...]:
    """The settings the rules read, as `<namespace>.<id>` (from `account.settings.<namespace>.<id>`: the first
    segment is the namespace, the rest the id), sorted, at most MAX_SETTING_KEYS: a rule names what it reads (a
    path computed at evaluation reads no setting). A rule that does not compile reads none (it fails on its own)."""
    keys: set[str] = set()
    for rule in rules:
        for text in (rule.condition, rule.computation):
            if not text or not text.strip():
                continue
            try:
                variables = jsonlogic.compile_logic(text).variables
            except jsonlogic.JsonLogicError:
                continue
            for path in variables:
                if not path.startswith(SETTINGS_PATH):
                    continue
                namespace, *rest = path[len(SETTINGS_PATH) :].split(".")
                # an id may hold dots, and a JSON setting's value may be read into: every prefix may be the id
                keys.update(".".join([namespace, *rest[:n]]) for n in range(1, len(rest) + 1))
    return tuple(sorted(keys))[:MAX_SETTING_KEYS]


def _settings_data(settings: Mapping[str, Any]) -> dict[str, Any]:
    """`{namespace: {id: value}}` with a dotted id as nested steps; where one setting's id is a prefix of another's,
    the shorter wins (a JSON value is read, never merged into)."""
    data: dict[str, Any] = {}
    placed: set[str] = set()
    for key in sorted(settings, key=lambda k: (k.count("."), k)):
        parts = key.split(".")
        if any(".".join(parts[:n]) in placed for n in range(2, len(parts))):
            continue
        node = data
        for step in parts[:-1]:
            node = node.setdefault(step, {})
        node[parts[-1]] = settings[key]
        placed.add(key)
    return data


@dataclass(frozen=True)
class Change:
    """What one rule did: a line added (ADD) or a card's usage or revenue set (UPDATE)."""

    rule: PricingRule
    line_type: str  # ADDITION, USAGE_UPDATE or REVENUE_UPDATE
    card_id: str | None  # the changed card's line id (its billable id); None for ADD
    card_label: str | None
    old_revenue: Decimal
    new_revenue: Decimal
    old_usage: Decimal | None = None
    new_usage: Decimal | None = None

    @property
    def amount(self) -> Decimal:
        """What the rule adds to the invoice (negative: takes off)."""
        return EXACT.subtract(self.new_revenue, self.old_revenue)

    @property
    def key(self) -> str:
        return self.rule.action.target or f"PRICING_RULE:{rule_id(self.rule)}"

    @property
    def line_id(self) -> str:
        """`PRICING_RULE:<rule id>` (an ADD), `<card line id>:rule:<rule id>` (an UPDATE): never another line's."""
        if self.card_id is None:
            return f"PRICING_RULE:{rule_id(self.rule)}"
        return f"{self.card_id}:rule:{rule_id(self.rule)}"

    @property
    def description(self) -> str:
        if self.rule.action.description:
            return self.rule.action.description
        if self.card_label is None:
            return self.rule.name
        return f"{self.card_label}: {self.rule.name}"

    def metadata(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ruleId": rule_id(self.rule), "ruleName": self.rule.name, "order": self.rule.order}
        if self.card_id is not None:
            out.update(target=self.rule.action.target, oldRevenue=self.old_revenue, newRevenue=self.new_revenue)
        if self.old_usage is not None:
            out.update(oldUsage=self.old_usage, newUsage=self.new_usage)
        if self.rule.action.id:
            out["actionId"] = self.rule.action.id
        if self.rule.action.metadata:
            out["actionMetadata"] = dict(self.rule.action.metadata)
        return out


@dataclass(frozen=True)
class LogEntry:
    """One rule's evaluation (Togai's PricingRulesLog): its outcome, what it changed, or why it failed."""

    rule: PricingRule
    type: str  # CONDITION_TRUE, CONDITION_FALSE, CONDITION_ERROR, COMPUTATION_ERROR
    change: Change | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        rule = self.rule
        out: dict[str, Any] = {"ruleId": rule_id(rule), "name": rule.name, "order": rule.order, "type": self.type}
        if rule.condition is not None:
            out["condition"] = rule.condition
        out["computation"] = rule.computation
        if self.change is not None:
            out["changes"] = {
                "key": self.change.key,
                "keyName": self.change.card_label or self.change.description,
                "oldRevenue": self.change.old_revenue,
                "newRevenue": self.change.new_revenue,
            } | (
                {"oldUsage": self.change.old_usage, "newUsage": self.change.new_usage}
                if self.change.old_usage is not None
                else {}
            )
        else:
            out["changes"] = {"key": rule.action.target or f"PRICING_RULE:{rule_id(rule)}"}
        if self.error is not None:
            out["changes"]["errorMessage"] = self.error
        return out


@dataclass(frozen=True)
class Outcome:
    cards: tuple[CardRevenue, ...]  # the cards as the rules left them (usage and revenue)
    changes: tuple[Change, ...] = ()
    log: tuple[LogEntry, ...] = ()

    @property
    def errors(self) -> list[str]:
        """A sentence per rule that failed (shown on the invoice, never refusing it)."""
        return [f"pricing rule {e.rule.name!r} (order {e.rule.order}): {e.error}" for e in self.log if e.type in FAILED]

    def updates_of(self, card_id: str) -> list[Change]:
        return [c for c in self.changes if c.card_id == card_id]

    @property
    def additions(self) -> list[Change]:
        return [c for c in self.changes if c.card_id is None]

    @property
    def total_change(self) -> Decimal:
        return exact_sum(c.amount for c in self.changes)


FAILED = (CONDITION_ERROR, COMPUTATION_ERROR)


def rule_id(rule: PricingRule) -> str:
    return rule.id or f"rule_{rule.order}"


class _Failed(Exception):
    pass


def _nested(flat: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Dotted keys as nested mappings (jsonLogic's `var` reads `revenue.urc.um.x` step by step); the first value
    given for a path wins."""
    data: dict[str, Any] = {}
    for key, value in flat:
        *path, last = key.split(".")
        node = data
        for step in path:
            nxt = node.setdefault(step, {})
            if not isinstance(nxt, dict):
                break
            node = nxt
        else:
            node.setdefault(last, value)
    return data


def _usage(card: CardRevenue) -> Decimal:
    return card.quantity if card.quantity is not None else ONE


def _data(cards: list[CardRevenue], added: Decimal, account: AccountFacts | None) -> dict[str, Any]:
    flat: list[tuple[str, Any]] = []
    for card in cards:
        for key in plan_model.rule_keys(card.card):
            flat.append((f"usage.{key}", _usage(card)))
            flat.append((f"revenue.{key}", card.revenue))
    data = _nested(flat)
    data["total"] = {"revenue": EXACT.add(exact_sum(c.revenue for c in cards), added)}
    data["account"] = (account or AccountFacts()).data()
    return data


def _find(cards: list[CardRevenue], key: str) -> int | None:
    for by_name in (True, False):  # a card's name first, then what it bills or Togai's key
        for i, card in enumerate(cards):
            keys = plan_model.rule_keys(card.card)
            if (keys[0] == key) if by_name else (key in keys):
                return i
    return None


def _number(result: Any) -> Decimal:
    try:
        value = jsonlogic.to_units(result)
    except jsonlogic.EvaluationError as exc:
        raise _Failed(str(exc)) from None
    if abs(value) >= numbers.LIMIT:
        raise _Failed(f"the computation gave {value:.6g}, out of range (at most 15 digits before the point)")
    return value


def _within_range(cards: list[CardRevenue], added: Decimal, line: Decimal) -> None:
    """Every amount a rule leaves stays below 10^15 (core/numbers.py), as every amount that enters: its line, each
    card's revenue, what the rules added, and the cards' total with it (a rule's own result is `_number`'s)."""
    amounts = [c.revenue for c in cards]
    total = EXACT.add(exact_sum(amounts), added)
    if any(abs(a) >= numbers.LIMIT for a in (*amounts, added, total, line)):
        raise _Failed("it would take the invoice's amounts out of range (at most 15 digits before the point)")


def _repriced(card: CardRevenue, usage: Decimal, currency: str) -> Decimal:
    if usage < 0:
        raise _Failed(f"the computation gave a usage of {usage}; usage cannot be negative")
    if not isinstance(card.card, plan_model.SLAB_CARDS):  # pragma: no cover - validation allows usage cards only
        raise _Failed("only a usage card's usage can be updated")
    slab_card: SlabCard = card.card
    try:
        plan = rate_cards.slab_rate_plan(slab_card, currency, plan_model.card_name(card.card))
        return rating.price(plan, usage, currency).revenue
    except (rate_cards.CardError, rating.RatingError, ArithmeticError) as exc:
        raise _Failed(f"the card cannot price a usage of {usage}: {exc}") from None


def apply(
    rules: Iterable[PricingRule],
    cards: Iterable[CardRevenue],
    currency: str,
    account: AccountFacts | None = None,
) -> Outcome:
    """Run `rules` (one timing's, in order) over `cards` (that timing's, rated): what each rule changed, the cards
    as the rules left them, and the log (a failing rule is logged with its reason and changes nothing)."""
    current = list(cards)
    changes: list[Change] = []
    log: list[LogEntry] = []
    added = Decimal(0)
    for rule in sorted(rules, key=lambda r: r.order):
        data = _data(current, added, account)
        if rule.condition is not None and rule.condition.strip():
            try:
                holds = jsonlogic.truthy(jsonlogic.compile_logic(rule.condition)(data))
            except (jsonlogic.JsonLogicError, jsonlogic.EvaluationError) as exc:
                log.append(LogEntry(rule, CONDITION_ERROR, error=f"condition: {exc}"))
                continue
            if not holds:
                log.append(LogEntry(rule, CONDITION_FALSE))
                continue
        action = rule.action
        index = None
        if action.type == "UPDATE":
            what, _, key = (action.target or "").partition(".")
            index = _find(current, key)
            if index is None:  # the card does not bill on this invoice (currency, recurrence): nothing to change
                log.append(LogEntry(rule, CONDITION_FALSE, error=f"card {key!r} is not billed on this invoice"))
                continue
        try:
            value = _number(jsonlogic.compile_logic(rule.computation)(data))
            after, now_added = list(current), added
            if index is None:  # ADD
                amount = round_money(value, currency)
                change = Change(rule, ADDITION, None, None, round_money(Decimal(0), currency), amount)
                now_added = EXACT.add(added, amount)
            else:
                card = current[index]
                label = plan_model.label(card.card)
                if what == "usage":
                    revenue = _repriced(card, value, currency)
                    change = Change(
                        rule, USAGE_UPDATE, card.billable_id, label, card.revenue, revenue, _usage(card), value
                    )
                    after[index] = replace(card, quantity=value, revenue=revenue)
                else:
                    revenue = round_money(value, currency)
                    change = Change(rule, REVENUE_UPDATE, card.billable_id, label, card.revenue, revenue)
                    after[index] = replace(card, revenue=revenue)
            _within_range(after, now_added, change.amount)
            current, added = after, now_added
        except (jsonlogic.JsonLogicError, jsonlogic.EvaluationError, _Failed) as exc:
            log.append(LogEntry(rule, COMPUTATION_ERROR, error=f"computation: {exc}"))
            continue
        changes.append(change)
        log.append(LogEntry(rule, CONDITION_TRUE, change=change))
    return Outcome(tuple(current), tuple(changes), tuple(log))
