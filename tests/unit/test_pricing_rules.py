"""Pricing rules (revenue/pricing_rules.py, catalog/plan_rules.check_pricing_rules, the builder's lines): the worked
examples of docs/pricing.md, "Pricing rules", number for number. Pure, no database."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from meterline.catalog import plan_model, plan_rules
from meterline.catalog.plan_schemas import PricingRule
from meterline.core.errors import BadRequest
from meterline.invoicing import builder
from meterline.revenue import pricing_rules
from meterline.revenue.compute import CardRevenue, plan_revenue
from meterline.revenue.pricing_rules import AccountFacts

D = Decimal
PER_CALL = {"pricingModel": "TIERED", "slabs": [{"order": 1, "startAfter": 0, "priceType": "PER_UNIT"}]}
PLAN: dict[str, Any] = {
    "supportedCurrencies": ["USD"],
    "pricingCycleConfig": {
        "interval": "MONTHLY",
        "gracePeriod": 0,
        "startOffset": {"dayOffset": "1", "monthOffset": "NIL"},
    },
    "usageRateCards": [
        {
            "name": "api_calls",
            "displayName": "API calls",
            "usageMeterId": "um.calls",
            "ratePlan": PER_CALL,
            "rateValues": [{"currency": "USD", "slabRates": [{"order": 1, "rate": D("0.10")}]}],
        }
    ],
    "fixedFeeRateCards": [
        {
            "id": "addon.platform",
            "name": "platform",
            "displayName": "Platform",
            "invoiceTiming": "IN_ARREARS",
            "enableProration": False,
            "rateValues": [{"currency": "USD", "rate": 100}],
        },
        {
            "id": "addon.support",
            "name": "support",
            "displayName": "Support",
            "invoiceTiming": "IN_ADVANCE",
            "enableProration": False,
            "rateValues": [{"currency": "USD", "rate": 50}],
        },
    ],
}
# docs/pricing.md, "Pricing rules": the example plan's rules
CAP = {
    "name": "Usage cap",
    "order": 1,
    "condition": '{">": [{"var": "usage.api_calls"}, 1000]}',
    "computation": "1000",
    "action": {"type": "UPDATE", "target": "usage.api_calls"},
}
DISCOUNT = {
    "name": "Volume discount",
    "order": 2,
    "condition": '{">=": [{"var": "revenue.api_calls"}, 50]}',
    "computation": '{"*": [{"var": "revenue.api_calls"}, 0.9]}',
    "action": {"type": "UPDATE", "target": "revenue.api_calls"},
}
ONBOARDING = {
    "name": "Enterprise seats",
    "order": 3,
    "condition": '{"==": [{"var": "account.metadata.tier"}, "enterprise"]}',
    "computation": '{"*": [{"var": "account.metadata.seats"}, 2.5]}',
    "action": {"type": "ADD", "description": "Enterprise seats (2.50 each)"},
}
SUPPORT = {
    "name": "Support discount",
    "order": 4,
    "invoiceTiming": "IN_ADVANCE",
    "computation": '{"*": [{"var": "revenue.support"}, 0.8]}',
    "action": {"type": "UPDATE", "target": "revenue.support"},
}
ENTERPRISE = AccountFacts("acme", "Acme", "USD", {"tier": "enterprise", "seats": "12"}, ("gold",))
STARTUP = AccountFacts("tiny", "Tiny", "USD", {"tier": "startup"}, ())


def model(*rules: dict[str, Any]) -> plan_model.PlanModel:
    details = {**PLAN, "pricingRules": plan_rules.check_pricing_rules(list(rules), plan_model.parse(PLAN).cards())}
    return plan_model.parse(details)


def cards(calls: str, timing: str = "IN_ARREARS") -> list[CardRevenue]:
    out = plan_revenue(plan_model.parse(PLAN), "USD", {"um.calls": D(calls)}, {})
    in_advance = [c for c in out if plan_model.timing(c.card) in plan_model.BILLED_AT_START]
    return in_advance if timing == "IN_ADVANCE" else [c for c in out if c not in in_advance]


def run(calls: str, *rules: dict[str, Any], account: AccountFacts = ENTERPRISE, timing: str = "IN_ARREARS"):  # noqa: ANN201
    return pricing_rules.apply(plan_model.rules_of(model(*rules), timing), cards(calls, timing), "USD", account)


def revenue(outcome: pricing_rules.Outcome, name: str) -> tuple[Decimal | None, Decimal]:
    card = next(c for c in outcome.cards if plan_model.card_name(c.card) == name)
    return card.quantity, card.revenue


def test_the_worked_example_cap_discount_and_an_added_line() -> None:
    outcome = run("1500", CAP, DISCOUNT, ONBOARDING)
    assert [(c.rule.name, c.line_type, c.amount) for c in outcome.changes] == [
        ("Usage cap", "PRICING_RULE_USAGE_UPDATE_AMOUNT", D("-50.00")),  # 1,500 -> 1,000 calls: 150.00 -> 100.00
        ("Volume discount", "PRICING_RULE_REVENUE_UPDATE_AMOUNT", D("-10.00")),  # 100.00 x 0.9 = 90.00
        ("Enterprise seats", "PRICING_RULE_ADDITION_AMOUNT", D("30.00")),  # 12 seats x 2.50
    ]
    assert revenue(outcome, "api_calls") == (D(1000), D("90.00"))
    assert revenue(outcome, "platform") == (None, D(100))
    assert [e.type for e in outcome.log] == ["CONDITION_TRUE"] * 3 and outcome.errors == []
    cap = outcome.changes[0]
    assert (cap.old_usage, cap.new_usage, cap.old_revenue, cap.new_revenue) == (
        D(1500),
        D(1000),
        D("150.00"),
        D("100.00"),
    )


def test_conditions_that_do_not_hold_change_nothing() -> None:
    outcome = run("800", CAP, DISCOUNT, ONBOARDING, account=STARTUP)  # 800 calls = 80.00; not enterprise
    assert [e.type for e in outcome.log] == ["CONDITION_FALSE", "CONDITION_TRUE", "CONDITION_FALSE"]
    assert [c.amount for c in outcome.changes] == [D("-8.00")]  # 80.00 x 0.9 = 72.00
    assert revenue(outcome, "api_calls") == (D(800), D("72.00"))
    small = run("400", DISCOUNT)  # 40.00 < 50: no discount
    assert small.changes == () and revenue(small, "api_calls") == (D(400), D("40.00"))


def test_rules_run_in_order_each_seeing_what_the_one_before_left() -> None:
    first_discount = {**DISCOUNT, "order": 1}
    then_cap = {**CAP, "order": 2}
    outcome = run("1500", then_cap, first_discount)  # given in any order, run by `order`
    assert [c.rule.name for c in outcome.changes] == ["Volume discount", "Usage cap"]
    # 150.00 x 0.9 = 135.00, then the cap prices 1,000 calls again: 100.00 (the discount is gone)
    assert [c.amount for c in outcome.changes] == [D("-15.00"), D("-35.00")]
    assert revenue(outcome, "api_calls") == (D(1000), D("100.00"))


def test_amounts_are_rounded_once_half_up_and_usage_is_not() -> None:
    outcome = run("333.5", {**DISCOUNT, "condition": None})  # 33.35 x 0.9 = 30.015 -> 30.02
    assert revenue(outcome, "api_calls") == (D("333.5"), D("30.02"))
    third = {**CAP, "condition": None, "computation": '{"/": [{"var": "usage.api_calls"}, 3]}'}
    _, new = revenue(run("1000", third), "api_calls")  # 333.33... calls x 0.10 = 33.333... -> 33.33
    assert new == D("33.33")
    assert run("1000", third).changes[0].new_usage == D("333." + "3" * 47)  # jsonLogic's 50 significant digits


def test_cards_are_named_by_name_billable_id_or_togai_key_and_totals_and_tags_are_read() -> None:
    by_meter = {**DISCOUNT, "condition": None, "computation": '{"*": [{"var": "revenue.urc.um.calls"}, 0.5]}'}
    assert revenue(run("100", by_meter), "api_calls") == (D(100), D("5.00"))
    fee = {
        "name": "Fee waiver",
        "order": 1,
        "condition": '{"in": ["gold", {"var": "account.tags"}]}',
        "computation": '{"-": [{"var": "revenue.ff.addon.platform"}, {"var": "total.revenue"}]}',
        "action": {"type": "UPDATE", "target": "revenue.addon.platform"},
    }
    assert revenue(run("100", fee), "platform") == (None, D("-10.00"))  # 100 - (10 + 100)
    assert run("100", fee, account=STARTUP).changes == ()


def test_a_rule_on_an_in_advance_card() -> None:
    outcome = run("0", SUPPORT, timing="IN_ADVANCE")
    assert [(c.line_type, c.amount) for c in outcome.changes] == [("PRICING_RULE_REVENUE_UPDATE_AMOUNT", D("-10.00"))]
    assert revenue(outcome, "support") == (None, D("40.00"))
    assert run("0", SUPPORT).changes == ()  # an in-arrears invoice does not run it


@pytest.mark.parametrize(
    ("rule", "kind", "words"),
    [
        ({"condition": '{"<": [{"+": [{"var": "account.name"}, 1]}, 2]}'}, "CONDITION_ERROR", "'+' needs numbers"),
        (
            {"computation": '{"/": [{"var": "revenue.api_calls"}, {"var": "usage.nothing"}]}'},
            "COMPUTATION_ERROR",
            "needs numbers",
        ),
        ({"computation": '{"/": [1, 0]}'}, "COMPUTATION_ERROR", "by zero"),
        ({"computation": '"lots"'}, "COMPUTATION_ERROR", "not a number"),
        ({"computation": "1e20"}, "COMPUTATION_ERROR", "out of range"),
        ({"computation": "999999999999900"}, "COMPUTATION_ERROR", "take the invoice's amounts out of range"),
        (
            {"computation": "-999999999999900", "action": {"type": "UPDATE", "target": "revenue.api_calls"}},
            "COMPUTATION_ERROR",
            "take the invoice's amounts out of range",
        ),
        (
            {"computation": "-1", "action": {"type": "UPDATE", "target": "usage.api_calls"}},
            "COMPUTATION_ERROR",
            "cannot be negative",
        ),
    ],
)
def test_a_failing_rule_is_reported_and_changes_nothing(rule: dict[str, Any], kind: str, words: str) -> None:
    broken = {**DISCOUNT, "condition": None, "name": "Broken", **rule}
    outcome = run("1500", broken, {**ONBOARDING, "order": 5})
    assert [e.type for e in outcome.log] == [kind, "CONDITION_TRUE"]  # the rules after it still run
    assert revenue(outcome, "api_calls") == (D(1500), D("150.00"))
    assert len(outcome.errors) == 1 and outcome.errors[0].startswith("pricing rule 'Broken' (order 2)")
    assert words in outcome.errors[0]
    assert outcome.log[0].to_json()["changes"]["errorMessage"] == outcome.log[0].error


def test_a_card_not_on_the_invoice_is_left_alone() -> None:
    always = {**DISCOUNT, "condition": None}
    outcome = pricing_rules.apply(plan_model.rules_of(model(always), "IN_ARREARS"), [], "USD", ENTERPRISE)
    assert outcome.changes == () and outcome.errors == []
    assert outcome.log[0].type == "CONDITION_FALSE" and "not billed on this invoice" in (outcome.log[0].error or "")


@pytest.mark.parametrize(
    ("rules", "words"),
    [
        ([{**DISCOUNT, "computation": "{nope"}], r"pricingRules\[0\]\.computation: not valid jsonLogic: invalid JSON"),
        ([CAP, {**DISCOUNT, "condition": '{"frobnicate": [1]}'}], r"pricingRules\[1\]\.condition: not valid jsonLogic"),
        ([CAP, {**DISCOUNT, "order": 1}], r"pricingRules\[1\]\.order: 1 is already the order of pricingRules\[0\]"),
        (
            [{**DISCOUNT, "action": {"type": "UPDATE", "target": "revenue.nothing"}}],
            r"\.action\.target: the plan has no rate card 'nothing'",
        ),
        (
            [{**DISCOUNT, "action": {"type": "UPDATE", "target": "usage.platform"}}],
            r"only a usage card's usage can be updated",
        ),
        (
            [{**DISCOUNT, "action": {"type": "UPDATE", "target": "fees.platform"}}],
            r"neither `revenue.<card>` nor `usage.<card>`",
        ),
        ([{**DISCOUNT, "action": {"type": "UPDATE"}}], r"an UPDATE needs a target"),
        ([{**ONBOARDING, "action": {"type": "ADD", "target": "revenue.platform"}}], r"only an UPDATE changes a card"),
        ([{**SUPPORT, "invoiceTiming": "IN_ARREARS"}], r"card 'support' is billed in advance; an IN_ARREARS rule"),
        ([{**DISCOUNT, "order": n} for n in range(1, 22)], r"pricingRules: at most 20 pricing rules \(21 given\)"),
        ([{**DISCOUNT, "computation": None}], r"pricingRules\[0\]: .*"),
    ],
)
def test_invalid_rules_are_refused_naming_the_field(rules: list[dict[str, Any]], words: str) -> None:
    with pytest.raises(BadRequest, match=words):
        plan_rules.check_pricing_rules(rules, plan_model.parse(PLAN).cards())


def test_valid_rules_are_completed_and_sorted() -> None:
    done = plan_rules.check_pricing_rules([DISCOUNT, CAP], plan_model.parse(PLAN).cards())
    assert [(r["order"], r["id"], r["invoiceTiming"]) for r in done] == [
        (1, "rule_1", "IN_ARREARS"),
        (2, "rule_2", "IN_ARREARS"),
    ]
    assert [r.name for r in model(DISCOUNT, CAP).pricing_rules] == ["Usage cap", "Volume discount"]
    assert isinstance(model(CAP).pricing_rules[0], PricingRule)


def _sums_hold(line: builder.Line) -> None:
    """D1: every parent but the root is the exact sum of its children."""
    for child in line.children:
        if child.children:
            assert child.value == sum((c.value for c in child.children), D(0)), child.id
            _sums_hold(child)


def test_the_invoices_of_the_worked_example() -> None:
    """docs/pricing.md: 1,500 calls, the enterprise account, every rule: the in-advance invoice 40.00, the in-arrears
    invoice 220.00 (SUB_TOTAL 260.00 less the 40.00 invoiced in advance)."""
    rules = builder.Rules.of(model(CAP, DISCOUNT, ONBOARDING, SUPPORT), ENTERPRISE)
    advanced = builder.build_advanced(cards("1500", "IN_ADVANCE"), "USD", rules=rules)
    assert advanced.total == D("40.00")
    fees = advanced.revenue.find("TOTAL_ADVANCED_FEES")
    assert fees is not None and [(c.type, c.value) for c in fees.children] == [
        ("ADVANCED_FIXED_FEE", D(50)),
        ("PRICING_RULE_REVENUE_UPDATE_AMOUNT", D("-10.00")),
    ]
    standard = builder.build_standard(cards("1500"), cards("1500", "IN_ADVANCE"), None, [], "USD", rules=rules)
    assert standard.total == D("220.00") and standard.rule_errors == []
    sub = standard.revenue.find("SUB_TOTAL_AMOUNT")
    assert sub is not None and sub.value == D("260.00")
    assert [(c.id, c.type, c.value) for c in sub.children] == [
        ("um.calls", "USAGE_RATE_CARD_AMOUNT", D("150.00")),
        ("um.calls:rule:rule_1", "PRICING_RULE_USAGE_UPDATE_AMOUNT", D("-50.00")),
        ("um.calls:rule:rule_2", "PRICING_RULE_REVENUE_UPDATE_AMOUNT", D("-10.00")),
        ("addon.platform", "FIXED_FEE_RATE_CARD_AMOUNT", D(100)),
        ("TOTAL_PRICING_RULE_ADDITION_AMOUNT", "TOTAL_PRICING_RULE_ADDITION_AMOUNT", D("30.00")),
        ("TOTAL_ADVANCED_FEES", "TOTAL_ADVANCED_FEES", D("40.00")),
    ]
    added = sub.children[4].children[0]
    assert (added.description, added.metadata) == (
        "Enterprise seats (2.50 each)",
        {"ruleId": "rule_3", "ruleName": "Enterprise seats", "order": 3},
    )
    cap = sub.children[1]
    assert cap.quantity == D(1000) and cap.metadata is not None and cap.metadata["ruleName"] == "Usage cap"
    assert cap.metadata["oldUsage"] == D(1500) and cap.metadata["newRevenue"] == D("100.00")
    _sums_hold(standard.revenue)
    _sums_hold(advanced.revenue)
    log = (standard.revenue.metadata or {})["pricingRules"]
    assert [(e["name"], e["type"]) for e in log] == [
        (n, "CONDITION_TRUE") for n in ("Usage cap", "Volume discount", "Enterprise seats")
    ]
    assert builder.Line.from_json(standard.revenue.to_json()) == standard.revenue  # kept as is at finalization


def test_an_invoice_with_a_failing_rule_is_computed_and_says_so() -> None:
    broken = {
        **ONBOARDING,
        "name": "Broken",
        "condition": None,
        "computation": '{"*": [{"var": "account.metadata.nope"}, 2]}',
    }
    built = builder.build_standard(cards("100"), [], None, [], "USD", rules=builder.Rules.of(model(broken), STARTUP))
    assert built.total == D("110.00")  # 100 calls x 0.10 + the 100.00 platform fee, as if the rule were not there
    assert built.rule_errors == ["pricing rule 'Broken' (order 3): computation: '*' needs numbers, got None"]
    assert (built.revenue.metadata or {})["pricingRuleErrors"] == built.rule_errors


def test_credits_see_a_card_as_its_rules_left_it() -> None:
    from datetime import UTC, datetime

    from meterline.invoicing.credit_application import Available

    credit = Available("c1", "Promo", D(1000), 1, None, datetime(2024, 1, 1, tzinfo=UTC), ())
    rules = builder.Rules.of(model(CAP, DISCOUNT, ONBOARDING), ENTERPRISE)
    built = builder.build_standard(cards("1500"), [], None, [], "USD", [credit], rules)
    # the credit takes what each line owes after the rules: 90.00 (calls), 100.00 (platform), 30.00 (added)
    assert [(a.line_id, a.amount) for a in built.credits] == [
        ("um.calls", D("90.00")),
        ("addon.platform", D(100)),
        ("PRICING_RULE:rule_3", D("30.00")),
    ]
    assert built.total == D("0.00")


def test_the_pdf_lists_the_rules_lines_under_the_cards() -> None:
    import io

    import pypdf
    import simplejson

    from meterline.invoicing.pdf import render_invoice_pdf, rows
    from tests.unit.test_invoice_pdf import invoice_of

    rules = builder.Rules.of(model(CAP, DISCOUNT, ONBOARDING, SUPPORT), ENTERPRISE)
    built = builder.build_standard(cards("1500"), cards("1500", "IN_ADVANCE"), None, [], "USD", rules=rules)
    revenue = simplejson.loads(simplejson.dumps(built.revenue.to_json(), use_decimal=True), use_decimal=True)
    assert [(r.line["description"], r.depth) for r in rows(revenue)] == [
        ("API calls", 0),
        ("API calls: slab 1 (above 0)", 1),
        ("API calls: Usage cap", 0),
        ("API calls: Volume discount", 0),
        ("Platform", 0),
        ("Enterprise seats (2.50 each)", 0),
        ("Support", 0),
        ("Support: Support discount", 0),
        ("Invoiced in advance", 0),
    ]
    data = render_invoice_pdf(invoice_of(revenue, "220.00"))
    text = " ".join(" ".join(p.extract_text().split()) for p in pypdf.PdfReader(io.BytesIO(data)).pages)
    for shown in ("API calls: Usage cap", "1,000 USD -50.00", "Enterprise seats (2.50 each) USD 30.00", "USD 220.00"):
        assert shown in text, text


def test_revenue_metrics_split_the_rules_lines_per_billable() -> None:
    from meterline.invoicing.reports import billable_parts

    rules = builder.Rules.of(model(CAP, DISCOUNT, ONBOARDING, SUPPORT), ENTERPRISE)
    built = builder.build_standard(cards("1500"), cards("1500", "IN_ADVANCE"), None, [], "USD", rules=rules)
    parts, usage = billable_parts(built.revenue)
    # an update counts with the card it changes, an added line under PRICING_RULES; nothing left unexplained
    assert parts == {"um.calls": D("90.00"), "addon.platform": D(100), "PRICING_RULES": D("30.00")}
    assert usage == frozenset({"um.calls"})
    advanced = builder.build_advanced(cards("1500", "IN_ADVANCE"), "USD", rules=rules)
    assert billable_parts(advanced.revenue)[0] == {"addon.support": D("40.00")}


def test_a_rule_that_does_too_much_work_is_stopped_and_reported() -> None:
    """The compiler's evaluation budget (metering/jsonlogic.py) bounds each rule on each invoice."""
    crowded = AccountFacts("big", "Big", "USD", {}, tuple(f"t{n}" for n in range(200)))
    merged = '{"merge": [' + ", ".join(['{"var": "account.tags"}'] * 60) + "]}"
    greedy = {**ONBOARDING, "name": "Greedy", "condition": None, "computation": '{"+": [1, {"max": ' + merged + "}]}"}
    outcome = run("10", greedy, account=crowded)
    assert outcome.changes == () and outcome.errors[0].startswith(
        "pricing rule 'Greedy' (order 3): computation: too much work"
    )


def test_the_calculator_s_cards_keep_their_order_with_each_timing_s_rules() -> None:
    from meterline.revenue.compute import with_rules

    every = plan_revenue(model(CAP, DISCOUNT, ONBOARDING, SUPPORT), "USD", {"um.calls": D(1500)}, {})
    ruled = with_rules(model(CAP, DISCOUNT, ONBOARDING, SUPPORT), every, "USD", ENTERPRISE)
    assert [(plan_model.card_name(c.card), c.revenue) for c in ruled.cards] == [
        ("api_calls", D("90.00")),
        ("platform", D(100)),
        ("support", D("40.00")),
    ]
    assert [c.revenue for c in ruled.before] == [D("150.00"), D(100), D(50)]
    assert [e.rule.name for e in ruled.log] == ["Usage cap", "Volume discount", "Enterprise seats", "Support discount"]
    plain = with_rules(plan_model.parse(PLAN), every, "USD")
    assert plain.cards is every and plain.log == []


def test_an_added_line_s_id_is_its_rule_s_whatever_the_action_says() -> None:
    named = {**ONBOARDING, "action": {**ONBOARDING["action"], "id": "SUB_TOTAL_AMOUNT", "metadata": {"sku": "S-1"}}}
    change = run("10", named).changes[0]
    line = builder.rule_line(change)
    assert (line.id, line.type, line.value) == ("PRICING_RULE:rule_3", "PRICING_RULE_ADDITION_AMOUNT", D("30.00"))
    assert line.metadata is not None
    assert (line.metadata["actionId"], line.metadata["actionMetadata"]) == ("SUB_TOTAL_AMOUNT", {"sku": "S-1"})


@given(
    calls=st.decimals(min_value=0, max_value=10**6, places=3),
    seats=st.one_of(st.none(), st.integers(min_value=-5, max_value=500).map(str), st.just("many")),
    chosen=st.permutations([CAP, DISCOUNT, ONBOARDING, SUPPORT]).flatmap(
        lambda rules: st.integers(min_value=0, max_value=4).map(lambda n: rules[:n])
    ),
)
@settings(max_examples=60, deadline=None)
def test_any_usage_and_rules_give_a_consistent_invoice(
    calls: Decimal, seats: str | None, chosen: list[dict[str, Any]]
) -> None:
    """Whatever the usage, the account and the rules (in any order): every rule is logged once, D1 holds, the
    invoice never fails, and the in-arrears total is its SUB_TOTAL less what the in-advance invoice billed."""
    orders = [{**r, "order": i + 1} for i, r in enumerate(chosen)]
    metadata = {"tier": "enterprise"} | ({"seats": seats} if seats is not None else {})
    account = AccountFacts("a", "A", "USD", metadata, ())
    rules = builder.Rules.of(model(*orders), account)
    advance = cards(str(calls), "IN_ADVANCE")
    advanced = builder.build_advanced(advance, "USD", rules=rules)
    standard = builder.build_standard(cards(str(calls)), advance, None, [], "USD", rules=rules)
    logged = (standard.revenue.metadata or {}).get("pricingRules", []) + (advanced.revenue.metadata or {}).get(
        "pricingRules", []
    )
    assert sorted(e["name"] for e in logged) == sorted(r["name"] for r in orders)
    _sums_hold(standard.revenue)
    _sums_hold(advanced.revenue)
    sub = standard.revenue.find("SUB_TOTAL_AMOUNT")
    assert sub is not None
    assert standard.total == max(D("0.00"), sub.value - advanced.total)
    assert all(
        v.value == v.value.quantize(D("0.01")) for v in standard.revenue.walk() if v.type.startswith("PRICING_RULE")
    )


def test_the_settings_a_rule_reads_are_named_and_nested_the_nearer_id_first() -> None:
    reading = PricingRule.model_validate(
        {
            "name": "Settings",
            "order": 1,
            "condition": '{"==": [{"var": "account.settings.billing.tier"}, "gold"]}',
            "computation": '{"+": [{"var": "account.settings.billing.a.b"}, {"var": "account.metadata.x"}]}',
            "action": {"type": "ADD"},
        }
    )
    # every prefix of a path may be the setting's id (an id may hold dots; a JSON value may be read into)
    assert pricing_rules.setting_keys([reading]) == ("billing.a", "billing.a.b", "billing.tier")
    facts = AccountFacts(settings={"billing.a": {"b": D(2)}, "billing.a.b": D(5), "billing.tier": "gold"})
    # the setting `a` (JSON) wins over the setting `a.b`: its value is read, never merged into
    assert facts.data()["settings"] == {"billing": {"a": {"b": D(2)}, "tier": "gold"}}
    outcome = pricing_rules.apply([reading], [], "USD", AccountFacts(metadata={"x": "1"}, settings=facts.settings))
    assert [c.amount for c in outcome.changes] == [D("3.00")]
