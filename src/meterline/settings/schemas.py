from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

from meterline.core.schemas import PaginationOptions, RequestModel, ResponseModel, SettingDataType

Text255 = Annotated[str, StringConstraints(min_length=1, max_length=255)]


class SettingIn(RequestModel):
    """The body of `POST /settings`: a whole Setting."""

    id: Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^[^\s/\\?#]+$")]
    value: str
    entity_type: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    entity_id: Text255
    namespace: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[^\s/\\?#.]+$")]
    name: Text255
    data_type: SettingDataType


class UpdateSettingRequest(RequestModel):
    name: Text255 | None = None
    value: str | None = None
    data_type: SettingDataType | None = None


class Setting(ResponseModel):
    id: str
    value: str
    entity_type: str
    entity_id: str
    namespace: str
    name: str
    data_type: SettingDataType


class SettingPaginatedResponse(ResponseModel):
    data: list[Setting]
    next_token: str | None = None
    context: PaginationOptions | None = None
