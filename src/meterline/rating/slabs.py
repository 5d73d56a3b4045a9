"""How a quantity is split across a rate plan's slabs (billing-rules D4), exactly (quantities can carry more
digits than the default 28-digit decimal context).

Slab i covers usage in (startAfter_i, startAfter_i+1]; the last slab has no upper bound.
- TIERED: slab i receives clamp(q - startAfter_i, 0, startAfter_i+1 - startAfter_i).
- VOLUME: the whole q goes to the last slab with startAfter_i < q; q = 0 reaches no slab.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from meterline.core.money import EXACT
from meterline.rating.model import Slab

ZERO = Decimal(0)


def split_tiered(slabs: tuple[Slab, ...], quantity: Decimal) -> list[Decimal]:
    out = []
    for i, slab in enumerate(slabs):
        upper = slabs[i + 1].start_after if i + 1 < len(slabs) else None
        above = EXACT.subtract(quantity, slab.start_after)
        if above <= 0:
            out.append(ZERO)
        elif upper is None:
            out.append(above)
        else:
            out.append(min(above, EXACT.subtract(upper, slab.start_after)))
    return out


def pick_volume(slabs: tuple[Slab, ...], quantity: Decimal) -> list[Decimal]:
    chosen = None
    for i, slab in enumerate(slabs):
        if slab.start_after < quantity:
            chosen = i
    return [quantity if i == chosen else ZERO for i in range(len(slabs))]


Splitter = Callable[[tuple[Slab, ...], Decimal], list[Decimal]]
