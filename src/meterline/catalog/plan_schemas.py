"""PricePlansApi (v1) models, field for field as the togai-client SDK has them.

The rate-card shapes are shared by requests and responses: a plan is answered with the details it was given
(defaults filled in, `activeCurrencies` added), so what a client sends is what it reads back.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal, cast

from pydantic import Field, StrictBool, StrictInt, StringConstraints

from meterline.core.clock import END_OF_TIME
from meterline.core.numbers import BoundedInt
from meterline.core.schemas import NumberIn, PaginationOptions, RequestModel, ResponseModel, trimmed

if TYPE_CHECKING:
    from meterline.catalog.plan_service import PlanView

PricingModel = Literal["TIERED", "VOLUME"]
PriceType = Literal["FLAT", "PER_UNIT", "PACKAGE"]
InvoiceTiming = Literal["IN_ADVANCE", "IN_ARREARS", "PREPAID"]
Interval = Literal["WEEKLY", "MONTHLY", "QUARTERLY", "HALF_YEARLY", "ANNUALLY"]
PlanType = Literal["BILLING", "PURCHASE"]
PlanStatus = Literal["DRAFT", "ACTIVE", "ARCHIVED"]
MigrationMode = Literal[
    "IMMEDIATE",
    "IMMEDIATE_IGNORE_OVERRIDE",
    "NEXT_CYCLE",
    "NEXT_CYCLE_IGNORE_OVERRIDE",
    "NONE",
    "START_OF_CURRENT_CYCLE",
]
Currency = Annotated[str, StringConstraints(min_length=3, max_length=3)]
Text = Annotated[str, StringConstraints(max_length=255)]
Config = dict[Annotated[str, StringConstraints(max_length=50)], Annotated[str, StringConstraints(max_length=100)]]


class StartOffset(RequestModel):
    day_offset: Annotated[str, StringConstraints(min_length=1, max_length=4)]
    month_offset: Annotated[str, StringConstraints(min_length=1, max_length=5)]


class PricingCycleConfig(RequestModel):
    interval: Interval
    start_offset: StartOffset | None = None
    grace_period: Annotated[StrictInt, Field(ge=0, le=365)]
    anniversary_cycle: StrictBool | None = None


class Slab(RequestModel):
    order: Annotated[StrictInt, Field(ge=1, le=10)]
    start_after: NumberIn
    price_type: PriceType
    slab_config: Config | None = None


class RatePlan(RequestModel):
    pricing_model: PricingModel
    slabs: Annotated[list[Slab], Field(min_length=1, max_length=10)]


class SlabRate(RequestModel):
    order: StrictInt
    rate: NumberIn
    slab_rate_config: Config | None = None


class RateValue(RequestModel):
    currency: Currency
    slab_rates: Annotated[list[SlabRate], Field(min_length=1, max_length=10)]
    rate_config: Config | None = None


class CurrencyRateValue(RequestModel):
    currency: Currency
    rate: NumberIn


class RecurrenceConfig(RequestModel):
    interval: Annotated[StrictInt, Field(ge=1, le=120)] | None = None
    offset: Annotated[StrictInt, Field(ge=0, le=120)] | None = None


class UsageRateCard(RequestModel):
    display_name: Text | None = None
    name: Annotated[str, StringConstraints(min_length=1, max_length=50)] | None = None
    tag: Annotated[str, StringConstraints(max_length=50)] | None = None
    usage_meter_id: Annotated[str, StringConstraints(min_length=1, max_length=50)]
    rate_plan: RatePlan
    rate_values: Annotated[list[RateValue], Field(min_length=1, max_length=20)]


class FixedFeeRateCard(RequestModel):
    id: Annotated[str, StringConstraints(min_length=1, max_length=50)]
    display_name: Text | None = None
    name: Annotated[str, StringConstraints(min_length=1, max_length=50)] | None = None
    tag: Annotated[str, StringConstraints(max_length=50)] | None = None
    invoice_timing: InvoiceTiming | None = None
    type: Literal["ONE_TIME", "RECURRING"] | None = None
    rate_values: Annotated[list[CurrencyRateValue], Field(min_length=1, max_length=20)]
    enable_proration: StrictBool
    recurrence_config: RecurrenceConfig | None = None


class LicenseRateCardConfig(RequestModel):
    max_quantity: Annotated[BoundedInt, Field(ge=0)] | None = None
    max_quantity_breach_action: Literal["DO_NOTHING"] | None = None


class LicenseRateCard(RequestModel):
    id: Annotated[str, StringConstraints(min_length=1, max_length=50)]
    type: Literal["LICENSE", "FIXED_FEE", "CREDIT_GRANT", "NAMED_LICENSE"] | None = None
    display_name: Text | None = None
    name: Annotated[str, StringConstraints(min_length=1, max_length=50)] | None = None
    tag: Annotated[str, StringConstraints(max_length=50)] | None = None
    invoice_timing: InvoiceTiming | None = None
    usage_cycle: Interval | None = None
    enable_proration: StrictBool
    config: LicenseRateCardConfig | None = None
    rate_plan: RatePlan
    rate_values: Annotated[list[RateValue], Field(min_length=1, max_length=20)]
    prorated_refund_mode: Literal["NONE", "CREDITS", "PAYMENT", "WALLET"] | None = None


class MinimumCommitment(RequestModel):
    display_name: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    # Meterline's addition: the commitment's name as a v2 rate card, when v2 gave it one (else minimum_commitment)
    name: Annotated[str, StringConstraints(min_length=1, max_length=50)] | None = None
    rate_values: Annotated[list[CurrencyRateValue], Field(min_length=1, max_length=20)]


class GrantDetails(RequestModel):
    priority: Annotated[StrictInt, Field(ge=0, le=1000)]
    expiry_type: Literal["PRICING_CYCLE", "NO_EXPIRY", "CUSTOM"]
    expiry_duration: Annotated[str, StringConstraints(max_length=50)] | None = None
    applicable_entity_ids: (
        Annotated[list[Annotated[str, StringConstraints(max_length=100)]], Field(max_length=100)] | None
    ) = None


class SlabDetail(RequestModel):
    start_after: NumberIn
    price_type: PriceType
    slab_config: Config | None = None
    rate: NumberIn
    slab_rate_config: Config | None = None


class CurrencySlabRateDetail(RequestModel):
    currency: Currency
    credit_amount: NumberIn
    slab_details: Annotated[list[SlabDetail], Field(min_length=1, max_length=10)]
    rate_config: Config | None = None


class CreditRateDetails(RequestModel):
    pricing_model: PricingModel
    currency_slab_rate_details: Annotated[list[CurrencySlabRateDetail], Field(min_length=1, max_length=20)]


class CreditGrantRateCard(RequestModel):
    id: Annotated[str, StringConstraints(min_length=1, max_length=50)]
    display_name: Text | None = None
    name: Annotated[str, StringConstraints(min_length=1, max_length=50)] | None = None
    tag: Annotated[str, StringConstraints(max_length=50)] | None = None
    grant_details: GrantDetails
    rate_details: CreditRateDetails
    invoice_timing: InvoiceTiming | None = None
    type: Literal["ONE_TIME", "RECURRING"] | None = None
    recurrence_config: RecurrenceConfig | None = None


class FeatureConfig(RequestModel):
    """Units of the feature granted each cycle, usable from `effectiveFrom` to `effectiveUntil`: ISO 8601 durations
    counted from the grant (the cycle's start), e.g. P0D and P1M."""

    effective_from: Annotated[str, StringConstraints(max_length=50)] | None = None
    effective_until: Annotated[str, StringConstraints(min_length=1, max_length=50)]
    feature_credit_limit: NumberIn


class BillingEntitlementRateCard(RequestModel):
    feature_id: Annotated[str, StringConstraints(min_length=1, max_length=50)]
    feature_configs: Annotated[list[FeatureConfig], Field(min_length=1, max_length=10)]
    tag: Annotated[str, StringConstraints(max_length=50)] | None = None
    invoice_timing: InvoiceTiming
    display_name: Text | None = None
    name: Annotated[str, StringConstraints(min_length=1, max_length=50)] | None = None
    rate_plan: RatePlan
    rate_values: Annotated[list[RateValue], Field(min_length=1, max_length=20)]
    recurrence_config: RecurrenceConfig | None = None


class BillingConfig(RequestModel):
    interval: Annotated[StrictInt, Field(ge=1, le=120)] | None = None
    start_offset: Annotated[StrictInt, Field(ge=0, le=120)] | None = None


class EntitlementOverageRateCard(RequestModel):
    feature_id: Annotated[str, StringConstraints(min_length=1, max_length=50)]
    display_name: Text | None = None
    name: Annotated[str, StringConstraints(min_length=1, max_length=50)] | None = None
    tag: Annotated[str, StringConstraints(max_length=50)] | None = None
    max_quantity: NumberIn | None = None
    rate_plan: RatePlan
    rate_values: Annotated[list[RateValue], Field(min_length=1, max_length=20)]
    billing_config: BillingConfig | None = None


RuleTiming = Literal["IN_ADVANCE", "IN_ARREARS"]
MAX_PRICING_RULES = 20  # per plan version (or override): each rule is evaluated on every invoice of the plan
MAX_RULE_LOGIC_CHARS = 10_000  # a rule's condition or computation, as JSON text


class PricingRuleAction(RequestModel):
    type: Literal["ADD", "UPDATE"]
    target: Annotated[str, StringConstraints(max_length=200)] | None = None
    id: Annotated[str, StringConstraints(max_length=100)] | None = None
    description: Text | None = None
    metadata: Annotated[dict[Annotated[str, StringConstraints(max_length=50)], Text], Field(max_length=20)] | None = (
        None
    )


class CreatePricingRule(RequestModel):
    """A pricing rule as a client writes it (docs/pricing.md, "Pricing rules")."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    order: Annotated[StrictInt, Field(ge=1, le=1000)]
    invoice_timing: RuleTiming | None = None
    condition: Annotated[str, StringConstraints(max_length=MAX_RULE_LOGIC_CHARS)] | None = None
    computation: Annotated[str, StringConstraints(min_length=1, max_length=MAX_RULE_LOGIC_CHARS)]
    action: PricingRuleAction


class PricingRule(CreatePricingRule):
    """A rule as stored in the details' `pricingRules` (and answered): with its id and version."""

    id: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    version: Annotated[StrictInt, Field(ge=1)] | None = None


PricingRules = Annotated[list[PricingRule], Field(max_length=MAX_PRICING_RULES)]
CreatePricingRules = Annotated[list[CreatePricingRule], Field(max_length=MAX_PRICING_RULES)]


class CreatePricePlanDetails(RequestModel):
    pricing_cycle_config: PricingCycleConfig | None = None
    supported_currencies: Annotated[list[Currency], Field(min_length=1, max_length=20)]
    usage_rate_cards: Annotated[list[UsageRateCard], Field(max_length=50)] | None = None
    fixed_fee_rate_cards: Annotated[list[FixedFeeRateCard], Field(max_length=50)] | None = None
    license_rate_cards: Annotated[list[LicenseRateCard], Field(max_length=50)] | None = None
    billing_entitlement_rate_cards: Annotated[list[BillingEntitlementRateCard], Field(max_length=50)] | None = None
    minimum_commitment: MinimumCommitment | None = None
    credit_grant_rate_cards: Annotated[list[CreditGrantRateCard], Field(max_length=50)] | None = None
    entitlement_overage_rate_cards: Annotated[list[EntitlementOverageRateCard], Field(max_length=50)] | None = None
    deferred_revenue: StrictBool | None = None
    allow_ongoing_cycle_updates: StrictBool | None = Field(default=None, alias="allow_ongoing_cycle_updates")
    # Where a version's rules are stored (the SDK sends them beside the details, `pricingRules` of the request;
    # the API answers them in `pricingSchedule[].pricingRules`): docs/pricing.md, "Pricing rules".
    pricing_rules: PricingRules | None = None


class CreatePricePlanDetailsOverride(RequestModel):
    """Every field optional: what is given replaces the plan's own."""

    pricing_cycle_config: PricingCycleConfig | None = None
    supported_currencies: Annotated[list[Currency], Field(min_length=1, max_length=20)] | None = None
    usage_rate_cards: Annotated[list[UsageRateCard], Field(max_length=50)] | None = None
    billing_entitlement_rate_cards: Annotated[list[BillingEntitlementRateCard], Field(max_length=50)] | None = None
    entitlement_overage_rate_cards: Annotated[list[EntitlementOverageRateCard], Field(max_length=50)] | None = None
    fixed_fee_rate_cards: Annotated[list[FixedFeeRateCard], Field(max_length=50)] | None = None
    license_rate_cards: Annotated[list[LicenseRateCard], Field(max_length=50)] | None = None
    minimum_commitment: MinimumCommitment | None = None
    credit_grant_rate_cards: Annotated[list[CreditGrantRateCard], Field(max_length=50)] | None = None


class CreatePricePlanRequest(RequestModel):
    name: trimmed(1, 50)  # type: ignore[valid-type]
    description: Annotated[str, StringConstraints(max_length=255)] | None = None
    type: PlanType | None = None
    price_plan_details: CreatePricePlanDetails
    pricing_rules: CreatePricingRules | None = None


class UpdatePricePlanRequest(RequestModel):
    migration_mode: MigrationMode | None = None
    versions_to_migrate: Literal["LATEST_VERSION", "ALL_VERSION"] | None = None
    description: Annotated[str, StringConstraints(max_length=255)] | None = None
    price_plan_details: CreatePricePlanDetailsOverride | None = None
    pricing_rules: CreatePricingRules | None = None


class ActivatePricePlanRequest(RequestModel):
    currencies: Annotated[list[Currency], Field(min_length=1, max_length=20)]


# -- responses -------------------------------------------------------------------------------------------------------
class PricingRuleActionOut(ResponseModel):
    type: Literal["ADD", "UPDATE"]
    target: str | None = None
    id: str | None = None
    description: str | None = None
    metadata: dict[str, str] | None = None


class PricingRuleOut(ResponseModel):
    id: str
    name: str
    version: int
    invoice_timing: RuleTiming | None = None
    order: int
    condition: str | None = None
    computation: str
    action: PricingRuleActionOut


class PricePlanDetails(ResponseModel):
    supported_currencies: list[str]
    active_currencies: list[str]
    pricing_cycle_config: PricingCycleConfig | None = None
    usage_rate_cards: list[UsageRateCard] | None = None
    fixed_fee_rate_cards: list[FixedFeeRateCard] | None = None
    license_rate_cards: list[LicenseRateCard] | None = None
    billing_entitlement_rate_cards: list[BillingEntitlementRateCard] | None = None
    entitlement_overage_rate_cards: list[EntitlementOverageRateCard] | None = None
    minimum_commitment: MinimumCommitment | None = None
    credit_grant_rate_cards: list[CreditGrantRateCard] | None = None
    type: PlanType | None = None
    deferred_revenue: bool | None = None
    allow_ongoing_cycle_updates: bool | None = Field(default=None, alias="allow_ongoing_cycle_updates")


class PricingSchedule(ResponseModel):
    """One version of a plan, in force from startDate (when it was made) to endDate (when the next one was)."""

    id: str
    price_plan_details: PricePlanDetails | None = None
    start_date: datetime
    end_date: datetime
    version: int
    pricing_rules: list[PricingRuleOut] | None = None
    is_overriden: bool


class PricePlan(ResponseModel):
    id: str
    name: str
    type: PlanType
    description: str | None = None
    status: PlanStatus
    pricing_schedule: list[PricingSchedule]


class PricePlanListData(ResponseModel):
    id: str
    name: str
    version: int
    description: str | None = None
    status: PlanStatus
    usage_meters: list[str]
    price_plan_details: PricePlanDetails
    pricing_rules: list[PricingRuleOut] | None = None
    created_at: datetime
    updated_at: datetime
    type: PlanType


class PricingRulesPaginatedResponse(ResponseModel):
    data: list[PricingRuleOut]


class PricePlanPaginatedResponse(ResponseModel):
    data: list[PricePlanListData]
    next_token: str | None = None
    context: PaginationOptions | None = None


# -- presenters ------------------------------------------------------------------------------------------------------
def details_out(details: dict, active_currencies: list[str], plan_type: str) -> PricePlanDetails:
    """The details as the SDK reads them: the rules are answered beside them (`rules_out`), not inside."""
    shown = {k: v for k, v in details.items() if k != "pricingRules"}
    return PricePlanDetails.model_validate({**shown, "activeCurrencies": active_currencies, "type": plan_type})


def rules_out(rules: tuple[PricingRule, ...] | list[PricingRule], version: int = 1) -> list[PricingRuleOut]:
    """Stored rules (a plan model's `pricing_rules`) as the API answers them."""
    return [
        PricingRuleOut.model_validate(
            {**rule.model_dump(by_alias=True, exclude_none=True), "id": rule.id or f"rule_{rule.order}"}
            | {"version": rule.version or version}
        )
        for rule in rules
    ]


def plan_out(view: PlanView) -> PricePlan:
    plan, versions = view.plan, view.versions
    schedule = []
    for i, v in enumerate(versions):
        following = versions[i + 1].version.created_at if i + 1 < len(versions) else END_OF_TIME
        schedule.append(
            PricingSchedule(
                id=v.version.pk,
                price_plan_details=details_out(v.details, v.active_currencies, plan.type),
                start_date=v.version.created_at,
                end_date=following,
                version=v.version.version,
                pricing_rules=rules_out(v.model.pricing_rules, v.version.version) or None,
                is_overriden=False,
            )
        )
    if view.only is not None:
        schedule = [s for s in schedule if s.version == view.only]
    return PricePlan(
        id=plan.id,
        name=plan.name,
        type=cast(PlanType, plan.type),
        description=plan.description,
        status=cast(PlanStatus, plan.status),
        pricing_schedule=schedule,
    )


def plan_list_item(view: PlanView) -> PricePlanListData:
    plan, latest = view.plan, view.latest
    return PricePlanListData(
        id=plan.id,
        name=plan.name,
        version=latest.version.version,
        description=plan.description,
        status=cast(PlanStatus, plan.status),
        usage_meters=latest.model.usage_meter_ids,
        pricing_rules=rules_out(latest.model.pricing_rules, latest.version.version) or None,
        price_plan_details=details_out(latest.details, latest.active_currencies, plan.type),
        created_at=plan.created_at,
        updated_at=plan.updated_at,
        type=cast(PlanType, plan.type),
    )
