"""Invoicing over whole billing periods with a controlled clock, on both engines (billing-rules D3, D4, D7, D8,
D11, D12). Each scenario is written given / when / then and checks every line to the cent."""

from __future__ import annotations

from decimal import Decimal

import pytest

from meterline.accounts.repository import AccountRepository
from meterline.core.errors import BadRequest, Conflict
from meterline.invoicing.builder import Charge
from meterline.invoicing.service import InvoiceService
from tests.service.billing_world import World, associate, fee, lines, make_plan, t, tiered_card

D = Decimal


def test_tiered_usage_in_advance_fee_and_commitment_over_a_month(world: World) -> None:
    # Given a MONTHLY plan (grace 5 days): D4's tiered card, a 300.00 platform fee billed in advance, and a
    # 500.00 minimum commitment; account acme on it from 1 March, with net terms of 15 days
    with world.at(t(2, 20)) as ctx:
        meter_id = world.meter_id
        plan = make_plan(
            ctx,
            "Growth",
            usageRateCards=[tiered_card(meter_id)],
            fixedFeeRateCards=[fee(ctx, "Platform", "300", invoiceTiming="IN_ADVANCE")],
            minimumCommitment={
                "displayName": "Monthly commitment",
                "rateValues": [{"currency": "USD", "rate": D("500")}],
            },
        )
        AccountRepository(ctx.session, ctx.org_id).by_id("acme").net_term_days = 15  # type: ignore[union-attr]
        associate(ctx, plan, "2024-03-01")

    # When the bill run passes 1 March: the in-advance fee is invoiced at once
    assert world.bill_run(t(3, 1)) == 1
    [advance, draft] = world.invoices()
    assert (advance["type"], advance["status"], advance["number"], advance["total"]) == (
        "STANDARD_ADVANCED",
        "DUE",
        "INV-000001",
        D("300.00"),
    )
    assert lines(advance["revenue"])["TOTAL_ADVANCED_FEES"] == D("300.00")
    assert advance["due"] == t(3, 16)  # invoice date 1 March + 15 days
    assert (draft["type"], draft["status"], draft["number"]) == ("STANDARD", "DRAFT", None)

    # And 150 calls arrive in March: the draft shows them at once
    assert (
        world.ingest(t(3, 10), ("e1", t(3, 2), "100"), ("e2", t(3, 9), "50"))
        == ["INGESTION_COMPLETED_EVENT_METERED"] * 2
    )
    draft = world.invoices()[1]
    got = lines(draft["revenue"])
    # Then: 100 x 1.00 + 50 x 0.50 = 125.00; SUB_TOTAL counts the fee billed in advance (D8): 425.00;
    # true-up 500 - 425 = 75.00; the fee already invoiced comes off: 500 - 300 = 200.00
    assert got[meter_id] == D("125.00")
    assert (got[f"{meter_id}:slab:1"], got[f"{meter_id}:slab:2"]) == (D("100.00"), D("25.00"))
    assert got["SUB_TOTAL_AMOUNT"] == D("425.00") and got["TRUE_UP_AMOUNT"] == D("75.00")
    assert got["PRICE_PLAN_AMOUNT"] == D("500.00") and got["INVOICED_IN_ADVANCE"] == D("-300.00")
    assert got["GROSS_AMOUNT"] == got["NET_AMOUNT"] == got["TOTAL_AMOUNT"] == draft["total"] == D("200.00")
    assert [(u.id, u.quantity) for u in draft["usage"]] == [(meter_id, D("150"))]

    # When April starts, April's advance fee is invoiced; March's invoice stays DRAFT through its grace period,
    # and a late March event (1,050 calls) sent on 3 April still counts
    assert world.bill_run(t(4, 1)) == 1
    assert world.ingest(t(4, 3), ("e3", t(3, 31, 23), "1050")) == ["INGESTION_COMPLETED_EVENT_METERED"]
    march = next(i for i in world.invoices() if i["type"] == "STANDARD" and i["start"] == t(3, 1))
    got = lines(march["revenue"])
    # Then 1,200 calls: 100 + 450 + 200 = 750.00; SUB_TOTAL 1,050 is over the commitment: no true-up
    assert (march["status"], got[meter_id], got["TRUE_UP_AMOUNT"], march["total"]) == (
        "DRAFT",
        D("750.00"),
        D("0.00"),
        D("750.00"),
    )

    # When the grace period ends (6 April), the bill run finalizes it; an event for March is now refused
    assert world.bill_run(t(4, 6)) == 1
    assert world.ingest(t(4, 7), ("e4", t(3, 30), "5")) == ["INGESTION_FAILED_PAST_GRACE_PERIOD"]
    invoices = world.invoices()
    assert [(i["type"], i["number"], i["status"]) for i in invoices] == [
        ("STANDARD_ADVANCED", "INV-000001", "DUE"),
        ("STANDARD_ADVANCED", "INV-000002", "DUE"),
        ("STANDARD", "INV-000003", "DUE"),
        ("STANDARD", None, "DRAFT"),
    ]
    final = invoices[2]
    assert (final["total"], final["date"], final["due"]) == (D("750.00"), t(4, 6), t(4, 21))

    # And a finalized invoice never changes: not by a rerun, nor by charges
    assert world.bill_run(t(4, 6)) == 0
    assert world.invoices()[:3] == invoices[:3]
    with world.at(t(4, 8)) as ctx, pytest.raises(BadRequest, match="DRAFT"):
        service = InvoiceService(ctx)
        service.set_charges(service.get(final["id"]), [Charge(name="Late fee", value="10")])


def test_a_plan_change_mid_cycle_gives_each_piece_its_prorated_invoice(world: World) -> None:
    # Given plan Basic (310.00 a month, prorated, in arrears) from 1 March, and plan Pro (620.00, prorated) from
    # 11 March: March has 31 days, Basic covers 10 of them and Pro 21
    with world.at(t(2, 20)) as ctx:
        basic = make_plan(ctx, "Basic", grace=0, fixedFeeRateCards=[fee(ctx, "Basic fee", "310", enableProration=True)])
        pro = make_plan(ctx, "Pro", grace=0, fixedFeeRateCards=[fee(ctx, "Pro fee", "620", enableProration=True)])
        associate(ctx, basic, "2024-03-01")
    with world.at(t(3, 5)) as ctx:
        associate(ctx, pro, "2024-03-11")
    # When the cycle ends
    assert world.bill_run(t(4, 1)) == 2
    march = [i for i in world.invoices() if i["start"] < t(4, 1)]
    # Then two invoices, numbered in period order: 310 x 10/31 = 100.00 and 620 x 21/31 = 420.00
    assert [(i["number"], i["start"], i["end"], i["total"]) for i in march] == [
        ("INV-000001", t(3, 1), t(3, 11), D("100.00")),
        ("INV-000002", t(3, 11), t(4, 1), D("420.00")),
    ]


def test_the_commitment_of_a_partial_cycle_is_prorated(world: World) -> None:
    # Given a MONTHLY plan (grace 0) with only a 310.00 minimum commitment, and account acme on it from 11 March:
    # March has 31 days, the schedule covers 21 of them
    with world.at(t(2, 20)) as ctx:
        plan = make_plan(
            ctx,
            "Committed",
            grace=0,
            minimumCommitment={"displayName": "Commitment", "rateValues": [{"currency": "USD", "rate": D("310")}]},
        )
        associate(ctx, plan, "2024-03-11")
    # When the cycle ends with no usage
    assert world.bill_run(t(4, 1)) == 1
    [march] = [i for i in world.invoices() if i["start"] < t(4, 1)]
    got = lines(march["revenue"])
    # Then the true-up owes the prorated commitment: 310 x 21/31 = 210.00, not the whole 310.00 (D8)
    assert (march["start"], march["end"], march["status"]) == (t(3, 11), t(4, 1), "DUE")
    assert got["SUB_TOTAL_AMOUNT"] == D("0.00") and got["TRUE_UP_AMOUNT"] == D("210.00")
    assert march["total"] == D("210.00")


def test_charges_on_the_ongoing_invoice(world: World) -> None:
    # Given a plan with a 100.00 fee, the account on it from 1 March
    with world.at(t(2, 20)) as ctx:
        base = fee(ctx, "Base", "100")
        associate(ctx, make_plan(ctx, "Flat", fixedFeeRateCards=[base]), "2024-03-01")
    # When charges are put on the account in March: a fixed one, rate x quantity, 10% of the fee, a discount
    with world.at(t(3, 10)) as ctx:
        service = InvoiceService(ctx)
        service.set_account_charges(
            "acme",
            [
                Charge(name="Setup", value="49.999"),
                Charge(name="Hours", rate=D("80"), quantity=D("1.5")),
                Charge(name="Support", value=f'{{"*": [{{"var": "{base["id"]}"}}, 0.1]}}'),
                Charge(name="Goodwill", value="-20"),
            ],
        )
        with pytest.raises(BadRequest, match="neither a number nor jsonLogic"):
            service.set_account_charges("acme", [Charge(name="Bad", value="ten dollars")])
        with pytest.raises(BadRequest, match="rate and quantity"):
            service.set_account_charges("acme", [Charge(name="Half", rate=D("3"))])
    [draft] = world.invoices()
    got = lines(draft["revenue"])
    # Then each charge is rounded once (D1) and they sum under TOTAL_MISCELLANEOUS_CHARGES
    assert [got[f"MISCELLANEOUS_CHARGE:{n}"] for n in (1, 2, 3, 4)] == [
        D("50.00"),
        D("120.00"),
        D("10.00"),
        D("-20.00"),
    ]
    assert got["TOTAL_MISCELLANEOUS_CHARGES"] == D("160.00") and draft["total"] == D("260.00")

    # And a discount never takes the total below 0 (D11)
    with world.at(t(3, 11)) as ctx:
        InvoiceService(ctx).set_account_charges("acme", [Charge(name="Credit note", value="-150")])
    [draft] = world.invoices()
    assert draft["total"] == D("0.00") and draft["revenue"].metadata == {"beforeFloor": D("-50.00")}


def test_a_refused_charge_leaves_the_draft_as_it_was_in_the_same_unit_of_work(world: World) -> None:
    # Given a draft with one charge
    with world.at(t(2, 20)) as ctx:
        associate(ctx, make_plan(ctx, "Flat", fixedFeeRateCards=[fee(ctx, "Base", "100")]), "2024-03-01")
    with world.at(t(3, 10)) as ctx:
        InvoiceService(ctx).add_account_charge("acme", Charge(name="Setup", value="120"))
    # When a charge that rounds to 10^15 is refused, and the same unit of work reads the draft again (as the
    # console does to answer the refused form)
    with world.at(t(3, 11)) as ctx:
        service = InvoiceService(ctx)
        with pytest.raises(BadRequest, match="out of range"):
            service.add_account_charge("acme", Charge(name="Phantom check", value="999999999999999.995"))
        account = AccountRepository(ctx.session, ctx.org_id).by_id("acme")
        assert account is not None
        draft = service.ongoing(account)  # syncs and flushes, as the account's page does
        assert draft is not None
        revenue, _usage, _details, total = service.view(draft)
        # Then it lists only the saved charge, and so does a later unit of work
        assert [(line.description, line.value) for line in revenue.walk() if line.type == "MISCELLANEOUS_CHARGE"] == [
            ("Setup", D("120.00"))
        ]
        assert total == D("220.00")
    [draft] = world.invoices()
    assert lines(draft["revenue"])["TOTAL_MISCELLANEOUS_CHARGES"] == D("120.00")


def test_a_charge_is_removed_from_a_draft_only(world: World) -> None:
    # Given a draft with three charges
    with world.at(t(2, 20)) as ctx:
        associate(ctx, make_plan(ctx, "Flat", grace=0, fixedFeeRateCards=[fee(ctx, "Base", "100")]), "2024-03-01")
    with world.at(t(3, 10)) as ctx:
        InvoiceService(ctx).set_account_charges(
            "acme",
            [Charge(name="Setup", value="120"), Charge(name="Hours", value="80"), Charge(name="Ten", value="10")],
        )
    [draft] = world.invoices()
    # When the second is removed (named as it was shown)
    with world.at(t(3, 11)) as ctx:
        removed = InvoiceService(ctx).remove_charge(draft["id"], 2, "Hours")
    assert removed == Charge(name="Hours", value="80")
    [draft] = world.invoices()
    got = lines(draft["revenue"])
    # Then the others stay, renumbered, and the total follows
    assert (got["MISCELLANEOUS_CHARGE:1"], got["MISCELLANEOUS_CHARGE:2"]) == (D("120.00"), D("10.00"))
    assert "MISCELLANEOUS_CHARGE:3" not in got and draft["total"] == D("230.00")
    # A position that no longer holds that charge (the charges changed since they were shown) removes nothing
    with world.at(t(3, 12)) as ctx, pytest.raises(Conflict, match="changed meanwhile"):
        InvoiceService(ctx).remove_charge(draft["id"], 2, "Hours")
    with world.at(t(3, 12)) as ctx, pytest.raises(Conflict, match="has no charge 'Ten' at position 3: its charges"):
        InvoiceService(ctx).remove_charge(draft["id"], 3, "Ten")
    # And once the invoice is finalized, none is removable
    assert world.bill_run(t(4, 1)) == 1
    with world.at(t(4, 2)) as ctx, pytest.raises(BadRequest, match="only on a DRAFT invoice"):
        InvoiceService(ctx).remove_charge(draft["id"], 1, "Setup")
    [final, *_] = world.invoices()
    assert final["status"] == "DUE" and lines(final["revenue"])["TOTAL_MISCELLANEOUS_CHARGES"] == D("130.00")
