"""Reports: a template's or a query's rows, exported as a CSV file (files/) by a REPORT job (jobs/)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from meterline.core.db import Base, UTCDateTime


class Report(Base):
    """One run of a report: `type` TEMPLATE (`template_id` with its `params`) or QUERY (`query_input`); `status`
    QUEUED, RUNNING, COMPLETED or FAILED (`error` says why); `rows` written so far of `total_rows` (the progress);
    `file_pk` the CSV once COMPLETED; `account_id` the one account a report is about, if any (`fetchFor=ACCOUNTS`)."""

    __tablename__ = "reports"
    __table_args__ = (Index("ix_reports_org_id_account_id", "org_id", "account_id"),)

    pk: Mapped[str] = mapped_column(String(40), primary_key=True)  # the report id (`report.`)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(16))
    template_id: Mapped[str | None] = mapped_column(String(64))
    params: Mapped[dict[str, Any]]
    query_input: Mapped[dict[str, Any] | None]
    account_id: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(32))
    rows: Mapped[int] = mapped_column(Integer)
    total_rows: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(1000))
    file_pk: Mapped[str | None] = mapped_column(ForeignKey("files.pk", ondelete="SET NULL"))
    job_pk: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
