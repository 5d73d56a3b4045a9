"""Price plan association (AccountsApi: price_plans, edit_schedules, pricing_schedules), as the SDK has it."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, PrivateAttr, StrictBool, StrictInt, StringConstraints

from meterline.catalog.plan_schemas import (
    CreatePricePlanDetailsOverride,
    CreatePricingRules,
    PricePlanDetails,
    PricingRule,
    PricingRuleOut,
    details_out,
    rules_out,
)
from meterline.core.schemas import IsoDate, RequestModel, ResponseModel

if TYPE_CHECKING:
    from meterline.accounts.models import Account
    from meterline.schedules.service import ScheduleView


class PreAction(RequestModel):
    type: Literal["GRANT_LICENSE"]
    config: dict[str, str] | None = None


class UpdatePricingScheduleRequest(RequestModel):
    mode: Literal["ASSOCIATE", "DISASSOCIATE"] | None = None
    price_plan_id: Annotated[str, StringConstraints(min_length=1, max_length=50)] | None = None
    effective_from: IsoDate
    effective_until: IsoDate
    price_plan_details_override: CreatePricePlanDetailsOverride | None = None
    pricing_rules_override: CreatePricingRules | None = None
    retain_start_offsets: StrictBool | None = None
    # Not the API's: the plan version to associate (None: the newest, as every client edit). Set only by schedules
    # v2's staged card and rule changes, which keep a schedule on its own version (docs/pricing.md, "Schedules v2").
    _plan_version: int | None = PrivateAttr(default=None)


class UpdatePricingScheduleRequestWithActions(UpdatePricingScheduleRequest):
    pre_actions: Annotated[list[PreAction], Field(max_length=10)] | None = None


class EditPricingScheduleRequest(RequestModel):
    edits: Annotated[list[UpdatePricingScheduleRequest], Field(min_length=1, max_length=10)]


class CreatePricePlanMigrationRequest(RequestModel):
    source_id: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    source_version: Annotated[StrictInt, Field(ge=1)]
    target_id: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None
    target_version: Annotated[StrictInt, Field(ge=1)] | None = None
    migration_mode: Literal[
        "IMMEDIATE", "IMMEDIATE_IGNORE_OVERRIDE", "NEXT_CYCLE", "NEXT_CYCLE_IGNORE_OVERRIDE", "START_OF_CURRENT_CYCLE"
    ]
    retain_start_offsets: StrictBool | None = None
    is_price_plan_v2_migration: StrictBool | None = None
    require_confirmation: StrictBool | None = None


class PlanOverride(ResponseModel):
    id: str
    price_plan_id: str
    price_plan_name: str
    price_plan_details_override: dict[str, Any] | None = None
    pricing_rules_override: list[PricingRuleOut] | None = None
    start_date: datetime
    end_date: datetime


class UpdatePricingScheduleResponse(ResponseModel):
    account_id: str
    account_name: str
    pricing_schedules: list[PlanOverride]


class PricePlanInfo(ResponseModel):
    name: str
    description: str | None = None


class PricingScheduleWithPricePlanId(ResponseModel):
    id: str
    price_plan_details: PricePlanDetails | None = None
    start_date: datetime
    end_date: datetime
    version: int
    pricing_rules: list[PricingRuleOut] | None = None
    is_overriden: bool
    price_plan_id: str
    price_plan_name: str | None = None
    price_plan_info: PricePlanInfo | None = None


class PricingSchedulePaginatedResponse(ResponseModel):
    data: list[PricingScheduleWithPricePlanId]
    next_token: str | None = None


# -- presenters ------------------------------------------------------------------------------------------------------
def _override_out(override: dict[str, Any] | None) -> dict[str, Any] | None:
    # The SDK's PricePlanDetailsOverride takes no empty card list (fixedFeeRateCards has min 1).
    # The rules are answered apart (`pricingRulesOverride`).
    shown = {k: v for k, v in (override or {}).items() if v != [] and k != "pricingRules"}
    return shown or None


def _rules_override_out(v: ScheduleView) -> list[PricingRuleOut] | None:
    if not v.override or "pricingRules" not in v.override:
        return None
    return rules_out([PricingRule.model_validate(r) for r in v.override["pricingRules"]], v.version)


def update_response(account: Account, views: list[ScheduleView]) -> UpdatePricingScheduleResponse:
    return UpdatePricingScheduleResponse(
        account_id=account.id,
        account_name=account.name,
        pricing_schedules=[
            PlanOverride(
                id=v.id,
                price_plan_id=v.plan_id,
                price_plan_name=v.plan_name,
                price_plan_details_override=_override_out(v.override),
                pricing_rules_override=_rules_override_out(v),
                start_date=v.start,
                end_date=v.end,
            )
            for v in views
        ],
    )


def schedule_out(v: ScheduleView, *, info: bool, compact: bool) -> PricingScheduleWithPricePlanId:
    return PricingScheduleWithPricePlanId(
        id=v.id,
        price_plan_details=None if compact else details_out(v.details, v.active_currencies, v.plan_type),
        start_date=v.start,
        end_date=v.end,
        version=v.version,
        pricing_rules=rules_out(v.model.pricing_rules, v.version) or None,
        is_overriden=v.override is not None,
        price_plan_id=v.plan_id,
        price_plan_name=v.plan_name,
        price_plan_info=PricePlanInfo(name=v.plan_name, description=v.plan_description) if info else None,
    )
