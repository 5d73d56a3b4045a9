"""Calculation -> the v1 and v2 response shapes."""

from __future__ import annotations

from typing import Any, cast

from meterline.catalog import plan_model
from meterline.catalog.plan_schemas import BillingEntitlementRateCard, EntitlementOverageRateCard, details_out
from meterline.core.money import EXACT
from meterline.revenue import schemas
from meterline.revenue.compute import CardRevenue
from meterline.revenue.service import Calculation

_CARD_FIELD = {
    "USAGE": "usage_rate_card",
    "LICENSE": "license_rate_card",
    "FIXED_FEE": "fixed_fee_rate_card",
    "CREDIT_GRANT": "credit_grant_rate_card",
    "BILLING_ENTITLEMENT": "billing_entitlement_rate_card",
    "ENTITLEMENT_OVERAGE": "entitlement_overage_rate_card",
}


def _billable(card: CardRevenue) -> str:
    """The billable a card prices: the meter, the add-on, or the feature of an entitlement card."""
    if isinstance(card.card, (BillingEntitlementRateCard, EntitlementOverageRateCard)):
        return card.card.feature_id
    return card.billable_id


def _slabs(card: CardRevenue) -> list[schemas.SlabRevenueSummary]:
    return [
        schemas.SlabRevenueSummary(
            order=s.order,
            usage=s.usage,
            revenue=s.revenue,
            metadata=schemas.SlabRevenueMetadata(
                minimum_rate_applied=s.minimum_rate_applied,
                maximum_rate_applied=s.maximum_rate_applied,
                package_quantity=s.package_quantity,
            ),
        )
        for s in (card.priced.slabs if card.priced else ())
    ]


def _summaries(card: CardRevenue, before: CardRevenue | None = None) -> dict[str, Any]:
    """A card's entry; `before`: the card as rated, when pricing rules changed it (slabs stay as rated)."""
    out: dict[str, Any] = {
        "usages": {_billable(card): card.quantity} if card.quantity is not None else {},
        "revenue": card.revenue,
        "rate_config_adjustment": card.priced.adjustment if card.priced else None,
    }
    if before is not None:
        out["pricing_rule_adjustment"] = EXACT.subtract(card.revenue, before.revenue)
    if card.kind == "USAGE":
        out["slab_revenue_summaries"] = _slabs(card)
    elif card.kind == "LICENSE":
        out["license_revenue_summary"] = _slabs(card)
    elif card.kind == "FIXED_FEE":
        out["fixed_fee_revenue_summary"] = schemas.RevenueSummary(revenue=card.revenue)
    elif card.kind == "BILLING_ENTITLEMENT":
        out["billing_entitlement_revenue_summary"] = schemas.RevenueSummary(revenue=card.revenue)
    elif card.kind == "ENTITLEMENT_OVERAGE":
        out["entitlement_overage_revenue_summary"] = schemas.RevenueSummary(revenue=card.revenue)
        out["slab_revenue_summaries"] = _slabs(card)
    else:
        out["credit_grant_revenue_summary"] = schemas.RevenueSummary(revenue=card.revenue)
    return out


def _range(calc: Calculation) -> schemas.UsageLookupRange | None:
    return schemas.UsageLookupRange(start=calc.usage_range[0], end=calc.usage_range[1]) if calc.usage_range else None


def response_v1(calc: Calculation) -> schemas.CalculateRevenueResponse:
    return schemas.CalculateRevenueResponse(
        currency=calc.currency,
        usage_lookup_range=_range(calc),
        price_plan_details=details_out(calc.details, calc.active_currencies, calc.plan_type),
        revenue_info=[
            schemas.RevenueInfo.model_validate({**_summaries(c, b), _CARD_FIELD[c.kind]: c.card})
            for c, b in _with_before(calc)
        ],
        pricing_rules=_rules_log(calc),
    )


def _with_before(calc: Calculation) -> list[tuple[CardRevenue, CardRevenue | None]]:
    if calc.ruled is None or not calc.ruled.outcomes:
        return [(c, None) for c in calc.cards]
    return list(zip(calc.cards, calc.ruled.before, strict=True))


def _rules_log(calc: Calculation) -> list[dict[str, Any]] | None:
    if calc.ruled is None or not calc.ruled.log:
        return None
    return [entry.to_json() for entry in calc.ruled.log]


def response_v2(calc: Calculation) -> schemas.CalculateRevenueResponseV2:
    reference_id, reference_type = calc.reference
    infos = []
    for c, before in _with_before(calc):
        rate_card = schemas.RateCard(
            billable_id=_billable(c),
            type=cast(schemas.RateCardType, c.kind),
            display_name=c.card.display_name or plan_model.card_name(c.card),
            invoice_timing=plan_model.timing(c.card),
            rate_card_details=schemas.RateCardDetails.model_validate({_CARD_FIELD[c.kind]: c.card}),
            tag=c.card.tag,
            name=plan_model.card_name(c.card),
            reference_id=reference_id,
            reference_type=reference_type,
            currencies=[calc.currency],
            price_plan_id=calc.plan_id,
            account_id=calc.account_id,
        )
        infos.append(schemas.RevenueInfoV2.model_validate({**_summaries(c, before), "rate_card": rate_card}))
    return schemas.CalculateRevenueResponseV2(
        currency=calc.currency, usage_lookup_range=_range(calc), revenue_info=infos, pricing_rules=_rules_log(calc)
    )
