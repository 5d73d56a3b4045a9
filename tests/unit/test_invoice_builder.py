"""The invoice builder's pure pieces: lines and charges as stored (JSON) and read back, and each kind of rate card's
line (billing-rules D8, D11)."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from meterline import rating
from meterline.catalog import rate_cards
from meterline.catalog.plan_schemas import BillingEntitlementRateCard, FixedFeeRateCard, UsageRateCard
from meterline.invoicing.builder import (
    Charge,
    ChargeError,
    CustomItem,
    Line,
    _line_data,
    build_custom,
    build_standard,
    card_line,
    charge_amount,
    check_charge_value,
    custom_value,
)
from meterline.invoicing.credit_application import Available
from meterline.revenue.compute import CardRevenue

D = Decimal


def fixed_fee(billable: str, name: str) -> FixedFeeRateCard:
    return FixedFeeRateCard.model_validate(
        {"id": billable, "displayName": name, "rateValues": [{"currency": "USD", "rate": 1}], "enableProration": False}
    )


def test_a_line_reads_back_as_it_was_stored() -> None:
    slab = Line(
        "m:slab:1", "Calls: slab 1", "USAGE_RATE_CARD_SLAB_AMOUNT", D("25.00"), D("50"), D("0.50"), {"order": 1}
    )
    card = Line("m", "Calls", "USAGE_RATE_CARD_AMOUNT", D("25.00"), D("50"), None, {"pricingModel": "TIERED"}, (slab,))
    assert Line.from_json(card.to_json()) == card
    assert Line.from_json(slab.to_json()).value_per_quantity == D("0.50")


def test_a_charge_reads_back_as_it_was_stored() -> None:
    for charge in (
        Charge(name="Hours", rate=D("80"), quantity=D("1.5"), consider_for_revenue=True),
        Charge(name="Setup", value="49.99"),
    ):
        assert Charge.from_json(charge.to_json()) == charge
    assert Charge.from_json({"name": "Old", "value": "1"}).consider_for_revenue is False  # stored before the flag


def test_a_billing_entitlement_card_is_its_units_at_the_card_s_price() -> None:
    typed = BillingEntitlementRateCard.model_validate(
        {
            "name": "Exports",
            "featureId": "f.exports",
            "featureConfigs": [{"effectiveUntil": "P1M", "featureCreditLimit": 5}],
            "invoiceTiming": "IN_ADVANCE",
            "ratePlan": {"pricingModel": "TIERED", "slabs": [{"order": 1, "startAfter": 0, "priceType": "PER_UNIT"}]},
            "rateValues": [{"currency": "USD", "slabRates": [{"order": 1, "rate": 10}]}],
        }
    )
    card = CardRevenue("BILLING_ENTITLEMENT", typed, "Exports", D(5), None, D("50.00"))
    line = card_line(card, "USD")
    assert (line.type, line.value, line.quantity, line.value_per_quantity) == (
        "BILLING_ENTITLEMENT_RATE_CARD_AMOUNT",
        D("50.00"),
        D(5),
        None,
    )
    assert line.metadata == {"featureId": "f.exports", "units": D(5)}
    advanced = card_line(card, "USD", advanced=True)
    assert advanced.type == "ADVANCED_BILLING_ENTITLEMENT_RATE_CARD_AMOUNT"
    none_yet = card_line(CardRevenue("BILLING_ENTITLEMENT", card.card, "Exports", None, None, D("0.00")), "USD")
    assert (none_yet.quantity, none_yet.metadata) == (D(0), {"featureId": "f.exports", "units": D(0)})


def test_a_fixed_fee_is_one_unit_at_its_revenue() -> None:
    card = CardRevenue("FIXED_FEE", fixed_fee("ao.fee", "Platform"), "ao.fee", None, None, D("300.00"))
    line = card_line(card, "USD")
    assert (line.id, line.description, line.type, line.quantity, line.value_per_quantity, line.metadata) == (
        "ao.fee",
        "Platform",
        "FIXED_FEE_RATE_CARD_AMOUNT",
        D(1),
        D("300.00"),
        None,
    )


def test_an_invoice_without_fees_in_advance_shows_none() -> None:
    fee = CardRevenue("FIXED_FEE", fixed_fee("ao.fee", "Platform"), "ao.fee", None, None, D("300.00"))
    built = build_standard([fee], [], None, [], "USD")
    types = [line.type for line in built.revenue.walk()]
    assert "TOTAL_ADVANCED_FEES" not in types and "INVOICED_IN_ADVANCE" not in [li.id for li in built.revenue.walk()]
    assert built.total == D("300.00")
    # with one, it counts in the subtotal and comes off again
    early = CardRevenue("FIXED_FEE", fixed_fee("ao.support", "Support"), "ao.support", None, None, D("50.00"))
    both = build_standard([fee], [early], None, [], "USD")
    values = {line.id: line.value for line in both.revenue.walk()}
    assert (values["SUB_TOTAL_AMOUNT"], values["TOTAL_ADVANCED_FEES"], values["INVOICED_IN_ADVANCE"]) == (
        D("350.00"),
        D("50.00"),
        D("-50.00"),
    )
    assert both.total == D("300.00")


def test_credits_show_as_a_line_only_when_one_applies() -> None:
    fee = CardRevenue("FIXED_FEE", fixed_fee("ao.fee", "Platform"), "ao.fee", None, None, D("300.00"))
    without = build_standard([fee], [], None, [], "USD")
    assert "TOTAL_CREDITS" not in [line.type for line in without.revenue.walk()]  # no empty "Credits 0.00" line
    promo = Available("cr.1", "Promo", D("100.00"), 1, None, datetime(2024, 3, 1, tzinfo=timezone.utc), ())
    credited = build_standard([fee], [], None, [], "USD", credits=[promo])
    values = {line.id: line.value for line in credited.revenue.walk()}
    assert (values["TOTAL_CREDITS"], values["SUB_CREDITS:cr.1"], credited.total) == (
        D("-100.00"),
        D("-100.00"),
        D("200.00"),
    )


def test_charges_read_each_line_by_its_dotted_id_and_a_clash_is_skipped() -> None:
    # jsonLogic's var reads "um.calls" as data["um"]["calls"]; a line whose id is a prefix of another's keeps its
    # value, and the longer id is then not readable (never a crash on a number taken for a mapping)
    root = Line(
        "TOTAL_AMOUNT",
        "Total",
        "TOTAL_AMOUNT",
        D(6),
        children=(
            Line("um", "U", "USAGE_RATE_CARD_AMOUNT", D(1)),
            Line("um.calls", "C", "USAGE_RATE_CARD_AMOUNT", D(5)),
        ),
    )
    assert _line_data(root) == {"TOTAL_AMOUNT": D(6), "um": D(1)}
    ordered = Line("TOTAL_AMOUNT", "Total", "TOTAL_AMOUNT", D(6), children=tuple(reversed(root.children)))
    assert _line_data(ordered) == {"TOTAL_AMOUNT": D(6), "um": {"calls": D(5)}}


def usage_card(quantity: Decimal, *, minimum: int | None = None) -> CardRevenue:
    """A TIERED usage card priced as an invoice prices it: 0-10 units free, then 2.50 a unit."""
    plan: dict[str, object] = {
        "pricingModel": "TIERED",
        "slabs": [
            {"order": 1, "startAfter": 0, "priceType": "PER_UNIT"},
            {"order": 2, "startAfter": 10, "priceType": "PER_UNIT"},
        ],
    }
    value: dict[str, object] = {
        "currency": "USD",
        "slabRates": [{"order": 1, "rate": 0}, {"order": 2, "rate": D("2.5")}],
    }
    if minimum is not None:
        value["rateConfig"] = {"minimumRate": str(minimum)}
    card = UsageRateCard.model_validate(
        {"displayName": "Calls", "usageMeterId": "um.calls", "ratePlan": plan, "rateValues": [value]}
    )
    priced = rating.price(rate_cards.slab_rate_plan(card, "USD", "usage"), quantity, "USD")
    return CardRevenue("USAGE", card, "um.calls", quantity, priced, priced.revenue)


def test_a_usage_card_shows_each_slab_used_at_its_rate_and_an_adjustment_only_when_there_is_one() -> None:
    line = card_line(usage_card(D("12")), "USD")
    slabs = [(c.id, c.quantity, c.value_per_quantity, c.value) for c in line.children]
    assert slabs == [("um.calls:slab:1", D(10), D(0), D(0)), ("um.calls:slab:2", D(2), D("2.5"), D("5.00"))]
    assert line.value == D("5.00")  # no minimum or maximum: no adjustment line
    # a free slab that received half a unit is still shown (it received a quantity)
    half = card_line(usage_card(D("0.5")), "USD")
    assert [(c.id, c.quantity, c.value) for c in half.children] == [("um.calls:slab:1", D("0.5"), D(0))]
    # a minimum of 20.00 over 5.00 of slabs: the adjustment line makes up the difference
    lifted = card_line(usage_card(D("12"), minimum=20), "USD")
    adjustment = [(c.id, c.type, c.value) for c in lifted.children if c.type == "RATE_CONFIG_ADJUSTMENT_AMOUNT"]
    assert adjustment == [("um.calls:adjustment", "RATE_CONFIG_ADJUSTMENT_AMOUNT", D("15.00"))]
    assert lifted.value == D("20.00")


def test_a_charge_value_out_of_bounds_is_refused_by_name() -> None:
    check_charge_value("49.99")
    with pytest.raises(ChargeError, match=r"^value: '1e400' "):
        check_charge_value("1e400")


def test_a_custom_line_is_its_value_or_its_quantity_at_its_price_rounded_once() -> None:
    assert custom_value(CustomItem("Setup", value=D("49.995")), "USD") == D("50.00")
    assert custom_value(CustomItem("Hours", quantity=D("1.5"), value_per_quantity=D("80.333")), "USD") == D("120.50")
    # a value wins over a quantity and price given beside it
    both = CustomItem("Both", value=D("10"), quantity=D("2"), value_per_quantity=D("7"))
    assert custom_value(both, "USD") == D("10.00")
    halves = (CustomItem("Half", quantity=D("2")), CustomItem("Half", value_per_quantity=D("7")), CustomItem("Half"))
    for half in halves:
        with pytest.raises(ValueError, match=r"^line 'Half': give value, or quantity and valuePerQuantity$"):
            custom_value(half, "USD")


def test_custom_lines_without_an_id_are_numbered_from_one() -> None:
    built = build_custom([CustomItem("A", value=D("1")), CustomItem("B", value=D("2"), item_id="mine")], [], "USD")
    assert [(line.id, line.value) for line in built.revenue.walk() if line.type == "CUSTOM_AMOUNT"] == [
        ("CUSTOM_AMOUNT:1", D("1.00")),
        ("mine", D("2.00")),
    ]
    assert built.total == D("3.00")


def test_a_charge_is_its_value_or_rate_times_quantity_and_needs_both() -> None:
    lines = build_custom([CustomItem("A", value=D("1"))], [], "USD").revenue
    assert charge_amount(Charge(name="Hours", rate=D("80"), quantity=D("1.5")), lines, "USD") == D("120.00")
    for half in (Charge(name="Half", rate=D("80")), Charge(name="Half", quantity=D("2"))):
        with pytest.raises(ChargeError, match=r"^charge 'Half': give value, or rate and quantity$"):
            charge_amount(half, lines, "USD")
