"""Reports over every domain's rows, into files: the REPORT job's runner (one entry: the report)."""

from __future__ import annotations

from typing import Any

from meterline.core.errors import MeterlineError
from meterline.core.observability import describe
from meterline.files import storage
from meterline.files.service import FileService
from meterline.reports.service import ReportService
from meterline.tenancy.context import Context

REPORT = "REPORT"


class ReportFailed(MeterlineError):
    status_code = 500
    code = "report_failed"


def report_service(ctx: Context) -> ReportService:
    return ReportService(ctx, FileService(ctx, storage.current()))


def run_report_entry(ctx: Context, _params: dict[str, Any], report_id: str) -> None:
    """A REPORT job's entry: run the report. Whatever goes wrong fails the entry with the reason (the job's savepoint
    rolls its writes back); `usecases.jobs.start_report` then marks the report FAILED with it."""
    try:
        report_service(ctx).run(report_id)
        ctx.session.flush()
    except MeterlineError:
        raise
    except Exception as exc:
        raise ReportFailed(f"Report {report_id} failed: {describe(exc)}") from None
