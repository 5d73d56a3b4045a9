"""Which levels an alert's figures cross: pure (no I/O, no clock).

The figures come in as `Reading`s, one per subject (an account; an invoice for `invoice_overdue`; an endpoint for
`webhook_endpoint_disabled`), read by usecases/alerts.py from the domains' services. Each (subject, level) pair
gives a `Crossing`: crossed or not, with the report an incident carries (reportData). The service turns crossings
into incidents: a crossed pair without an incident opens one, a cleared pair resolves its incident.

Percentages never divide: level L% of a base B is crossed ABOVE when value x 100 >= L x B (BELOW: <=), exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from meterline.alerts.statuses import Basis, Direction
from meterline.alerts.templates import Template, basis_of, levels_of
from meterline.core.clock import isoformat_z
from meterline.core.numbers import plain

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Reading:
    """One subject's figure now. `value` None: nothing to compare (no ongoing cycle, nothing granted): every level
    of the subject is clear. `base`: what 100% is, for a percentage basis (None or 0: nothing to compare)."""

    subject_type: str
    subject_id: str
    value: Decimal | None
    unit: str | None = None
    base: Decimal | None = None
    period: tuple[datetime, datetime] | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Crossing:
    subject_type: str
    subject_id: str
    level: Decimal
    crossed: bool
    report: dict[str, dict[str, Any]]

    @property
    def key(self) -> tuple[str, str]:
        return (self.subject_id, level_text(self.level))


def level_text(level: Decimal) -> str:
    """A level as stored and keyed: its plain digits without trailing zeros (80, 80.0 and 8E+1 are one level)."""
    return plain(level.normalize())


def levels(template: Template, parameters: dict[str, Any]) -> list[Decimal]:
    """The levels an alert checks: its threshold's levels; invoice_overdue: its `days`; others one level, 1."""
    if template.id == "invoice_overdue":
        return [Decimal(str(parameters.get("overdue", {}).get("days", 0)))]
    if "threshold" in template.parameters_schema.get("properties", {}):
        return levels_of(parameters)
    return [Decimal(1)]


def limit(level: Decimal, basis: Basis, base: Decimal | None) -> Decimal | None:
    """The figure a level stands for: the level itself, or level% of the base (None: no base to take it of)."""
    if basis == Basis.ABSOLUTE:
        return level
    if base is None or base <= 0:
        return None
    return base * level / HUNDRED


def is_crossed(value: Decimal | None, level: Decimal, basis: Basis, base: Decimal | None, direction: Direction) -> bool:
    if value is None:
        return False
    if basis == Basis.ABSOLUTE:
        left, right = value, level
    elif base is None or base <= 0:
        return False
    else:
        left, right = value * HUNDRED, level * base
    return left >= right if direction == Direction.ABOVE else left <= right


def crossings(template: Template, parameters: dict[str, Any], readings: list[Reading]) -> list[Crossing]:
    """Every (subject, level) of the readings, crossed or not, with its report."""
    basis = basis_of(parameters)
    out = []
    for reading in readings:
        for level in levels(template, parameters):
            crossed = is_crossed(reading.value, level, basis, reading.base, template.direction)
            out.append(
                Crossing(
                    reading.subject_type, reading.subject_id, level, crossed, report(reading, level, basis, template)
                )
            )
    return out


def report(reading: Reading, level: Decimal, basis: Basis, template: Template) -> dict[str, dict[str, Any]]:
    """An incident's reportData: a map of objects (the SDK's map<str, map<str, any>>), numbers exact."""
    threshold: dict[str, Any] = {"level": level, "basis": str(basis), "direction": str(template.direction)}
    bound = limit(level, basis, reading.base)
    if bound is not None:
        threshold["limit"] = bound
    figures: dict[str, Any] = {"value": reading.value, **reading.details}
    if reading.unit is not None:
        figures["unit"] = reading.unit
    if basis != Basis.ABSOLUTE and reading.base is not None:
        figures["base"] = reading.base
        if reading.base > 0 and reading.value is not None:
            figures["percent"] = (reading.value * HUNDRED / reading.base).quantize(Decimal("0.01"), ROUND_HALF_UP)
    out: dict[str, dict[str, Any]] = {
        "subject": {"type": reading.subject_type, "id": reading.subject_id},
        "threshold": threshold,
        "figures": figures,
    }
    if reading.period is not None:
        out["period"] = {"start": isoformat_z(reading.period[0]), "end": isoformat_z(reading.period[1])}
    return out
