"""Base models of the Togai-compatible API and the shapes many domains share.

JSON keys are camelCase (Togai's); Python names are snake_case. Requests refuse unknown keys, so a misspelt field
gets a 400 that names it instead of being silently dropped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)
from pydantic.alias_generators import to_camel

from meterline.core.clock import BEGINNING_OF_TIME, END_OF_TIME, FIRST_DAY, LAST_DAY, as_utc
from meterline.core.countries import country_code
from meterline.core.numbers import BoundedDays, BoundedNumber


class RequestModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _json_object_only(cls, data: Any) -> Any:
        # FastAPI validates bodies with from_attributes=True, which would build a model out of any object
        # (a number, say); a request model only ever comes from a JSON object.
        if isinstance(data, (dict, cls)):
            return data
        raise ValueError("must be a JSON object")


class ResponseModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


def _utc_in_range(value: datetime) -> datetime:
    """UTC, and inside the range Meterline stores (its open-range sentinels bound it)."""
    try:
        value = as_utc(value)
    except OverflowError:
        raise ValueError("date-time out of range") from None
    if not BEGINNING_OF_TIME <= value <= END_OF_TIME:
        raise ValueError("must be from 1970-01-01T00:00:00Z to 9999-12-31T00:00:00Z")
    return value


_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")


def _iso_text(value: object) -> object:
    """Date-times come as ISO-8601 text; a bare number (which pydantic would read as a unix time) is refused."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or _NUMBER.fullmatch(value):
        raise ValueError("must be an ISO-8601 date-time such as 2024-01-01T00:00:00Z")
    return value


UtcDatetime = Annotated[datetime, BeforeValidator(_iso_text), AfterValidator(_utc_in_range)]


def _iso_date_text(value: Any) -> Any:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise ValueError("must be a date written YYYY-MM-DD")
    return value


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _date_in_range(value: date) -> date:
    """Inside the days Meterline stores: from 1970-01-01 (as every date-time) to 9999-12-30, so that the day after
    (an inclusive end made exclusive) still exists."""
    if not FIRST_DAY <= value <= LAST_DAY:
        raise ValueError(f"must be a day from {FIRST_DAY} to {LAST_DAY}")
    return value


# A calendar date in a request: `YYYY-MM-DD` text only (not a number, not a date-time), within the stored range.
IsoDate = Annotated[date, BeforeValidator(_iso_date_text), AfterValidator(_date_in_range)]

# An exact amount, rate, quantity or usage in a request: a JSON number within the one number rule (core/numbers.py:
# finite, below 10^15 in magnitude, at most 12 decimals), kept as the Decimal of its digits.
NumberIn = BoundedNumber
# An exact amount or quantity in a response: a Decimal, written as a JSON number (api/responses.py) and
# documented as one (pydantic would document a Decimal as a string).
Number = Annotated[Decimal, WithJsonSchema({"type": "number"})]


def error_text(error: Mapping[str, Any]) -> str:
    """A validation error's words as a person reads them: Pydantic's "Value error, " prefix (the mark of a
    validator's own ValueError) left out."""
    return str(error.get("msg", "is invalid")).removeprefix("Value error, ")


def trimmed(min_length: int, max_length: int) -> Any:
    """Text whose length is checked as sent (the published minLength / maxLength), then trimmed of spaces at either
    end; what remains must still be `min_length` long (so a blank name is refused)."""

    def trim(value: str) -> str:
        value = value.strip()
        if len(value) < min_length:
            raise ValueError(
                "must not be blank"
                if not value
                else f"must have at least {min_length} characters besides spaces at either end"
            )
        return value

    return Annotated[str, StringConstraints(min_length=min_length, max_length=max_length), AfterValidator(trim)]


Name = trimmed(3, 255)
Email = Annotated[str, StringConstraints(max_length=320, pattern=r"^\S+@\S+\.\S+$")]


def _not_a_path_step(value: str) -> str:
    # `.` and `..` are path steps: clients and proxies resolve them in /customers/{id}, so the id is never reached.
    if value in (".", ".."):
        raise ValueError("must not be . or .. (an id travels in URL paths)")
    return value


# Caller-chosen ids travel in URL paths: no slash, no whitespace, not `.` or `..`.
ExternalId = Annotated[
    str, StringConstraints(min_length=1, max_length=50, pattern=r"^[^\s/\\?#]+$"), AfterValidator(_not_a_path_step)
]
CurrencyCode = Annotated[str, StringConstraints(min_length=3, max_length=3, pattern=r"^[A-Za-z]{3}$")]
# Whole days, 0 to 3650 (core/numbers.py); `true` or `"30"` is refused rather than read as 1 or 30.
Days = BoundedDays
SettingDataType = Literal["STRING", "NUMERIC", "JSON", "JSON_LOGIC"]


ADDRESS_LINE_MAX = 255  # every text field of an address (docs/api.md)
AddressLine = Annotated[str, StringConstraints(max_length=ADDRESS_LINE_MAX)]
Country = Annotated[str, AfterValidator(country_code)]


class Address(RequestModel):
    """An address as a request sends it: each line at most 255 characters, `country` an ISO 3166-1 alpha-2 code."""

    phone_number: AddressLine | None = None
    line1: AddressLine | None = None
    line2: AddressLine | None = None
    postal_code: AddressLine | None = None
    city: AddressLine | None = None
    state: AddressLine | None = None
    country: Country | None = None


class AddressOut(ResponseModel):
    """An address as stored and answered: checked when it came in (Address); what was stored before a check
    existed, and invoices' frozen copies, are shown as they are, never refused on the way out."""

    phone_number: str | None = None
    line1: str | None = None
    line2: str | None = None
    postal_code: str | None = None
    city: str | None = None
    state: str | None = None
    country: str | None = None


class CreateEntitySetting(RequestModel):
    id: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    value: str
    namespace: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    name: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    data_type: SettingDataType


class BaseSuccessResponse(ResponseModel):
    success: bool = True


class ErrorResponse(ResponseModel):
    message: str


class PaginationOptions(ResponseModel):
    page_size: int | None = None
    sort_order: Literal["ASC", "DESC"] | None = None


def format_address(address: dict[str, str | None] | None) -> str:
    """Togai's `billingAddress`: the address as one line, at most 1000 characters."""
    if not address:
        return ""
    keys = ("line1", "line2", "city", "state", "postalCode", "country")
    return ", ".join(str(address[k]) for k in keys if address.get(k))[:1000]
