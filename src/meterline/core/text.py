"""What text and JSON every entry point accepts: no lone UTF-16 surrogate, no nesting deeper than `MAX_DEPTH`.

JSON may spell a lone surrogate (`"\\ud800"`); Python decodes it into a `str` that UTF-8 cannot encode, so neither
database can store it and no billing field needs it. And a JSON document nested a thousand levels deep makes a
recursive parser or walker fail (RecursionError). Both are refused here, with a 400 that names the field, by an
iterative walk (it cannot itself run out of stack). The API's route class (api/routing.py) applies it to every JSON
request body and to path and query parameters; settings apply it to JSON values (settings/service.py), the
console's forms go through the same services.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from meterline.core.errors import BadRequest

# Deepest nesting of objects and arrays in a request body or a JSON setting value (the body itself is level 1).
MAX_DEPTH = 32


def ascii_digits(text: str) -> bool:
    """Whether `text` is a whole number in ASCII digits: `str.isdigit` also takes "¹" or "٣", which `int` refuses."""
    return text.isascii() and text.isdigit()


def has_lone_surrogate(text: str) -> bool:
    """Does `text` hold a UTF-16 surrogate that is not part of a pair (so UTF-8 cannot encode it)?"""
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def surrogate_message(where: str) -> str:
    return f"{where}: text may not contain a lone UTF-16 surrogate (\\ud800 to \\udfff not in a pair)"


def depth_message(where: str, max_depth: int = MAX_DEPTH) -> str:
    return f"{where}: JSON may be nested at most {max_depth} levels deep"


def _child(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def nul_path(value: Any) -> str | None:
    """The path (as `check_tree` names fields) of the first string or key of a decoded JSON value holding a NUL
    character, or None."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return path or "body"
        elif isinstance(item, dict):
            for key, child in reversed(list(item.items())):
                if "\x00" in key:
                    return f"{path or 'body'} (a key)"
                stack.append((child, _child(path, key)))
        elif isinstance(item, list):
            stack.extend((child, _child(path, index)) for index, child in reversed(list(enumerate(item))))
    return None


def check_tree(value: Any, *, where: str = "", max_depth: int = MAX_DEPTH) -> None:
    """Refuse (400 naming the field, e.g. `address.line1`) a lone surrogate in any string or key of a decoded JSON
    value, and nesting deeper than `max_depth` objects or arrays. `where` is the value's own path ("" for a body)."""
    stack: list[tuple[Any, str, int]] = [(value, where, 1)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            if has_lone_surrogate(item):
                raise BadRequest(surrogate_message(path or "body"))
        elif isinstance(item, dict):
            if depth > max_depth:
                raise BadRequest(depth_message(path or "body", max_depth))
            for key, child in item.items():
                if has_lone_surrogate(key):
                    raise BadRequest(surrogate_message(f"{path or 'body'} (a key)"))
                stack.append((child, _child(path, key), depth + 1))
        elif isinstance(item, list):
            if depth > max_depth:
                raise BadRequest(depth_message(path or "body", max_depth))
            stack.extend((child, _child(path, index), depth + 1) for index, child in enumerate(item))


_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\],:]')


def _too_deep_at(text: str, max_depth: int) -> str | None:
    """The path of the first object or array nested deeper than `max_depth` in JSON text too deep for the parser
    to decode (so no recursion here: a scan of its pieces, strings skipped by the regex)."""
    stack: list[list[Any]] = []  # per open container: [is_object, key or index, expecting a key]
    for match in _TOKENS.finditer(text):
        piece = match.group()
        if piece in "{[":
            if len(stack) >= max_depth:
                path = ""
                for _is_object, key, _expecting in stack:
                    path = _child(path, key if key is not None else 0)
                return path
            stack.append([piece == "{", None if piece == "{" else 0, piece == "{"])
        elif piece in "}]":
            if stack:
                stack.pop()
        elif piece == ",":
            if stack:
                top = stack[-1]
                if top[0]:
                    top[2] = True
                else:
                    top[1] += 1
        elif piece.startswith('"') and stack and stack[-1][0] and stack[-1][2]:
            try:
                stack[-1][1] = json.loads(piece)
            except ValueError:
                stack[-1][1] = piece.strip('"')
            stack[-1][2] = False
    return None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(text: str | bytes, *, where: str = "body", max_depth: int = MAX_DEPTH) -> Any:
    """JSON text as Python values (numbers with a fraction as Decimal), checked by `check_tree`. Raises ValueError
    for text that is not JSON (NaN and Infinity included, which Python's parser would take), BadRequest for nesting
    too deep (even one too deep for the parser itself) or a lone surrogate."""
    try:
        value = json.loads(text, parse_float=Decimal, parse_constant=_no_constant)
    except RecursionError:
        decoded = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
        path = _too_deep_at(decoded, max_depth) or ""
        prefix = "" if where == "body" else where
        full = (f"{prefix}.{path}" if prefix and path and not path.startswith("[") else prefix + path) or "body"
        raise BadRequest(depth_message(full, max_depth)) from None
    check_tree(value, where="" if where == "body" else where, max_depth=max_depth)
    return value
