from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import func, select

from meterline.core.pagination import Page, PageRequest
from meterline.core.repository import OrgRepository
from meterline.reports.models import Report
from meterline.reports.query import CompiledQuery
from meterline.reports.statuses import ReportStatus


class ReportRepository(OrgRepository):
    def by_id(self, report_id: str) -> Report | None:
        return self.session.scalar(self.scoped(Report).where(Report.pk == report_id))

    def lock(self, report_id: str) -> Report | None:
        rows = self.lock_rows(Report, [report_id])
        return rows[0] if rows else None

    def page(self, request: PageRequest, *, fetch_for: str, account_id: str | None) -> Page[Report]:
        """Newest first. ORGANIZATION: reports of no one account; ACCOUNTS: of an account (`account_id`'s only)."""
        stmt = self.scoped(Report)
        if fetch_for == "ORGANIZATION":
            stmt = stmt.where(Report.account_id.is_(None))
        elif fetch_for == "ACCOUNTS":
            stmt = stmt.where(Report.account_id.is_not(None))
            if account_id is not None:
                stmt = stmt.where(Report.account_id == account_id)
        return self.keyset_page(stmt, Report.pk, request, descending=True)

    def waiting(self) -> int:
        """How many of the organization's reports are QUEUED or RUNNING."""
        stmt = (
            select(func.count())
            .select_from(Report)
            .where(Report.org_id == self.org_id, Report.status.in_((ReportStatus.QUEUED, ReportStatus.RUNNING)))
        )
        return int(self.session.scalar(stmt) or 0)

    def recent(self, limit: int) -> list[Report]:
        return list(self.session.scalars(self.scoped(Report).order_by(Report.pk.desc()).limit(limit)))

    def count_rows(self, query: CompiledQuery) -> int:
        return int((query.on or self.session).scalar(query.count_statement) or 0)

    def stream(self, query: CompiledQuery, chunk: int = 1000) -> Iterator[list[Any]]:
        """The query's rows, fetched `chunk` at a time (a server-side cursor on PostgreSQL)."""
        result = (query.on or self.session).execute(query.statement.execution_options(yield_per=chunk))
        for rows in result.partitions():
            yield from query.rows(list(rows))
