"""How credits apply to an invoice's lines (billing-rules D9), pure: the order credits are used in, what each may
cover, which lines take credits, and how much each takes."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from meterline.invoicing.builder import Line
from meterline.invoicing.credit_application import (
    ALL_FIXED,
    ALL_USAGE,
    Applied,
    Available,
    apply,
    covers,
    ordered,
    targets,
)

UTC = timezone.utc
D = Decimal


def at(day: int) -> datetime:
    return datetime(2024, 3, day, tzinfo=UTC)


def credit(
    credit_id: str,
    remaining: str = "100",
    priority: int = 1,
    ends: int | None = None,
    created: int = 1,
    scope: tuple[str, ...] = (),
) -> Available:
    end = None if ends is None else at(ends)
    return Available(credit_id, "PROMOTIONAL", D(remaining), priority, end, at(created), scope)


def line(line_id: str, line_type: str, value: str, **metadata: str) -> Line:
    return Line(line_id, line_id, line_type, D(value), metadata=metadata or None)


def test_equal_priority_uses_the_credit_that_ends_first() -> None:
    # the same priority, created the other way round: the end decides, and a credit without an end comes last
    endless = credit("endless", ends=None, created=1)
    late = credit("late", ends=20, created=2)
    early = credit("early", ends=10, created=3)
    assert [c.credit_id for c in ordered([endless, late, early])] == ["early", "late", "endless"]


def test_priority_comes_before_the_end_and_the_older_grant_breaks_the_last_tie() -> None:
    urgent_later = credit("p2-soon", priority=2, ends=5)
    first = credit("p1-late", priority=1, ends=25)
    newer = credit("p1-late-newer", priority=1, ends=25, created=3)
    assert [c.credit_id for c in ordered([urgent_later, newer, first])] == ["p1-late", "p1-late-newer", "p2-soon"]


def test_apply_takes_from_the_credit_that_ends_first() -> None:
    # one 30.00 line, two credits of 20.00 of equal priority: the one ending on the 10th gives all it has first
    applied = apply(
        [line("fee", "FIXED_FEE_RATE_CARD_AMOUNT", "30")],
        [credit("late", "20", ends=20, created=1), credit("early", "20", ends=10, created=2)],
    )
    assert applied == [Applied("early", "fee", D("20")), Applied("late", "fee", D("10"))]


def test_apply_never_takes_more_than_a_line_or_a_credit_has() -> None:
    lines = [line("a", "USAGE_RATE_CARD_AMOUNT", "15"), line("b", "USAGE_RATE_CARD_AMOUNT", "15")]
    applied = apply(lines, [credit("c", "20"), credit("empty", "0", priority=0)])
    assert applied == [Applied("c", "a", D("15")), Applied("c", "b", D("5"))]


@pytest.mark.parametrize(
    "scope, line_type, line_id, covered",
    [
        ((), "USAGE_RATE_CARD_AMOUNT", "um.1", True),
        ((), "TRUE_UP_AMOUNT", "TRUE_UP_AMOUNT", True),
        (("um.1",), "TRUE_UP_AMOUNT", "TRUE_UP_AMOUNT", False),
        (("um.1",), "USAGE_RATE_CARD_AMOUNT", "um.1", True),
        (("um.2",), "USAGE_RATE_CARD_AMOUNT", "um.1", False),
        ((ALL_USAGE,), "USAGE_RATE_CARD_AMOUNT", "um.1", True),
        ((ALL_USAGE,), "FIXED_FEE_RATE_CARD_AMOUNT", "ao.1", False),
        ((ALL_FIXED,), "FIXED_FEE_RATE_CARD_AMOUNT", "ao.1", True),
        ((ALL_FIXED,), "USAGE_RATE_CARD_AMOUNT", "um.1", False),
        ((), "SUB_TOTAL_AMOUNT", "SUB_TOTAL_AMOUNT", False),
    ],
)
def test_scope(scope: tuple[str, ...], line_type: str, line_id: str, covered: bool) -> None:
    assert covers(scope, line(line_id, line_type, "1")) is covered


def test_custom_lines_take_credits_of_empty_scope_or_naming_their_billable_id() -> None:
    custom = line("c1", "CUSTOM_AMOUNT", "1", billableId="sku-9")
    assert covers((), custom) and covers(("sku-9",), custom)
    assert not covers(("sku-1",), custom)
    assert not covers(("sku-9",), line("c2", "CUSTOM_AMOUNT", "1"))


def test_a_line_paid_in_full_takes_nothing_from_the_next_credits() -> None:
    applied = apply(
        [line("fee", "FIXED_FEE_RATE_CARD_AMOUNT", "10")], [credit("a", "20"), credit("b", "20", created=2)]
    )
    assert applied == [Applied("a", "fee", D("10"))]  # no zero-amount application of b


def test_a_card_takes_credits_for_its_amount_after_the_pricing_rules_updates_that_follow_it() -> None:
    # A pricing rule's update of a card is a line of its own right after the card (usage or revenue updated): what
    # credits may reduce is the card's amount with those updates, each card with its own, none with another's.
    def children(*lines: Line) -> Line:
        return Line("plan", "Plan", "PRICE_PLAN_AMOUNT", sum((c.value for c in lines), D(0)), children=lines)

    gross = children(
        line("meter-a", "USAGE_RATE_CARD_AMOUNT", "100"),
        line("rule-a1", "PRICING_RULE_USAGE_UPDATE_AMOUNT", "-30"),
        line("rule-a2", "PRICING_RULE_REVENUE_UPDATE_AMOUNT", "-10"),
        line("meter-b", "USAGE_RATE_CARD_AMOUNT", "50"),
        line("fee", "FIXED_FEE_RATE_CARD_AMOUNT", "20"),
        line("rule-fee", "PRICING_RULE_REVENUE_UPDATE_AMOUNT", "-20"),
        line("meter-c", "USAGE_RATE_CARD_AMOUNT", "40"),
        line("rule-c", "PRICING_RULE_USAGE_UPDATE_AMOUNT", "5"),
    )
    assert [(t.id, t.value) for t in targets(gross)] == [("meter-a", D(60)), ("meter-b", D(50)), ("meter-c", D(45))]
    # the fee brought to 0.00 by its rule takes no credit; meter-a's 60 is all a credit of 100 scoped to it takes
    applied = apply(targets(gross), [credit("a", "100", scope=("meter-a",))])
    assert applied == [Applied("a", "meter-a", D(60))]


def test_fees_invoiced_in_advance_take_credits_on_their_own_invoice_only() -> None:
    # An in-arrears invoice shows the cycle's in-advance fees again (D8) and takes them off: they were billed, and
    # credited, on the in-advance invoice, so only its own cards take credits here.
    support = line("support", "FIXED_FEE_RATE_CARD_AMOUNT", "50")
    advanced_fees = Line("TOTAL_ADVANCED_FEES", "Fees", "TOTAL_ADVANCED_FEES", D(50), children=(support,))
    fee = line("fee", "FIXED_FEE_RATE_CARD_AMOUNT", "300")
    sub_total = Line("SUB_TOTAL_AMOUNT", "Subtotal", "SUB_TOTAL_AMOUNT", D(350), children=(fee, advanced_fees))
    plan = Line("PRICE_PLAN_AMOUNT", "Plan", "PRICE_PLAN_AMOUNT", D(350), children=(sub_total,))
    paid_before = line("INVOICED_IN_ADVANCE", "CUSTOM_AMOUNT", "-50")
    in_arrears = Line("GROSS_AMOUNT", "Gross", "GROSS_AMOUNT", D(300), children=(plan, paid_before))
    assert [t.id for t in targets(in_arrears)] == ["fee"]
    # the in-advance invoice itself: its fees are what credits reduce
    in_advance = Line("GROSS_AMOUNT", "Gross", "GROSS_AMOUNT", D(50), children=(advanced_fees,))
    assert [t.id for t in targets(in_advance)] == ["support"]


def test_amounts_under_one_unit_take_and_give_credits() -> None:
    # a line of 0.50 is a line that credits reduce, and a credit with 0.75 left still gives it
    cents = line("fee", "FIXED_FEE_RATE_CARD_AMOUNT", "0.50")
    plan = Line("PRICE_PLAN_AMOUNT", "Plan", "PRICE_PLAN_AMOUNT", D("0.50"), children=(cents,))
    assert [(t.id, t.value) for t in targets(plan)] == [("fee", D("0.50"))]
    assert apply([line("big", "FIXED_FEE_RATE_CARD_AMOUNT", "10")], [credit("a", "0.75")]) == [
        Applied("a", "big", D("0.75"))
    ]
