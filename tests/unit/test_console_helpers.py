"""The console's pure helpers: the dashboard's bar geometry (console/charts.py: scales, stacking, exact
tooltips) and days shown in the organization's time zone (console/pages.py)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from meterline.console.charts import HEIGHT, LEFT, TOP, WIDTH, nice_step, short, stacked_bars
from meterline.console.pages import local_day, local_last_day

D = Decimal


@pytest.mark.parametrize(
    ("top", "step"),
    [
        (D(0), D(1)),
        (D(4), D(1)),
        (D(5), D(2)),
        (D(9), D("2.5")),
        (D(10), D("2.5")),
        (D(11), D(5)),
        (D(20), D(5)),
        (D(21), D(10)),
        (D(400), D(100)),
        (D(401), D(200)),
        (D("0.3"), D("0.1")),
        (D(1234567), D(500000)),
    ],
    ids=lambda v: str(v),
)
def test_nice_step_reaches_the_top_in_four_round_steps(top: Decimal, step: Decimal) -> None:
    assert nice_step(top) == step
    assert step * 4 >= top


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (D(0), "0"),
        (D(250), "250"),
        (D(1250), "1,250"),
        (D(12500), "12.5k"),
        (D(3200000), "3.2M"),
        (D("2.50"), "2.5"),
        (D(7_000_000_000), "7B"),
    ],
)
def test_axis_labels_are_short(value: Decimal, text: str) -> None:
    assert short(value) == text


def test_bars_stack_in_order_and_scale_to_the_top_tick() -> None:
    chart = stacked_bars(["1 Nov", "2 Nov"], [("processed", [D(30), D(100)]), ("failed", [D(10), D(0)])])
    assert [t.text for t in chart.ticks] == ["0", "25", "50", "75", "100"]  # totals 40 and 100: step 25
    p1, f1, p2, f2 = chart.bars
    assert p1.height == pytest.approx(HEIGHT * 0.3) and f1.height == pytest.approx(HEIGHT * 0.1)
    assert p1.y + p1.height == pytest.approx(TOP + HEIGHT)  # the first series sits on the axis
    assert f1.y + f1.height == pytest.approx(p1.y)  # the second on top of the first
    assert p2.height == pytest.approx(HEIGHT) and f2.height == 0
    assert p1.x == pytest.approx(LEFT + 3) and p2.x == pytest.approx(LEFT + WIDTH / 2 + 3)
    assert p1.color != f1.color
    assert f1.title == "1 Nov · failed: 10"
    assert [(g.name, g.total) for g in chart.legend] == [("processed", D(130)), ("failed", D(10))]
    assert not chart.empty


def test_exact_values_in_tooltips_and_no_negative_bars() -> None:
    chart = stacked_bars(["Oct", "Nov"], [("EUR", [D("1234.56"), D("-5.00")])])
    assert chart.bars[0].title == "Oct · EUR: 1,234.56"
    assert chart.bars[1].height == 0 and chart.bars[1].title == "Nov · EUR: -5.00"


def test_labels_can_be_thinned_and_empty_charts_say_so() -> None:
    chart = stacked_bars([str(d) for d in range(30)], [("usage", [D(0)] * 30)], every=7)
    assert [label.text for label in chart.labels] == ["0", "7", "14", "21", "28"]
    assert chart.empty
    with pytest.raises(ValueError, match="one value per label"):
        stacked_bars(["a"], [("s", [D(1), D(2)])])


@pytest.mark.parametrize(
    ("instant", "zone", "day"),
    [
        (datetime(2024, 2, 29, 18, 30, tzinfo=timezone.utc), "Asia/Kolkata", date(2024, 3, 1)),  # local midnight
        (datetime(2024, 2, 29, 18, 30, tzinfo=timezone.utc), "UTC", date(2024, 2, 29)),
        (datetime(2024, 3, 1, 5, 0, tzinfo=timezone.utc), "America/New_York", date(2024, 3, 1)),
        (datetime(9999, 12, 31, 23, 59, tzinfo=timezone.utc), "Asia/Kolkata", date(9999, 12, 31)),  # no later day
    ],
    ids=["kolkata-midnight", "utc", "new-york-midnight", "end-of-time"],
)
def test_pages_show_days_of_the_organizations_time_zone(instant: datetime, zone: str, day: date) -> None:
    assert local_day(instant, zone) == day


def test_a_period_ends_the_day_before_its_exclusive_end() -> None:
    end = datetime(2024, 3, 31, 18, 30, tzinfo=timezone.utc)  # 1 April 00:00 in Kolkata
    assert local_last_day(end, "Asia/Kolkata") == date(2024, 3, 31)
    assert local_last_day(end, "UTC") == date(2024, 3, 31)
