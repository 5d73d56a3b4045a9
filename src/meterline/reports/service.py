"""Reports: run a template or a query into a CSV file (through the file store), list them.

A report is made QUEUED with the query it will run (a template's is built from its parameters), checked at once: a
bad template, parameter or query is a 400 naming the field, and no report is made. The REPORT job (usecases/reports.py)
runs it in the background: RUNNING (with its progress: rows written of the total), then COMPLETED with its CSV file,
or FAILED with the reason."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from meterline.accounts.repository import AccountRepository
from meterline.core.clock import isoformat_z
from meterline.core.errors import BadRequest, NotFound, TooManyRequests
from meterline.core.ids import new_id
from meterline.core.numbers import plain
from meterline.core.pagination import Page, PageRequest
from meterline.events.usage_store import clickhouse_of
from meterline.files.service import FileService
from meterline.reports.models import Report
from meterline.reports.query import MAX_QUERY_LIMIT, CompiledQuery, compile_query
from meterline.reports.repository import ReportRepository
from meterline.reports.schemas import MAX_FILTERS, CreateReportRequest, QueryColumn, QueryFilter, QueryInput
from meterline.reports.sources import TEXT
from meterline.reports.staging import staged_events, staged_usage
from meterline.reports.statuses import ReportStatus
from meterline.reports.templates import MAX_TEMPLATE_ROWS, TEMPLATES
from meterline.tenancy.context import Context

FETCH_FOR = ("ALL", "ORGANIZATION", "ACCOUNTS")
MAX_WAITING = 20
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any, kind: str) -> str:
    """A value as the CSV writes it: exact numbers in plain notation, times as ...Z, dates as ISO; text that a
    spreadsheet would read as a formula gets a leading quote (CSV injection)."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return plain(value)
    if isinstance(value, datetime):
        return isoformat_z(value)
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    if kind == TEXT and text.startswith(_FORMULA_START):
        return "'" + text
    return text


class ReportService:
    def __init__(self, ctx: Context, files: FileService) -> None:
        """`files` (required): where the CSV goes."""
        self.ctx = ctx
        self.files = files
        self.repo = ReportRepository(ctx.session, ctx.org_id)

    @property
    def _sqlite(self) -> bool:
        return not self.repo.postgres

    def get(self, report_id: str) -> Report:
        report = self.repo.by_id(report_id)
        if report is None:
            raise NotFound(f"Report {report_id} not found")
        return report

    def page(self, request: PageRequest, *, fetch_for: str | None, account_id: str | None) -> Page[Report]:
        fetch = (fetch_for or "ALL").upper()
        if fetch not in FETCH_FOR:
            raise BadRequest(f"fetchFor: must be one of {', '.join(FETCH_FOR)}; got {fetch_for}")
        return self.repo.page(request, fetch_for=fetch, account_id=account_id)

    def recent(self, limit: int = 50) -> list[Report]:
        return self.repo.recent(limit)

    def query_of(self, report: Report) -> CompiledQuery:
        """The report's query, ready to run: on the organization's database, or, for the `usage` and `events` sources
        where usage and events are kept in ClickHouse, on a staging database holding what it reads
        (reports/staging.py)."""
        if report.query_input is None:  # pragma: no cover - every report is made with one
            raise BadRequest(f"Report {report.pk} has no query")
        limit = MAX_TEMPLATE_ROWS if report.type == "TEMPLATE" else MAX_QUERY_LIMIT
        query = QueryInput.model_validate(report.query_input)
        staged = {"usage": staged_usage, "events": staged_events}.get(query.base_data_source)
        clickhouse = clickhouse_of(self.ctx.session) if staged is not None else None
        if staged is None or clickhouse is None:
            return compile_query(query, self.ctx.org_id, sqlite=self._sqlite, max_limit=limit)
        compiled = compile_query(query, self.ctx.org_id, sqlite=True, max_limit=limit)
        return replace(compiled, on=staged(self.ctx.session, clickhouse, self.ctx.org_id, query))

    def create(self, request: CreateReportRequest) -> Report:
        """A QUEUED report, its query checked now (400 naming the field). With `account_id` (an account of the
        organization, else 404) it keeps that account's rows only, whether a template or a query. At most
        MAX_WAITING reports of an organization wait or run at once (429 past it): one organization cannot queue
        unbounded work for the runners every organization shares."""
        self.repo.lock_key("reports-waiting")  # the count and the new report's insert: one at a time (PostgreSQL)
        waiting = self.repo.waiting()
        if waiting >= MAX_WAITING:
            raise TooManyRequests(
                f"{waiting} reports of this organization are queued or running (at most {MAX_WAITING}): "
                "try again when one has finished",
                headers={"Retry-After": "10"},
            )
        if (
            request.account_id is not None
            and AccountRepository(self.ctx.session, self.ctx.org_id).by_id(request.account_id) is None
        ):
            raise NotFound(f"Account {request.account_id} not found")
        if request.type == "TEMPLATE":
            if request.query_input is not None:
                raise BadRequest("queryInput: a TEMPLATE report takes reportTemplateId, fromDate and toDate instead")
            if request.report_template_id is None:
                raise BadRequest(f"reportTemplateId: required for a TEMPLATE report; one of {', '.join(TEMPLATES)}")
            template = TEMPLATES.get(request.report_template_id)
            if template is None:
                raise BadRequest(
                    f"reportTemplateId: no template {request.report_template_id}; the templates: {', '.join(TEMPLATES)}"
                )
            if request.from_date is None or request.to_date is None:
                raise BadRequest(f"{'fromDate' if request.from_date is None else 'toDate'}: required for a template")
            if request.from_date >= request.to_date:
                raise BadRequest("toDate: must be after fromDate")
            query = template.query(request.from_date, request.to_date, request.account_id)
            last_day = (request.to_date - timedelta(microseconds=1)).date()  # the period's end is excluded
            name = request.name or f"{template.name} {request.from_date.date()} to {last_day}"
            params: dict[str, Any] = {
                "fromDate": isoformat_z(request.from_date),
                "toDate": isoformat_z(request.to_date),
            }
            compile_query(
                query,
                self.ctx.org_id,
                sqlite=self._sqlite,
                max_limit=MAX_TEMPLATE_ROWS,
            )
        else:
            if request.query_input is None:
                raise BadRequest("queryInput: required for a QUERY report")
            for field in ("report_template_id", "from_date", "to_date"):
                if getattr(request, field) is not None:
                    alias = {"report_template_id": "reportTemplateId", "from_date": "fromDate", "to_date": "toDate"}
                    raise BadRequest(f"{alias[field]}: a QUERY report takes queryInput only")
            query = request.query_input
            if len(query.query_filters or []) > MAX_FILTERS:
                raise BadRequest(
                    f"queryInput.queryFilters: at most {MAX_FILTERS} filters; got {len(query.query_filters or [])}"
                )
            if request.account_id is not None:
                column = "id" if query.base_data_source == "accounts" else "accountId"
                account_filter = QueryFilter(
                    column=QueryColumn(column_name=column), operator="EQ", args=[request.account_id]
                )
                query = query.model_copy(update={"query_filters": [*(query.query_filters or []), account_filter]})
            compile_query(query, self.ctx.org_id, sqlite=self._sqlite)
            name = request.name or f"Query over {query.base_data_source}"
            params = {}
        if request.account_id is not None:
            params["accountId"] = request.account_id
        now = self.ctx.now
        report = Report(
            pk=new_id("report"),
            org_id=self.ctx.org_id,
            name=name,
            type=request.type,
            template_id=request.report_template_id,
            params=params,
            query_input=query.model_dump(mode="json", by_alias=True, exclude_none=True),
            account_id=request.account_id,
            status=ReportStatus.QUEUED,
            rows=0,
            total_rows=None,
            error=None,
            file_pk=None,
            job_pk=None,
            created_at=now,
            updated_at=now,
        )
        self.repo.add(report)
        return report

    def begin(self, report_id: str) -> Report | None:
        """A QUEUED (or abandoned RUNNING) report, locked, RUNNING from now on; None when it is done already."""
        report = self.repo.lock(report_id)
        if report is None or report.status not in (ReportStatus.QUEUED, ReportStatus.RUNNING):
            return None
        report.status, report.rows, report.updated_at = ReportStatus.RUNNING, 0, self.ctx.now
        self.ctx.session.flush()
        return report

    def count(self, query: CompiledQuery) -> int:
        return min(self.repo.count_rows(query), query.limit)

    def csv_rows(self, query: CompiledQuery) -> Iterator[str]:
        """The CSV, a line at a time: the header, then each row (read from the database a chunk at a time)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")

        def line(values: list[str]) -> str:
            out.seek(0)
            out.truncate()
            writer.writerow(values)
            return out.getvalue()

        yield line([column.header for column in query.columns])
        for row in self.repo.stream(query):
            yield line([cell(value, column.kind) for value, column in zip(row, query.columns, strict=True)])

    def progress(self, report_id: str, rows: int, total: int | None) -> None:
        report = self.repo.lock(report_id)
        if report is not None:
            report.rows, report.total_rows, report.updated_at = rows, total, self.ctx.now
            self.ctx.session.flush()

    def finish(self, report_id: str, data: bytes, rows: int) -> Report:
        """The CSV stored as the report's file; COMPLETED."""
        report = self.repo.lock(report_id)
        if report is None:
            raise NotFound(f"Report {report_id} not found")
        stored = self.files.save(f"{_file_name(report)}.csv", "text/csv; charset=utf-8", data)
        report.file_pk, report.rows, report.total_rows = stored.pk, rows, rows
        report.status, report.updated_at = ReportStatus.COMPLETED, self.ctx.now
        self.ctx.session.flush()
        return report

    def fail(self, report_id: str, reason: str) -> None:
        report = self.repo.lock(report_id)
        if report is not None:
            report.status, report.error, report.updated_at = ReportStatus.FAILED, reason[:1000], self.ctx.now
            self.ctx.session.flush()


def _file_name(report: Report) -> str:
    base = report.template_id or "query"
    return f"{base}-{report.pk.split('.', 1)[-1]}"
