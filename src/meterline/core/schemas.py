"""Base models of the Togai-compatible API and the shapes many domains share.

JSON keys are camelCase (Togai's); Python names are snake_case. Requests refuse unknown keys, so a misspelt field
gets a 400 that names it instead of being silently dropped.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints
from pydantic.alias_generators import to_camel

from meterline.core.clock import as_utc


class RequestModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class ResponseModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=255)]
Email = Annotated[str, StringConstraints(max_length=320, pattern=r"^\S+@\S+\.\S+$")]
# Caller-chosen ids travel in URL paths: no slash, no whitespace.
ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=50, pattern=r"^[^\s/\\?#]+$")]
CurrencyCode = Annotated[str, StringConstraints(min_length=3, max_length=3)]
SettingDataType = Literal["STRING", "NUMERIC", "JSON", "JSON_LOGIC"]


class Address(RequestModel):
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
