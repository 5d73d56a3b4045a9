"""From a plan's stored rate cards (Togai's JSON shapes) to the pure rating engine's inputs, per currency.

Pricing reads a plan's cards as typed values (catalog/plan_model.py) through these functions, so the mapping from
`slabConfig` / `rateConfig` strings (open maps of text, by the contract) to numbers lives in one place.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from meterline import rating
from meterline.catalog import plan_model
from meterline.catalog.plan_model import RateCard, SlabCard
from meterline.catalog.plan_schemas import (
    BillingEntitlementRateCard,
    CreditGrantRateCard,
    EntitlementOverageRateCard,
    FixedFeeRateCard,
    MinimumCommitment,
)
from meterline.core import numbers

SLAB_CONFIG_KEYS = frozenset({"packageSize"})
RATE_CONFIG_KEYS = frozenset({"minimumRate", "maximumRate"})
RECURRING = (FixedFeeRateCard, CreditGrantRateCard, BillingEntitlementRateCard)  # the cards with a recurrenceConfig


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


def applies(card: RateCard, index: int) -> bool:
    """Whether a card bills in the schedule's cycle `index` (from 0): ONE_TIME cards in the first cycle; RECURRING
    ones (and cards without a type) every cycle, or every `interval` cycles from the `offset`-th (recurrenceConfig).
    An overage card bills the cycle that ends its billing period (`overage_period`)."""
    if isinstance(card, EntitlementOverageRateCard):
        first, end = overage_period(card, index)
        return index == end - 1
    if isinstance(card, (FixedFeeRateCard, CreditGrantRateCard)) and card.type == "ONE_TIME":
        return index == 0
    config = card.recurrence_config if isinstance(card, RECURRING) else None
    interval = (config.interval if config else None) or 1
    offset = (config.offset if config else None) or 0
    return index >= offset and (index - offset) % interval == 0


def overage_period(card: EntitlementOverageRateCard, index: int) -> tuple[int, int]:
    """The billing period of an entitlement overage card that holds cycle `index`, as cycle numbers [first, end):
    every `interval` cycles from the `startOffset`-th (billingConfig); the cycles before `startOffset` are one
    shorter first period."""
    config = card.billing_config
    interval = (config.interval if config else None) or 1
    offset = (config.start_offset if config else None) or 0
    if index < offset:
        return 0, offset
    first = offset + (index - offset) // interval * interval
    return first, first + interval


def slab_rate_plan(card: SlabCard, currency: str, where: str) -> rating.RatePlan:
    """A usage, license or entitlement card's `ratePlan` with its `rateValues` of `currency` (must exist)."""
    value = plan_model.rate_value(card, currency)
    if value is None:
        raise CardError(f"{where}.rateValues: no rates for {currency}")
    rates = {r.order: r for r in value.slab_rates}
    slabs = []
    for i, slab in enumerate(card.rate_plan.slabs):
        here = f"{where}.ratePlan.slabs[{i}]"
        check_config(slab.slab_config, SLAB_CONFIG_KEYS, f"{here}.slabConfig")
        rate = rates.get(slab.order)
        if rate is None:
            raise CardError(f"{where}.rateValues ({currency}): no slabRate for slab order {slab.order}")
        rate_where = f"{where}.rateValues ({currency}).slabRates (order {slab.order}).slabRateConfig"
        check_config(rate.slab_rate_config, RATE_CONFIG_KEYS, rate_where)
        slabs.append(
            rating.Slab(
                order=slab.order,
                start_after=slab.start_after,
                price_type=slab.price_type,
                rate=rate.rate,
                package_size=_number(slab.slab_config, "packageSize", f"{here}.slabConfig"),
                minimum_rate=_number(rate.slab_rate_config, "minimumRate", rate_where),
                maximum_rate=_number(rate.slab_rate_config, "maximumRate", rate_where),
            )
        )
    extra = sorted(set(rates) - {s.order for s in card.rate_plan.slabs})
    if extra:
        raise CardError(f"{where}.rateValues ({currency}): slabRate order {extra[0]} matches no slab")
    config_where = f"{where}.rateValues ({currency}).rateConfig"
    check_config(value.rate_config, RATE_CONFIG_KEYS, config_where)
    return rating.RatePlan(
        pricing_model=card.rate_plan.pricing_model,
        slabs=tuple(slabs),
        minimum_rate=_number(value.rate_config, "minimumRate", config_where),
        maximum_rate=_number(value.rate_config, "maximumRate", config_where),
    )


def credit_grant_rate_plan(card: CreditGrantRateCard, currency: str, where: str) -> tuple[rating.RatePlan, Decimal]:
    """A credit-grant card's price (slabs numbered in list order) and the credit it grants, in `currency`."""
    detail = plan_model.credit_detail(card, currency)
    if detail is None:
        raise CardError(f"{where}.rateDetails.currencySlabRateDetails: no rates for {currency}")
    slabs = []
    for i, slab in enumerate(detail.slab_details):
        here = f"{where}.rateDetails ({currency}).slabDetails[{i}]"
        check_config(slab.slab_config, SLAB_CONFIG_KEYS, f"{here}.slabConfig")
        check_config(slab.slab_rate_config, RATE_CONFIG_KEYS, f"{here}.slabRateConfig")
        slabs.append(
            rating.Slab(
                order=i + 1,
                start_after=slab.start_after,
                price_type=slab.price_type,
                rate=slab.rate,
                package_size=_number(slab.slab_config, "packageSize", f"{here}.slabConfig"),
                minimum_rate=_number(slab.slab_rate_config, "minimumRate", f"{here}.slabRateConfig"),
                maximum_rate=_number(slab.slab_rate_config, "maximumRate", f"{here}.slabRateConfig"),
            )
        )
    config_where = f"{where}.rateDetails ({currency}).rateConfig"
    check_config(detail.rate_config, RATE_CONFIG_KEYS, config_where)
    plan = rating.RatePlan(
        pricing_model=card.rate_details.pricing_model,
        slabs=tuple(slabs),
        minimum_rate=_number(detail.rate_config, "minimumRate", config_where),
        maximum_rate=_number(detail.rate_config, "maximumRate", config_where),
    )
    return plan, detail.credit_amount


def flat_rate(card: FixedFeeRateCard | MinimumCommitment, currency: str, where: str) -> Decimal:
    """A fixed fee's or a minimum commitment's `rateValues[{currency, rate}]` rate in `currency`."""
    value = plan_model.flat_rate_value(card, currency)
    if value is None:
        raise CardError(f"{where}.rateValues: no rate for {currency}")
    return value.rate
