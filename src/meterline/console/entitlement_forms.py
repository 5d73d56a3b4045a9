"""The forms of the Features section and of the account's Entitlements tab (console/feature_pages.py,
console/entitlement_pages.py): pure functions that turn what a form says into the services' requests, the services'
refusals (their exact messages, pydantic's errors) into words next to the field they are about, and what a void or
an update of a feature credit entry will do into a sentence for its confirmation page. No routes and no database.

- A feature's form has a name, a billable name, and rows, each an event schema's attribute picked from one list
  (its value `<schema>/<attribute>`: schema and attribute names never hold a slash). Empty rows are left out; a
  feature with none is a configuration feature. The rows are sent as a whole (`schemaAssociations`), on an edit too.
- Days in the grant and update forms are days of the organization's time zone: "From" is the first day (the entry
  starts at its midnight), "Until" the last day included (the entry ends at the next midnight), as the console's
  other forms (credits, schedules) have them. Entries are shown to the minute, in UTC.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from meterline.console.account_forms import Errors, Refused, _day, _message, _pydantic_words
from meterline.console.words import quantity, when
from meterline.core import numbers
from meterline.core.clock import BEGINNING_OF_TIME, END_OF_TIME, FIRST_DAY, LAST_DAY
from meterline.entitlements.feature_service import FeatureView
from meterline.entitlements.schemas import MAX_ASSOCIATIONS
from meterline.entitlements.service import Grant

SEP = "/"  # between a schema's name and its attribute's in a row's value (names are letters, digits, _ - and spaces)
MAX_ROWS = MAX_ASSOCIATIONS  # the SDK's limit on a feature's schemaAssociations


# -- a feature's form ------------------------------------------------------------------------------------------
@dataclass
class FeatureForm:
    """What the feature form says: `rows` are the picked `<schema>/<attribute>` values ("" for an empty row);
    `had_billable_name`: the feature being edited has one (the API keeps it once set)."""

    name: str = ""
    billable_name: str = ""
    rows: list[str] = field(default_factory=lambda: [""])
    had_billable_name: bool = False


def pair_value(schema_name: str, attribute_name: str) -> str:
    return f"{schema_name}{SEP}{attribute_name}"


def split_pair(value: str) -> tuple[str, str] | None:
    """(schema, attribute) of a row's value; None when it is not one."""
    schema_name, sep, attribute_name = value.strip().partition(SEP)
    return (schema_name, attribute_name) if sep and schema_name and attribute_name else None


def feature_form_of(name: str, billable_name: str, rows: list[str], *, had_billable_name: bool = False) -> FeatureForm:
    return FeatureForm(name, billable_name, list(rows) or [""], had_billable_name)


def feature_form_from(view: FeatureView) -> FeatureForm:
    """The edit form of a saved feature: its associations in order, and one empty row more."""
    row = view.feature
    rows = [pair_value(a.schema_name, a.attribute_name) for a in view.associations]
    return FeatureForm(row.name, row.billable_name or "", [*rows, ""][:MAX_ROWS], row.billable_name is not None)


def grow_feature_form(form: FeatureForm, action: str) -> bool:
    """ "+ Add a schema": one more empty row (at most MAX_ROWS). True when the form is to be shown again."""
    if action != "add_row":
        return False
    if len(form.rows) < MAX_ROWS:
        form.rows.append("")
    return True


def feature_body(form: FeatureForm, *, editing: bool) -> tuple[dict[str, Any], list[int]]:
    """The API's body (`CreateFeatureRequest` / `UpdateFeatureRequest`) for what the form says, and which form row
    each association came from. Refused: a row that is not a schema's attribute, more than MAX_ROWS, an emptied
    billable name (the API cannot clear one)."""
    errors: Errors = {}
    associations: list[dict[str, str]] = []
    rows: list[int] = []
    for i, value in enumerate(form.rows):
        if not value.strip():
            continue
        pair = split_pair(value)
        if pair is None:
            errors[f"row.{i}"] = f"Row {i + 1}: pick an event schema's attribute from the list"
            continue
        associations.append({"schemaName": pair[0], "attributeName": pair[1]})
        rows.append(i)
    if len(associations) > MAX_ROWS:
        errors["form"] = f"A feature reads at most {MAX_ROWS} event schemas: leave {len(associations) - MAX_ROWS} out"
    body: dict[str, Any] = {"name": form.name, "schemaAssociations": associations}
    if form.billable_name.strip():
        body["billableName"] = form.billable_name
    elif editing and form.had_billable_name:
        errors["billable_name"] = (
            "Billable name: a feature keeps its billable name once it has one: type the name invoices should show "
            "(it may be the feature's name)"
        )
    if errors:
        raise Refused(errors)
    return body, rows


_FEATURE_FIELDS = {
    "name": ("name", "Name"),
    "billableName": ("billable_name", "Billable name"),
    "billable_name": ("billable_name", "Billable name"),
}


def feature_validation_errors(exc: ValidationError, rows: list[int]) -> Errors:
    """The request model's refusal (as the API's), by field; an association's next to its row."""
    out: Errors = {}
    for error in exc.errors():
        loc = error["loc"]
        first = str(loc[0]) if loc else ""
        if first in ("schemaAssociations", "schema_associations"):
            if len(loc) >= 2 and isinstance(loc[1], int) and loc[1] < len(rows):
                n = rows[loc[1]]
                out.setdefault(f"row.{n}", _pydantic_words(f"Row {n + 1}", error))
            else:
                out.setdefault("form", f"A feature reads at most {MAX_ROWS} event schemas")
            continue
        key, label = _FEATURE_FIELDS.get(first, ("form", "This form"))
        out.setdefault(key, _pydantic_words(label, error))
    return out


_PAIR_ERROR = re.compile(r"^schemaAssociations\[(\d+)\]\.(?:schemaName|attributeName): (.+)$", re.S)
_FEEDS = re.compile(r"^event schema (.+?) already feeds feature (\S+?);")
_TWICE = re.compile(r"^event schema (.+?) is named twice")
_NO_SCHEMA = re.compile(r"^there is no event schema named '(.+)'$", re.S)
_NO_ATTRIBUTE = re.compile(r"^event schema (.+?) has no attribute '(.*)' \(its attributes: (.*)\)$", re.S)


def feature_owner(message: str) -> str | None:
    """The feature a refusal says already reads a schema (its id), so the page can name it."""
    found = _PAIR_ERROR.match(message)
    owner = _FEEDS.match(found.group(2)) if found else None
    return owner.group(2) if owner else None


def feature_errors(message: str, rows: list[int], names: Mapping[str, str]) -> Errors:
    """FeatureService's refusal next to the row it is about. `names`: feature ids -> names, to name the feature
    that already reads a schema."""
    found = _PAIR_ERROR.match(message)
    if found is None or int(found.group(1)) >= len(rows):
        return {"form": message}
    n = rows[int(found.group(1))]
    key, label, text = f"row.{n}", f"Row {n + 1}", found.group(2)
    if owner := _FEEDS.match(text):
        schema, feature_id = owner.group(1), owner.group(2)
        named = f"“{names[feature_id]}” ({feature_id})" if feature_id in names else feature_id
        return {
            key: f"{label}: event schema {schema} already feeds the feature {named}. A schema feeds one feature, so "
            "that each of its events has one number of units: take it off that feature first, or pick another schema"
        }
    if twice := _TWICE.match(text):
        return {key: f"{label}: event schema {twice.group(1)} is picked twice; a feature reads one attribute of each"}
    if none := _NO_SCHEMA.match(text):
        return {key: f"{label}: there is no event schema named {none.group(1)} (any more): pick another one"}
    if missing := _NO_ATTRIBUTE.match(text):
        schema, attribute, declared = missing.groups()
        return {
            key: f"{label}: event schema {schema} has no attribute “{attribute}” (any more); its attributes: "
            f"{declared}. Pick one of them"
        }
    return {key: f"{label}: {text}"}


# -- units and days ----------------------------------------------------------------------------------------------
def units(value: Decimal) -> str:
    """ "7.5 units", "1 unit", "1,000 units": every digit kept; "no limit" (an unlimited OVERAGE entry)."""
    if value.is_infinite():
        return "no limit"
    return f"{quantity(value)} unit{'' if value == 1 else 's'}"


def units_words(label: str, text: str) -> str | None:
    """Why `text` is not a number of units above 0 (None when it is one)."""
    example = "such as 100 or 2.5"
    try:
        value = numbers.parse(text)
    except numbers.NumberError as exc:
        if "10^" in str(exc):
            return f"{label}: enter a number below 10^15 (a thousand trillion), {example}"
        if "decimal point" in str(exc):
            return f"{label}: at most 12 decimals, {example}"
        return f"{label}: enter a number of units above 0, {example}"
    if value <= 0:
        return f"{label}: enter a number of units above 0, {example}"
    return None


def _units(text: str, errors: Errors, key: str = "granted") -> Decimal | None:
    why = units_words("Units", text)
    if why is not None:
        errors[key] = why
        return None
    return numbers.parse(text)


def day_start(day: date, zone: str) -> datetime:
    """The instant a day of the organization's time zone starts (UTC), e.g. 2026-01-01 in Europe/Berlin is
    2025-12-31T23:00Z."""
    try:
        tz: Any = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        tz = timezone.utc
    return datetime.combine(day, time(), tz).astimezone(timezone.utc)


def _last_day_end(last: date, zone: str) -> datetime:
    """The end (exclusive) of a window whose last day is `last`: the next day's midnight; the end of time at most."""
    return min(day_start(last + timedelta(days=1), zone), END_OF_TIME) if last < LAST_DAY else END_OF_TIME


def starts_words(at: datetime) -> str:
    return "no start" if at <= BEGINNING_OF_TIME else when(at)


def ends_words(at: datetime) -> str:
    return "no end" if at >= END_OF_TIME else when(at)


def window_lines(starts: datetime, ends: datetime) -> tuple[str, str]:
    """An entry's window as two lines: ("from the start", "with no end"), ("from 2026-01-01 00:00 UTC", "until
    2026-02-01 00:00 UTC")."""
    first = "from the start" if starts <= BEGINNING_OF_TIME else f"from {when(starts)}"
    last = "with no end" if ends >= END_OF_TIME else f"until {when(ends)}"
    return first, last


def window_words(starts: datetime, ends: datetime) -> str:
    """ "from the start, with no end", "from 2026-01-01 00:00 UTC until 2026-02-01 00:00 UTC"."""
    first, last = window_lines(starts, ends)
    return f"{first}{',' if ends >= END_OF_TIME else ''} {last}"


# -- Grant credits -------------------------------------------------------------------------------------------------
def grant_of(account_id: str, feature_id: str, values: Mapping[str, str], zone: str) -> Grant:
    """The grant form: units, an optional first day, an optional last day (every mistake at once)."""
    errors: Errors = {}
    granted = _units(values.get("granted", ""), errors)
    start = _day(values.get("start", ""), "From", errors, "start")
    last = _day(values.get("until", ""), "Until", errors, "until")
    if start is not None and last is not None and last < start:
        errors["until"] = f"Until: pick {start.isoformat()} or a later day (the entry's last day)"
    if errors or granted is None:
        raise Refused(errors)
    return Grant(
        account_id=account_id,
        feature_id=feature_id,
        granted=granted,
        effective_from=day_start(start, zone) if start is not None else None,
        effective_until=_last_day_end(last, zone) if last is not None else None,
    )


_ENDED = "Until: pick today or a later day: an entry that has ended can no longer be used"


def grant_errors(error: Exception, values: Mapping[str, str]) -> Errors:
    """FeatureCreditService's refusal of a grant, by field."""
    message = _message(error)
    if message.startswith("granted"):
        return {"granted": units_words("Units", values.get("granted", "")) or "Units: enter a number above 0"}
    if "effectiveUntil must be in the future" in message:
        return {"until": _ENDED}
    if "effectiveUntil must be after" in message:
        return {"until": "Until: pick the first day or a later one (the entry's last day)"}
    if message.startswith("effectiveFrom"):
        return {"start": f"From: pick a day from {FIRST_DAY} to {LAST_DAY}"}
    if message.startswith("effectiveUntil"):
        return {"until": f"Until: pick a day from {FIRST_DAY} to {LAST_DAY}"}
    return {"form": message}


# -- Update an entry -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EntryChange:
    """What an update asks: None leaves a field as it is."""

    granted: Decimal | None
    effective_until: datetime | None


def entry_change_of(values: Mapping[str, str], zone: str) -> EntryChange:
    """The update form: new units granted and / or a new last day; at least one."""
    errors: Errors = {}
    typed = values.get("granted", "").strip()
    granted = _units(typed, errors) if typed else None
    last = _day(values.get("until", ""), "Until", errors, "until")
    if not errors and granted is None and last is None:
        errors["form"] = "Type the units the entry grants, its new last day, or both: an empty form changes nothing"
    if errors:
        raise Refused(errors)
    return EntryChange(granted, _last_day_end(last, zone) if last is not None else None)


_STATUS = re.compile(r"^Entry .* is (\w+): only an ACTIVE entry", re.S)


def entry_errors(error: Exception, values: Mapping[str, str]) -> Errors:
    """FeatureCreditService's refusal of an update or a void, by field."""
    message = _message(error)
    if status := _STATUS.match(message):
        return {"form": f"This entry is {status.group(1).lower()}: only an active entry can be changed or voided"}
    if used := re.match(r"^granted: must be at least what the entry has used already, (\S+)$", message):
        amount = Decimal(used.group(1))
        return {"granted": f"Units: at least {quantity(amount)}, what the entry has used already"}
    if message.startswith("granted"):
        return {"granted": units_words("Units", values.get("granted", "")) or "Units: enter a number above 0"}
    if "effectiveUntil must be in the future" in message:
        return {"until": _ENDED}
    if start := re.search(r"effectiveUntil must be after the entry's effectiveFrom, (\S+)$", message):
        return {"until": f"Until: pick a later day: the entry starts at {start.group(1)}"}
    return {"form": message}


# -- what a change does, for its confirmation ----------------------------------------------------------------------
@dataclass(frozen=True)
class EntryFacts:
    """An entry as a confirmation describes it."""

    entry_id: str
    granted: Decimal
    used: Decimal
    balance: Decimal
    ends_at: datetime


def void_words(entry: EntryFacts) -> str:
    """ "Void entry X: its 7.5 units left can no longer be used; 2.5 used stay. ..." """
    return (
        f"Void entry {entry.entry_id}: its {units(entry.balance)} left can no longer be used; "
        f"{quantity(entry.used)} used stay{'s' if entry.used == 1 else ''}. A voided entry cannot be made active "
        "again, and what it left is not given back."
    )


def update_words(before: EntryFacts, after: EntryFacts) -> str:
    """What an update does to an entry, in one sentence: the units it grants and when it ends, before and after,
    and what is left to use."""
    changes = []
    if after.granted != before.granted:
        changes.append(f"it grants {units(after.granted)} instead of {quantity(before.granted)}")
    if after.ends_at != before.ends_at:
        ends = "it has no end" if after.ends_at >= END_OF_TIME else f"it ends at {when(after.ends_at)}"
        changes.append(f"{ends} instead of {ends_words(before.ends_at)}")
    what = " and ".join(changes) if changes else "nothing changes"
    return (
        f"Update entry {before.entry_id}: {what}. What it used stays ({quantity(before.used)}); left to use: "
        f"{units(after.balance)} (now {units(before.balance)})."
    )
