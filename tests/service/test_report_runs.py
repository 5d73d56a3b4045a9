"""A REPORT job run by the background runner (usecases/reports.py) on both engines, step by step: its progress is
committed after each chunk, so another transaction sees it RUNNING with the rows written of the total; then
COMPLETED with its file and the job settled; a report that cannot run FAILED with the reason; one runner per job."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from meterline.core.clock import utc_now
from meterline.core.db import create_db_engine, make_session_factory, unit_of_work
from meterline.core.errors import TooManyRequests
from meterline.customers import schemas as customer_schemas
from meterline.customers.service import CustomerService
from meterline.files import storage
from meterline.files.models import StoredFile
from meterline.jobs.models import Job, JobEntry
from meterline.reports.models import Report
from meterline.reports.schemas import CreateReportRequest
from meterline.tenancy.context import Context
from meterline.tenancy.models import Organization
from meterline.usecases.jobs import start_report
from meterline.usecases.reports import run_report_job
from tests.conftest import fresh_database, new_org


@pytest.fixture(scope="module")
def session_factory(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[sessionmaker[Session]]:
    """A database of its own: a test server's report runner (any still running on the shared database) would take
    these reports before the test runs them step by step."""
    with fresh_database(db_url, tmp_path_factory) as url:
        engine = create_db_engine(url)
        yield make_session_factory(engine)
        engine.dispose()


ACCOUNTS_QUERY = {
    "type": "QUERY",
    "queryInput": {
        "baseDataSource": "accounts",
        "selects": [{"columnName": "id"}],
        "sort": [{"column": {"columnName": "id"}, "sortOrder": "ASC"}],
        "limit": 100,
    },
}


def _queued(factory: sessionmaker[Session], org: Organization, customers: int, body: dict[str, Any]) -> tuple[str, str]:
    with unit_of_work(factory) as s:
        ctx = Context(s, org, utc_now())
        for n in range(customers):
            request = customer_schemas.CreateCustomerRequest.model_validate(
                {"id": f"c{n}", "name": f"C {n}", "primaryEmail": "a@x.test", "address": {}}
            )
            CustomerService(ctx).create(request)
        report = start_report(ctx, CreateReportRequest.model_validate(body))
        assert report.status == "QUEUED" and report.job_pk is not None
        return report.pk, report.job_pk


def _seen(factory: sessionmaker[Session], report_id: str, job_id: str) -> tuple[str, int, int | None, str]:
    """What another transaction sees: the report's status, rows written, total, and its job's status."""
    with factory() as s:
        report, job = s.get(Report, report_id), s.get(Job, job_id)
        assert report is not None and job is not None
        return report.status, report.rows, report.total_rows, job.status


def test_progress_is_seen_while_a_report_runs_then_it_completes(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    org = new_org(session_factory)
    report_id, job_id = _queued(session_factory, org, 5, ACCOUNTS_QUERY)
    assert _seen(session_factory, report_id, job_id) == ("QUEUED", 0, None, "PENDING")
    store = storage.LocalStore(tmp_path, "k")
    steps = run_report_job(session_factory, job_id, org.id, store, chunk=2)
    assert next(steps) == 2
    assert _seen(session_factory, report_id, job_id) == ("RUNNING", 2, 5, "IN_PROGRESS")
    # a second runner meanwhile takes nothing: the job is IN_PROGRESS and fresh
    assert list(run_report_job(session_factory, job_id, org.id, store, chunk=2)) == []
    assert next(steps) == 4
    assert _seen(session_factory, report_id, job_id) == ("RUNNING", 4, 5, "IN_PROGRESS")
    assert list(steps) == []  # the fifth row, then the file
    assert _seen(session_factory, report_id, job_id) == ("COMPLETED", 5, 5, "COMPLETED")
    with session_factory() as s:
        report = s.get(Report, report_id)
        assert report is not None and report.file_pk is not None
        stored = s.get(StoredFile, report.file_pk)
        assert stored is not None and stored.size == len(store.read(stored.key))
        assert store.read(stored.key) == b"id\r\nc0\r\nc1\r\nc2\r\nc3\r\nc4\r\n"
        [entry] = s.query(JobEntry).filter(JobEntry.job_pk == job_id).all()
        assert entry.status == "COMPLETED" and entry.entity_id == report_id
    assert list(run_report_job(session_factory, job_id, org.id, store)) == []  # done: nothing runs it again


def test_a_report_that_cannot_be_stored_fails_with_the_reason(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    org = new_org(session_factory)
    report_id, job_id = _queued(session_factory, org, 1, ACCOUNTS_QUERY)
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the store's directory should be")
    assert list(run_report_job(session_factory, job_id, org.id, storage.LocalStore(blocked, "k"))) == []
    status, _, _, job_status = _seen(session_factory, report_id, job_id)
    assert (status, job_status) == ("FAILED", "FAILED")
    with session_factory() as s:
        report = s.get(Report, report_id)
        assert report is not None and report.file_pk is None
        assert report.error is not None and report.error.startswith(f"Report {report_id} failed: ")
        [entry] = s.query(JobEntry).filter(JobEntry.job_pk == job_id).all()
        assert entry.status == "FAILED" and entry.result is not None and entry.result["httpStatus"] == "500"


def test_an_organization_queues_at_most_twenty_reports_at_once(session_factory: sessionmaker[Session]) -> None:
    """The 21st report waiting is a 429 that says why; another organization still queues; one finished frees a place."""
    org, other = new_org(session_factory), new_org(session_factory)
    ids = [_queued(session_factory, org, 0, ACCOUNTS_QUERY) for _ in range(20)]
    with pytest.raises(TooManyRequests, match=r"20 reports of this organization are queued or running \(at most 20\)"):
        _queued(session_factory, org, 0, ACCOUNTS_QUERY)
    _queued(session_factory, other, 0, ACCOUNTS_QUERY)
    with unit_of_work(session_factory) as s:
        report = s.get(Report, ids[0][0])
        assert report is not None
        report.status = "COMPLETED"
    _queued(session_factory, org, 0, ACCOUNTS_QUERY)
