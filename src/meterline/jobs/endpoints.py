"""JobsApi: thin routes over JobService."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.responses import Response

from meterline.api.deps import api_context, page_params
from meterline.api.errors import error_response
from meterline.api.responses import respond
from meterline.api.routing import UnitOfWorkRoute, keep_writes
from meterline.core.pagination import PageRequest
from meterline.core.schemas import PaginationOptions
from meterline.jobs import schemas
from meterline.tenancy.context import Context
from meterline.usecases import jobs as job_usecases
from meterline.usecases.jobs import job_service

router = APIRouter(route_class=UnitOfWorkRoute, tags=["Jobs"])
_service = job_service
# The job types of Togai's JobsApi (the SDK refuses any other `type` in GetJobResponse): Meterline's own REPORT jobs
# are followed through their report (docs/reports.md) and the console's jobs pages, not listed or read here.
API_TYPES = frozenset({"PRICE_PLAN", "EVENT_CORRECTIONS", "BILL_RUN"})


@router.get("/jobs", response_model=schemas.JobsPaginatedResponse, operation_id="getJobs")
def get_jobs(page: PageRequest = Depends(page_params), ctx: Context = Depends(api_context)) -> Response:
    result = _service(ctx).page(page, types=API_TYPES)
    return respond(
        schemas.JobsPaginatedResponse(
            data=[
                schemas.JobsWithoutStatusInfoResponse(id=j.pk, type=j.type, status=j.status, updated_at=j.updated_at)
                for j in result.items
            ],
            next_token=result.next_token,
            context=PaginationOptions(page_size=result.size),
        )
    )


@router.get("/jobs/{job_id}", response_model=schemas.GetJobResponse, operation_id="getJobStatus")
def get_job_status(job_id: str, ctx: Context = Depends(api_context)) -> Response:
    service = _service(ctx)
    job = service.get(job_id, API_TYPES)
    return respond(schemas.job_out(job, service.counts(job)))


@router.get("/jobs/{job_id}/entries", response_model=schemas.JobEntriesPaginatedResponse, operation_id="getJobEntries")
def get_job_entries(
    job_id: str, page: PageRequest = Depends(page_params), ctx: Context = Depends(api_context)
) -> Response:
    result = _service(ctx).entries(job_id, page, API_TYPES)
    return respond(
        schemas.JobEntriesPaginatedResponse(
            data=[schemas.entry_out(e) for e in result.items],
            next_token=result.next_token,
            context=PaginationOptions(page_size=result.size),
        )
    )


@router.post("/jobs/{job_id}/confirm", response_model=schemas.GetJobResponse, operation_id="confirmJob")
def confirm_job(job_id: str, ctx: Context = Depends(api_context)) -> Response:
    """Run a job that waits for confirmation. A correction that can no longer be applied: the job FAILED with the
    reason (kept), answered as the refusal it is."""
    _service(ctx).get(job_id, API_TYPES)
    job, refusal = job_usecases.confirm_job(ctx, job_id)
    if refusal is not None:
        return keep_writes(error_response(*refusal))
    return respond(schemas.job_out(job, _service(ctx).counts(job)))


@router.post("/jobs/{job_id}/reject", response_model=schemas.GetJobResponse, operation_id="rejectJob")
def reject_job(job_id: str, ctx: Context = Depends(api_context)) -> Response:
    """Cancel a job that waits for confirmation."""
    service = _service(ctx)
    service.get(job_id, API_TYPES)
    job = service.reject(job_id)
    return respond(schemas.job_out(job, service.counts(job)))
