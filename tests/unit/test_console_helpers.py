"""The console's pure helpers: the dashboard's bar geometry (console/charts.py: scales, stacking, exact
tooltips) and days shown in the organization's time zone (console/pages.py)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from meterline.console.charts import HEIGHT, LEFT, TOP, WIDTH, nice_step, short, stacked_bars
from meterline.console.pages import local_day, local_last_day
from meterline.console.words import money

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
        (D("0.001"), D("0.00025")),
        (D(1234567), D(500000)),
        (D(10**15), D(25 * 10**13)),
    ],
    ids=lambda v: str(v),
)
def test_nice_step_reaches_the_top_in_four_round_steps(top: Decimal, step: Decimal) -> None:
    assert nice_step(top) == step
    assert step * 4 >= top


def test_counts_get_whole_steps() -> None:
    assert nice_step(D(1), whole=True) == 1 and nice_step(D(1)) == D("0.25")
    assert nice_step(D(3), whole=True) == 1 and nice_step(D(30), whole=True) == 10


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (D(0), "0"),
        (D("0.001"), "0.001"),
        (D("0.00025"), "0.00025"),
        (D("0.0075"), "0.0075"),
        (D("2.50"), "2.5"),
        (D(1), "1"),
        (D(250), "250"),
        (D(999), "999"),
        (D("999.4"), "999"),
        (D("999.5"), "1K"),  # rounded before the suffix is chosen: never "1000"
        (D(1000), "1K"),
        (D(1250), "1.25K"),  # a tie kept exact (3 significant digits)
        (D(1255), "1.26K"),  # a tie rounded half up
        (D(1245), "1.25K"),
        (D(1500), "1.5K"),
        (D(7500), "7.5K"),
        (D(12345), "12.3K"),
        (D(12500), "12.5K"),
        (D(99950), "100K"),
        (D(250000), "250K"),
        (D(999499), "999K"),
        (D(999500), "1M"),  # never "1000K"
        (D(999950), "1M"),
        (D(2 * 10**6), "2M"),
        (D(3200000), "3.2M"),
        (D(999_500_000), "1B"),
        (D(3 * 10**9), "3B"),
        (D(7_000_000_000), "7B"),
        (D(10**10), "10B"),
        (D(5 * 10**13), "50T"),  # the bug of issue 15: it read "50000B"
        (D(10**13), "10T"),
        (D(4 * 10**12), "4T"),
        (D(25 * 10**13), "250T"),
        (D(75 * 10**13), "750T"),
        (D(999_500_000_000_000), "1,000T"),
        (D(10**15), "1,000T"),
        (D(-1500), "-1.5K"),
    ],
    ids=lambda v: str(v),
)
def test_axis_labels_are_short(value: Decimal, text: str) -> None:
    assert short(value) == text


SCALE = {"K": D(10**3), "M": D(10**6), "B": D(10**9), "T": D(10**12)}


def _read(label: str) -> Decimal:
    """What a person reads in an axis label."""
    number, suffix = (label[:-1], label[-1]) if label[-1] in SCALE else (label, "")
    return D(number.replace(",", "")) * SCALE.get(suffix, D(1))


TOPS = [D(mantissa) * D(10) ** power for power in range(-3, 16) for mantissa in ("1", "1.5", "2.5", "4.01", "9.99")]


@pytest.mark.parametrize("top", TOPS, ids=lambda v: f"{v:E}")
def test_every_axis_from_a_thousandth_to_a_quadrillion_reads_exactly(top: Decimal) -> None:
    """For a largest bar from 0.001 to 10^15: five ticks, each label short and reading exactly its tick's value,
    increasing, and the top tick at or above the largest bar."""
    chart = stacked_bars(["a", "b"], [("s", [top, top / 3])])
    labels = [t.text for t in chart.ticks]
    assert [_read(label) for label in labels] == [t.value for t in chart.ticks]
    assert labels[0] == "0" and len(set(labels)) == 5
    assert all(len(label) <= 7 for label in labels), labels
    # the largest suffix that fits: never 50000B (50T) nor 1000K (1M); only T goes past 999
    assert all(D(label.rstrip("KMBT").replace(",", "")) < 1000 or label.endswith("T") for label in labels), labels
    assert chart.ticks[-1].value >= top
    assert chart.bars[0].height <= HEIGHT + 1e-9


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
    assert [(g.name, g.total, g.text) for g in chart.legend] == [("processed", D(130), "130"), ("failed", D(10), "10")]
    assert not chart.empty


def test_exact_values_in_tooltips_and_legends_and_no_negative_bars() -> None:
    chart = stacked_bars(
        ["Oct", "Nov"],
        [("Invoiced", [D("1234.56"), D("-5.00")])],
        tips=["October 2024", "1–15 Nov 2024"],
        text=lambda v: money(v, "EUR"),
    )
    assert chart.bars[0].title == "October 2024 · Invoiced: EUR 1,234.56"
    assert chart.bars[1].height == 0 and chart.bars[1].title == "1–15 Nov 2024 · Invoiced: EUR -5.00"
    assert chart.legend[0].text == "EUR 1,229.56"
    big = stacked_bars(["d"], [("Invoiced", [D("12345678901234.5")])], text=lambda v: money(v, "USD"))
    assert big.bars[0].title == "d · Invoiced: USD 12,345,678,901,234.50"  # exact, however short the axis is
    assert [t.text for t in big.ticks] == ["0", "5T", "10T", "15T", "20T"]


def test_labels_can_be_thinned_and_empty_charts_say_so() -> None:
    chart = stacked_bars([str(d) for d in range(30)], [("usage", [D(0)] * 30)], every=7)
    assert [label.text for label in chart.labels] == ["0", "7", "14", "21", "28"]
    assert [label.minor for label in chart.labels] == [False, True, False, True, False]  # a phone shows 0, 14, 28
    assert chart.empty
    with pytest.raises(ValueError, match="one value per label"):
        stacked_bars(["a"], [("s", [D(1), D(2)])])
    with pytest.raises(ValueError, match="one value per label"):
        stacked_bars(["a"], [("s", [D(1)])], tips=["a", "b"])


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
