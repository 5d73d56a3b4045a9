"""Corrections that wait for confirmation (usecases/events.py, usecases/jobs.py), on both engines, on a clock the
test moves: requesting one changes nothing but the job; it lives 7 days; confirming applies what it previewed."""

from __future__ import annotations

from decimal import Decimal

from meterline.events.schemas import CorrectionEvent
from meterline.jobs.models import Job
from meterline.usecases.events import PENDING_FOR, shown_correction
from meterline.usecases.jobs import confirm_job, request_correction
from meterline.usecases.schedules import edit_schedules
from tests.service.billing_world import World, make_plan, t, tiered_card
from tests.service.test_previews import edit, state
from tests.stored_events import stored_events

D = Decimal


def statuses(world: World, event_id: str) -> list[str]:
    with world.at(t(1, 1)) as ctx:
        return [e.status for e in stored_events(ctx.session, world.org.id, event_id=event_id)]


def test_a_waiting_correction_changes_nothing_lives_seven_days_and_then_applies_what_it_showed(world: World) -> None:
    with world.at(t(2, 20)) as ctx:
        basic = make_plan(ctx, "Basic", grace=0, usageRateCards=[tiered_card(world.meter_id)])
        edit_schedules(ctx, "acme", [edit(basic, "2024-03-01")])
    assert (
        world.ingest(t(3, 2), ("e1", t(3, 2), "100"), ("e2", t(3, 2), "50"))
        == ["INGESTION_COMPLETED_EVENT_METERED"] * 2
    )
    before = state(world)

    with world.at(t(3, 5)) as ctx:
        first = request_correction(ctx, "UNDO", CorrectionEvent(id="e1"), expected_reference=None).job.pk
        second = request_correction(ctx, "UNDO", CorrectionEvent(id="e2"), expected_reference=None).job.pk
    after = state(world)
    # nothing but the jobs and their entries was written (the preview's savepoint kept nothing)
    changed = {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}
    assert changed == {"jobs", "job_entries"}, changed

    with world.at(t(3, 5)) as ctx:
        job = ctx.session.get(Job, first)
        assert job is not None and job.params["expiresAt"] == "2024-03-12T00:00:00Z"
        shown = shown_correction(job.params)
        assert shown.units == [(world.meter_id, "100", "0")]
        [draft] = shown.drafts
        assert draft.usage == [(world.meter_id, "150", "50")]
        assert D(draft.total_before) > D(draft.total_after)

    # a day before it expires, it applies; a second after, it is refused and the job says why
    with world.at(t(3, 5) + PENDING_FOR - (t(3, 2) - t(3, 1))) as ctx:
        job_row, refusal = confirm_job(ctx, first)
        assert refusal is None and job_row.status == "COMPLETED"
    assert statuses(world, "e1") == ["REVERTED"]
    with world.at(t(3, 12)) as ctx:
        job_row, refusal = confirm_job(ctx, second)
        assert job_row.status == "FAILED" and refusal is not None
        assert refusal[0] == 400 and "expired" in refusal[1], refusal
    assert statuses(world, "e2") == ["INGESTION_COMPLETED_EVENT_METERED"]
