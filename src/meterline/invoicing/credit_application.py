"""How credits apply to an invoice's lines (billing-rules D9). Pure: no I/O, no clock.

- Order: priority ascending (1 first), then the earlier end (no end last), then the older grant.
- Scope: empty = every rate-card line and the true-up; otherwise the named meter or add-on ids (a card's line id),
  or ALL_USAGE_METER_RATE_CARDS / ALL_FIXED_FEE_RATE_CARDS. Custom lines take credits of empty scope, or of a scope
  naming their billableId.
- Lines are taken in invoice order; each takes from the credits in order, never going below 0, each credit giving
  at most what remains of it. Amounts are already whole minor units, so every application is too (D1).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from meterline.core.clock import END_OF_TIME
from meterline.core.money import EXACT, exact_sum

if TYPE_CHECKING:  # the builder imports this module
    from meterline.invoicing.builder import Line

ALL_USAGE, ALL_FIXED = "ALL_USAGE_METER_RATE_CARDS", "ALL_FIXED_FEE_RATE_CARDS"
USAGE_LINES = {"USAGE_RATE_CARD_AMOUNT"}
FIXED_LINES = {"FIXED_FEE_RATE_CARD_AMOUNT", "ADVANCED_FIXED_FEE"}
CARD_LINES = (
    USAGE_LINES
    | FIXED_LINES
    | {
        "LICENSE_RATE_CARD_AMOUNT",
        "CREDIT_GRANT_RATE_CARD_AMOUNT",
        "ADVANCED_LICENSE_RATE_CARD_AMOUNT",
        "ADVANCED_CREDIT_GRANT_RATE_CARD_AMOUNT",
        "BILLING_ENTITLEMENT_RATE_CARD_AMOUNT",
        "ADVANCED_BILLING_ENTITLEMENT_RATE_CARD_AMOUNT",
        "ENTITLEMENT_OVERAGE_RATE_CARD_AMOUNT",
    }
)


RULE_UPDATES = {"PRICING_RULE_USAGE_UPDATE_AMOUNT", "PRICING_RULE_REVENUE_UPDATE_AMOUNT"}
RULE_ADDITION = "PRICING_RULE_ADDITION_AMOUNT"


@dataclass(frozen=True)
class Available:
    """A credit as an invoice sees it: what remains of it for this invoice."""

    credit_id: str
    purpose: str
    remaining: Decimal
    priority: int
    ends_at: datetime | None
    created_at: datetime
    scope: tuple[str, ...]


@dataclass(frozen=True)
class Applied:
    credit_id: str
    line_id: str
    amount: Decimal  # > 0: what the credit takes off the line


def ordered(credits: list[Available]) -> list[Available]:
    return sorted(credits, key=lambda c: (c.priority, c.ends_at or END_OF_TIME, c.created_at, c.credit_id))


def covers(scope: tuple[str, ...], line: Line) -> bool:
    if line.type == "CUSTOM_AMOUNT":
        billable = (line.metadata or {}).get("billableId")
        return not scope or (billable is not None and billable in scope)
    if line.type in ("TRUE_UP_AMOUNT", RULE_ADDITION):
        return not scope
    if line.type not in CARD_LINES:
        return False
    if not scope:
        return True
    return (
        line.id in scope
        or (ALL_USAGE in scope and line.type in USAGE_LINES)
        or (ALL_FIXED in scope and line.type in FIXED_LINES)
    )


def targets(gross: Line) -> list[Line]:
    """The lines credits may reduce, in invoice order: cards, the true-up and custom lines of this invoice. On an
    in-arrears invoice the in-advance fees are shown again (D8) but were billed, and credited, before: skipped."""
    in_arrears = gross.find("PRICE_PLAN_AMOUNT") is not None
    out: list[Line] = []

    def walk(line: Line) -> None:
        if line.type == "TOTAL_ADVANCED_FEES" and in_arrears:
            return
        if line.type in CARD_LINES or line.type in ("TRUE_UP_AMOUNT", "CUSTOM_AMOUNT", RULE_ADDITION):
            if line.value > 0:
                out.append(line)
            return
        children = list(line.children)
        for i, child in enumerate(children):
            if child.type in RULE_UPDATES:
                continue  # counted with the card it follows
            if child.type in CARD_LINES:  # what a pricing rule's update changed is part of the card's amount
                following = []
                for sibling in children[i + 1 :]:
                    if sibling.type not in RULE_UPDATES:
                        break
                    following.append(sibling.value)
                if following:
                    child = replace(child, value=EXACT.add(child.value, exact_sum(following)))
            walk(child)

    walk(gross)
    return out


def apply(lines: list[Line], credits: list[Available]) -> list[Applied]:
    remaining = {c.credit_id: c.remaining for c in credits}
    applied: list[Applied] = []
    queue = ordered([c for c in credits if c.remaining > 0])
    for line in lines:
        left = line.value
        for credit in queue:
            if left <= 0:
                break
            have = remaining[credit.credit_id]
            if have <= 0 or not covers(credit.scope, line):
                continue
            take = min(have, left)
            remaining[credit.credit_id] = have - take
            left -= take
            applied.append(Applied(credit.credit_id, line.id, take))
    return applied
