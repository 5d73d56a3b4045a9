"""core/text.py (lone surrogates, nesting) and the body limits' arithmetic: pure, table-driven."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from meterline.core import text
from meterline.core.errors import BadRequest
from meterline.core.settings import Settings
from meterline.events import wire


@pytest.mark.parametrize(
    ("value", "lone"),
    [
        ("plain", False),
        ("Köln 😀", False),
        ("\ud800", True),
        ("a\udfffb", True),
        ("\ud83d\ude00", True),
        ("\U0001f600", False),
        ("", False),
    ],
)
def test_lone_surrogates(value: str, lone: bool) -> None:
    # ("\ud83d\ude00" as a Python str is two lone surrogates: JSON's pair escape decodes to one character instead)
    assert text.has_lone_surrogate(value) is lone


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ('{"address": {"line1": "\\ud800"}}', "address.line1: text may not contain a lone UTF-16 surrogate"),
        ('{"items": [1, {"name": "x\\udc00"}]}', "items[1].name: text may not contain"),
        ('{"metadata": {"\\ud800": "x"}}', "metadata (a key): text may not contain"),
        ('"\\ud800"', "body: text may not contain"),
        ('{"a": ' + "[" * 31 + "]" * 31 + "}", None),
        ('{"a": ' + "[" * 32 + "]" * 32 + "}", "a" + "[0]" * 31 + ": JSON may be nested at most 32 levels deep"),
        ("[" * 5000 + "]" * 5000, "[0]" * 32 + ": JSON may be nested at most 32 levels deep"),
        (
            '{"x": 1, "b": {"c": [1, 2, ' + '{"d": ' * 2000 + "1" + "}" * 2000 + "]}}",
            "b.c[2]" + ".d" * 29 + ": JSON may be nested at most 32 levels deep",
        ),
        ('{"pair": "\\ud83d\\ude00", "n": 1.50}', None),
    ],
)
def test_parse_json(document: str, message: str | None) -> None:
    if message is None:
        value: Any = text.parse_json(document)
        if isinstance(value, dict) and "n" in value:
            assert value == {"pair": "\U0001f600", "n": Decimal("1.50")}
        return
    with pytest.raises(BadRequest) as raised:
        text.parse_json(document.encode())
    assert raised.value.message.startswith(message)


def test_parse_json_names_a_value_inside_a_field() -> None:
    with pytest.raises(BadRequest) as raised:
        text.parse_json("[" * 1100 + "]" * 1100, where="Setting s: value")
    assert raised.value.message.startswith("Setting s: value[0][0]")
    with pytest.raises(ValueError, match="Expecting property name enclosed in double quotes"):
        text.parse_json("{not json", where="value")


def _largest_event(i: int) -> dict[str, Any]:
    """An event at every limit of events/wire.py, in ASCII."""
    return {
        "schemaName": "s" * 50,
        "id": f"{i:0512d}",
        "timestamp": "2024-03-01T10:00:00.123456+05:30",
        "accountId": "a" * 512,
        "attributes": [
            {"name": f"{n:050d}", "value": "9" * 512 + "." + "9" * 587, "unit": "u" * 50}
            for n in range(wire.MAX_ATTRIBUTES)
        ],
        "dimensions": {f"{n:050d}": "v" * 200 for n in range(wire.MAX_DIMENSIONS)},
    }


def test_the_ingest_batch_limit_takes_1000_of_the_largest_events() -> None:
    batch = json.dumps({"events": [_largest_event(i) for i in range(1000)]}).encode()
    assert len(wire.decode_batch(batch)) == 1000  # every event is within the limits...
    assert len(batch) <= Settings().max_ingest_batch_bytes  # ...and the batch within the body limit
    single = json.dumps({"event": _largest_event(0)}).encode()
    assert len(single) <= Settings().max_body_bytes


def test_one_more_dimension_or_attribute_is_refused() -> None:
    event = _largest_event(0)
    for key, grown in (
        ("dimensions", {**event["dimensions"], "one more": "x"}),
        ("attributes", [*event["attributes"], {"name": "x", "value": "1"}]),
    ):
        with pytest.raises(BadRequest) as raised:
            wire.decode_event(msgspec.json.encode({"event": {**event, key: grown}}))
        assert raised.value.message.startswith(f"event.{key}: ")
