"""The statuses of a job and of its entries, defined once (StrEnum: stored and sent as their text)."""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    WAITING_FOR_CONFIRMATION = "WAITING_FOR_CONFIRMATION"  # a job only
    PENDING = "PENDING"
    IN_PROGRESS = "IN_PROGRESS"  # a job only
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
