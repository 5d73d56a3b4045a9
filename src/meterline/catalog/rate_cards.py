"""From a plan's stored rate cards (Togai's JSON shapes) to the pure rating engine's inputs, per currency.

The plan keeps its details as the JSON the API speaks (camelCase, exact decimals); pricing reads them through
these functions, so the mapping from `slabConfig` / `rateConfig` strings to numbers lives in one place.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from meterline import rating
from meterline.core import numbers

SLAB_CONFIG_KEYS = frozenset({"packageSize"})
RATE_CONFIG_KEYS = frozenset({"minimumRate", "maximumRate"})


class CardError(ValueError):
    """A card that cannot be priced; the message names the field (`where`) and says what to fix."""


def _number(config: dict[str, str] | None, key: str, where: str) -> Decimal | None:
    if not config or config.get(key) is None:
        return None
    try:
        value = numbers.bounded(Decimal(str(config[key])))
    except InvalidOperation:
        raise CardError(f"{where}.{key}: {config[key]!r} is not a number") from None
    except numbers.NumberError as exc:  # the one number rule (core/numbers.py), for numbers written as text
        raise CardError(f"{where}.{key}: {exc}") from None
    if value < 0:
        raise CardError(f"{where}.{key}: must be a number >= 0")
    return value


def check_config(config: dict[str, str] | None, allowed: frozenset[str], where: str) -> None:
    unknown = sorted(set(config or {}) - allowed)
    if unknown:
        raise CardError(f"{where}: unknown key {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")


def applies(card: dict[str, Any], index: int) -> bool:
    """Whether a card bills in the schedule's cycle `index` (from 0): ONE_TIME cards in the first cycle; RECURRING
    ones (and cards without a type) every cycle, or every `interval` cycles from the `offset`-th (recurrenceConfig).
    An overage card bills the cycle that ends its billing period (`overage_period`)."""
    if "billingConfig" in card:
        first, end = overage_period(card, index)
        return index == end - 1
    if card.get("type") == "ONE_TIME":
        return index == 0
    config = card.get("recurrenceConfig") or {}
    interval, offset = config.get("interval") or 1, config.get("offset") or 0
    return index >= offset and (index - offset) % interval == 0


def overage_period(card: dict[str, Any], index: int) -> tuple[int, int]:
    """The billing period of an entitlement overage card that holds cycle `index`, as cycle numbers [first, end):
    every `interval` cycles from the `startOffset`-th (billingConfig); the cycles before `startOffset` are one
    shorter first period."""
    config = card.get("billingConfig") or {}
    interval, offset = config.get("interval") or 1, config.get("startOffset") or 0
    if index < offset:
        return 0, offset
    first = offset + (index - offset) // interval * interval
    return first, first + interval


def rate_value_for(card: dict[str, Any], currency: str) -> dict[str, Any] | None:
    return next((v for v in card.get("rateValues", ()) if v["currency"] == currency), None)


def slab_rate_plan(card: dict[str, Any], currency: str, where: str) -> rating.RatePlan:
    """A usage or license card's `ratePlan` with its `rateValues` of `currency` (must exist)."""
    value = rate_value_for(card, currency)
    if value is None:
        raise CardError(f"{where}.rateValues: no rates for {currency}")
    rates = {r["order"]: r for r in value["slabRates"]}
    slabs = []
    for i, slab in enumerate(card["ratePlan"]["slabs"]):
        here = f"{where}.ratePlan.slabs[{i}]"
        check_config(slab.get("slabConfig"), SLAB_CONFIG_KEYS, f"{here}.slabConfig")
        rate = rates.get(slab["order"])
        if rate is None:
            raise CardError(f"{where}.rateValues ({currency}): no slabRate for slab order {slab['order']}")
        rate_where = f"{where}.rateValues ({currency}).slabRates (order {slab['order']}).slabRateConfig"
        check_config(rate.get("slabRateConfig"), RATE_CONFIG_KEYS, rate_where)
        slabs.append(
            rating.Slab(
                order=slab["order"],
                start_after=Decimal(slab["startAfter"]),
                price_type=slab["priceType"],
                rate=Decimal(rate["rate"]),
                package_size=_number(slab.get("slabConfig"), "packageSize", f"{here}.slabConfig"),
                minimum_rate=_number(rate.get("slabRateConfig"), "minimumRate", rate_where),
                maximum_rate=_number(rate.get("slabRateConfig"), "maximumRate", rate_where),
            )
        )
    extra = sorted(set(rates) - {s["order"] for s in card["ratePlan"]["slabs"]})
    if extra:
        raise CardError(f"{where}.rateValues ({currency}): slabRate order {extra[0]} matches no slab")
    config_where = f"{where}.rateValues ({currency}).rateConfig"
    check_config(value.get("rateConfig"), RATE_CONFIG_KEYS, config_where)
    return rating.RatePlan(
        pricing_model=card["ratePlan"]["pricingModel"],
        slabs=tuple(slabs),
        minimum_rate=_number(value.get("rateConfig"), "minimumRate", config_where),
        maximum_rate=_number(value.get("rateConfig"), "maximumRate", config_where),
    )


def credit_grant_rate_plan(card: dict[str, Any], currency: str, where: str) -> tuple[rating.RatePlan, Decimal]:
    """A credit-grant card's price (slabs numbered in list order) and the credit it grants, in `currency`."""
    detail = next((d for d in card["rateDetails"]["currencySlabRateDetails"] if d["currency"] == currency), None)
    if detail is None:
        raise CardError(f"{where}.rateDetails.currencySlabRateDetails: no rates for {currency}")
    slabs = []
    for i, slab in enumerate(detail["slabDetails"]):
        here = f"{where}.rateDetails ({currency}).slabDetails[{i}]"
        check_config(slab.get("slabConfig"), SLAB_CONFIG_KEYS, f"{here}.slabConfig")
        check_config(slab.get("slabRateConfig"), RATE_CONFIG_KEYS, f"{here}.slabRateConfig")
        slabs.append(
            rating.Slab(
                order=i + 1,
                start_after=Decimal(slab["startAfter"]),
                price_type=slab["priceType"],
                rate=Decimal(slab["rate"]),
                package_size=_number(slab.get("slabConfig"), "packageSize", f"{here}.slabConfig"),
                minimum_rate=_number(slab.get("slabRateConfig"), "minimumRate", f"{here}.slabRateConfig"),
                maximum_rate=_number(slab.get("slabRateConfig"), "maximumRate", f"{here}.slabRateConfig"),
            )
        )
    config_where = f"{where}.rateDetails ({currency}).rateConfig"
    check_config(detail.get("rateConfig"), RATE_CONFIG_KEYS, config_where)
    plan = rating.RatePlan(
        pricing_model=card["rateDetails"]["pricingModel"],
        slabs=tuple(slabs),
        minimum_rate=_number(detail.get("rateConfig"), "minimumRate", config_where),
        maximum_rate=_number(detail.get("rateConfig"), "maximumRate", config_where),
    )
    return plan, Decimal(detail["creditAmount"])


def flat_rate(card: dict[str, Any], currency: str, where: str) -> Decimal:
    """A fixed fee's or a minimum commitment's `rateValues[{currency, rate}]` rate in `currency`."""
    value = rate_value_for(card, currency)
    if value is None:
        raise CardError(f"{where}.rateValues: no rate for {currency}")
    return Decimal(value["rate"])
