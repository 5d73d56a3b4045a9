"""Event schema enrichments and the event id template: checked when a schema is written, compiled once per schema
version, applied to each event at ingestion before the meters see it (docs/api.md, "Enrichments"). Pure: no I/O.

Enrichments (Togai's `enrichments`) derive new attributes and dimensions, field by field in `order` (ties: in the
order given). Each field is:

- `VALUE`: a constant (an attribute's is a decimal text under the one number rule, a dimension's 1 to 200
  characters);
- `JSON_LOGIC`: `value` is a jsonLogic rule, compiled by the meters' compiler (metering/jsonlogic.py), over
  `attribute.<name>`, `dimension.<name>` (plural spellings too: the event's own and those derived by earlier
  fields) and `dependencies.<name>`;
- `JSON_LOGIC_FROM_DEPENDENCY`: `value` names one of the schema's `dependencies`; that setting's value (nearest
  level) is the jsonLogic rule, read as above: a rule that may differ per account, customer or organization.

`dependencies` are settings named by `key` (`setting.<namespace>.<id>`), looked up for the event's account, then
its customer, then the organization (the nearest level wins), and read as `dependencies.<name>`: a NUMERIC setting
as a number, JSON as its parsed value, STRING and JSON_LOGIC as text. Only those a field may read are looked up
(`Plan.queried`: those its rule names; all of them for a rule reading computed paths or the whole data, and for a
JSON_LOGIC_FROM_DEPENDENCY field); an event records those its fields read, each value cut to 200 characters.

A derived attribute is a number (or numeric text) rounded half-even to 12 decimals and below 10^15 in magnitude;
a derived dimension is text (numbers and booleans in their JSON spelling), 1 to 200 characters, without NUL or a
lone surrogate. Any other result, an error of the rule (one that works too much included: jsonlogic.py bounds each
evaluation), or a dependency that no level sets fails the event (INGESTION_FAILED_ENRICHMENT_FAILED).

The event id template (`eventIdTemplate`) fills the id of an event sent without one: text with `{{placeholder}}`s,
each `attribute.<name>`, `dimension.<name>` (declared or derived), `timestamp`, `accountId` (the resolved account's
id, whether the event named it by id or alias) or `schemaName`; at most 512 characters of literal text. Ids are
org-wide (as Togai's): a template without `{{accountId}}` makes equal events of two accounts one. An event sent with
an id keeps it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal, DecimalException
from functools import lru_cache
from typing import Any

from meterline.core import numbers
from meterline.core.text import has_lone_surrogate
from meterline.metering.jsonlogic import Compiled, EvaluationError, JsonLogicError, compile_logic, js_text, to_units

ATTRIBUTE, DIMENSION = "ATTRIBUTE", "DIMENSION"
VALUE, JSON_LOGIC, FROM_DEPENDENCY = "VALUE", "JSON_LOGIC", "JSON_LOGIC_FROM_DEPENDENCY"
MAX_FIELDS = 50
MAX_DEPENDENCIES = 20
MAX_DIMENSION_TEXT = 200  # as an event's own dimension values (events/wire.py)
MAX_EVENT_ID = 512  # as an event's own id
MAX_DEPENDENCY_TEXT = 200  # a setting's value as an event records it (longer: cut, ending with "...")
DEPENDENCY_NAME = re.compile(r"[A-Za-z0-9_-]{1,50}")
DEPENDENCY_KEY = re.compile(r"setting\.([^\s/\\?#.]{1,64})\.([^\s/\\?#]{1,255})")
_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_ATTRIBUTE_PREFIXES = ("attribute", "attributes")
_DIMENSION_PREFIXES = ("dimension", "dimensions")
_QUANTUM = Decimal(1).scaleb(-numbers.MAX_FRACTION_DIGITS)
_TEMPLATE_FIELDS = ("timestamp", "accountId", "schemaName")


class EnrichmentError(ValueError):
    """The enrichments or the template cannot be accepted (raised when a schema is written; the message names the
    field, e.g. `enrichments.fields[1].value: ...`)."""


class EnrichmentFailed(ValueError):
    """An event's enrichment failed (INGESTION_FAILED_ENRICHMENT_FAILED); the message says which field and why."""


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: str  # ATTRIBUTE or DIMENSION
    kind: str  # VALUE, JSON_LOGIC or JSON_LOGIC_FROM_DEPENDENCY
    constant: Any = None  # VALUE: the Decimal (attribute) or text (dimension)
    rule: Compiled | None = None  # JSON_LOGIC
    dependency: str | None = None  # JSON_LOGIC_FROM_DEPENDENCY: the dependency whose setting is the rule


@dataclass(frozen=True, slots=True)
class Dependency:
    key: str  # setting.<namespace>.<id>
    name: str


@dataclass(frozen=True, slots=True)
class Plan:
    """A schema version's enrichments and id template, compiled."""

    fields: tuple[Field, ...] = ()
    dependencies: tuple[Dependency, ...] = ()
    template: tuple[tuple[str, str], ...] | None = None  # (literal text, placeholder or "") pairs
    queried: tuple[Dependency, ...] = ()  # the dependencies a field may read: the settings ingestion looks up
    error: str | None = None  # stored content that no longer compiles (written before it was checked): fails events

    @property
    def empty(self) -> bool:
        return not self.fields and self.template is None and self.error is None


@dataclass(frozen=True, slots=True)
class Enriched:
    """What enrichment derived for one event: Togai's EventPipelineInfoEnrichments as stored."""

    attributes: dict[str, Decimal]
    dimensions: dict[str, str]
    dependencies: dict[str, tuple[str, str]]  # name -> (key, value as text)

    def view(self) -> dict[str, Any]:
        return {
            "attributes": [
                # (bounded: exponent -12 to 0, so "f" is numbers.plain without its checks)
                {"name": n, "type": ATTRIBUTE, "value": format(v, "f")}
                for n, v in self.attributes.items()
            ],
            "dimensions": [{"name": n, "type": DIMENSION, "value": v} for n, v in self.dimensions.items()],
            "dependencies": [
                {"key": key, "type": "SETTING", "name": name, "value": value}
                for name, (key, value) in self.dependencies.items()
            ],
        }


NOTHING = Enriched({}, {}, {})


# -- checking and compiling (when a schema is written; compiled again, cached, at ingestion) -------------------------
def derived_names(enrichments: Mapping[str, Any] | None) -> tuple[list[str], list[str]]:
    """The attribute and dimension names the enrichments derive (as stored: Togai's JSON spelling)."""
    attributes: list[str] = []
    dimensions: list[str] = []
    for f in (enrichments or {}).get("fields") or []:
        (attributes if f.get("type") == ATTRIBUTE else dimensions).append(str(f.get("name")))
    return attributes, dimensions


def check(
    enrichments: Mapping[str, Any] | None,
    template: str | None,
    *,
    attributes: Iterable[str],
    dimensions: Iterable[str],
) -> Plan:
    """Check enrichments and the id template against the schema's declared names; raise EnrichmentError."""
    return _compile(
        json.dumps(enrichments, sort_keys=True) if enrichments else "", template, tuple(attributes), tuple(dimensions)
    )


def plan_of(
    enrichments: Mapping[str, Any] | None, template: str | None, attributes: Iterable[str], dimensions: Iterable[str]
) -> Plan:
    """A stored schema version's plan (compiled once per distinct content; raises EnrichmentError if the stored
    content no longer compiles, which `check` prevents)."""
    if not enrichments and not template:
        return _EMPTY
    try:
        return _compile(
            json.dumps(enrichments, sort_keys=True) if enrichments else "",
            template,
            tuple(attributes),
            tuple(dimensions),
        )
    except (EnrichmentError, KeyError, TypeError, ValueError) as exc:
        return Plan(error=str(exc) or type(exc).__name__)


_EMPTY = Plan()


@lru_cache(maxsize=1024)
def _compile(text: str, template: str | None, attributes: tuple[str, ...], dimensions: tuple[str, ...]) -> Plan:
    enrichments = json.loads(text) if text else {}
    dependencies = _dependencies(enrichments.get("dependencies") or [])
    known_attributes, known_dimensions = set(attributes), set(dimensions)
    raw_fields = enrichments.get("fields") or []
    if len(raw_fields) > MAX_FIELDS:
        raise EnrichmentError(f"enrichments.fields: at most {MAX_FIELDS} fields, got {len(raw_fields)}")
    # in `order`, ties in the order given
    ordered = sorted(enumerate(raw_fields), key=lambda item: (int(item[1]["order"]), item[0]))
    later_attributes = {f["name"] for f in raw_fields if f["type"] == ATTRIBUTE}
    later_dimensions = {f["name"] for f in raw_fields if f["type"] == DIMENSION}
    seen: set[str] = set()
    fields = []
    read: set[str] = set()
    for index, raw in ordered:
        where = f"enrichments.fields[{index}]"
        name, kind, value = str(raw["name"]), str(raw["enrichmentType"]), str(raw["value"])
        if name in seen:
            raise EnrichmentError(f"{where}.name: {name!r} is derived twice")
        seen.add(name)
        if name in known_attributes or name in known_dimensions:
            raise EnrichmentError(
                f"{where}.name: {name!r} is already an attribute or dimension of the schema: an enrichment derives a "
                "new name (declare only what events send)"
            )
        field_type = str(raw["type"])
        if kind == VALUE:
            fields.append(Field(name, field_type, kind, constant=_constant(field_type, value, where)))
        elif kind == JSON_LOGIC:
            rule = _rule(value, where)
            _check_variables(
                rule,
                where,
                known_attributes,
                known_dimensions,
                {d.name for d in dependencies},
                later_attributes - known_attributes,
                later_dimensions - known_dimensions,
            )
            fields.append(Field(name, field_type, kind, rule=rule))
            read.update(_read_by(rule, dependencies))
        elif kind == FROM_DEPENDENCY:
            if value not in {d.name for d in dependencies}:
                raise EnrichmentError(
                    f"{where}.value: a JSON_LOGIC_FROM_DEPENDENCY field names one of enrichments.dependencies, whose "
                    f"setting holds the rule; {value[:60]!r} is not one of them"
                )
            fields.append(Field(name, field_type, kind, dependency=value))
            read.update(d.name for d in dependencies)  # (its rule, a setting, may read any of them)
        else:  # pragma: no cover - the request model allows only the three
            raise EnrichmentError(f"{where}.enrichmentType: unknown type {kind!r}")
        if field_type == ATTRIBUTE:
            known_attributes.add(name)
        else:
            known_dimensions.add(name)
    plan_template = _template(template, known_attributes, known_dimensions) if template else None
    return Plan(tuple(fields), dependencies, plan_template, queried=tuple(d for d in dependencies if d.name in read))


def _dependencies(raw: list[Mapping[str, Any]]) -> tuple[Dependency, ...]:
    if len(raw) > MAX_DEPENDENCIES:
        raise EnrichmentError(f"enrichments.dependencies: at most {MAX_DEPENDENCIES}, got {len(raw)}")
    out: list[Dependency] = []
    for i, d in enumerate(raw):
        key, name = str(d["key"]), str(d["name"])
        if not DEPENDENCY_KEY.fullmatch(key):
            raise EnrichmentError(
                f"enrichments.dependencies[{i}].key: {key[:60]!r} must be a setting's key, setting.<namespace>.<id>"
            )
        if not DEPENDENCY_NAME.fullmatch(name):
            raise EnrichmentError(
                f"enrichments.dependencies[{i}].name: {name[:60]!r} must be 1 to 50 letters, digits, '_' or '-' "
                "(rules read it as dependencies.<name>)"
            )
        if any(o.name == name for o in out):
            raise EnrichmentError(f"enrichments.dependencies[{i}].name: {name!r} is given twice")
        out.append(Dependency(key, name))
    return tuple(out)


def _constant(field_type: str, value: str, where: str) -> Decimal | str:
    if field_type == ATTRIBUTE:
        if not numbers.DECIMAL_TEXT.fullmatch(value):
            raise EnrichmentError(
                f"{where}.value: an ATTRIBUTE's VALUE is a decimal number that is "
                f"{numbers.RULE.removeprefix('must be ')}; got {value[:40]!r}"
            )
        return Decimal(value)
    if not 1 <= len(value) <= MAX_DIMENSION_TEXT:
        raise EnrichmentError(f"{where}.value: a DIMENSION's VALUE is 1 to {MAX_DIMENSION_TEXT} characters")
    return value


def _rule(value: str, where: str) -> Compiled:
    try:
        return compile_logic(value)
    except JsonLogicError as exc:
        raise EnrichmentError(f"{where}.value: {exc}") from None


def _check_variables(
    rule: Compiled,
    where: str,
    attributes: set[str],
    dimensions: set[str],
    dependencies: set[str],
    later_attributes: set[str],
    later_dimensions: set[str],
) -> None:
    for variable in sorted(rule.variables):
        prefix, dot, name = str(variable).partition(".")
        if dot and (
            (prefix in _ATTRIBUTE_PREFIXES and name in attributes)
            or (prefix in _DIMENSION_PREFIXES and name in dimensions)
            or (prefix == "dependencies" and name.partition(".")[0] in dependencies)  # a JSON one: its paths too
        ):
            continue
        if dot and (
            (prefix in _ATTRIBUTE_PREFIXES and name in later_attributes)
            or (prefix in _DIMENSION_PREFIXES and name in later_dimensions)
        ):
            raise EnrichmentError(
                f"{where}.value: var {variable!r} is derived by a field that comes later (give that field a lower "
                "order)"
            )
        raise EnrichmentError(
            f"{where}.value: var {variable!r} is not an attribute or dimension of the schema, a field derived "
            "before this one or a dependency (write attribute.<name>, dimension.<name> or dependencies.<name>)"
        )


def _template(template: str, attributes: set[str], dimensions: set[str]) -> tuple[tuple[str, str], ...]:
    parts: list[tuple[str, str]] = []
    position = 0
    for match in _PLACEHOLDER.finditer(template):
        literal = template[position : match.start()]
        placeholder = match.group(1)
        prefix, dot, name = placeholder.partition(".")
        if not (
            placeholder in _TEMPLATE_FIELDS
            or (dot and prefix in _ATTRIBUTE_PREFIXES and name in attributes)
            or (dot and prefix in _DIMENSION_PREFIXES and name in dimensions)
        ):
            raise EnrichmentError(
                f"eventIdTemplate: {{{{{placeholder[:60]}}}}} is not attribute.<name> or dimension.<name> of the "
                "schema (declared or derived), timestamp, accountId or schemaName"
            )
        parts.append((literal, placeholder))
        position = match.end()
    tail = template[position:]
    literal_size = len(tail) + sum(len(lit) for lit, _ in parts)
    if literal_size > MAX_EVENT_ID:
        raise EnrichmentError(
            f"eventIdTemplate: its text outside placeholders is {literal_size} characters: every id would be longer "
            f"than an event's id may be ({MAX_EVENT_ID})"
        )
    if "{{" in tail or "}}" in tail or any("{{" in lit or "}}" in lit for lit, _ in parts):
        raise EnrichmentError("eventIdTemplate: every {{ needs its }} (placeholders are {{dimension.<name>}}...)")
    if not parts:
        raise EnrichmentError(
            "eventIdTemplate: needs at least one placeholder such as {{dimension.<name>}} (a fixed id would make "
            "every event after the first a duplicate)"
        )
    parts.append((tail, ""))
    return tuple(parts)


# -- applying (per event) --------------------------------------------------------------------------------------------
def dependency_value(data_type: str, text: str) -> Any:
    """A setting's value as a rule reads it: NUMERIC a number, JSON its parsed value, the others their text."""
    if data_type == "NUMERIC":
        try:
            return Decimal(text)
        except DecimalException:  # pragma: no cover - settings are checked when written
            return text
    if data_type == "JSON":
        try:
            return json.loads(text, parse_float=Decimal, parse_constant=_no_constant)
        except ValueError:  # pragma: no cover - settings are checked when written
            return text
    return text


def _no_constant(name: str) -> Any:
    raise ValueError(name)


def enrich(
    plan: Plan,
    attributes: dict[str, Decimal],
    dimensions: dict[str, str],
    settings: Mapping[str, tuple[str, Any]],
) -> Enriched:
    """Derive the plan's fields, adding them to `attributes` and `dimensions` (the caller's copies). `settings` maps
    a dependency's key to (its value as text, as a rule reads it); a missing key is a dependency no level sets.
    Raises EnrichmentFailed."""
    if plan.error is not None:
        raise EnrichmentFailed(f"the schema's enrichments are invalid: {plan.error}")
    if not plan.fields:
        return NOTHING
    texts: dict[str, str] = {}
    values: dict[str, Any] = {}
    for dependency in plan.queried:
        found = settings.get(dependency.key)
        if found is not None:
            texts[dependency.name] = found[0]
            values[dependency.name] = found[1]
    read: set[str] = set()
    data = {
        "attribute": attributes,
        "attributes": attributes,
        "dimension": dimensions,
        "dimensions": dimensions,
        "dependencies": values,
    }
    derived_attributes: dict[str, Decimal] = {}
    derived_dimensions: dict[str, str] = {}
    for f in plan.fields:
        if f.kind == VALUE:
            result = f.constant
        else:
            if f.kind == JSON_LOGIC:
                rule = f.rule
            else:
                rule = _setting_rule(plan, f, texts)
                read.add(f.dependency or "")
            read.update(_read_by(rule, plan.dependencies))
            # (only when a dependency is unset: the common case costs one comparison per field)
            unset = len(values) < len(plan.queried)
            missing = (
                [d.name for d in plan.dependencies if d.name not in values and _reads(rule, d.name)] if unset else []
            )
            if missing:
                key = next(d.key for d in plan.dependencies if d.name == missing[0])
                raise EnrichmentFailed(
                    f"enrichment {f.name}: dependency {missing[0]} ({key}) is not set for the account, its customer "
                    "or the organization"
                )
            try:
                result = rule(data)  # type: ignore[misc]
            except EvaluationError as exc:
                raise EnrichmentFailed(f"enrichment {f.name}: {exc}") from None
        if f.type == ATTRIBUTE:
            number = _attribute(f.name, result)
            attributes[f.name] = derived_attributes[f.name] = number
        else:
            text = _dimension(f.name, result)
            dimensions[f.name] = derived_dimensions[f.name] = text
    used = {d.name: (d.key, _recorded(texts[d.name])) for d in plan.dependencies if d.name in read and d.name in texts}
    return Enriched(derived_attributes, derived_dimensions, used)


def _recorded(text: str) -> str:
    return text if len(text) <= MAX_DEPENDENCY_TEXT else text[: MAX_DEPENDENCY_TEXT - 3] + "..."


def _reads(rule: Compiled | None, dependency: str) -> bool:
    if rule is None:
        return False
    path = f"dependencies.{dependency}"
    return any(v == path or v.startswith(path + ".") for v in rule.variables)


def _read_by(rule: Compiled | None, dependencies: Iterable[Dependency]) -> Iterable[str]:
    """The names of the dependencies a rule reads (all of them when it reads paths computed at evaluation)."""
    if rule is None:
        return ()
    return [d.name for d in dependencies if rule.opaque or _reads(rule, d.name)]


# A setting's rule, compiled once per distinct text (compile_logic caches short texts only; a setting's may be up to
# its 100,000 characters): at most 64 kept.
_compiled_setting = lru_cache(maxsize=64)(compile_logic)


def _setting_rule(plan: Plan, f: Field, texts: Mapping[str, str]) -> Compiled:
    key = next(d.key for d in plan.dependencies if d.name == f.dependency)
    text = texts.get(f.dependency or "")
    if text is None:
        raise EnrichmentFailed(
            f"enrichment {f.name}: dependency {f.dependency} ({key}), its rule, is not set for the account, its "
            "customer or the organization"
        )
    try:  # (compiled from the setting's own text: a JSON setting's decimals stay exact)
        return _compiled_setting(text)
    except JsonLogicError as exc:
        raise EnrichmentFailed(f"enrichment {f.name}: the rule in {key} is not valid jsonLogic: {exc}") from None


def _attribute(name: str, result: Any) -> Decimal:
    if isinstance(result, bool) or result is None:
        raise EnrichmentFailed(f"enrichment {name}: an ATTRIBUTE needs a number, the rule gave {js_text(result)}")
    try:
        number = to_units(result)
    except EvaluationError:
        raise EnrichmentFailed(
            f"enrichment {name}: an ATTRIBUTE needs a number, the rule gave {js_text(result, 40)!r}"
        ) from None
    if not number.is_zero() and number.adjusted() >= numbers.MAX_DIGITS:
        raise EnrichmentFailed(f"enrichment {name}: {numbers.RULE} (the rule gave {number.adjusted() + 1} digits)")
    number = number.quantize(_QUANTUM, rounding=ROUND_HALF_EVEN)
    try:
        return numbers.bounded(number.normalize())
    except numbers.NumberError as exc:
        raise EnrichmentFailed(f"enrichment {name}: {exc}") from None


def _dimension(name: str, result: Any) -> str:
    if result is None or isinstance(result, (list, tuple, dict)):
        raise EnrichmentFailed(f"enrichment {name}: a DIMENSION needs text, the rule gave {js_text(result, 40)!r}")
    text = result if isinstance(result, str) else js_text(result)
    if not 1 <= len(text) <= MAX_DIMENSION_TEXT:
        raise EnrichmentFailed(
            f"enrichment {name}: a DIMENSION is 1 to {MAX_DIMENSION_TEXT} characters, got {len(text)}"
        )
    if _unstorable(text):
        raise EnrichmentFailed(f"enrichment {name}: a DIMENSION {_UNSTORABLE}")
    return text


_UNSTORABLE = "may not contain NUL (\\u0000) or a lone UTF-16 surrogate (\\ud800 to \\udfff)"


def _unstorable(text: str) -> bool:
    return "\x00" in text or has_lone_surrogate(text)


def event_id(
    plan: Plan,
    *,
    attributes: Mapping[str, Decimal],
    dimensions: Mapping[str, str],
    timestamp: datetime,
    account_id: str,
    schema_name: str,
) -> str:
    """The id the template gives the event (raises EnrichmentFailed when a placeholder has no value or the id is
    longer than an event's id may be)."""
    assert plan.template is not None  # noqa: S101  # nosec B101 - the caller checks it; mypy's narrowing
    out = []
    for literal, placeholder in plan.template:
        out.append(literal)
        if not placeholder:
            continue
        if placeholder == "timestamp":
            out.append(timestamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ").replace(".000000Z", "Z"))
        elif placeholder == "accountId":
            out.append(account_id)
        elif placeholder == "schemaName":
            out.append(schema_name)
        else:
            prefix, _, name = placeholder.partition(".")
            if prefix in _ATTRIBUTE_PREFIXES:
                number = attributes.get(name)
                if number is None:
                    raise EnrichmentFailed(f"eventIdTemplate: the event has no attribute {name}")
                out.append(numbers.plain(number.normalize()))  # 1.50 and 1.5: one id
            else:
                text = dimensions.get(name)
                if text is None:
                    raise EnrichmentFailed(f"eventIdTemplate: the event has no dimension {name}")
                out.append(text)
    result = "".join(out)
    if not result or len(result) > MAX_EVENT_ID:
        raise EnrichmentFailed(f"eventIdTemplate gave an id of {len(result)} characters (1 to {MAX_EVENT_ID})")
    if _unstorable(result):
        raise EnrichmentFailed(f"eventIdTemplate gave an id that {_UNSTORABLE}")
    return result
