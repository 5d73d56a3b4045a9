"""PriceExperimentationApi (the revenue calculator) models, field for field as the SDK has them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StrictInt, StringConstraints

from meterline.catalog.plan_schemas import (
    BillingEntitlementRateCard,
    CreatePricePlanDetails,
    CreditGrantRateCard,
    EntitlementOverageRateCard,
    FixedFeeRateCard,
    LicenseRateCard,
    MinimumCommitment,
    PricePlanDetails,
    UsageRateCard,
)
from meterline.core.numbers import BoundedInt
from meterline.core.schemas import Number, NumberIn, RequestModel, ResponseModel, UtcDatetime

Id = Annotated[str, StringConstraints(min_length=1, max_length=255)]


class CurrencyConfig(RequestModel):
    mode: Literal["CUSTOM", "ACCOUNT_INVOICE"]
    currency: Annotated[str, StringConstraints(min_length=1, max_length=3)] | None = None
    account_id: Id | None = None


class PricePlanDetailsConfig(RequestModel):
    mode: Literal["CUSTOM", "PRICE_PLAN", "ACCOUNT"]
    price_plan_details: CreatePricePlanDetails | None = None
    price_plan_id: Id | None = None
    account_id: Id | None = None
    effective_on: UtcDatetime | None = None
    pricing_cycle_ordinal: StrictInt | None = None


class LookupRange(RequestModel):
    start: UtcDatetime
    end: UtcDatetime
    account_id: Id


class LookupCycle(RequestModel):
    cycle_effective_on: UtcDatetime | None = None
    account_id: Id


class UsageConfig(RequestModel):
    mode: Literal["CUSTOM", "LOOKUP_RANGE", "LOOKUP_CYCLE"]
    usage_map: (
        Annotated[dict[Annotated[str, StringConstraints(max_length=50)], NumberIn], Field(max_length=100)] | None
    ) = None
    lookup_range: LookupRange | None = None
    lookup_cycle: LookupCycle | None = None


class LicenseEntry(RequestModel):
    license_id: Id
    quantity: BoundedInt
    effective_from: UtcDatetime


class LicenseEntriesConfig(RequestModel):
    mode: Literal["CUSTOM", "LOOKUP_RANGE", "LOOKUP_CYCLE"]
    custom: Annotated[list[LicenseEntry], Field(max_length=1000)] | None = None
    lookup_range: LookupRange | None = None
    lookup_cycle: LookupCycle | None = None


class NamedLicenseEntry(RequestModel):
    license_id: Id
    # the SDK types a seat's name as an int (a model oddity, docs/api.md): an int or a name is taken
    name: BoundedInt | Annotated[str, StringConstraints(min_length=1, max_length=50)]
    effective_from: UtcDatetime
    effective_until: UtcDatetime | None = None


class NamedLicenseEntriesConfig(RequestModel):
    mode: Literal["CUSTOM", "LOOKUP_RANGE", "LOOKUP_CYCLE"]
    custom: Annotated[list[NamedLicenseEntry], Field(max_length=1000)] | None = None
    lookup_range: LookupRange | None = None
    lookup_cycle: LookupCycle | None = None


class ProrationCustomConfig(RequestModel):
    cycle_start_date: UtcDatetime
    cycle_end_date: UtcDatetime
    current_date: UtcDatetime


class ProrationLookupCycleConfig(RequestModel):
    current_date_time: UtcDatetime | None = None
    cycle_effective_on: UtcDatetime | None = None
    account_id: Id


class ProrationConfig(RequestModel):
    mode: Literal["CUSTOM", "LOOKUP_CYCLE"]
    custom_config: ProrationCustomConfig | None = None
    lookup_cycle_config: ProrationLookupCycleConfig | None = None


class EntitlementOverageEntry(RequestModel):
    feature_id: Id
    quantity: NumberIn


class EntitlementOverageConfigLookupCycle(RequestModel):
    billing_cycle_end_date: UtcDatetime
    account_id: Id


class EntitlementOverageConfig(RequestModel):
    mode: Literal["CUSTOM", "LOOKUP_CYCLE"]
    custom: Annotated[list[EntitlementOverageEntry], Field(max_length=50)] | None = None
    lookup_cycle: EntitlementOverageConfigLookupCycle | None = None


class CalculateRevenueRequest(RequestModel):
    currency_config: CurrencyConfig
    price_plan_details_config: PricePlanDetailsConfig
    usage_config: UsageConfig
    license_entries_config: LicenseEntriesConfig
    named_license_entries_config: NamedLicenseEntriesConfig | None = None
    proration_config: ProrationConfig | None = None
    entitlement_overage_config: EntitlementOverageConfig | None = None


# -- responses -------------------------------------------------------------------------------------------------------
class SlabRevenueMetadata(ResponseModel):
    minimum_rate_applied: bool | None = None
    maximum_rate_applied: bool | None = None
    package_quantity: int | None = None


class SlabRevenueSummary(ResponseModel):
    order: int
    usage: Number
    revenue: Number
    metadata: SlabRevenueMetadata | None = None


class RevenueSummary(ResponseModel):
    revenue: Number


class RevenueInfoBase(ResponseModel):
    usages: dict[str, Number]
    fixed_fee_revenue_summary: RevenueSummary | None = None
    license_revenue_summary: list[SlabRevenueSummary] | None = None
    credit_grant_revenue_summary: RevenueSummary | None = None
    billing_entitlement_revenue_summary: RevenueSummary | None = None
    entitlement_overage_revenue_summary: RevenueSummary | None = None
    slab_revenue_summaries: list[SlabRevenueSummary] | None = None
    # Meterline additions: the card's whole revenue, and what its rateConfig minimum / maximum added or took.
    revenue: Number | None = None
    rate_config_adjustment: Number | None = None
    # what the plan's pricing rules changed of the card (revenue after - before; `revenue` is after them)
    pricing_rule_adjustment: Number | None = None


class RevenueInfo(RevenueInfoBase):
    usage_rate_card: UsageRateCard | None = None
    fixed_fee_rate_card: FixedFeeRateCard | None = None
    license_rate_card: LicenseRateCard | None = None
    credit_grant_rate_card: CreditGrantRateCard | None = None
    billing_entitlement_rate_card: BillingEntitlementRateCard | None = None
    entitlement_overage_rate_card: EntitlementOverageRateCard | None = None


class RateCardDetails(ResponseModel):
    fixed_fee_rate_card: FixedFeeRateCard | None = None
    credit_grant_rate_card: CreditGrantRateCard | None = None
    usage_rate_card: UsageRateCard | None = None
    license_rate_card: LicenseRateCard | None = None
    billing_entitlement_rate_card: BillingEntitlementRateCard | None = None
    entitlement_overage_rate_card: EntitlementOverageRateCard | None = None
    minimum_commitment_rate_card: MinimumCommitment | None = None


RateCardType = Literal[
    "USAGE",
    "FIXED_FEE",
    "LICENSE",
    "CREDIT_GRANT",
    "BILLING_ENTITLEMENT",
    "ENTITLEMENT_OVERAGE",
    "MINIMUM_COMMITMENT",
]


class RateCard(ResponseModel):
    billable_id: str
    type: RateCardType
    display_name: str
    invoice_timing: Literal["IN_ADVANCE", "IN_ARREARS", "PREPAID"]
    rate_card_details: RateCardDetails
    tag: str | None = None
    name: str
    reference_id: str
    reference_type: str
    currencies: list[str] | None = None
    price_plan_id: str
    account_id: str | None = None


class RevenueInfoV2(RevenueInfoBase):
    rate_card: RateCard


class UsageLookupRange(ResponseModel):
    start: datetime
    end: datetime


class CalculateRevenueResponse(ResponseModel):
    currency: str
    usage_lookup_range: UsageLookupRange | None = None
    price_plan_details: PricePlanDetails
    revenue_info: list[RevenueInfo]
    # Meterline addition: each pricing rule's outcome (as GET /invoice/{id}/pricing_rules_logs has it)
    pricing_rules: list[dict[str, Any]] | None = None


class CalculateRevenueResponseV2(ResponseModel):
    currency: str
    usage_lookup_range: UsageLookupRange | None = None
    revenue_info: list[RevenueInfoV2]
    pricing_rules: list[dict[str, Any]] | None = None
