"""What event schemas and usage meters share: their statuses and the rules of moving between them.

Repeating a transition already made (activating an ACTIVE object, deleting a deleted one) changes nothing and
succeeds, so a retried call is safe.
"""

from __future__ import annotations

from typing import Any

from meterline.core.errors import BadRequest
from meterline.metering.statuses import MeteringStatus

# Togai's predefined event types (events/predefined.py evaluates their events): every organization has them, so no
# event schema may take their names.
PREDEFINED_SCHEMAS = ("togai-usage", "togai-named-license")

DRAFT, ACTIVE, INACTIVE, ARCHIVED = (
    MeteringStatus.DRAFT,
    MeteringStatus.ACTIVE,
    MeteringStatus.INACTIVE,
    MeteringStatus.ARCHIVED,
)
STATUSES = tuple(MeteringStatus)


def status_filter(value: str | None, what: str) -> set[str] | None:
    """`status` query values: one or more (comma-separated) of STATUSES; none means "all but ARCHIVED"."""
    if value is None or not value.strip():
        return None
    statuses = {s.strip() for s in value.split(",") if s.strip()}
    unknown = sorted(statuses - set(STATUSES))
    if unknown:
        raise BadRequest(f"status: {unknown[0]!r} is not a {what} status; use {', '.join(STATUSES)}")
    return statuses


def refuse_archived(status: str, what: str) -> None:
    if status == ARCHIVED:
        raise BadRequest(f"{what} is deleted (ARCHIVED) and cannot be changed")


def deactivation_due(status: str, what: str, noun: str) -> bool:
    """Whether deactivating an object in `status` moves it ACTIVE -> INACTIVE (False: it is INACTIVE already).

    A deleted (ARCHIVED) or DRAFT object cannot be deactivated.
    """
    refuse_archived(status, what)
    if status == DRAFT:
        raise BadRequest(f"{what} is DRAFT: only an ACTIVE {noun} can be deactivated")
    return status == ACTIVE


def dump(model: Any) -> Any:
    """A request model as stored: its JSON spelling, without the fields left out."""
    if model is None:
        return None
    return model.model_dump(by_alias=True, exclude_none=True)
