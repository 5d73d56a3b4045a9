"""Jobs: work over many entities (a price plan migration moves many accounts), run entry by entry, maybe only
after a person confirms it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from meterline.core.db import Base, UTCDateTime


class Job(Base):
    __tablename__ = "jobs"

    pk: Mapped[str] = mapped_column(String(40), primary_key=True)  # the job id (`job.`)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]]  # what the job does (its metadata on the API)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class JobEntry(Base):
    __tablename__ = "job_entries"
    __table_args__ = (Index("ix_job_entries_job_pk_pk", "job_pk", "pk"),)

    pk: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    job_pk: Mapped[str] = mapped_column(ForeignKey("jobs.pk", ondelete="CASCADE"))
    entity_id: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(32))
    result: Mapped[dict[str, Any] | None]  # e.g. {"reason": ...} for a FAILED entry
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
