"""Domain errors carry an HTTP status; the API maps them to Togai's `{"message": ...}` body in one place.

Services raise these; endpoints never build error responses themselves (billing-rules D14).
"""

from __future__ import annotations


class MeterlineError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers


class BadRequest(MeterlineError):
    """Invalid input or a broken business rule."""


class Unauthorized(MeterlineError):
    status_code = 401
    code = "unauthorized"


class Forbidden(MeterlineError):
    status_code = 403
    code = "forbidden"


class NotFound(MeterlineError):
    status_code = 404
    code = "not_found"


class Conflict(MeterlineError):
    """A duplicate id or a value that must be unique."""

    status_code = 409
    code = "conflict"


class TooManyRequests(MeterlineError):
    status_code = 429
    code = "too_many_requests"


class Unavailable(MeterlineError):
    """A service the request needs (ClickHouse, say) is down or behind: nothing was changed; retry after the
    Retry-After header's seconds."""

    status_code = 503
    code = "unavailable"

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})
