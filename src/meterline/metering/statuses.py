"""The lifecycle of event schemas and usage meters, defined once (StrEnum: stored and sent as their text)."""

from __future__ import annotations

from enum import StrEnum


class MeteringStatus(StrEnum):
    DRAFT = "DRAFT"
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"  # usage meters only
    ARCHIVED = "ARCHIVED"
