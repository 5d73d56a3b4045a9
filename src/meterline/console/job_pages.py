"""The console's jobs (JobsApi's jobs: price plan migrations, bill runs, event corrections): the list, newest first,
and a job's page with its entries, what a waiting correction would change, and Confirm / Reject for a job that waits
for confirmation; and the event page's correction action (UNDO or REDO, at once or waiting for confirmation). Thin
handlers over the use cases the API calls (usecases/jobs.py, usecases/events.py)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from meterline.api.routing import UnitOfWorkRoute, keep_writes
from meterline.console import feedback
from meterline.console.pages import User, check_csrf, context, render
from meterline.core.errors import MeterlineError, NotFound
from meterline.core.pagination import page_request
from meterline.entitlements.repository import FeatureRepository
from meterline.events.schemas import CorrectionEvent
from meterline.events.service import EventQueryService
from meterline.jobs.models import Job
from meterline.jobs.service import WAITING
from meterline.metering.repository import MeteringRepository
from meterline.usecases.events import EVENT_CORRECTIONS, corrections, shown_correction
from meterline.usecases.jobs import confirm_job, job_service, request_correction

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)
TYPES = {
    "PRICE_PLAN": "Price plan migration",
    "BILL_RUN": "Bill run",
    EVENT_CORRECTIONS: "Event correction",
    "REPORT": "Report",
}
ACTIONS = {"UNDO": "Undo (revert its usage)", "REDO": "Redo (revert, then ingest its payload again)"}


def _expired(job: Job, now: datetime) -> bool:
    """A correction waiting past `expiresAt` still waits (its status is Togai's), but can only be rejected."""
    expires = job.params.get("expiresAt") if job.type == EVENT_CORRECTIONS and job.status == WAITING else None
    return expires is not None and now >= datetime.fromisoformat(expires)


@router.get("/jobs")
def jobs_page(request: Request, user: User, next: str | None = None) -> Response:
    ctx = context(request, user)
    found = job_service(ctx).page(page_request(next, 50), newest_first=True)
    expired = {job.pk for job in found.items if _expired(job, ctx.now)}
    return render(
        request, "jobs.html", user, jobs=found.items, next_token=found.next_token, types=TYPES, expired=expired
    )


def _job_page(request: Request, user: User, job_id: str, status: int = 200, error: str | None = None) -> Response:
    ctx = context(request, user)
    service = job_service(ctx)
    job = service.get(job_id)
    entries = service.repo.entries(job)
    preview = shown_correction(job.params) if job.type == EVENT_CORRECTIONS else None
    payload = json.loads(job.params["event"]) if preview is not None and "event" in job.params else None
    waiting = job.status == WAITING
    expired = preview is not None and _expired(job, ctx.now)
    names: dict[str, str] = {}
    if preview is not None:
        metering = MeteringRepository(ctx.session, ctx.org_id)
        for meter_id in {m for m, _, _ in preview.units} | {m for d in preview.drafts for m, _, _ in d.usage}:
            meter = metering.meter(meter_id)
            names[meter_id] = meter.name if meter is not None else meter_id
        features = FeatureRepository(ctx.session, ctx.org_id)
        for feature_id in {f for f, _, _ in preview.credits}:
            feature = features.by_pk(feature_id)
            names[feature_id] = feature.name if feature is not None else feature_id
    return render(
        request,
        "job.html",
        user,
        status=status,
        error=error,
        job=job,
        counts=service.counts(job),
        entries=entries[:200],
        more=max(0, len(entries) - 200),
        types=TYPES,
        waiting=waiting,
        expired=expired,
        preview=preview,
        payload=payload,
        names=names,
        params=job.params,
    )


@router.get("/jobs/{job_id}")
def job_page(request: Request, user: User, job_id: str) -> Response:
    return _job_page(request, user, job_id)


@router.post("/jobs/{job_id}/{verb}")
def job_action(request: Request, user: User, job_id: str, verb: str, csrf: Annotated[str, Form()] = "") -> Response:
    """Confirm (run the job now, every rule checked again) or Reject (cancel it) a job that waits."""
    check_csrf(user, csrf)
    ctx = context(request, user)
    url = f"/jobs/{job_id}"
    try:
        if verb == "confirm":
            job, refusal = confirm_job(ctx, job_id)
            if refusal is not None:  # the job failed and says why: kept, shown with the reason
                return keep_writes(_job_page(request, user, job_id, status=refusal[0], error=refusal[1]))
            return feedback.saved(request, url, f"The job ran: {str(job.status).lower()}.")
        if verb == "reject":
            job_service(ctx).reject(job_id)
            return feedback.saved(request, url, "The job is rejected: nothing was changed.")
    except MeterlineError as exc:
        if exc.status_code == 404:
            raise
        return _job_page(request, user, job_id, status=exc.status_code, error=exc.message)
    raise NotFound(f"No such action: {verb}")


@router.post("/events/{reference_id}/correct")
def correct_event(
    request: Request,
    user: User,
    reference_id: str,
    csrf: Annotated[str, Form()] = "",
    action: Annotated[str, Form()] = "",
    confirmation: Annotated[str, Form()] = "",
) -> Response:
    """The event page's correction: with "Require confirmation" a job shows what would change and waits (its page);
    without, the correction applies at once."""
    check_csrf(user, csrf)
    ctx = context(request, user)
    event = EventQueryService(ctx).pipeline(reference_id).event
    url = f"/events/{reference_id}"
    if action not in ACTIONS or event.event_id is None:
        return feedback.saved(request, url, "Pick what to do with the event: Undo or Redo.")
    named = CorrectionEvent(id=event.event_id)
    ctx.session.flush()
    savepoint = ctx.session.begin_nested()  # the answer is a redirect (committed): a refusal must keep nothing
    try:
        if confirmation:
            pending = request_correction(ctx, action, named, expected_reference=reference_id)  # type: ignore[arg-type]
            savepoint.commit()
            return feedback.saved(
                request,
                f"/jobs/{pending.job.pk}",
                "Nothing is changed yet: check what the correction changes, then confirm or reject it.",
            )
        # the event of this page only: one corrected since it was opened is refused (409), never another corrected
        done = corrections(ctx).correct(action, named, expected_reference=reference_id)  # type: ignore[arg-type]
        savepoint.commit()
    except MeterlineError as exc:
        savepoint.rollback()
        if exc.status_code == 404:
            raise
        return feedback.saved(request, url, f"The event was not corrected: {exc.message}")
    return feedback.saved(request, f"/events/{done.event.pk}", f"The event is corrected: {done.reason}.")
