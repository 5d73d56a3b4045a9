"""Togai's predefined event types (docs/billing-rules.md D6; Togai's reference, billing-rules §1.1): two schema
names every organization has, which no event schema defines.

- `togai-usage`: usage aggregated on the sender's side, sent straight to a usage meter: `dimensions.usage_meter_id`
  (an ACTIVE meter of the organization, of any schema) and `attributes.usage` (a decimal of the number rule, not
  negative; usage is taken back with a correction, never with a negative event). The usage is added to that meter
  alone, as the units of the event: rolled up, read, priced, invoiced and corrected like any metered event.
- `togai-named-license`: a named seat of a NAMED_LICENSE add-on added (`attributes.action` 1) or removed (-1):
  `dimensions.license_id` (an ACTIVE NAMED_LICENSE add-on) and `dimensions.name` (1 to 50 characters). An accepted
  event has no units; the seats are read from the accepted events (licenses/named.py), so a correction that reverts
  one changes the seats with nothing else to undo. A bad one is INGESTION_FAILED_INVALID_NAMED_LICENSE_EVENT.

Both are deduplicated on their id like any event (an id is required: these schemas have no id template). Their
events record version 1 of the schema.

`rule` gives the `SchemaRule` of such a name (its `special` evaluates the event), read once per ingest call.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from sqlalchemy.orm import Session

from meterline.catalog.addon_repository import AddOnRepository
from meterline.catalog.statuses import AddOnStatus
from meterline.events.pipeline import FAILED, UNITS_INVALID, MeterRule, Outcome, SchemaRule
from meterline.events.statuses import IngestionStatus
from meterline.metering.repository import MeteringRepository
from meterline.metering.rules import PREDEFINED_SCHEMAS

USAGE, NAMED_LICENSE = PREDEFINED_SCHEMAS  # (metering refuses their names to event schemas)
VERSION = 1
NAME_LENGTH = 50  # NamedLicenseUpdate.name: str(≤50)
INVALID_NAMED_LICENSE = IngestionStatus.INVALID_NAMED_LICENSE


def _extra(attributes: Mapping[str, Decimal], allowed: str) -> str | None:
    extra = sorted(set(attributes) - {allowed})
    return ", ".join(extra) if extra else None


class _Usage:
    def __init__(self, meters: dict[str, str]) -> None:
        self.meters = meters  # id -> name, the ACTIVE meters

    def __call__(self, attributes: Mapping[str, Decimal], dimensions: Mapping[str, str]) -> Outcome:
        meter_id = dimensions.get("usage_meter_id")
        if meter_id is None:
            return Outcome(FAILED, f"{USAGE}: dimensions.usage_meter_id is required (the usage meter to add to)")
        if meter_id not in self.meters:
            return Outcome(FAILED, f"{USAGE}: no ACTIVE usage meter has id {meter_id[:60]!r}")
        usage = attributes.get("usage")
        if usage is None:
            return Outcome(FAILED, f"{USAGE}: attributes.usage is required (the usage to add to the meter)")
        extra = _extra(attributes, "usage")
        if extra:
            return Outcome(FAILED, f"{USAGE}: takes one attribute, usage (not {extra})"[:250])
        if usage < 0:
            return Outcome(
                UNITS_INVALID,
                f"{USAGE}: usage must not be negative ({usage}); take usage back with a correction (UNDO) of the "
                "event that added it",
            )
        return Outcome(units={meter_id: usage})


class _NamedLicense:
    def __init__(self, licenses: frozenset[str]) -> None:
        self.licenses = licenses  # the ACTIVE NAMED_LICENSE add-on ids

    def __call__(self, attributes: Mapping[str, Decimal], dimensions: Mapping[str, str]) -> Outcome:
        def invalid(message: str) -> Outcome:
            return Outcome(INVALID_NAMED_LICENSE, f"{NAMED_LICENSE}: {message}"[:250])

        license_id, name = dimensions.get("license_id"), dimensions.get("name")
        if license_id is None or name is None:
            return invalid("dimensions.license_id and dimensions.name are required (the seat's license and name)")
        if license_id not in self.licenses:
            return invalid(f"no ACTIVE NAMED_LICENSE add-on has id {license_id[:60]!r}")
        if len(name) > NAME_LENGTH:
            return invalid(f"dimensions.name is {len(name)} characters; a seat's name has at most {NAME_LENGTH}")
        action = attributes.get("action")
        if action is None:
            return invalid("attributes.action is required (1 adds the seat, -1 removes it)")
        extra = _extra(attributes, "action")
        if extra:
            return invalid(f"takes one attribute, action (not {extra})")
        if action not in (1, -1):
            return invalid(f"attributes.action must be 1 (add the seat) or -1 (remove it), not {action}")
        return Outcome(applied=True)


def rule(session: Session, org_id: str, name: str) -> SchemaRule | None:
    """The rule of a predefined schema name, None for any other name."""
    if name == USAGE:
        meters = MeteringRepository(session, org_id).meters_in_force()
        return SchemaRule(
            name=USAGE,
            version=VERSION,
            attributes=frozenset(),
            dimensions=frozenset(),
            meters=tuple(MeterRule(id=m.id, name=m.name, aggregation=m.aggregation) for m in meters),
            special=_Usage({m.id: m.name for m in meters}),
        )
    if name == NAMED_LICENSE:
        licenses = frozenset(
            a.id
            for a in AddOnRepository(session, org_id).all()
            if a.type == "NAMED_LICENSE" and a.status == AddOnStatus.ACTIVE
        )
        return SchemaRule(
            name=NAMED_LICENSE,
            version=VERSION,
            attributes=frozenset(),
            dimensions=frozenset(),
            special=_NamedLicense(licenses),
        )
    return None
