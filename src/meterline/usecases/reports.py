"""Reports over every domain's rows, into files: a REPORT job (one entry: the report) made PENDING by
`usecases.jobs.start_report`, run in the background by `ReportRunner` (inside `meterline serve` and `meterline
worker`), in short transactions so that its progress shows while it runs:

1. take the job (locked: one runner per job, across processes) and the report: IN_PROGRESS, RUNNING;
2. count the rows (`total_rows`), then read them a chunk at a time in one reading transaction, writing the CSV, and
   record the rows written after each chunk (another short transaction: the console's progress bar);
3. store the CSV through the file store and settle: the report COMPLETED with its file and the job COMPLETED, in one
   transaction; or, whatever went wrong, the report FAILED with the reason, the job and its entry FAILED.

A runner that dies mid-run leaves its job IN_PROGRESS: one not updated for `STALE` is taken over and run again."""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterator
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from meterline.core.background import BackgroundLoop
from meterline.core.clock import utc_now
from meterline.core.db import unit_of_work
from meterline.core.errors import MeterlineError
from meterline.core.observability import describe
from meterline.files import storage
from meterline.files.service import FileService
from meterline.jobs.repository import background_jobs
from meterline.jobs.service import JobService
from meterline.reports.service import ReportService
from meterline.tenancy.context import Context
from meterline.tenancy.models import Organization

REPORT = "REPORT"
CHUNK = 1000  # rows read, and progress recorded, at a time
STALE = timedelta(minutes=5)
log = logging.getLogger("meterline.reports")


def report_service(ctx: Context, store: storage.FileStore | None = None) -> ReportService:
    """`store`: where the CSV goes (default: the process's store, `storage.current()`)."""
    return ReportService(ctx, FileService(ctx, store if store is not None else storage.current()))


def _context(session: Session, org_id: str) -> Context | None:
    org = session.get(Organization, org_id)
    return Context(session, org, utc_now()) if org is not None else None


def run_report_job(
    factory: sessionmaker[Session], job_id: str, org_id: str, store: storage.FileStore, *, chunk: int = CHUNK
) -> Iterator[int]:
    """Run one REPORT job (see the module's steps), yielding the rows written after each chunk's progress is
    committed (a caller may watch the progress between two steps). Nothing when another runner has the job."""
    with unit_of_work(factory) as session:
        ctx = _context(session, org_id)
        if ctx is None:
            return
        job = JobService(ctx, {}, {}).start(job_id, stale_before=ctx.now - STALE)
        if job is None:
            return
        report_id = str(job.params["reportId"])
        report = report_service(ctx, store).begin(report_id)
    if report is None:  # done already (a runner that died after settling it): settle the job
        with unit_of_work(factory) as session:
            ctx = _context(session, org_id)
            if ctx is not None:
                JobService(ctx, {}, {}).settle(job_id, {})
        return
    try:
        data, rows = yield from _write_csv(factory, org_id, job_id, report_id, store, chunk)
        with unit_of_work(factory) as session:
            ctx = _context(session, org_id)
            if ctx is None:
                return
            report_service(ctx, store).finish(report_id, data, rows)
            JobService(ctx, {}, {}).settle(job_id, {})
    except Exception as exc:
        reason = exc.message if isinstance(exc, MeterlineError) else describe(exc)
        status = exc.status_code if isinstance(exc, MeterlineError) else 500
        log.warning("report failed", extra={"fields": {"org_id": org_id, "report_id": report_id, "reason": reason}})
        with unit_of_work(factory) as session:
            ctx = _context(session, org_id)
            if ctx is not None:
                report_service(ctx, store).fail(report_id, f"Report {report_id} failed: {reason}")
                JobService(ctx, {}, {}).settle(job_id, {report_id: (reason, status)})


def _write_csv(
    factory: sessionmaker[Session], org_id: str, job_id: str, report_id: str, store: storage.FileStore, chunk: int
) -> Generator[int, None, tuple[bytes, int]]:
    """Step 2: the CSV's bytes and its row count (the generator's return value), progress committed per chunk."""

    def progress(rows: int, total: int) -> None:
        with unit_of_work(factory) as session:
            ctx = _context(session, org_id)
            if ctx is not None:
                report_service(ctx, store).progress(report_id, rows, total)
                JobService(ctx, {}, {}).touch(job_id)

    with unit_of_work(factory, write=False) as session:
        ctx = _context(session, org_id)
        if ctx is None:
            raise MeterlineError("The organization is gone")
        service = report_service(ctx, store)
        query = service.query_of(service.get(report_id))
        total = service.count(query)
        progress(0, total)
        lines: list[str] = []
        rows = -1  # the header is the first line
        for line in service.csv_rows(query):
            lines.append(line)
            rows += 1
            if rows and rows % chunk == 0:
                progress(rows, total)
                yield rows
    return "".join(lines).encode(), rows


class ReportRunner(BackgroundLoop):
    """Runs the REPORT jobs waiting, one a round (the next round at once while more wait)."""

    thread_name = "meterline-reports"
    what = "report run"
    log = log

    def __init__(self, factory: sessionmaker[Session], interval: float) -> None:
        super().__init__(interval)
        self.factory = factory

    def round(self) -> bool:
        with unit_of_work(self.factory, write=False) as session:
            due = background_jobs(session, REPORT, utc_now() - STALE, 1)
        if not due:
            return False
        for _ in run_report_job(self.factory, *due[0], storage.current()):
            pass
        return True
