"""Time: UTC-aware everywhere (billing-rules D2).

Nothing below the request or job boundary reads the wall clock: the boundary calls `utc_now()` once and passes
`now` down.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

UTC = timezone.utc

# Open ends of time ranges are stored as concrete instants so that every range is comparable in SQL and the SDK,
# which requires both ends on an AccountAlias, always gets a date-time.
BEGINNING_OF_TIME = datetime(1970, 1, 1, tzinfo=UTC)
END_OF_TIME = datetime(9999, 12, 31, tzinfo=UTC)
# The calendar days a request may name: the day after LAST_DAY (an inclusive end made exclusive) still exists.
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(9999, 12, 30)


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """A timestamp without an offset is UTC (D2); one with an offset is converted to UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def isoformat_z(value: datetime) -> str:
    """`2024-01-01T00:00:00Z` or `2024-01-01T00:00:00.123456Z`: the form the SDK parses best."""
    text = as_utc(value).replace(tzinfo=None).isoformat()
    return text + "Z"
