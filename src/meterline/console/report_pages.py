"""The console's Reports section: run a template over a period (for one account or all; the report runner runs it in
the background), a report's page with its status and progress (refreshing itself until done), and its download (a
redirect to the file's signed, expiring link). Thin handlers over the use case the API calls (usecases/jobs.py
`start_report`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from meterline.api.routing import UnitOfWorkRoute
from meterline.console import feedback
from meterline.console.pages import User, check_csrf, context, render
from meterline.core.errors import MeterlineError, NotFound
from meterline.core.schemas import error_text
from meterline.reports.schemas import CreateReportRequest
from meterline.reports.statuses import ReportStatus
from meterline.reports.templates import TEMPLATES
from meterline.usecases.jobs import start_report
from meterline.usecases.reports import report_service

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)


def _origin(request: Request) -> str:
    configured: str = request.app.state.settings.public_url
    return configured.rstrip("/") if configured else str(request.base_url).rstrip("/")


def _list(request: Request, user: User, status: int = 200, error: str | None = None, **values: object) -> Response:
    ctx = context(request, user)
    reports = report_service(ctx).recent(50)
    return render(
        request,
        "reports.html",
        user,
        status=status,
        error=error,
        reports=reports,
        templates=list(TEMPLATES.values()),
        values=values or {"template": "invoices_per_period", "from_date": "", "to_date": "", "account_id": ""},
    )


@router.get("/reports")
def reports_page(request: Request, user: User) -> Response:
    return _list(request, user)


def _day(text: str, field: str) -> datetime:
    try:
        return datetime.combine(datetime.strptime(text.strip(), "%Y-%m-%d").date(), time(), UTC)
    except ValueError:
        raise ValueError(f"{field}: enter a date, such as 2026-01-31") from None


@router.post("/reports")
def run_report(
    request: Request,
    user: User,
    csrf: Annotated[str, Form()] = "",
    template: Annotated[str, Form()] = "",
    from_date: Annotated[str, Form()] = "",
    to_date: Annotated[str, Form()] = "",
    account_id: Annotated[str, Form()] = "",
) -> Response:
    """Run a template over [from, to] (whole days, UTC; `to` included)."""
    check_csrf(user, csrf)
    ctx = context(request, user)
    values = {"template": template, "from_date": from_date, "to_date": to_date, "account_id": account_id}
    try:
        start = _day(from_date, "From")
        end = _day(to_date, "To") + timedelta(days=1)
        body = CreateReportRequest(
            type="TEMPLATE",
            report_template_id=template or None,
            from_date=start,
            to_date=end,
            account_id=account_id.strip() or None,
        )
        ctx.session.flush()
        savepoint = ctx.session.begin_nested()  # a refusal keeps nothing
        try:
            report = start_report(ctx, body)
            savepoint.commit()
        except MeterlineError:
            savepoint.rollback()
            raise
    except ValidationError as exc:
        first = exc.errors()[0]
        return _list(request, user, 400, f"{first['loc'][-1]}: {error_text(first)}", **values)
    except (MeterlineError, ValueError) as exc:
        return _list(request, user, 400, getattr(exc, "message", None) or str(exc), **values)
    return feedback.saved(
        request, f"/reports/{report.pk}", "The report is queued: this page follows it until its file is ready."
    )


@router.get("/reports/{report_id}")
def report_page(request: Request, user: User, report_id: str) -> Response:
    ctx = context(request, user)
    report = report_service(ctx).get(report_id)
    running = report.status in (ReportStatus.QUEUED, ReportStatus.RUNNING)
    return render(
        request,
        "report.html",
        user,
        report=report,
        running=running,
        template=TEMPLATES.get(report.template_id or ""),
        query=json.dumps(report.query_input, indent=2) if report.type == "QUERY" else None,
    )


@router.get("/reports/{report_id}/download")
def download_report(request: Request, user: User, report_id: str) -> Response:
    """The report's CSV: a redirect to its file's signed link (five minutes)."""
    ctx = context(request, user)
    service = report_service(ctx)
    report = service.get(report_id)
    if report.file_pk is None:
        raise NotFound(f"Report {report_id} has no file yet")
    url = service.files.download_url(report.file_pk, expiry=300, base_url=_origin(request))
    return RedirectResponse(url, status_code=303)
