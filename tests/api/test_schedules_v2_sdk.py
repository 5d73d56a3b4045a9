"""Account schedules v2 (SchedulesApi): staged edits, finalize, discard, through the official SDK, both engines."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
import togai_client as tc
from togai_client.exceptions import BadRequestException, NotFoundException

from tests.api.billing_setup import acme_invoices, month_start
from tests.api.conftest import Sdk
from tests.api.test_schedules_sdk import OPEN, plan

UTC = timezone.utc


def schedules_api(sdk: Sdk) -> tc.SchedulesApi:
    return tc.SchedulesApi(sdk.client)


def associate(plan_id: str, start: date, until: date = OPEN, **config: object) -> tc.UpdateAccountScheduleV2Request:
    return tc.UpdateAccountScheduleV2Request(
        mode="ASSOCIATE",
        effective_from=start,
        effective_until=until,
        association_config=tc.AssociationConfig(price_plan_id=plan_id, **config),
    )


def disassociate(start: date, until: date = OPEN) -> tc.UpdateAccountScheduleV2Request:
    return tc.UpdateAccountScheduleV2Request(mode="DISASSOCIATE", effective_from=start, effective_until=until)


def stage(
    sdk: Sdk, *edits: tc.UpdateAccountScheduleV2Request, discard: bool | None = None
) -> tc.UpdatePricingScheduleResponse:
    return schedules_api(sdk).bulk_edit_schedules(
        "acme", tc.EditAccountScheduleRequest(edits=list(edits)), discard=discard
    )


def listed(sdk: Sdk, mode: str) -> list[tuple[str, datetime, datetime]]:
    return [
        (s.price_plan_id, s.start_date, s.end_date) for s in schedules_api(sdk).listaccount_schedules("acme", mode).data
    ]


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


END = datetime(9999, 12, 31, tzinfo=UTC)


def current_draft(sdk: Sdk) -> tc.InvoiceSummary:
    *_, current = acme_invoices(sdk)
    assert current.status == "DRAFT"
    return current


def test_staged_edits_change_nothing_until_finalized_then_the_draft_invoice_follows(
    sdk: Sdk, billed: dict[str, str]
) -> None:
    now = datetime.now(UTC)
    this_month = month_start(now)
    usage_only = plan(sdk, billed["sum"], name="Usage only")  # no platform fee: the current cycle costs less
    sdk.invoices.create_invoice_bill_run()
    before = current_draft(sdk)
    assert before.total_amount == 50

    answer = stage(sdk, associate(usage_only, this_month))
    assert (answer.account_id, answer.account_name) == ("acme", "Acme Inc")
    assert [(s.price_plan_id, s.start_date, s.end_date) for s in answer.pricing_schedules] == [
        (billed["plan"], midnight(month_start(now, 2)), midnight(this_month)),
        (usage_only, midnight(this_month), END),
    ]
    # Staged only: ACTIVE, v1's view and the invoices are as they were; DRAFT shows what finalize will make
    assert listed(sdk, "ACTIVE") == [(billed["plan"], midnight(month_start(now, 2)), END)]
    assert [s.price_plan_id for s in sdk.accounts.get_pricing_schedules("acme").data] == [billed["plan"]]
    assert listed(sdk, "DRAFT") == [(s.price_plan_id, s.start_date, s.end_date) for s in answer.pricing_schedules]
    assert current_draft(sdk).total_amount == 50

    [first, second] = schedules_api(sdk).listaccount_schedules("acme", "DRAFT").data
    assert (first.account_id, first.version, first.price_plan_info.name, first.is_overridden) == (
        "acme",
        1,
        "Growth",
        False,
    )
    assert second.account_schedule_info.supported_currencies == ["USD"]
    cycle = first.account_schedule_info.pricing_cycle_config
    assert (cycle.interval, cycle.start_offset.day_offset, cycle.start_offset.month_offset, cycle.grace_period) == (
        "MONTHLY",
        "1",
        "NIL",
        0,
    )

    final = schedules_api(sdk).finalize_account_schedules("acme", tc.FinalizeAccountSchedules())
    assert [(s.price_plan_id, s.start_date, s.end_date) for s in final.data] == [
        (billed["plan"], midnight(month_start(now, 2)), midnight(this_month)),
        (usage_only, midnight(this_month), END),
    ]
    assert (
        listed(sdk, "ACTIVE")
        == listed(sdk, "DRAFT")
        == [(s.price_plan_id, s.start_date, s.end_date) for s in final.data]
    )
    # The drafts were re-synced at once: the current cycle is on the usage-only plan, its fee gone
    after = current_draft(sdk)
    assert after.start_date == midnight(this_month)
    assert after.total_amount == 0
    with pytest.raises(BadRequestException, match="Account acme has no staged schedule edits to finalize"):
        schedules_api(sdk).finalize_account_schedules("acme", tc.FinalizeAccountSchedules())


def test_finalize_refuses_a_staged_edit_over_a_finalized_invoice_and_keeps_it_staged(
    sdk: Sdk, billed: dict[str, str]
) -> None:
    now = datetime.now(UTC)
    usage_only = plan(sdk, billed["sum"], name="Usage only")
    stage(sdk, associate(usage_only, month_start(now)))
    sdk.invoices.create_invoice_bill_run()
    current = current_draft(sdk)
    # The current cycle is finalized after the edit was staged: its period may no longer change
    assert sdk.invoices.update_invoice(current.id, tc.UpdateInvoiceRequest(status="DUE")).status == "DUE"
    with pytest.raises(
        BadRequestException, match="effectiveFrom: account acme is invoiced up to .*finalized invoices never change"
    ):
        schedules_api(sdk).finalize_account_schedules("acme", tc.FinalizeAccountSchedules())
    assert listed(sdk, "ACTIVE") == [(billed["plan"], midnight(month_start(now, 2)), END)]
    assert [p for p, _, _ in listed(sdk, "DRAFT")] == [billed["plan"], usage_only]  # still staged
    # A new edit over the finalized period is refused at once
    with pytest.raises(BadRequestException, match="effectiveFrom: account acme is invoiced up to"):
        stage(sdk, associate(usage_only, month_start(now, 1)), discard=True)
    frozen = sdk.invoices.get_invoice(current.id)
    assert (frozen.status, frozen.total_amount) == ("DUE", current.total_amount)


def test_discard_drops_the_staged_edits(sdk: Sdk, billed: dict[str, str]) -> None:
    now = datetime.now(UTC)
    usage_only = plan(sdk, billed["sum"], name="Usage only")
    active = [(billed["plan"], midnight(month_start(now, 2)), END)]
    stage(sdk, disassociate(month_start(now)))
    assert listed(sdk, "DRAFT") == [(billed["plan"], midnight(month_start(now, 2)), midnight(month_start(now)))]
    # A second batch follows the first; discard=true stages it in place of the first
    answer = stage(sdk, associate(usage_only, month_start(now)))
    assert [s.price_plan_id for s in answer.pricing_schedules] == [billed["plan"], usage_only]
    answer = stage(sdk, disassociate(month_start(now, 1), month_start(now)), discard=True)
    assert len(answer.pricing_schedules) == 2 and listed(sdk, "DRAFT")[1][0] == billed["plan"]
    assert schedules_api(sdk).discard_account_schedules("acme").success is True
    assert listed(sdk, "DRAFT") == listed(sdk, "ACTIVE") == active
    with pytest.raises(BadRequestException, match="Account acme has no staged schedule edits to discard"):
        schedules_api(sdk).discard_account_schedules("acme")


def test_merge_schedules_joins_what_is_alike(sdk: Sdk, billed: dict[str, str]) -> None:
    now = datetime.now(UTC)
    stage(sdk, disassociate(month_start(now)), associate(billed["plan"], month_start(now)))
    # Replaced: the plan again from this month is a schedule of its own
    assert len(listed(sdk, "DRAFT")) == 2
    final = schedules_api(sdk).finalize_account_schedules("acme", tc.FinalizeAccountSchedules(merge_schedules=True))
    assert [(s.price_plan_id, s.start_date, s.end_date) for s in final.data] == [
        (billed["plan"], midnight(month_start(now, 2)), END)
    ]


def test_association_config_copies_a_schedule_and_overrides_the_cycle(sdk: Sdk, billed: dict[str, str]) -> None:
    now = datetime.now(UTC)
    [current] = schedules_api(sdk).listaccount_schedules("acme", "ACTIVE").data
    weekly = tc.PricingCycleConfig(
        interval="WEEKLY",
        start_offset=tc.PricingCycleConfigStartOffset(day_offset="1", month_offset="NIL"),
        grace_period=0,
    )
    stage(
        sdk, associate(billed["plan"], month_start(now), schedule_id=current.id, pricing_cycle_config_override=weekly)
    )
    schedules_api(sdk).finalize_account_schedules("acme", tc.FinalizeAccountSchedules())
    [_, weekly_schedule] = schedules_api(sdk).listaccount_schedules("acme", "ACTIVE").data
    assert weekly_schedule.is_overridden is True
    assert weekly_schedule.account_schedule_info.pricing_cycle_config.interval == "WEEKLY"
    # retainStartOffsets needs the same interval
    with pytest.raises(BadRequestException, match="retainStartOffsets needs the same pricing interval"):
        stage(sdk, associate(billed["plan"], date(9000, 1, 1), retain_start_offsets=True))


def test_refusals_name_the_field(sdk: Sdk, billed: dict[str, str]) -> None:
    now = datetime.now(UTC)
    api = schedules_api(sdk)
    with pytest.raises(BadRequestException, match="pricePlanId: no price plan 'nope'"):
        stage(sdk, associate("nope", month_start(now)))
    with pytest.raises(BadRequestException, match=r"edits\[1\]\.effectiveUntil must be after effectiveFrom"):
        stage(sdk, disassociate(month_start(now)), disassociate(month_start(now), month_start(now)))
    with pytest.raises(BadRequestException, match="associationConfig.scheduleId: the account has no schedule ps.x"):
        stage(sdk, associate(billed["plan"], month_start(now), schedule_id="ps.x"))
    with pytest.raises(BadRequestException, match="pricePlanId is required to associate a price plan"):
        stage(
            sdk,
            tc.UpdateAccountScheduleV2Request(mode="ASSOCIATE", effective_from=month_start(now), effective_until=OPEN),
        )
    with pytest.raises(BadRequestException, match="preActions: grant licenses with POST /license_updates"):
        api.finalize_account_schedules(
            "acme", tc.FinalizeAccountSchedules(pre_actions=[tc.PreAction(type="GRANT_LICENSE", config={})])
        )
    with pytest.raises(NotFoundException, match="Account ghost not found"):
        api.listaccount_schedules("ghost", "DRAFT")
    with pytest.raises(NotFoundException, match="Account ghost not found"):
        api.bulk_edit_schedules("ghost", tc.EditAccountScheduleRequest(edits=[disassociate(month_start(now))]))
    # Nothing refused was kept
    assert listed(sdk, "DRAFT") == listed(sdk, "ACTIVE")


def fee_update(name: str, fee: str, rate: int) -> tc.RateCardOperation:
    card = tc.FixedFeeRateCard(
        id=fee, rate_values=[tc.CurrencyRateValue(currency="USD", rate=rate)], enable_proration=False
    )
    return tc.RateCardOperation(
        action_type="UPDATE",
        rate_card_name=name,
        rate_card=tc.RateCardData(
            billable_id=fee,
            type="FIXED_FEE",
            invoice_timing="IN_ARREARS",
            rate_card_details=tc.RateCardDetails(fixed_fee_rate_card=card),
        ),
    )


def fee_of(cards: list[tc.RateCard]) -> tuple[str, float]:
    [fee] = [c for c in cards if c.type == "FIXED_FEE"]
    return fee.name, float(fee.rate_card_details.fixed_fee_rate_card.rate_values[0].rate)


def test_a_schedules_rate_cards_are_staged_then_finalized_from_the_end_of_the_finalized_invoices(
    sdk: Sdk, billed: dict[str, str]
) -> None:
    now = datetime.now(UTC)
    api = schedules_api(sdk)
    sdk.invoices.create_invoice_bill_run()  # the past cycles are finalized
    [schedule] = api.listaccount_schedules("acme", "ACTIVE").data
    cards = api.list_schedule_rate_cards(schedule.id, "ACTIVE").data
    assert sorted(c.type for c in cards) == ["FIXED_FEE", "USAGE"]
    assert {(c.reference_id, c.reference_type, c.price_plan_id, c.account_id) for c in cards} == {
        (schedule.id, "ACCOUNT_SCHEDULE", billed["plan"], "acme")
    }
    name, rate = fee_of(cards)
    assert rate == 50
    changed = api.bulk_rate_card_operations_on_schedule(
        schedule.id, tc.BulkRateCardOperationsRequest(operations=[fee_update(name, billed["fee"], 80)])
    )
    assert [(c.name, c.rate_card_details.fixed_fee_rate_card.rate_values[0].rate) for c in changed.rate_cards] == [
        (name, 80)
    ]
    assert fee_of(api.list_schedule_rate_cards(schedule.id, "DRAFT").data) == (name, 80)
    assert fee_of(api.list_schedule_rate_cards(schedule.id, "ACTIVE").data) == (name, 50)
    assert current_draft(sdk).total_amount == 50  # staged only
    assert api.list_schedule_errors(schedule.id).data == []
    with pytest.raises(BadRequestException, match=r"operations\[0\]\.rateCardName: the plan has no rate card 'nope'"):
        api.bulk_rate_card_operations_on_schedule(
            schedule.id,
            tc.BulkRateCardOperationsRequest(
                operations=[tc.RateCardOperation(action_type="DELETE", rate_card_name="nope")]
            ),
        )
    # A schedule a staged edit changes takes no staged card change (and the reverse order applies in order)
    assert api.discard_account_schedules("acme").success is True
    stage(sdk, disassociate(month_start(now)))
    with pytest.raises(BadRequestException, match="a staged edit of the account changes it; finalize or discard"):
        api.bulk_rate_card_operations_on_schedule(
            schedule.id, tc.BulkRateCardOperationsRequest(operations=[fee_update(name, billed["fee"], 90)])
        )
    api.discard_account_schedules("acme")
    api.bulk_rate_card_operations_on_schedule(
        schedule.id, tc.BulkRateCardOperationsRequest(operations=[fee_update(name, billed["fee"], 80)])
    )
    final = api.finalize_account_schedules("acme", tc.FinalizeAccountSchedules())
    # The finalized past keeps its pricing; from this month on the account's fee is 80
    assert [(s.start_date, s.is_overridden) for s in final.data] == [
        (midnight(month_start(now, 2)), False),
        (midnight(month_start(now)), True),
    ]
    assert fee_of(api.list_schedule_rate_cards(final.data[1].id, "ACTIVE").data) == (name, 80)
    assert current_draft(sdk).total_amount == 80
    with pytest.raises(NotFoundException, match="Schedule ps.nope not found"):
        api.list_schedule_rate_cards("ps.nope", "ACTIVE")


def test_a_schedules_pricing_rules_are_staged_then_finalized(sdk: Sdk, billed: dict[str, str]) -> None:
    api = schedules_api(sdk)
    [schedule] = api.listaccount_schedules("acme", "ACTIVE").data
    name, _ = fee_of(api.list_schedule_rate_cards(schedule.id, "ACTIVE").data)
    assert api.list_pricing_rules(schedule.id, "ACTIVE").data == []
    rule = tc.CreatePricingRule(
        name="half fee",
        order=1,
        invoice_timing="IN_ARREARS",
        condition='{">":[1,0]}',
        computation=f'{{"*":[{{"var":"revenue.{name}"}},0.5]}}',
        action=tc.PricingRuleAction(type="UPDATE", target=f"revenue.{name}", description="Half the fee"),
    )
    answer = api.update_pricing_rules(schedule.id, tc.UpdatePricingRulesRequest(pricing_rules=[rule]))
    assert [r.name for r in answer.data] == ["half fee"]
    assert [r.name for r in api.list_pricing_rules(schedule.id, "DRAFT").data] == ["half fee"]
    assert api.list_pricing_rules(schedule.id, "ACTIVE").data == []
    bad = rule.model_copy(
        update={"action": tc.PricingRuleAction(type="UPDATE", target="revenue.nope", description="x")}
    )
    with pytest.raises(BadRequestException, match="nope"):
        api.update_pricing_rules(schedule.id, tc.UpdatePricingRulesRequest(pricing_rules=[bad]))
    final = api.finalize_account_schedules("acme", tc.FinalizeAccountSchedules())
    [after] = final.data
    assert [r.name for r in after.account_schedule_info.pricing_rules] == ["half fee"]
    assert [r.name for r in api.list_pricing_rules(after.id, "ACTIVE").data] == ["half fee"]


def test_schedule_errors_list_what_broke_a_staged_card_since(sdk: Sdk, billed: dict[str, str]) -> None:
    api = schedules_api(sdk)
    [schedule] = api.listaccount_schedules("acme", "ACTIVE").data
    extra = sdk.add_ons.create_add_on(tc.CreateAddOnRequest(name="Extra", type="FIXED_FEE")).id
    create = fee_update("extra", extra, 5).model_copy(update={"action_type": "CREATE"})
    api.bulk_rate_card_operations_on_schedule(schedule.id, tc.BulkRateCardOperationsRequest(operations=[create]))
    assert api.list_schedule_errors(schedule.id).data == []
    sdk.add_ons.delete_add_on(extra)  # no plan prices it: it goes, and the staged card with it
    [error] = api.list_schedule_errors(schedule.id).data
    assert (error.reference_id, error.entity_id, error.entity_type) == (schedule.id, "extra", "RATE_CARD")
    assert extra in error.error_message
    with pytest.raises(BadRequestException, match=extra):
        api.finalize_account_schedules("acme", tc.FinalizeAccountSchedules())
    with pytest.raises(NotFoundException, match="Schedule ps.nope not found"):
        api.list_schedule_errors("ps.nope")


def test_a_schedule_on_an_earlier_plan_version_keeps_its_version_when_its_cards_and_rules_change(
    sdk: Sdk, billed: dict[str, str]
) -> None:
    api = schedules_api(sdk)
    [schedule] = api.listaccount_schedules("acme", "ACTIVE").data
    name, _ = fee_of(api.list_schedule_rate_cards(schedule.id, "ACTIVE").data)
    # version 2 of the plan raises the fee to 70; acme stays on version 1 (no migration)
    newer = tc.FixedFeeRateCard(
        id=billed["fee"],
        rate_values=[tc.CurrencyRateValue(currency="USD", rate=70)],
        enable_proration=False,
        invoice_timing="IN_ARREARS",
    )
    sdk.price_plans.update_price_plan(
        billed["plan"],
        tc.UpdatePricePlanRequest(
            migration_mode="NONE", price_plan_details=tc.CreatePricePlanDetailsOverride(fixed_fee_rate_cards=[newer])
        ),
    )
    assert [s.version for s in api.listaccount_schedules("acme", "ACTIVE").data] == [1]
    # the schedule's own version takes the override: its fee 80, then half of it by its own rule
    api.bulk_rate_card_operations_on_schedule(
        schedule.id, tc.BulkRateCardOperationsRequest(operations=[fee_update(name, billed["fee"], 80)])
    )
    half = tc.CreatePricingRule(
        name="half fee",
        order=1,
        computation=f'{{"*":[{{"var":"revenue.{name}"}},0.5]}}',
        action=tc.PricingRuleAction(type="UPDATE", target=f"revenue.{name}"),
    )
    api.update_pricing_rules(schedule.id, tc.UpdatePricingRulesRequest(pricing_rules=[half]))
    [draft] = api.listaccount_schedules("acme", "DRAFT").data
    assert (draft.version, draft.is_overridden) == (1, True)
    assert fee_of(api.list_schedule_rate_cards(schedule.id, "DRAFT").data) == (name, 80)
    assert current_draft(sdk).total_amount == 50  # staged only
    [after] = api.finalize_account_schedules("acme", tc.FinalizeAccountSchedules()).data
    assert (after.version, after.is_overridden, after.start_date) == (1, True, schedule.start_date)
    assert fee_of(api.list_schedule_rate_cards(after.id, "ACTIVE").data) == (name, 80)
    assert [r.name for r in api.list_pricing_rules(after.id, "ACTIVE").data] == ["half fee"]
    assert current_draft(sdk).total_amount == 40  # 80.00 halved, not version 2's 70.00
