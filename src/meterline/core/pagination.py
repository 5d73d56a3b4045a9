"""Cursor pagination (`nextToken` / `pageSize`), the same for every list.

Lists are ordered by a unique, time-ordered key (server ids sort by creation); a token carries the last key of the
page it ends, so a page never repeats or skips a row while others are inserted.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Generic, TypeVar

from meterline.core.errors import BadRequest

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 50

T = TypeVar("T")


@dataclass(frozen=True)
class PageRequest:
    size: int = DEFAULT_PAGE_SIZE
    after: str | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_token: str | None
    size: int


def encode_token(last_key: str) -> str:
    raw = json.dumps({"after": last_key}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str) -> str:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        after = data["after"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise BadRequest("nextToken is not valid: pass the nextToken of a previous page unchanged") from None
    if not isinstance(after, str):
        raise BadRequest("nextToken is not valid: pass the nextToken of a previous page unchanged")
    return after


def page_request(next_token: str | None, page_size: Decimal | int | str | None) -> PageRequest:
    """Validate what the client sent. `pageSize` may arrive as `10.0` (the SDK types it int-or-float)."""
    size = DEFAULT_PAGE_SIZE
    if page_size is not None:
        try:
            exact = Decimal(str(page_size))
        except InvalidOperation:
            raise BadRequest(f"pageSize must be a whole number from 1 to {MAX_PAGE_SIZE}") from None
        if not exact.is_finite() or exact != exact.to_integral_value() or not 1 <= exact <= MAX_PAGE_SIZE:
            raise BadRequest(f"pageSize must be a whole number from 1 to {MAX_PAGE_SIZE}, got {page_size}")
        size = int(exact)
    after = _decode_token(next_token) if next_token else None
    return PageRequest(size=size, after=after)


# -- offset pages with a total (the console's lists) ---------------------------------------------------------------
@dataclass(frozen=True)
class Slice:
    """Rows [offset, offset + size) of a list sorted by `sort` (a key the repository names), with its total: what a
    person pages through in the console ("26–50 of 312"). The API keeps its keyset pages (`PageRequest`)."""

    offset: int
    size: int
    sort: str
    descending: bool = False


@dataclass(frozen=True)
class Counted(Generic[T]):
    """A slice's rows and how many the whole list has; `more`: counting stopped at a cap, there are more."""

    items: list[T]
    total: int
    more: bool = False
