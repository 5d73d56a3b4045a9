"""The ingestion request bodies (`/ingest`, `/ingestBatch`), decoded and validated by msgspec.

Ingestion is the one hot path of the API: a 1,000-event batch arrives many times a second. Decoding it through
FastAPI and pydantic cost ~15 ms per batch (most of it per-event Python validators); msgspec decodes and checks the
same shape straight from the bytes in well under a millisecond. So these two bodies are msgspec Structs, and the
OpenAPI document describes them from the same Structs (`openapi_components`), so the contract and the check
cannot drift. Every other body stays a pydantic model.

The rules are those of the pydantic models they replace: unknown fields refused, strings bounded as the SDK bounds
them, no type coercion, and a timestamp is an RFC 3339 date-time (one without an offset is UTC, billing-rules
D2) from 1970-01-01 to 9999-12-31.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from meterline.core.clock import BEGINNING_OF_TIME, END_OF_TIME, UTC
from meterline.core.errors import BadRequest

_SchemaName = Annotated[str, Meta(min_length=1, max_length=50)]
_EventId = Annotated[str, Meta(min_length=1, max_length=512)]
_AccountId = Annotated[str, Meta(min_length=1, max_length=512)]
_Label = Annotated[str, Meta(min_length=1, max_length=200)]
# Togai's limits: an event has at most 10 attributes (the SDK's Event), its dimensions at most 50, named as a
# schema's dimensions are named (1 to 50 characters: DimensionsSchema), each value 1 to 200 characters. Checked by
# msgspec while it decodes, so an oversized event costs nothing past its bytes (docs/api.md, "Limits").
MAX_ATTRIBUTES = 10
MAX_DIMENSIONS = 50
_DimensionName = Annotated[str, Meta(min_length=1, max_length=50)]


class Attribute(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    name: Annotated[str, Meta(min_length=1, max_length=50)]
    # The decimal pattern is checked per event (a bad value fails that event, not the whole batch).
    value: Annotated[str, Meta(max_length=1100)]
    unit: Annotated[str, Meta(min_length=1, max_length=50)] | None = None


class Event(msgspec.Struct, forbid_unknown_fields=True, rename="camel", kw_only=True):
    schema_name: _SchemaName
    id: _EventId | None = None
    timestamp: datetime
    account_id: _AccountId
    attributes: Annotated[list[Attribute], Meta(max_length=MAX_ATTRIBUTES)]
    dimensions: Annotated[dict[_DimensionName, _Label], Meta(max_length=MAX_DIMENSIONS)]


class IngestEventRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    event: Event


class IngestBatchEventRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    events: Annotated[list[Event], Meta(min_length=1, max_length=1000)]


_MISSING = re.compile(r"Object missing required field `(.+)`")
_UNKNOWN = re.compile(r"Object contains unknown field `(.+)`")
_batch_decoder = msgspec.json.Decoder(IngestBatchEventRequest)
_single_decoder = msgspec.json.Decoder(IngestEventRequest)


def _message(error: msgspec.MsgspecError) -> str:
    """msgspec's `Expected ... - at `$.events[3].schemaName`` as Meterline words it: the field first."""
    if isinstance(error, msgspec.DecodeError) and not isinstance(error, msgspec.ValidationError):
        return "The request body is not valid JSON"
    detail, found, where = str(error).rpartition(" - at `")
    if not found:
        return "The request body must be a JSON object" if "got" in str(error) else str(error)
    key = where.startswith("key` in `")  # a dict's key: `Expected ... - at `key` in `$.event.dimensions``
    where = where.removeprefix("key` in `").rstrip("`").removeprefix("$").removeprefix(".")
    if key:
        return f"{where} (a key): {detail}"
    # The same words as the API's other validation errors (api/errors.py).
    for pattern, words in ((_MISSING, "this field is required"), (_UNKNOWN, "unknown field, it cannot be set here")):
        field = pattern.fullmatch(detail)
        if field:
            return f"{where}.{field[1]}: {words}" if where else f"{field[1]}: {words}"
    return f"{where}: {detail}" if where else "The request body must be a JSON object"


def _normalized(events: list[Event], path: str) -> list[Event]:
    for index, event in enumerate(events):
        moment = event.timestamp
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        if not BEGINNING_OF_TIME <= moment <= END_OF_TIME:
            where = path.format(index=index)
            raise BadRequest(f"{where}.timestamp: must be from 1970-01-01T00:00:00Z to 9999-12-31T00:00:00Z")
        event.timestamp = moment
    return events


def decode_batch(body: bytes) -> list[Event]:
    try:
        return _normalized(_batch_decoder.decode(body).events, "events[{index}]")
    except (msgspec.MsgspecError, OverflowError) as exc:
        raise BadRequest(_message(exc) if isinstance(exc, msgspec.MsgspecError) else "timestamp out of range") from None


def decode_event(body: bytes) -> Event:
    try:
        return _normalized([_single_decoder.decode(body).event], "event")[0]
    except (msgspec.MsgspecError, OverflowError) as exc:
        raise BadRequest(_message(exc) if isinstance(exc, msgspec.MsgspecError) else "timestamp out of range") from None


def event_from(data: dict[str, Any]) -> Event:
    """An event from Python values (stored events, corrections, tests), checked like a request's."""
    try:
        return _normalized([msgspec.convert(data, Event)], "event")[0]
    except msgspec.MsgspecError as exc:
        raise BadRequest(_message(exc)) from None


def openapi_components() -> dict[str, Any]:
    """The JSON schemas of both bodies (and what they use), for the OpenAPI document's components."""
    _, components = msgspec.json.schema_components(
        [IngestEventRequest, IngestBatchEventRequest], ref_template="#/components/schemas/{name}"
    )
    components["Event"]["properties"]["timestamp"]["format"] = "date-time"
    return components


def request_body(name: str) -> dict[str, Any]:
    """`openapi_extra` for an operation whose body is one of these Structs."""
    ref = {"$ref": f"#/components/schemas/{name}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": ref}}}}
