"""Invoice groups' COMPOSITE invoices on both engines (docs/invoicing.md, "Invoice groups"): made by bill runs
from the members' invoices as finalized, to the cent, with credits and the wallet acting per account."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from meterline.accounts.schemas import CreateAccountRequest
from meterline.accounts.service import AccountService
from meterline.core.clock import utc_now
from meterline.core.pagination import page_request
from meterline.core.schemas import Address
from meterline.core.settings import Settings
from meterline.credits.service import Grant
from meterline.files import storage
from meterline.files.service import FileService
from meterline.invoice_groups.models import CompositeInvoice
from meterline.invoice_groups.schemas import CreateInvoiceGroupRequest, composite_out
from meterline.invoice_groups.service import InvoiceGroupService
from meterline.invoicing.models import Invoice
from meterline.invoicing.pdf import render_composite_pdf
from meterline.invoicing.service import InvoiceService
from meterline.schedules.schemas import UpdatePricingScheduleRequest
from meterline.tenancy.context import Context
from meterline.usecases import balances, housekeeping, invoice_files, jobs as usecase_jobs
from meterline.usecases.invoice_groups import ListedComposite, composite_state, consolidate, invoice_page
from meterline.usecases.schedules import edit_schedules
from meterline.webhooks.delivery import Deliverer
from meterline.webhooks.service import WebhookService
from tests.service.billing_world import World, fee, make_plan, t, tiered_card
from tests.service.test_credits_wallet import check_ledgers
from tests.webhook_receiver import Receiver, wait_for

D = Decimal


def _group(account_ids: list[str], daily: bool, net_terms: int | None = 30) -> CreateInvoiceGroupRequest:
    return CreateInvoiceGroupRequest(
        name="Acme group",
        email="ap@acme.test",
        daily_invoice_consolidation=daily,
        account_ids=account_ids,
        net_term_days=net_terms,
        address=Address(line1="2 Group Rd", country="US"),
    )


def _accounts(world: World, *ids: str) -> None:
    with world.at(t(2, 20)) as ctx:
        for account_id in ids:
            AccountService(ctx).create(
                CreateAccountRequest(id=account_id, name=f"Acme {account_id}", customer_id="acme")
            )


def _composites(world: World) -> list[CompositeInvoice]:
    with world.at(t(1, 1)) as ctx:
        stmt = select(CompositeInvoice).where(CompositeInvoice.org_id == world.org.id)
        return list(ctx.session.scalars(stmt.order_by(CompositeInvoice.sequence_number)))


def _invoices(world: World) -> dict[str, Invoice]:
    """account id -> its finalized invoice of March."""
    with world.at(t(1, 1)) as ctx:
        stmt = select(Invoice).where(
            Invoice.org_id == world.org.id, Invoice.status != "DRAFT", Invoice.start_at == t(3, 1)
        )
        rows = list(ctx.session.scalars(stmt))
        ids = {a.pk: a.id for a in AccountService(ctx).repo.by_pks({r.account_pk for r in rows}).values()}
        return {ids[r.account_pk]: r for r in rows}


def _march(world: World) -> str:
    """The hand-computed world: acme and acme-2 in a group, solo alone, March billed as of 6 April; the group's id."""
    # Given Growth (D4's tiered usage card, a 300.00 fee, grace 5 days) from 1 March for acme, acme-2 and solo;
    # acme and acme-2 in a group with 30 days' net terms (solo in none)
    _accounts(world, "acme-2", "solo")
    with world.at(t(2, 20)) as ctx:
        plan = make_plan(
            ctx, "Growth", usageRateCards=[tiered_card(world.meter_id)], fixedFeeRateCards=[fee(ctx, "Platform", "300")]
        )
        for account_id in ("acme", "acme-2", "solo"):
            edit_schedules(
                ctx,
                account_id,
                [
                    UpdatePricingScheduleRequest.model_validate(
                        {"pricePlanId": plan, "effectiveFrom": "2024-03-01", "effectiveUntil": "9999-01-01"}
                    )
                ],
            )
    with world.at(t(2, 25)) as ctx:
        group = InvoiceGroupService(ctx).create(_group(["acme", "acme-2"], daily=False)).pk
    # and in March: acme sends 150 calls (125.00 + 300.00 = 425.00); acme-2 has a 50.00 credit and 100.00 in its
    # wallet (300.00 - 50.00 = 250.00, of which the wallet pays 100.00)
    world.ingest(t(3, 10), ("e1", t(3, 2), "150"))
    with world.at(t(3, 10)) as ctx:
        balances.credits(ctx).grant(
            [
                Grant(
                    account_id="acme-2", purpose="Promo", amount=D("50.00"), priority=1, effective_from=date(2024, 3, 1)
                )
            ]
        )
        balances.wallet(ctx).top_up("acme-2", D("100.00"))

    # and the bill run as of 6 April finalizes March
    assert world.bill_run(t(4, 6)) >= 3
    return group


def test_a_bill_run_puts_a_groups_cycle_on_one_composite_invoice_to_the_cent(world: World) -> None:
    # Given acme and acme-2 in a group and solo alone, March billed by the run of 6 April (_march)
    group = _march(world)

    # Then each account's invoice is finalized as ever, credits and the wallet acting on acme-2's alone
    march = _invoices(world)
    assert (march["acme"].total_amount, march["acme"].paid_amount, march["acme"].status) == (D("425.00"), 0, "DUE")
    assert (march["acme-2"].total_amount, march["acme-2"].paid_amount) == (D("250.00"), D("100.00"))
    assert march["acme-2"].status == "PARTIALLY_PAID" and march["solo"].total_amount == D("300.00")
    # and one COMPOSITE invoice gathers the group's two, numbered after them, due 30 days after its date
    [composite] = _composites(world)
    assert composite.group_pk == group and composite.currency == "USD"
    assert composite.total_amount == D("675.00") == march["acme"].total_amount + march["acme-2"].total_amount
    assert composite.sequence_number == max(i.sequence_number or 0 for i in march.values()) + 1
    assert composite.sequence_id == f"INV-{composite.sequence_number:06d}"
    assert (composite.start_at, composite.end_at, composite.invoice_date) == (t(3, 1), t(4, 1), t(4, 6))
    assert composite.due_date == t(4, 6) + timedelta(days=30) == t(5, 6) and composite.net_term_days == 30
    # its member invoices take the group's due date; solo keeps the organization's terms
    assert march["acme"].due_date == march["acme-2"].due_date == t(5, 6)
    assert march["solo"].due_date != t(5, 6)
    # its lines are the member invoices as finalized: each one's TOTAL_AMOUNT with its own lines under it
    root = json.loads(composite.lines, parse_float=D, parse_int=D)
    assert (root["type"], root["value"]) == ("GRAND_TOTAL_AMOUNT", D("675.00"))
    members = root["lineItems"]
    assert [(m["id"], m["type"], m["value"]) for m in members] == [
        (march["acme"].pk, "TOTAL_AMOUNT", D("425.00")),
        (march["acme-2"].pk, "TOTAL_AMOUNT", D("250.00")),
    ]
    assert members[1]["description"] == f"Acme acme-2 (acme-2), invoice {march['acme-2'].sequence_id}"
    frozen = json.loads(march["acme-2"].lines, parse_float=D, parse_int=D)
    assert members[1]["lineItems"] == frozen["lineItems"]  # not computed again
    assert [c["value"] for c in frozen["lineItems"][0]["lineItems"] if c["type"] == "TOTAL_CREDITS"] == [D("-50.00")]
    # what it has been paid is its members': the wallet's 100.00
    with world.at(t(4, 7)) as ctx:
        state = composite_state(ctx, ctx.session.get(CompositeInvoice, composite.pk))  # type: ignore[arg-type]
        assert (state.paid, state.status) == (D("100.00"), "PARTIALLY_PAID")
        check_ledgers(ctx.session, world.org.id)

    # When the run is done again, nothing more is made; April's drafts wait for their cycle
    world.bill_run(t(4, 6))
    world.bill_run(t(4, 20))
    assert [c.pk for c in _composites(world)] == [composite.pk]

    # When acme's invoice is paid in full and acme-2's rest is paid, the composite is PAID
    with world.at(t(4, 21)) as ctx:
        service = InvoiceService(ctx)
        service.update(march["acme"].pk, "PAID", {})
        service.update(march["acme-2"].pk, "PAID", {})
    with world.at(t(4, 21)) as ctx:
        state = composite_state(ctx, ctx.session.get(CompositeInvoice, composite.pk))  # type: ignore[arg-type]
        assert (state.paid, state.status) == (D("675.00"), "PAID")

    # And May's bill run makes April's composite: 300.00 each (no usage), the next number
    world.bill_run(t(5, 6))
    april = _composites(world)[1]
    assert april.total_amount == D("600.00") and april.start_at == t(4, 1)
    assert april.sequence_number > composite.sequence_number


def test_daily_consolidation_gathers_the_days_invoices_once_the_day_is_over(world: World) -> None:
    # Given acme and acme-2 in a daily group (no net terms of its own: the organization's), and custom invoices
    _accounts(world, "acme-2")
    with world.at(t(2, 25)) as ctx:
        InvoiceGroupService(ctx).create(_group(["acme", "acme-2"], daily=True, net_terms=None))

    def custom(account_id: str, when_day: int, hour: int, value: str) -> str:
        with world.at(t(3, when_day, hour)) as ctx:
            invoice, _ = InvoiceService(ctx).create_custom(
                account_id,
                t(3, 1),
                t(3, 2),
                "DUE",
                [{"description": "Setup", "value": D(value)}],
                False,
                True,
                True,
                None,
            )
            return invoice.pk

    a = custom("acme", 10, 9, "10.01")
    b = custom("acme-2", 10, 17, "20.02")
    # When a run happens during 10 March, the day is not over: nothing yet
    with world.at(t(3, 10, 18)) as ctx:
        assert consolidate(ctx, t(3, 10, 18)) == []
    c = custom("acme", 11, 8, "5.00")
    # When the run of 11 March comes, the 10th's two invoices make one composite; the 11th's waits for its end
    with world.at(t(3, 11, 9)) as ctx:
        assert len(consolidate(ctx, t(3, 11, 9))) == 1
        org_terms = ctx.org.net_term_days
    [tenth] = _composites(world)
    assert tenth.period == "DAY:2024-03-10" and tenth.total_amount == D("30.03")
    assert tenth.invoice_date == t(3, 10, 17) and tenth.due_date == t(3, 10, 17) + timedelta(days=org_terms)
    root = json.loads(tenth.lines, parse_float=D, parse_int=D)
    assert [m["id"] for m in root["lineItems"]] == [a, b]
    with world.at(t(3, 12, 1)) as ctx:
        assert len(consolidate(ctx, t(3, 12, 1))) == 1
        assert consolidate(ctx, t(3, 12, 2)) == []  # once
    eleventh = _composites(world)[1]
    assert eleventh.total_amount == D("5.00") and [m["id"] for m in json.loads(eleventh.lines)["lineItems"]] == [c]


def _listed(ctx: Context, size: int = 50, **filters: object) -> list[str]:
    """The ids GET /invoices lists with `filters`, every page followed."""
    wanted: dict[str, Any] = {"status": None, "owner_id": None, "customer_id": None, "start": None, "end": None}
    wanted.update(filters)
    ids: list[str] = []
    token = None
    while True:
        page = invoice_page(ctx, page_request(token, size), **wanted)
        ids += [i.invoice.pk if isinstance(i, ListedComposite) else i.pk for i in page.items]
        if page.next_token is None:
            return ids
        token = page.next_token


def test_get_invoices_lists_the_composite_with_the_filters_and_paging_of_every_invoice(world: World) -> None:
    group = _march(world)
    march = _invoices(world)
    [composite] = _composites(world)
    with world.at(t(4, 7)) as ctx:
        stmt = select(Invoice.pk).where(Invoice.org_id == world.org.id)
        every = sorted([*ctx.session.scalars(stmt), composite.pk])
        # in id order (creation order) among the accounts' invoices, once, whatever the page size
        assert _listed(ctx) == every and composite.pk in every
        assert _listed(ctx, size=1) == _listed(ctx, size=2) == every
        # its owner is its group: ownerId = the group lists its composites; an account's or a customer's list does not
        assert _listed(ctx, owner_id=group) == [composite.pk]
        assert composite.pk not in _listed(ctx, owner_id="acme") and march["acme"].pk in _listed(ctx, owner_id="acme")
        assert _listed(ctx, customer_id="acme") == [pk for pk in every if pk != composite.pk]
        assert _listed(ctx, owner_id="igroup.nobody") == []
        # status is read from its members: 100.00 of 675.00 paid
        assert _listed(ctx, status="PARTIALLY_PAID") == [march["acme-2"].pk, composite.pk]
        assert composite.pk not in _listed(ctx, status="DUE") and march["acme"].pk in _listed(ctx, status="DUE")
        assert _listed(ctx, status="PARTIALLY_PAID", size=1) == [march["acme-2"].pk, composite.pk]
        # the time filters keep those whose period [1 March, 1 April) overlaps, as for any invoice
        assert composite.pk in _listed(ctx, start=t(3, 31), end=t(4, 1))
        assert composite.pk not in _listed(ctx, start=t(4, 1)) and composite.pk not in _listed(ctx, end=t(3, 1))
    with world.at(t(4, 21)) as ctx:
        InvoiceService(ctx).update(march["acme"].pk, "PAID", {})
        InvoiceService(ctx).update(march["acme-2"].pk, "PAID", {})
    with world.at(t(4, 21)) as ctx:
        assert _listed(ctx, status="PAID", owner_id=group) == [composite.pk]
        assert _listed(ctx, status="PARTIALLY_PAID") == []


def test_the_composite_pdf_shows_the_group_each_members_lines_and_the_exact_totals(world: World) -> None:
    _march(world)
    march = _invoices(world)
    [composite] = _composites(world)
    with world.at(t(4, 7)) as ctx:
        state = composite_state(ctx, composite)
        presented = composite_out(composite, state.paid, state.status, with_lines=True)
        pdf = render_composite_pdf(presented.model_dump(mode="python", by_alias=True), ctx.org.timezone)
    text = " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).split())
    one, two = march["acme"].sequence_id, march["acme-2"].sequence_id
    # the invoice's facts, numbered once, with the group's due date; billed to the group with its net terms
    assert f"INVOICE Number {composite.sequence_id} Status Partially paid Invoice date 2024-04-06" in text
    assert "Due date 2024-05-06 Period 2024-03-01 to 2024-03-31" in text
    assert "BILL TO Acme group ap@acme.test 2 Group Rd US Net terms: 30 days" in text
    # each member invoice's own lines as finalized, under its account and number, then its total
    assert (
        f"Acme Inc (acme), invoice {one} API calls 150 USD 125.00 API calls: slab 1 (above 0) 100 USD 1.00 USD 100.00 "
        f"API calls: slab 2 (above 100) 50 USD 0.50 USD 25.00 Platform 1 USD 300.00 USD 300.00 Invoice {one} total "
        "USD 425.00"
    ) in text
    assert (
        f"Acme acme-2 (acme-2), invoice {two} API calls 0 USD 0.00 Platform 1 USD 300.00 USD 300.00 Promo USD -50.00 "
        f"Invoice {two} total USD 250.00"
    ) in text
    # the totals, exact: 425.00 + 250.00 = 675.00; acme-2's wallet paid 100.00; 575.00 due
    assert (
        f"Invoice {one} USD 425.00 Invoice {two} USD 250.00 Total USD 675.00 Paid USD 100.00 Amount due USD 575.00"
    ) in text
    assert f"Invoice {composite.pk} Page 1/1" in text


def test_the_composites_stored_pdf_is_as_issued_and_kept_by_the_file_retention(world: World, tmp_path: Path) -> None:
    # Given March's composite (acme 425.00 DUE + acme-2 250.00 of which its wallet paid 100.00 at finalization),
    # both members paid in full since, before anyone asked for the composite's PDF
    _march(world)
    march = _invoices(world)
    [composite] = _composites(world)
    with world.at(t(4, 21)) as ctx:
        InvoiceService(ctx).update(march["acme"].pk, "PAID", {})
        InvoiceService(ctx).update(march["acme-2"].pk, "PAID", {})
    store = storage.LocalStore(tmp_path, "secret")
    file_id = f"file.{composite.pk}"
    # When its file is first asked for, it is rendered and stored as issued: paid 100.00 (the wallet's), 575.00 due
    with world.at(t(4, 22)) as ctx:
        row = invoice_files.found(ctx, file_id, store)
        assert (row.pk, row.name, row.content_type) == (file_id, f"{composite.sequence_id}.pdf", "application/pdf")
        state = composite_state(ctx, composite)
        assert (state.paid, state.status) == (D("675.00"), "PAID")  # the API's, as it stands
    with world.at(t(4, 22)) as ctx:
        _, data = FileService(ctx, store).read(file_id)
        live = render_composite_pdf(
            composite_out(composite, state.paid, state.status, with_lines=True).model_dump(
                mode="python", by_alias=True
            ),
            ctx.org.timezone,
        )
    text = " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).split())
    one, two = march["acme"].sequence_id, march["acme-2"].sequence_id
    assert f"Number {composite.sequence_id} Status Partially paid Invoice date 2024-04-06" in text
    assert (
        f"Invoice {one} USD 425.00 Invoice {two} USD 250.00 Total USD 675.00 Paid USD 100.00 Amount due USD 575.00"
    ) in text
    live_text = " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(live)).pages).split())
    assert "Status Paid" in live_text and "Paid USD 675.00 Amount due USD 0.00" in live_text
    # and asked for again, later, it is the same file, byte for byte
    with world.at(t(6, 1)) as ctx:
        assert invoice_files.found(ctx, file_id, store).created_at == row.created_at
        assert FileService(ctx, store).read(file_id)[1] == data
    # and the file retention keeps it (a composite's id is an invoice's: `file.inv.`), long after
    assert file_id.startswith(invoice_files.INVOICE_PREFIX)
    with world.at(t(6, 1)) as ctx:
        assert housekeeping.forget_files(ctx.session, world.org.id, t(6, 1) + timedelta(days=3650), store) == 0
        assert FileService(ctx, store).read(file_id)[1] == data


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def test_a_composite_is_announced_by_invoice_created_and_invoice_finalized(world: World, receiver: Receiver) -> None:
    # Given an endpoint subscribed to invoice.created and invoice.finalized (a real receiver checks the signatures)
    with world.at(utc_now()) as ctx:
        _endpoint, secret = WebhookService(ctx).create(receiver.url, ["invoice.created", "invoice.finalized"])
    receiver.secrets = [secret]
    # When the run of 6 April makes the group's composite
    group = _march(world)
    [composite] = _composites(world)
    # Then the delivery worker sends both, each with the composite as GET /invoices/{id} answers it
    worker = Deliverer(world.factory, Settings(webhook_retry_schedule="0.2,0.3,0.5", webhook_timeout=2))  # type: ignore[call-arg]

    def of_composite() -> list[dict[str, Any]]:
        return [r.body for r in receiver.accepted if r.body["data"]["id"] == composite.pk]

    wait_for(lambda: len(of_composite()) == 2, worker.tick)
    assert not receiver.rejected
    assert sorted(b["type"] for b in of_composite()) == ["invoice.created", "invoice.finalized"]
    for body in of_composite():
        data = body["data"]
        assert (data["invoiceType"], data["ownerId"], data["status"]) == ("COMPOSITE", group, "PARTIALLY_PAID")
        assert (data["totalAmount"], data["paidAmount"], data["sequenceId"]) == (675, 100, composite.sequence_id)
        assert data["pdfUrl"] == f"/api/files/file.{composite.pk}"
        assert [m["value"] for m in data["revenueInfo"]["lineItems"]] == [425, 250]
    # and a run that makes nothing announces nothing more
    world.bill_run(t(4, 6))
    worker.tick()
    assert len(of_composite()) == 2


def test_a_failing_groups_step_of_a_bill_run_job_keeps_what_the_job_did(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A BILL_RUN job's groups step runs in a savepoint: should it fail, its own changes go and the job's stand."""
    _accounts(world, "acme-2")

    def broken(ctx: Context, as_of: object) -> list[object]:
        InvoiceGroupService(ctx).create(_group(["acme-2"], daily=True))  # a change of the step's own
        raise RuntimeError("the groups step fails")

    monkeypatch.setattr(usecase_jobs, "consolidate", broken)
    with world.at(t(3, 10)) as ctx:
        invoice, _ = InvoiceService(ctx).create_custom(
            "acme", t(3, 1), t(3, 2), "DUE", [{"description": "Setup", "value": D("1.00")}], False, True, True, None
        )
        usecase_jobs.consolidate_groups(ctx, {})
    with world.at(t(3, 10)) as ctx:
        assert InvoiceService(ctx).get(invoice.pk).status == "DUE"
        assert InvoiceGroupService(ctx).page(page_request(None, 50))[0].items == []
