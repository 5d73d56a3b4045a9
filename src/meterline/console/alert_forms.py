"""The console's alert form, generated from a template's parameter schema, and its translation into the API's
fields (pure: no I/O). Each leaf of the schema (`meter.id`, `threshold.levels`...) is one form field named
`p.<path>`: a choice for an enum (an enum of one value is no field: nothing to choose) or when the page offers
choices (meters, features), numbers for a list of numbers ("50, 80, 100"), a number, or text. `body` turns what
was typed back into the nested parameters, and `field_errors` puts the service's refusals
("parameters.threshold.levels: is required") next to their fields, in words."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from meterline.core.numbers import NumberError, parse

PREFIX = "p."
ENTITY_TYPES = {"ORGANIZATION": "The whole organization", "ACCOUNT": "One account", "CUSTOMER": "A customer's accounts"}
BASIS_WORDS = {
    "ABSOLUTE": "Absolute figures",
    "PERCENT_OF_ENTITLEMENT": "% of the feature credits granted",
    "PERCENT_OF_COMMITMENT": "% of the minimum commitment",
    "PERCENT_OF_GRANTED": "% of the credits granted",
}


@dataclass
class Field:
    name: str  # the form field: p.<path>
    path: tuple[str, ...]
    label: str
    kind: str  # "choice", "numbers", "number", "integer", "text"
    required: bool
    hint: str = ""
    choices: list[tuple[str, str]] = field(default_factory=list)
    value: str = ""
    error: str = ""


def _label(path: tuple[str, ...]) -> str:
    words: dict[tuple[str, ...], str] = {
        ("meter", "id"): "Usage meter",
        ("feature", "id"): "Feature",
        ("threshold", "featureId"): "Feature (for % of the feature credits granted)",
        ("threshold", "basis"): "Kind of levels",
        ("threshold", "levels"): "Levels",
        ("overdue", "days"): "Days past the due date",
    }
    return words.get(path, " ".join(p.capitalize() for p in path))


def fields_of(schema: Mapping[str, Any], choices: Mapping[str, Sequence[tuple[str, str]]] | None = None) -> list[Field]:
    """One field per leaf of the parameter schema, in its order. `choices`: options offered for a path
    ("meter.id": the meters), which make it a choice."""
    out: list[Field] = []

    def walk(node: Mapping[str, Any], path: tuple[str, ...], required: bool) -> None:
        kind = node.get("type")
        if kind == "object":
            needed = set(node.get("required", []))
            for name, sub in node.get("properties", {}).items():
                walk(sub, (*path, name), required and name in needed)
            return
        dotted = ".".join(path)
        offered = list((choices or {}).get(dotted, []))
        hint = str(node.get("description", ""))
        if "enum" in node and len(node["enum"]) == 1:
            return  # nothing to choose: the service's default
        if "enum" in node:
            words = [(str(v), BASIS_WORDS.get(str(v), str(v))) for v in node["enum"]]
            out.append(Field(PREFIX + dotted, path, _label(path), "choice", required, hint, words))
        elif offered:
            out.append(Field(PREFIX + dotted, path, _label(path), "choice", required, hint, offered))
        elif kind == "array":
            hint = f"{hint}; numbers separated by commas, such as 50, 80, 100".lstrip("; ")
            out.append(Field(PREFIX + dotted, path, _label(path), "numbers", required, hint))
        elif kind in ("number", "integer"):
            out.append(Field(PREFIX + dotted, path, _label(path), kind, required, hint))
        else:
            out.append(Field(PREFIX + dotted, path, _label(path), "text", required, hint))

    walk(schema, (), True)
    return out


def fill(fields: list[Field], form: Mapping[str, str]) -> list[Field]:
    """The fields with what was typed (a new form: nothing; a choice starts on its first option)."""
    for f in fields:
        f.value = form.get(f.name, "").strip()
        if not f.value and f.kind == "choice" and f.choices and f.required:
            f.value = f.choices[0][0]
    return fields


def _number(text: str, integer: bool) -> Decimal:
    value = parse(text)
    if integer and value != value.to_integral_value():
        raise NumberError("enter a whole number")
    return value


def body(fields: list[Field]) -> tuple[dict[str, Any], dict[str, str]]:
    """The parameters the fields say, and the errors by field name. Empty optional fields are left out; a required
    one left empty is for the service to refuse (its message names the path)."""
    parameters: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f in fields:
        if not f.value:
            continue
        try:
            value: Any
            if f.kind == "numbers":
                pieces = [p for p in f.value.replace(";", ",").replace(" ", ",").split(",") if p]
                value = [_number(p, False) for p in pieces]
            elif f.kind in ("number", "integer"):
                value = _number(f.value, f.kind == "integer")
            else:
                value = f.value
        except NumberError as exc:
            errors[f.name] = str(exc)
            continue
        node = parameters
        for key in f.path[:-1]:
            node = node.setdefault(key, {})
        node[f.path[-1]] = value
    return parameters, errors


def field_errors(message: str, fields: list[Field]) -> dict[str, str]:
    """The service's refusal put next to its field: "parameters.threshold.levels[0]: must be ..." goes to the
    levels; anything else (or an unknown path) goes to the form as a whole, in the service's words."""
    out: dict[str, str] = {}
    for part in message.split("; "):
        where, _, words = part.partition(": ")
        words = words.split(" (template ")[0]
        if where.startswith("parameters."):
            path = tuple(where.removeprefix("parameters.").split("[")[0].split("."))
            match = next((f for f in fields if f.path == path), None)
            if match is not None:
                out.setdefault(match.name, words)
                continue
        if where in ("interval", "validity", "entityDetails", "ownerDetails.user.email"):
            out.setdefault(where.split(".")[0], words)
            continue
        out.setdefault("form", part.split(" (template ")[0])
    return out


def entity_details(kind: str, entity_id: str) -> tuple[dict[str, dict[str, str]], str | None]:
    """The entityDetails of the form's choice, or an error."""
    if kind == "ORGANIZATION":
        return {}, None
    if kind not in ENTITY_TYPES:
        return {}, "choose what the alert watches"
    if not entity_id.strip():
        return {}, f"enter the {kind.lower()}'s id"
    return {kind.lower(): {"id": entity_id.strip()}}, None


def minutes(text: str, optional: bool) -> tuple[int | None, str | None]:
    """A whole number of minutes typed (empty: None when optional)."""
    if not text.strip():
        return None, None if optional else "enter a number of minutes"
    try:
        value = _number(text, True)
    except NumberError as exc:
        return None, str(exc)
    return int(value), None
