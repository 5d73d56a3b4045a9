"""JobsApi models, field for field as the SDK has them."""

from __future__ import annotations

from datetime import datetime

from meterline.core.schemas import PaginationOptions, ResponseModel
from meterline.jobs.models import Job, JobEntry
from meterline.jobs.statuses import JobStatus


class GetJobResponse(ResponseModel):
    id: str
    type: str
    settled_at: datetime | None = None
    updated_at: datetime
    status: str
    total_job_entries: int
    pending_job_entries: int
    failed_job_entries: int
    completed_job_entries: int
    metadata: dict[str, str] | None = None


class JobsWithoutStatusInfoResponse(ResponseModel):
    id: str
    type: str
    status: str
    updated_at: datetime


class JobsPaginatedResponse(ResponseModel):
    data: list[JobsWithoutStatusInfoResponse]
    next_token: str | None = None
    context: PaginationOptions | None = None


class JobEntriesResponse(ResponseModel):
    entity_id: str
    job_id: str
    status: str
    created_at: datetime
    metadata: dict[str, str] | None = None


class JobEntriesPaginatedResponse(ResponseModel):
    data: list[JobEntriesResponse]
    next_token: str | None = None
    context: PaginationOptions | None = None


def job_out(job: Job, counts: dict[str, int]) -> GetJobResponse:
    return GetJobResponse(
        id=job.pk,
        type=job.type,
        settled_at=job.settled_at,
        updated_at=job.updated_at,
        status=job.status,
        total_job_entries=sum(counts.values()),
        pending_job_entries=counts.get(JobStatus.PENDING, 0),
        failed_job_entries=counts.get(JobStatus.FAILED, 0),
        completed_job_entries=counts.get(JobStatus.COMPLETED, 0),
        metadata={k: str(v) for k, v in job.params.items()},
    )


def entry_out(entry: JobEntry) -> JobEntriesResponse:
    return JobEntriesResponse(
        entity_id=entry.entity_id,
        job_id=entry.job_pk,
        status=entry.status,
        created_at=entry.created_at,
        metadata=entry.result,
    )
