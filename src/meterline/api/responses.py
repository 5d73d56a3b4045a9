"""JSON out: exact decimals as JSON numbers in plain notation (D1; `100`, `0.0000001`, never `1E+2` or `1E-7`,
core/numbers.py), date-times as `...Z` UTC, None fields left out."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import simplejson
from pydantic import BaseModel
from starlette.responses import Response

from meterline.core.clock import isoformat_z
from meterline.core.numbers import plain


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return simplejson.RawJSON(plain(value))
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
    # A Decimal is written from its own digits in plain notation (`_default`); simplejson's use_decimal would write
    # str(Decimal), which is `1E+2` for a stored 100 and `1E-7` for 0.0000001; the standard library needs a float.
    return simplejson.dumps(
        content, use_decimal=False, default=_default, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


class ApiJSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        if isinstance(content, BaseModel):
            content = content.model_dump(mode="python", by_alias=True, exclude_none=True)
        return dumps(content)


def respond(model: BaseModel, status_code: int = 200) -> ApiJSONResponse:
    return ApiJSONResponse(model, status_code=status_code)
