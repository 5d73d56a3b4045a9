"""The statuses of a report (Togai's ReportStatus values Meterline sets)."""

from __future__ import annotations

from enum import StrEnum


class ReportStatus(StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
