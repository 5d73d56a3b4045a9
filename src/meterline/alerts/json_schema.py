"""The part of JSON Schema that the shipped templates' schemas use, checked by hand (pure, no I/O).

Keywords: type (object, array, string, number, integer, boolean), properties, required, additionalProperties
(false), maxProperties, enum, minItems, maxItems, minLength, maxLength, minimum, exclusiveMinimum, maximum,
description and title (ignored). Numbers are Decimals (the API reads JSON numbers as Decimal); a bool is never a
number, nor are NaN and the infinities (which Python's JSON parser reads). tests/unit/test_alert_templates.py checks
every template's examples against a full JSON Schema implementation too, so the schemas mean what they say to any
client that reads them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

KNOWN = {
    "type",
    "properties",
    "required",
    "additionalProperties",
    "maxProperties",
    "enum",
    "items",
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "minimum",
    "exclusiveMinimum",
    "maximum",
    "description",
    "title",
    "default",
    "examples",
}


def _is_number(value: Any) -> bool:
    """A JSON number: never a bool, and finite (Python's JSON parser reads `NaN` and `Infinity`, which no JSON
    Schema number is, and which Decimal comparisons refuse)."""
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, float)):
        return False
    return isinstance(value, int) or Decimal(str(value)).is_finite()


def _type_ok(kind: str, value: Any) -> bool:
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "number":
        return _is_number(value)
    if kind == "integer":
        return _is_number(value) and Decimal(str(value)) == Decimal(str(value)).to_integral_value()
    raise ValueError(f"unknown type {kind!r}")


_WORDS = {
    "object": "an object",
    "array": "a list",
    "string": "a text",
    "number": "a number",
    "integer": "a whole number",
}


def errors(schema: dict[str, Any], value: Any, where: str) -> list[str]:
    """What is wrong with `value` under `schema`, each message starting with where it is (`parameters.meter.id`)."""
    unknown = set(schema) - KNOWN
    if unknown:
        raise ValueError(f"schema keyword(s) not supported: {sorted(unknown)}")
    kind = schema.get("type")
    if kind is not None and not _type_ok(kind, value):
        return [f"{where}: must be {_WORDS.get(kind, kind)}"]
    out: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{where}: must be one of {', '.join(map(str, schema['enum']))}")
    if isinstance(value, dict):
        properties: dict[str, Any] = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                out.append(f"{where}.{name}: is required")
        if schema.get("additionalProperties") is False:
            out.extend(f"{where}.{name}: is not expected here" for name in value if name not in properties)
        if "maxProperties" in schema and len(value) > schema["maxProperties"]:
            out.append(f"{where}: must have at most {schema['maxProperties']} key(s)")
        for name, sub in value.items():
            if name in properties:
                out.extend(errors(properties[name], sub, f"{where}.{name}"))
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            out.append(f"{where}: must have at least {schema['minItems']} item(s)")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            out.append(f"{where}: must have at most {schema['maxItems']} item(s)")
        if "items" in schema:
            for i, item in enumerate(value):
                out.extend(errors(schema["items"], item, f"{where}[{i}]"))
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            out.append(f"{where}: must not be empty" if schema["minLength"] == 1 else f"{where}: is too short")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            out.append(f"{where}: must be at most {schema['maxLength']} characters")
    if _is_number(value):
        number = Decimal(str(value))
        if "minimum" in schema and number < Decimal(str(schema["minimum"])):
            out.append(f"{where}: must be at least {schema['minimum']}")
        if "exclusiveMinimum" in schema and number <= Decimal(str(schema["exclusiveMinimum"])):
            out.append(f"{where}: must be more than {schema['exclusiveMinimum']}")
        if "maximum" in schema and number > Decimal(str(schema["maximum"])):
            out.append(f"{where}: must be at most {schema['maximum']}")
    return out
