"""JSON out: exact decimals as JSON numbers (D1), date-times as `...Z` UTC, None fields left out."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Any

import simplejson
from pydantic import BaseModel
from starlette.responses import Response

from meterline.core.clock import isoformat_z


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return isoformat_z(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, BaseModel):
        return value.model_dump(mode="python", by_alias=True, exclude_none=True)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def dumps(content: Any) -> bytes:
    # simplejson writes a Decimal from its own digits (use_decimal); the standard library would need a float.
    return simplejson.dumps(
        content, use_decimal=True, default=_default, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


class ApiJSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        if isinstance(content, BaseModel):
            content = content.model_dump(mode="python", by_alias=True, exclude_none=True)
        return dumps(content)


def respond(model: BaseModel, status_code: int = 200) -> ApiJSONResponse:
    return ApiJSONResponse(model, status_code=status_code)
