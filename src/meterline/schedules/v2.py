"""Account schedules v2 (SchedulesApi): staged edits, as the SDK has them, and how they read as v1 edits.

A v2 edit is staged (kept in the account's `schedule_drafts` row) until finalize applies it through v1's
`usecases.schedules.edit_schedules` (so the finalized-period guard and the drafts' re-sync apply), or discard drops
it. `to_v1` turns a staged edit into the v1 edit it stands for, with the account's schedules as they are then.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, PrivateAttr, StrictBool

from meterline.catalog import plan_v2
from meterline.catalog.plan_repository import decode_details, encode_details
from meterline.catalog.plan_schemas import CreatePricePlanDetailsOverride, PricingCycleConfig, PricingRuleOut, rules_out
from meterline.catalog.plan_v2_schemas import RateCard, RateCardDetails
from meterline.core.clock import END_OF_TIME
from meterline.core.errors import BadRequest
from meterline.core.numbers import STORED
from meterline.core.schemas import IsoDate, RequestModel, ResponseModel
from meterline.rating import cycles
from meterline.schedules.models import PricingSchedule
from meterline.schedules.repository import ScheduleRepository
from meterline.schedules.schemas import PreAction, PricePlanInfo, UpdatePricingScheduleRequest
from meterline.schedules.service import OPEN_END, ScheduleView

MAX_STAGED = 50  # staged edits an account may hold before finalizing


# -- requests ------------------------------------------------------------------------------------------------------
class AssociationConfig(RequestModel):
    price_plan_id: Annotated[str, Field(min_length=1, max_length=50)] | None = None
    schedule_id: Annotated[str, Field(min_length=1, max_length=50)] | None = None
    pricing_cycle_config_override: PricingCycleConfig | None = None
    retain_start_offsets: StrictBool | None = None


class UpdateAccountScheduleV2Request(RequestModel):
    mode: Literal["ASSOCIATE", "DISASSOCIATE"] | None = None
    effective_from: IsoDate
    effective_until: IsoDate
    association_config: AssociationConfig | None = None
    merge_schedules: StrictBool | None = None
    # Not the API's (Togai's AssociationConfig names no version): the plan version to attach, None the newest. Set
    # only by the console's schedule draft; kept beside the staged edit ("version") and carried to the v1 edit.
    _plan_version: int | None = PrivateAttr(default=None)


class EditAccountScheduleRequest(RequestModel):
    edits: Annotated[list[UpdateAccountScheduleV2Request], Field(min_length=1, max_length=10)]


class FinalizeAccountSchedules(RequestModel):
    merge_schedules: StrictBool | None = None
    pre_actions: Annotated[list[PreAction], Field(max_length=10)] | None = None


# -- responses -----------------------------------------------------------------------------------------------------
class StartOffsetOut(ResponseModel):
    day_offset: str
    month_offset: str


class PricingCycleConfigOut(ResponseModel):
    interval: str
    start_offset: StartOffsetOut
    grace_period: int


class ScheduleInfo(ResponseModel):
    supported_currencies: list[str]
    pricing_cycle_config: PricingCycleConfigOut
    pricing_rules: list[PricingRuleOut] | None = None


class AccountSchedule(ResponseModel):
    id: str
    account_id: str
    price_plan_id: str
    version: int
    deferred_revenue: bool
    price_plan_info: PricePlanInfo
    account_schedule_info: ScheduleInfo
    is_overridden: bool
    start_date: datetime
    end_date: datetime
    allow_ongoing_cycle_updates: bool


class SchedulesPaginatedResponse(ResponseModel):
    data: list[AccountSchedule]
    next_token: str | None = None


def account_schedules(account_id: str, views: list[ScheduleView]) -> SchedulesPaginatedResponse:
    """The schedules as AccountSchedules. A PURCHASE plan's schedule has no pricing cycle, which an AccountSchedule
    requires: v2 leaves it out (v1's pricing_schedules lists it)."""
    out = []
    for v in views:
        if v.cycle is None:
            continue
        out.append(
            AccountSchedule(
                id=v.id,
                account_id=account_id,
                price_plan_id=v.plan_id,
                version=v.version,
                deferred_revenue=bool(v.model.details.deferred_revenue),
                price_plan_info=PricePlanInfo(name=v.plan_name, description=v.plan_description),
                account_schedule_info=ScheduleInfo(
                    supported_currencies=list(v.model.currencies),
                    pricing_cycle_config=PricingCycleConfigOut(
                        interval=v.cycle.interval,
                        start_offset=StartOffsetOut(
                            day_offset=str(v.cycle.day_offset), month_offset=str(v.cycle.month_offset)
                        ),
                        grace_period=v.cycle.grace_period_days,
                    ),
                    pricing_rules=rules_out(v.model.pricing_rules, v.version) or None,
                ),
                is_overridden=v.override is not None,
                start_date=v.start,
                end_date=v.end,
                allow_ongoing_cycle_updates=bool(v.model.details.allow_ongoing_cycle_updates),
            )
        )
    return SchedulesPaginatedResponse(data=out)


# -- staged edits --------------------------------------------------------------------------------------------------
def staged(text: str | None) -> list[dict[str, Any]]:
    """The staged items of a draft row, in order: {"edit": <v2 edit JSON>} (with "version": the plan version the
    console pinned), or {"schedule": <schedule pk>, "override": <its staged override>}."""
    if text is None:
        return []
    items: list[dict[str, Any]] = decode_details(text)["items"]
    return items


def to_v1(
    edit: UpdateAccountScheduleV2Request, account_pk: str, repo: ScheduleRepository, where: str
) -> UpdatePricingScheduleRequest:
    """The v1 edit a v2 edit stands for: `associationConfig.pricePlanId` the plan, `scheduleId` a schedule of the
    account whose overrides (rate cards and pricing rules) are copied, `pricingCycleConfigOverride` the override's
    pricingCycleConfig, `retainStartOffsets` as v1's; the edit's pinned version (`_plan_version`) kept."""
    config = edit.association_config or AssociationConfig()
    mode = edit.mode or "ASSOCIATE"
    if mode == "DISASSOCIATE":
        return UpdatePricingScheduleRequest.model_validate(
            {
                "mode": "DISASSOCIATE",
                "effectiveFrom": edit.effective_from.isoformat(),
                "effectiveUntil": edit.effective_until.isoformat(),
            }
        )
    override: CreatePricePlanDetailsOverride | None = None
    rules: list[Any] | None = None
    plan_id = config.price_plan_id
    if config.schedule_id is not None:
        source = repo.by_pk(config.schedule_id)
        if source is None or source.account_pk != account_pk:
            raise BadRequest(f"{where}associationConfig.scheduleId: the account has no schedule {config.schedule_id}")
        if source.override is not None:
            copied = decode_details(source.override)
            if "pricingRules" in copied:
                rules = copied.pop("pricingRules")
            override = CreatePricePlanDetailsOverride.model_validate(copied, context={STORED: True}) if copied else None
    if config.pricing_cycle_config_override is not None:
        override = (override or CreatePricePlanDetailsOverride()).model_copy(
            update={"pricing_cycle_config": config.pricing_cycle_config_override}
        )
    v1 = UpdatePricingScheduleRequest.model_validate(
        {
            "mode": "ASSOCIATE",
            "pricePlanId": plan_id,
            "effectiveFrom": edit.effective_from.isoformat(),
            "effectiveUntil": edit.effective_until.isoformat(),
            "pricePlanDetailsOverride": override.model_dump(by_alias=True, exclude_none=True) if override else None,
            "pricingRulesOverride": rules,
            "retainStartOffsets": config.retain_start_offsets,
        }
    )
    v1._plan_version = edit._plan_version
    return v1


def edit_of(item: dict[str, Any]) -> UpdateAccountScheduleV2Request:
    """A staged edit item's v2 edit, with the version it was pinned to."""
    edit = UpdateAccountScheduleV2Request.model_validate(item["edit"])
    edit._plan_version = item.get("version")
    return edit


def edit_item(edit: UpdateAccountScheduleV2Request) -> dict[str, Any]:
    """A v2 edit as a staged item (its pinned version beside it: a private attribute is not dumped)."""
    item: dict[str, Any] = {"edit": edit.model_dump(mode="json", by_alias=True, exclude_none=True)}
    if edit._plan_version is not None:
        item["version"] = edit._plan_version
    return item


# -- per-schedule changes: rate cards and pricing rules ------------------------------------------------------------
CARD_KEYS = tuple(key for key, _, _ in plan_v2.KINDS.values())


def schedule_item(items: list[dict[str, Any]], schedule_pk: str) -> dict[str, Any] | None:
    return next((i for i in items if i.get("schedule") == schedule_pk), None)


def staged_copy(schedule: PricingSchedule, item: dict[str, Any] | None) -> PricingSchedule:
    """The schedule as its staged changes make it (a transient row, never added to the session)."""
    if item is None:
        return schedule
    return PricingSchedule(
        pk=schedule.pk,
        org_id=schedule.org_id,
        account_pk=schedule.account_pk,
        plan_pk=schedule.plan_pk,
        plan_version=schedule.plan_version,
        start_at=schedule.start_at,
        end_at=schedule.end_at,
        override=encode_details(item["override"]),
        cycle=schedule.cycle,
        created_at=schedule.created_at,
    )


def with_cards(view: ScheduleView, cards: list[plan_v2.NamedCard]) -> dict[str, Any]:
    """The schedule's override with these cards in place of its cards (a type with none: an empty list)."""
    details = plan_v2.details_with(view.model, cards)
    override = {k: v for k, v in (view.override or {}).items() if k not in CARD_KEYS}
    for key in CARD_KEYS:
        if key == "minimumCommitment":
            if key in details:
                override[key] = details[key]
        else:
            override[key] = details.get(key, [])
    return override


def item_to_v1(
    item: dict[str, Any], schedule: PricingSchedule, plan_id: str, tz: Any, frozen: datetime | None, where: str
) -> UpdatePricingScheduleRequest:
    """A schedule's staged cards and rules as the v1 edit that applies them: the schedule's plan, at the schedule's
    own version (not the plan's newest), associated again over its window (from the end of the finalized invoices
    when part of it is invoiced), with the staged override, on the same cycle (retainStartOffsets)."""
    start = schedule.start_at if frozen is None or schedule.start_at >= frozen else frozen
    if start >= schedule.end_at:
        raise BadRequest(f"{where}schedule {schedule.pk} is wholly invoiced (finalized invoices never change)")
    until = OPEN_END if schedule.end_at >= END_OF_TIME else cycles.local_day(schedule.end_at, tz)
    override = dict(item["override"])
    rules = override.pop("pricingRules", None)
    edit = UpdatePricingScheduleRequest.model_validate(
        {
            "mode": "ASSOCIATE",
            "pricePlanId": plan_id,
            "effectiveFrom": cycles.local_day(start, tz).isoformat(),
            "effectiveUntil": until.isoformat(),
            "pricePlanDetailsOverride": CreatePricePlanDetailsOverride.model_validate(
                override, context={STORED: True}
            ).model_dump(by_alias=True, exclude_none=True),
            "pricingRulesOverride": rules,
            "retainStartOffsets": schedule.cycle is not None,
        },
        context={STORED: True},
    )
    edit._plan_version = schedule.plan_version  # the schedule's own version, not the plan's newest
    return edit


def card_out(view: ScheduleView, account_id: str, card: plan_v2.NamedCard) -> RateCard:
    field = plan_v2.KINDS[card.type][1]
    return RateCard(
        billable_id=card.billable_id,
        type=card.type,
        display_name=card.display_name,
        invoice_timing=card.invoice_timing,
        rate_card_details=RateCardDetails.model_validate({field: card.card}),
        tag=card.tag,
        name=card.name,
        reference_id=view.id,
        reference_type="ACCOUNT_SCHEDULE",
        currencies=card.currencies(),
        price_plan_id=view.plan_id,
        account_id=account_id,
    )
