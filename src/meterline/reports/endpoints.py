"""ReportsApi (`list_reports`), and Meterline's own routes to run a report and read one and the templates."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from meterline.api.deps import api_context, page_params
from meterline.api.responses import respond
from meterline.api.routing import UnitOfWorkRoute
from meterline.core.errors import Conflict
from meterline.core.pagination import PageRequest
from meterline.files.endpoints import base_url
from meterline.files.service import FileService
from meterline.reports import schemas
from meterline.reports.models import Report
from meterline.reports.statuses import ReportStatus
from meterline.reports.templates import TEMPLATES
from meterline.tenancy.context import Context
from meterline.usecases.jobs import start_report
from meterline.usecases.reports import report_service

router = APIRouter(route_class=UnitOfWorkRoute, tags=["Reports"])


def report_out(report: Report, files: FileService, url_base: str) -> schemas.Report:
    """A report as the SDK reads it; a COMPLETED one with `preSignedUrl`, a link to its CSV for an hour."""
    url = None
    if report.status == ReportStatus.COMPLETED and report.file_pk is not None:
        try:
            url = files.download_url(report.file_pk, expiry=None, base_url=url_base)
        except Conflict:  # its file is in a store this server no longer uses (docs/operations.md): no link
            url = None
    query = schemas.QueryInputOut.model_validate(report.query_input) if report.query_input else None
    return schemas.Report(
        id=report.pk,
        name=report.name,
        account_id=report.account_id,
        status=report.status,
        file_id=report.file_pk,
        query_input=query,
        report_template_id=report.template_id,
        created_at=report.created_at,
        updated_at=report.updated_at,
        pre_signed_url=url,
        type=report.type,
    )


@router.get("/reports", response_model=schemas.ReportsPaginatedResponse, operation_id="listReports")
def list_reports(
    request: Request,
    page: PageRequest = Depends(page_params),
    fetch_for: str | None = Query(None, alias="fetchFor", max_length=20, description="ALL, ORGANIZATION or ACCOUNTS"),
    account_id: str | None = Query(None, max_length=50, description="with fetchFor=ACCOUNTS: this account's only"),
    ctx: Context = Depends(api_context),
) -> Response:
    """Newest first."""
    service = report_service(ctx)
    result = service.page(page, fetch_for=fetch_for, account_id=account_id)
    url_base = base_url(request)
    return respond(
        schemas.ReportsPaginatedResponse(
            data=[report_out(r, service.files, url_base) for r in result.items], next_token=result.next_token
        )
    )


@router.post("/reports", response_model=schemas.Report, status_code=201, operation_id="createReport")
def create_report(body: schemas.CreateReportRequest, request: Request, ctx: Context = Depends(api_context)) -> Response:
    """Run a report now (Meterline's; not in Togai's SDK): a template over [fromDate, toDate), or a query."""
    report = start_report(ctx, body)
    return respond(report_out(report, report_service(ctx).files, base_url(request)), 201)


@router.get("/reports/{report_id}", response_model=schemas.Report, operation_id="getReport")
def get_report(report_id: str, request: Request, ctx: Context = Depends(api_context)) -> Response:
    service = report_service(ctx)
    return respond(report_out(service.get(report_id), service.files, base_url(request)))


@router.get("/report_templates", response_model=schemas.ReportTemplatesResponse, operation_id="listReportTemplates")
def list_report_templates(ctx: Context = Depends(api_context)) -> Response:
    return respond(
        schemas.ReportTemplatesResponse(
            data=[
                schemas.ReportTemplateOut(id=t.id, name=t.name, description=t.description, base_data_source=t.source)
                for t in TEMPLATES.values()
            ]
        )
    )
