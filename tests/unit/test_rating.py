"""The pure rating engine: every worked example of billing-rules D4, D7, D8, rounding (D1), and properties."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal as D

import pytest
from hypothesis import given, strategies as st

from meterline.rating import (
    RatePlan,
    RatingError,
    Slab,
    check_rate_plan,
    fixed_amount,
    price,
    price_days,
    prorate,
    true_up,
)

D4_SLABS = (
    Slab(1, D(0), "PER_UNIT", D("1.00")),
    Slab(2, D(100), "PER_UNIT", D("0.50")),
    Slab(3, D(1000), "FLAT", D(200)),
)


@pytest.mark.parametrize(
    "usage, tiered, volume",
    [(0, "0.00", "0.00"), (100, "100.00", "100.00"), (150, "125.00", "75.00"), (1200, "750.00", "200.00")],
    ids=["0", "100", "150", "1200"],
)
def test_d4_worked_examples(usage: int, tiered: str, volume: str) -> None:
    assert str(price(RatePlan("TIERED", D4_SLABS), D(usage), "USD").revenue) == tiered
    assert str(price(RatePlan("VOLUME", D4_SLABS), D(usage), "USD").revenue) == volume


def test_tiered_breakdown_per_slab() -> None:
    result = price(RatePlan("TIERED", D4_SLABS), D(1200), "USD")
    assert [(s.order, s.usage, str(s.revenue)) for s in result.slabs] == [
        (1, D(100), "100.00"),
        (2, D(900), "450.00"),
        (3, D(200), "200.00"),
    ]
    assert result.slab_total == D("750.00") and result.adjustment == 0


def test_volume_breakdown_names_the_chosen_slab() -> None:
    result = price(RatePlan("VOLUME", D4_SLABS), D(150), "USD")
    assert [(s.order, s.usage, str(s.revenue)) for s in result.slabs] == [
        (1, D(0), "0.00"),
        (2, D(150), "75.00"),
        (3, D(0), "0.00"),
    ]


@pytest.mark.parametrize(
    "usage, revenue, packages",
    [(25, "60.00", 3), (0, "0.00", 0), (10, "20.00", 1), (10.5, "40.00", 2)],
    ids=["25", "0", "exact-package", "partial"],
)
def test_package(usage: float, revenue: str, packages: int) -> None:
    plan = RatePlan("TIERED", (Slab(1, D(0), "PACKAGE", D(20), package_size=D(10)),))
    result = price(plan, D(str(usage)), "USD")
    assert (str(result.revenue), result.slabs[0].package_quantity) == (revenue, packages)


@pytest.mark.parametrize(
    "currency, rate, usage, expected",
    [
        ("USD", "0.005", 1, "0.01"),
        ("USD", "0.0049", 1, "0.00"),
        ("JPY", "1.5", 1, "2"),
        ("KWD", "0.0005", 1, "0.001"),
        ("USD", "0.0001", 12345, "1.23"),
        ("USD", "0.333333", 3, "1.00"),
    ],
    ids=["half-up", "below-half", "jpy-no-decimals", "kwd-three-decimals", "tiny-rate", "thirds"],
)
def test_rounding_once_half_up_to_the_minor_unit(currency: str, rate: str, usage: int, expected: str) -> None:
    result = price(RatePlan("TIERED", (Slab(1, D(0), "PER_UNIT", D(rate)),)), D(usage), currency)
    assert str(result.revenue) == expected


def test_each_slab_is_rounded_then_summed() -> None:
    slabs = (Slab(1, D(0), "PER_UNIT", D("0.005")), Slab(2, D(1), "PER_UNIT", D("0.005")))
    result = price(RatePlan("TIERED", slabs), D(2), "USD")
    assert [str(s.revenue) for s in result.slabs] == ["0.01", "0.01"] and str(result.revenue) == "0.02"


def test_quantities_keep_every_digit() -> None:
    q = D("12345678901234567890123456789.000000001")
    result = price(RatePlan("TIERED", (Slab(1, D(0), "PER_UNIT", D("1")),)), q, "USD")
    assert result.slabs[0].usage == q and str(result.revenue) == "12345678901234567890123456789.00"


def test_slab_rate_config_clamps_a_slab_that_received_usage() -> None:
    slabs = (Slab(1, D(0), "PER_UNIT", D(1), minimum_rate=D(5)), Slab(2, D(10), "PER_UNIT", D(1), maximum_rate=D(3)))
    low = price(RatePlan("TIERED", slabs), D(2), "USD")
    assert [str(s.revenue) for s in low.slabs] == ["5.00", "0.00"] and low.slabs[0].minimum_rate_applied
    assert not low.slabs[1].maximum_rate_applied  # slab 2 received nothing: no clamp
    high = price(RatePlan("TIERED", slabs), D(20), "USD")
    assert [str(s.revenue) for s in high.slabs] == ["10.00", "3.00"] and high.slabs[1].maximum_rate_applied


def test_rate_config_minimum_applies_at_zero_usage_and_maximum_caps() -> None:
    plan = RatePlan("TIERED", D4_SLABS, minimum_rate=D(50), maximum_rate=D(500))
    zero = price(plan, D(0), "USD")
    assert (str(zero.slab_total), str(zero.adjustment), str(zero.revenue)) == ("0.00", "50.00", "50.00")
    assert zero.minimum_rate_applied
    capped = price(plan, D(1200), "USD")
    assert (str(capped.adjustment), str(capped.revenue), capped.maximum_rate_applied) == ("-250.00", "500.00", True)
    middle = price(plan, D(150), "USD")
    assert (str(middle.adjustment), str(middle.revenue)) == ("0.00", "125.00")


@pytest.mark.parametrize(
    "slabs, words",
    [
        ((), r"^ratePlan\.slabs: at least one slab is needed$"),
        (
            (Slab(1, D(5), "PER_UNIT", D(1)),),
            r"^ratePlan\.slabs\[0\]\.startAfter: the first slab must start after 0, not 5$",
        ),
        (
            (Slab(1, D(0), "PER_UNIT", D(1)), Slab(2, D(100), "PER_UNIT", D(1)), Slab(3, D(50), "PER_UNIT", D(1))),
            r"^ratePlan\.slabs\[2\]\.startAfter: 50 must be greater than the previous slab's 100 \(slabs may not",
        ),
        (
            (Slab(1, D(0), "PER_UNIT", D(1)), Slab(2, D(100), "PER_UNIT", D(1)), Slab(3, D(100), "PER_UNIT", D(2))),
            r"^ratePlan\.slabs\[2\]\.startAfter: 100 must be greater than the previous slab's 100 \(slabs may not",
        ),
        (
            (Slab(1, D(0), "PER_UNIT", D(1)), Slab(3, D(100), "PER_UNIT", D(1))),
            r"slabs\[1\]\.order: .*without gaps.*\[1, 3\]",
        ),
        (
            (Slab(1, D(0), "PACKAGE", D(1)),),
            r"slabs\[0\]\.slabConfig\.packageSize: a PACKAGE slab needs a package size > 0",
        ),
        ((Slab(1, D(0), "PACKAGE", D(1), package_size=D(0)),), r"slabs\[0\]\.slabConfig\.packageSize: .* > 0"),
        ((Slab(1, D(0), "PER_UNIT", D(1), package_size=D(10)),), r"slabs\[0\]\.slabConfig\.packageSize: only PACKAGE"),
        ((Slab(1, D(0), "PER_UNIT", D(-1)),), r"^ratePlan\.slabs\[0\]: the rate -1 is negative; rates are >= 0$"),
        ((Slab(1, D(0), "STEP", D(1)),), r"slabs\[0\]\.priceType: 'STEP' is not one of"),
        (
            (Slab(1, D(0), "PER_UNIT", D(1), minimum_rate=D(5), maximum_rate=D(2)),),
            r"^ratePlan\.slabs\[0\]\.slabRateConfig: minimumRate 5 is above maximumRate 2$",
        ),
        (
            (Slab(1, D(0), "PER_UNIT", D(1), minimum_rate=D(-1)),),
            r"^ratePlan\.slabs\[0\]\.slabRateConfig\.minimumRate: must be >= 0$",
        ),
        (
            (Slab(1, D(0), "PER_UNIT", D(1), maximum_rate=D(-1)),),
            r"^ratePlan\.slabs\[0\]\.slabRateConfig\.maximumRate: must be >= 0$",
        ),
    ],
    ids=[
        "empty",
        "first-not-0",
        "overlap",
        "same-start",
        "order-gap",
        "no-package-size",
        "zero-package-size",
        "size-not-package",
        "negative-rate",
        "unknown-type",
        "min-above-max",
        "negative-minimum",
        "negative-maximum",
    ],
)
def test_invalid_rate_plans_say_what_to_fix(slabs: tuple[Slab, ...], words: str) -> None:
    with pytest.raises(RatingError, match=words):
        check_rate_plan(RatePlan("TIERED", slabs))


def test_other_refusals() -> None:
    with pytest.raises(RatingError, match="pricingModel"):
        check_rate_plan(RatePlan("GRADUATED", D4_SLABS))
    with pytest.raises(RatingError, match="currency"):
        price(RatePlan("TIERED", D4_SLABS), D(1), "XYZ")
    with pytest.raises(RatingError, match=">= 0"):
        price(RatePlan("TIERED", D4_SLABS), D(-1), "USD")
    with pytest.raises(TypeError, match="refusing float for an exact quantity: 1.5"):
        price(RatePlan("TIERED", D4_SLABS), 1.5, "USD")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="refusing float for an exact amount: 0.1"):
        check_rate_plan(RatePlan("TIERED", (Slab(1, D(0), "PER_UNIT", 0.1),)))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "amount, covered, days, expected",
    [
        ("300", 20, 30, "200.00"),
        ("300", 30, 30, "300.00"),
        ("100", 1, 3, "33.33"),
        ("100", 2, 3, "66.67"),
        ("99", 0, 31, "0.00"),
    ],
    ids=["togai-example", "full-cycle", "a-third", "two-thirds", "nothing"],
)
def test_proration(amount: str, covered: int, days: int, expected: str) -> None:
    assert str(prorate(D(amount), covered, days, "USD")) == expected


@pytest.mark.parametrize("covered, days", [(5, 0), (-1, 30), (31, 30), (0, -3)])
def test_proration_refuses_days_outside_the_cycle(covered: int, days: int) -> None:
    with pytest.raises(RatingError, match=rf"^cannot prorate {covered} of {days} days$"):
        prorate(D(100), covered, days, "USD")


@pytest.mark.parametrize(
    "commitment, sub_total, expected, plan_amount",
    [("1000", "900.00", "100.00", "1000.00"), ("1000", "1200.00", "0.00", "1200.00")],
    ids=["below-commitment", "above-commitment"],
)
def test_d8_minimum_commitment(commitment: str, sub_total: str, expected: str, plan_amount: str) -> None:
    owed = true_up(D(commitment), D(sub_total), "USD")
    assert str(owed) == expected and str(D(sub_total) + owed) == plan_amount


def test_true_up_of_a_partial_cycle_prorates_the_commitment_first() -> None:
    assert str(true_up(D(1000), D(200), "USD", covered_days=15, cycle_days=30)) == "300.00"
    assert str(fixed_amount(D("99.999"), "USD")) == "100.00"


# -- properties -------------------------------------------------------------------------------------------------------
amounts = st.decimals(min_value=0, max_value=10**6, places=4, allow_nan=False, allow_infinity=False)


@st.composite
def rate_plans(draw: st.DrawFn, model: str | None = None) -> RatePlan:
    n = draw(st.integers(1, 5))
    starts = sorted(draw(st.sets(st.integers(1, 10_000), min_size=n - 1, max_size=n - 1)))
    slabs = []
    for i, start in enumerate([0, *starts]):
        kind = draw(st.sampled_from(["PER_UNIT", "FLAT", "PACKAGE"]))
        size = D(draw(st.integers(1, 50))) if kind == "PACKAGE" else None
        slabs.append(Slab(i + 1, D(start), kind, draw(amounts), package_size=size))
    return RatePlan(model or draw(st.sampled_from(["TIERED", "VOLUME"])), tuple(slabs))


@given(rate_plans("TIERED"), amounts, amounts)
def test_tiered_revenue_never_decreases_with_usage(plan: RatePlan, a: D, b: D) -> None:
    low, high = sorted((a, b))
    assert price(plan, low, "USD").revenue <= price(plan, high, "USD").revenue


@given(rate_plans("TIERED"), amounts)
def test_tiered_slab_quantities_add_up_to_the_usage(plan: RatePlan, q: D) -> None:
    assert sum(s.usage for s in price(plan, q, "USD").slabs) == q


@given(rate_plans("VOLUME"), amounts)
def test_volume_prices_the_whole_usage_in_one_slab(plan: RatePlan, q: D) -> None:
    result = price(plan, q, "USD")
    reached = [s for s in result.slabs if s.usage > 0]
    assert len(reached) == (1 if q > 0 else 0)
    if reached:
        chosen = next(s for s in plan.slabs if s.order == reached[0].order)
        alone = price(
            RatePlan("TIERED", (Slab(1, D(0), chosen.price_type, chosen.rate, chosen.package_size),)), q, "USD"
        )
        assert result.revenue == alone.revenue


@given(st.integers(1, 100), amounts, st.decimals(min_value=0, max_value=10_000, places=3))
def test_package_is_a_step_function(size: int, rate: D, q: D) -> None:
    plan = RatePlan("TIERED", (Slab(1, D(0), "PACKAGE", rate, package_size=D(size)),))
    packages = (q / D(size)).to_integral_value(rounding=ROUND_CEILING)
    assert price(plan, q, "USD").revenue == price(plan, packages * size, "USD").revenue
    assert price(plan, q, "USD").slabs[0].package_quantity == int(packages)


@given(amounts, st.integers(1, 366), st.data())
def test_proration_is_bounded_by_the_amount(amount: D, days: int, data: st.DataObject) -> None:
    covered = data.draw(st.integers(0, days))
    assert D(0) <= prorate(amount, covered, days, "USD") <= fixed_amount(amount, "USD")


def test_prorated_days_price_each_day_and_round_each_slab_once() -> None:
    per_seat = RatePlan("TIERED", (Slab(1, D(0), "PER_UNIT", D(10)),))
    month = price_days(per_seat, [D(3)] * 10 + [D(6)] * 20, 30, "USD")
    assert str(month.revenue) == "50.00" and month.slabs[0].usage == 6  # (10 x 30 + 20 x 60) / 30
    thirds = price_days(RatePlan("TIERED", (Slab(1, D(0), "PER_UNIT", D(1)),)), [D(1)] * 3, 7, "USD")
    assert str(thirds.revenue) == "0.43"  # 3/7, rounded once
    tiers = RatePlan("TIERED", (Slab(1, D(0), "PER_UNIT", D(10)), Slab(2, D(10), "PER_UNIT", D(8))))
    february = price_days(tiers, [D(4)] * 9 + [D(12)] * 11 + [D(6)] * 9, 29, "USD")
    assert [str(s.revenue) for s in february.slabs] == ["68.97", "6.07"] and str(february.revenue) == "75.04"
    full = price_days(tiers, [D(12)] * 29, 29, "USD")
    assert full.revenue == price(tiers, D(12), "USD").revenue  # every day at the same quantity: the cycle's price
    with pytest.raises(RatingError, match="cannot prorate 31 days over a cycle of 30"):
        price_days(tiers, [D(1)] * 31, 30, "USD")
