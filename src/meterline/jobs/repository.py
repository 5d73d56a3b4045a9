from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from meterline.core.pagination import Page, PageRequest
from meterline.core.repository import OrgRepository
from meterline.jobs.models import Job, JobEntry


class JobRepository(OrgRepository):
    def by_id(self, job_id: str) -> Job | None:
        return self.session.scalar(self.scoped(Job).where(Job.pk == job_id))

    def lock(self, job_id: str) -> Job | None:
        rows = self.lock_rows(Job, [job_id])
        return rows[0] if rows else None

    def page(
        self, request: PageRequest, *, newest_first: bool = False, types: frozenset[str] | None = None
    ) -> Page[Job]:
        stmt = self.scoped(Job) if types is None else self.scoped(Job).where(Job.type.in_(sorted(types)))
        return self.keyset_page(stmt, Job.pk, request, descending=newest_first)

    def entries(self, job: Job) -> list[JobEntry]:
        stmt = self.scoped(JobEntry).where(JobEntry.job_pk == job.pk)
        return list(self.session.scalars(stmt.order_by(JobEntry.pk)))

    def entry_page(self, job: Job, request: PageRequest) -> Page[JobEntry]:
        return self.keyset_page(self.scoped(JobEntry).where(JobEntry.job_pk == job.pk), JobEntry.pk, request)

    def counts(self, job: Job) -> dict[str, int]:
        stmt = (
            select(JobEntry.status, func.count())
            .where(JobEntry.org_id == self.org_id, JobEntry.job_pk == job.pk)
            .group_by(JobEntry.status)
        )
        return {status: n for status, n in self.session.execute(stmt).all()}


def background_jobs(session: Session, job_type: str, stale_before: datetime, limit: int) -> list[tuple[str, str]]:
    """(job id, organization id) of background jobs of `job_type` to run, across organizations, oldest first: PENDING
    ones, and IN_PROGRESS ones not updated since `stale_before` (their runner is gone)."""
    stmt = (
        select(Job.pk, Job.org_id)
        .where(
            Job.type == job_type,
            or_(Job.status == "PENDING", (Job.status == "IN_PROGRESS") & (Job.updated_at < stale_before)),
        )
        .order_by(Job.pk)
        .limit(limit)
    )
    return [(pk, org_id) for pk, org_id in session.execute(stmt).all()]
