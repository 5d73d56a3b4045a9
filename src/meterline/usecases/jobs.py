"""Every job type with its runner, and starting jobs. A job confirmed later runs the same runner as one run now."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from meterline.core.errors import BadRequest, MeterlineError
from meterline.core.observability import BILLING_FAILURES, describe
from meterline.events.models import Event as StoredEvent
from meterline.events.schemas import CorrectionAction, CorrectionEvent
from meterline.events.store import EventStore
from meterline.invoicing.failures import BillingFailed
from meterline.invoicing.service import InvoiceService
from meterline.jobs.models import Job
from meterline.jobs.service import FAILED, Finisher, JobService, Runner
from meterline.reports.models import Report
from meterline.reports.schemas import CreateReportRequest
from meterline.schedules import migration
from meterline.tenancy.context import Context
from meterline.usecases.events import EVENT_CORRECTIONS, correct_entry, preview_correction
from meterline.usecases.invoice_groups import consolidate
from meterline.usecases.reports import REPORT, report_service
from meterline.usecases.schedules import migrate_account_entry

BILL_RUN = "BILL_RUN"
log = logging.getLogger("meterline.billing")


def finalize_entry(ctx: Context, _params: dict[str, Any], invoice_id: str) -> None:
    """A BILL_RUN job's entry: finalize the invoice if it is still DRAFT. An invoice that cannot be finalized (its
    data breaks computing or storing it) fails its entry alone, with the reason: the job's savepoint rolls it back,
    the other entries go on (the worker records the failure and retries it, docs/invoicing.md)."""
    service = InvoiceService(ctx)
    if service.get(invoice_id).status != "DRAFT":
        return
    invoice = service.repo.locked(invoice_id)  # a simultaneous bill run may have finalized it: read again, locked
    if invoice is not None and invoice.status == "DRAFT":
        try:
            service.finalize([invoice], ctx.now)
            ctx.session.flush()  # a value the database refuses fails here, inside the entry
        except MeterlineError:
            raise
        except Exception as exc:
            reason = describe(exc)
            BILLING_FAILURES.labels(stage="finalize").inc()
            log.warning(
                "billing failed",
                extra={
                    "fields": {"org_id": ctx.org_id, "stage": "finalize", "invoice_id": invoice_id, "reason": reason}
                },
            )
            raise BillingFailed(f"Invoice {invoice_id} could not be finalized: {reason}") from None


def consolidate_groups(ctx: Context, _params: dict[str, Any]) -> None:
    """After a BILL_RUN job's entries: the invoice groups' COMPOSITE invoices their finalized invoices complete, made
    in the same run as of the job's `now` (usecases/invoice_groups.py). In a savepoint: should it fail, the job's
    finalized invoices stand, and the worker's next run makes the composites (recording a GROUPS failure if that
    fails too)."""
    savepoint = ctx.session.begin_nested()
    try:
        consolidate(ctx, ctx.now)
        ctx.session.flush()
        savepoint.commit()
    except Exception as exc:
        savepoint.rollback()
        BILLING_FAILURES.labels(stage="groups").inc()
        log.warning(
            "billing failed",
            extra={"fields": {"org_id": ctx.org_id, "stage": "groups", "reason": describe(exc)}},
        )


RUNNERS: dict[str, Runner] = {
    migration.JOB_TYPE: migrate_account_entry,
    BILL_RUN: finalize_entry,
    EVENT_CORRECTIONS: correct_entry,
}


FINISHERS: dict[str, Finisher] = {BILL_RUN: consolidate_groups}


def job_service(ctx: Context) -> JobService:
    return JobService(ctx, RUNNERS, FINISHERS)


def start_plan_migration(
    ctx: Context,
    *,
    source_id: str,
    source_versions: list[int],
    target_id: str | None,
    target_version: int | None,
    mode: str,
    retain_start_offsets: bool,
    require_confirmation: bool,
    v2: bool = False,
) -> Job:
    """Check the migration and make its PRICE_PLAN job (run now unless it must be confirmed)."""
    params, accounts = migration.plan_migration(
        ctx,
        source_id=source_id,
        source_versions=source_versions,
        target_id=target_id,
        target_version=target_version,
        mode=mode,
        retain_start_offsets=retain_start_offsets,
        v2=v2,
    )
    return job_service(ctx).create(migration.JOB_TYPE, params, accounts, require_confirmation=require_confirmation)


def start_bill_run(ctx: Context, *, require_confirmation: bool) -> Job:
    """A BILL_RUN job over every invoice due now, in numbering order."""
    ids = InvoiceService(ctx).prepare_bill_run(ctx.now)
    return job_service(ctx).create(
        BILL_RUN, {"asOf": ctx.now.isoformat()}, ids, require_confirmation=require_confirmation
    )


def start_report(ctx: Context, request: CreateReportRequest) -> Report:
    """A report (checked now: 400 naming the field) QUEUED, and its REPORT job, PENDING until the background runner
    takes it (usecases/reports.py)."""
    report = report_service(ctx).create(request)
    job = job_service(ctx).create(
        REPORT, {"reportId": report.pk}, [report.pk], require_confirmation=False, in_background=True
    )
    report.job_pk = job.pk
    ctx.session.flush()
    return report


@dataclass(frozen=True)
class PendingCorrection:
    job: Job
    event: StoredEvent  # the event the correction will apply to, as it stands (not corrected yet)
    status: str  # the correction's status once confirmed: REVERTED or REVERTED_AND_REINGESTED


def request_correction(
    ctx: Context, action: CorrectionAction, event: CorrectionEvent | None, *, expected_reference: str | None
) -> PendingCorrection:
    """A correction that waits for confirmation: checked and previewed now (nothing changed; refused as the correction
    would be), then an EVENT_CORRECTIONS job holding the preview (usecases/events.py), of one entry: the stored event's
    referenceId (an event id may be longer than an entry's entity id). `expected_reference` (required): the stored
    event it must apply to (`CorrectionService.correct`'s)."""
    preview = preview_correction(ctx, action, event, expected_reference=expected_reference)
    job = job_service(ctx).create(EVENT_CORRECTIONS, preview.params, [preview.reference_id], require_confirmation=True)
    stored = EventStore(ctx.session, ctx.org_id).by_pk(preview.reference_id)
    if stored is None:  # pragma: no cover - the savepoint kept it
        raise BadRequest(f"Event {preview.reference_id} is gone")
    return PendingCorrection(job, stored, preview.status)


def confirm_job(ctx: Context, job_id: str) -> tuple[Job, tuple[int, str] | None]:
    """Confirm (run) a waiting job. A correction that can no longer be applied fails its job, which keeps the reason
    in its entry, and the confirmation is refused with that reason and its status (400 for a rule, 409 for a race):
    the second value, for the caller to answer while keeping the job's writes."""
    service = job_service(ctx)
    job = service.confirm(job_id)
    if job.type != EVENT_CORRECTIONS or job.status != FAILED:
        return job, None
    result = next((e.result for e in service.repo.entries(job) if e.result), None) or {}
    return job, (int(result.get("httpStatus", "400")), result.get("reason", f"Job {job.pk} failed"))
