"""PricePlanV2Api models, field for field as the togai-client SDK has them (docs/pricing.md, "Price plans v2").

The cards inside `rateCardDetails` are v1's own card models (catalog/plan_schemas.py): a v2 card is a v1 card.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StrictBool

from meterline.catalog.plan_schemas import (
    BillingEntitlementRateCard,
    CreatePricingRules,
    CreditGrantRateCard,
    Currency,
    EntitlementOverageRateCard,
    FixedFeeRateCard,
    InvoiceTiming,
    LicenseRateCard,
    MigrationMode,
    MinimumCommitment,
    PlanType,
    PricingCycleConfig,
    PricingRuleOut,
    UsageRateCard,
)
from meterline.catalog.plan_v2 import RateCardType
from meterline.core.schemas import RequestModel, ResponseModel, trimmed


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


# A rate card's name or a billable id: kept as sent (operations find cards by it), but never only spaces.
Name = Annotated[str, Field(min_length=1, max_length=50), AfterValidator(_not_blank)]


class CreatePricePlanV2Request(RequestModel):
    name: trimmed(1, 50)  # type: ignore[valid-type]
    description: Annotated[str, Field(max_length=255)] | None = None
    type: PlanType
    pricing_cycle_config: PricingCycleConfig | None = None
    supported_currencies: Annotated[list[Currency], Field(min_length=1, max_length=20)]
    deferred_revenue: StrictBool | None = None
    allow_ongoing_cycle_updates: StrictBool | None = None


class UpdatePricePlanV2Request(RequestModel):
    description: Annotated[str, Field(max_length=255)] | None = None
    pricing_cycle_config: PricingCycleConfig | None = None
    supported_currencies: Annotated[list[Currency], Field(min_length=1, max_length=20)] | None = None


class RateCardDetailsIn(RequestModel):
    fixed_fee_rate_card: FixedFeeRateCard | None = None
    billing_entitlement_rate_card: BillingEntitlementRateCard | None = None
    credit_grant_rate_card: CreditGrantRateCard | None = None
    usage_rate_card: UsageRateCard | None = None
    license_rate_card: LicenseRateCard | None = None
    entitlement_overage_rate_card: EntitlementOverageRateCard | None = None
    minimum_commitment_rate_card: MinimumCommitment | None = None


class RateCardData(RequestModel):
    billable_id: Name
    type: RateCardType
    display_name: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    invoice_timing: InvoiceTiming
    rate_card_details: RateCardDetailsIn
    tag: Annotated[str, Field(max_length=50)] | None = None


class RateCardOperation(RequestModel):
    action_type: Literal["CREATE", "UPDATE", "DELETE"]
    rate_card_name: Name
    rate_card: RateCardData | None = None


class BulkRateCardOperationsRequest(RequestModel):
    operations: Annotated[list[RateCardOperation], Field(min_length=1, max_length=50)]


class UpdatePricingRulesRequest(RequestModel):
    pricing_rules: CreatePricingRules | None = None


class FinalizePricePlanRequest(RequestModel):
    migration_mode: MigrationMode | None = None
    versions_to_migrate: Literal["LATEST_VERSION", "ALL_VERSION"] | None = None


# -- responses -------------------------------------------------------------------------------------------------------
class PricePlanV2(ResponseModel):
    name: str
    description: str | None = None
    type: PlanType
    pricing_cycle_config: PricingCycleConfig | None = None
    supported_currencies: list[str]
    deferred_revenue: bool | None = None
    allow_ongoing_cycle_updates: bool | None = None
    id: str
    reference_id: str
    version: int
    status: Literal["DRAFT", "ACTIVE"]
    created_at: datetime
    updated_at: datetime


class PricePlanV2PaginatedResponse(ResponseModel):
    data: list[PricePlanV2]
    next_token: str | None = None


class RateCardDetails(ResponseModel):
    fixed_fee_rate_card: FixedFeeRateCard | None = None
    billing_entitlement_rate_card: BillingEntitlementRateCard | None = None
    credit_grant_rate_card: CreditGrantRateCard | None = None
    usage_rate_card: UsageRateCard | None = None
    license_rate_card: LicenseRateCard | None = None
    entitlement_overage_rate_card: EntitlementOverageRateCard | None = None
    minimum_commitment_rate_card: MinimumCommitment | None = None


class RateCard(ResponseModel):
    billable_id: str
    type: RateCardType
    display_name: str
    invoice_timing: InvoiceTiming
    rate_card_details: RateCardDetails
    tag: str | None = None
    name: str
    reference_id: str
    reference_type: str
    currencies: list[str] | None = None
    price_plan_id: str
    account_id: str | None = None


class BulkRateCardOperationsResponse(ResponseModel):
    rate_cards: list[RateCard]


class RateCardPaginatedResponse(ResponseModel):
    data: list[RateCard]
    next_token: str | None = None


class PricingRulesPaginatedResponse(ResponseModel):
    data: list[PricingRuleOut]


class ValidatedEntityError(ResponseModel):
    reference_id: str
    entity_id: str
    entity_type: str
    error_message: str


class ValidatedEntityErrorsPaginatedResponse(ResponseModel):
    data: list[ValidatedEntityError]
    next_token: str | None = None
