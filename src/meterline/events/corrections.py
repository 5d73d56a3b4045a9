"""Event corrections (EventManagementApi.event_correction; billing-rules §1.6): UNDO, REDO, REDO_EVENT.

A correction names an accepted event by its `id` and, in the request's one transaction:
1. UNDO: subtracts the units the event stored per meter from the usage rollups of its account and 15-minute bucket
   (and one event from each), marks it REVERTED, and releases its id claim, so the id may be ingested again;
2. REDO: UNDO, then ingests the stored payload again through `IngestionService` (today's schema and meters apply);
3. REDO_EVENT: UNDO, then ingests the corrected payload from the request.
An UNDO of an event ingested through /entitled gives the feature credits it consumed back, before the usage is
taken back (`feature_credits`); REDO and REDO_EVENT of such an event are refused (they would skip the credit check).
A re-ingestion that is rejected raises (400), so the whole correction rolls back and the original stays as it was.
The service never commits.

An event of a closed pricing cycle (past its grace period: its invoice is final) cannot be corrected by any of the
three actions (400): its usage is part of an issued invoice. `_require_open_cycle` is the one check, made before
anything changes; it decides "closed" with the same `Coverage` that ingestion uses to refuse such events
(INGESTION_FAILED_PAST_GRACE_PERIOD), so what can be ingested and what can be corrected never disagree.
REDO_EVENT's corrected payload is then checked by ingestion itself, which refuses (so the correction is 400, nothing
changed) a payload whose account and time fall in a closed cycle or in one whose invoice was finalized early (the same
`invoiced_until`): a correction never moves usage onto a finalized invoice either.

A correction that waits for confirmation (`require_confirmation`) is an EVENT_CORRECTIONS job (usecases/jobs.py):
confirming it calls `correct` again, with `expected_reference`, the event it was previewed on, so that every rule is
checked again at that moment and a job never applies to an event other than the one it showed. `expected_reference` is
required (no default): the console passes the event of its page, so an old page never corrects a newer event.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from meterline.core.clock import isoformat_z
from meterline.core.errors import BadRequest, Conflict, NotFound
from meterline.events import pipeline
from meterline.events.models import Event as StoredEvent
from meterline.events.schemas import CorrectionAction, CorrectionEvent
from meterline.events.service import STATUS_TEXT, IngestionService, InvoicedUntilOf
from meterline.events.statuses import CorrectionStatus, IngestionStatus
from meterline.events.store import EventStore, UsageKey
from meterline.events.wire import Attribute, Event, event_from
from meterline.schedules.coverage import CLOSED, Coverage
from meterline.schedules.repository import ScheduleRepository
from meterline.tenancy.context import Context

REVERTED, REVERTED_AND_REINGESTED = CorrectionStatus.REVERTED, CorrectionStatus.REVERTED_AND_REINGESTED
# The fields REDO_EVENT needs in the corrected payload (Togai's Event requires them), as (python, JSON) names.
_PAYLOAD_FIELDS = (
    ("schema_name", "schemaName"),
    ("timestamp", "timestamp"),
    ("account_id", "accountId"),
    ("attributes", "attributes"),
    ("dimensions", "dimensions"),
)


def _short(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")


@dataclass(frozen=True)
class Correction:
    """The answer to a correction: the event now in force for the id (the reverted one after UNDO, the new one
    after REDO and REDO_EVENT), the correction's status and its reason."""

    event: StoredEvent
    status: str
    reason: str
    original: StoredEvent  # the event corrected (the same as `event` after UNDO)


# Up to when accounts' usage is on finalized invoices, by account pk (invoicing knows; usecases/events.py passes it).
InvoicedUntil = InvoicedUntilOf
# What a correction (the action) of an event does to the feature credits it consumed through /entitled
# (entitlements knows; usecases/events.py passes it): UNDO gives them back, REDO and REDO_EVENT are refused.
FeatureCredits = Callable[[Context, StoredEvent, str], None]


class CorrectionService:
    def __init__(self, ctx: Context, *, invoiced_until: InvoicedUntil, feature_credits: FeatureCredits) -> None:
        """`invoiced_until` (required): a correction never reaches usage that a finalized invoice holds, even one
        finalized early, inside its grace period (billing-rules D12). `feature_credits` (required): an entitled
        event's credits come back with its UNDO, in the same transaction (docs/entitlements.md)."""
        self.ctx = ctx
        self.store = EventStore(ctx.session, ctx.org_id)
        self.invoiced_until = invoiced_until
        self.feature_credits = feature_credits

    def correct(
        self, action: CorrectionAction, event: CorrectionEvent | None, *, expected_reference: str | None
    ) -> Correction:
        """`expected_reference` (required, so that no caller forgets it): the stored event (referenceId) the correction
        must still apply to, 409 when another event with the id is in force now: the console's (the event of its
        page) and a confirmed job's (the event previewed). None only for the API's correction, which names the event
        by its id alone and corrects whichever event is in force for it (Togai's semantics)."""
        if event is None:
            raise BadRequest("event.id: this field is required (it names the event to correct)")
        corrected = _corrected_payload(event) if action == "REDO_EVENT" else None
        original, known = self._correctable(event.id)
        if expected_reference is not None and original.pk != expected_reference:
            raise Conflict(
                f"{action}: event {_short(event.id)} was corrected since you opened it (or since this correction was "
                f"requested): the event in force is now {original.pk}, not {expected_reference}; nothing was changed"
            )
        self._require_open_cycle(original, action)
        # Before the usage changes: the credit entries are locked before usage rollups (docs/architecture.md).
        self.feature_credits(self.ctx, original, action)
        self._undo(original, action)
        if action == "UNDO":
            return Correction(original, REVERTED, "reverted", original)

        payload = corrected if corrected is not None else _payload_of(original)
        # REDO_EVENT's payload may name another account and time: ingestion refuses a closed cycle there, and one
        # whose invoice was finalized early, with the same guard (INGESTION_FAILED_PAST_GRACE_PERIOD, so 400 here)
        result = IngestionService(self.ctx, invoiced_until=self.invoiced_until).ingest([payload])[0]
        if not result.accepted:
            # Raising rolls the whole request back: the original event, its usage and its id claim stay as they were.
            raise BadRequest(
                f"{action}: the event was not re-ingested ({result.status}: {result.message or result.status}); "
                "nothing was changed"
            )
        # The row just stored (another transaction may have committed a refused duplicate of the id meanwhile).
        new = next(e for e in self.store.by_event_id(event.id) if e.pk not in known and e.status in pipeline.ACCEPTED)
        self.store.set_status(
            original, REVERTED, f"{original.status_description}; re-ingested as {new.pk}"[:STATUS_TEXT], self.ctx.now
        )
        if action == "REDO":
            reason = f"reverted {original.pk} and re-ingested its payload"
        else:
            reason = f"reverted {original.pk} and ingested the corrected payload"
        return Correction(new, REVERTED_AND_REINGESTED, reason, original)

    def _correctable(self, event_id: str) -> tuple[StoredEvent, set[str]]:
        """The newest accepted event with this id, locked; and the pks of every event stored with the id."""
        rows = self.store.by_event_id(event_id)
        if not rows:
            raise NotFound(f"Event {_short(event_id)} not found")
        accepted = [e for e in rows if e.status in pipeline.ACCEPTED]
        if not accepted:
            statuses = ", ".join(dict.fromkeys(e.status for e in rows))
            raise BadRequest(
                f"Event {_short(event_id)} cannot be corrected: only an accepted event (INGESTION_COMPLETED_*) can "
                f"be, and its stored statuses are {statuses}"
            )
        locked = self.store.lock_event(accepted[-1].pk)
        if locked is None or locked.status not in pipeline.ACCEPTED:
            raise Conflict(
                f"Event {_short(event_id)} was corrected concurrently; nothing was changed: read it back and request "
                "the correction again if it still applies"
            )
        return locked, {e.pk for e in rows}

    def _require_open_cycle(self, event: StoredEvent, action: str) -> None:
        """Refuse (400) a correction of an event whose pricing cycle is closed: UNDO, REDO and REDO_EVENT alike."""
        if event.account_pk is None:  # pragma: no cover - accepted events have an account
            return
        schedules = ScheduleRepository(self.ctx.session, self.ctx.org_id).of_accounts({event.account_pk})
        coverage = Coverage(schedules, ZoneInfo(self.ctx.org.timezone), self.ctx.now)
        frozen = self.invoiced_until(self.ctx, {event.account_pk}).get(event.account_pk)
        if coverage.state(event.account_pk, event.timestamp) == CLOSED:
            why = "its grace period has ended and its invoice is final"
        elif frozen is not None and event.timestamp < frozen:
            why = f"its invoice was finalized early: the account is invoiced up to {isoformat_z(frozen)}"
        else:
            return
        raise BadRequest(
            f"{action}: event {_short(event.event_id or event.pk)} cannot be corrected: the pricing cycle of "
            f"{isoformat_z(event.timestamp)} is closed ({why}), so its usage stays as invoiced; nothing was changed"
        )

    def _undo(self, event: StoredEvent, action: str) -> None:
        units: dict[str, str] = event.units or {}
        if units:
            bucket = pipeline.bucket_of(event.timestamp)
            account_pk: str = event.account_pk  # type: ignore[assignment]  # accepted events have an account
            decrements: dict[UsageKey, tuple[Decimal, int]] = {
                (account_pk, meter_id, bucket): (Decimal(value).copy_negate(), -1) for meter_id, value in units.items()
            }
            self.store.add_usage(decrements, ZoneInfo(self.ctx.org.timezone), self.ctx.now)  # exact: under EXACT
        description = f"Reverted by {action} at {isoformat_z(self.ctx.now)}; was {event.status}"
        self.store.set_status(event, IngestionStatus.REVERTED, description[:STATUS_TEXT], self.ctx.now)
        if event.event_id is not None:
            self.store.release_id(event.event_id)


def _corrected_payload(event: CorrectionEvent) -> Event:
    missing: Sequence[str] = [alias for name, alias in _PAYLOAD_FIELDS if getattr(event, name) is None]
    if missing:
        raise BadRequest(
            "REDO_EVENT ingests the corrected event from the body: "
            + ", ".join(f"event.{m}" for m in missing)
            + (" is" if len(missing) == 1 else " are")
            + " required"
        )
    return Event(
        schema_name=event.schema_name,  # type: ignore[arg-type]
        id=event.id,
        timestamp=event.timestamp,  # type: ignore[arg-type]
        account_id=event.account_id,  # type: ignore[arg-type]
        attributes=[Attribute(name=a.name, value=a.value, unit=a.unit) for a in event.attributes or ()],
        dimensions=event.dimensions,  # type: ignore[arg-type]
    )


def _payload_of(event: StoredEvent) -> Event:
    """The payload an event was ingested with, as an ingest request would carry it."""
    return event_from(
        {
            "schemaName": event.schema_name,
            "id": event.event_id,
            "timestamp": event.timestamp,
            "accountId": event.account_ref,
            "attributes": event.attributes,
            "dimensions": event.dimensions,
        }
    )
