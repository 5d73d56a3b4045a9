"""Previews of changes that re-price DRAFT invoices (usecases/schedules.py, usecases/plans.py), on both engines: a
schedule edit, a price plan migration, an update of an ACTIVE plan that migrates, finalizing a v2 plan draft with a
migration mode and finalizing an account's staged schedule edits. Each preview's "after" is what
the action then produces, draft by draft, and a preview changes nothing in any table."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from meterline import models  # noqa: F401 - every table, for the snapshot of the organization's rows
from meterline.accounts.repository import AccountRepository
from meterline.catalog import plan_v2
from meterline.catalog.plan_schemas import UpdatePricePlanRequest, UsageRateCard
from meterline.catalog.plan_v2_service import PricePlanV2Service
from meterline.core.db import Base
from meterline.core.errors import BadRequest
from meterline.core.schemas import Address
from meterline.customers.schemas import CreateCustomerRequest
from meterline.customers.service import CustomerService
from meterline.invoicing.service import InvoiceService
from meterline.schedules import v2
from meterline.schedules.schemas import UpdatePricingScheduleRequest
from meterline.usecases.jobs import start_plan_migration
from meterline.usecases.plans import (
    finalize_price_plan_v2,
    preview_finalize_price_plan_v2,
    preview_plan_migration,
    preview_price_plan_update,
    update_price_plan,
)
from meterline.usecases.schedules import (
    DraftTotal,
    draft_totals,
    edit_schedules,
    finalize_schedules,
    preview_finalize_schedules,
    preview_schedule_edits,
    stage_schedule_edits,
)
from tests.service.billing_world import World, fee, make_plan, t, tiered_card

D = Decimal


def state(world: World) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the organization, table by table (what "the preview changes nothing" compares)."""
    out = {}
    with world.at(t(1, 1)) as ctx:
        for name, table in sorted(Base.metadata.tables.items()):
            if "org_id" not in table.c:
                continue
            rows = ctx.session.execute(select(table).where(table.c.org_id == world.org.id)).all()
            out[name] = sorted(tuple(str(v) for v in row) for row in rows)
    return out


def drafts_now(world: World, now: datetime, *account_ids: str) -> dict[str, DraftTotal]:
    with world.at(now) as ctx:
        repo = AccountRepository(ctx.session, ctx.org_id)
        return draft_totals(ctx, [repo.by_id(i) for i in account_ids])  # type: ignore[misc]


def shape(draft: DraftTotal | None) -> tuple[Any, ...] | None:
    """A draft as a person reads it (a draft the preview made has another id than the one the action makes)."""
    if draft is None:
        return None
    return (
        draft.account_id,
        draft.invoice_type,
        draft.start,
        draft.end,
        draft.plan_name,
        draft.plan_version,
        draft.total,
    )


def edit(
    plan_id: str | None, start: str, until: str = "9999-01-01", mode: str = "ASSOCIATE"
) -> UpdatePricingScheduleRequest:
    return UpdatePricingScheduleRequest.model_validate(
        {"mode": mode, "pricePlanId": plan_id, "effectiveFrom": start, "effectiveUntil": until}
    )


def test_a_schedule_edit_preview_is_what_the_edit_does_and_changes_nothing(world: World) -> None:
    # Given acme on Basic (D4's tiered usage card) from 1 March, 100 calls on 2 March and 50 on 15 March; Pro is a
    # 620.00 monthly fee, prorated
    with world.at(t(2, 20)) as ctx:
        basic = make_plan(ctx, "Basic", grace=0, usageRateCards=[tiered_card(world.meter_id)])
        pro = make_plan(ctx, "Pro", grace=0, fixedFeeRateCards=[fee(ctx, "Pro fee", "620", enableProration=True)])
        edit_schedules(ctx, "acme", [edit(basic, "2024-03-01")])
    assert world.bill_run(t(3, 1)) == 0  # March's draft exists
    world.ingest(t(3, 16), ("e1", t(3, 2), "100"), ("e2", t(3, 15), "50"))
    now = t(3, 20)
    [march] = drafts_now(world, now, "acme").values()
    assert (march.start, march.end, march.plan_name, march.total) == (t(3, 1), t(4, 1), "Basic", D("125.00"))

    # When Pro is previewed from 11 March (a past day: March's draft is re-priced)
    untouched = state(world)
    with world.at(now) as ctx:
        preview = preview_schedule_edits(ctx, "acme", [edit(pro, "2024-03-11")])
    # Then March's draft ends on 11 March with its 100 calls (100.00), and Pro's piece is a new draft: 620 x 21/31
    assert [(shape(c.before), shape(c.after)) for c in preview.changed] == [
        (
            ("acme", "STANDARD", t(3, 1), t(4, 1), "Basic", 1, D("125.00")),
            ("acme", "STANDARD", t(3, 1), t(3, 11), "Basic", 1, D("100.00")),
        ),
        (None, ("acme", "STANDARD", t(3, 11), t(4, 1), "Pro", 1, D("420.00"))),
    ]
    assert preview.changed[0].before.invoice_id == preview.changed[0].after.invoice_id == march.invoice_id  # type: ignore[union-attr]
    assert [c.difference for c in preview.changed] == [D("-25.00"), D("420.00")]
    assert preview.sums() == [("USD", D("125.00"), D("520.00"))] and preview.unchanged == 0
    # and nothing was kept: not the schedule, not the drafts, not a re-dated period
    assert state(world) == untouched

    # When the edit is made at the same instant, its drafts are the preview's "after"
    with world.at(now) as ctx:
        edit_schedules(ctx, "acme", [edit(pro, "2024-03-11")])
    assert sorted(shape(d) for d in drafts_now(world, now, "acme").values()) == sorted(
        shape(c.after) for c in preview.drafts
    )


def test_a_preview_that_changes_no_draft_says_so_and_one_refused_is_refused_alike(world: World) -> None:
    with world.at(t(2, 20)) as ctx:
        basic = make_plan(ctx, "Basic", grace=0, fixedFeeRateCards=[fee(ctx, "Basic fee", "310", enableProration=True)])
        pro = make_plan(ctx, "Pro", grace=0, fixedFeeRateCards=[fee(ctx, "Pro fee", "620", enableProration=True)])
        edit_schedules(ctx, "acme", [edit(basic, "2024-03-01")])
    assert world.bill_run(t(3, 1)) == 0  # March's draft exists
    untouched = state(world)

    # Pro from 1 April (next cycle): March's draft stays as it is
    with world.at(t(3, 20)) as ctx:
        later = preview_schedule_edits(ctx, "acme", [edit(pro, "2024-04-01")])
    assert later.changed == [] and later.unchanged == 1
    assert shape(later.drafts[0].after) == ("acme", "STANDARD", t(3, 1), t(4, 1), "Basic", 1, D("310.00"))

    # Pro from 1 March, the cycle's first day: the draft on Basic goes, one on Pro comes: read as one, re-priced
    with world.at(t(3, 20)) as ctx:
        whole = preview_schedule_edits(ctx, "acme", [edit(pro, "2024-03-01")])
    [change] = whole.changed
    assert (shape(change.before), shape(change.after)) == (
        ("acme", "STANDARD", t(3, 1), t(4, 1), "Basic", 1, D("310.00")),
        ("acme", "STANDARD", t(3, 1), t(4, 1), "Pro", 1, D("620.00")),
    )

    # Ending the schedule from 11 March: the draft is cut to 10 days (310 x 10/31)
    with world.at(t(3, 20)) as ctx:
        ended = preview_schedule_edits(ctx, "acme", [edit(None, "2024-03-11", mode="DISASSOCIATE")])
    [cut] = ended.changed
    assert (cut.after.end, cut.after.total, cut.difference) == (t(3, 11), D("100.00"), D("-210.00"))  # type: ignore[union-attr]
    assert state(world) == untouched

    # Once March is finalized, an edit reaching into it is refused by the preview as by the edit, nothing kept
    assert world.bill_run(t(4, 1)) == 1
    untouched = state(world)
    with world.at(t(4, 2)) as ctx, pytest.raises(BadRequest, match="invoiced up to 2024-04-01"):
        preview_schedule_edits(ctx, "acme", [edit(pro, "2024-03-11")])
    assert state(world) == untouched


def add_account(world: World, account_id: str) -> None:
    with world.at(t(2, 1)) as ctx:
        CustomerService(ctx).create(
            CreateCustomerRequest(
                id=account_id, name=f"{account_id.title()} Ltd", primary_email=f"a@{account_id}.test", address=Address()
            )
        )


def test_a_migration_preview_is_what_the_migration_does_account_by_account(world: World) -> None:
    # Given Growth v1 (a 300.00 monthly fee) on acme, beta and gamma from 1 March; v2 charges 450.00; gamma's March
    # invoice was finalized early, so gamma cannot move from the start of March
    for account_id in ("beta", "gamma"):
        add_account(world, account_id)
    with world.at(t(2, 20)) as ctx:
        growth = make_plan(ctx, "Growth", grace=0, fixedFeeRateCards=[fee(ctx, "Growth fee", "300")])
        for account_id in ("acme", "beta", "gamma"):
            edit_schedules(ctx, account_id, [edit(growth, "2024-03-01")])
    assert world.bill_run(t(3, 1)) == 0  # March's drafts exist
    with world.at(t(3, 5)) as ctx:
        details = {"fixedFeeRateCards": [{**fee(ctx, "Growth fee v2", "450")}]}
        update_price_plan(ctx, growth, UpdatePricePlanRequest.model_validate({"pricePlanDetails": details}))
        [gamma] = draft_totals(ctx, [AccountRepository(ctx.session, ctx.org_id).by_id("gamma")]).values()  # type: ignore[list-item]
        InvoiceService(ctx).update(gamma.invoice_id, "DUE", {})
    now = t(3, 20)
    untouched = state(world)
    arguments: dict[str, Any] = {
        "source_id": growth,
        "source_versions": [1],
        "target_id": growth,
        "target_version": 2,
        "mode": "START_OF_CURRENT_CYCLE",
        "retain_start_offsets": False,
    }

    # When "move the accounts on version 1 to version 2 from the start of their current cycle" is previewed
    with world.at(now) as ctx:
        preview = preview_plan_migration(ctx, **arguments)
    # Then acme and beta's March drafts go from 300.00 on v1 to 450.00 on v2; gamma cannot move, and says why
    assert (preview.total, preview.failures, preview.rest, preview.changed_drafts) == (3, 1, 0, 2)
    assert preview.first_failure is not None and "invoiced up to 2024-04-01" in preview.first_failure
    moves = {m.account_id: m for m in preview.accounts}
    assert [m.account_id for m in preview.accounts] == ["acme", "beta", "gamma"]
    assert (moves["beta"].account_name, moves["gamma"].failure) == ("Beta Ltd", preview.first_failure)
    for account_id in ("acme", "beta"):
        [change] = moves[account_id].drafts.changed
        assert (shape(change.before), shape(change.after)) == (
            (account_id, "STANDARD", t(3, 1), t(4, 1), "Growth", 1, D("300.00")),
            (account_id, "STANDARD", t(3, 1), t(4, 1), "Growth", 2, D("450.00")),
        )
    assert moves["gamma"].drafts.changed == []
    assert state(world) == untouched

    # A listing capped at one account counts the rest
    with world.at(now) as ctx:
        capped = preview_plan_migration(ctx, **arguments, limit=1)
    assert ([m.account_id for m in capped.accounts], capped.total, capped.rest, capped.failures) == (["acme"], 3, 2, 1)
    assert state(world) == untouched

    # When the migration runs at the same instant, each account's drafts are the preview's "after"
    with world.at(now) as ctx:
        start_plan_migration(ctx, **arguments, require_confirmation=False)
    after = drafts_now(world, now, "acme", "beta", "gamma")
    assert sorted(shape(d) for d in after.values()) == sorted(
        shape(c.after) for m in preview.accounts for c in m.drafts.drafts
    )


def test_an_update_of_an_active_plan_that_migrates_is_previewed_as_it_is_made(world: World) -> None:
    # Given acme on Growth v1 (usage, D4's tiered card) from 1 March, 150 calls in March
    with world.at(t(2, 20)) as ctx:
        growth = make_plan(ctx, "Growth", grace=0, usageRateCards=[tiered_card(world.meter_id)])
        edit_schedules(ctx, "acme", [edit(growth, "2024-03-01")])
    assert world.bill_run(t(3, 1)) == 0  # March's draft exists
    world.ingest(t(3, 16), ("e1", t(3, 2), "150"))
    card = tiered_card(world.meter_id)
    card["rateValues"][0]["slabRates"][0]["rate"] = D("2.00")  # the first 100 calls cost twice as much
    untouched = state(world)
    now = t(3, 20)

    # An update that makes version 2 without moving anyone re-prices nothing
    with world.at(now) as ctx:
        quiet = preview_price_plan_update(
            ctx, growth, UpdatePricePlanRequest.model_validate({"pricePlanDetails": {"usageRateCards": [card]}})
        )
    assert (quiet.total, quiet.accounts) == (0, [])
    assert state(world) == untouched

    # With migrationMode START_OF_CURRENT_CYCLE: March's draft, 125.00 on v1, becomes 225.00 on v2
    request = UpdatePricePlanRequest.model_validate(
        {"pricePlanDetails": {"usageRateCards": [card]}, "migrationMode": "START_OF_CURRENT_CYCLE"}
    )
    with world.at(now) as ctx:
        preview = preview_price_plan_update(ctx, growth, request)
    [move] = preview.accounts
    [change] = move.drafts.changed
    assert (move.account_id, move.failure, preview.total, preview.failures) == ("acme", None, 1, 0)
    assert (shape(change.before), shape(change.after)) == (
        ("acme", "STANDARD", t(3, 1), t(4, 1), "Growth", 1, D("125.00")),
        ("acme", "STANDARD", t(3, 1), t(4, 1), "Growth", 2, D("225.00")),
    )
    assert state(world) == untouched  # no version 2, no job, no draft

    with world.at(now) as ctx:
        update_price_plan(ctx, growth, request)
    assert [shape(d) for d in drafts_now(world, now, "acme").values()] == [shape(change.after)]


def usage_update(meter_id: str, first_rate: str) -> plan_v2.Operation:
    """v2's UPDATE of the plan's usage card (named `usage_<meter>`) with D4's card, its first slab at `first_rate`."""
    card = tiered_card(meter_id)
    card["rateValues"][0]["slabRates"][0]["rate"] = D(first_rate)
    typed = UsageRateCard.model_validate(card)
    given = plan_v2.CardInput("USAGE", meter_id, "API calls", "IN_ARREARS", None, {"usage_rate_card": typed})
    return plan_v2.Operation("UPDATE", f"usage_{meter_id}", given)


def test_finalizing_a_v2_draft_that_migrates_is_previewed_as_it_is_made(world: World) -> None:
    # Given acme on Growth v1 (D4's tiered card) from 1 March, 150 calls in March, and a v2 draft (version 2) whose
    # first 100 calls cost 2.00
    with world.at(t(2, 20)) as ctx:
        growth = make_plan(ctx, "Growth", grace=0, usageRateCards=[tiered_card(world.meter_id)])
        edit_schedules(ctx, "acme", [edit(growth, "2024-03-01")])
    assert world.bill_run(t(3, 1)) == 0
    world.ingest(t(3, 16), ("e1", t(3, 2), "150"))
    with world.at(t(3, 17)) as ctx:
        PricePlanV2Service(ctx).bulk(growth, [usage_update(world.meter_id, "2.00")])
    untouched = state(world)
    now = t(3, 20)

    # Finalizing with NONE moves no one: nothing is re-priced
    with world.at(now) as ctx:
        quiet = preview_finalize_price_plan_v2(ctx, growth, "NONE", None)
    assert (quiet.total, quiet.accounts) == (0, [])
    assert state(world) == untouched

    # With START_OF_CURRENT_CYCLE: March's draft, 125.00 on v1, becomes 225.00 on v2
    with world.at(now) as ctx:
        preview = preview_finalize_price_plan_v2(ctx, growth, "START_OF_CURRENT_CYCLE", "LATEST_VERSION")
    [move] = preview.accounts
    [change] = move.drafts.changed
    assert (move.account_id, move.failure, preview.total, preview.failures) == ("acme", None, 1, 0)
    assert (shape(change.before), shape(change.after)) == (
        ("acme", "STANDARD", t(3, 1), t(4, 1), "Growth", 1, D("125.00")),
        ("acme", "STANDARD", t(3, 1), t(4, 1), "Growth", 2, D("225.00")),
    )
    assert state(world) == untouched  # still a draft, no job

    with world.at(now) as ctx:
        finalize_price_plan_v2(ctx, growth, "START_OF_CURRENT_CYCLE", "LATEST_VERSION")
    assert [shape(d) for d in drafts_now(world, now, "acme").values()] == [shape(change.after)]


def test_a_v2_draft_with_errors_is_refused_by_its_preview_as_by_finalize(world: World) -> None:
    with world.at(t(2, 20)) as ctx:
        growth = make_plan(ctx, "Growth", grace=0, usageRateCards=[tiered_card(world.meter_id)])
        op = usage_update(world.meter_id, "2.00")
        assert op.card is not None
        bad = op.card.details["usage_rate_card"]
        assert isinstance(bad, UsageRateCard)
        slabs = bad.rate_plan.model_copy(
            update={
                "slabs": [bad.rate_plan.slabs[0].model_copy(update={"start_after": D(5)}), *bad.rate_plan.slabs[1:]]
            }
        )
        given = plan_v2.CardInput(
            "USAGE",
            world.meter_id,
            "API calls",
            "IN_ARREARS",
            None,
            {"usage_rate_card": bad.model_copy(update={"rate_plan": slabs})},
        )
        PricePlanV2Service(ctx).bulk(growth, [plan_v2.Operation("UPDATE", op.name, given)])
    untouched = state(world)
    with world.at(t(2, 21)) as ctx, pytest.raises(BadRequest, match=r"cannot be finalized: 1 error\(s\)"):
        preview_finalize_price_plan_v2(ctx, growth, "IMMEDIATE", "LATEST_VERSION")
    assert state(world) == untouched


def test_finalizing_staged_schedule_edits_is_previewed_as_it_is_made(world: World) -> None:
    # Given acme on Basic (a 300.00 fee) from 1 March with March's draft, and Pro (450.00) staged from 1 March
    with world.at(t(2, 20)) as ctx:
        basic = make_plan(ctx, "Basic", grace=0, fixedFeeRateCards=[fee(ctx, "Basic fee", "300")])
        pro = make_plan(ctx, "Pro", grace=0, fixedFeeRateCards=[fee(ctx, "Pro fee", "450")])
        edit_schedules(ctx, "acme", [edit(basic, "2024-03-01")])
    assert world.bill_run(t(3, 1)) == 0
    staged = v2.UpdateAccountScheduleV2Request.model_validate(
        {
            "mode": "ASSOCIATE",
            "effectiveFrom": "2024-03-01",
            "effectiveUntil": "9999-01-01",
            "associationConfig": {"pricePlanId": pro},
        }
    )
    with world.at(t(3, 5)) as ctx:
        stage_schedule_edits(ctx, "acme", [staged])
    untouched = state(world)
    now = t(3, 20)

    with world.at(now) as ctx:
        preview, views = preview_finalize_schedules(ctx, "acme", v2.FinalizeAccountSchedules())
    [change] = preview.changed
    assert (shape(change.before), shape(change.after)) == (
        ("acme", "STANDARD", t(3, 1), t(4, 1), "Basic", 1, D("300.00")),
        ("acme", "STANDARD", t(3, 1), t(4, 1), "Pro", 1, D("450.00")),
    )
    assert [v.plan_name for v in views] == ["Pro"]
    assert state(world) == untouched  # still staged, the schedule in force unchanged

    with world.at(now) as ctx:
        finalize_schedules(ctx, "acme", v2.FinalizeAccountSchedules())
    assert [shape(d) for d in drafts_now(world, now, "acme").values()] == [shape(change.after)]
    with world.at(now) as ctx, pytest.raises(BadRequest, match="no staged schedule edits to finalize"):
        preview_finalize_schedules(ctx, "acme", v2.FinalizeAccountSchedules())
