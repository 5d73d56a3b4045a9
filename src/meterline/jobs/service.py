"""Jobs (JobsApi): created by the operations that need them, run entry by entry.

- A job made with `requireConfirmation` waits in WAITING_FOR_CONFIRMATION: `confirm` runs it, `reject` cancels
  it. Any other job runs at once, inside the request that made it.
- Each entry runs in its own savepoint: a failing entry is FAILED with its reason (and the HTTP status of the
  refusal, `httpStatus`), the others go on. The job is
  COMPLETED when it has run (FAILED only when every entry failed), and keeps its counts.
- Runners are looked up by job type; a runner applies one entry as of the job's `now`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from meterline.core.errors import BadRequest, MeterlineError, NotFound
from meterline.core.ids import new_id
from meterline.core.pagination import Page, PageRequest
from meterline.jobs.models import Job, JobEntry
from meterline.jobs.repository import JobRepository
from meterline.jobs.statuses import JobStatus
from meterline.tenancy.context import Context

WAITING, IN_PROGRESS, COMPLETED = JobStatus.WAITING_FOR_CONFIRMATION, JobStatus.IN_PROGRESS, JobStatus.COMPLETED
FAILED, CANCELLED, PENDING = JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.PENDING
Runner = Callable[[Context, dict[str, Any], str], None]  # (context, job params, entity id)
Finisher = Callable[[Context, dict[str, Any]], None]  # (context, job params): once the entries have run


class JobService:
    def __init__(self, ctx: Context, runners: dict[str, Runner], finishers: dict[str, Finisher]) -> None:
        """`runners` (required): job type -> what runs one entry (usecases/jobs.py has them all); `finishers`
        (required, `{}` for none): job type -> what runs once after its entries (a BILL_RUN job's groups' step)."""
        self.ctx = ctx
        self.repo = JobRepository(ctx.session, ctx.org_id)
        self.runners = runners
        self.finishers = finishers

    def get(self, job_id: str, types: frozenset[str] | None = None) -> Job:
        """The job; with `types`, only a job of one of them (another is not found)."""
        job = self.repo.by_id(job_id)
        if job is None or (types is not None and job.type not in types):
            raise NotFound(f"Job {job_id} not found")
        return job

    def page(
        self, request: PageRequest, *, newest_first: bool = False, types: frozenset[str] | None = None
    ) -> Page[Job]:
        return self.repo.page(request, newest_first=newest_first, types=types)

    def entries(self, job_id: str, request: PageRequest, types: frozenset[str] | None = None) -> Page[JobEntry]:
        return self.repo.entry_page(self.get(job_id, types), request)

    def counts(self, job: Job) -> dict[str, int]:
        return self.repo.counts(job)

    def create(
        self,
        job_type: str,
        params: dict[str, Any],
        entity_ids: list[str],
        *,
        require_confirmation: bool,
        in_background: bool = False,
    ) -> Job:
        """A job and its entries; run now, unless it waits for confirmation or runs `in_background` (PENDING until a
        background loop `start`s it and `settle`s it: REPORT jobs, usecases/reports.py)."""
        now = self.ctx.now
        job = Job(
            pk=new_id("job"),
            org_id=self.ctx.org_id,
            type=job_type,
            status=WAITING if require_confirmation else PENDING,
            params=params,
            created_at=now,
            updated_at=now,
            settled_at=None,
        )
        self.repo.add(job)
        for entity_id in entity_ids:
            self.repo.add(
                JobEntry(
                    pk=new_id("jobentry"),
                    org_id=self.ctx.org_id,
                    job_pk=job.pk,
                    entity_id=entity_id,
                    status=PENDING,
                    result=None,
                    created_at=now,
                )
            )
        if not require_confirmation and not in_background:
            self._run(job)
        return job

    def start(self, job_id: str, *, stale_before: datetime) -> Job | None:
        """Take a background job (locked): PENDING, or IN_PROGRESS without an update since `stale_before` (its runner
        is gone); it is IN_PROGRESS now. None when another runner has it."""
        job = self.repo.lock(job_id)
        if job is None:
            return None
        if not (job.status == PENDING or (job.status == IN_PROGRESS and job.updated_at < stale_before)):
            return None
        job.status, job.updated_at = IN_PROGRESS, self.ctx.now
        self.ctx.session.flush()
        return job

    def touch(self, job_id: str) -> None:
        """A background job's runner is alive (its `updated_at`: a job not touched for long is taken over)."""
        job = self.repo.lock(job_id)
        if job is not None:
            job.updated_at = self.ctx.now
            self.ctx.session.flush()

    def settle(self, job_id: str, failures: dict[str, tuple[str, int]]) -> Job:
        """End a background job: each entry COMPLETED, or FAILED with its (reason, HTTP status) from `failures`."""
        job = self.repo.lock(job_id)
        if job is None:
            raise NotFound(f"Job {job_id} not found")
        entries = self.repo.entries(job)
        for entry in entries:
            failure = failures.get(entry.entity_id)
            entry.status = FAILED if failure else COMPLETED
            entry.result = {"reason": failure[0], "httpStatus": str(failure[1])} if failure else None
        job.status = FAILED if entries and len(failures) >= len(entries) else COMPLETED
        job.updated_at = job.settled_at = self.ctx.now
        self.ctx.session.flush()
        return job

    def _locked(self, job_id: str) -> Job:
        job = self.repo.lock(job_id)
        if job is None:
            raise NotFound(f"Job {job_id} not found")
        if job.status != WAITING:
            raise BadRequest(
                f"Job {job_id} is {job.status}; only a job WAITING_FOR_CONFIRMATION can be confirmed or rejected"
            )
        return job

    def confirm(self, job_id: str) -> Job:
        job = self._locked(job_id)
        self._run(job)
        return job

    def reject(self, job_id: str) -> Job:
        job = self._locked(job_id)
        for entry in self.repo.entries(job):
            entry.status = CANCELLED
        job.status, job.updated_at, job.settled_at = CANCELLED, self.ctx.now, self.ctx.now
        self.ctx.session.flush()
        return job

    def _run(self, job: Job) -> None:
        runner = self.runners[job.type]
        job.status = IN_PROGRESS
        failed = 0
        entries = self.repo.entries(job)
        for entry in entries:
            savepoint = self.ctx.session.begin_nested()
            try:
                runner(self.ctx, job.params, entry.entity_id)
                savepoint.commit()
                entry.status, entry.result = COMPLETED, None
            except MeterlineError as exc:
                savepoint.rollback()
                entry.status, entry.result = FAILED, {"reason": exc.message, "httpStatus": str(exc.status_code)}
                failed += 1
        finisher = self.finishers.get(job.type)
        if finisher is not None:
            finisher(self.ctx, job.params)
        job.status = FAILED if entries and failed == len(entries) else COMPLETED
        job.updated_at = job.settled_at = self.ctx.now
        self.ctx.session.flush()
