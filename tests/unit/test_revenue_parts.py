"""An invoice's total split per billable for the revenue metrics (invoicing.reports.billable_parts): the parts add
up exactly to the total, whatever the invoice holds. Pure: invoices built by the invoice builder."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal as D

import pytest

from meterline.catalog.plan_schemas import CurrencyRateValue, FixedFeeRateCard
from meterline.invoicing import builder
from meterline.invoicing.builder import Charge, Commitment, CustomItem, Line
from meterline.invoicing.credit_application import Available
from meterline.invoicing.reports import billable_parts
from meterline.revenue.compute import CardRevenue

T = datetime(2024, 1, 1, tzinfo=timezone.utc)


def fee(billable: str, amount: str) -> CardRevenue:
    card = FixedFeeRateCard(
        id=billable,
        name=billable,
        rate_values=[CurrencyRateValue(currency="USD", rate=D(amount))],
        enable_proration=False,
    )
    return CardRevenue("FIXED_FEE", card, billable, None, None, D(amount))


def credit(amount: str) -> Available:
    return Available("credit.1", "Promo", D(amount), 1, None, T, ())


def parts(root: Line) -> dict[str, D]:
    found, usage = billable_parts(root)
    assert sum(found.values(), D(0)) == root.value  # exact, always
    assert usage == frozenset()  # no usage card here
    return found


@pytest.mark.parametrize(
    ("built", "expected"),
    [
        # cards, a true-up to the commitment and a charge
        (
            builder.build_standard(
                [fee("addon.a", "30.00"), fee("addon.b", "10.00")],
                [],
                Commitment("Minimum", D("100.00")),
                [Charge("Setup", "7.25")],
                "USD",
            ),
            {"addon.a": D("30.00"), "addon.b": D("10.00"), "TRUE_UP": D("60.00"), "MISCELLANEOUS_CHARGES": D("7.25")},
        ),
        # a credit is taken off the lines it was applied to
        (
            builder.build_standard(
                [fee("addon.a", "30.00"), fee("addon.b", "10.00")], [], None, [], "USD", [credit("35")]
            ),
            {"addon.a": D("0.00"), "addon.b": D("5.00")},
        ),
        # the in-advance fees shown again on the in-arrears invoice are left out (invoiced before)
        (
            builder.build_standard([fee("addon.a", "30.00")], [fee("addon.adv", "20.00")], None, [], "USD"),
            {"addon.a": D("30.00")},
        ),
        (builder.build_advanced([fee("addon.adv", "20.00")], "USD"), {"addon.adv": D("20.00")}),
        # a custom invoice: its lines' billables prefixed CUSTOM:, else CUSTOM; a discount below 0 is floored:
        # ADJUSTMENT. A billableId that names a system part is kept apart from it
        (
            builder.build_custom(
                [
                    CustomItem("Consulting", D("10")),
                    CustomItem("Seats", D("5"), billable_id="addon.s"),
                    CustomItem("Odd", D("1"), billable_id="TRUE_UP"),
                ],
                [Charge("Discount", "-100")],
                "USD",
            ),
            {
                "CUSTOM": D("10.00"),
                "CUSTOM:addon.s": D("5.00"),
                "CUSTOM:TRUE_UP": D("1.00"),
                "MISCELLANEOUS_CHARGES": D("-100.00"),
                "ADJUSTMENT": D("84.00"),
            },
        ),
    ],
)
def test_parts_add_up_to_the_total(built: builder.Built, expected: dict[str, D]) -> None:
    assert parts(built.revenue) == expected
    assert parts(Line.from_json(built.revenue.to_json())) == expected  # frozen lines read back the same
