"""Bar charts as SVG geometry, computed on the server (pure: no I/O). The dashboard's template draws the shapes;
nothing is fetched by the browser and no JavaScript runs, so the charts work offline and print.

One chart has one unit on one axis: the dashboard draws a chart per currency and per meter, never two currencies
stacked. Values stay `Decimal`: a bar's height is a pixel position (a float is fine there); its tooltip and the
legend show the exact value, written by the caller's `text` (money, or a quantity with its unit). The axis shows
short forms (`short`): 1.5K, 2M, 3B, 4T.

The SVG has a viewBox and no fixed size: it scales to the width of its box (a phone's 390 px as a desktop's)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from meterline.console.words import quantity

WIDTH, HEIGHT = 640, 200  # the drawing area inside the axes, in SVG units (the SVG scales to its box)
LEFT, BOTTOM, TOP = 72, 32, 16  # room for the value axis, the labels under the bars and the top tick
TICKS = 4  # steps from 0 to the top tick
PALETTE = ("#2563eb", "#f97316", "#10b981", "#a855f7", "#e11d48", "#0891b2")
SUFFIXES = ((12, "T"), (9, "B"), (6, "M"), (3, "K"))  # thousands, millions, billions, trillions


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    color: str
    title: str  # the tooltip: "<period> · <series>: <exact value>"


@dataclass(frozen=True)
class Tick:
    y: float
    value: Decimal
    text: str


@dataclass(frozen=True)
class Label:
    x: float
    text: str
    minor: bool = False  # every other label: left out on a phone, where they would touch


@dataclass(frozen=True)
class Legend:
    name: str
    color: str
    total: Decimal
    text: str  # the total, exact, as the chart writes its values ("USD 1,234.50", "20 requests")


@dataclass(frozen=True)
class Chart:
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    labels: tuple[Label, ...]
    legend: tuple[Legend, ...]
    width: int = WIDTH + LEFT
    height: int = HEIGHT + BOTTOM + TOP
    left: int = LEFT
    top: int = TOP
    bottom: float = TOP + HEIGHT

    @property
    def empty(self) -> bool:
        return not any(b.height > 0 for b in self.bars)


def nice_step(top: Decimal, ticks: int = TICKS, *, whole: bool = False) -> Decimal:
    """A round step (1, 2, 2.5 or 5 times a power of ten) so that `ticks` steps reach at least `top`; with `whole`
    (counts of things) at least 1, so no tick reads 0.25 events."""
    if top <= 0:
        return Decimal(1)
    raw = top / ticks
    power = Decimal(10) ** raw.adjusted()
    for factor in (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10)):
        if raw <= factor * power:
            step = factor * power
            return max(step, Decimal(1)) if whole else step
    return 10 * power  # pragma: no cover - the loop always returns (raw <= 10 * power by `adjusted`)


def short(value: Decimal) -> str:
    """An axis label: at most 3 significant digits (half up), then K, M, B or T: 950, 1.5K, 12.5K, 2M, 3B, 4T,
    1,000T. Rounded before the suffix is chosen, so 999,950 reads 1M (never 1000K); a tick of the axis (a multiple
    of a `nice_step`) has at most 3 digits, so its label is exact."""
    if value == 0:
        return "0"
    sign, magnitude = ("-" if value < 0 else ""), abs(value)
    rounded = magnitude.quantize(Decimal(1).scaleb(magnitude.adjusted() - 2), rounding=ROUND_HALF_UP)
    exponent = rounded.adjusted()
    for power, suffix in SUFFIXES:
        if exponent >= power:
            return f"{sign}{rounded.scaleb(-power).normalize():,f}{suffix}"
    return f"{sign}{rounded.normalize():f}"


def stacked_bars(
    labels: list[str],
    series: list[tuple[str, list[Decimal]]],
    every: int = 1,
    *,
    tips: list[str] | None = None,
    text: Callable[[Decimal], str] = quantity,
    whole: bool = False,
) -> Chart:
    """One bar per label, the series stacked in order (negative values are drawn as 0); every series must be in the
    same unit. `every` writes only one label in `every` under the bars (30 days do not fit otherwise); `tips` names
    each bar's period in its tooltip (the label when not given); `text` writes an exact value; `whole` keeps the
    axis on whole numbers (counts)."""
    n = len(labels)
    if any(len(values) != n for _, values in series) or (tips is not None and len(tips) != n):
        raise ValueError("every series needs one value per label")
    totals = [sum((max(values[i], Decimal(0)) for _, values in series), Decimal(0)) for i in range(n)]
    step = nice_step(max(totals, default=Decimal(0)), whole=whole)
    top = step * TICKS
    slot = WIDTH / max(n, 1)
    gap = min(slot * 0.2, 6.0)
    bars: list[Bar] = []
    for i, label in enumerate(labels):
        base = 0.0
        for k, (name, values) in enumerate(series):
            value = max(values[i], Decimal(0))
            height = float(value / top) * HEIGHT
            bars.append(
                Bar(
                    x=LEFT + i * slot + gap / 2,
                    y=TOP + HEIGHT - base - height,
                    width=slot - gap,
                    height=height,
                    color=PALETTE[k % len(PALETTE)],
                    title=f"{tips[i] if tips else label} · {name}: {text(values[i])}",
                )
            )
            base += height
    ticks = tuple(
        Tick(y=TOP + HEIGHT - HEIGHT * j / TICKS, value=step * j, text=short(step * j)) for j in range(TICKS + 1)
    )
    shown = tuple(
        Label(x=LEFT + (i + 0.5) * slot, text=label, minor=(i // every) % 2 == 1)
        for i, label in enumerate(labels)
        if i % every == 0
    )
    legend = tuple(
        Legend(name=name, color=PALETTE[k % len(PALETTE)], total=total, text=text(total))
        for k, (name, values) in enumerate(series)
        for total in (sum(values, Decimal(0)),)
    )
    return Chart(bars=tuple(bars), ticks=ticks, labels=shown, legend=legend)
