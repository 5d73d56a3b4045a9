"""What an event does, decided without I/O: validation against its schema, its schema's enrichments and id template
(metering/enrichments.py), then each active meter of the schema (filters, matcher, computation) gives its units
(billing-rules D5, D6).

The catalog (schema + meters) is compiled once into `SchemaRule`s; `evaluate` then runs per event on plain values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from meterline.core import numbers
from meterline.events.statuses import ACCEPTED as ACCEPTED, IngestionStatus  # ACCEPTED: used as pipeline.ACCEPTED
from meterline.events.wire import Event
from meterline.metering import enrichments
from meterline.metering.jsonlogic import Compiled, EvaluationError, JsonLogicError, compile_logic, to_units, truthy

FUTURE_LIMIT = timedelta(hours=24)
BUCKET = timedelta(minutes=15)
# An attribute value: the one number rule (core/numbers.py) as a pattern, one regex match per attribute.
_DECIMAL_TEXT = numbers.DECIMAL_TEXT

# Statuses (Togai's IngestionStatus values)
# (short names for the members of IngestionStatus, which the pipeline and its callers use throughout)
FAILED, SCHEMA_NOT_DEFINED = IngestionStatus.FAILED, IngestionStatus.SCHEMA_NOT_DEFINED
UNITS_INVALID, ACCOUNT_NOT_FOUND = IngestionStatus.UNITS_INVALID, IngestionStatus.ACCOUNT_NOT_FOUND
DUPLICATE, NO_EVENT_ID, PAST_GRACE = IngestionStatus.DUPLICATE, IngestionStatus.NO_EVENT_ID, IngestionStatus.PAST_GRACE
NO_MATCHING_METERS, METERED = IngestionStatus.NO_MATCHING_METERS, IngestionStatus.METERED
NOT_METERED = IngestionStatus.NOT_METERED
ENRICHMENT_FAILED = IngestionStatus.ENRICHMENT_FAILED
# What each meter did with an event (Togai's EventPipelineInfoUsageMeters status)
UNITS_COMPUTED = "PROCESSED_UNITS_COMPUTED"
FILTERED_OUT = "PROCESSED_FILTERED_OUT"


@dataclass(frozen=True)
class MeterRule:
    id: str
    name: str
    aggregation: str  # COUNT or SUM
    dimension_filters: tuple[tuple[str, str], ...] = ()
    attribute_filters: tuple[tuple[str, Decimal], ...] = ()
    matcher: Compiled | None = None
    computation: Compiled | None = None  # None: COUNT, one unit per matching event
    # stored jsonLogic that no longer compiles (written before a check it now fails, e.g. a NUL in a string): the
    # events that reach the meter fail as INGESTION_FAILED_UNITS_INVALID, the others are ingested
    error: str | None = None


@dataclass(frozen=True)
class SchemaRule:
    name: str
    version: int
    attributes: frozenset[str]
    dimensions: frozenset[str]
    meters: tuple[MeterRule, ...] = ()
    plan: enrichments.Plan = enrichments.Plan()  # enrichments and the id template (metering/enrichments.py)
    # A predefined schema (events/predefined.py: togai-usage, togai-named-license): what it makes of an event's
    # attributes (parsed) and dimensions, in place of declared fields, enrichments and meters.
    special: Callable[[Mapping[str, Decimal], Mapping[str, str]], Outcome] | None = None


@dataclass(frozen=True)
class Outcome:
    """A failure (`status` and `message`), or the units each reached meter computed (maybe none); with what
    enrichment derived, and the id the schema's template gave an event sent without one."""

    status: str | None = None
    message: str | None = None
    units: dict[str, Decimal] = field(default_factory=dict)
    enriched: enrichments.Enriched = enrichments.NOTHING
    event_id: str | None = None
    applied: bool = False  # accepted with no units: a togai-named-license event (its seat change is its effect)

    @property
    def failed(self) -> bool:
        return self.status is not None


def meter_rule(
    *,
    id: str,
    name: str,
    aggregation: str,
    filters: Iterable[Mapping[str, Any]],
    computations: Iterable[Mapping[str, Any]],
) -> MeterRule:
    """Compile a stored meter. Filters name `dimension.<x>`, `attribute.<x>` or a bare dimension name (D5)."""
    dimension_filters, attribute_filters = [], []
    for f in filters:
        kind, _, name_part = str(f["field"]).partition(".")
        if not name_part:
            kind, name_part = "dimension", kind
        if kind in ("attribute", "attributes"):
            attribute_filters.append((name_part, Decimal(str(f["value"]))))
        else:
            dimension_filters.append((name_part, str(f["value"])))
    computation = next(iter(computations), None)
    try:
        matcher = compile_logic(computation["matcher"]) if computation and computation.get("matcher") else None
        compute = None
        if aggregation == "SUM" and computation is not None:
            compute = compile_logic(computation["computation"])
    except JsonLogicError as exc:
        return MeterRule(id=id, name=name, aggregation=aggregation, error=f"its jsonLogic is invalid: {exc}")
    return MeterRule(
        id=id,
        name=name,
        aggregation=aggregation,
        dimension_filters=tuple(dimension_filters),
        attribute_filters=tuple(attribute_filters),
        matcher=matcher,
        computation=compute,
    )


def meter_outcomes(rule: SchemaRule, units: Mapping[str, Decimal]) -> list[tuple[str, str, str, str | None]]:
    """What each meter of the schema did with an accepted event, as the event records it: (meter id, name,
    outcome, units as decimal text or None when the meter filtered the event out). A predefined schema's event
    names the meter it reached: only that one."""
    return [
        (m.id, m.name, UNITS_COMPUTED, str(units[m.id])) if m.id in units else (m.id, m.name, FILTERED_OUT, None)
        for m in rule.meters
        if rule.special is None or m.id in units
    ]


def bucket_of(timestamp: datetime) -> datetime:
    return timestamp.replace(minute=timestamp.minute - timestamp.minute % 15, second=0, microsecond=0)


NO_SETTINGS: Mapping[str, tuple[str, Any]] = {}


def evaluate(
    rule: SchemaRule | None,
    event: Event,
    now: datetime,
    settings: Mapping[str, tuple[str, Any]] = NO_SETTINGS,
    account_id: str | None = None,
) -> Outcome:
    """`settings`: the values of the schema's enrichment dependencies for the event's account (key -> (text, value
    as rules read it); the nearest level's). `account_id`: the id of the account the event's accountId (an id or an
    alias) resolved to, which the id template's `{{accountId}}` writes (the accountId as sent when it resolved to
    none: the event then fails)."""
    if rule is None:
        return Outcome(SCHEMA_NOT_DEFINED, f"Event schema {event.schema_name!r} is not defined or not active")
    if event.timestamp > now + FUTURE_LIMIT:
        return Outcome(FAILED, "timestamp is more than 24 hours in the future")
    attributes: dict[str, Decimal] = {}
    for attribute in event.attributes:
        if attribute.name in attributes:
            return Outcome(FAILED, f"attribute {attribute.name!r} is given twice")
        if not _DECIMAL_TEXT.fullmatch(attribute.value):
            return Outcome(
                FAILED,
                f"attribute {attribute.name!r}: {attribute.value[:40]!r} is not a decimal number "
                f"that is {numbers.RULE.removeprefix('must be ')}",
            )
        try:
            attributes[attribute.name] = Decimal(attribute.value)
        except InvalidOperation:  # pragma: no cover - the pattern already guarantees a decimal
            return Outcome(FAILED, f"attribute {attribute.name!r} is not a decimal number")
    if rule.special is not None:
        return rule.special(attributes, event.dimensions)
    if not rule.attributes <= attributes.keys():
        missing = ", ".join(sorted(rule.attributes - attributes.keys()))
        return Outcome(FAILED, f"missing attribute {missing} declared by schema {rule.name}")
    dimensions = event.dimensions
    if not rule.dimensions <= dimensions.keys():
        missing = ", ".join(sorted(rule.dimensions - dimensions.keys()))
        return Outcome(FAILED, f"missing dimension {missing} declared by schema {rule.name}")
    enriched, event_id = enrichments.NOTHING, None
    plan = rule.plan
    if not plan.empty:
        try:
            if plan.fields or plan.error:
                dimensions = dict(dimensions)
                enriched = enrichments.enrich(plan, attributes, dimensions, settings)
            if event.id is None and plan.template is not None:
                try:
                    event_id = enrichments.event_id(
                        plan,
                        attributes=attributes,
                        dimensions=dimensions,
                        timestamp=event.timestamp,
                        account_id=account_id or event.account_id,
                        schema_name=event.schema_name,
                    )
                except enrichments.EnrichmentFailed as exc:
                    return Outcome(NO_EVENT_ID, str(exc)[:250], enriched=enriched)
        except enrichments.EnrichmentFailed as exc:
            return Outcome(ENRICHMENT_FAILED, str(exc)[:250])
    data = {"attribute": attributes, "attributes": attributes, "dimension": dimensions, "dimensions": dimensions}
    units: dict[str, Decimal] = {}
    for meter in rule.meters:
        # (the emptiness checks keep the common unfiltered meter free of generator overhead: this runs per event)
        if meter.dimension_filters and any(dimensions.get(n) != v for n, v in meter.dimension_filters):
            continue
        if meter.attribute_filters and any(attributes.get(n) != v for n, v in meter.attribute_filters):
            continue
        try:
            if meter.error is not None:
                raise EvaluationError(meter.error)
            if meter.matcher is not None and not truthy(meter.matcher(data)):
                continue
            if meter.computation is None:
                units[meter.id] = Decimal(1)
            else:
                computed = to_units(meter.computation(data))
                # usage keeps every decimal a computation gives, but stays below the rule's bound (a cheap read
                # of the exponent): products of bounded attributes would otherwise reach 10^30 and more
                if not computed.is_zero() and computed.adjusted() >= numbers.MAX_DIGITS:
                    raise EvaluationError(
                        f"the computation gave {computed.adjusted() + 1} digits before the point: "
                        f"usage must be below 10^{numbers.MAX_DIGITS}"
                    )
                units[meter.id] = computed
        except EvaluationError as exc:
            return Outcome(UNITS_INVALID, f"usage meter {meter.name}: {exc}"[:250], enriched=enriched)
    return Outcome(units=units, enriched=enriched, event_id=event_id)
