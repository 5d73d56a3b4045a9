"""Bar charts as SVG geometry, computed on the server (pure: no I/O). The dashboard's template draws the shapes;
nothing is fetched by the browser and no JavaScript runs, so the charts work offline and print.

Values stay `Decimal`: a bar's height is a pixel position (a float is fine there), its tooltip and the table under
the chart show the exact value."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

WIDTH, HEIGHT = 640, 200  # the drawing area inside the axes, in SVG units (the SVG scales to its box)
LEFT, BOTTOM, TOP = 56, 24, 8  # room for the value axis, the labels under the bars and the top tick
PALETTE = ("#2563eb", "#f97316", "#10b981", "#a855f7", "#e11d48", "#0891b2")


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    color: str
    title: str  # the tooltip: "<label> · <series>: <exact value>"


@dataclass(frozen=True)
class Tick:
    y: float
    text: str


@dataclass(frozen=True)
class Label:
    x: float
    text: str


@dataclass(frozen=True)
class Legend:
    name: str
    color: str
    total: Decimal


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


def nice_step(top: Decimal, ticks: int = 4) -> Decimal:
    """A round step (1, 2, 2.5 or 5 times a power of ten) so that `ticks` steps reach at least `top`."""
    if top <= 0:
        return Decimal(1)
    raw = top / ticks
    power = Decimal(10) ** raw.adjusted()
    for factor in (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10)):
        if raw <= factor * power:
            return factor * power
    return 10 * power  # pragma: no cover - the loop always returns (raw <= 10 * power by `adjusted`)


def short(value: Decimal) -> str:
    """A value axis label: 1,250 / 12.5k / 3.2M."""
    for limit, unit, suffix in ((10**9, 10**9, "B"), (10**6, 10**6, "M"), (10**4, 10**3, "k")):
        if abs(value) >= limit:
            return f"{(value / unit).normalize():f}"[:5].rstrip(".") + suffix
    return f"{value.normalize():,f}"


def stacked_bars(labels: list[str], series: list[tuple[str, list[Decimal]]], every: int = 1) -> Chart:
    """One bar per label, the series stacked in order (negative values are drawn as 0). `every` labels only one
    label in `every` under the bars (30 days do not fit otherwise)."""
    n = len(labels)
    if any(len(values) != n for _, values in series):
        raise ValueError("every series needs one value per label")
    totals = [sum((max(values[i], Decimal(0)) for _, values in series), Decimal(0)) for i in range(n)]
    step = nice_step(max(totals, default=Decimal(0)))
    top = step * 4
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
                    title=f"{label} · {name}: {values[i]:,f}",
                )
            )
            base += height
    ticks = tuple(Tick(y=TOP + HEIGHT - HEIGHT * j / 4, text=short(step * j)) for j in range(5))
    shown = tuple(Label(x=LEFT + (i + 0.5) * slot, text=label) for i, label in enumerate(labels) if i % every == 0)
    legend = tuple(
        Legend(name=name, color=PALETTE[k % len(PALETTE)], total=sum(values, Decimal(0)))
        for k, (name, values) in enumerate(series)
    )
    return Chart(bars=tuple(bars), ticks=ticks, labels=shown, legend=legend)
