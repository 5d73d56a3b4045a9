"""What makes a price plan's details valid, and their defaults (docs/pricing.md, billing-rules D3, D4, D7, D8).

`normalize` takes the details as the API speaks them (camelCase dict, exact decimals) and the catalog they refer
to, and returns them complete (card names, display names, types and timings filled in) or raises BadRequest with a
message that names the field. `check_activation` says whether currencies can be activated: every card must be
priced in each of them.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial
from typing import Any

from meterline import rating
from meterline.catalog import plan_model, rate_cards
from meterline.catalog.plan_model import SlabCard
from meterline.catalog.plan_schemas import (
    MAX_PRICING_RULES,
    BillingEntitlementRateCard,
    CreditGrantRateCard,
    EntitlementOverageRateCard,
    LicenseRateCard,
    PricingRule,
    UsageRateCard,
)
from meterline.catalog.statuses import AddOnStatus
from meterline.core.errors import BadRequest
from meterline.core.money import is_currency
from meterline.core.numbers import STORED
from meterline.metering import jsonlogic
from meterline.metering.statuses import MeteringStatus
from meterline.rating import cycles

ROOT = "pricePlanDetails"
AS_STORED = {STORED: True}  # the cards' numbers are checked where they enter (the API's models, the forms)
_DURATION = re.compile(r"P(?=\d)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?")
MAX_DURATION_YEARS = 100  # a credit grant's expiry, an entitlement's validity: longer ones would leave the calendar


@dataclass(frozen=True)
class CatalogView:
    """What validation reads from the organization's catalog."""

    meters: Mapping[str, tuple[str, str]]  # usage meter id -> (name, status)
    addons: Mapping[str, tuple[str, str, str]]  # add-on id -> (type, display name, status)
    features: Mapping[str, str] = field(default_factory=dict)  # feature id -> display name


def _fail(message: str) -> BadRequest:
    return BadRequest(message)


def _currencies(values: Iterable[str], where: str, supported: set[str] | None) -> list[str]:
    seen: list[str] = []
    for currency in values:
        code = currency.upper()
        if not is_currency(code):
            raise _fail(f"{where}: {currency!r} is not an ISO 4217 currency code")
        if code in seen:
            raise _fail(f"{where}: {code} is given twice")
        if supported is not None and code not in supported:
            raise _fail(
                f"{where}: {code} is not one of the plan's supportedCurrencies ({', '.join(sorted(supported))})"
            )
        seen.append(code)
    return seen


def _upper_currencies(items: list[dict[str, Any]], where: str, supported: set[str]) -> None:
    codes = _currencies([item["currency"] for item in items], where, supported)
    for item, code in zip(items, codes, strict=True):
        item["currency"] = code


def _check_grant_rates(card: dict[str, Any], currency: str, where: str) -> None:
    typed = CreditGrantRateCard.model_validate(card, context=AS_STORED)
    rating.check_rate_plan(rate_cards.credit_grant_rate_plan(typed, currency, where)[0])


def _check_slab_rates(card: dict[str, Any], kind: type[SlabCard], currency: str, where: str) -> None:
    rating.check_rate_plan(rate_cards.slab_rate_plan(kind.model_validate(card, context=AS_STORED), currency, where))


def _priced(check: Callable[[], Any], where: str) -> Any:
    try:
        return check()
    except rate_cards.CardError as exc:
        raise _fail(str(exc)) from None
    except rating.RatingError as exc:
        raise _fail(f"{where}: {exc}") from None


def _check_cycle(details: dict[str, Any], plan_type: str) -> None:
    config = details.get("pricingCycleConfig")
    where = f"{ROOT}.pricingCycleConfig"
    if config is None:
        if plan_type == "BILLING":
            raise _fail(f"{where} is required for a BILLING plan (interval, startOffset, gracePeriod)")
        return
    offset = config.get("startOffset")
    if offset is None:
        if not config.get("anniversaryCycle"):
            raise _fail(f"{where}.startOffset is required unless anniversaryCycle is true")
        return
    offset["dayOffset"] = offset["dayOffset"].upper()
    offset["monthOffset"] = offset["monthOffset"].upper()
    try:
        cycles.check_cycle_config(
            cycles.CycleConfig(
                interval=config["interval"],
                day_offset=offset["dayOffset"],
                month_offset=offset["monthOffset"],
                grace_period_days=config["gracePeriod"],
                anniversary=bool(config.get("anniversaryCycle")),
            )
        )
    except cycles.CycleError as exc:
        raise _fail(str(exc)) from None


def _addon(catalog: CatalogView, addon_id: str, kinds: set[str], where: str) -> tuple[str, str]:
    found = catalog.addons.get(addon_id)
    if found is None:
        raise _fail(f"{where}.id: no add-on {addon_id!r}; create it with POST /addons first")
    kind, display_name, status = found
    if status != AddOnStatus.ACTIVE:
        raise _fail(f"{where}.id: add-on {addon_id!r} is {status}")
    if kind not in kinds:
        raise _fail(f"{where}.id: add-on {addon_id!r} is a {kind} add-on; this card needs {' or '.join(sorted(kinds))}")
    return kind, display_name


def normalize(
    details: dict[str, Any], plan_type: str, catalog: CatalogView, rules_where: str = "pricingRules"
) -> dict[str, Any]:
    """The details valid and complete, their pricing rules (`pricingRules`, stored with them) included: a rule's
    error is named from `rules_where` (the request's `pricingRules`, a schedule's `pricingRulesOverride`)."""
    details = {k: v for k, v in details.items() if v is not None}
    rules = details.pop("pricingRules", None)
    details = _normalize_cards(details, plan_type, catalog)
    if rules:
        cards = plan_model.parse(details).cards()
        details["pricingRules"] = check_pricing_rules(rules, cards, rules_where)
    return details


def check_pricing_rules(
    rules: list[dict[str, Any]], cards: tuple[plan_model.RateCard, ...], where: str = "pricingRules"
) -> list[dict[str, Any]]:
    """A plan's (or an override's) pricing rules, valid and complete (id, invoiceTiming), in `order`; BadRequest
    naming the field else (`pricingRules[1].computation: ...`). `cards` are the rate cards an UPDATE may target.
    docs/pricing.md, "Pricing rules"."""
    if len(rules) > MAX_PRICING_RULES:
        raise _fail(f"{where}: at most {MAX_PRICING_RULES} pricing rules ({len(rules)} given)")
    keyed: dict[str, plan_model.RateCard] = {}
    for card in cards:
        for key in plan_model.rule_keys(card):
            keyed.setdefault(key, card)
    out: list[dict[str, Any]] = []
    orders: dict[int, int] = {}
    for i, raw in enumerate(rules):
        here = f"{where}[{i}]"
        try:
            rule = PricingRule.model_validate(raw, context=AS_STORED)
        except ValueError as exc:  # pydantic's ValidationError: a caller that did not validate the request
            raise _fail(f"{here}: {str(exc).splitlines()[-1].strip()[:200]}") from None
        if rule.order in orders:
            raise _fail(f"{here}.order: {rule.order} is already the order of {where}[{orders[rule.order]}]")
        orders[rule.order] = i
        for part in ("condition", "computation"):
            text = getattr(rule, part)
            if text is None:
                continue
            try:
                jsonlogic.compile_logic(text)
            except jsonlogic.JsonLogicError as exc:
                raise _fail(f"{here}.{part}: not valid jsonLogic: {exc}") from None
        timing = rule.invoice_timing or "IN_ARREARS"
        action = rule.action
        if action.type == "UPDATE":
            _check_target(action.target, keyed, timing, f"{here}.action.target")
        elif action.target is not None:
            raise _fail(f"{here}.action.target: only an UPDATE changes a card; an ADD makes a line of its own")
        done = rule.model_dump(by_alias=True, exclude_none=True, exclude={"version"})
        done["id"] = rule.id or f"rule_{rule.order}"
        done["invoiceTiming"] = timing
        out.append(done)
    return sorted(out, key=lambda r: r["order"])


def _check_target(target: str | None, keyed: Mapping[str, plan_model.RateCard], timing: str, where: str) -> None:
    if not target:
        raise _fail(f"{where}: an UPDATE needs a target, `revenue.<card>` or `usage.<card>`")
    what, _, key = target.partition(".")
    if what not in ("revenue", "usage") or not key:
        raise _fail(f"{where}: {target[:80]!r} is neither `revenue.<card>` nor `usage.<card>`")
    card = keyed.get(key)
    if card is None:
        raise _fail(f"{where}: the plan has no rate card {key[:80]!r} (a card's name, meter or add-on id)")
    if what == "usage" and plan_model.card_kind(card) != "USAGE":
        kind = plan_model.card_kind(card)
        raise _fail(f"{where}: only a usage card's usage can be updated; {key!r} is a {kind} card")
    in_advance = plan_model.timing(card) in plan_model.BILLED_AT_START
    if in_advance != (timing == "IN_ADVANCE"):
        raise _fail(
            f"{where}: card {key!r} is billed {'in advance' if in_advance else 'in arrears'}; "
            f"an {timing} rule changes only cards billed {'in advance' if timing == 'IN_ADVANCE' else 'in arrears'}"
        )


def _normalize_cards(details: dict[str, Any], plan_type: str, catalog: CatalogView) -> dict[str, Any]:
    supported = set(_currencies(details["supportedCurrencies"], f"{ROOT}.supportedCurrencies", None))
    details["supportedCurrencies"] = sorted(supported)
    _check_cycle(details, plan_type)
    deferred = bool(details.get("deferredRevenue"))
    names: dict[str, str] = {}

    def name_card(card: dict[str, Any], where: str, default: str) -> None:
        name = card.get("name") or default
        n = 2
        while "name" not in card and name in names:  # an automatic name never collides
            name, n = f"{default}_{n}", n + 1
        if name in names:
            raise _fail(f"{where}.name: {name!r} is already the name of {names[name]}")
        card["name"] = name
        names[name] = where

    usage_cards = details.get("usageRateCards", [])
    if usage_cards and plan_type == "PURCHASE":
        raise _fail(f"{ROOT}.usageRateCards: a PURCHASE plan has no pricing cycle, so it cannot price usage")
    priced_meters: dict[str, str] = {}
    for i, card in enumerate(usage_cards):
        where = f"{ROOT}.usageRateCards[{i}]"
        meter = catalog.meters.get(card["usageMeterId"])
        if meter is None or meter[1] == MeteringStatus.ARCHIVED:
            raise _fail(f"{where}.usageMeterId: no usage meter {card['usageMeterId']!r}")
        if card["usageMeterId"] in priced_meters:
            raise _fail(
                f"{where}.usageMeterId: meter {card['usageMeterId']!r} is already priced by "
                f"{priced_meters[card['usageMeterId']]}"
            )
        priced_meters[card["usageMeterId"]] = where
        name_card(card, where, f"usage_{card['usageMeterId']}")
        card.setdefault("displayName", meter[0])
        _check_slab_card(card, UsageRateCard, where, supported)

    for i, card in enumerate(details.get("fixedFeeRateCards", [])):
        where = f"{ROOT}.fixedFeeRateCards[{i}]"
        _, display_name = _addon(catalog, card["id"], {"FIXED_FEE"}, where)
        name_card(card, where, f"fixed_fee_{card['id']}")
        card.setdefault("displayName", display_name)
        card.setdefault("type", "RECURRING")
        card.setdefault("invoiceTiming", "IN_ARREARS")
        _check_timing(card, where, deferred)
        _upper_currencies(card["rateValues"], f"{where}.rateValues", supported)
        for v, value in enumerate(card["rateValues"]):
            if value["rate"] < 0:
                raise _fail(f"{where}.rateValues[{v}].rate: must be >= 0")
        _check_recurrence(card, where)

    for i, card in enumerate(details.get("licenseRateCards", [])):
        where = f"{ROOT}.licenseRateCards[{i}]"
        kind, display_name = _addon(catalog, card["id"], {"LICENSE", "NAMED_LICENSE"}, where)
        name_card(card, where, f"license_{card['id']}")
        card["type"] = kind
        card.setdefault("displayName", display_name)
        card.setdefault("invoiceTiming", "IN_ARREARS")
        _check_timing(card, where, deferred)
        _check_slab_card(card, LicenseRateCard, where, supported)

    commitment = details.get("minimumCommitment")
    if commitment is not None:
        where = f"{ROOT}.minimumCommitment"
        if plan_type == "PURCHASE":
            raise _fail(f"{where}: a PURCHASE plan has no pricing cycle, so it has no minimum commitment")
        _upper_currencies(commitment["rateValues"], f"{where}.rateValues", supported)
        for v, value in enumerate(commitment["rateValues"]):
            if value["rate"] < 0:
                raise _fail(f"{where}.rateValues[{v}].rate: must be >= 0")

    for i, card in enumerate(details.get("creditGrantRateCards", [])):
        where = f"{ROOT}.creditGrantRateCards[{i}]"
        if deferred:
            raise _fail(f"{where}: a plan with deferredRevenue cannot grant credits")
        _, display_name = _addon(catalog, card["id"], {"CREDIT_GRANT"}, where)
        name_card(card, where, f"credit_grant_{card['id']}")
        card.setdefault("displayName", display_name)
        card.setdefault("type", "ONE_TIME")
        card.setdefault("invoiceTiming", "IN_ADVANCE")
        _check_recurrence(card, where)
        grant = card["grantDetails"]
        if grant["expiryType"] == "CUSTOM":
            if not grant.get("expiryDuration"):
                raise _fail(
                    f"{where}.grantDetails.expiryDuration: an ISO 8601 duration such as P30D or P1M is "
                    "required when expiryType is CUSTOM"
                )
            try:
                duration_parts(grant["expiryDuration"])
            except ValueError as exc:
                raise _fail(f"{where}.grantDetails.expiryDuration: {exc} (P30D, P1M)") from None
        elif grant.get("expiryDuration"):
            raise _fail(f"{where}.grantDetails.expiryDuration: only for expiryType CUSTOM")
        rate_details = card["rateDetails"]["currencySlabRateDetails"]
        _upper_currencies(rate_details, f"{where}.rateDetails.currencySlabRateDetails", supported)
        for detail in rate_details:
            if detail["creditAmount"] < 0:
                raise _fail(f"{where}.rateDetails ({detail['currency']}).creditAmount: must be >= 0")
            _priced(
                partial(_check_grant_rates, card, detail["currency"], where),
                f"{where}.rateDetails ({detail['currency']})",
            )
    _entitlement_cards(details, plan_type, catalog, deferred, supported, name_card)
    return details


def duration_parts(duration: str) -> dict[str, int]:
    """An ISO 8601 duration of years, months, weeks and days (P1M, P30D, P1Y2M) as {Y, M, W, D}, at most
    MAX_DURATION_YEARS long (so that a date moved by it stays a date); ValueError saying what is wrong else."""
    if not _DURATION.fullmatch(duration):
        raise ValueError(f"{duration[:60]!r} is not an ISO 8601 duration of years, months, weeks and days")
    parts = {unit: int(n) for n, unit in re.findall(r"(\d+)([YMWD])", duration)}
    months = parts.get("Y", 0) * 12 + parts.get("M", 0)
    days = parts.get("W", 0) * 7 + parts.get("D", 0)
    if months > MAX_DURATION_YEARS * 12 or days > MAX_DURATION_YEARS * 366:
        raise ValueError(f"{duration!r} is longer than {MAX_DURATION_YEARS} years")
    return parts


def add_duration(day: date, duration: str) -> date:
    """`day` + an ISO 8601 duration of years, months, weeks and days (P1M: same day next month, or its last day)."""
    parts = duration_parts(duration)
    months = day.year * 12 + day.month - 1 + parts.get("Y", 0) * 12 + parts.get("M", 0)
    year, month = divmod(months, 12)
    moved = date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))
    return moved + timedelta(weeks=parts.get("W", 0), days=parts.get("D", 0))


def _entitlement_cards(
    details: dict[str, Any],
    plan_type: str,
    catalog: CatalogView,
    deferred: bool,
    supported: set[str],
    name_card: Callable[[dict[str, Any], str, str], None],
) -> None:
    """Billing entitlement cards (units of a feature each cycle, sold at the card's price) and entitlement overage
    cards (units beyond them, priced by slabs): docs/entitlements.md, "Entitlements in price plans"."""
    cards: tuple[tuple[str, str, type[SlabCard]], ...] = (
        ("billingEntitlementRateCards", "entitlement", BillingEntitlementRateCard),
        ("entitlementOverageRateCards", "overage", EntitlementOverageRateCard),
    )
    for key, kind, model in cards:
        sold: dict[str, str] = {}
        for i, card in enumerate(details.get(key, [])):
            where = f"{ROOT}.{key}[{i}]"
            if deferred:
                raise _fail(f"{where}: a plan with deferredRevenue cannot have {kind} cards")
            feature = catalog.features.get(card["featureId"])
            if feature is None:
                raise _fail(f"{where}.featureId: no feature {card['featureId']!r}; create it with POST /features first")
            if card["featureId"] in sold:
                raise _fail(
                    f"{where}.featureId: feature {card['featureId']!r} already has its {kind} card, "
                    f"{sold[card['featureId']]} (one per feature: each cycle grants one entry"
                    " of a feature per card kind)"
                )
            sold[card["featureId"]] = where
            name_card(card, where, f"{kind}_{card['featureId']}")
            card.setdefault("displayName", feature)
            if kind == "entitlement":
                _check_timing_entitlement(card, where, plan_type)
                _check_recurrence(card, where)
                _check_feature_configs(card, where)
            else:
                if plan_type == "PURCHASE":
                    raise _fail(f"{where}: a PURCHASE plan has no pricing cycle, so it cannot bill overage")
                _check_overage(card, where)
            _check_slab_card(card, model, where, supported)


def _check_timing_entitlement(card: dict[str, Any], where: str, plan_type: str) -> None:
    if plan_type == "PURCHASE" and card["invoiceTiming"] == "IN_ARREARS":
        raise _fail(
            f"{where}.invoiceTiming: a PURCHASE plan has no cycle to bill in arrears; use IN_ADVANCE or PREPAID"
        )


def _check_feature_configs(card: dict[str, Any], where: str) -> None:
    configs = card["featureConfigs"]
    if len(configs) != 1:
        raise _fail(
            f"{where}.featureConfigs: give exactly one (each cycle grants one entry per feature, "
            "`scheduleId#YYYYMMDD$PRICE_PLAN`, and an entry has one window)"
        )
    config = configs[0]
    here = f"{where}.featureConfigs[0]"
    if config["featureCreditLimit"] < 0:
        raise _fail(f"{here}.featureCreditLimit: must be >= 0")
    for name in ("effectiveFrom", "effectiveUntil"):
        value = config.get(name)
        if value is not None:
            try:
                duration_parts(value)
            except ValueError as exc:
                raise _fail(f"{here}.{name}: {exc} (P0D, P30D, P1M): it counts from the cycle's start") from None
    config.setdefault("effectiveFrom", "P0D")
    for day in (date(2001, 1, 31), date(2004, 2, 29), date(2001, 7, 1)):
        if add_duration(day, config["effectiveUntil"]) <= add_duration(day, config["effectiveFrom"]):
            raise _fail(f"{here}.effectiveUntil: must be longer than effectiveFrom ({config['effectiveFrom']})")


def _check_overage(card: dict[str, Any], where: str) -> None:
    if card.get("maxQuantity") is not None and card["maxQuantity"] < 0:
        raise _fail(f"{where}.maxQuantity: must be >= 0 (leave it out for no limit)")
    config = card.setdefault("billingConfig", {})
    config.setdefault("interval", 1)
    config.setdefault("startOffset", 0)
    if config["startOffset"] >= config["interval"]:
        raise _fail(f"{where}.billingConfig.startOffset: must be smaller than interval")


def _check_timing(card: dict[str, Any], where: str, deferred: bool) -> None:
    if card["invoiceTiming"] == "PREPAID":
        raise _fail(f"{where}.invoiceTiming: PREPAID is for credit grants; use IN_ADVANCE or IN_ARREARS")
    if deferred and card["invoiceTiming"] == "IN_ADVANCE":
        raise _fail(f"{where}.invoiceTiming: a plan with deferredRevenue cannot bill in advance")


def _check_recurrence(card: dict[str, Any], where: str) -> None:
    config = card.get("recurrenceConfig")
    if config is not None and card.get("type") == "ONE_TIME":
        raise _fail(f"{where}.recurrenceConfig: only for RECURRING cards")
    if config is not None and config.get("interval") is not None and config.get("offset") is not None:
        if config["offset"] >= config["interval"]:
            raise _fail(f"{where}.recurrenceConfig.offset: must be smaller than interval")


def _check_slab_card(card: dict[str, Any], kind: type[SlabCard], where: str, supported: set[str]) -> None:
    orders = [s["order"] for s in card["ratePlan"]["slabs"]]
    if len(set(orders)) != len(orders):
        raise _fail(f"{where}.ratePlan.slabs: order {next(o for o in orders if orders.count(o) > 1)} is used twice")
    card["ratePlan"]["slabs"].sort(key=lambda s: s["order"])
    _upper_currencies(card["rateValues"], f"{where}.rateValues", supported)
    for value in card["rateValues"]:
        value["slabRates"].sort(key=lambda r: r["order"])
        rate_orders = [r["order"] for r in value["slabRates"]]
        if len(set(rate_orders)) != len(rate_orders):
            raise _fail(f"{where}.rateValues ({value['currency']}).slabRates: an order is given twice")
        _priced(partial(_check_slab_rates, card, kind, value["currency"], where), f"{where} ({value['currency']})")


def check_activation(model: plan_model.PlanModel, currencies: list[str]) -> list[str]:
    """The currencies to activate, upper-cased; BadRequest naming the first card not priced in one of them."""
    codes = _currencies(currencies, "currencies", set(model.currencies))
    priced: tuple[tuple[str, tuple[plan_model.RateCard, ...]], ...] = (
        ("usageRateCards", model.usage_cards),
        ("licenseRateCards", model.license_cards),
        ("fixedFeeRateCards", model.fixed_fee_cards),
        ("billingEntitlementRateCards", model.billing_entitlement_cards),
        ("entitlementOverageRateCards", model.entitlement_overage_cards),
    )
    for code in codes:
        for kind, cards in priced:
            for i, card in enumerate(cards):
                if not plan_model.priced_in(card, code):
                    raise _fail(
                        f"{ROOT}.{kind}[{i}] ({card.name}) has no rates in {code}: add them before activating {code}"
                    )
        commitment = model.minimum_commitment
        if commitment is not None and not plan_model.priced_in(commitment, code):
            raise _fail(f"{ROOT}.minimumCommitment has no rate in {code}: add it before activating {code}")
        for i, grant in enumerate(model.credit_grant_cards):
            if not plan_model.priced_in(grant, code):
                raise _fail(
                    f"{ROOT}.creditGrantRateCards[{i}] ({grant.name}) has no rates in {code}: add them "
                    f"before activating {code}"
                )
    return codes
