"""The price plan builder's forms (console/plan_pages.py), pure and without database: form fields into the API's plan
details (pricing cycle, currencies, rate cards and their slabs) and back into the form's values, and the services'
refusals into words next to the field they name; the pages read the form, call these, then the catalog's services."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from copy import deepcopy
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData

from meterline.catalog import plan_model
from meterline.catalog.plan_model import SLAB_CARDS, PlanModel, RateCard, SlabCard
from meterline.catalog.plan_schemas import (
    BillingEntitlementRateCard,
    EntitlementOverageRateCard,
    FeatureConfig,
    FixedFeeRateCard,
    LicenseRateCard,
    MinimumCommitment,
    PricingCycleConfig,
    UsageRateCard,
)
from meterline.console.account_pages import CURRENCIES
from meterline.core import numbers
from meterline.core.errors import NotFound
from meterline.core.schemas import error_text
from meterline.core.text import ascii_digits

INTERVALS = {
    "WEEKLY": "Weekly",
    "MONTHLY": "Monthly",
    "QUARTERLY": "Quarterly",
    "HALF_YEARLY": "Half-yearly",
    "ANNUALLY": "Annually",
}
MODELS = {
    "TIERED": "Tiered: each slab prices its own band of the usage",
    "VOLUME": "Volume: all the usage at the rate of the slab it reaches",
}
PRICE_TYPES = {"PER_UNIT": "Per unit", "FLAT": "Flat fee", "PACKAGE": "Package"}
TIMINGS = {"IN_ARREARS": "In arrears (at the end of the cycle)", "IN_ADVANCE": "In advance (at its start)"}
ENTITLEMENT_TIMINGS = {
    "IN_ADVANCE": "In advance (at the cycle's start)",
    "IN_ARREARS": "In arrears (at the end of the cycle)",
    "PREPAID": "Prepaid (in advance; the units arrive once that invoice is paid)",
}
WEEKDAYS = {
    "1": "Monday",
    "2": "Tuesday",
    "3": "Wednesday",
    "4": "Thursday",
    "5": "Friday",
    "6": "Saturday",
    "7": "Sunday",
    "LAST": "Sunday",
}
KINDS = {
    "usage": "usageRateCards",
    "license": "licenseRateCards",
    "fixed-fee": "fixedFeeRateCards",
    "entitlement": "billingEntitlementRateCards",
    "overage": "entitlementOverageRateCards",
}
KIND_NAMES = {
    "usage": "Usage rate card",
    "license": "License",
    "fixed-fee": "Fixed fee",
    "entitlement": "Billing entitlement",
    "overage": "Entitlement overage",
    "commitment": "Minimum commitment",
}
SLAB_KINDS = ("usage", "license", "entitlement", "overage")  # priced by slab rows
BOUNDED_KINDS = ("usage", "license", "overage")  # with an optional minimum and maximum per cycle
VALID_FROM, VALID_UNTIL = "P0D", "P1M"  # a billing entitlement's units: from the cycle's start, for a month
MAX_SLABS = 10  # the SDK's ratePlan.slabs maxLength
Component = RateCard | MinimumCommitment  # what the builder edits
ENTITLEMENT_CARDS = (BillingEntitlementRateCard, EntitlementOverageRateCard)
# what a card's form does not show, kept from the card it edits
KEPT = {"name", "tag", "config", "usage_cycle", "prorated_refund_mode", "recurrence_config"}


def _text(value: Any) -> str:
    """A stored number as a person typed it (no exponent)."""
    if isinstance(value, Decimal):
        return format(value, "f")
    return "" if value is None else str(value)


def _number(text: str) -> Decimal | None:
    """A typed number (commas allowed) within the one number rule (core/numbers.py), or None (`_why` says why)."""
    try:
        return numbers.parse(text)
    except numbers.NumberError:
        return None


def _why(text: str, example: str) -> str:
    """Why `_number` refused `text`: not a number at all (`example` says what to type), or outside the rule."""
    try:
        numbers.parse(text)
    except numbers.NumberError as exc:
        message = str(exc)
        return example if message.startswith("enter a number") else message[:1].upper() + message[1:]
    return example  # pragma: no cover - only called for refused text


# -- messages in words -------------------------------------------------------------------------------------------
_PHRASES: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    (re.compile(r"pricePlanDetails\.?"), ""),
    (re.compile(r"pricingCycleConfig\.startOffset\.dayOffset"), "Start day"),
    (re.compile(r"pricingCycleConfig\.startOffset\.monthOffset"), "Start month"),
    (re.compile(r"pricingCycleConfig\.gracePeriod"), "Grace period"),
    (re.compile(r"pricingCycleConfig\.?"), "Pricing cycle"),
    (re.compile(r"supportedCurrencies"), "Currencies"),
    (re.compile(r"minimumCommitment"), "Minimum commitment"),
    (re.compile(r"usageRateCards\[(\d+)\]"), lambda m: f"Usage rate card {int(m[1]) + 1}"),
    (re.compile(r"licenseRateCards\[(\d+)\]"), lambda m: f"License {int(m[1]) + 1}"),
    (re.compile(r"fixedFeeRateCards\[(\d+)\]"), lambda m: f"Fixed fee {int(m[1]) + 1}"),
    (re.compile(r"billingEntitlementRateCards\[(\d+)\]"), lambda m: f"Billing entitlement {int(m[1]) + 1}"),
    (re.compile(r"entitlementOverageRateCards\[(\d+)\]"), lambda m: f"Entitlement overage {int(m[1]) + 1}"),
    (re.compile(r"ratePlan\.slabs\[(\d+)\]"), lambda m: f"slab {int(m[1]) + 1}"),
    (re.compile(r"\.slabConfig\.packageSize"), " package size"),
    (re.compile(r"\.startAfter"), " start"),
    (re.compile(r"\.usageMeterId"), " meter"),
    (re.compile(r"\.invoiceTiming"), " billing time"),
    (re.compile(r"; create it with POST /features first"), ": create the feature first (Features)"),
    (re.compile(r"\(leave it out for no limit\)"), "(leave it empty for no limit)"),
    (re.compile(r"rateValues"), "rates"),
    (re.compile(r"\bsend NIL\b"), 'leave "Start month" empty'),
    (re.compile(r"; send "), "; choose "),
    (re.compile(r"\bFIRST or LAST\b"), "First or Last"),
    (re.compile(r"\b(\d+) or LAST\b"), r"\1 or Last day"),
    # pydantic's own sentences, as a person would say them
    (re.compile(r"\bString should have at most (\d+) characters?"), r"At most \1 characters, please"),
    (re.compile(r"\bInput should be less than or equal to (\d+)"), r"At most \1"),
    (re.compile(r"\bInput should be greater than or equal to (\d+)"), r"At least \1"),
    (re.compile(r"\bminimumRate (\S+) is above maximumRate (\S+)"), r"the minimum \1 is above the maximum \2"),
]


def words(message: str) -> str:
    """A service's message with the API's field paths spelled as the console names them."""
    for pattern, replacement in _PHRASES:
        message = pattern.sub(replacement, message)
    return message.strip()


def pydantic_words(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in error["loc"]).replace(".[", "[")
    return words(f"{where}: {error_text(error)}")


# -- the pricing cycle and currencies (new plan, edit details) ---------------------------------------------------
def cycle_words(config: PricingCycleConfig | None) -> str:
    if config is None:
        return "no pricing cycle"
    interval = INTERVALS.get(config.interval, config.interval)
    offset = config.start_offset
    if offset is None or config.anniversary_cycle:
        start = "from the day the plan starts on an account (anniversary)"
    else:
        day, month = offset.day_offset, offset.month_offset
        if config.interval == "WEEKLY":
            start = "from " + WEEKDAYS.get(day, f"day {day}")
        else:
            start = "from the last day" if day == "LAST" else f"from day {day}"
            start += {"NIL": "", "FIRST": " of the period's first month", "LAST": " of the period's last month"}.get(
                month, f" of month {month} of the period"
            )
    grace = config.grace_period or 0
    return f"{interval}, {start}" + (f"; {grace} day{'s' if grace != 1 else ''} of grace" if grace else "")


def cycle_values(model: PlanModel | None, base_currency: str) -> dict[str, Any]:
    config = model.cycle if model else None
    offset = config.start_offset if config else None
    return {
        "interval": config.interval if config else "MONTHLY",
        "day_offset": offset.day_offset if offset else "1",
        "month_offset": offset.month_offset if offset else "NIL",
        "grace": str(config.grace_period if config else 0),
        "anniversary": bool(config and config.anniversary_cycle),
        "currencies": list(model.currencies) if model else [base_currency],
        "other": "",
    }


def cycle_from_form(form: FormData, values: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    """(pricingCycleConfig, supportedCurrencies) from the form; what cannot be read goes into `errors`."""
    interval = str(form.get("interval", ""))
    if interval not in INTERVALS:
        errors["interval"] = "Choose how often the plan bills"
    grace_text = str(form.get("grace", "0")).strip() or "0"
    grace = int(grace_text) if ascii_digits(grace_text) else None
    if grace is None:
        errors["grace"] = "A whole number of days, 0 or more"
    anniversary = form.get("anniversary") == "on"
    # the start month applies to quarterly, half-yearly and annual cycles only
    month = "NIL" if interval in ("WEEKLY", "MONTHLY") else str(form.get("month_offset", "NIL"))
    config: dict[str, Any] = {"interval": interval, "gracePeriod": grace or 0}
    if anniversary:
        config["anniversaryCycle"] = True
    else:
        config["startOffset"] = {"dayOffset": str(form.get("day_offset", "1")), "monthOffset": month}
    codes: list[str] = []
    for code in [str(c) for c in form.getlist("currencies")] + re.split(r"[\s,;]+", str(form.get("other", ""))):
        code = code.strip().upper()
        if code and code not in codes:
            codes.append(code)
    if not codes:
        errors["currencies"] = "Pick at least one currency the plan is priced in"
    values.update(
        interval=interval,
        day_offset=str(form.get("day_offset", "1")),
        month_offset=month,
        grace=grace_text,
        anniversary=anniversary,
        currencies=codes,
        other=str(form.get("other", "")),
    )
    return {"pricingCycleConfig": config, "supportedCurrencies": codes}


_DETAIL_FIELDS = (
    ("Start day", "day_offset"),
    ("Start month", "month_offset"),
    ("Grace period", "grace"),
    ("Pricing cycle", "interval"),
    ("Currencies", "currencies"),
)


def detail_error(message: str, errors: dict[str, str]) -> None:
    text = words(message)
    for prefix, name in _DETAIL_FIELDS:
        if text.startswith(prefix):
            text = text.removeprefix(prefix).strip(" :") if name != "interval" else text
            errors[name] = text[:1].upper() + text[1:]
            return
    errors["form"] = text


def currency_choices(selected: list[str]) -> list[str]:
    return list(CURRENCIES) + [c for c in selected if c not in CURRENCIES]


# -- slab rows (usage and license cards) -------------------------------------------------------------------------
@dataclass
class SlabRow:
    start: str = ""
    end: str = ""
    price_type: str = "PER_UNIT"
    package: str = ""
    rates: dict[str, str] = field(default_factory=dict)


def rows_of_card(card: SlabCard | None, currencies: list[str]) -> list[SlabRow]:
    if card is None:
        return [SlabRow(start="0")]
    slabs = card.rate_plan.slabs
    rows = []
    for i, slab in enumerate(slabs):
        rates = {}
        for value in card.rate_values:
            rate = next((r.rate for r in value.slab_rates if r.order == slab.order), None)
            rates[value.currency] = _text(rate)
        rows.append(
            SlabRow(
                start=_text(slab.start_after),
                end=_text(slabs[i + 1].start_after) if i + 1 < len(slabs) else "",
                price_type=slab.price_type,
                package=(slab.slab_config or {}).get("packageSize", ""),
                rates=rates,
            )
        )
    return rows


def rows_of_form(form: FormData, currencies: list[str]) -> list[SlabRow]:
    count = str(form.get("rows", "1"))
    n = min(max(int(count), 1), MAX_SLABS) if ascii_digits(count) else 1
    return [
        SlabRow(
            start=str(form.get(f"from_{i}", "")),
            end=str(form.get(f"to_{i}", "")),
            price_type=str(form.get(f"type_{i}", "PER_UNIT")),
            package=str(form.get(f"package_{i}", "")),
            rates={c: str(form.get(f"rate_{i}_{c}", "")) for c in currencies},
        )
        for i in range(n)
    ]


def slab_plan(
    rows: list[SlabRow], model: str, currencies: list[str], original: Component | None, errors: dict[str, str]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(ratePlan, rateValues) of the rows. The form's "To" is the next slab's start: a "To" that is not where the
    next slab starts, or a "To" on the last slab (which prices all usage above its start), is a mistake here."""
    if model not in MODELS:
        errors["model"] = "Choose a pricing model"
    starts: list[Decimal | None] = []
    for i, row in enumerate(rows):
        text = row.start.strip() or (rows[i - 1].end.strip() if i else "")
        value = _number(text) if text else None
        if not text:
            errors[f"from_{i}"] = (
                "Where does this slab start? (0 for the first)"
                if i == 0
                else "Where does this slab start? (where the previous one ends)"
            )
        elif value is None:
            errors[f"from_{i}"] = _why(text, "Enter a number, such as 0 or 1000")
        starts.append(value)
    for i, row in enumerate(rows):
        end = row.end.strip()
        if not end:
            continue
        value = _number(end)
        if value is None:
            errors[f"to_{i}"] = _why(end, "Enter a number, such as 1000, or leave it empty")
        elif i == len(rows) - 1:
            errors[f"to_{i}"] = "The last slab has no end: leave To empty (it prices all usage above its start)"
        elif starts[i + 1] is not None and value != starts[i + 1]:
            errors[f"to_{i}"] = (
                f"Slabs must be contiguous: this slab ends at {end} but slab {i + 2} starts after "
                f"{_text(starts[i + 1])}"
            )
    priced = original if isinstance(original, SLAB_CARDS) else None  # what the form does not show is kept from it
    old_rates = {v.currency: {r.order: r for r in v.slab_rates} for v in (priced.rate_values if priced else ())}
    old_slabs = {s.order: s for s in (priced.rate_plan.slabs if priced else ())}
    slabs: list[dict[str, Any]] = []
    values: dict[str, list[dict[str, Any]]] = {c: [] for c in currencies}
    for i, row in enumerate(rows):
        if row.price_type not in PRICE_TYPES:
            errors[f"type_{i}"] = "Choose a price type"
        slab: dict[str, Any] = {"order": i + 1, "startAfter": starts[i], "priceType": row.price_type}
        old_slab = old_slabs.get(i + 1)
        config = dict((old_slab.slab_config if old_slab else None) or {})
        config.pop("packageSize", None)
        if row.package.strip():
            config["packageSize"] = row.package.strip()
        if config:
            slab["slabConfig"] = config
        slabs.append(slab)
        for currency in currencies:
            text = row.rates.get(currency, "").strip()
            rate = _number(text) if text else None
            if not text:
                errors[f"rate_{i}_{currency}"] = "Enter a rate (0 if this slab is free)"
            elif rate is None:
                errors[f"rate_{i}_{currency}"] = _why(text, "Enter a number, such as 0.05 or 12")
            slab_rate: dict[str, Any] = {"order": i + 1, "rate": rate}
            old_rate = old_rates.get(currency, {}).get(i + 1)
            kept = old_rate.slab_rate_config if old_rate else None
            if kept:
                slab_rate["slabRateConfig"] = dict(kept)
            values[currency].append(slab_rate)
    rate_values = []
    for currency in currencies:
        rate_value: dict[str, Any] = {"currency": currency, "slabRates": values[currency]}
        old_value = plan_model.rate_value(priced, currency) if priced else None
        kept = old_value.rate_config if old_value else None
        if kept:
            rate_value["rateConfig"] = dict(kept)
        rate_values.append(rate_value)
    return {"pricingModel": model, "slabs": slabs}, rate_values


def _bounds(form: FormData, rate_values: list[dict[str, Any]], errors: dict[str, str]) -> None:
    """The optional minimum and maximum per cycle, per currency (rateConfig)."""
    for value in rate_values:
        config = {k: v for k, v in (value.get("rateConfig") or {}).items() if k not in ("minimumRate", "maximumRate")}
        for key, name in (("minimumRate", "min"), ("maximumRate", "max")):
            text = str(form.get(f"{name}_{value['currency']}", "")).strip()
            if not text:
                continue
            if _number(text) is None:
                errors[f"{name}_{value['currency']}"] = _why(text, "Enter a number, or leave it empty")
            config[key] = text
        value.pop("rateConfig", None)
        if config:
            value["rateConfig"] = config


_SLAB_FIELD = re.compile(
    r"\((?P<cur>[A-Z]{3})\): ratePlan\.slabs\[(?P<i>\d+)\](?P<f>\.startAfter|\.priceType|"
    r"\.slabConfig\.packageSize|\.order)?: (?P<msg>.*)$"
)
_PACKAGE_FIELD = re.compile(r"ratePlan\.slabs\[(?P<i>\d+)\]\.slabConfig(\.packageSize)?: (?P<msg>.*)$")
_BOUND_FIELD = re.compile(
    r"(rateValues )?\((?P<cur>[A-Z]{3})\)(\.|: )rateConfig(\.(?P<k>minimumRate|maximumRate))?: "
    r"(?P<msg>.*)$"
)
_AMOUNT_FIELD = re.compile(r"rateValues\[(?P<v>\d+)\]\.rate: (?P<msg>.*)$")
# a card's field, as the API names it (`usageRateCards[0].displayName`) or in words (`Usage rate card 1.displayName`,
# `Minimum commitment.displayName`)
_CARD_FIELD = re.compile(r"(\]|\d|commitment)\.(?P<f>usageMeterId|id|invoiceTiming|displayName): (?P<msg>.*)$")
# a billing entitlement's or an entitlement overage's own fields
_ENTITLEMENT_FIELD = re.compile(
    r"(\]|\d)\.(?P<f>featureId|featureConfigs(\[0\]\.(featureCreditLimit|effectiveFrom|effectiveUntil))?|maxQuantity|"
    r"billingConfig(\.(interval|startOffset))?): (?P<msg>.*)$"
)
_ENTITLEMENT_FIELDS = {
    "featureId": "feature",
    "featureConfigs": "units",
    "featureConfigs[0].featureCreditLimit": "units",
    "featureConfigs[0].effectiveFrom": "valid_from",
    "featureConfigs[0].effectiveUntil": "valid_until",
    "maxQuantity": "max_quantity",
    "billingConfig": "every",
    "billingConfig.interval": "every",
    "billingConfig.startOffset": "offset",
}
_TAKEN_FEATURE = re.compile(r"feature '(?P<id>[^']+)' already has its (?P<kind>entitlement|overage) card, .*$")
_FEATURE_ID = re.compile(r"'(?P<id>feature\.[^']+)'")


def _feature_words(message: str, features: Mapping[str, str]) -> str:
    """A refusal about a feature, with the feature's name rather than its id."""
    if found := _TAKEN_FEATURE.search(message):
        name = features.get(found["id"], found["id"])
        kind = "a billing entitlement" if found["kind"] == "entitlement" else "an entitlement overage"
        return (
            f"This plan already has {kind} card for {name}: one per feature (each cycle grants one entry of a "
            "feature per card kind); edit that card instead"
        )
    message = re.sub(r"must be smaller than interval$", 'must be smaller than "Bill every"', message)
    message = re.sub(r"must be longer than effectiveFrom \((\S+)\)$", r'must be longer than "Valid from" (\1)', message)
    return _FEATURE_ID.sub(lambda m: f"“{features[m['id']]}”" if m["id"] in features else m[0], message)


def card_error(
    message: str, currencies: list[str], errors: dict[str, str], features: Mapping[str, str] | None = None
) -> None:
    """A service's refusal next to the field it names, else above the form (`features`: feature id -> name, to name
    a feature in words)."""

    def put(name: str, text: str) -> None:
        text = words(text)
        errors[name] = text[:1].upper() + text[1:]

    if found := _SLAB_FIELD.search(message):
        i, suffix = int(found["i"]), found["f"] or ""
        put(
            {
                ".startAfter": f"from_{i}",
                ".priceType": f"type_{i}",
                ".slabConfig.packageSize": f"package_{i}",
                ".order": f"from_{i}",
            }.get(suffix, f"rate_{i}_{found['cur']}"),
            found["msg"],
        )
    elif found := _PACKAGE_FIELD.search(message):
        put(f"package_{found['i']}", found["msg"])
    elif found := _BOUND_FIELD.search(message):
        put(f"{'max' if found['k'] == 'maximumRate' else 'min'}_{found['cur']}", found["msg"])
    elif (found := _AMOUNT_FIELD.search(message)) and int(found["v"]) < len(currencies):
        put(f"amount_{currencies[int(found['v'])]}", found["msg"])
    elif found := _CARD_FIELD.search(message):
        put(
            {"usageMeterId": "meter", "id": "addon", "invoiceTiming": "timing", "displayName": "display_name"}[
                found["f"]
            ],
            found["msg"],
        )
    elif found := _ENTITLEMENT_FIELD.search(message):
        put(_ENTITLEMENT_FIELDS[found["f"]], _feature_words(found["msg"], features or {}))
    else:
        errors["form"] = words(message)


# -- rate cards --------------------------------------------------------------------------------------------------
@dataclass
class Catalog:
    meters: dict[str, Any]  # id -> UsageMeter (not archived)
    addons: dict[str, Any]  # id -> AddOn
    features: dict[str, str] = field(default_factory=dict)  # feature id -> its name (billable name, else name)

    def meter_name(self, meter_id: str) -> str:
        meter = self.meters.get(meter_id)
        return meter.name if meter else meter_id

    def addon_name(self, addon_id: str) -> str:
        addon = self.addons.get(addon_id)
        return addon.name if addon else addon_id

    def feature_name(self, feature_id: str) -> str:
        return self.features.get(feature_id, feature_id)


# -- entitlement cards in words (the plan's page) ---------------------------------------------------------------
_UNITS = {"Y": ("year", "years"), "M": ("month", "months"), "W": ("week", "weeks"), "D": ("day", "days")}


def duration_words(duration: str) -> str:
    """An ISO 8601 duration of years, months, weeks and days in words: P1M "1 month", P1Y2M "1 year 2 months"."""
    parts = re.findall(r"(\d+)([YMWD])", duration) if re.fullmatch(r"P(\d+[YMWD])+", duration) else None
    if parts is None:
        return duration
    spoken = [f"{int(n)} {_UNITS[unit][int(n) != 1]}" for n, unit in parts if int(n)]
    return " ".join(spoken) or "0 days"


def validity_words(config: FeatureConfig) -> str:
    """When a billing entitlement's units of a cycle can be used, counted from the cycle's start."""
    start, until = config.effective_from or VALID_FROM, config.effective_until or VALID_UNTIL
    if duration_words(start) == "0 days":
        return f"usable for {duration_words(until)} from the cycle's start"
    return f"usable from {duration_words(start)} to {duration_words(until)} after the cycle's start"


def entitlement_timing_words(card: BillingEntitlementRateCard) -> str:
    timing = {
        "IN_ADVANCE": "billed in advance",
        "IN_ARREARS": "billed in arrears",
        "PREPAID": "prepaid: the units arrive once the in-advance invoice is paid",
    }[card.invoice_timing]
    config = card.recurrence_config
    interval = (config.interval if config else None) or 1
    offset = (config.offset if config else None) or 0
    if interval != 1 or offset:
        timing += f", every {interval} cycles" if interval != 1 else ", every cycle"
        timing += f" from cycle {offset}" if offset else ""
    return timing


def overage_period_words(card: EntitlementOverageRateCard) -> str:
    """How often an entitlement overage card bills what was used (billingConfig: every N cycles from cycle M)."""
    config = card.billing_config
    interval = (config.interval if config else None) or 1
    offset = (config.start_offset if config else None) or 0
    if interval == 1 and offset == 0:
        return "billed every cycle"
    text = f"billed every {interval} cycles" if interval != 1 else "billed every cycle"
    if offset:
        text += f" from cycle {offset} (counted from 0; the cycles before it are a shorter first period)"
    return text


def cards_of(model: PlanModel, kind: str) -> tuple[RateCard, ...]:
    """The plan's cards of a kind of the builder (`KINDS`)."""
    cards: dict[str, tuple[RateCard, ...]] = {
        "usage": model.usage_cards,
        "license": model.license_cards,
        "fixed-fee": model.fixed_fee_cards,
        "entitlement": model.billing_entitlement_cards,
        "overage": model.entitlement_overage_cards,
    }
    return cards[kind]


def find_card(model: PlanModel, name: str) -> tuple[str, int, RateCard]:
    """(kind, index among the cards of its kind, card) of the card called `name`."""
    for kind in KINDS:
        for i, card in enumerate(cards_of(model, kind)):
            if card.name == name:
                return kind, i, card
    raise NotFound(f"This plan has no rate card named {name}")


def card_values(kind: str, card: Component | None, currencies: list[str], catalog: Catalog) -> dict[str, Any]:
    """The form's values of a saved card (or a new one)."""
    named = (card.display_name if card else None) or ""
    values: dict[str, Any] = {"display_name": named, "model": "TIERED", "rows": []}
    if kind in SLAB_KINDS:
        priced = card if isinstance(card, SLAB_CARDS) else None
        values["meter"] = card.usage_meter_id if isinstance(card, UsageRateCard) else ""
        values["model"] = priced.rate_plan.pricing_model if priced else "TIERED"
        values["rows"] = rows_of_card(priced, currencies)
        for rates in priced.rate_values if priced else ():
            bounds = rates.rate_config or {}
            values[f"min_{rates.currency}"] = bounds.get("minimumRate", "")
            values[f"max_{rates.currency}"] = bounds.get("maximumRate", "")
    if kind in ("license", "fixed-fee"):
        addon = card if isinstance(card, (LicenseRateCard, FixedFeeRateCard)) else None
        values["addon"] = catalog.addon_name(addon.id) if addon else ""
        values["timing"] = (addon.invoice_timing if addon else None) or "IN_ARREARS"  # the API's default
        values["proration"] = bool(addon and addon.enable_proration)
    if kind == "fixed-fee":
        fee = card if isinstance(card, FixedFeeRateCard) else None
        values["recurring"] = ((fee.type if fee else None) or "RECURRING") == "RECURRING"
        for amount in fee.rate_values if fee else ():
            values[f"amount_{amount.currency}"] = _text(amount.rate)
    if kind in ("entitlement", "overage"):
        values["feature"] = card.feature_id if isinstance(card, ENTITLEMENT_CARDS) else ""
    if kind == "entitlement":
        sold = card if isinstance(card, BillingEntitlementRateCard) else None
        granted = sold.feature_configs[0] if sold else None
        values["units"] = _text(granted.feature_credit_limit if granted else None)
        values["valid_from"] = (granted.effective_from if granted else None) or VALID_FROM
        values["valid_until"] = (granted.effective_until if granted else None) or VALID_UNTIL
        values["timing"] = sold.invoice_timing if sold else "IN_ADVANCE"
    if kind == "overage":
        overage = card if isinstance(card, EntitlementOverageRateCard) else None
        values["max_quantity"] = _text(overage.max_quantity if overage else None)
        billing = overage.billing_config if overage else None
        values["every"] = str((billing.interval if billing else None) or 1)
        values["offset"] = str((billing.start_offset if billing else None) or 0)
    if kind == "commitment":
        commitment = card if isinstance(card, MinimumCommitment) else None
        values["display_name"] = commitment.display_name if commitment else "Minimum commitment"
        for amount in commitment.rate_values if commitment else ():
            values[f"amount_{amount.currency}"] = _text(amount.rate)
    return values


def _amounts(
    form: FormData, currencies: list[str], values: dict[str, Any], errors: dict[str, str]
) -> list[dict[str, Any]]:
    out = []
    for currency in currencies:
        text = str(form.get(f"amount_{currency}", "")).strip()
        values[f"amount_{currency}"] = text
        amount = _number(text) if text else None
        if not text:
            errors[f"amount_{currency}"] = f"Enter the amount in {currency}"
        elif amount is None:
            errors[f"amount_{currency}"] = _why(text, "Enter a number, such as 49 or 49.90")
        out.append({"currency": currency, "rate": amount})
    return out


def card_from_form(
    kind: str,
    form: FormData,
    original: Component | None,
    currencies: list[str],
    values: dict[str, Any],
    errors: dict[str, str],
) -> dict[str, Any]:
    """The card the form describes (the API's JSON), with what the form does not show kept from the card it edits."""
    card = original.model_dump(by_alias=True, exclude_none=True, include=KEPT) if original is not None else {}
    display_name = str(form.get("display_name", "")).strip()
    values["display_name"] = display_name
    if display_name:
        card["displayName"] = display_name
    if kind in SLAB_KINDS:
        values["model"] = str(form.get("model", "TIERED"))
        values["rows"] = rows_of_form(form, currencies)
        card["ratePlan"], card["rateValues"] = slab_plan(values["rows"], values["model"], currencies, original, errors)
    if kind in BOUNDED_KINDS:
        for currency in currencies:
            values[f"min_{currency}"] = str(form.get(f"min_{currency}", ""))
            values[f"max_{currency}"] = str(form.get(f"max_{currency}", ""))
        _bounds(form, card["rateValues"], errors)
    if kind in ("entitlement", "overage"):
        values["feature"] = str(form.get("feature", ""))
        if not values["feature"]:
            errors["feature"] = "Choose the feature this card is about"
        if isinstance(original, ENTITLEMENT_CARDS) and original.feature_id != values["feature"]:
            card.pop("name", None)  # a new feature, a new automatic name
        card["featureId"] = values["feature"]
    if kind == "entitlement":
        card["featureConfigs"] = [_feature_config(form, values, errors)]
        values["timing"] = str(form.get("timing", "IN_ADVANCE"))
        if values["timing"] not in ENTITLEMENT_TIMINGS:
            errors["timing"] = "Choose when the units are billed"
        card["invoiceTiming"] = values["timing"]
    if kind == "overage":
        _overage(form, card, values, errors)
    if kind == "usage":
        values["meter"] = str(form.get("meter", ""))
        if not values["meter"]:
            errors["meter"] = "Choose the usage meter this card prices"
        if isinstance(original, UsageRateCard) and original.usage_meter_id != values["meter"]:
            card.pop("name", None)  # a new meter, a new automatic name
        card["usageMeterId"] = values["meter"]
    if kind in ("license", "fixed-fee"):
        values["addon"] = str(form.get("addon", "")).strip()
        values["timing"] = str(form.get("timing", "IN_ARREARS"))
        values["proration"] = form.get("proration") == "on"
        card["invoiceTiming"] = values["timing"]
        card["enableProration"] = values["proration"]
        if not values["addon"]:
            errors["addon"] = "Give it a name, as invoices will show it"
        elif len(values["addon"]) > 255:
            errors["addon"] = "At most 255 characters, please"
    if kind == "fixed-fee":
        values["recurring"] = form.get("recurring") != "ONE_TIME"
        card["type"] = "RECURRING" if values["recurring"] else "ONE_TIME"
        if not values["recurring"]:
            card.pop("recurrenceConfig", None)
        card["rateValues"] = _amounts(form, currencies, values, errors)
    if kind == "commitment":
        card = {
            "displayName": display_name or "Minimum commitment",
            "rateValues": _amounts(form, currencies, values, errors),
        }
    return card


def _feature_config(form: FormData, values: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    """A billing entitlement's units per cycle and when they can be used (featureConfigs[0])."""
    values["units"] = str(form.get("units", "")).strip()
    units = _number(values["units"]) if values["units"] else None
    if not values["units"]:
        errors["units"] = "Enter how many units each cycle grants, such as 1000"
    elif units is None:
        errors["units"] = _why(values["units"], "Enter a number of units, such as 1000")
    config: dict[str, Any] = {"featureCreditLimit": units}
    for name, key in (("valid_from", "effectiveFrom"), ("valid_until", "effectiveUntil")):
        values[name] = str(form.get(name, "")).strip()
        if values[name]:
            text = values[name]  # p1m is read as P1M; the rules decide whether it is a duration
            config[key] = text.upper() if re.fullmatch(r"[Pp][0-9YMWDymwd]+", text) else text
    if not values["valid_until"]:
        errors["valid_until"] = f"Enter how long after the cycle's start the units can be used, such as {VALID_UNTIL}"
    return config


def _overage(form: FormData, card: dict[str, Any], values: dict[str, Any], errors: dict[str, str]) -> None:
    """An entitlement overage's limit (empty: no limit) and billing period (every N cycles from cycle M)."""
    values["max_quantity"] = str(form.get("max_quantity", "")).strip()
    card.pop("maxQuantity", None)
    if values["max_quantity"]:
        limit = _number(values["max_quantity"])
        if limit is None:
            errors["max_quantity"] = _why(values["max_quantity"], "Enter a number of units, or leave it empty")
        card["maxQuantity"] = limit
    config: dict[str, int] = {}
    for name, key, default, example in (
        ("every", "interval", "1", "A whole number of cycles, 1 or more (1: every cycle)"),
        ("offset", "startOffset", "0", "A whole number of cycles, 0 or more (0: from the first cycle)"),
    ):
        values[name] = str(form.get(name, default)).strip() or default
        if ascii_digits(values[name]) and len(values[name]) <= 4:
            config[key] = int(values[name])
        else:
            errors[name] = example
    card["billingConfig"] = config


def put_card(details: dict[str, Any], kind: str, card: dict[str, Any], index: int | None) -> dict[str, Any]:
    """The details (the API's JSON) with `card` in place of the card of its kind at `index` (`find_card`), or added
    (`index` None)."""
    details = deepcopy(details)
    if kind == "commitment":
        details["minimumCommitment"] = card
        return details
    cards = details.setdefault(KINDS[kind], [])
    if index is None:
        cards.append(card)
    else:
        cards[index] = card
    return details


def resize_rows(rows: list[SlabRow], action: str) -> None:
    """ "+ Add a slab" (`add_slab`) or a row's remove button (`remove_slab_<i>`): one slab row more (or less), as
    typed, the slabs kept contiguous."""
    if action == "add_slab" and len(rows) < MAX_SLABS:
        rows.append(SlabRow(start=rows[-1].end, price_type=rows[-1].price_type))
    elif action.startswith("remove_slab_") and len(rows) > 1:
        index = action.removeprefix("remove_slab_")
        if ascii_digits(index) and int(index) < len(rows):
            i = int(index)
            rows.pop(i)
            if i == 0:
                rows[0].start = "0"  # the first slab starts after 0
            elif i < len(rows):
                rows[i - 1].end = rows[i].start  # the previous slab now reaches the next one
            rows[-1].end = ""  # the last slab prices all usage above its start
