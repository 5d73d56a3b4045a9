"""Price plans v2 as a view of the v1 details (catalog/plan_v2.py): pure, table-driven."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from meterline.catalog import plan_model, plan_rules, plan_v2
from meterline.catalog.plan_schemas import FixedFeeRateCard, MinimumCommitment, UsageRateCard
from meterline.core.errors import BadRequest

CATALOG = plan_rules.CatalogView(
    meters={"um.calls": ("calls", "ACTIVE"), "um.draft": ("drafted", "DRAFT")},
    addons={"fee": ("FIXED_FEE", "Platform fee", "ACTIVE"), "seats": ("LICENSE", "Seats", "ACTIVE")},
    features={"feat": "Exports"},
)


def usage(meter: str, name: str | None = None, *currencies: str) -> dict[str, Any]:
    card: dict[str, Any] = {
        "usageMeterId": meter,
        "ratePlan": {"pricingModel": "TIERED", "slabs": [{"order": 1, "startAfter": 0, "priceType": "PER_UNIT"}]},
        "rateValues": [
            {"currency": c, "slabRates": [{"order": 1, "rate": Decimal("0.5")}]} for c in currencies or ["USD"]
        ],
    }
    if name:
        card["name"] = name
    return card


def fee(addon: str, name: str | None = None) -> dict[str, Any]:
    card: dict[str, Any] = {"id": addon, "rateValues": [{"currency": "USD", "rate": 50}], "enableProration": False}
    if name:
        card["name"] = name
    return card


def details(**cards: Any) -> dict[str, Any]:
    cycle = {"interval": "MONTHLY", "startOffset": {"dayOffset": "1", "monthOffset": "NIL"}, "gracePeriod": 0}
    return {"pricingCycleConfig": cycle, "supportedCurrencies": ["USD"], **cards}


def test_every_card_of_a_v1_plan_has_a_v2_name_type_and_billable() -> None:
    # Given a v1 plan, normalized as v1 stores it (names filled in, the commitment named too)
    stored = plan_rules.normalize(
        details(
            usageRateCards=[usage("um.calls")],
            fixedFeeRateCards=[fee("fee", "platform")],
            minimumCommitment={"displayName": "Minimum", "rateValues": [{"currency": "USD", "rate": 300}]},
        ),
        "BILLING",
        CATALOG,
    )
    cards = plan_v2.named_cards(plan_model.parse(stored))
    assert [(c.name, c.type, c.billable_id, c.invoice_timing, c.display_name) for c in cards] == [
        ("usage_um.calls", "USAGE", "um.calls", "IN_ARREARS", "calls"),
        ("platform", "FIXED_FEE", "fee", "IN_ARREARS", "Platform fee"),
        ("minimum_commitment", "MINIMUM_COMMITMENT", "minimum_commitment", "IN_ARREARS", "Minimum"),
    ]
    # Then the details made back from those cards are the details
    assert plan_v2.details_with(plan_model.parse(stored), cards) == stored


def test_a_commitment_stored_before_it_had_a_name_is_read_as_minimum_commitment() -> None:
    model = plan_model.parse(
        details(minimumCommitment={"displayName": "Min", "rateValues": [{"currency": "USD", "rate": 1}]})
    )
    [card] = plan_v2.named_cards(model)
    assert (card.name, card.currencies()) == ("minimum_commitment", ["USD"])


def given(kind: plan_v2.RateCardType, billable: str, card: Any, timing: str = "IN_ARREARS") -> plan_v2.CardInput:
    field = plan_v2.KINDS[kind][1]
    return plan_v2.CardInput(kind, billable, None, timing, None, {field: card})  # type: ignore[arg-type]


USAGE = UsageRateCard.model_validate(usage("um.calls"))
FEE = FixedFeeRateCard.model_validate(fee("fee"))


@pytest.mark.parametrize(
    ("card", "message"),
    [
        (given("USAGE", "um.other", USAGE), "billableId: 'um.other' is not what its usageRateCard bills ('um.calls')"),
        (given("USAGE", "um.calls", USAGE, "IN_ADVANCE"), "invoiceTiming: a USAGE rate card is billed IN_ARREARS"),
        (
            plan_v2.CardInput("FIXED_FEE", "fee", None, "IN_ARREARS", None, {"usage_rate_card": USAGE}),
            "a FIXED_FEE rate card gives exactly one card, fixedFeeRateCard (got usageRateCard)",
        ),
        (
            plan_v2.CardInput(
                "USAGE", "um.calls", None, "IN_ARREARS", None, {"usage_rate_card": USAGE, "fixed_fee_rate_card": FEE}
            ),
            "(got usageRateCard, fixedFeeRateCard)",
        ),
    ],
)
def test_a_v2_card_that_disagrees_with_itself_is_refused(card: plan_v2.CardInput, message: str) -> None:
    with pytest.raises(BadRequest, match=message.replace("(", r"\(").replace(")", r"\)")):
        plan_v2.card_from_input("c", card, "operations[0].rateCard")


def test_a_v2_card_takes_its_name_display_name_tag_and_timing_from_the_outside() -> None:
    outer = plan_v2.CardInput("FIXED_FEE", "fee", "Platform", "IN_ADVANCE", "base", {"fixed_fee_rate_card": FEE})
    card = plan_v2.card_from_input("platform", outer, "x").card
    assert isinstance(card, FixedFeeRateCard)
    assert (card.name, card.display_name, card.tag, card.invoice_timing) == (
        "platform",
        "Platform",
        "base",
        "IN_ADVANCE",
    )


def test_operations_apply_in_order_all_or_nothing() -> None:
    start = [plan_v2.NamedCard("USAGE", USAGE.model_copy(update={"name": "calls"}))]
    create = plan_v2.Operation("CREATE", "platform", given("FIXED_FEE", "fee", FEE))
    cards, touched = plan_v2.apply(start, [create, plan_v2.Operation("DELETE", "calls", None)])
    assert ([c.name for c in cards], touched) == (["platform"], ["platform"])
    assert [c.name for c in start] == ["calls"]  # the input is not changed
    commitment = MinimumCommitment.model_validate(
        {"displayName": "Min", "rateValues": [{"currency": "USD", "rate": 1}]}
    )
    twice = plan_v2.Operation("CREATE", "m2", given("MINIMUM_COMMITMENT", "m2", commitment))
    for operations, message in (
        ([plan_v2.Operation("UPDATE", "nope", given("USAGE", "um.calls", USAGE))], "has no rate card 'nope'"),
        ([create, create], r"operations\[1\].rateCardName: the plan already has a rate card 'platform'"),
        ([plan_v2.Operation("CREATE", "m", twice.card), twice], "already has its minimum commitment, 'm'"),
    ):
        with pytest.raises(BadRequest, match=message):
            plan_v2.apply(start, operations)


def test_settle_reports_every_card_and_keeps_the_valid_ones_normalized() -> None:
    draft = details(
        usageRateCards=[
            usage("um.calls", "calls"),
            usage("um.calls", "again"),  # the same meter: the later card's error
            usage("um.nope", "ghost"),
            usage("um.draft", "eur", "EUR"),  # a currency the plan does not support
        ],
        fixedFeeRateCards=[fee("seats", "wrong"), fee("fee", "platform")],
    )
    settled = plan_v2.settle(draft, "BILLING", CATALOG, "pp.1")
    assert [(e.entity_type, e.entity_id, e.message) for e in settled.errors] == [
        (
            "RATE_CARD",
            "again",
            "usageMeterId: meter 'um.calls' is already priced by rate card 'calls'",
        ),
        ("RATE_CARD", "ghost", "usageMeterId: no usage meter 'um.nope'"),
        (
            "RATE_CARD",
            "eur",
            "rateValues: EUR is not one of the plan's supportedCurrencies (USD)",
        ),
        ("RATE_CARD", "wrong", "id: add-on 'seats' is a LICENSE add-on; this card needs FIXED_FEE"),
    ]
    model = plan_model.parse(settled.details)
    assert [c.name for c in plan_v2.named_cards(model)] == ["calls", "again", "ghost", "eur", "wrong", "platform"]
    by_name = {c.name: c.card for c in plan_v2.named_cards(model)}
    assert by_name["calls"].display_name == "calls" and by_name["platform"].display_name == "Platform fee"
    assert by_name["ghost"].display_name is None  # kept as given


def test_settle_a_plan_level_error_is_the_plans() -> None:
    settled = plan_v2.settle(
        {"supportedCurrencies": ["USD"], "usageRateCards": [usage("um.nope")]}, "BILLING", CATALOG, "pp.1"
    )
    assert [(e.entity_type, e.entity_id) for e in settled.errors] == [("PRICE_PLAN", "pp.1")]
    assert "pricingCycleConfig is required" in settled.errors[0].message


def test_activation_errors_need_every_currency_every_meter_active_and_the_active_ones_kept() -> None:
    model = plan_model.parse(
        plan_rules.normalize(
            details(supportedCurrencies=["EUR", "USD"], usageRateCards=[usage("um.draft", "calls")]), "BILLING", CATALOG
        )
    )
    errors = plan_v2.activation_errors(model, ["GBP"], {"um.draft": "DRAFT"}, "pp.1")
    assert [(e.entity_id, e.message) for e in errors] == [
        ("pp.1", "supportedCurrencies: GBP is active and must stay"),
        ("calls", "rateValues: no rates in EUR (a supported currency)"),
        ("calls", "usageMeterId: usage meter um.draft is not ACTIVE: activate it first"),
    ]
